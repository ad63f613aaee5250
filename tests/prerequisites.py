# SPDX-License-Identifier: Apache-2.0
"""The one rule for a missing tool or service: a failure under CI, a skip elsewhere.

CI installs everything the tests need (``make test``), so a missing pcscd,
micropython, PostgreSQL or font there is a broken set-up, never a reason to
skip; on a developer's machine a clear skip says what to install.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["IN_CI", "missing_prerequisite"]

IN_CI = os.environ.get("CI") == "true"


def missing_prerequisite(reason: str) -> NoReturn:
    """Fail the test under ``CI=true``, skip it otherwise."""
    if IN_CI:
        pytest.fail(f"missing prerequisite under CI: {reason}")
    pytest.skip(reason)
