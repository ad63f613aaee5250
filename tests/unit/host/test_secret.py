# SPDX-License-Identifier: Apache-2.0
"""Secret: wiped after use, never shown."""

from __future__ import annotations

import pickle

import pytest

from host.secret import Secret


def test_reveal_returns_the_value_until_wiped() -> None:
    secret = Secret.from_text("1234")
    assert secret.reveal() == b"1234"
    secret.wipe()
    assert secret.wiped
    with pytest.raises(ValueError, match="wiped"):
        secret.reveal()


def test_context_manager_wipes_and_wipe_twice_is_harmless() -> None:
    with Secret(b"ABC123") as secret:
        assert len(secret) == 6
    assert secret.wiped
    secret.wipe()
    assert len(secret) == 0


def test_wipe_overwrites_the_buffer_in_place() -> None:
    secret = Secret(b"9876")
    buffer = secret._value
    secret.wipe()
    assert bytes(buffer) == b"\x00\x00\x00\x00"


def test_repr_str_and_format_never_show_the_value() -> None:
    secret = Secret.from_text("PASSWORD1")
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret])):
        assert "PASSWORD1" not in text
        assert b"PASSWORD1".hex() not in text


def test_non_ascii_text_is_refused_without_echo() -> None:
    with pytest.raises(ValueError, match="ASCII") as info:
        Secret.from_text("１２３４")
    assert "１２３４" not in str(info.value)


def test_bytes_only_and_no_pickling_and_identity_equality() -> None:
    with pytest.raises(TypeError):
        Secret("1234")  # type: ignore[arg-type]
    secret = Secret(b"1234")
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert secret != Secret(b"1234")
    assert secret == secret
