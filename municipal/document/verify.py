# SPDX-License-Identifier: Apache-2.0
"""Checking a document offline: code → signature → the page's own text.

Order of checks, each with its own error (and exit code): a code must be
found, be well formed, be signed, name a key the trust folder holds for the
municipality the content names, verify, and — for a PDF — the front page's
text must be exactly the text the signed content prints. A scan has no text
layer: the signed content is shown for a person to compare with the paper
(an OCR comparison would be weaker than their eyes, and is not claimed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from municipal.document.code import key_id, parse_code
from municipal.document.content import DocumentContent
from municipal.document.errors import (
    ContentMismatchError,
    DocumentInputError,
    UnsignedCodeError,
    UntrustedKeyError,
)
from municipal.document.reader import DocumentInput, decode_codes
from municipal.document.render import front_lines

__all__ = ["TrustStore", "VerifiedDocument", "verify_input"]


@dataclass(frozen=True)
class VerifiedDocument:
    """A document whose code verified; ``text_checked`` is False for scans."""

    content: DocumentContent
    text_checked: bool


class TrustStore:
    """The municipalities' public keys, by key id.

    Built from a folder of ``<municipality code>.pem`` files (public keys or
    certificates' keys exported as SubjectPublicKeyInfo PEM): the file name
    says which municipality the key speaks for, so a key of one municipality
    cannot vouch for another's certificate.
    """

    def __init__(self, keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
        self._by_id = {key_id(key): (code, key) for code, key in keys.items()}

    @classmethod
    def from_folder(cls, folder: Path) -> TrustStore:
        """Load every ``*.pem`` in ``folder`` (or the one file ``folder`` names).

        Raises:
            DocumentInputError: a file is not a P-256 public key, or none exists.
        """
        files = [folder] if folder.is_file() else sorted(folder.glob("*.pem"))
        keys: dict[str, ec.EllipticCurvePublicKey] = {}
        for path in files:
            try:
                key = serialization.load_pem_public_key(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise DocumentInputError(f"{path.name} is not a public key") from exc
            if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
                key.curve, ec.SECP256R1
            ):
                raise DocumentInputError(f"{path.name} is not an ECDSA P-256 key")
            keys[path.stem] = key
        if not keys:
            raise DocumentInputError(f"no municipality keys (*.pem) in {folder}")
        return cls(keys)

    def key_for(self, kid: bytes, municipality_code: str) -> ec.EllipticCurvePublicKey:
        """The key with id ``kid``, if it belongs to ``municipality_code``.

        Raises:
            UntrustedKeyError: unknown id, or a key of another municipality.
        """
        entry = self._by_id.get(kid)
        if entry is None:
            raise UntrustedKeyError("the code was signed by a key that is not trusted")
        code, key = entry
        if code != municipality_code:
            raise UntrustedKeyError("the signing key belongs to another municipality")
        return key


def verify_input(document: DocumentInput, trust: TrustStore) -> VerifiedDocument:
    """Verify a read document.

    Raises:
        CodeNotFoundError, CodeFormatError, UnsignedCodeError, UntrustedKeyError,
        BadSignatureError, ContentMismatchError: see ``municipal.document.errors``.
    """
    signed = parse_code(decode_codes(document))
    if not signed.signature:
        raise UnsignedCodeError("the document code is not signed")
    key = trust.key_for(signed.key_id, signed.content.municipality_code)
    signed.verify(key)
    if document.front_text is None:
        return VerifiedDocument(content=signed.content, text_checked=False)
    expected = _squeeze("".join(front_lines(signed.content)))
    if _squeeze(document.front_text) != expected:
        raise ContentMismatchError("the page's text differs from the signed content")
    return VerifiedDocument(content=signed.content, text_checked=True)


def _squeeze(text: str) -> str:
    # Text extraction inserts line breaks and spaces where cells meet; words do not move.
    return "".join(text.split())
