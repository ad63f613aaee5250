# SPDX-License-Identifier: Apache-2.0
"""The issued certificate (issue 14): an A4 PDF that a paper copy can be checked against.

Modules: ``content`` (what it says, canonical bytes), ``code`` (the signed 2D
code's format), ``pattern`` (the copy-evident 地紋 and a copier model),
``seal`` (公印), ``assets`` (what every document shares, prepared once per
process), ``render`` (the PDF), ``issue`` (sign + render), ``reader``
(PDF/scan in, pages and code out), ``verify`` (the offline check), ``cli``
(``myna-edge document``). Errors and exit codes: ``errors``.
"""

from __future__ import annotations

from municipal.document.code import SignedCode, encode_code, key_id, parse_code, sign_content
from municipal.document.content import DocumentContent, DocumentKind, decode_content
from municipal.document.errors import (
    BadSignatureError,
    CodeFormatError,
    CodeNotFoundError,
    ContentMismatchError,
    DocumentError,
    DocumentFontError,
    DocumentInputError,
    ExitCode,
    UnsignedCodeError,
    UntrustedKeyError,
)
from municipal.document.issue import issue_document
from municipal.document.reader import DocumentInput, read_document, read_path
from municipal.document.render import render_pdf
from municipal.document.verify import TrustStore, VerifiedDocument, verify_input

__all__ = [
    "BadSignatureError",
    "CodeFormatError",
    "CodeNotFoundError",
    "ContentMismatchError",
    "DocumentContent",
    "DocumentError",
    "DocumentFontError",
    "DocumentInput",
    "DocumentInputError",
    "DocumentKind",
    "ExitCode",
    "SignedCode",
    "TrustStore",
    "UnsignedCodeError",
    "UntrustedKeyError",
    "VerifiedDocument",
    "decode_content",
    "encode_code",
    "issue_document",
    "key_id",
    "parse_code",
    "read_document",
    "read_path",
    "render_pdf",
    "sign_content",
    "verify_input",
]
