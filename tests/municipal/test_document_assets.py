# SPDX-License-Identifier: Apache-2.0
"""The per-process document assets: shared work must never leak between documents.

Why these checks: ``assets`` hands each document a copy of a parsed font and
pre-encoded images, relying on fpdf2 internals (``FPDF.fonts``,
``FPDF.image_cache``). If an fpdf2 upgrade or a change here made documents
share mutable state, a later document would lose glyphs (its text would
not extract), carry an earlier document's glyphs or images, or break under
the server's worker threads. Each check renders for real and reads the PDF
back as ``document verify`` does.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fpdf import FPDF
from PIL import Image

from municipal.document import TrustStore, assets, issue_document, read_document, verify_input
from municipal.document.assets import _pattern_info, add_japanese_font
from municipal.document.cli import sample_content
from municipal.document.render import front_lines

CODE = "141003"
#: Residents whose names share no kanji with each other or the sample's fixed text.
NAMES = ("鈴木 花子", "髙橋 龍之介", "渡邉 櫻", "齋藤 鷗外")


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def trust(key: ec.EllipticCurvePrivateKey) -> TrustStore:
    return TrustStore({CODE: key.public_key()})


def _checked(pdf: bytes, name: str, trust: TrustStore) -> None:
    document = read_document(pdf)
    result = verify_input(document, trust)
    assert result.text_checked
    assert result.content == sample_content(name=name)
    assert document.front_text is not None
    text = "".join(document.front_text.split())
    for line in front_lines(sample_content(name=name)):
        assert "".join(line.split()) in text


def test_documents_in_sequence_each_embed_their_own_glyphs(
    key: ec.EllipticCurvePrivateKey, trust: TrustStore
) -> None:
    for name in NAMES:
        pdf = issue_document(sample_content(name=name), key)
        _checked(pdf, name, trust)
        # The other residents' names are nowhere in this document's text.
        text = read_document(pdf).front_text or ""
        for other in NAMES:
            if other != name:
                assert other.split()[1] not in text


def test_documents_rendered_in_threads_are_each_intact(
    key: ec.EllipticCurvePrivateKey, trust: TrustStore
) -> None:
    names = NAMES * 2
    with ThreadPoolExecutor(max_workers=4) as pool:
        pdfs = list(pool.map(lambda n: issue_document(sample_content(name=n), key), names))
    for name, pdf in zip(names, pdfs, strict=True):
        _checked(pdf, name, trust)


def test_each_document_carries_the_pattern_and_seal_once(key: ec.EllipticCurvePrivateKey) -> None:
    first = issue_document(sample_content(name=NAMES[0]), key)
    second = issue_document(sample_content(name=NAMES[1]), key)
    for pdf in (first, second):
        # Pattern, seal (with its alpha mask) and QR code: one XObject each, no more.
        assert len(re.findall(rb"/Subtype /Image", pdf)) == 4
    # The pattern is the stream encoded once per process, in both documents.
    encoded = _pattern_info()["data"]
    assert isinstance(encoded, bytes)
    assert first.count(encoded) == second.count(encoded) == 1
    assert first.count(b"/Columns 2480 ") == second.count(b"/Columns 2480 ") == 1


def test_a_fresh_font_copy_starts_with_an_empty_subset() -> None:
    first, second = FPDF(), FPDF()
    add_japanese_font(first)
    first.add_page()
    first.set_font("jp", size=10)
    first.cell(text="鷗外")
    add_japanese_font(second)
    font_a, font_b = first.fonts["jp"], second.fonts["jp"]
    assert font_a is not font_b
    assert font_a.ttfont is not font_b.ttfont  # type: ignore[union-attr]
    assert len(font_b.subset) < len(font_a.subset)  # type: ignore[union-attr]


def test_the_first_documents_of_a_process_build_each_cache_once(
    key: ec.EllipticCurvePrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Four renders race on empty caches (as the first residents after a start
    # without warm-up would): each asset is built once. (The font's cache is
    # filled the same way; it is not cleared here, because dropping a parsed
    # font leaves its file to the garbage collector.)
    assets._build_pattern_info.cache_clear()
    assets._build_seal_info.cache_clear()
    built: list[str] = []
    pattern = assets.pattern_image

    def counting_pattern() -> Image.Image:
        built.append("pattern")
        return pattern()

    monkeypatch.setattr(assets, "pattern_image", counting_pattern)
    contents = [sample_content(name=name) for name in NAMES]
    with ThreadPoolExecutor(max_workers=4) as pool:
        documents = list(pool.map(lambda c: issue_document(c, key=key), contents))
    assert len(documents) == 4
    assert built == ["pattern"]
    assert assets._build_seal_info.cache_info().misses == 1
