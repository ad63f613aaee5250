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
a restarted agent asks it through ``WatchRecovery``/``AnswerRecovery``.
Every wait is bounded.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Final

import grpc

from hw_sim.devices import SimController
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna.edge.v1 import verifier_pb2 as vpb

__all__ = [
    "PAD_PROMPT",
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
        self, request_id: str, amount_yen: int, dispense: bool, timeout: float = 45.0
    ) -> TransferAttempt:
        """One transfer; ``dispense`` is whether the cash dispenser succeeds."""
        attempt = TransferAttempt(request_id, amount_yen)
        started = time.monotonic()
        typist = None
        if self._pad is not None:
            typist = _Typist(self._pad, self._password, self._pad.display_mark())
        request = tpb.ExecuteRequest(request_id=request_id, transfer=transfer_command(amount_yen))
        try:
            for message in self._stub.Execute(request, timeout=timeout):
                if message.HasField("acknowledgement") and not message.acknowledgement.accepted:
                    attempt.refusal = message.acknowledgement.refusal
                if message.HasField("completion"):
                    done = message.completion
                    attempt.completion, attempt.error_code = done.code, done.error_code
                    attempt.authorization_id = done.transfer.authorization_id
                prompt = message.event.prompt
                if not prompt.prompt_id or prompt.type == tpb.PROMPT_TYPE_SIGNING_PASSWORD:
                    continue  # the password goes on the pad, never through the API
                answer = True
                if prompt.type == tpb.PROMPT_TYPE_CONFIRM_MONEY_MOVED:
                    self.record(request_id, dispense)  # the record first, then the answer
                    if dispense:
                        time.sleep(self._dispense_seconds)
                    answer = dispense
                reply = tpb.AnswerPromptRequest(
                    request_id=request_id, prompt_id=prompt.prompt_id, confirmed=answer
                )
                self._stub.AnswerPrompt(reply, timeout=5)
        except grpc.RpcError as exc:
            attempt.interrupted = exc.code().name if exc.code() is not None else "UNKNOWN"
        finally:
            if typist is not None:
                typist.stop()
        if typist is not None and typist.error is not None:
            attempt.pad_error = type(typist.error).__name__
        attempt.seconds = time.monotonic() - started
        return attempt


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
