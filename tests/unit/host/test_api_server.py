# SPDX-License-Identifier: Apache-2.0
"""The terminal API server's local-only binding and per-profile commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.api import AgentRuntime, Profile, check_listen
from host.journal import Journal


@pytest.mark.parametrize("address", ["unix:/run/myna.sock", "127.0.0.1:0", "127.0.0.1:50061"])
def test_local_addresses_are_accepted(address: str) -> None:
    assert check_listen(address) == address


@pytest.mark.parametrize(
    "address", ["0.0.0.0:50000", "[::]:1", "localhost:1", "unix:", "127.0.0.2:1", "10.0.0.1:1"]
)
def test_public_addresses_are_refused(address: str) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        check_listen(address)


@pytest.mark.parametrize(
    ("profile", "offered"),
    [(Profile.KIOSK, {"read_card", "pin_reset"}), (Profile.ATM, {"read_card", "transfer"})],
)
def test_profiles_offer_their_flows(tmp_path: Path, profile: Profile, offered: set[str]) -> None:
    with Journal(tmp_path / "j.db") as journal:
        runtime = AgentRuntime.for_reader(
            "sim://", profile=profile, terminal_id="t", verifier=None, journal=journal
        )
        assert {c for c in ("read_card", "pin_reset", "transfer") if runtime.offers(c)} == offered
