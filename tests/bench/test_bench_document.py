# SPDX-License-Identifier: Apache-2.0
"""Issued-document benchmarks: render + sign against fpdf2 rendering the same page unsigned.

Why these rows, in one group: the issue asks what signing costs on top of the
PDF library's own work. The baseline is the same two pages rendered with a
code that carries no signature (identical layout, pattern and QR size within
a few modules), so the ratio is the municipality's signing plus encoding
share. Under ``make test`` (``--benchmark-disable``) each body runs once and
its output is checked, so the suite cannot rot.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from municipal.document import encode_code, issue_document, key_id, render_pdf, sign_content
from municipal.document.cli import sample_content

pytestmark = pytest.mark.bench

KEY = ec.derive_private_key(0x6D796E612D62656E6368, ec.SECP256R1())


@pytest.mark.benchmark(group="document")
def test_bench_render_unsigned(benchmark: Any) -> None:
    content = sample_content()
    unsigned = encode_code(content, key=key_id(KEY.public_key()))
    pdf = benchmark(render_pdf, content, unsigned)
    assert pdf.startswith(b"%PDF-")


@pytest.mark.benchmark(group="document")
def test_bench_render_and_sign(benchmark: Any) -> None:
    pdf = benchmark(issue_document, sample_content(), KEY)
    assert pdf.startswith(b"%PDF-")


@pytest.mark.benchmark(group="document")
def test_bench_sign_only(benchmark: Any) -> None:
    code = benchmark(sign_content, sample_content(), KEY)
    assert code.startswith(b"MYNADC")
