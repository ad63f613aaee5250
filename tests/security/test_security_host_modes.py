# SPDX-License-Identifier: Apache-2.0
"""File modes on the terminal under ``umask 000`` (issue 22, findings 4 and 8).

The agent's write-ahead journal and the electronic journal hold names,
phone numbers and the signing certificate; the API socket lets whoever can
connect run flows. Under the loosest umask they must still be owner-only
(the socket: owner and group), a planted link must not redirect a journal,
and the systemd units must set the umask and the state folders' modes.
"""

from __future__ import annotations

import asyncio
import configparser
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import grpc.aio
import pytest

from host.api import AgentRuntime, Profile, TerminalServer
from host.errors import UnsafePathError
from host.journal import Effect, ElectronicJournal, Journal, Phase
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture
def umask_000() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_journal_and_its_wal_are_owner_only(tmp_path: Path, umask_000: None) -> None:
    state = tmp_path / "var" / "lib" / "myna-edge"
    with Journal(state / "journal.sqlite") as journal:
        journal.record(
            "op", "transfer", Effect.TRANSFER_AUTHORIZE, Phase.INTENT, data={"payee": "ヤマダ"}
        )
        made = sorted(p.name for p in state.iterdir())
        assert {"journal.sqlite", "journal.sqlite-wal"} <= set(made)
        assert {p: _mode(state / p) for p in made} == dict.fromkeys(made, 0o600)
    assert _mode(state) == 0o700
    assert _mode(tmp_path / "var") == 0o700


def test_older_wider_journal_is_narrowed(tmp_path: Path, umask_000: None) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    os.chmod(path, 0o644)  # as the agent before issue 22 left it
    with Journal(path):
        assert _mode(path) == 0o600


def test_electronic_journal_is_owner_only(tmp_path: Path, umask_000: None) -> None:
    ej = ElectronicJournal(tmp_path / "ej" / "electronic-journal.txt", "atm-01")
    ej.append("op", "TRANSFER", payee="ヤマダ タロウ")
    assert _mode(ej.path) == 0o600
    assert _mode(ej.path.parent) == 0o700


@pytest.mark.parametrize("which", ["journal", "electronic journal"])
def test_planted_link_does_not_redirect_a_journal(tmp_path: Path, which: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"unrelated")
    path = tmp_path / "state" / "journal"
    path.parent.mkdir(mode=0o700)
    path.symlink_to(victim)
    if which == "journal":
        with pytest.raises(UnsafePathError, match="symbolic link"):
            Journal(path)
    else:
        ej = ElectronicJournal(path, "atm-01")
        with pytest.raises(UnsafePathError, match="symbolic link"):
            ej.append("op", "START")
    assert victim.read_bytes() == b"unrelated"


@pytest.mark.parametrize("mode", [0o777, 0o1777])
def test_journal_in_a_folder_others_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, mode)
    with pytest.raises(UnsafePathError):
        Journal(shared / "journal.sqlite")
    with pytest.raises(UnsafePathError):
        ElectronicJournal(shared / "ej.txt", "atm-01")
    assert list(shared.iterdir()) == []


def test_api_socket_is_owner_and_group_only(tmp_path: Path, umask_000: None) -> None:
    run_folder = tmp_path / "run"
    socket_path = run_folder / "agent.sock"

    async def main() -> None:
        with Journal(tmp_path / "journal.sqlite") as journal:
            runtime = AgentRuntime.for_reader(
                "sim://", profile=Profile.KIOSK, terminal_id="k", verifier=None, journal=journal
            )
            async with TerminalServer(runtime, f"unix:{socket_path}"):
                assert stat.S_ISSOCK(os.lstat(socket_path).st_mode)
                assert _mode(socket_path) == 0o660
                assert _mode(run_folder) == 0o750
                async with grpc.aio.insecure_channel(f"unix:{socket_path}") as channel:
                    stub = tpb_grpc.TerminalServiceStub(channel)
                    answer = await stub.GetCapabilities(tpb.GetCapabilitiesRequest(), timeout=5)
                    assert answer.read_card

    asyncio.run(main())


def test_api_socket_refuses_a_mode_for_others(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.sqlite") as journal:
        runtime = AgentRuntime.for_reader(
            "sim://", profile=Profile.ATM, terminal_id="a", verifier=None, journal=journal
        )

        async def main() -> None:
            server = TerminalServer(runtime, f"unix:{tmp_path}/a.sock", socket_mode=0o666)
            with pytest.raises(ValueError, match="owner and group"):
                await server.start()
            await server.stop(None)

        asyncio.run(main())
    assert not (tmp_path / "a.sock").exists()


def _unit(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / name, encoding="utf-8")
    return parser["Service"]


@pytest.mark.parametrize("unit", ["myna-edge-agent.service", "myna-edge-verifier.service"])
def test_units_set_umask_and_state_modes(unit: str) -> None:
    service = _unit(unit)
    assert service["UMask"] == "0077"
    assert service["StateDirectoryMode"] == "0700"


def test_agent_socket_folder_lets_only_the_group_in() -> None:
    assert _unit("myna-edge-agent.service")["RuntimeDirectoryMode"] == "0750"
