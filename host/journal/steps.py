# SPDX-License-Identifier: Apache-2.0
"""The journaled steps of the exactly-once flows: one list for code, models and campaigns.

Why one list: the Promela models in ``models/`` (issue 20) prove exactly-once
settlement only for the steps they know, and the crash campaign
(``myna_edge.chaos.crash``) and the agent's crash hook
(``host.agent.crash_hook``, ``EFFECT:PHASE:N``) kill the agent only at steps
they know. ``myna_edge.models`` generates the models' step table
(``models/steps.pml``) from here, and ``tests/models`` fails when a flow
journals a step that is missing here, or a model journals (``JOURNAL(...)``)
a step that is not here, or the reverse.

Each step is one journal write, ``(Effect, Phase)``, in the order the flow
makes them; a crash point follows every one.
"""

from __future__ import annotations

from typing import Final

from host.journal.records import Effect, Phase

__all__ = ["ISSUANCE_STEPS", "TRANSFER_STEPS", "Step", "hook_spec", "step_name"]

Step = tuple[Effect, Phase]

#: The transfer (host.flows.transfer, settle, receipt): authorise, ask the ATM
#: application whether the cash moved, decide, commit or reverse, print.
TRANSFER_STEPS: Final[tuple[Step, ...]] = (
    (Effect.TRANSFER_AUTHORIZE, Phase.INTENT),
    (Effect.TRANSFER_AUTHORIZE, Phase.OUTCOME),
    (Effect.TRANSFER_DECISION, Phase.DECISION),
    (Effect.TRANSFER_COMMIT, Phase.INTENT),
    (Effect.TRANSFER_COMMIT, Phase.OUTCOME),
    (Effect.TRANSFER_REVERSE, Phase.INTENT),
    (Effect.TRANSFER_REVERSE, Phase.OUTCOME),
    (Effect.RECEIPT_PRINT, Phase.INTENT),
    (Effect.RECEIPT_PRINT, Phase.OUTCOME),
)

#: Certificate issuance at the MFP (host.flows.issue, issue_settle): prove the
#: card, collect the fee into escrow, request, print, then confirm and take the
#: fee, or report the failure and refund it.
ISSUANCE_STEPS: Final[tuple[Step, ...]] = tuple(
    (effect, phase)
    for effect in (
        Effect.ISSUE_PROVE,
        Effect.ISSUE_COLLECT,
        Effect.ISSUE_REQUEST,
        Effect.ISSUE_PRINT,
        Effect.ISSUE_CONFIRM,
        Effect.ISSUE_TAKE,
        Effect.ISSUE_FAILURE,
        Effect.ISSUE_REFUND,
    )
    for phase in (Phase.INTENT, Phase.OUTCOME)
)


def step_name(step: Step) -> str:
    """The step's Promela name: ``TRANSFER_COMMIT_INTENT``."""
    effect, phase = step
    return f"{effect.name}_{phase.name}"


def hook_spec(step: Step, nth: int = 1) -> str:
    """The crash hook's ``MYNA_EDGE_TEST_KILL_AT`` value for a step."""
    effect, phase = step
    return f"{effect.value}:{phase.value}:{nth}"
