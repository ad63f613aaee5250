# SPDX-License-Identifier: Apache-2.0
"""The secrets scenario's stack: TRACE-logging processes behind recording relays.

Why its own stack: the scan needs what the crash campaign's stack does not
give: plaintext between agent and verifier (``insecure_dev``, for this run
only), every hop through a recording relay, three profiles (a kiosk with
touchscreen entry for the resets, an ATM with the controller board's keypad
for the transfer, a staffed counter desk for the counter checks with 照合番号B:
issue 21), the OTP policy, and a card whose secrets are distinctive. The
desk checks the face's signature with the sim's issuer key and stores the
photo in its AML file, so the scan reads the most a desk can write. The
kiosk's and the ATM's readers are simulator slots (``sim://?slot=``), so the
same agents later take the holder's Android phone (issue 15: its own PIN and
password, typed at the kiosk and on the board's keypad) instead of the card,
without another process to start. A fourth agent is the convenience-store
MFP (issue 14, ``mfp``): the kiosk profile with an ``[issuance]`` desk, the
verifier in the centre role, the reference municipality as a process; its
registry is written while the verifier and the agents start (the slow
part), and the agents start side by side. Processes are ``python -m
myna_edge -vvv ...`` (the centre and the municipality configured open all
day) with stderr to ``logs/*.log``; each is stopped by its PID. The phone
side of the reset (booking with a card proof and a face match) runs in this
process and talks to the verifier directly, not through a relay: it is not
the terminal.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import grpc

from host.api.touch_entry import seal
from host.card import KeyKind, MynaCard, PinKind
from host.cli import ISSUER_KEY_FILE
from host.peripherals import BoardKey, Controller
from host.private_files import write_private
from host.secret import Secret
from host.transport import open_transport
from host.transport.sim import sim_trust_dir
from hw_sim.devices import SimController
from hw_sim.readers.slot import insert_card
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna.edge.v1 import verifier_pb2 as vpb
from myna.edge.v1 import verifier_pb2_grpc as vpb_grpc
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.atm import AtmApplication
from myna_edge.chaos.secrets.mfp import MFP, MfpIssuance, issue_command
from myna_edge.chaos.secrets.scan import RecordingRelay
from myna_edge.chaos.stack import ROOT, free_port
from myna_edge.demo.world import prepare_verifier
from myna_edge.phone import proving_key, reserve_request

__all__ = ["SecretsStack"]

_PHONE: Final = "phone-app"
_DEV_HEADER: Final = "x-myna-dev-terminal-id"
_DEFAULTS: Final = {PinKind.AUTH: "1234", PinKind.TEXT: "1234", PinKind.SIGN: "ABCD1234"}
#: The phone the kiosk and the ATM take after the card (its secrets: the profile's own).
ANDROID: Final = "android-default"
#: The agents whose reader is a simulator slot of the same name (the phone's: the first two).
_SLOTS: Final = ("kiosk", "atm", MFP)
_PHONE_SLOTS: Final = _SLOTS[:2]


class SecretsStack:
    """Verifier, municipality, kiosk, ATM, counter and MFP agents under ``folder``; a CM.

    ``folder`` and ``card_home`` (the simulator home the processes share, set
    as ``MYNA_EDGE_SIM_HOME`` by the caller) are emptied first: the scan must
    see this run only.
    """

    def __init__(self, folder: Path, card_home: Path, secrets: dict[str, str]) -> None:
        self.folder, self.card_home, self.secrets = folder, card_home, secrets
        self.otps: dict[str, str] = {}
        self.captured = 0
        self.issued: list[str] = []  # the MFP's document serials
        self._procs: list[subprocess.Popen[bytes]] = []
        self._relays: list[RecordingRelay] = []
        self._stack = contextlib.ExitStack()
        self._answers: list[str] = []
        self.mfp = MfpIssuance(folder, card_home)

    # --- set-up -------------------------------------------------------------------

    def __enter__(self) -> SecretsStack:
        for old in (self.folder, self.card_home):
            shutil.rmtree(old, ignore_errors=True)  # our own folders: a scan sees this run only
        self.folder.mkdir(parents=True)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self._personalise_card()
        for slot in _SLOTS:
            insert_card(slot, "default", home=self.card_home)
        # The municipality's registry is written while the verifier and the agents start.
        registry = self.mfp.start_registry(self._stack)
        demo = prepare_verifier(self.folder / "verifier", "default")
        self._face = demo.face_key
        self.mfp.open_devices(self._stack)  # cupsd and ippeveprinter: started once
        # The centre connects lazily: its relay's target is the municipality's port, once known.
        to_municipal = RecordingRelay(0, self.folder / "captures" / "municipal")
        self._relays.append(to_municipal)
        self.verifier_port = free_port()
        (self.folder / "verifier.toml").write_text(
            f'listen = "127.0.0.1:{self.verifier_port}"\n'
            f'database = "sqlite:///{self.folder / "verifier" / "verifier.sqlite"}"\n'
            f'trust_dir = "{demo.config.trust_dir}"\n'
            '[policy]\nreset_policy = "otp"\n' + self.mfp.centre_section(to_municipal.port),
            encoding="utf-8",
        )
        # Development mode only from the command line, on loopback (issue 22).
        toml = str(self.folder / "verifier.toml")
        # JSON-lines logs (issue 16.3) for the verifier and the ATM; the kiosk logs text.
        argv = ["verifier", "--config", toml, "--insecure-dev", "--log-format", "json"]
        self._spawn("verifier", argv)
        self._wait_port(self.verifier_port)
        to_verifier = self._relay(self.verifier_port, "verifier")
        self.pad = self._stack.enter_context(SimController())
        key = BoardKey.generate()
        with Controller(self.pad.url, key=key) as controller:
            controller.inject_key(key)
        write_private(self.folder / "board.key", key.material().hex().encode("ascii"))
        self.stubs: dict[str, tpb_grpc.TerminalServiceStub] = {}
        # The desk's [counter] section must follow the top-level keys: it goes last.
        issuer_key = sim_trust_dir("sim://default") / ISSUER_KEY_FILE
        desk = f'[counter]\nissuer_key = "{issuer_key}"\nstore_photo = true\n'
        # The MFP is an agent on the kiosk profile with an [issuance] desk (issue 14).
        ports: dict[str, int] = {}
        for profile, kind, extra, section in (
            ("kiosk", "kiosk", "reset_otp_first = true\n", ""),
            (
                "atm",
                "atm",
                f'controller = "{self.pad.url}"\ncontroller_key = "board.key"\n'
                'log_format = "json"\n',
                "",
            ),
            ("counter", "counter", "", desk),
            (MFP, "kiosk", "", self.mfp.agent_section()),
        ):
            port = free_port()
            reader = f"sim://?slot={profile}" if profile in _SLOTS else "sim://default"
            (self.folder / f"{profile}.toml").write_text(
                f'profile = "{kind}"\nterminal_id = "{profile}-01"\nreader = "{reader}"\n'
                f'listen = "127.0.0.1:{port}"\njournal = "{profile}/journal.sqlite"\n'
                f'electronic_journal = "{profile}/ej.txt"\n{extra}'
                f'[verifier]\ntarget = "127.0.0.1:{to_verifier}"\ninsecure_dev = true\n'
                f"{section}",
                encoding="utf-8",
            )
            self._spawn(profile, ["agent", "--config", str(self.folder / f"{profile}.toml")])
            ports[profile] = port
        for profile, port in ports.items():  # started side by side, then waited for
            self._wait_port(port)
            channel = self._stack.enter_context(
                grpc.insecure_channel(f"127.0.0.1:{self._relay(port, f'api-{profile}')}")
            )
            self.stubs[profile] = tpb_grpc.TerminalServiceStub(channel)
            self._wait_ready(self.stubs[profile])
        self._spawn("municipal", self.mfp.municipal_argv(registry))
        to_municipal.target_port = self._wait_listening("municipal")

    def _personalise_card(self) -> None:
        """Give the (persisted) virtual card the run's distinctive secrets."""
        wanted = {
            PinKind.AUTH: self.secrets["auth_pin"],
            PinKind.TEXT: self.secrets["card_info_pin"],
            PinKind.SIGN: self.secrets["signing_password"],
        }
        with open_transport("sim://default") as transport:
            card = MynaCard(transport)
            for kind, value in wanted.items():
                with Secret.from_text(_DEFAULTS[kind]) as old, Secret.from_text(value) as new:
                    card.change_pin(kind, old, new)

    def _spawn(self, name: str, argv: list[str]) -> None:
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with (logs / f"{name}.log").open("ab") as log:
            self._procs.append(
                subprocess.Popen(  # noqa: S603 - our own CLI
                    [sys.executable, "-m", "myna_edge", "-vvv", *argv],
                    cwd=self.folder,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            )

    def _relay(self, port: int, name: str) -> int:
        relay = RecordingRelay(port, self.folder / "captures" / name)
        self._relays.append(relay)
        return relay.port

    def _wait_port(self, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self._procs):
                raise ChaosInvariantError("a stack process exited during start-up (see logs/)")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise ChaosInvariantError(f"nothing listened on 127.0.0.1:{port} in time")

    def _wait_listening(self, name: str, timeout: float = 30.0) -> int:
        """The port ``name`` says it listens on (its log's line), once it does."""
        deadline = time.monotonic() + timeout
        log = self.folder / "logs" / f"{name}.log"
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self._procs):
                raise ChaosInvariantError("a stack process exited during start-up (see logs/)")
            found = re.search(r"listening on port (\d+)", log.read_text(errors="replace"))
            if found is not None:
                return int(found[1])
            time.sleep(0.05)
        raise ChaosInvariantError(f"{name} did not listen in time")

    @staticmethod
    def _wait_ready(stub: tpb_grpc.TerminalServiceStub, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(grpc.RpcError):
                status = stub.GetStatus(tpb.GetStatusRequest(), timeout=2)
                states = {d.device: d.state for d in status.devices}
                if states.get("verifier") == tpb.DEVICE_STATE_ONLINE:
                    return
            time.sleep(0.1)
        raise ChaosInvariantError("an agent did not see the verifier in time")

    def close(self) -> None:
        """Stop the processes by PID (SIGTERM, then SIGKILL), the relays and the pad."""
        for proc in self._procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self._procs.clear()
        for relay in self._relays:
            relay.close()
            self.captured += relay.bytes
        self._relays.clear()
        self.mfp.keep_engine_logs()
        self._stack.close()
        if self._answers:
            (self.folder / "client").mkdir(exist_ok=True)
            (self.folder / "client" / "answers.txt").write_text("\n".join(self._answers))
            self._answers.clear()

    # --- flows ----------------------------------------------------------------------

    def run_flows(self, count: int, seed: int) -> dict[str, int]:
        """``count`` readings, transfers and counter checks, one reset each way; all succeed.

        The counter checks come in pairs: 照合番号B alone (a wrong code first
        in the first one, so an error path runs), then with the holder's
        4-digit PIN (the verifier checks the certificate). They run before
        the resets, which change the PIN. Then the Android phone
        (``_run_phone_flows``).
        """
        done = {"readings": 0, "transfers": 0, "counter_checks": 0, "resets": 0}
        for index in range(count):
            wrong = [self.secrets["wrong_card_info_pin"]] if index == 0 else []
            answers = {
                tpb.PROMPT_TYPE_AUTH_PIN: [self.secrets["auth_pin"]],
                tpb.PROMPT_TYPE_CARD_INFO_PIN: [*wrong, self.secrets["card_info_pin"]],
            }
            command = tpb.ReadCardCommand(read_basic_four=True, verify_card=True)
            self._execute(
                "kiosk",
                tpb.ExecuteRequest(request_id=f"read-{seed}-{index}", read_card=command),
                answers,
            )
            done["readings"] += 1
        atm = AtmApplication(self.stubs["atm"], self.pad, self.secrets["signing_password"])
        for index in range(count):
            attempt = atm.transfer(f"transfer-{seed}-{index}", 250_000, dispense=True)
            self._answers.append(repr(attempt))
            if attempt.completion != tpb.COMPLETION_CODE_SUCCESS:
                raise ChaosInvariantError(f"transfer {index} ended {attempt}")
            done["transfers"] += 1
        for index in range(count):
            for holder_pin in (False, True):
                wrong = [self.secrets["wrong_code_b"]] if index == 0 and not holder_pin else []
                answers = {
                    tpb.PROMPT_TYPE_VERIFICATION_CODE: [*wrong, self.secrets["code_b"]],
                    tpb.PROMPT_TYPE_AUTH_PIN: [self.secrets["auth_pin"]],
                }
                check = tpb.CounterCheckCommand(holder_pin=holder_pin, staff_id="staff-01")
                rid = f"counter-{seed}-{index}-{int(holder_pin)}"
                self._execute(
                    "counter", tpb.ExecuteRequest(request_id=rid, counter_check=check), answers
                )
                done["counter_checks"] += 1
        done["issuances"] = self._run_issuances(count, seed)
        operations = (
            (vpb.RESET_OPERATION_SIGNING_PASSWORD, "auth_pin", "new_signing_password"),
            (vpb.RESET_OPERATION_AUTHENTICATION_PIN, "new_signing_password", "new_auth_pin"),
        )
        for operation, proven_with, new in operations:
            kind = proving_key(operation)
            otp = self._book(operation, self.secrets[proven_with])
            self.otps[f"otp_{len(self.otps) + 1}"] = otp
            prompt = (
                tpb.PROMPT_TYPE_AUTH_PIN
                if kind is KeyKind.AUTH
                else tpb.PROMPT_TYPE_SIGNING_PASSWORD
            )
            answers = {
                tpb.PROMPT_TYPE_ONE_TIME_PASSWORD: [otp],
                prompt: [self.secrets[proven_with]],
                tpb.PROMPT_TYPE_NEW_SECRET: [self.secrets[new]] * 2,
            }
            request = tpb.ExecuteRequest(
                request_id=f"reset-{seed}-{operation}",
                pin_reset=tpb.PinResetCommand(operation=operation),
            )
            self._execute("kiosk", request, answers)
            done["resets"] += 1
        return done | self._run_phone_flows(count, seed)

    def _run_issuances(self, count: int, seed: int) -> int:
        """``count`` 住民票の写し at the MFP (a wrong auth PIN first in the first), paid, printed.

        Before the resets: the right PIN is still ``auth_pin``.
        """
        for index in range(count):
            wrong = [self.secrets["wrong_auth_pin"]] if index == 0 else []
            answers = {tpb.PROMPT_TYPE_AUTH_PIN: [*wrong, self.secrets["auth_pin"]]}
            request = tpb.ExecuteRequest(
                request_id=f"issue-{seed}-{index}", issue_certificate=issue_command()
            )
            with self.mfp.resident_pays():
                last = self._execute(MFP, request, answers)
            self.issued.append(self.mfp.check_issued(last))
        return count

    def _run_phone_flows(self, count: int, seed: int) -> dict[str, int]:
        """The holder's Android phone on the kiosk's and the ATM's readers: ``count`` of each.

        A reading with proof (the phone's own PIN on the touchscreen, a wrong
        one first in the first reading, so its error path runs; no basic
        four: a phone carries none) and a transfer (the phone's own signing
        password on the board's keypad). Each must have been made with the
        phone, not the card: the completion's and the electronic journal's
        credential kind say so.
        """
        for slot in _PHONE_SLOTS:
            insert_card(slot, ANDROID, home=self.card_home)
        done = {"android_readings": 0, "android_transfers": 0}
        for index in range(count):
            wrong = [self.secrets["wrong_android_pin"]] if index == 0 else []
            answers = {tpb.PROMPT_TYPE_AUTH_PIN: [*wrong, self.secrets["android_pin"]]}
            command = tpb.ReadCardCommand(verify_card=True)
            rid = f"read-android-{seed}-{index}"
            last = self._execute(
                "kiosk", tpb.ExecuteRequest(request_id=rid, read_card=command), answers
            )
            if last.completion.credential_kind != tpb.CREDENTIAL_KIND_ANDROID:
                raise ChaosInvariantError(f"{rid} was not read from the Android phone: {last}")
            done["android_readings"] += 1
        atm = AtmApplication(self.stubs["atm"], self.pad, self.secrets["android_password"])
        for index in range(count):
            attempt = atm.transfer(f"transfer-android-{seed}-{index}", 250_000, dispense=True)
            self._answers.append(repr(attempt))
            if attempt.completion != tpb.COMPLETION_CODE_SUCCESS:
                raise ChaosInvariantError(f"Android transfer {index} ended {attempt}")
            done["android_transfers"] += 1
        ends = [
            line
            for line in (self.folder / "atm" / "ej.txt").read_text(encoding="utf-8").splitlines()
            if "TRANSFER-END " in line and "credential_kind=android" in line
        ]
        if len(ends) != count:
            raise ChaosInvariantError(
                f"the ATM journaled {len(ends)} Android transfer(s), not {count}"
            )
        return done

    def _execute(
        self, profile: str, request: tpb.ExecuteRequest, answers: dict[Any, list[str]]
    ) -> Any:
        """Run ``request`` on ``profile``'s agent; its last message (a successful completion)."""
        stub, rid = self.stubs[profile], request.request_id
        last: Any = None
        try:
            for message in stub.Execute(request, timeout=60):
                self._answers.append(str(message))
                last = message
                prompt = message.event.prompt
                if not prompt.prompt_id:
                    continue
                if prompt.entry_public_key:
                    values = answers[prompt.type]
                    value = values.pop(0) if len(values) > 1 else values[0]
                    entry = seal(prompt.entry_public_key, rid, prompt.prompt_id, value.encode())
                    reply = tpb.AnswerPromptRequest(
                        request_id=rid, prompt_id=prompt.prompt_id, touch_entry=entry
                    )
                else:
                    reply = tpb.AnswerPromptRequest(
                        request_id=rid, prompt_id=prompt.prompt_id, confirmed=True
                    )
                self._answers.append(str(stub.AnswerPrompt(reply, timeout=10)))
        except grpc.RpcError as exc:
            self._answers.append(f"{type(exc).__name__}: {exc}")
            raise ChaosInvariantError(f"{rid}: the API failed: {exc.code()}") from None
        if last is None or last.completion.code != tpb.COMPLETION_CODE_SUCCESS:
            raise ChaosInvariantError(f"{rid} did not succeed: {last}")
        return last

    def _book(self, operation: int, secret: str) -> str:
        """The phone: open a session, prove the card with ``secret``, face match; the OTP."""
        metadata = ((_DEV_HEADER, _PHONE),)
        with grpc.insecure_channel(f"127.0.0.1:{self.verifier_port}") as channel:
            stub = vpb_grpc.VerifierServiceStub(channel)
            key = hashlib.sha256(f"{operation}".encode()).hexdigest()[:16]
            opening = vpb.OpenSessionRequest(
                purpose=vpb.SESSION_PURPOSE_PIN_RESET, idempotency_key=f"s-{key}"
            )
            session = stub.OpenSession(opening, metadata=metadata, timeout=10)
            request = reserve_request(
                session=session, operation=operation, card_url="sim://default",
                secret=secret, phone_id=_PHONE, face_key=self._face, idempotency_key=f"r-{key}",
            )  # fmt: skip
            answer = stub.ReserveReset(request, metadata=metadata, timeout=10)
        if answer.verdict != vpb.VERDICT_ACCEPTED or not answer.one_time_password:
            raise ChaosInvariantError(f"the phone's booking was refused: {answer.reason}")
        return str(answer.one_time_password)
