# SPDX-License-Identifier: Apache-2.0
"""The flows' code enums are total against the codes they stand for (issue 13.2)."""

from __future__ import annotations

import pytest

from host import errors
from host.flows.codes import FailureCode, RefusalReason, refusal_reason
from host.flows.context import error_code
from myna.edge.v1 import verifier_pb2 as vpb

#: The kiosk's own refusals: no verifier Reason stands for them.
_KIOSK_ONLY = {RefusalReason.OUTSIDE_KIOSK_HOURS}


def _subclasses(cls: type[errors.FlowError]) -> list[type[errors.FlowError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += _subclasses(sub)
    return found


def test_every_verifier_reason_has_a_member() -> None:
    names = {name.removeprefix("REASON_") for name in vpb.Reason.DESCRIPTOR.values_by_name}
    assert names <= {member.value for member in RefusalReason}


def test_every_member_but_the_kiosks_own_is_a_verifier_reason() -> None:
    for member in set(RefusalReason) - _KIOSK_ONLY:
        assert f"REASON_{member.value}" in vpb.Reason.DESCRIPTOR.values_by_name


def test_an_unknown_reason_is_unspecified_not_an_error() -> None:
    assert refusal_reason("OTP_WRONG") is RefusalReason.OTP_WRONG
    assert refusal_reason("FROM_A_NEWER_VERIFIER") is RefusalReason.UNSPECIFIED


@pytest.mark.parametrize("cls", _subclasses(errors.FlowError))
def test_every_flow_error_code_is_a_failure_code(cls: type[errors.FlowError]) -> None:
    assert cls.code in {member.value for member in FailureCode}


def test_error_code_names_each_kind_of_failure() -> None:
    assert error_code(errors.FlowCancelledError("x")) is FailureCode.CANCELLED
    assert error_code(errors.StepTimeoutError("x")) is FailureCode.TIMEOUT
    assert error_code(errors.CardRemovedError("x")) is FailureCode.CARD_REMOVED
    assert error_code(OSError("disk full")) is FailureCode.STORAGE_ERROR
    assert error_code(RuntimeError("bug")) is FailureCode.FAILED
