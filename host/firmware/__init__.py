# SPDX-License-Identifier: Apache-2.0
"""Signed firmware updates for the peripheral-controller board.

``image`` is the format and its total parser, ``signing`` packs, signs and
verifies with an offline ECDSA P-256 key, ``update`` applies an image over
the controller link; the board verifies again by itself (``firmware/myna_boot``).
docs/firmware-updates.md is the guide::

    image = sign_image(build_image(Path("firmware"), security_counter=2,
                                   signer_point=point), key)
    with Controller(url) as board:
        FirmwareUpdater(board).apply(image.to_bytes())
"""

from __future__ import annotations

from host.firmware.errors import (
    FirmwareError,
    ImageFormatError,
    ImageRejectedError,
    ImageSignatureError,
    UpdateError,
    UpdateFailure,
)
from host.firmware.image import FirmwareImage, Manifest, parse_image
from host.firmware.signing import (
    build_image,
    load_public_point,
    load_signing_key,
    sign_image,
    verify_image,
)
from host.firmware.update import FirmwareStatus, FirmwareUpdater, UpdatePhase, UpdateProgress

__all__ = [
    "FirmwareError",
    "FirmwareImage",
    "FirmwareStatus",
    "FirmwareUpdater",
    "ImageFormatError",
    "ImageRejectedError",
    "ImageSignatureError",
    "Manifest",
    "UpdateError",
    "UpdateFailure",
    "UpdatePhase",
    "UpdateProgress",
    "build_image",
    "load_public_point",
    "load_signing_key",
    "parse_image",
    "sign_image",
    "verify_image",
]
