# SPDX-License-Identifier: Apache-2.0
"""What the issuance campaign reads after the attack, and the invariants it checks.

Why from these sources: the flows' own outcomes are what the software
believes; the incidents were cases where that belief was wrong. So the
evidence is what the hardware and the ledgers hold: each printer's received
jobs (``ippeveprinter -k``) with the printer's own final job state (IPP
Get-Jobs through ``ipptool``: only ``completed`` is on paper), the signed
code on each printed page (decoded from the rendered page, verified with
the municipality's public key), the coin and bill devices' counters, and
the rows of the centre's ``issuance_requests`` and the municipality's
``documents``. ``check_invariants`` is pure over an ``Evidence``, so a test
can corrupt a copy and see each check fail.

Invariants (``ChaosInvariantError`` names the one broken and the serial):

1. holder: every printed page carries a valid signed code whose serial is
   the job's, whose 氏名 rows name exactly the card holder who asked for
   it at that station, and whose bytes hash to the centre's record;
2. once: no serial is printed twice, on one printer or across printers;
3. money: every station's cash kept equals the fees of the documents it
   printed; the centre charged exactly the printed serials and refunded or
   failed every other one; the municipality marked exactly the printed
   serials PRINTED and none of them VOID;
4. secrets: no PIN and no personal data in anything the MFP side wrote
   (``leaks``: journals, electronic journals, the run's log).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import shutil
import sqlite3
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hw_sim.devices.cctalk import SimCcTalkBus
from hw_sim.printing import PrintEngine
from municipal.document.code import parse_code
from municipal.document.errors import DocumentError
from municipal.document.reader import decode_codes, read_document
from myna_edge.chaos import ChaosInvariantError

__all__ = [
    "CashCount",
    "Evidence",
    "PrintedJob",
    "Request",
    "check_invariants",
    "printed_jobs",
    "read_cash",
    "read_centre",
    "read_municipal",
]

_GET_JOBS: Final = """\
{
  NAME "jobs"
  OPERATION Get-Jobs
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR keyword which-jobs all
  ATTR keyword requested-attributes job-id,job-state
  STATUS successful-ok
  DISPLAY job-id
  DISPLAY job-state
}
"""
_NAME_FIELD: Final = "氏名"


@dataclass(frozen=True)
class Request:
    """One resident's request at one station, and what the flow reported."""

    number: int
    station: str
    profile: str
    holder: str  # the card holder's name (the registry's 氏名)
    fault: str
    serial: str = ""
    printed: bool = False
    charged: bool = False
    fee_yen: int = 0
    reason: str = ""


@dataclass(frozen=True)
class PrintedJob:
    """A job a printer completed (on paper), with what its signed code says."""

    station: str
    job_id: int
    title: str
    sha256: bytes
    code_serial: str
    names: tuple[str, ...]
    signature_ok: bool


@dataclass(frozen=True)
class CashCount:
    """One station's money, read from the emulated devices."""

    station: str
    kept_yen: int  # bills stacked + coins in the cash box - coins the hoppers paid


@dataclass(frozen=True)
class Evidence:
    """Everything the checks read (a test corrupts a copy of it)."""

    requests: tuple[Request, ...]
    printed: tuple[PrintedJob, ...]
    cash: tuple[CashCount, ...]
    #: serial -> (state, fee_yen, terminal, document sha256) in the centre's ledger.
    centre: dict[str, tuple[str, int, str, bytes]] = field(default_factory=dict)
    #: serial -> state in the municipality's ledger.
    municipal: dict[str, str] = field(default_factory=dict)
    #: jobs the printers received but did not complete (aborted, cancelled).
    not_printed: int = 0
    #: ``file: label (encoding)`` of every PIN or personal datum found (``leaks``).
    leaks: tuple[str, ...] = ()


def _job_states(engine: PrintEngine) -> dict[int, str]:
    ipptool = shutil.which("ipptool")
    if ipptool is None:
        raise ChaosInvariantError("ipptool is missing: the printers' job states cannot be read")
    test = engine.root / "jobs.test"
    test.write_text(_GET_JOBS)
    uri = f"ipp://localhost:{engine.printer_port}/ipp/print"
    done = subprocess.run(  # noqa: S603 - our own argv, no shell
        [ipptool, "-c", uri, str(test)], capture_output=True, text=True, timeout=10, check=True
    )
    rows = list(csv.reader(io.StringIO(done.stdout)))[1:]
    return {int(row[0]): row[1] for row in rows if len(row) >= 2 and row[0].isdigit()}


def printed_jobs(
    station: str, engine: PrintEngine, public_key: ec.EllipticCurvePublicKey
) -> tuple[list[PrintedJob], int]:
    """The station's completed jobs with their decoded codes, and the count not printed."""
    states = _job_states(engine)
    printed: list[PrintedJob] = []
    not_printed = 0
    for document in engine.received():
        if states.get(document.job_id) != "completed":
            not_printed += 1
            continue
        serial, signed = "", False
        names: tuple[str, ...] = ()
        with contextlib.suppress(DocumentError):
            code = parse_code(decode_codes(read_document(document.data, dpi=150)))
            serial = code.content.serial
            names = tuple(value for key, value in code.content.fields if key == _NAME_FIELD)
            with contextlib.suppress(DocumentError):
                code.verify(public_key)
                signed = True
        printed.append(
            PrintedJob(
                station,
                document.job_id,
                document.name,
                hashlib.sha256(document.data).digest(),
                serial,
                names,
                signed,
            )
        )
    return printed, not_printed


def read_cash(station: str, bus: SimCcTalkBus) -> CashCount:
    """What the station's cash devices kept, net of the change they paid."""
    stacked = sum(bus.bills.stacked) if bus.bills is not None else 0
    return CashCount(station, stacked + sum(bus.coins.cashbox) - sum(bus.paid_out()))


def read_centre(database: Path) -> dict[str, tuple[str, int, str, bytes]]:
    """The centre's requests that got a serial: serial -> (state, fee, terminal, sha256)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT serial, state, fee_yen, terminal_id, document_sha256"
            " FROM issuance_requests WHERE serial <> ''"
        ).fetchall()
    return {row[0]: (row[1], int(row[2]), row[3], bytes(row[4] or b"")) for row in rows}


def read_municipal(database: Path) -> dict[str, str]:
    """The municipality's documents: serial -> state."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT serial, state FROM documents").fetchall()
    return {serial: state.upper() for serial, state in rows}


def load_public_key(signing_key: Path) -> ec.EllipticCurvePublicKey:
    """The municipality's public key from its signing key file."""
    key = serialization.load_pem_private_key(signing_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ChaosInvariantError("the municipality's signing key is not an EC key")
    return key.public_key()


def _check_holder(evidence: Evidence) -> None:
    asked = {(r.station, r.serial): r for r in evidence.requests if r.serial}
    for job in evidence.printed:
        where = f"{job.station} job {job.job_id} ({job.title})"
        if not job.signature_ok or job.code_serial != job.title:
            raise ChaosInvariantError(f"holder: {where} carries no valid code for its serial")
        request = asked.get((job.station, job.title))
        if request is None:
            raise ChaosInvariantError(f"holder: {where} was printed for no request there")
        if job.names != (request.holder,):
            raise ChaosInvariantError(
                f"holder: {where} names someone other than the card holder of request"
                f" {request.number}"
            )
        record = evidence.centre.get(job.title)
        if record is None or record[3] != job.sha256:
            raise ChaosInvariantError(f"holder: {where} is not the document the centre issued")


def _check_once(evidence: Evidence) -> None:
    twice = [serial for serial, n in Counter(j.title for j in evidence.printed).items() if n > 1]
    if twice:
        raise ChaosInvariantError(f"once: {sorted(twice)} printed more than once")


def _check_money(evidence: Evidence) -> None:
    printed = {job.title for job in evidence.printed}
    for request in evidence.requests:  # the flow's belief against the paper, first
        if request.charged != (request.serial in printed and request.printed):
            raise ChaosInvariantError(
                f"money: request {request.number} at {request.station} charged={request.charged}"
                f" for {request.serial or 'no document'}, but printed on paper="
                f"{request.serial in printed}"
            )
    for count in evidence.cash:
        fees = sum(
            evidence.centre[job.title][1] if job.title in evidence.centre else 0
            for job in evidence.printed
            if job.station == count.station
        )
        if count.kept_yen != fees:
            raise ChaosInvariantError(
                f"money: {count.station} kept JPY {count.kept_yen} for JPY {fees} of documents"
            )
    for serial, (state, _, _, _) in evidence.centre.items():
        expected = "CHARGED" if serial in printed else ("REFUNDED", "FAILED")
        if (serial in printed and state != expected) or (
            serial not in printed and state not in expected
        ):
            raise ChaosInvariantError(f"money: the centre holds {serial} as {state}")
    for serial in printed:
        if evidence.municipal.get(serial) != "PRINTED":
            raise ChaosInvariantError(
                f"money: the municipality holds printed {serial} as"
                f" {evidence.municipal.get(serial)}"
            )
    stray = {s for s, state in evidence.municipal.items() if state == "PRINTED"} - printed
    if stray:
        raise ChaosInvariantError(f"money: the municipality holds {sorted(stray)} PRINTED, unseen")


def check_invariants(evidence: Evidence) -> None:
    """Check holder, once, money and secrets (see the module doc).

    Raises:
        ChaosInvariantError: the first invariant that does not hold, and for what.
    """
    _check_holder(evidence)
    _check_once(evidence)
    _check_money(evidence)
    if evidence.leaks:
        raise ChaosInvariantError(f"secrets: found on the MFP side: {', '.join(evidence.leaks)}")
