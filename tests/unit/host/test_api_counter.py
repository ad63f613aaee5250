# SPDX-License-Identifier: Apache-2.0
"""The counter check's API mapping: verdicts, completion reasons and their texts (issue 21)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from host.api.commands import CommandKind
from host.api.execute import verifier_state
from host.api.runtime import AgentRuntime, Profile
from host.api.translate import FACE_VERDICTS, card_face_message, completion_for
from host.api.user_text import user_message
from host.card import FaceVerdict, PinKind
from host.flows import Outcome
from host.flows.counter import CounterOutcome, CounterReason, CounterScreen, ThreadedCounterCard
from host.journal import Journal
from host.messages import ResultCode, result_text
from myna.edge.v1 import terminal_pb2 as tpb


def test_every_face_verdict_has_its_wire_value() -> None:
    assert set(FACE_VERDICTS) == set(FaceVerdict)
    assert len(set(FACE_VERDICTS.values())) == len(FaceVerdict)
    for verdict, value in FACE_VERDICTS.items():
        assert tpb.FaceVerdict.Name(value) == f"FACE_VERDICT_{verdict.name}"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (CounterReason.CARD_FORGED, ResultCode.CARD_FORGED),
        (CounterReason.CARD_EXPIRED, ResultCode.CARD_FACE_EXPIRED),
        (CounterReason.DATA_INCONSISTENT, ResultCode.CARD_DATA_INCONSISTENT),
        (CounterReason.PHOTO_MISMATCH, ResultCode.PHOTO_MISMATCH),
        (CounterReason.CERTIFICATE_REFUSED, ResultCode.CARD_REVOKED),
    ],
)
def test_every_counter_refusal_has_its_typed_reason_and_both_texts(
    reason: CounterReason, expected: ResultCode
) -> None:
    done = completion_for(
        CounterOutcome(Outcome.REFUSED, "op", verdict=FaceVerdict.GENUINE, reason=reason)
    )
    assert done.code == tpb.COMPLETION_CODE_COMMAND_ERROR
    assert done.reason == tpb.CompletionReason.Value(f"COMPLETION_REASON_{expected.name}")
    assert done.message == user_message(result_text(expected))
    assert done.counter_check.verdict == tpb.FACE_VERDICT_GENUINE


def test_a_blocked_code_b_is_not_a_blocked_pin() -> None:
    code_b = completion_for(CounterOutcome(Outcome.FAILED, "op", reason="pin_blocked"))
    assert code_b.code == tpb.COMPLETION_CODE_USER_ERROR
    assert code_b.reason == tpb.COMPLETION_REASON_VERIFICATION_CODE_BLOCKED
    assert code_b.message.key == "result.verification_code_blocked"
    holder = completion_for(
        CounterOutcome(Outcome.FAILED, "op", reason="pin_blocked", pin=PinKind.AUTH)
    )
    assert holder.reason == tpb.COMPLETION_REASON_AUTH_PIN_BLOCKED
    assert not holder.HasField("counter_check")  # no verdict was reached


def test_the_card_face_message_carries_the_screen() -> None:
    screen = CounterScreen(
        verdict=FaceVerdict.INCONSISTENT,
        name="山田 花子",
        address="東京都千代田区",
        birth_date=dt.date(1990, 4, 1),
        sex="2",
        expiry=dt.date(2030, 4, 1),
        photo_png=b"\x89PNG-",
        differences=("birth_date",),
    )
    face = card_face_message(screen)
    assert (face.name, face.birth_date, face.expiry) == ("山田 花子", "1990-04-01", "2030-04-01")
    assert face.verdict == tpb.FACE_VERDICT_INCONSISTENT
    assert list(face.differences) == ["birth_date"]
    assert face.photo_png == b"\x89PNG-"


def test_the_counter_profile_offers_the_check_with_touch_secrets(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        runtime = AgentRuntime.for_reader(
            "sim://", profile=Profile.COUNTER, terminal_id="t", verifier=None, journal=journal
        )
        assert {c for c in CommandKind if runtime.offers(c)} == {
            CommandKind.READ_CARD,
            CommandKind.COUNTER_CHECK,
        }
        assert isinstance(runtime.card_factory(), ThreadedCounterCard)
        caps = runtime.capabilities()
        assert caps.profile == tpb.TERMINAL_PROFILE_COUNTER
        assert caps.counter_check
        assert caps.touchscreen_secrets
        assert not caps.transfer
        assert not caps.pin_reset


@pytest.mark.parametrize(
    ("holder_pin", "expected"), [(False, None), (True, tpb.DEVICE_STATE_ONLINE)]
)
def test_only_a_counter_check_with_the_holder_pin_learns_the_verifier_state(
    holder_pin: bool, expected: object
) -> None:
    request = tpb.ExecuteRequest(
        request_id="c", counter_check=tpb.CounterCheckCommand(holder_pin=holder_pin)
    )
    done = tpb.Completion(code=tpb.COMPLETION_CODE_SUCCESS)
    assert verifier_state(CommandKind.COUNTER_CHECK, request, done) == expected
