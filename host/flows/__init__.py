# SPDX-License-Identifier: Apache-2.0
"""The terminal flows as explicit state machines emitting typed events.

A flow talks to the card, the user, the printer and the verifier only
through the small async ports of ``ports`` (flows never see pyscard,
pyserial or gRPC types), journals every external side effect
(``host.journal``) and ends with exactly one ``FlowResult`` event:

* ``TransferFlow``: the identity-verified transfer (ATM), settled exactly
  once (``settle_transfer``; start-up ``recover_transfers``);
* ``CardReadingFlow``: basic four items and/or VerifyCard;
* ``PinResetFlow``: both directions, OTP only when the policy needs it
  (start-up ``recover_resets``).

Each is a ``FlowMachine`` (``machine``): the base owns the step history,
cancel, the insert-card and secret prompts, verifier calls and the one
ending, so a flow file holds only its own steps. A new flow is a new module
that subclasses it (see ``tests/unit/host/test_flows_machine.py``). Codes are
enums (``codes``): ``FailureCode`` for the flows' own, ``RefusalReason`` for
the verifier's and the kiosk's refusals.

Device shells, one worker thread each: ``ThreadedCard`` (any reader URL),
``ThreadedPrinter`` (ESC/POS), ``ControllerSecureEntry`` (the ATM's PIN pad).
"""

from __future__ import annotations

from host.flows.aml_record import AmlCheckRecord, AmlFile, JsonLinesAmlFile
from host.flows.codes import FailureCode, RefusalReason
from host.flows.context import FlowContext, StepTimeouts
from host.flows.counter import CounterCheckFlow, CounterOutcome, CounterStep
from host.flows.events import (
    Event,
    FlowFailed,
    FlowResult,
    LastTryWarning,
    Outcome,
    Prompt,
    PromptKind,
    RemoveCard,
    Working,
)
from host.flows.machine import FlowMachine
from host.flows.ports import (
    CardPort,
    CardVerifier,
    PrinterPort,
    ThreadedCard,
    TransferVerifier,
    UserPort,
)
from host.flows.printer_port import ThreadedPrinter
from host.flows.reading import CardReadingFlow, ReadOutcome, ReadRequest, ReadStep
from host.flows.reconcile import ResetReconciliation, recover_resets
from host.flows.reset import PinResetFlow, ResetOutcome, ResetStep, ResetVerifier
from host.flows.secure_entry import ControllerSecureEntry
from host.flows.settle import RecoveryResult, recover_transfers, settle_transfer
from host.flows.transfer import TransferFlow, TransferOutcome, TransferRequest, TransferStep

__all__ = [
    "AmlCheckRecord",
    "AmlFile",
    "CardPort",
    "CardReadingFlow",
    "CardVerifier",
    "ControllerSecureEntry",
    "CounterCheckFlow",
    "CounterOutcome",
    "CounterStep",
    "Event",
    "FailureCode",
    "FlowContext",
    "FlowFailed",
    "FlowMachine",
    "FlowResult",
    "JsonLinesAmlFile",
    "LastTryWarning",
    "Outcome",
    "PinResetFlow",
    "PrinterPort",
    "Prompt",
    "PromptKind",
    "ReadOutcome",
    "ReadRequest",
    "ReadStep",
    "RecoveryResult",
    "RefusalReason",
    "RemoveCard",
    "ResetOutcome",
    "ResetReconciliation",
    "ResetStep",
    "ResetVerifier",
    "StepTimeouts",
    "ThreadedCard",
    "ThreadedPrinter",
    "TransferFlow",
    "TransferOutcome",
    "TransferRequest",
    "TransferStep",
    "TransferVerifier",
    "UserPort",
    "Working",
    "recover_resets",
    "recover_transfers",
    "settle_transfer",
]
