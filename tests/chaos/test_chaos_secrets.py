# SPDX-License-Identifier: Apache-2.0
"""Secrets: every flow on a real stack leaves no test secret anywhere, and the scan can see one.

The scenario (``myna_edge.chaos.secrets.scenario``) runs the verifier and two agents
as processes at TRACE behind recording relays, drives a reading (with one
wrong card-info PIN), a transfer with the keypad, and a reset each way with
OTPs, then scans logs, journals, the electronic journals, the verifier
database, the captured gRPC traffic and the client's record. The self-tests
plant each encoding of a secret (and the secret inside an SQLite database
and a longer base64 blob) and require the hit, so "zero hits" means
something; the scenario itself also requires the OTPs it legitimately
sends to the verifier to show up in that capture, proving the capture is
plaintext and read.
"""

from __future__ import annotations

import base64
import random
import sqlite3
from pathlib import Path

import pytest

from hw_sim.devices.controller import find_micropython
from hw_sim.devices.errors import MicroPythonMissingError
from myna_edge.chaos.secrets.scan import encodings_found, scan, variants
from myna_edge.chaos.secrets.scenario import SECRETS, run_scenario
from tests.prerequisites import missing_prerequisite

PIN = SECRETS["auth_pin"]
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


def test_every_encoding_is_searched() -> None:
    assert set(variants(PASSWORD)) == {
        "ascii", "hex", "HEX", "hex spaced", "HEX spaced", "utf-16-le", "utf-16-be",
        "base64/0", "base64/1", "base64/2",
    }  # fmt: skip


def test_every_flow_leaves_no_secret_anywhere(tmp_path: Path) -> None:
    try:
        find_micropython()
    except MicroPythonMissingError:
        missing_prerequisite("the MicroPython unix port (the ATM's keypad board)")
    figures = run_scenario(20261127, 1, tmp_path)
    assert figures["flows"] == {"readings": 1, "transfers": 1, "resets": 2}
    assert figures["hits"] == 0
    assert figures["encodings_per_secret"] == len(variants(PIN)) == 10
    assert int(figures["protocol_otp_hits"]) >= 2  # type: ignore[call-overload]  # RedeemReset
    assert int(figures["files_scanned"]) >= 15  # type: ignore[call-overload]
    assert int(figures["captured_grpc_bytes"]) > 10_000  # type: ignore[call-overload]
