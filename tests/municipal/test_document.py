# SPDX-License-Identifier: Apache-2.0
"""The issued document: rendering, the latent 「複写」, signing and ``document verify``.

Why rendered for real: the checks that matter (the word appears on a copy,
the code decodes from a 300 dpi scan, the page text matches the signed
content) are properties of the pixels and the PDF, so the tests render with
PDFium and decode with zxing-cpp, as ``document verify`` does.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from municipal.document import (
    BadSignatureError,
    CodeFormatError,
    CodeNotFoundError,
    ContentMismatchError,
    DocumentInputError,
    ExitCode,
    TrustStore,
    UnsignedCodeError,
    UntrustedKeyError,
    decode_content,
    encode_code,
    issue_document,
    key_id,
    parse_code,
    read_document,
    render_pdf,
    sign_content,
    verify_input,
)
from municipal.document.cli import sample_content
from municipal.document.pattern import darkness, latent_mask, simulate_copy
from municipal.document.reader import decode_codes
from municipal.document.render import front_lines
from myna_edge.cli import main

CODE = "141003"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def trust(key: ec.EllipticCurvePrivateKey) -> TrustStore:
    return TrustStore({CODE: key.public_key()})


@pytest.fixture(scope="module")
def pdf(key: ec.EllipticCurvePrivateKey) -> bytes:
    return issue_document(sample_content(), key)


def test_the_front_prints_every_line_of_the_content_in_japanese(pdf: bytes) -> None:
    document = read_document(pdf)
    assert len(document.pages) == 2
    assert document.front_text is not None
    for line in front_lines(sample_content()):
        assert "".join(line.split()) in "".join(document.front_text.split())
    assert "住民票の写し" in document.front_text
    assert "発行日 令和8年12月7日" in document.front_text


def test_the_latent_word_appears_only_on_a_copy(pdf: bytes) -> None:
    front = read_document(pdf).pages[0]
    mask = latent_mask()
    word, background = darkness(front, mask)
    # The original: the word's dots carry the background's tone (text adds a little).
    assert abs(word - background) < 0.01
    copied_word, copied_background = darkness(simulate_copy(front), mask)
    # The copy: the fine dots dropped out, the word's large dots stayed.
    assert copied_word > copied_background + 0.03
    assert copied_background < background / 2


def test_a_page_without_the_pattern_shows_no_word_on_a_copy(
    key: ec.EllipticCurvePrivateKey,
) -> None:
    content = sample_content()
    plain = render_pdf(content, sign_content(content, key), pattern=False)
    word, background = darkness(simulate_copy(read_document(plain).pages[0]), latent_mask())
    assert word < background + 0.005


def test_the_genuine_pdf_verifies_and_its_text_is_checked(pdf: bytes, trust: TrustStore) -> None:
    result = verify_input(read_document(pdf), trust)
    assert result.content == sample_content()
    assert result.text_checked


def test_a_tampered_name_under_the_genuine_code_is_refused(
    key: ec.EllipticCurvePrivateKey, trust: TrustStore
) -> None:
    genuine = sample_content()
    forged_page = sample_content(name="佐藤 花子")
    forgery = render_pdf(forged_page, sign_content(genuine, key), pattern=False)
    with pytest.raises(ContentMismatchError):
        verify_input(read_document(forgery), trust)


def test_another_documents_code_is_refused(
    key: ec.EllipticCurvePrivateKey, trust: TrustStore
) -> None:
    other = sample_content(serial="141003-2026-000999")
    swapped = render_pdf(sample_content(), sign_content(other, key), pattern=False)
    with pytest.raises(ContentMismatchError):
        verify_input(read_document(swapped), trust)


def test_an_unsigned_code_is_refused(key: ec.EllipticCurvePrivateKey, trust: TrustStore) -> None:
    content = sample_content()
    unsigned = encode_code(content, key=key_id(key.public_key()))
    with pytest.raises(UnsignedCodeError):
        verify_input(read_document(render_pdf(content, unsigned, pattern=False)), trust)


def test_a_flipped_content_byte_breaks_the_signature(
    key: ec.EllipticCurvePrivateKey,
) -> None:
    code = bytearray(sign_content(sample_content(), key))
    code[code.index("太郎".encode())] ^= 0x01  # still UTF-8, still canonical JSON
    signed = parse_code(bytes(code))
    with pytest.raises(BadSignatureError):
        signed.verify(key.public_key())


def test_another_municipalitys_key_or_an_unknown_key_is_refused(
    key: ec.EllipticCurvePrivateKey, pdf: bytes
) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(UntrustedKeyError, match="not trusted"):
        verify_input(read_document(pdf), TrustStore({CODE: stranger.public_key()}))
    with pytest.raises(UntrustedKeyError, match="another municipality"):
        verify_input(read_document(pdf), TrustStore({"131016": key.public_key()}))


def test_a_300_dpi_scan_of_the_back_verifies(pdf: bytes, trust: TrustStore) -> None:
    back = read_document(pdf, dpi=300).pages[1]
    for fmt in ("PNG", "JPEG"):
        scan = io.BytesIO()
        back.save(scan, format=fmt, dpi=(300, 300))
        result = verify_input(read_document(scan.getvalue()), trust)
        assert result.content.serial == sample_content().serial
        assert not result.text_checked


def test_hostile_files_are_typed_refusals() -> None:
    with pytest.raises(DocumentInputError):
        read_document(b"hello")
    with pytest.raises(DocumentInputError):
        read_document(b"%PDF-1.7\n garbage")
    with pytest.raises(DocumentInputError):
        read_document(b"\x89PNG\r\n\x1a\n garbage")
    blank = io.BytesIO()
    read_document(render_pdf(sample_content(), b"x", pattern=False)).pages[0].save(blank, "PNG")
    scan = read_document(blank.getvalue())
    with pytest.raises(CodeNotFoundError):
        decode_codes(scan)


def test_the_code_parser_refuses_what_is_not_canonical(key: ec.EllipticCurvePrivateKey) -> None:
    code = sign_content(sample_content(), key)
    assert parse_code(code).content == sample_content()
    with pytest.raises(CodeFormatError):
        parse_code(b"MYNADC\x02" + code[7:])
    with pytest.raises(CodeFormatError):
        parse_code(code[:-1])
    raw = sample_content().canonical()
    with pytest.raises(CodeFormatError, match="canonical"):
        decode_content(raw.replace(b",", b", ", 1))
    assert decode_content(raw) == sample_content()


def test_the_content_repr_holds_no_personal_data() -> None:
    content = sample_content()
    assert "山田" not in repr(content)
    assert "神奈川" not in repr(content)


def _write_sample(tmp_path: Path, key: ec.EllipticCurvePrivateKey, pdf: bytes) -> Path:
    (tmp_path / "trust").mkdir()
    (tmp_path / "trust" / f"{CODE}.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (tmp_path / "doc.pdf").write_bytes(pdf)
    return tmp_path


def test_the_command_prints_the_content_and_exits_by_code(
    tmp_path: Path,
    key: ec.EllipticCurvePrivateKey,
    pdf: bytes,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = _write_sample(tmp_path, key, pdf)
    trust = str(folder / "trust")
    assert main(["document", "verify", str(folder / "doc.pdf"), "--trust", trust]) == 0
    assert "VALID: 住民票の写し" in capsys.readouterr().out
    forged = render_pdf(sample_content(name="佐藤 花子"), sign_content(sample_content(), key))
    (folder / "forged.pdf").write_bytes(forged)
    code = main(["document", "verify", str(folder / "forged.pdf"), "--trust", trust])
    assert code == ExitCode.CONTENT_MISMATCH
    err = capsys.readouterr().err
    assert "REFUSED (CONTENT_MISMATCH)" in err
    assert "佐藤" not in err
    assert "山田" not in err
    (folder / "junk.pdf").write_bytes(b"junk")
    assert main(["document", "verify", str(folder / "junk.pdf"), "--trust", trust]) == 3


def test_sample_writes_a_document_that_verifies(tmp_path: Path) -> None:
    assert main(["document", "sample", "--out", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"document.pdf", "front.png", "back.png", "front-copied.png", "trust"} <= names
    trust = str(tmp_path / "trust")
    assert main(["document", "verify", str(tmp_path / "back.png"), "--trust", trust]) == 0
