# SPDX-License-Identifier: Apache-2.0
"""The secrets campaign's MFP: certificate issuance through an agent process (issue 14).

Why here: issue 14 asks for "no PIN in logs or messages", and only a scan
of what real processes wrote can show it. The parts are those of
``myna-edge demo --flow issue`` and the issuance campaign, as processes
where the product has them: the reference municipality (``myna-edge
municipal --insecure-dev``, its registry written by ``write_registry``, its
ledger on SQLite), the centre role in the campaign's verifier (an
``[issuance]`` route in plaintext to the municipality, through a recording
relay), and an agent on the kiosk profile with an ``[issuance]`` desk as
terminal ``mfp-01``. Its devices are ``IssueDevices`` (reused from the
demo): the ccTalk bus emulator on a pty, which this process feeds with the
resident's 1,000-yen bill once the acceptor is enabled, and the print
engine (a private cupsd and ``ippeveprinter``), started once. The centre
and the municipality are configured open all day, every day
(``[issuance.service_hours]``, ``[service_hours]``), so a run at night is
not refused.

What joins the scan: the municipality's log and ledger, the centre's audit
(the verifier database), the MFP agent's journal, electronic journal and
log, the captures (API, agent to centre, centre to municipality), and
``keep_engine_logs``'s copy of cupsd's and ``ippeveprinter``'s logs (the
engine's own folder is removed when it stops). ``check_issued`` makes sure
the issuance really happened, so zero hits cannot come from a flow that
never ran: completed, printed and charged, and the printer received
exactly the document the municipality's ledger holds for the serial.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from host.private_files import write_private
from hw_sim.devices.errors import DeviceTimeoutError
from myna.edge.v1 import municipal_pb2 as mpb
from myna.edge.v1 import terminal_pb2 as tpb
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.stack import ROOT
from myna_edge.demo.issue import RESIDENT_BILL_YEN, IssueDevices
from myna_edge.devstack.children import myna_edge_argv
from myna_edge.municipal_world import REFERENCE_MUNICIPALITY

__all__ = ["MFP", "MfpIssuance", "issue_command"]

#: The MFP agent's profile name in the stack (its files, log and capture names).
MFP: Final = "mfp"
_FOLDER: Final = "municipal"
_REGISTRY_TIMEOUT: Final = 120.0  # seconds: every catalogue card is opened once
#: Open all day, every day (a campaign runs at any hour; production keeps the national hours).
_ALL_DAY: Final = '[service_hours]\nopens = "00:00"\ncloses = "24:00"\nyear_end_closed = false\n'


def issue_command() -> tpb.IssueCertificateCommand:
    """One 住民票の写し (本人のみ, one copy) at the reference municipality."""
    return tpb.IssueCertificateCommand(
        municipality_code=REFERENCE_MUNICIPALITY.code,
        kind=mpb.DOCUMENT_KIND_RESIDENT_RECORD,
        options=mpb.DocumentOptions(household_scope=mpb.HOUSEHOLD_SCOPE_SELF, copies=1),
    )


class MfpIssuance:
    """The municipality's files, the MFP's devices and the config sections that join them."""

    def __init__(self, folder: Path, card_home: Path) -> None:
        self.folder = folder
        self._card_home = card_home
        self.devices: IssueDevices | None = None

    @property
    def ledger(self) -> Path:
        """The municipality's SQLite ledger (documents issued, with their PDF)."""
        return self.folder / _FOLDER / "ledger.sqlite"

    def open_devices(self, stack: ExitStack) -> None:
        """Start the ccTalk bus and the print engine on ``stack`` (stopped by PID with it).

        Raises:
            DemoPrerequisiteError: a CUPS program or pycups is missing.
        """
        self.devices = IssueDevices.open(stack)

    def start_registry(self, stack: ExitStack) -> subprocess.Popen[bytes]:
        """Start ``myna-edge municipal-registry`` for the run's card home (killed with ``stack``).

        Why a process started early: the registry opens every catalogue card
        (about 5 s, mostly loading their keys), which runs while this
        process prepares the verifier. Start it after the holder's card is
        personalised: both would otherwise issue that card's certificate.
        """
        root = self.folder / _FOLDER
        root.mkdir(parents=True, exist_ok=True)
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MYNA_EDGE_SIM_HOME": str(self._card_home)}
        argv = myna_edge_argv("municipal-registry", "--out", str(root / "registry.json"))
        with (logs / "municipal-registry.log").open("ab") as log:
            writer = subprocess.Popen(  # noqa: S603 - our own CLI
                argv, cwd=self.folder, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        stack.callback(_reap, writer)
        return writer

    def municipal_argv(self, registry: subprocess.Popen[bytes]) -> list[str]:
        """Wait for ``registry``, write the key and config; the municipality's arguments.

        It listens on a port of its choosing (its log says which).

        Raises:
            ChaosInvariantError: the registry was not written.
        """
        root = self.folder / _FOLDER
        try:
            code = registry.wait(timeout=_REGISTRY_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
        if code != 0:
            raise ChaosInvariantError(f"municipal-registry ended {code} (logs/)")
        key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private(root / "signing.key.pem", key)
        (root / "municipal.toml").write_text(
            'registry = "registry.json"\nsigning_key = "signing.key.pem"\n'
            f'listen = "127.0.0.1:0"\ndatabase = "sqlite:///{self.ledger}"\n' + _ALL_DAY,
            encoding="utf-8",
        )
        return ["municipal", "--config", str(root / "municipal.toml"), "--insecure-dev"]

    @staticmethod
    def centre_section(municipal_port: int) -> str:
        """The verifier's ``[issuance]``: the reference municipality, plaintext on loopback."""
        code = REFERENCE_MUNICIPALITY.code
        return (
            f"[issuance.municipalities.{code}]\n"
            f'address = "127.0.0.1:{municipal_port}"\nplaintext = true\n'
            + _ALL_DAY.replace("[service_hours]", "[issuance.service_hours]")
        )

    def agent_section(self) -> str:
        """The MFP agent's ``[issuance]``: the bus's pty and the engine's CUPS queue."""
        devices = self._devices()
        return (
            f'[issuance]\npayment = "{devices.bus.url}"\n'
            f'document_printer = "{devices.engine.queue_url}"\n'
            "payment_timeout = 60\nprint_timeout = 60\n"
        )

    def _devices(self) -> IssueDevices:
        if self.devices is None:
            raise RuntimeError("the MFP's devices are not started")
        return self.devices

    @contextlib.contextmanager
    def resident_pays(self) -> Iterator[None]:
        """While inside: the resident feeds one 1,000-yen bill once the acceptor is enabled."""
        bus = self._devices().bus
        done = threading.Event()

        def pay() -> None:
            while not done.is_set():
                try:
                    bus.wait_until(bus.accepting, 0.2)
                except DeviceTimeoutError:
                    continue
                bus.insert_bill(RESIDENT_BILL_YEN)
                return

        thread = threading.Thread(target=pay, name="resident-pays", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join(timeout=5)

    def check_issued(self, last: Any) -> str:
        """Raise unless ``last`` completed printed and charged, and the printer got the document.

        Returns:
            The document's serial.
        """
        result = last.completion.issue_certificate
        if not (result.serial and result.printed and result.charged):
            raise ChaosInvariantError(f"the issuance did not print and charge: {result}")
        jobs = [doc for doc in self._devices().engine.received() if doc.name == result.serial]
        with contextlib.closing(sqlite3.connect(f"file:{self.ledger}?mode=ro", uri=True)) as db:
            row = db.execute(
                "SELECT pdf FROM documents WHERE serial = ?", (result.serial,)
            ).fetchone()
        if row is None or [doc.data for doc in jobs] != [bytes(row[0])]:
            raise ChaosInvariantError(
                f"the printer received {len(jobs)} job(s) for {result.serial}, not the"
                " document in the municipality's ledger"
            )
        return str(result.serial)

    def keep_engine_logs(self) -> None:
        """Copy cupsd's and ``ippeveprinter``'s logs into the stack (before the engine stops)."""
        if self.devices is not None:
            shutil.copytree(
                self.devices.engine.root / "log", self.folder / "print-engine", dirs_exist_ok=True
            )


def _reap(process: subprocess.Popen[bytes]) -> None:
    """Kill ``process`` if it still runs (a failed start-up), and reap it."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
