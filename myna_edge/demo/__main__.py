# SPDX-License-Identifier: Apache-2.0
"""``python -m myna_edge.demo``: the same as ``myna-edge demo``."""

from __future__ import annotations

import sys

from myna_edge.demo import main

sys.exit(main())
