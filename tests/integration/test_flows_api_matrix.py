# SPDX-License-Identifier: Apache-2.0
"""Every flow's happy and failure paths, driven only through the terminal gRPC API.

The client is what the touchscreen or ATM application is: Execute,
AnswerPrompt, Cancel, GetStatus. Behind it runs the real agent (journal,
recovery, flows, grpc.aio on 127.0.0.1) against the real verifier over
mTLS. Each run must end in one defined completion code within the
stream's deadline, with the right failure event, no PIN try spent that
the user did not spend, and a clean end (no running command, card
released). The full matrix runs over sim://; a representative subset over
pcscd+vpcd and the PN532 on a pty (libnfc), where removal is the rig's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from host.api import Profile
from hw_sim.card import get_profile
from hw_sim.devices import SimPrinter
from hw_sim.home import sim_home
from hw_sim.readers.stack import PcscRig, Pn532Rig
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb
from tests.integration.api_matrix_support import (
    AUTH,
    SIGN,
    book,
    clean_end,
    drive,
    on_stack,
    read_card,
    reset,
    run,
    spent,
    terminal,
    transfer,
)
from tests.integration.reader_stack import BUSY_WAIT_S, PCSC_READER, require
from tests.verifier_support import ServerThread, VerifierEnv, make_env

C = tpb
#: As deployed: no ``?wait=`` (the agent polls for the card itself, so a
#: cancel at the insert-card prompt is not held up by a blocking open).
AGENT_PCSC_URL = "pcsc://" + PCSC_READER.replace(" ", "%20")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("api-matrix"))


@pytest.fixture(scope="module")
def verifier(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


# --- card reading (kiosk) -----------------------------------------------------------

READ_CASES = {
    "happy": ("default", {}, C.COMPLETION_CODE_SUCCESS, "", {}),
    "wrong-text-pin-once": ("default", {(C.PROMPT_TYPE_CARD_INFO_PIN, 1): "wrong"},
                            C.COMPLETION_CODE_SUCCESS, "", {}),
    "last-try-wrong-blocks": ("auth-last-try", {(C.PROMPT_TYPE_AUTH_PIN, 1): "wrong"},
                              C.COMPLETION_CODE_USER_ERROR, "pin_blocked", {AUTH: 1}),
    # the failure event names the verifier's reason, as the completion does (issue 23.4)
    "revoked": ("revoked", {}, C.COMPLETION_CODE_COMMAND_ERROR, "CERTIFICATE_REVOKED", {}),
    "expired": ("expired", {}, C.COMPLETION_CODE_COMMAND_ERROR, "CERTIFICATE_EXPIRED", {}),
    "cancel-at-text-pin": ("default", {(C.PROMPT_TYPE_CARD_INFO_PIN, 1): "cancel"},
                           C.COMPLETION_CODE_CANCELED, "cancelled", {}),
    "cancel-at-auth-pin": ("default", {(C.PROMPT_TYPE_AUTH_PIN, 1): "cancel"},
                           C.COMPLETION_CODE_CANCELED, "cancelled", {}),
    "pulled-at-text-pin": ("default", {(C.PROMPT_TYPE_CARD_INFO_PIN, 1): "pull"},
                           C.COMPLETION_CODE_DEVICE_NOT_READY, "card_removed", {}),
    "pulled-at-auth-pin": ("default", {(C.PROMPT_TYPE_AUTH_PIN, 1): "pull"},
                           C.COMPLETION_CODE_DEVICE_NOT_READY, "card_removed", {}),
}  # fmt: skip


@pytest.mark.parametrize("case", list(READ_CASES))
def test_read_card_sim(env: VerifierEnv, verifier: ServerThread, tmp_path: Path, case: str) -> None:
    profile, script, code, failure, used = READ_CASES[case]

    async def scenario() -> None:
        url = f"sim://{profile}?persist=0"
        async with terminal(env, verifier, tmp_path, Profile.KIOSK, url) as t:
            out = await drive(t, read_card("r-1"), script, profile=profile)
            clean_end(t, out)
            assert out.completion.code == code, out.completion
            assert spent(t, profile) == used
        if failure:
            assert out.failures == [failure]
            assert out.completion.error_code == failure
        if code == C.COMPLETION_CODE_SUCCESS:
            assert out.completion.read_card.name == get_profile(profile).person.name
            assert out.completion.read_card.card_verified
        if code == C.COMPLETION_CODE_COMMAND_ERROR:
            assert out.completion.error_code  # the verifier's reason
            assert not out.completion.read_card.card_verified
        texts = [p.tries_left for p in out.prompts if p.type == C.PROMPT_TYPE_CARD_INFO_PIN]
        if case == "wrong-text-pin-once":
            assert texts == [3, 2]  # re-read after the wrong try, never guessed
        if profile == "auth-last-try":
            assert out.warnings == [C.PROMPT_TYPE_AUTH_PIN]
            (auth,) = [p for p in out.prompts if p.type == C.PROMPT_TYPE_AUTH_PIN]
            assert auth.last_try
            assert auth.tries_left == 1
        else:
            assert out.warnings == []
        p = get_profile(profile)
        assert all(s not in out.text for s in (p.auth_pin, p.text_pin, p.sign_password))

    run(scenario)


def test_read_card_verifier_down(env: VerifierEnv, verifier: ServerThread, tmp_path: Path) -> None:
    async def scenario() -> None:
        url = "sim://default?persist=0"
        async with terminal(env, verifier, tmp_path, Profile.KIOSK, url, verifier_down=True) as t:
            out = await drive(t, read_card("r-down"))
            clean_end(t, out)
            assert spent(t, "default") == {}
            status = await t.stub.GetStatus(C.GetStatusRequest(), timeout=5)
        assert out.completion.code == C.COMPLETION_CODE_DEVICE_NOT_READY
        assert out.failures == ["service_unavailable"]
        # no auth PIN asked for a proof nobody can check
        assert C.PROMPT_TYPE_AUTH_PIN not in [p.type for p in out.prompts]
        states = {d.device: d.state for d in status.devices}
        assert states["verifier"] == C.DEVICE_STATE_OFFLINE

    run(scenario)


# --- transfer (ATM) -----------------------------------------------------------------

TRANSFER_CASES = {
    "happy": ("default", {}, C.COMPLETION_CODE_SUCCESS, "", {}),
    "wrong-password-once": ("default", {(C.PROMPT_TYPE_SIGNING_PASSWORD, 1): "wrong"},
                            C.COMPLETION_CODE_SUCCESS, "", {}),
    "warned-before-last-try": ("default", {(C.PROMPT_TYPE_SIGNING_PASSWORD, n): "wrong"
                                           for n in range(1, 5)},
                               C.COMPLETION_CODE_SUCCESS, "", {}),
    "locked": ("sign-locked", {}, C.COMPLETION_CODE_USER_ERROR, "pin_blocked", {}),
    # the failure event names the verifier's reason, as the completion does (issue 23.4)
    "revoked": ("revoked", {}, C.COMPLETION_CODE_COMMAND_ERROR, "CERTIFICATE_REVOKED", {}),
    "expired": ("expired", {}, C.COMPLETION_CODE_COMMAND_ERROR, "CERTIFICATE_EXPIRED", {}),
    "declined-statement": ("default", {(C.PROMPT_TYPE_CONFIRM_STATEMENT, 1): "no"},
                           C.COMPLETION_CODE_CANCELED, "cancelled", {}),
    "cancel-at-statement": ("default", {(C.PROMPT_TYPE_CONFIRM_STATEMENT, 1): "cancel"},
                            C.COMPLETION_CODE_CANCELED, "cancelled", {}),
    "cancel-at-password": ("default", {(C.PROMPT_TYPE_SIGNING_PASSWORD, 1): "cancel"},
                           C.COMPLETION_CODE_CANCELED, "cancelled", {}),
    # after the authorisation a cancel never decides: the cash question goes to
    # WatchRecovery, and only recovery_answer_seconds (1 s here) reverses unasked
    "cancel-at-money-moved": ("default", {(C.PROMPT_TYPE_CONFIRM_MONEY_MOVED, 1): "cancel"},
                              C.COMPLETION_CODE_TIME_OUT, "reversed_unanswered", {}),
    "pulled-at-password": ("default", {(C.PROMPT_TYPE_SIGNING_PASSWORD, 1): "pull"},
                           C.COMPLETION_CODE_DEVICE_NOT_READY, "card_removed", {}),
    # the ATM says no cash moved: reversed, and the code says so (issue 23.4)
    "declined-money-moved": ("default", {(C.PROMPT_TYPE_CONFIRM_MONEY_MOVED, 1): "no"},
                             C.COMPLETION_CODE_CANCELED, "reversed", {}),
    "pulled-at-money-moved": ("default", {(C.PROMPT_TYPE_CONFIRM_MONEY_MOVED, 1): "pull"},
                              C.COMPLETION_CODE_SUCCESS, "", {}),
}  # fmt: skip


@pytest.mark.parametrize("case", list(TRANSFER_CASES))
def test_transfer_sim(env: VerifierEnv, verifier: ServerThread, tmp_path: Path, case: str) -> None:
    profile, script, code, failure, used = TRANSFER_CASES[case]

    async def scenario() -> None:
        url = f"sim://{profile}?persist=0"
        async with terminal(env, verifier, tmp_path, Profile.ATM, url) as t:
            out = await drive(t, transfer(f"t-{case}"), script, profile=profile)
            clean_end(t, out)
            assert out.completion.code == code, out.completion
            assert spent(t, profile) == used
            assert t.agent.journal is not None
            assert t.agent.journal.unresolved_transfers() == []
        if failure:
            assert out.failures == [failure]
            assert out.completion.error_code == failure
        state = out.completion.transfer.state
        if code == C.COMPLETION_CODE_SUCCESS:
            assert state == vpb.TRANSFER_STATE_COMMITTED
            assert out.completion.transfer.identity_verified
            assert out.removes == 1
        elif case in ("cancel-at-money-moved", "declined-money-moved"):
            assert state == vpb.TRANSFER_STATE_REVERSED  # authorised, then undone
            assert out.completion.reason == C.COMPLETION_REASON_TRANSFER_REVERSED
            # who was identified does not change with what happened to the money
            assert out.completion.transfer.identity_verified
        else:
            assert state != vpb.TRANSFER_STATE_COMMITTED
        passwords = [p for p in out.prompts if p.type == C.PROMPT_TYPE_SIGNING_PASSWORD]
        if case == "wrong-password-once":
            assert [p.tries_left for p in passwords] == [5, 4]
        if case == "warned-before-last-try":
            assert [p.tries_left for p in passwords] == [5, 4, 3, 2, 1]
            assert [p.last_try for p in passwords] == [False] * 4 + [True]
            assert out.warnings == [C.PROMPT_TYPE_SIGNING_PASSWORD]
        else:
            assert out.warnings == []
        if profile == "sign-locked":
            assert passwords == []  # a blocked password is never asked for
        assert get_profile(profile).sign_password not in out.text

    run(scenario)


def test_transfer_verifier_down(env: VerifierEnv, verifier: ServerThread, tmp_path: Path) -> None:
    async def scenario() -> None:
        url = "sim://default?persist=0"
        async with terminal(env, verifier, tmp_path, Profile.ATM, url, verifier_down=True) as t:
            out = await drive(t, transfer("t-down"))
            clean_end(t, out)
        assert out.completion.code == C.COMPLETION_CODE_DEVICE_NOT_READY
        assert out.completion.error_code == "service_unavailable"
        assert out.prompts == []  # nothing asked before the session exists

    run(scenario)


def test_transfer_printer_out_of_paper(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path
) -> None:
    with SimPrinter(tmp_path / "out") as printer:
        printer.set_paper_out(True)

        async def scenario() -> None:
            url = "sim://default?persist=0"
            async with terminal(
                env, verifier, tmp_path, Profile.ATM, url, printer=printer.url
            ) as t:
                out = await drive(t, transfer("t-paper"))
                clean_end(t, out)
                status = await t.stub.GetStatus(C.GetStatusRequest(), timeout=5)
            # the money moved: a missing receipt is reported, not rolled back
            assert out.completion.code == C.COMPLETION_CODE_SUCCESS
            assert out.completion.transfer.state == vpb.TRANSFER_STATE_COMMITTED
            assert not out.completion.transfer.receipt_printed
            states = {d.device: d.state for d in status.devices}
            assert states["printer"] == C.DEVICE_STATE_HARDWARE_ERROR
            assert states["verifier"] == C.DEVICE_STATE_ONLINE

        run(scenario)
        assert printer.receipts == []


ABANDONED = {
    "read-at-text-pin": (Profile.KIOSK, read_card("r-ab"), C.PROMPT_TYPE_CARD_INFO_PIN),
    "transfer-at-statement": (Profile.ATM, transfer("t-ab"), C.PROMPT_TYPE_CONFIRM_STATEMENT),
    "transfer-at-password": (Profile.ATM, transfer("t-ab2"), C.PROMPT_TYPE_SIGNING_PASSWORD),
}


@pytest.mark.parametrize("case", list(ABANDONED))
def test_abandoned_prompt_times_out(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, case: str
) -> None:
    profile, request, where = ABANDONED[case]
    request.timeout_ms = 400

    async def scenario() -> None:
        url = "sim://default?persist=0"
        async with terminal(env, verifier, tmp_path, profile, url) as t:
            out = await drive(t, request, {(where, 1): "ignore"})
            clean_end(t, out)
            assert spent(t, "default") == {}
        assert out.completion.code == C.COMPLETION_CODE_TIME_OUT
        assert out.completion.error_code == "timeout"
        assert out.prompts[-1].type == where

    run(scenario)


# --- PIN reset (kiosk) --------------------------------------------------------------

RESET_CASES = {
    "happy": (True, {}, C.COMPLETION_CODE_SUCCESS, ""),
    "no-booking": (False, {}, C.COMPLETION_CODE_COMMAND_ERROR, "RESERVATION_NOT_FOUND"),
    "cancel-at-auth-pin": (True, {(C.PROMPT_TYPE_AUTH_PIN, 1): "cancel"},
                           C.COMPLETION_CODE_CANCELED, "cancelled"),
    "cancel-at-new-secret": (True, {(C.PROMPT_TYPE_NEW_SECRET, 1): "cancel"},
                             C.COMPLETION_CODE_CANCELED, "cancelled"),
    "cancel-at-repeat": (True, {(C.PROMPT_TYPE_NEW_SECRET, 2): "cancel"},
                         C.COMPLETION_CODE_CANCELED, "cancelled"),
    "pulled-at-auth-pin": (True, {(C.PROMPT_TYPE_AUTH_PIN, 1): "pull"},
                           C.COMPLETION_CODE_DEVICE_NOT_READY, "card_removed"),
    "pulled-at-repeat": (True, {(C.PROMPT_TYPE_NEW_SECRET, 2): "pull"},
                         C.COMPLETION_CODE_DEVICE_NOT_READY, "card_removed"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(RESET_CASES))
def test_pin_reset_sim(env: VerifierEnv, verifier: ServerThread, tmp_path: Path, case: str) -> None:
    booked, script, code, failure = RESET_CASES[case]
    # a private verifier: a booking is the card's, so the cases must not share one
    server = ServerThread(env.config()).start()
    try:
        if booked:
            book(env, server, vpb.RESET_OPERATION_SIGNING_PASSWORD)

        async def scenario() -> None:
            url = "sim://default?persist=0"
            async with terminal(env, server, tmp_path, Profile.KIOSK, url) as t:
                out = await drive(t, reset(f"p-{case}"), script)
                clean_end(t, out)
                assert out.completion.code == code, out.completion
                used = spent(t, "default")
                versions = t.cards[0].versions
            assert used == {}
            if code == C.COMPLETION_CODE_SUCCESS:
                assert out.completion.pin_reset.reservation_id
                assert versions[SIGN] == 1  # the card holds a new signing password
            else:
                assert versions.get(SIGN, 0) == 0
            if failure:
                assert out.completion.error_code == failure
            assert "NEWPASS77" not in out.text

        run(scenario)
    finally:
        server.stop()


# --- the same client over real reader stacks ----------------------------------------


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


@pytest.fixture(scope="module")
def pn532_rig() -> Iterator[Pn532Rig]:
    import importlib.util

    require(importlib.util.find_spec("pynfc") is not None, "pynfc is not installed")
    with Pn532Rig(home=sim_home()) as rig:
        yield rig


STACK_CASES = {
    "read-happy": ("read", {}, C.COMPLETION_CODE_SUCCESS),
    "read-pulled-at-auth-pin": ("read", {(C.PROMPT_TYPE_AUTH_PIN, 1): "pull"},
                                C.COMPLETION_CODE_DEVICE_NOT_READY),
    "transfer-happy": ("transfer", {}, C.COMPLETION_CODE_SUCCESS),
    "transfer-wrong-then-cancel": ("transfer", {(C.PROMPT_TYPE_SIGNING_PASSWORD, 1): "wrong",
                                                (C.PROMPT_TYPE_SIGNING_PASSWORD, 2): "cancel"},
                                   C.COMPLETION_CODE_CANCELED),
    "transfer-pulled-at-password": ("transfer", {(C.PROMPT_TYPE_SIGNING_PASSWORD, 1): "pull"},
                                    C.COMPLETION_CODE_DEVICE_NOT_READY),
    "read-no-card-cancel-at-insert": ("read", {(C.PROMPT_TYPE_INSERT_CARD, 1): "cancel"},
                                      C.COMPLETION_CODE_CANCELED),
}  # fmt: skip
LIBNFC_CASES = ["read-happy", "transfer-happy", "transfer-pulled-at-password"]


def over_stack(
    env: VerifierEnv,
    verifier: ServerThread,
    tmp_path: Path,
    case: str,
    url: str,
    insert: Any,
    pull: Callable[[], None],
) -> None:
    flow, script, code = STACK_CASES[case]
    no_card = "no-card" in case
    out, before, after = on_stack(
        env, verifier, tmp_path, flow, script, url, None if no_card else insert, pull
    )
    assert out.acks == 1
    assert out.completion.code == code, out.completion
    expected = dict(before)
    if case == "transfer-wrong-then-cancel":
        expected[SIGN] -= 1  # the one wrong try the user typed, no other
    assert after == expected
    if code == C.COMPLETION_CODE_DEVICE_NOT_READY:
        assert out.failures == ["card_removed"]
    if no_card:
        assert [p.type for p in out.prompts] == [C.PROMPT_TYPE_INSERT_CARD]
        assert out.failures == ["cancelled"]


@pytest.mark.parametrize("case", list(STACK_CASES))
def test_over_pcsc(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, pcsc_rig: PcscRig, case: str
) -> None:
    def pull() -> None:
        assert pcsc_rig.bridge is not None
        pcsc_rig.bridge.remove()

    over_stack(env, verifier, tmp_path, case, AGENT_PCSC_URL, pcsc_rig.card, pull)


@pytest.mark.parametrize("case", LIBNFC_CASES)
def test_over_libnfc(
    env: VerifierEnv, verifier: ServerThread, tmp_path: Path, pn532_rig: Pn532Rig, case: str
) -> None:
    over_stack(
        env, verifier, tmp_path, case, pn532_rig.url, pn532_rig.card,
        lambda: pn532_rig.pty.place(None),
    )  # fmt: skip
