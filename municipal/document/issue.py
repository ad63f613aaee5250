# SPDX-License-Identifier: Apache-2.0
"""Issuing one document: sign the content and render the page (what the municipality runs)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from municipal.document.code import sign_content
from municipal.document.content import DocumentContent
from municipal.document.render import render_pdf

__all__ = ["issue_document"]


def issue_document(content: DocumentContent, key: ec.EllipticCurvePrivateKey) -> bytes:
    """Return the signed two-page PDF of ``content``."""
    return render_pdf(content, sign_content(content, key))
