# SPDX-License-Identifier: Apache-2.0
"""Smartphones in the terminal-API matrix (issue 15): the phone rows, through TerminalService.

The client is the ATM or kiosk application; behind it the real agent and the
real verifier over mTLS, the phone a virtual one (``hw_sim/card/phones.py``).
Rows: happy path (Android with its own PIN/password on the pad or
touchscreen, iPhone approving on the phone), declined on the phone, no
answer in time, an answer that comes during the wait, pulled away during
the wait, a revoked (lost) phone, and the PIN reset a kiosk refuses. Each
checks the typed completion, the ``CredentialEvent``, the completion's
``credential_kind``, that no try was spent the user did not spend, and
that no secret reaches the stream. The full rows run over ``sim://``; the
iPhone's happy, declined and no-answer-then-approved rows also over pcscd
+ vpcd (the Type A ATR of a contactless phone).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from host.api import Profile
from host.api.touch_entry import seal
from host.card import ApprovalState
from host.flows import StepTimeouts
from host.flows.on_device import APPROVAL_POLL_SECONDS
from host.transport.sim import SimTransport
from hw_sim.card import VirtualCard, get_profile, open_card
from hw_sim.card.phones import Approval
from hw_sim.home import sim_home
from hw_sim.pki import open_mobile_pki
from hw_sim.readers.stack import PcscRig, Pn532Rig
from myna.edge.v1 import terminal_pb2 as tpb
from tests.integration.api_matrix_support import (
    RUN_DEADLINE_S,
    ProbedCard,
    Terminal,
    fresh_pins,
    read_card,
    reset,
    terminal,
    transfer,
)
from tests.integration.reader_stack import BUSY_WAIT_S, PCSC_READER, require
from tests.verifier_support import ServerThread, VerifierEnv, make_env

C = tpb
AGENT_PCSC_URL = "pcsc://" + PCSC_READER.replace(" ", "%20")
_SECRET_PROMPTS = {
    C.PROMPT_TYPE_SIGNING_PASSWORD, C.PROMPT_TYPE_AUTH_PIN, C.PROMPT_TYPE_CARD_INFO_PIN,
    C.PROMPT_TYPE_NEW_SECRET, C.PROMPT_TYPE_ONE_TIME_PASSWORD,
}  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    made = make_env(tmp_path_factory.mktemp("api-phones"))
    # The verifier trusts the phones' own CAs from trust/mobile (verifier.pki).
    for profile in ("android-default", "android-lost", "iphone-default", "iphone-lost"):
        with open_card(profile, persist=False):
            pass  # issues the phone's certificates (and revokes the lost ones)
    open_mobile_pki(sim_home() / "pki").export_public(made.trust / "mobile")
    return made


@pytest.fixture(scope="module")
def verifier(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


class PhoneCard(ProbedCard):
    """A sim:// phone whose approval the test sets at power-up and changes during the wait.

    ``start`` is the approval when the phone is presented; ``later`` (when
    set) replaces it after the agent has asked ``after_polls`` times, as a
    holder who double-clicks and passes Face ID while the prompt shows.
    """

    def __init__(
        self,
        url: str,
        pulls: list[Callable[[], None]],
        *,
        start: Approval | None,
        later: Approval | None,
        after_polls: int = 1,
    ) -> None:
        super().__init__(url, pulls)
        self.polls = 0
        self._start, self._later, self._after = start, later, after_polls

    def _phone(self) -> VirtualCard | None:
        transport = self._transport
        if isinstance(transport, SimTransport) and transport.is_open:
            return transport.virtual_card
        return None

    def _open(self) -> None:
        super()._open()
        phone = self._phone()
        if phone is not None and self._start is not None:
            phone.set_approval(self._start)

    async def approval(self) -> ApprovalState:
        state = await super().approval()
        self.polls += 1
        phone = self._phone()
        if self._later is not None and self.polls >= self._after and phone is not None:
            phone.set_approval(self._later)
        return state


@dataclass
class Seen:
    """What the client saw of one command (the phone rows need the credential events)."""

    completion: tpb.Completion = field(default_factory=tpb.Completion)
    prompts: list[int] = field(default_factory=list)
    credentials: list[tpb.CredentialEvent] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    text: str = ""


async def run_command(
    t: Terminal,
    request: tpb.ExecuteRequest,
    profile: str,
    *,
    at_approve: Callable[[], None] | None = None,
) -> Seen:
    """Run ``request``: right secrets, yes to every question, ``at_approve`` at the phone."""
    phone = get_profile(profile)
    secrets = {
        C.PROMPT_TYPE_SIGNING_PASSWORD: phone.sign_password,
        C.PROMPT_TYPE_AUTH_PIN: phone.auth_pin,
        C.PROMPT_TYPE_CARD_INFO_PIN: phone.text_pin,
    }
    seen = Seen()
    rid = request.request_id
    async for message in t.stub.Execute(request, timeout=RUN_DEADLINE_S):
        seen.text += str(message)
        which = message.WhichOneof("message")
        if which == "completion":
            seen.completion = message.completion
        if which != "event":
            continue
        event = message.event
        kind = event.WhichOneof("kind")
        if kind == "credential":
            seen.credentials.append(event.credential)
        elif kind == "failure":
            seen.failures.append(event.failure.code)
        if kind != "prompt":
            continue
        prompt = event.prompt
        seen.prompts.append(prompt.type)
        if prompt.type == C.PROMPT_TYPE_APPROVE_ON_PHONE:
            assert not prompt.prompt_id  # display only: the phone answers
            assert "スマートフォンで認証" in prompt.message.ja
            if at_approve is not None:
                at_approve()
        elif prompt.type in _SECRET_PROMPTS:
            value = secrets[prompt.type]
            if prompt.prompt_id:
                entry = seal(prompt.entry_public_key, rid, prompt.prompt_id, value.encode())
                answer = tpb.AnswerPromptRequest(
                    request_id=rid, prompt_id=prompt.prompt_id, touch_entry=entry
                )
                assert (await t.stub.AnswerPrompt(answer, timeout=5)).accepted
            else:
                t.pad.queue.put_nowait(value)
        elif prompt.prompt_id:
            answer = tpb.AnswerPromptRequest(
                request_id=rid, prompt_id=prompt.prompt_id, confirmed=True
            )
            assert (await t.stub.AnswerPrompt(answer, timeout=5)).accepted
    return seen


def no_secret_leaked(seen: Seen, profile: str) -> None:
    phone = get_profile(profile)
    if profile.startswith("android"):  # an iPhone's placeholder PIN ("0000") is never used
        assert phone.auth_pin not in seen.text
    assert phone.sign_password not in seen.text


def tries_spent(card: ProbedCard, profile: str) -> dict[str, int]:
    before = fresh_pins(profile)
    if card.pins is None:
        return {}
    return {k: before[k] - v for k, v in card.pins.items() if before[k] != v}


KIND = {
    "android": C.CREDENTIAL_KIND_ANDROID,
    "iphone": C.CREDENTIAL_KIND_IPHONE,
}

# (flow, profile, approval at start, approval later, completion code, reason, failure)
SIM_CASES = {
    "transfer-android-happy": ("transfer", "android-default", None, None,
                               C.COMPLETION_CODE_SUCCESS, C.COMPLETION_REASON_UNSPECIFIED, ""),
    "transfer-iphone-happy": ("transfer", "iphone-default", None, None,
                              C.COMPLETION_CODE_SUCCESS, C.COMPLETION_REASON_UNSPECIFIED, ""),
    "transfer-iphone-declined": ("transfer", "iphone-declined", None, None,
                                 C.COMPLETION_CODE_CANCELED,
                                 C.COMPLETION_REASON_DECLINED_ON_PHONE, "declined_on_phone"),
    "transfer-iphone-no-answer": ("transfer", "iphone-default", Approval.NO_ANSWER, None,
                                  C.COMPLETION_CODE_TIME_OUT,
                                  C.COMPLETION_REASON_PHONE_NO_ANSWER, "phone_no_answer"),
    "transfer-iphone-approves-while-waiting": ("transfer", "iphone-default", Approval.NO_ANSWER,
                                               Approval.APPROVED, C.COMPLETION_CODE_SUCCESS,
                                               C.COMPLETION_REASON_UNSPECIFIED, ""),
    "transfer-iphone-declines-while-waiting": ("transfer", "iphone-default", Approval.NO_ANSWER,
                                               Approval.DECLINED, C.COMPLETION_CODE_CANCELED,
                                               C.COMPLETION_REASON_DECLINED_ON_PHONE,
                                               "declined_on_phone"),
    "transfer-iphone-pulled-while-waiting": ("transfer", "iphone-default", Approval.NO_ANSWER,
                                             None, C.COMPLETION_CODE_DEVICE_NOT_READY,
                                             C.COMPLETION_REASON_CARD_REMOVED, "card_removed"),
    "transfer-iphone-revoked": ("transfer", "iphone-lost", None, None,
                                C.COMPLETION_CODE_COMMAND_ERROR,
                                C.COMPLETION_REASON_CARD_REVOKED, "CERTIFICATE_REVOKED"),
    "transfer-android-revoked": ("transfer", "android-lost", None, None,
                                 C.COMPLETION_CODE_COMMAND_ERROR,
                                 C.COMPLETION_REASON_CARD_REVOKED, "CERTIFICATE_REVOKED"),
    "read-iphone-happy": ("read", "iphone-default", None, None, C.COMPLETION_CODE_SUCCESS,
                          C.COMPLETION_REASON_UNSPECIFIED, ""),
    "read-android-happy": ("read", "android-default", None, None, C.COMPLETION_CODE_SUCCESS,
                           C.COMPLETION_REASON_UNSPECIFIED, ""),
    # basic four and proof asked: a phone only proves itself (it carries no basic four)
    "read-both-iphone": ("read-both", "iphone-default", None, None, C.COMPLETION_CODE_SUCCESS,
                         C.COMPLETION_REASON_UNSPECIFIED, ""),
    "read-iphone-declined": ("read", "iphone-declined", None, None, C.COMPLETION_CODE_CANCELED,
                             C.COMPLETION_REASON_DECLINED_ON_PHONE, "declined_on_phone"),
    "read-iphone-revoked": ("read", "iphone-lost", None, None, C.COMPLETION_CODE_COMMAND_ERROR,
                            C.COMPLETION_REASON_CARD_REVOKED, "CERTIFICATE_REVOKED"),
    "read-basic-four-only-android": ("read-four", "android-default", None, None,
                                     C.COMPLETION_CODE_COMMAND_ERROR,
                                     C.COMPLETION_REASON_NOT_ON_CREDENTIAL, "not_on_credential"),
    "reset-android": ("reset", "android-default", None, None, C.COMPLETION_CODE_COMMAND_ERROR,
                      C.COMPLETION_REASON_MANAGED_ON_PHONE, "managed_on_phone"),
    "reset-iphone": ("reset", "iphone-default", None, None, C.COMPLETION_CODE_COMMAND_ERROR,
                     C.COMPLETION_REASON_MANAGED_ON_PHONE, "managed_on_phone"),
}  # fmt: skip


def _request(flow: str, rid: str) -> tpb.ExecuteRequest:
    if flow == "transfer":
        return transfer(rid)
    if flow == "reset":
        return reset(rid)
    four, verify = flow in ("read-four", "read-both"), flow in ("read", "read-both")
    return read_card(rid, basic_four=four, verify=verify)


@pytest.mark.parametrize("case", list(SIM_CASES))
def test_phone_rows_over_sim(
    env: VerifierEnv,
    verifier: ServerThread,
    tmp_path: Path,
    case: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    flow, profile, start, later, code, reason, failure = SIM_CASES[case]
    url = f"sim://{profile}?persist=0"
    pulled = "pulled" in case
    api_profile = Profile.ATM if flow == "transfer" else Profile.KIOSK

    async def scenario() -> tuple[Seen, PhoneCard]:
        async with terminal(env, verifier, tmp_path, api_profile, url, answer_seconds=1.0) as t:
            cards: list[PhoneCard] = []

            def factory() -> PhoneCard:
                card = PhoneCard(url, t.pulls, start=start, later=later)
                cards.append(card)
                t.cards.append(card)
                return card

            assert t.agent.server is not None
            runtime = t.agent.server.servicer.runtime
            runtime.card_factory = factory
            if "no-answer" in case:  # the prompt's time is the wait for the phone
                runtime.timeouts = _short_prompt(runtime.timeouts)
            at_approve = (lambda: [p() for p in t.pulls]) if pulled else None
            seen = await run_command(t, _request(flow, "p-1"), profile, at_approve=at_approve)
            (card,) = cards
            return seen, card

    with caplog.at_level(logging.DEBUG):
        seen, card = asyncio.run(scenario())
    if profile.startswith("android"):  # an iPhone's placeholder PIN is never used
        phone_secrets = get_profile(profile)
        assert phone_secrets.auth_pin not in caplog.text  # nor in any log line
        assert phone_secrets.sign_password not in caplog.text
    done = seen.completion
    assert done.code == code, done
    assert done.reason == reason, done
    if failure:
        assert seen.failures == [failure]
        assert done.message.ja  # where to go next, in both languages
        assert done.message.en
    kind = KIND[profile.split("-")[0]]
    assert [c.kind for c in seen.credentials] == [kind]
    assert done.credential_kind == kind
    iphone = kind == C.CREDENTIAL_KIND_IPHONE
    expected_uv = C.USER_VERIFICATION_ON_DEVICE if iphone else C.USER_VERIFICATION_PIN_PAD
    assert seen.credentials[0].user_verification == expected_uv
    secret_prompts = [p for p in seen.prompts if p in _SECRET_PROMPTS]
    if iphone or flow in ("reset", "read-four"):
        assert secret_prompts == []  # nothing typed at the terminal
    if iphone and flow in ("transfer", "read", "read-both"):
        assert C.PROMPT_TYPE_APPROVE_ON_PHONE in seen.prompts
    if flow in ("reset", "read-four"):
        assert seen.prompts == [C.PROMPT_TYPE_INSERT_CARD]  # refused before any prompt
    assert tries_spent(card, profile) == {}  # no try spent at the terminal, in any row
    if later is not None and not pulled:
        assert card.polls >= 2  # it waited for the phone, then went on
    if code == C.COMPLETION_CODE_SUCCESS and flow in ("read", "read-both"):
        assert done.read_card.card_verified
        assert done.read_card.name == ""  # a phone carries no basic four
    if reason == C.COMPLETION_REASON_CARD_REVOKED:  # registered again on the phone
        assert done.message.key == "result.card_revoked.phone"
        assert "マイナポータルアプリ" in done.message.ja
    if code == C.COMPLETION_CODE_SUCCESS and flow == "transfer":
        assert done.transfer.identity_verified
    if code == C.COMPLETION_CODE_SUCCESS:  # the verifier audits the claim beside its own finding
        with verifier.core.storage.reading() as tx:
            proofs = [e for e in tx.audit_entries() if e.credential_kind]
        assert proofs  # the verifier is the module's: this row's proof is the last one
        assert (proofs[-1].credential_kind, proofs[-1].credential_claim) == (
            "mobile",
            profile.split("-")[0],
        )
    no_secret_leaked(seen, profile)
    (end,) = [line for line in (tmp_path / "ej.txt").read_text().splitlines() if "-END " in line]
    assert f"credential_kind={profile.split('-')[0]}" in end  # the operator's journal says what


def _short_prompt(timeouts: StepTimeouts) -> StepTimeouts:
    return dataclasses.replace(timeouts, prompt=4 * APPROVAL_POLL_SECONDS + 0.2)


# --- the same rows over pcscd + vpcd --------------------------------------------------


@pytest.fixture(scope="module")
def pcsc_rig() -> Iterator[PcscRig]:
    import importlib.util
    import shutil

    from hw_sim.readers.pcscd import PcscdBusyError

    require(shutil.which("pcscd") is not None, "pcscd is not installed")
    require(importlib.util.find_spec("smartcard") is not None, "pyscard is not installed")
    rig = PcscRig(home=sim_home(), busy_wait=BUSY_WAIT_S)
    try:
        rig.start()
    except PcscdBusyError as error:
        require(False, str(error))
    try:
        yield rig
    finally:
        rig.stop()


PCSC_CASES = {
    "transfer-iphone-happy": (None, None, C.COMPLETION_CODE_SUCCESS),
    "transfer-iphone-declined": (Approval.DECLINED, None, C.COMPLETION_CODE_CANCELED),
    "transfer-iphone-approves-while-waiting": (Approval.NO_ANSWER, Approval.APPROVED,
                                               C.COMPLETION_CODE_SUCCESS),
    "transfer-android-happy": (None, None, C.COMPLETION_CODE_SUCCESS),
    # taken off the reader while the prompt shows: the bridge removes the card
    "transfer-iphone-pulled-while-waiting": (Approval.NO_ANSWER, "pull",
                                             C.COMPLETION_CODE_DEVICE_NOT_READY),
}  # fmt: skip


@pytest.mark.parametrize("case", list(PCSC_CASES))
def test_phone_rows_over_pcsc(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, pcsc_rig: PcscRig, case: str
) -> None:
    start, later, code = PCSC_CASES[case]
    profile = "android-default" if "android" in case else "iphone-default"
    with pcsc_rig.card(profile) as phone:
        before = {n: tries for n, tries, _ in phone.state_snapshot().pins}
        if start is not None:
            phone.set_approval(start)

        def approve() -> None:
            time.sleep(2 * APPROVAL_POLL_SECONDS)  # the holder takes a moment
            if later == "pull":
                assert pcsc_rig.bridge is not None
                pcsc_rig.bridge.remove()
            elif isinstance(later, Approval):
                phone.set_approval(later)

        async def scenario() -> Seen:
            async with terminal(
                env, verifier, tmp_path, Profile.ATM, AGENT_PCSC_URL, sim_cards=False
            ) as t:
                return await run_command(t, transfer("p-1"), profile, at_approve=approve)

        seen = asyncio.run(scenario())
        after = {n: tries for n, tries, _ in phone.state_snapshot().pins}
    assert seen.completion.code == code, seen.completion
    if later == "pull":
        assert seen.failures == ["card_removed"]
    kind = C.CREDENTIAL_KIND_ANDROID if "android" in case else C.CREDENTIAL_KIND_IPHONE
    assert seen.completion.credential_kind == kind
    assert [c.kind for c in seen.credentials] == [kind]
    assert after == before  # no try spent
    no_secret_leaked(seen, profile)


# --- and over the PN532 on a pty (libnfc) ----------------------------------------------


@pytest.fixture(scope="module")
def pn532_rig() -> Iterator[Pn532Rig]:
    import importlib.util

    require(importlib.util.find_spec("pynfc") is not None, "pynfc is not installed")
    with Pn532Rig(home=sim_home()) as rig:
        yield rig


@pytest.mark.parametrize("profile", ["iphone-default", "android-default"])
def test_phone_transfer_over_libnfc(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, pn532_rig: Pn532Rig, profile: str
) -> None:
    with pn532_rig.card(profile) as phone:
        before = {n: tries for n, tries, _ in phone.state_snapshot().pins}

        async def scenario() -> Seen:
            async with terminal(
                env, verifier, tmp_path, Profile.ATM, pn532_rig.url, sim_cards=False
            ) as t:
                return await run_command(t, transfer("p-1"), profile)

        seen = asyncio.run(scenario())
        after = {n: tries for n, tries, _ in phone.state_snapshot().pins}
    assert seen.completion.code == C.COMPLETION_CODE_SUCCESS, seen.completion
    kind = KIND[profile.split("-")[0]]
    assert seen.completion.credential_kind == kind
    assert [c.kind for c in seen.credentials] == [kind]
    assert after == before
    no_secret_leaked(seen, profile)
