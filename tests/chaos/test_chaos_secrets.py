# SPDX-License-Identifier: Apache-2.0
"""Secrets: every flow on a real stack leaves no test secret anywhere, and the scan can see one.

The scenario (``myna_edge.chaos.secrets.scenario``) runs the verifier and
three agents as processes at TRACE behind recording relays, drives a reading
(with one wrong card-info PIN), a transfer with the keypad, two counter
checks (照合番号B with one wrong code, then with the holder's PIN), and a reset
each way with OTPs, then the holder's Android phone (issue 15) on the same
kiosk and ATM: a reading with its own PIN (one wrong first) and a transfer
with its own password on the keypad; then it scans logs, journals, the
electronic journals, the verifier database, the captured gRPC traffic and
the client's record. The self-tests plant each encoding of a secret (and the
secret inside an SQLite database and a longer base64 blob) and require the
hit, so "zero hits" means something; the scenario itself also requires the
OTPs it legitimately sends to the verifier to show up in that capture,
proving the capture is plaintext and read. For the counter desk, a secret
planted in a copy of the run's own AML file and log must be found. The MFP
(issue 14) must really have issued (journaled as completed and charged, the
page in CUPS's and ippeveprinter's logs, the PDF in the centre-to-municipality
capture), a PIN planted in a copy of its log must be found, and the
resident's name and address must be in none of its log, journal and
electronic journal (the operator gets the serial, the kind and the fee).
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib.util
import json
import random
import shutil
import sqlite3
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hw_sim.card import get_profile
from hw_sim.devices.controller import find_micropython
from hw_sim.devices.errors import MicroPythonMissingError
from hw_sim.printing import engine_tools
from myna_edge.chaos.secrets.mfp import MFP
from myna_edge.chaos.secrets.scan import encodings_found, scan, variants
from myna_edge.chaos.secrets.scenario import SECRETS, run_scenario
from tests.prerequisites import missing_prerequisite

PIN = SECRETS["auth_pin"]
AML = "counter/aml-checks.jsonl"  # the desk's AML file, beside its journal
PASSWORD = SECRETS["signing_password"]


@pytest.mark.parametrize("secret", [PIN, PASSWORD])
@pytest.mark.parametrize(
    ("encoding", "planted"),
    [
        ("ascii", lambda s: b"pin=" + s.encode()),
        ("hex", lambda s: b"apdu 0020008004" + s.encode().hex().encode()),
        ("HEX", lambda s: b"APDU 0020008004" + s.encode().hex().upper().encode()),
        ("hex spaced", lambda s: b"> 00 20 00 80 04 " + s.encode().hex(" ").encode()),
        ("HEX spaced", lambda s: b"> 00 20 00 80 04 " + s.encode().hex(" ").upper().encode()),
        ("utf-16-le", lambda s: s.encode("utf-16-le")),
        ("utf-16-be", lambda s: s.encode("utf-16-be")),
    ],
)
def test_scan_sees_a_planted_secret(
    tmp_path: Path, secret: str, encoding: str, planted: object
) -> None:
    (tmp_path / "leak.log").write_bytes(b"noise " + planted(secret) + b" noise")  # type: ignore[operator]
    hits, files, _ = scan(tmp_path, {"s": secret})
    assert files == 1
    assert encoding in {h.encoding for h in hits}


@pytest.mark.parametrize("shift", [0, 1, 2])
def test_scan_sees_a_secret_inside_base64_at_every_alignment(tmp_path: Path, shift: int) -> None:
    blob = base64.b64encode(b"x" * shift + PASSWORD.encode() + b"tail-bytes")
    (tmp_path / "blob.json").write_bytes(b'{"data": "' + blob + b'"}')
    hits, _, _ = scan(tmp_path, {"s": PASSWORD})
    assert {h.encoding for h in hits} & {"base64/0", "base64/1", "base64/2"}


@pytest.mark.parametrize("secret", [PIN, PASSWORD, "1", "12345678901"])
def test_base64_forms_match_whatever_the_neighbours(secret: str) -> None:
    """The end characters mix in a neighbour's bits; every neighbour must still match."""
    rng = random.Random(secret)
    for _ in range(300):
        before, after = rng.randbytes(rng.randint(0, 5)), rng.randbytes(rng.randint(0, 5))
        blob = base64.b64encode(before + secret.encode() + after)
        assert f"base64/{len(before) % 3}" in encodings_found(blob, secret), blob


def test_random_material_does_not_look_like_a_pin() -> None:
    """Chance hits of a 4-digit PIN in what the stack writes (CI saw one in ~50 runs).

    1,000 random 4-digit values against the noise that produced chance hits:
    base64 and hex of DER-like data (random bytes between short digit runs, as
    in certificate times), decimal object ids, protobuf text-format escapes.
    With the looser patterns this found 170 + 29 + 65 of them.
    """
    rng = random.Random(7)
    der_like = b"".join(
        rng.randbytes(rng.randint(1, 3)) + b"%03d" % rng.randrange(1000) for _ in range(700)
    )
    escapes = "".join(
        f"\\{rng.randrange(256):03o}" if rng.random() < 0.5 else str(rng.randrange(10))
        for _ in range(3000)
    )
    noise = [
        base64.b64encode(der_like[:3000]),
        der_like[:2000].hex().encode(),
        b" ".join(b"id(loop)=%d" % rng.getrandbits(48) for _ in range(300)),
        escapes.encode(),
        base64.b64encode(rng.randbytes(3000)),
    ]
    pins = [f"{n:04d}" for n in rng.sample(range(10_000), 1000)]
    hits = [
        (pin, index)
        for pin in pins
        for index, data in enumerate(noise)
        if encodings_found(data, pin)
    ]
    assert len(hits) <= 12, hits  # hex of a real 4-digit run counts: about 6 expected


def test_scan_sees_a_secret_in_a_database_row(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        db.execute("CREATE TABLE entries (data TEXT)")
        db.execute("INSERT INTO entries VALUES (?)", (f'{{"pin": "{PIN}"}}',))
    db.close()
    hits, _, _ = scan(tmp_path, {"pin": PIN})
    assert [h.label for h in hits] == ["pin"]


def test_short_digit_secrets_inside_numbers_do_not_count(tmp_path: Path) -> None:
    (tmp_path / "log").write_bytes(f"at 12:30:07.{PIN}12 id=9{PIN} 0x{PIN}".encode())
    assert scan(tmp_path, {"pin": PIN})[0] == []
    # Whatever follows counts: in protobuf the next tag byte may be a digit.
    (tmp_path / "log").write_bytes(b"\x04" + PIN.encode() + b"2\x08")
    assert scan(tmp_path, {"pin": PIN})[0]


def _certificate_pem(common_name: str, issuer: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    made = dt.datetime(2026, 12, 7, 8, 16, 30, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(made)
        .not_valid_after(made + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_a_certificate_made_at_the_pins_time_is_no_leak() -> None:
    # A certificate's validity is ASCII digits inside its base64: found in a CI
    # run, the PIN 8163 "in" a server certificate made at 08:16:30.
    pems = [_certificate_pem("127.0.0.1", issuer) for issuer in ("ca", "cax", "caxy")]
    base64_forms = [p for name, p in variants("8163").items() if name.startswith("base64")]
    # searched as text, the time looks like the PIN at one of the alignments...
    assert any(form.search(pem) for pem in pems for form in base64_forms)
    # ...searched as the DER it encodes, it is digits inside a number: no leak
    assert all(encodings_found(pem, "8163") == [] for pem in pems)
    # the PIN really put into a certificate is still found
    assert "ascii" in encodings_found(_certificate_pem("pin 8163", "ca"), "8163")


def test_every_encoding_is_searched() -> None:
    assert set(variants(PASSWORD)) == {
        "ascii", "hex", "HEX", "hex spaced", "HEX spaced", "utf-16-le", "utf-16-be",
        "base64/0", "base64/1", "base64/2",
    }  # fmt: skip


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], Path]:
    """One run of the scenario for the module: its figures and the folder it scanned."""
    try:
        find_micropython()
    except MicroPythonMissingError:
        missing_prerequisite("the MicroPython unix port (the ATM's keypad board)")
    _mfp_prerequisites()
    workdir = tmp_path_factory.mktemp("secrets")
    return run_scenario(20261127, 1, workdir), workdir / "stack"


def _mfp_prerequisites() -> None:
    missing = [tool for tool, path in engine_tools().items() if path is None]
    if importlib.util.find_spec("cups") is None:
        missing.append("pycups")
    if missing:
        missing_prerequisite(f"the MFP's print engine needs {', '.join(missing)}")


def test_every_flow_leaves_no_secret_anywhere(campaign: tuple[dict[str, object], Path]) -> None:
    figures, _ = campaign
    assert figures["flows"] == {
        "readings": 1, "transfers": 1, "counter_checks": 2, "issuances": 1, "resets": 2,
        "android_readings": 1, "android_transfers": 1,
    }  # fmt: skip
    assert figures["hits"] == 0
    assert figures["encodings_per_secret"] == len(variants(PIN)) == 10
    assert int(figures["protocol_otp_hits"]) >= 2  # type: ignore[call-overload]  # RedeemReset
    assert int(figures["files_scanned"]) >= 15  # type: ignore[call-overload]
    assert int(figures["captured_grpc_bytes"]) > 10_000  # type: ignore[call-overload]


def _aml_records(stack: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (stack / AML).read_text(encoding="utf-8").splitlines()]


def test_the_counter_desk_wrote_what_the_scan_read(
    campaign: tuple[dict[str, object], Path],
) -> None:
    """Zero hits means something only if the desk ran and wrote its data where the scan looks."""
    _, stack = campaign
    records = _aml_records(stack)
    assert [r["verdict"] for r in records] == ["genuine", "genuine"]
    assert all(r["photo_png"] for r in records)  # store_photo: the most a desk writes
    log = (stack / "logs" / "counter.log").read_text(encoding="utf-8")
    assert "00 20 00 80" in log  # the wire trace was on: the VERIFYs were logged, redacted
    capture = (stack / "captures" / "api-counter" / "server-to-client.bin").read_bytes()
    assert "山田".encode() in capture  # the face crossed the API: the capture is plaintext


def test_the_android_phone_was_what_the_kiosk_and_atm_read(
    campaign: tuple[dict[str, object], Path],
) -> None:
    """Issue 15: the phone's secrets are its profile's, and the phone (not the card) was used."""
    _, stack = campaign
    phone = get_profile("android-default")
    assert (SECRETS["android_pin"], SECRETS["android_password"]) == (
        phone.auth_pin,
        phone.sign_password,
    )
    for terminal, flow in (("kiosk", "READING"), ("atm", "TRANSFER")):
        lines = (stack / terminal / "ej.txt").read_text(encoding="utf-8").splitlines()
        ends = [line for line in lines if f" {flow}-END " in line]
        kinds = [k for k in ("card", "android") if any(f"credential_kind={k}" in e for e in ends)]
        assert kinds == ["card", "android"], (terminal, ends)


@pytest.mark.parametrize("label", ["android_pin", "android_password"])
def test_a_phone_secret_in_a_copy_of_the_atm_log_fails_the_scan(
    campaign: tuple[dict[str, object], Path], tmp_path: Path, label: str
) -> None:
    """Plant the phone's PIN or password in a copy of the ATM's JSON log: the scan must see it."""
    _, stack = campaign
    copy = tmp_path / "stack"
    shutil.copytree(stack, copy)
    secret = SECRETS[label]
    with (copy / "logs" / "atm.log").open("a", encoding="utf-8") as log:
        log.write(json.dumps({"msg": f"> 00 20 00 80 {secret.encode().hex(' ').upper()}"}) + "\n")
    hits, _, _ = scan(copy, SECRETS)
    assert ("logs/atm.log", "HEX spaced") in {
        (h.path, h.encoding) for h in hits if h.label == label
    }


@pytest.mark.parametrize("label", ["code_b", "wrong_code_b", "my_number", "auth_pin"])
def test_a_counter_leak_in_a_copy_of_the_output_fails_the_scan(
    campaign: tuple[dict[str, object], Path], tmp_path: Path, label: str
) -> None:
    """Plant one secret in a copy of the desk's own AML file and log: the scan must see it."""
    _, stack = campaign
    copy = tmp_path / "stack"
    shutil.copytree(stack, copy)
    secret = SECRETS[label]
    records = _aml_records(copy)
    records[0]["staff_id"] = secret
    (copy / AML).write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with (copy / "logs" / "counter.log").open("a", encoding="utf-8") as log:
        log.write(f"TRACE > 00 20 00 80 {len(secret):02X} {secret.encode().hex(' ').upper()}\n")
    hits, _, _ = scan(copy, SECRETS)
    assert {(h.path, h.encoding) for h in hits if h.label == label} >= {
        (AML, "ascii"),
        ("logs/counter.log", "HEX spaced"),
    }


def test_the_mfp_issued_printed_and_charged(campaign: tuple[dict[str, object], Path]) -> None:
    """Issue 14: zero hits mean something only if the issuance ran through every part."""
    figures, stack = campaign
    serials = figures["issued_serials"]
    assert isinstance(serials, list)
    assert len(serials) == 1
    serial = serials[0]
    ends = [
        line
        for line in (stack / MFP / "ej.txt").read_text(encoding="utf-8").splitlines()
        if " ISSUE-END " in line
    ]
    assert len(ends) == 1
    assert f"serial={serial} kind=RESIDENT_RECORD" in ends[0]
    assert "outcome=completed" in ends[0]
    assert "charged=True" in ends[0]
    log = (stack / "logs" / f"{MFP}.log").read_text(encoding="utf-8")
    assert "issue proving -> enter_pin" in log  # the wrong PIN was typed, then the right one
    for name in ("page_log", "ippeveprinter.log"):  # CUPS printed it, ippeveprinter took it
        assert serial in (stack / "print-engine" / name).read_text(encoding="utf-8")
    # the centre-to-municipality capture is plaintext: the document crossed it
    assert b"%PDF" in (stack / "captures" / "municipal" / "server-to-client.bin").read_bytes()
    for part in ("logs/municipal.log", "municipal/ledger.sqlite", "verifier/verifier.sqlite"):
        assert (stack / part).stat().st_size > 0, part


def test_the_mfp_keeps_no_name_or_address(campaign: tuple[dict[str, object], Path]) -> None:
    """The operator's side gets the serial, the kind and the fee, never the document's content."""
    _, stack = campaign
    person = get_profile("default").person
    personal = [person.name, person.name.split()[0], person.address]
    for part in ("logs/mfp.log", "mfp/ej.txt", "mfp/journal.sqlite"):
        data = (stack / part).read_bytes()
        assert data
        for value in personal:
            assert encodings_found(data, value) == [], (part, value)
    answers = (stack / "client" / "answers.txt").read_bytes()
    assert person.address.encode() in answers  # the search itself can see them (a reading)


@pytest.mark.parametrize("label", ["auth_pin", "wrong_auth_pin"])
def test_a_pin_in_a_copy_of_the_mfp_log_fails_the_scan(
    campaign: tuple[dict[str, object], Path], tmp_path: Path, label: str
) -> None:
    """Plant the holder's auth PIN (or the wrong one) in a copy of the MFP's log: it is found."""
    _, stack = campaign
    copy = tmp_path / "stack"
    shutil.copytree(stack, copy)
    secret = SECRETS[label]
    with (copy / "logs" / f"{MFP}.log").open("a", encoding="utf-8") as log:
        log.write(f"DEBUG host.flows.issue: proving with pin={secret}\n")
    hits, _, _ = scan(copy, SECRETS)
    assert (f"logs/{MFP}.log", "ascii") in {(h.path, h.encoding) for h in hits if h.label == label}
