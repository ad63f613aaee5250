# SPDX-License-Identifier: Apache-2.0
"""Issue 23.1 and 23.4 through the real gRPC API: the cash question, outcomes, card taken.

The client is an ATM application written against the proto: it loses its
``Execute`` stream at CONFIRM_MONEY_MOVED, lets ``timeout_ms`` run out
there, re-attaches with ``Attach``, asks ``GetCommandOutcome`` (also after
an agent restart) and answers ``RecoveryPrompt``s. Behind it runs the real
agent (journal, flows, grpc.aio) against the real verifier over mTLS; the
ledger is read from the verifier's own database. Before the fix a lost
stream or an expired ``timeout_ms`` at that prompt reversed the transfer at
once, and no call returned a past command's outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import grpc.aio
import pytest

from host.api import Profile
from hw_sim.card import get_profile
from hw_sim.readers.slot import insert_card, remove_card
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb
from tests.flows_support import transfer_rows
from tests.integration.api_matrix_support import Terminal, run, terminal, transfer
from tests.verifier_support import ServerThread, VerifierEnv, make_env

#: Under the identity threshold: no card, the cash prompt comes right after the authorisation.
SMALL = 50_000


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("atm-cash"))


@pytest.fixture(scope="module")
def verifier(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


async def until_cash_prompt(call: grpc.aio.UnaryStreamCall) -> tpb.PromptEvent:  # type: ignore[type-arg]
    """Read ``call`` up to the CONFIRM_MONEY_MOVED prompt."""
    while True:
        message = await asyncio.wait_for(call.read(), 20)
        assert message is not grpc.aio.EOF, "the stream ended before the cash prompt"
        prompt = message.event.prompt  # type: ignore[union-attr]
        if prompt.type == tpb.PROMPT_TYPE_CONFIRM_MONEY_MOVED:
            return prompt


async def completion_of(call: grpc.aio.UnaryStreamCall) -> tpb.Completion:  # type: ignore[type-arg]
    """Read ``call`` to its completion (the stream then ends)."""
    while True:
        message = await asyncio.wait_for(call.read(), 20)
        assert message is not grpc.aio.EOF, "the stream ended without a completion"
        if message.HasField("completion"):  # type: ignore[union-attr]
            return message.completion  # type: ignore[union-attr]


async def first_question(t: Terminal) -> tpb.RecoveryPrompt:
    watch = t.stub.WatchRecovery(tpb.WatchRecoveryRequest())
    try:
        return await asyncio.wait_for(watch.read(), 20)  # type: ignore[arg-type]
    finally:
        watch.cancel()


async def completed(t: Terminal, rid: str) -> tpb.GetCommandOutcomeResponse:
    for _ in range(400):  # bounded: 20 s
        reply = await t.stub.GetCommandOutcome(tpb.GetCommandOutcomeRequest(request_id=rid))
        if reply.state == tpb.COMMAND_STATE_COMPLETED:
            return reply
        await asyncio.sleep(0.05)
    raise AssertionError(f"command {rid} never completed")


@pytest.mark.parametrize("cash_moved", [True, False])
def test_a_lost_stream_at_the_cash_prompt_becomes_a_recovery_prompt(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, cash_moved: bool
) -> None:
    async def scenario() -> None:
        async with terminal(
            env, verifier, tmp_path, Profile.ATM, "sim://default?persist=0", answer_seconds=60
        ) as t:
            call = t.stub.Execute(transfer("lost-1", SMALL))
            await until_cash_prompt(call)
            call.cancel()  # the ATM application's stream is lost (a crash, a restart)
            question = await first_question(t)
            assert (question.request_id, question.amount_yen) == ("lost-1", SMALL)
            # asked, not decided: the transfer is still authorised at the verifier
            assert transfer_rows(verifier)[question.authorization_id] == (
                vpb.TRANSFER_STATE_AUTHORIZED
            )
            running = await t.stub.GetCommandOutcome(
                tpb.GetCommandOutcomeRequest(request_id="lost-1")
            )
            assert running.state == tpb.COMMAND_STATE_RUNNING
            assert running.awaiting_recovery
            answer = tpb.AnswerRecoveryRequest(
                recovery_id=question.recovery_id, cash_moved=cash_moved
            )
            assert (await t.stub.AnswerRecovery(answer)).accepted
            assert not (await t.stub.AnswerRecovery(answer)).accepted  # the first answer decides
            done = (await completed(t, "lost-1")).completion
        want = vpb.TRANSFER_STATE_COMMITTED if cash_moved else vpb.TRANSFER_STATE_REVERSED
        assert transfer_rows(verifier)[question.authorization_id] == want
        assert done.transfer.state == want
        assert done.transfer.identity_verified is False  # under the threshold: nobody identified
        if cash_moved:
            assert done.code == tpb.COMPLETION_CODE_SUCCESS
        else:
            assert done.reason == tpb.COMPLETION_REASON_TRANSFER_REVERSED
        ej = (tmp_path / "ej.txt").read_text(encoding="utf-8")
        assert "CASH-QUESTION-TO-RECOVERY" in ej
        assert "request_id=lost-1" in ej  # the ATM's request id is in the electronic journal

    run(scenario)


def test_timeout_ms_does_not_cover_the_cash_question(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="host.flows.transfer")

    async def scenario() -> None:
        async with terminal(
            env, verifier, tmp_path, Profile.ATM, "sim://default?persist=0", answer_seconds=60
        ) as t:
            request = transfer("slow-1", SMALL)
            request.timeout_ms = 200
            call = t.stub.Execute(request)
            prompt = await until_cash_prompt(call)
            await asyncio.sleep(0.6)  # well past timeout_ms: the dispenser is slow
            reply = await t.stub.GetCommandOutcome(
                tpb.GetCommandOutcomeRequest(request_id="slow-1")
            )
            assert reply.state == tpb.COMMAND_STATE_RUNNING  # neither reversed nor timed out
            answer = tpb.AnswerPromptRequest(
                request_id="slow-1", prompt_id=prompt.prompt_id, confirmed=True
            )
            assert (await t.stub.AnswerPrompt(answer)).accepted
            done = await completion_of(call)
        assert done.code == tpb.COMPLETION_CODE_SUCCESS
        assert done.transfer.state == vpb.TRANSFER_STATE_COMMITTED
        assert transfer_rows(verifier)[done.transfer.authorization_id] == (
            vpb.TRANSFER_STATE_COMMITTED
        )

    run(scenario)
    # the ATM's request id is in the agent's log, next to the journal's operation id
    assert any("runs ATM request slow-1" in r.getMessage() for r in caplog.records)


def test_attach_replays_the_command_and_its_prompt_still_answers(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with terminal(
            env, verifier, tmp_path, Profile.ATM, "sim://default?persist=0", answer_seconds=60
        ) as t:
            call = t.stub.Execute(transfer("re-1", SMALL))
            first = await until_cash_prompt(call)
            call.cancel()
            question = await first_question(t)  # the stream was lost: asked via recovery too
            attached = t.stub.Attach(tpb.AttachRequest(request_id="re-1"))
            head = await attached.read()
            assert head.acknowledgement.accepted  # type: ignore[union-attr]
            again = await until_cash_prompt(attached)
            assert again.prompt_id == first.prompt_id
            answer = tpb.AnswerPromptRequest(
                request_id="re-1", prompt_id=again.prompt_id, confirmed=True
            )
            assert (await t.stub.AnswerPrompt(answer)).accepted
            done = await completion_of(attached)
            # the prompt's answer won: the recovery question was withdrawn
            late = tpb.AnswerRecoveryRequest(recovery_id=question.recovery_id, cash_moved=False)
            assert not (await t.stub.AnswerRecovery(late)).accepted
            with pytest.raises(grpc.aio.AioRpcError) as unknown:
                await t.stub.Attach(tpb.AttachRequest(request_id="never-ran")).read()
            assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        assert done.code == tpb.COMPLETION_CODE_SUCCESS
        assert transfer_rows(verifier)[done.transfer.authorization_id] == (
            vpb.TRANSFER_STATE_COMMITTED
        )

    run(scenario)


def test_outcome_by_request_id_survives_an_agent_restart(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    async def first_run() -> tpb.Completion:
        async with terminal(env, verifier, tmp_path, Profile.ATM, "sim://default?persist=0") as t:
            unknown = await t.stub.GetCommandOutcome(
                tpb.GetCommandOutcomeRequest(request_id="nobody")
            )
            assert unknown.state == tpb.COMMAND_STATE_UNKNOWN
            call = t.stub.Execute(transfer("keep-1", SMALL))
            prompt = await until_cash_prompt(call)
            answer = tpb.AnswerPromptRequest(
                request_id="keep-1", prompt_id=prompt.prompt_id, confirmed=True
            )
            assert (await t.stub.AnswerPrompt(answer)).accepted
            return (await completed(t, "keep-1")).completion

    async def after_restart() -> tpb.GetCommandOutcomeResponse:
        async with terminal(env, verifier, tmp_path, Profile.ATM, "sim://default?persist=0") as t:
            return await t.stub.GetCommandOutcome(tpb.GetCommandOutcomeRequest(request_id="keep-1"))

    live = asyncio.run(first_run())
    assert live.code == tpb.COMPLETION_CODE_SUCCESS
    assert f"REF {live.transfer.authorization_id}" in live.transfer.receipt_lines
    journaled = asyncio.run(after_restart())
    assert journaled.state == tpb.COMMAND_STATE_JOURNALED
    assert journaled.completion.code == tpb.COMPLETION_CODE_SUCCESS
    assert journaled.completion.transfer.authorization_id == live.transfer.authorization_id
    assert journaled.completion.transfer.state == vpb.TRANSFER_STATE_COMMITTED
    # no printer: the receipt was never printed, so the lines are the original
    assert list(journaled.completion.transfer.receipt_lines) == list(live.transfer.receipt_lines)


@pytest.mark.parametrize(
    ("field", "value"),
    [("payee_bank_code", "12"), ("payee_account_number", "12345678"), ("amount_yen", 0),
     ("remitter_name", ""), ("payee_account_type", vpb.ACCOUNT_TYPE_UNSPECIFIED)],
)  # fmt: skip
def test_a_refusal_names_the_offending_field(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, field: str, value: object
) -> None:
    async def scenario() -> tpb.Acknowledgement:
        async with terminal(env, verifier, tmp_path, Profile.ATM, "sim://default?persist=0") as t:
            request = transfer("bad-1", SMALL)
            setattr(request.transfer, field, value)
            replies = [m async for m in t.stub.Execute(request)]
        assert len(replies) == 1  # a refusal ends the stream
        return replies[0].acknowledgement

    ack = asyncio.run(scenario())
    assert not ack.accepted
    assert ack.refusal == tpb.REFUSAL_REASON_INVALID_MESSAGE
    assert ack.invalid_field == f"transfer.{field}"
    assert field in ack.detail


async def _signed_transfer_on_slot(t: Terminal, rid: str, slot: str, take: bool) -> list[str]:
    """A signed transfer on reader slot ``slot``; the card taken at RemoveCard if ``take``."""
    kinds: list[str] = []
    password = get_profile("default").sign_password
    call = t.stub.Execute(transfer(rid, 250_000))
    while True:
        message = await asyncio.wait_for(call.read(), 20)
        assert message is not grpc.aio.EOF
        which = message.WhichOneof("message")  # type: ignore[union-attr]
        if which == "completion":
            kinds.append("completion")
            return kinds
        if which != "event":
            continue
        event = message.event  # type: ignore[union-attr]
        kinds.append(event.WhichOneof("kind") or "")
        prompt = event.prompt
        if event.HasField("remove_card") and take:
            remove_card(slot)  # the customer takes the card
        elif prompt.type == tpb.PROMPT_TYPE_SIGNING_PASSWORD:
            t.pad.queue.put_nowait(password)  # typed on the secure PIN pad
        elif prompt.prompt_id:
            answer = tpb.AnswerPromptRequest(request_id=rid, prompt_id=prompt.prompt_id,
                                             confirmed=True)  # fmt: skip
            assert (await t.stub.AnswerPrompt(answer)).accepted


@pytest.mark.parametrize("take", [True, False])
def test_a_card_taken_event_follows_remove_card(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, take: bool
) -> None:
    # Issue 23.4: the ATM learns that the customer took the card (a slot
    # reader senses it); a card left in the reader gives no such event, and
    # the completion still comes once card_taken_seconds ran out.
    slot = f"taken-{take}"
    insert_card(slot, "default")

    async def scenario() -> list[str]:
        async with terminal(
            env, verifier, tmp_path, Profile.ATM, f"sim://?slot={slot}&persist=0",
            card_taken_seconds=10 if take else 0.3,
        ) as t:  # fmt: skip
            return await _signed_transfer_on_slot(t, f"ct-{take}", slot, take)

    try:
        kinds = asyncio.run(scenario())
    finally:
        remove_card(slot)
    assert "remove_card" in kinds
    if take:
        assert kinds[-3:] == ["remove_card", "card_taken", "completion"]
    else:
        assert "card_taken" not in kinds
        assert kinds[-2:] == ["remove_card", "completion"]
