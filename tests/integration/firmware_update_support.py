# SPDX-License-Identifier: Apache-2.0
"""Shared by the firmware-update tests: image builders and a board with update slots.

Images are built from a copy of ``firmware/myna_fw`` with another version in
``version.py`` (the board reports that tuple), optionally with a source
patch (a trial that crashes or never confirms), and signed with the
simulator's test key (``firmware/keys/test-signing-key.pem``) or another.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from host.firmware.signing import build_image, load_signing_key, public_point, sign_image
from hw_sim.devices.controller import FIRMWARE_DIR, SimController
from tests.integration.controller_support import running_sim

TEST_KEY = FIRMWARE_DIR / "keys" / "test-signing-key.pem"
SECOND_AUTHORITY_KEY = FIRMWARE_DIR / "keys" / "test-signing-key-2.pem"


def trusted_key() -> ec.EllipticCurvePrivateKey:
    """The key the simulated board's boot platform trusts (its factory authority)."""
    return load_signing_key(TEST_KEY)


def second_authority() -> ec.EllipticCurvePrivateKey:
    """Another authority the board trusts: its images run only after the PIN key is erased."""
    return load_signing_key(SECOND_AUTHORITY_KEY)


def firmware_source(
    folder: Path, version: tuple[int, int, int], *, patch: tuple[str, str] | None = None
) -> Path:
    """A copy of the firmware's app package at ``version``; ``patch`` edits app.py."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(
        FIRMWARE_DIR / "myna_fw", folder / "myna_fw", ignore=shutil.ignore_patterns("__pycache__")
    )
    version_py = folder / "myna_fw" / "version.py"
    text = re.sub(
        r"FIRMWARE_VERSION = \(.*\)", f"FIRMWARE_VERSION = {version!r}", version_py.read_text()
    )
    version_py.write_text(text)
    if patch is not None:
        app = folder / "myna_fw" / "app.py"
        source = app.read_text()
        assert patch[0] in source, "the patch no longer applies to app.py"
        app.write_text(source.replace(patch[0], patch[1], 1))
    return folder


def signed_image(
    folder: Path,
    version: tuple[int, int, int],
    counter: int,
    *,
    key: ec.EllipticCurvePrivateKey | None = None,
    board: str = "myna-pinpad-1",
    patch: tuple[str, str] | None = None,
) -> bytes:
    """Build ``myna_fw`` at ``version`` with security ``counter``, signed by ``key``."""
    signer = key if key is not None else trusted_key()
    source = firmware_source(folder, version, patch=patch)
    image = build_image(
        source,
        security_counter=counter,
        signer_point=public_point(signer.public_key()),
        board=board,
    )
    return sign_image(image, signer).to_bytes()


@contextmanager
def board_with_slots(fs: Path, **kwargs: object) -> Iterator[SimController]:
    """The simulated board with its flash filesystem (update slots) in ``fs``."""
    fs.mkdir(parents=True, exist_ok=True)
    with running_sim(fs=fs, flash=fs.parent / f"{fs.name}-keys.bin", **kwargs) as sim:
        yield sim
