# SPDX-License-Identifier: Apache-2.0
"""The host's subcommands: ``myna-edge read`` and ``myna-edge pin-status``.

PINs come from a no-echo prompt or from an environment variable named by
``--pin-env``; never from a command-line value, which would sit in shell
history and in every process listing. The My Number is masked unless
``--show-my-number`` is given. ``read --sign-cert`` on a card without a
signing certificate (holders under 15) says so before any prompt, with the
message of ``host.messages`` (Japanese, then English), and exits 1.

``read --face`` is the counter check: the card-surface AP opened with
照合番号B (14 digits) or A (the 12-digit My Number) from ``--code-env`` or a
prompt; it prints the card face and the verdict and writes the chip's photo
as PNG (``--photo``, a file only its owner can read: it is personal data).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from host.card import (
    CardInfo,
    CertificateSummary,
    CodeKind,
    FaceReading,
    FaceVerdict,
    KeyKind,
    MynaCard,
    PinKind,
    assess_face,
    decode_photo,
    face_differences,
    summarize_certificate,
)
from host.errors import MynaEdgeError
from host.messages import ResultCode, result_text
from host.private_files import write_private
from host.secret import Secret
from host.transport import open_transport

__all__ = [
    "add_parsers",
    "card_report",
    "face_report",
    "load_issuer_key",
    "mask_my_number",
    "print_card_report",
    "print_result",
    "read_secret",
    "run_pin_status",
    "run_read",
]

DEFAULT_READER = "sim://default"
#: File name of the card-data issuer's public key in a trust folder.
ISSUER_KEY_FILE = "card-data-issuer.pub.pem"

_SEX_NAMES = {"0": "unknown", "1": "male", "2": "female", "9": "not applicable"}


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``read`` and ``pin-status``."""
    read = sub.add_parser("read", help="read the basic four items and certificates")
    _add_reader_arg(read)
    read.add_argument(
        "--pin-env",
        metavar="NAME",
        help="environment variable holding the card-info PIN (else a no-echo prompt)",
    )
    read.add_argument(
        "--sign-cert",
        action="store_true",
        help="also read the signing certificate (needs the signing password)",
    )
    read.add_argument(
        "--sign-password-env",
        metavar="NAME",
        help="environment variable holding the signing password (else a prompt)",
    )
    read.add_argument(
        "--trust-dir",
        type=Path,
        help=f"folder with {ISSUER_KEY_FILE} to check the card data's signature "
        "(default for sim:// readers: the simulator's test PKI)",
    )
    read.add_argument("--show-my-number", action="store_true", help="print the My Number")
    read.add_argument(
        "--face",
        action="store_true",
        help="read the card face from the card-surface AP with 照合番号A/B (counter check)",
    )
    read.add_argument(
        "--code-env",
        metavar="NAME",
        help="environment variable holding 照合番号B (14 digits) or A (12) (else a prompt)",
    )
    read.add_argument(
        "--photo",
        type=Path,
        default=Path("face-photo.png"),
        metavar="FILE",
        help="with --face: where to write the chip's photo as PNG (default face-photo.png)",
    )
    read.add_argument("--json", action="store_true", help="print JSON with stable field names")
    read.set_defaults(handler=run_read)

    status = sub.add_parser("pin-status", help="tries left for every PIN, spending none")
    _add_reader_arg(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=run_pin_status)


def _add_reader_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reader",
        default=DEFAULT_READER,
        metavar="URL",
        help=f"reader URL (default {DEFAULT_READER})",
    )


def read_secret(env_name: str | None, prompt: str, stdin: TextIO | None = None) -> Secret:
    """Get a PIN from the named environment variable or a no-echo prompt.

    Raises:
        ValueError: the variable is unset, or no terminal to prompt on.
    """
    if env_name:
        value = os.environ.get(env_name)
        if value is None:
            raise ValueError(f"environment variable {env_name} is not set")
        return Secret.from_text(value)
    stream = stdin if stdin is not None else sys.stdin
    if not stream.isatty():
        raise ValueError("no terminal to prompt for the PIN on; use --pin-env NAME")
    return Secret.from_text(getpass.getpass(prompt))


def mask_my_number(number: str) -> str:
    """Show only the last four digits, as receipts and screens do."""
    return "*" * (len(number) - 4) + number[-4:]


def _issuer_key(args: argparse.Namespace) -> rsa.RSAPublicKey | None:
    trust_dir: Path | None = args.trust_dir
    if trust_dir is None and args.reader.startswith("sim:"):
        from host.transport.sim import sim_trust_dir

        trust_dir = sim_trust_dir(args.reader)
    if trust_dir is None:
        return None
    return load_issuer_key(trust_dir)


def load_issuer_key(trust_dir: Path) -> rsa.RSAPublicKey:
    """The card-data issuer's public key from a trust folder.

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not an RSA public key in PEM.
    """
    key = serialization.load_pem_public_key((trust_dir / ISSUER_KEY_FILE).read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{ISSUER_KEY_FILE} is not an RSA public key")
    return key


@contextmanager
def _errors_to_exit_code() -> Iterator[list[int]]:
    code = [0]
    try:
        yield code
    except (MynaEdgeError, ValueError, OSError) as exc:
        print(f"myna-edge: error: {exc}", file=sys.stderr)
        code[0] = 1


def run_read(args: argparse.Namespace) -> int:
    """``myna-edge read``: basic four items, My Number (masked) and certificates."""
    if args.face:
        return _run_read_face(args)
    with _errors_to_exit_code() as code:
        issuer_key = _issuer_key(args)
        with open_transport(args.reader) as transport:
            card = MynaCard(transport)
            if args.sign_cert and not card.has_certificate(KeyKind.SIGN):
                # Learnt from the card (EF 0008) before any prompt: no try spent.
                print_result(ResultCode.NO_SIGNING_CERTIFICATE)
                return 1
            with read_secret(args.pin_env, "Card-info PIN (4 digits): ") as pin:
                info = card.read_card_info(pin, include_my_number=True, issuer_key=issuer_key)
            certs = [summarize_certificate(card.read_certificate(KeyKind.AUTH), KeyKind.AUTH)]
            if args.sign_cert:
                prompt = "Signing password: "
                with read_secret(args.sign_password_env, prompt) as password:
                    cert = card.read_certificate(KeyKind.SIGN, password=password)
                certs.append(summarize_certificate(cert, KeyKind.SIGN))
        report = card_report(info, certs, show_my_number=args.show_my_number)
        if args.json:
            print(json.dumps(report, ensure_ascii=False, indent=2))
        else:
            print_card_report(report)
    return code[0]


def _run_read_face(args: argparse.Namespace) -> int:
    """``myna-edge read --face``: the card face, its verdict, the photo as PNG."""
    with _errors_to_exit_code() as code:
        issuer_key = _issuer_key(args)
        prompt = "照合番号B (14 digits) or A (12 digits): "
        with open_transport(args.reader) as transport, read_secret(args.code_env, prompt) as secret:
            card = MynaCard(transport)
            kind = CodeKind.A if len(secret) == 12 else CodeKind.B
            reading = card.read_card_face(kind, secret, issuer_key=issuer_key)
            info = None
            my_number = None
            if kind is CodeKind.B:
                info = card.read_card_info_with_code_b(secret, issuer_key=issuer_key)
            else:
                my_number = secret.reveal().decode("ascii")  # the card accepted it as A
        photo = decode_photo(reading.face.photo)
        write_private(args.photo, photo.png)
        report = face_report(
            reading,
            info,
            my_number=my_number,
            show_my_number=args.show_my_number,
            today=dt.date.today(),
        )
        report["photo"] = {"file": str(args.photo), "width": photo.width, "height": photo.height}
        if args.json:
            print(json.dumps(report, ensure_ascii=False, indent=2))
        else:
            _print_face_report(report)
    return code[0]


def face_report(
    reading: FaceReading,
    info: CardInfo | None,
    *,
    my_number: str | None,
    show_my_number: bool,
    today: dt.date,
) -> dict[str, Any]:
    """The card face with the stable field names of ``read --face --json``."""
    face = reading.face
    differences = face_differences(face, info.basic_four) if info is not None else ()
    verdict = assess_face(reading, today=today, differences=differences)
    number = None
    if my_number is not None:
        number = my_number if show_my_number else mask_my_number(my_number)
    return {
        "name": info.name if info is not None else None,
        "address": info.address if info is not None else None,
        "birth_date": face.birth_date.isoformat(),
        "sex": face.sex,
        "expiry": face.expiry.isoformat(),
        "my_number": number,
        "signature_verified": reading.signature_verified,
        "differences": list(differences),
        "verdict": verdict.value,
    }


_VERDICT_TEXT = {
    FaceVerdict.GENUINE: "真正 (genuine)",
    FaceVerdict.EXPIRED: "有効期限切れ (expired)",
    FaceVerdict.NOT_CHECKED: "署名未確認 (not checked: no trust folder)",
    FaceVerdict.FORGED: "偽造の疑い (forged)",
    FaceVerdict.REVOKED: "証明書失効 (revoked)",
    FaceVerdict.INCONSISTENT: "券面と入力補助APが不一致 (inconsistent)",
}


def _print_face_report(report: dict[str, Any]) -> None:
    sex = report["sex"]
    print(f"Name:        {report['name'] or '(image only; 照合番号A does not open the text)'}")
    print(f"Address:     {report['address'] or '(image only)'}")
    print(f"Birth date:  {report['birth_date']}")
    print(f"Sex:         {_SEX_NAMES.get(sex, 'code')} ({sex})")
    print(f"Expiry:      {report['expiry']}")
    print(f"My Number:   {report['my_number'] or 'not read (照合番号B does not open it)'}")
    if report["differences"]:
        print(f"Differs:     {', '.join(report['differences'])} (face vs. card-info AP)")
    print(f"Verdict:     {_VERDICT_TEXT[FaceVerdict(report['verdict'])]}")
    photo = report["photo"]
    print(f"Photo:       {photo['file']} ({photo['width']}x{photo['height']} PNG)")


def print_result(code: ResultCode) -> None:
    """Print a failure's code and its message, Japanese first, on stderr."""
    text = result_text(code)
    print(f"myna-edge: {code.value}\n  {text.ja}\n  {text.en}", file=sys.stderr)


def card_report(
    info: CardInfo, certs: list[CertificateSummary], *, show_my_number: bool
) -> dict[str, Any]:
    """The read result with the stable field names of ``read --json``."""
    basic = info.basic_four
    my_number = info.my_number or ""
    return {
        "name": basic.name,
        "address": basic.address,
        "birth_date": basic.birth_date.isoformat(),
        "sex": basic.sex,
        "my_number": my_number if show_my_number else mask_my_number(my_number),
        "integrity": {
            "hashes_ok": info.integrity.hashes_ok,
            "signature_verified": info.integrity.signature_verified,
        },
        "certificates": [_cert_report(c) for c in certs],
    }


def _cert_report(cert: CertificateSummary) -> dict[str, Any]:
    return {
        "kind": cert.kind.value,
        "subject": cert.subject,
        "issuer": cert.issuer,
        "serial": f"{cert.serial:X}",
        "not_before": _iso(cert.not_before),
        "not_after": _iso(cert.not_after),
    }


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def print_card_report(report: dict[str, Any]) -> None:
    sex = report["sex"]
    integrity = report["integrity"]
    signature = "verified" if integrity["signature_verified"] else "not checked (no trust folder)"
    print(f"Name:        {report['name']}")
    print(f"Address:     {report['address']}")
    print(f"Birth date:  {report['birth_date']}")
    print(f"Sex:         {_SEX_NAMES.get(sex, 'code')} ({sex})")
    print(f"My Number:   {report['my_number']}")
    print(f"Integrity:   hashes match; issuer signature {signature}")
    print("Certificates:")
    for cert in report["certificates"]:
        print(f"  [{cert['kind']}] {cert['subject']}")
        print(f"      serial {cert['serial']}, issuer {cert['issuer']}")
        print(f"      valid {cert['not_before']} .. {cert['not_after']}")


def run_pin_status(args: argparse.Namespace) -> int:
    """``myna-edge pin-status``: tries left for every PIN without spending one."""
    with _errors_to_exit_code() as code:
        rows = []
        with open_transport(args.reader) as transport:
            card = MynaCard(transport)
            for kind in PinKind:
                left = card.tries_left(kind)
                rows.append(
                    {
                        "pin": kind.value,
                        "description": kind.description,
                        "tries_left": left,
                        "max_tries": kind.max_tries,
                        "state": _pin_state(left),
                    }
                )
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
        else:
            for row in rows:
                print(
                    f"{row['pin']:<6} {row['description']:<40} "
                    f"{row['tries_left']}/{row['max_tries']}  {row['state']}"
                )
    return code[0]


def _pin_state(tries_left: int) -> str:
    if tries_left == 0:
        return "blocked"
    if tries_left == 1:
        return "last try"
    return "ok"
