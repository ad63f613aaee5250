# SPDX-License-Identifier: Apache-2.0
"""``myna-edge document``: check a paper copy offline, or make a sample document.

``verify FILE --trust DIR`` reads a PDF or a scanned PNG/JPEG, prints the
signed content and exits with an ``errors.ExitCode``; ``sample --out DIR``
writes a sample municipality key, its trust folder, a signed document, each
page as PNG and a photocopy-simulated front (to see the latent 「複写」).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from municipal.document.content import DocumentContent, DocumentKind
from municipal.document.errors import DocumentError, ExitCode, exit_code_for
from municipal.document.issue import issue_document
from municipal.document.pattern import simulate_copy
from municipal.document.reader import read_document, read_path
from municipal.document.render import japanese_date
from municipal.document.verify import TrustStore, verify_input

__all__ = ["add_parser", "sample_content"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``myna-edge document`` and its subcommands."""
    parser = sub.add_parser("document", help="issued certificates: verify a copy offline")
    commands = parser.add_subparsers(dest="document_command", metavar="ACTION", required=True)
    verify = commands.add_parser("verify", help="check a certificate's signed code (PDF/PNG/JPEG)")
    verify.add_argument("file", type=Path, help="the PDF, or a scan of the back")
    verify.add_argument(
        "--trust",
        type=Path,
        required=True,
        help="folder of <municipality code>.pem public keys (or one such file)",
    )
    verify.add_argument("--dpi", type=int, default=300, help="PDF render resolution")
    verify.set_defaults(handler=_run_verify)
    sample = commands.add_parser("sample", help="write a sample key, document and copy")
    sample.add_argument("--out", type=Path, required=True, help="folder to write into")
    sample.set_defaults(handler=_run_sample)


def sample_content(
    *, serial: str = "141003-2026-000001", name: str = "山田 太郎"
) -> DocumentContent:
    """A 住民票の写し of a sample resident (the demo's and the tests' document)."""
    return DocumentContent(
        kind=DocumentKind.RESIDENT_RECORD,
        serial=serial,
        municipality_code="141003",
        municipality_name="横浜市",
        mayor="横浜市長　見本 一郎",
        issued_on=dt.date(2026, 12, 7),
        fields=(
            ("氏名", name),
            ("生年月日", "昭和60年4月1日"),
            ("性別", "男"),
            ("住所", "神奈川県横浜市中区本町6丁目50番地の10"),
            ("世帯主", name),
            ("続柄", "世帯主"),
            ("住民となった年月日", "平成22年4月1日"),
        ),
    )


def _run_verify(args: argparse.Namespace) -> int:
    try:
        trust = TrustStore.from_folder(args.trust)
        result = verify_input(read_path(str(args.file), dpi=args.dpi), trust)
    except DocumentError as exc:
        code = exit_code_for(exc)
        print(f"REFUSED ({code.name}): {exc}", file=sys.stderr)
        return int(code)
    content = result.content
    print(f"VALID: {content.kind.title} 発行番号 {content.serial}")
    print(f"発行: {content.municipality_name} ({content.municipality_code})")
    print(f"発行日: {japanese_date(content.issued_on)}")
    for label, value in content.fields:
        print(f"  {label}: {value}")
    if result.text_checked:
        print("the PDF's page text matches the signed content")
    else:
        print("a scan has no text layer: compare the lines above with the paper's front")
    return int(ExitCode.OK)


def _run_sample(args: argparse.Namespace) -> int:
    out: Path = args.out
    (out / "trust").mkdir(parents=True, exist_ok=True)
    content = sample_content()
    key = ec.generate_private_key(ec.SECP256R1())
    (out / "municipality-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (out / "municipality-key.pem").chmod(0o600)
    (out / "trust" / f"{content.municipality_code}.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    pdf = issue_document(content, key)
    (out / "document.pdf").write_bytes(pdf)
    pages = read_document(pdf).pages
    pages[0].save(out / "front.png")
    pages[1].save(out / "back.png")
    simulate_copy(pages[0]).save(out / "front-copied.png")
    print(f"wrote {out}/document.pdf, front.png, back.png, front-copied.png, trust/")
    return int(ExitCode.OK)
