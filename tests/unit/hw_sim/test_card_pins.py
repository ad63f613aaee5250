# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.card.pins``: policies, counters, verifiers."""

from __future__ import annotations

import pytest

from hw_sim.card.pins import (
    AUTH_PIN,
    BIRTH_DATE_KEY,
    BLOCKED_KEY,
    CODE_A,
    CODE_B,
    SIGN_PASSWORD,
    TEXT_PIN,
    PinPolicy,
    PinSeed,
    PinStore,
    VerifyResult,
    pin_key_name,
)

AID = bytes.fromhex("D392F000260100000001")
AUTH = (AID, 0x18)
SIGN = (AID, 0x1B)
BLOCKED = (AID, 0x12)


@pytest.fixture
def store() -> PinStore:
    return PinStore.issue(
        {
            AUTH: PinSeed(AUTH_PIN, "4826", 3),
            SIGN: PinSeed(SIGN_PASSWORD, "QWERTY42", 5),
            BLOCKED: PinSeed(BLOCKED_KEY, None, 3),
        }
    )


@pytest.mark.parametrize(
    ("policy", "value", "ok"),
    [
        (AUTH_PIN, b"1234", True),
        (AUTH_PIN, b"123", False),
        (AUTH_PIN, b"12345", False),
        (AUTH_PIN, b"12a4", False),
        (SIGN_PASSWORD, b"ABC123", True),
        (SIGN_PASSWORD, b"A" * 16, True),
        (SIGN_PASSWORD, b"ABC12", False),
        (SIGN_PASSWORD, b"A" * 17, False),
        (SIGN_PASSWORD, b"abc123", False),  # clients upper-case before sending (§5)
        (SIGN_PASSWORD, b"ABC-123", False),
        (TEXT_PIN, b"0000", True),
        (CODE_A, b"123456789018", True),
        (CODE_B, b"55010120352285", True),
        (CODE_B, b"5501012035228", False),
        (BIRTH_DATE_KEY, b"550101", True),
    ],
)
def test_policy_formats(policy: PinPolicy, value: bytes, ok: bool) -> None:
    assert policy.accepts(value) is ok


def test_limits_follow_the_reference() -> None:
    assert (AUTH_PIN.max_tries, SIGN_PASSWORD.max_tries, TEXT_PIN.max_tries) == (3, 5, 3)
    assert AUTH_PIN.changeable
    assert SIGN_PASSWORD.changeable
    assert TEXT_PIN.changeable
    assert not CODE_A.changeable
    assert not CODE_B.changeable
    assert not BIRTH_DATE_KEY.changeable


def test_match_mismatch_and_reset(store: PinStore) -> None:
    assert store.verify(AUTH, b"0000") is VerifyResult.MISMATCH
    assert store.record(AUTH).tries_left == 2
    assert store.dirty
    store.dirty = False
    assert store.verify(AUTH, b"4826") is VerifyResult.MATCH
    assert store.record(AUTH).tries_left == 3  # a right PIN resets the counter
    assert store.dirty
    store.dirty = False
    assert store.verify(AUTH, b"4826") is VerifyResult.MATCH
    assert not store.dirty  # nothing to save when the counter was full


def test_blocking(store: PinStore) -> None:
    for _ in range(3):
        assert store.verify(AUTH, b"9999") is VerifyResult.MISMATCH
    assert store.record(AUTH).blocked
    assert store.verify(AUTH, b"4826") is VerifyResult.BLOCKED  # even the right one
    assert store.record(AUTH).tries_left == 0


def test_blocked_at_issue(store: PinStore) -> None:
    record = store.record(BLOCKED)
    assert record.blocked
    assert record.tries_left == 0
    assert record.verifier is None
    assert store.verify(BLOCKED, b"1234") is VerifyResult.BLOCKED


def test_change(store: PinStore) -> None:
    store.verify(SIGN, b"WRONG1")
    store.change(SIGN, b"NEWPASS7")
    record = store.record(SIGN)
    assert (record.tries_left, record.version) == (5, 1)
    assert store.verify(SIGN, b"QWERTY42") is VerifyResult.MISMATCH
    assert store.verify(SIGN, b"NEWPASS7") is VerifyResult.MATCH


def test_verifiers_are_salted_and_scoped() -> None:
    seeds = {AUTH: PinSeed(AUTH_PIN, "1234", 3), (AID, 0x11): PinSeed(TEXT_PIN, "1234", 3)}
    one, two = PinStore.issue(seeds), PinStore.issue(seeds)
    assert one.salt != two.salt
    assert one.record(AUTH).verifier != two.record(AUTH).verifier
    assert one.record(AUTH).verifier != one.record((AID, 0x11)).verifier


def test_nothing_secret_in_reprs(store: PinStore) -> None:
    seed = PinSeed(AUTH_PIN, "4826", 3)
    for text in (repr(store), repr(store.record(AUTH)), repr(seed)):
        assert "4826" not in text
        assert "34383236" not in text
    assert pin_key_name(AUTH) == "D392F000260100000001/0018"
    assert AUTH in store
    assert set(store) == {AUTH, SIGN, BLOCKED}
