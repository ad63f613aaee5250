# SPDX-License-Identifier: Apache-2.0
"""A small ATM application on the agent's terminal API, with its own record of the cash.

Why it keeps a record: after a crash only the ATM application knows whether
it dispensed, and the campaign's verdict compares three independent
records (the verifier's ledger, the agent's journal, this one). The
application drives one transfer at a time through ``Execute``, agrees to
the statement, types the signing password on the controller board's
keypad (the secure PIN pad: under the ATM profile a secret never crosses
the API), and answers "did the cash move?" after writing down what it did;
``RecoveryAnswerer`` answers the same question, from the same record, when
the agent asks it through ``WatchRecovery``/``AnswerRecovery`` (after an
agent restart, or when the application itself lost the question).

``AppCrash`` makes the application itself drop its ``Execute`` stream at a
prompt, as a crash or a restart of the ATM application would (issue 23.1):
it either comes back and re-attaches (``Attach``) and carries on, or leaves
the command to the agent and learns its end with ``GetCommandOutcome``. At
CONFIRM_MONEY_MOVED it may have dispensed (and written its record) before
the crash or not; a restarted application never dispenses for a command it
lost, it answers from its record. Every wait is bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import grpc

from hw_sim.devices import SimController
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna.edge.v1 import verifier_pb2 as vpb

__all__ = [
    "PAD_PROMPT",
    "AppCrash",
    "AtmApplication",
    "RecoveryAnswerer",
    "TransferAttempt",
    "transfer_command",
]

#: What the board shows when it waits for the signing password.
PAD_PROMPT: Final = "ENTER PASSWORD"


def transfer_command(amount_yen: int) -> tpb.TransferCommand:
    """The README's golden transfer for ``amount_yen``."""
    return tpb.TransferCommand(
        amount_yen=amount_yen, payee_bank_code="0001", payee_branch_code="123",
        payee_account_type=vpb.ACCOUNT_TYPE_ORDINARY, payee_account_number="1234567",
        payee_name="ヤマダ　ハナコ", remitter_name="ヤマダ　タロウ", remitter_phone="03-1234-5678",
    )  # fmt: skip


@dataclass(frozen=True)
class AppCrash:
    """The application drops its stream at the first prompt of type ``prompt``.

    ``restart``: it comes back and re-attaches (``Attach``); otherwise it
    leaves the command to the agent (the cash question then reaches it as a
    ``RecoveryPrompt``) and asks ``GetCommandOutcome`` for the end.
    ``dispensed_first``: at CONFIRM_MONEY_MOVED, the cash moved (and the
    record says so) before the crash.
    """

    prompt: int
    restart: bool
    dispensed_first: bool = False

    @property
    def name(self) -> str:
        """e.g. ``restart@CONFIRM_MONEY_MOVED+dispensed``."""
        kind = tpb.PromptType.Name(self.prompt).removeprefix("PROMPT_TYPE_")  # type: ignore[arg-type]
        mode = "restart" if self.restart else "drop"
        return f"{mode}@{kind}" + ("+dispensed" if self.dispensed_first else "")


@dataclass
class TransferAttempt:
    """How one ``Execute`` of a transfer ended, as the application saw it.

    ``interrupted`` is the stream's gRPC status name when it broke off (the
    agent died: ``UNAVAILABLE``) instead of ending with a completion.
    """

    request_id: str
    amount_yen: int
    completion: int = tpb.COMPLETION_CODE_UNSPECIFIED
    error_code: str = ""
    authorization_id: str = ""
    interrupted: str = ""
    refusal: int = tpb.REFUSAL_REASON_UNSPECIFIED
    pad_error: str = ""  # the keypad could not be typed on (the board's error type)
    seconds: float = 0.0
    app_crash: str = ""  # AppCrash.name when the application itself dropped its stream


class _Typist:
    """Types the password on the pad once the board asks for it; stoppable."""

    def __init__(self, pad: SimController, password: str, mark: int) -> None:
        self._pad, self._password, self._mark = pad, password, mark
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="atm-keypad", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 30.0
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                self._pad.wait_display(0, PAD_PROMPT, timeout=0.2, since=self._mark)
            except TimeoutError:
                continue
            try:
                self._pad.enter_password(self._password)
            except Exception as exc:  # noqa: BLE001 - reported by stop()
                self.error = exc
            return

    def stop(self) -> None:
        """Stop waiting for the prompt; wait for typing in progress to end."""
        self._stop.set()
        self._thread.join(timeout=15)


class AtmApplication:
    """Drives transfers and keeps the cash record.

    Args:
        stub: the agent's ``TerminalService``.
        pad: the simulated controller board whose keypad takes the password
            (None: only transfers under the threshold work).
        password: the card's signing password, typed on the pad.
        dispense_seconds: how long the cash dispenser takes, between the
            record and the answer (a crash can land in between).
    """

    def __init__(
        self,
        stub: tpb_grpc.TerminalServiceStub,
        pad: SimController | None,
        password: str,
        *,
        dispense_seconds: float = 0.0,
    ) -> None:
        self._stub, self._pad, self._password = stub, pad, password
        self._dispense_seconds = dispense_seconds
        #: request id -> whether cash was dispensed, written before the agent is told.
        self.dispensed: dict[str, bool] = {}
        self.lock = threading.Lock()

    def record(self, request_id: str, moved: bool) -> None:
        """Write down that cash did (not) move for ``request_id``."""
        with self.lock:
            self.dispensed[request_id] = moved

    def moved(self, request_id: str) -> bool:
        """What the record says for ``request_id`` (nothing recorded: no cash moved)."""
        with self.lock:
            return self.dispensed.get(request_id, False)

    def transfer(
        self,
        request_id: str,
        amount_yen: int,
        dispense: bool,
        timeout: float = 45.0,
        crash: AppCrash | None = None,
    ) -> TransferAttempt:
        """One transfer; ``dispense`` is whether the cash dispenser succeeds."""
        attempt = TransferAttempt(request_id, amount_yen)
        started = time.monotonic()
        typist = None
        if self._pad is not None:
            typist = _Typist(self._pad, self._password, self._pad.display_mark())
        request = tpb.ExecuteRequest(request_id=request_id, transfer=transfer_command(amount_yen))
        answered: set[str] = set()
        try:
            call = self._stub.Execute(request, timeout=timeout)
            if self._follow(call, attempt, dispense, answered, crash) and crash is not None:
                attempt.app_crash = crash.name
                if crash.restart:
                    self._reattach(attempt, dispense, answered, timeout)
                else:
                    self._await_outcome(attempt, timeout)
        except grpc.RpcError as exc:
            attempt.interrupted = exc.code().name if exc.code() is not None else "UNKNOWN"
        finally:
            if typist is not None:
                typist.stop()
        if typist is not None and typist.error is not None:
            attempt.pad_error = type(typist.error).__name__
        attempt.seconds = time.monotonic() - started
        return attempt

    def _follow(
        self,
        call: Iterator[tpb.ExecuteResponse],
        attempt: TransferAttempt,
        dispense: bool,
        answered: set[str],
        crash: AppCrash | None,
    ) -> bool:
        """Serve one stream to its end; True when the application crashed on it."""
        rid = attempt.request_id
        for message in call:
            if message.HasField("acknowledgement") and not message.acknowledgement.accepted:
                attempt.refusal = message.acknowledgement.refusal
            if message.HasField("completion"):
                self._take(attempt, message.completion)
            prompt = message.event.prompt
            if message.HasField("event") and crash is not None and prompt.type == crash.prompt:
                if prompt.type == tpb.PROMPT_TYPE_CONFIRM_MONEY_MOVED:
                    self.record(rid, dispense and crash.dispensed_first)
                call.cancel()  # type: ignore[attr-defined]  # the application is gone
                return True
            if not prompt.prompt_id or prompt.prompt_id in answered:
                continue  # display-only (the password goes on the pad), or answered before
            answer = True
            if prompt.type == tpb.PROMPT_TYPE_CONFIRM_MONEY_MOVED:
                with self.lock:
                    known = rid in self.dispensed
                if not known:  # a restarted application only answers from its record
                    self.record(rid, dispense)  # the record first, then the answer
                    if dispense:
                        time.sleep(self._dispense_seconds)
                answer = self.moved(rid)
            reply = tpb.AnswerPromptRequest(request_id=rid, prompt_id=prompt.prompt_id,
                                            confirmed=answer)  # fmt: skip
            answered.add(prompt.prompt_id)
            self._stub.AnswerPrompt(reply, timeout=5)
        return False

    @staticmethod
    def _take(attempt: TransferAttempt, done: tpb.Completion) -> None:
        attempt.completion, attempt.error_code = done.code, done.error_code
        attempt.authorization_id = done.transfer.authorization_id

    def _reattach(
        self, attempt: TransferAttempt, dispense: bool, answered: set[str], timeout: float
    ) -> None:
        # The restarted application re-attaches: the command's messages are
        # replayed from its acknowledgement, and what still waits is answered.
        call = self._stub.Attach(tpb.AttachRequest(request_id=attempt.request_id), timeout=timeout)
        try:
            self._follow(call, attempt, dispense, answered, None)
        except grpc.RpcError as exc:
            if exc.code() is not grpc.StatusCode.NOT_FOUND:
                raise
            self._await_outcome(attempt, timeout)  # the agent restarted meanwhile

    def _await_outcome(self, attempt: TransferAttempt, timeout: float) -> None:
        # Polls GetCommandOutcome until the command ended (bounded by ``timeout``).
        deadline = time.monotonic() + timeout
        request = tpb.GetCommandOutcomeRequest(request_id=attempt.request_id)
        while time.monotonic() < deadline:
            reply = self._stub.GetCommandOutcome(request, timeout=5)
            ended = reply.state == tpb.COMMAND_STATE_COMPLETED or (
                reply.state == tpb.COMMAND_STATE_JOURNALED and reply.completion.code
            )
            if ended:
                self._take(attempt, reply.completion)
                return
            if reply.state == tpb.COMMAND_STATE_UNKNOWN:
                return  # the agent restarted before anything was journaled
            time.sleep(0.05)
        attempt.interrupted = "DEADLINE_EXCEEDED"  # never ended: the verdict names it


class RecoveryAnswerer:
    """The application's recovery side: answers "did the cash move?" from its record.

    Runs in a thread, reconnecting while the agent restarts, until ``close``.
    """

    def __init__(self, stub: tpb_grpc.TerminalServiceStub, atm: AtmApplication) -> None:
        self._stub, self._atm = stub, atm
        self.asked: list[tpb.RecoveryPrompt] = []
        self._stop = threading.Event()
        self._call: object = None
        self._thread = threading.Thread(target=self._run, name="atm-recovery", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():  # bounded by close(): reconnects across restarts
            try:
                self._call = call = self._stub.WatchRecovery(tpb.WatchRecoveryRequest())
                for prompt in call:
                    self.asked.append(prompt)
                    answer = tpb.AnswerRecoveryRequest(
                        recovery_id=prompt.recovery_id,
                        cash_moved=self._atm.moved(prompt.request_id),
                    )
                    self._stub.AnswerRecovery(answer, timeout=5)
            except grpc.RpcError:
                self._stop.wait(0.05)

    def start(self) -> RecoveryAnswerer:
        """Start watching; returns self."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop watching (cancels the stream) and join the thread; harmless twice.

        Raises:
            RuntimeError: the thread did not stop within 10 s.
        """
        self._stop.set()
        cancel = getattr(self._call, "cancel", None)
        if cancel is not None:
            cancel()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                raise RuntimeError("the recovery answerer did not stop")

    def __enter__(self) -> RecoveryAnswerer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
