# SPDX-License-Identifier: Apache-2.0
"""The document's exception tree and the exit codes of ``myna-edge document verify``.

::

    DocumentError
    ├── DocumentFontError            no Japanese font installed (set-up problem)
    ├── DocumentInputError           the file is not a readable PDF/PNG/JPEG (ValueError)
    │   └── CodeNotFoundError        no document code on any page
    ├── CodeFormatError              the 2D code is not a well-formed document code (ValueError)
    │   └── UnsignedCodeError        a well-formed code that carries no signature
    ├── UntrustedKeyError            signed by a key the trust folder does not hold
    ├── BadSignatureError            the signature does not match the content
    └── ContentMismatchError         the page's text is not what the code signed

Why exit codes are data: a kiosk script or a bank's back office tells "not a
document" from "forged" by the number, never by parsing the message. No
message carries the document's personal data (it may be logged).
"""

from __future__ import annotations

import enum

__all__ = [
    "BadSignatureError",
    "CodeFormatError",
    "CodeNotFoundError",
    "ContentMismatchError",
    "DocumentError",
    "DocumentFontError",
    "DocumentInputError",
    "ExitCode",
    "UnsignedCodeError",
    "UntrustedKeyError",
    "exit_code_for",
]


class ExitCode(enum.IntEnum):
    """What ``myna-edge document verify`` returns (2 is argparse's usage error)."""

    OK = 0
    USAGE = 2
    UNREADABLE_INPUT = 3
    NO_CODE = 4
    MALFORMED_CODE = 5
    UNSIGNED_CODE = 6
    UNTRUSTED_KEY = 7
    BAD_SIGNATURE = 8
    CONTENT_MISMATCH = 9
    SETUP = 10


class DocumentError(Exception):
    """Root of every document error."""


class DocumentFontError(DocumentError):
    """No Japanese TrueType font was found (install fonts-ipafont-gothic)."""


class DocumentInputError(DocumentError, ValueError):
    """The input file cannot be read as a PDF or an image."""


class CodeNotFoundError(DocumentInputError):
    """The file holds no document code that a barcode reader can decode."""


class CodeFormatError(DocumentError, ValueError):
    """The decoded bytes are not a well-formed document code."""


class UnsignedCodeError(CodeFormatError):
    """The code is well formed but carries no signature (a forger's own code)."""


class UntrustedKeyError(DocumentError):
    """The code names a key that no trusted municipality owns."""


class BadSignatureError(DocumentError):
    """The signature does not verify over the code's content."""


class ContentMismatchError(DocumentError):
    """The page says something other than what the code signed (tampered or swapped)."""


#: Most specific class first: a subclass must be matched before its base.
_EXIT_CODES: tuple[tuple[type[DocumentError], ExitCode], ...] = (
    (CodeNotFoundError, ExitCode.NO_CODE),
    (DocumentInputError, ExitCode.UNREADABLE_INPUT),
    (UnsignedCodeError, ExitCode.UNSIGNED_CODE),
    (CodeFormatError, ExitCode.MALFORMED_CODE),
    (UntrustedKeyError, ExitCode.UNTRUSTED_KEY),
    (BadSignatureError, ExitCode.BAD_SIGNATURE),
    (ContentMismatchError, ExitCode.CONTENT_MISMATCH),
    (DocumentFontError, ExitCode.SETUP),
)


def exit_code_for(error: DocumentError) -> ExitCode:
    """Return the exit code of ``error`` (total: an unlisted subclass maps via its base)."""
    for kind, code in _EXIT_CODES:
        if isinstance(error, kind):
            return code
    return ExitCode.SETUP
