# SPDX-License-Identifier: Apache-2.0
"""Typed errors of firmware images and updates (a branch of host.errors' tree).

Every malformed input has its own class; codes are enums, never text::

    MynaEdgeError
    └── FirmwareError
        ├── ImageFormatError (ValueError)    the bytes are not a well-formed image
        │   ├── ImageTruncatedError          shorter than its header says
        │   ├── ImageHeaderError             magic, format, flags, lengths
        │   ├── ManifestError                a manifest field or file entry is wrong
        │   └── PayloadMismatchError         a file's size or SHA-256 is not the manifest's
        ├── ImageSignatureError              unsigned, or not signed by the trusted key
        ├── ImageRejectedError               genuine, but not for this board: .reason
        ├── SigningKeyError (ValueError)     a key file cannot be read or is not P-256
        ├── FirmwareSourceError (ValueError) the firmware folder cannot be packed
        └── UpdateError                      the board refused or did not keep the update: .reason
"""

from __future__ import annotations

from enum import Enum

from host.errors import MynaEdgeError

__all__ = [
    "FirmwareError",
    "FirmwareSourceError",
    "ImageFormatError",
    "ImageHeaderError",
    "ImageRejectedError",
    "ImageSignatureError",
    "ImageTruncatedError",
    "ManifestError",
    "PayloadMismatchError",
    "RejectReason",
    "SigningKeyError",
    "UpdateError",
    "UpdateFailure",
]


class RejectReason(Enum):
    """Why a genuine image is not accepted."""

    WRONG_BOARD = "wrong_board"
    DOWNGRADE = "downgrade"


class UpdateFailure(Enum):
    """Why an update over the link did not end with the new image confirmed."""

    INVALID_IMAGE = "invalid_image"  # the board found the image malformed
    BAD_SIGNATURE = "bad_signature"
    WRONG_BOARD = "wrong_board"
    DOWNGRADE = "downgrade"
    BUSY = "busy"  # a secure entry runs, or a trial is not yet confirmed
    TAMPERED = "tampered"
    UNSUPPORTED = "unsupported"  # the board has no update slots
    TRANSFER = "transfer"  # the board lost track of the transfer (resume failed)
    NOT_CONFIRMED = "not_confirmed"  # it rebooted but did not keep the new image


class FirmwareError(MynaEdgeError):
    """A firmware image or update failed."""


class ImageFormatError(FirmwareError, ValueError):
    """The bytes are not a well-formed firmware image."""


class ImageTruncatedError(ImageFormatError):
    """The image is shorter than its header and manifest say."""


class ImageHeaderError(ImageFormatError):
    """Bad magic, format version, flags or lengths in the image header."""


class ManifestError(ImageFormatError):
    """A manifest field or file entry is malformed (path, count, sizes, trailing bytes)."""


class PayloadMismatchError(ImageFormatError):
    """A file in the payload does not have the size or SHA-256 the manifest lists."""


class ImageSignatureError(FirmwareError):
    """The image is unsigned, or its signature does not verify under the trusted key."""


class ImageRejectedError(FirmwareError):
    """A genuine image that this board must not run.

    Attributes:
        reason: wrong board type, or a security counter below the floor.
    """

    def __init__(self, reason: RejectReason, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class SigningKeyError(FirmwareError, ValueError):
    """A key file cannot be read, or does not hold an ECDSA P-256 key."""


class FirmwareSourceError(FirmwareError, ValueError):
    """The firmware folder cannot be packed (no myna_fw/, no version, bad file name)."""


class UpdateError(FirmwareError):
    """The update did not end with the new image running and confirmed.

    Attributes:
        reason: what went wrong, as the board reported it.
    """

    def __init__(self, reason: UpdateFailure, message: str) -> None:
        self.reason = reason
        super().__init__(message)
