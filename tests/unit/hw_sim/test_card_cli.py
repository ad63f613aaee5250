# SPDX-License-Identifier: Apache-2.0
"""Unit tests for ``hw_sim.cli``: ``sim cards`` and ``sim reset-card``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from hw_sim.card import open_card, profiles
from hw_sim.cli import add_sim_parser, run_sim
from tests.unit.hw_sim.card_helpers import with_shared_pki


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="myna-edge")
    add_sim_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


def test_cards_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_sim(parse("sim", "cards")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "STATE", "DESCRIPTION"]
    assert [line.split()[0] for line in lines[1:]] == [p.name for p in profiles()]
    kinds = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert kinds["default"] == "card"
    assert kinds["android-default"] == "android"
    assert kinds["iphone-default"] == "iphone"
    assert "1234" not in "\n".join(lines)  # the table shows no PINs


def test_cards_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_sim(parse("sim", "cards", "--json")) == 0
    document = json.loads(capsys.readouterr().out)
    assert [entry["name"] for entry in document] == [p.name for p in profiles()]
    default = document[0]
    assert set(default) == {"name", "kind", "state", "description", "pins"}
    assert default["kind"] == "card"
    kinds = {entry["name"]: entry["kind"] for entry in document}
    assert {kinds["android-lost"], kinds["iphone-lost"]} == {"android", "iphone"}
    assert default["state"] == "normal"
    assert default["pins"] == {"auth_pin": "1234", "sign_password": "ABCD1234", "text_pin": "1234"}


def test_reset_card(sim_home_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with_shared_pki(sim_home_dir, tmp_path)
    with open_card("default", home=tmp_path) as card:
        card.power_on()
        card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
        card.transmit(bytes.fromhex("002000980439393939"))
    state = tmp_path / "cards" / "default" / "state.json"
    assert state.exists()
    assert run_sim(parse("sim", "reset-card", "default", "--home", str(tmp_path))) == 0
    assert not state.exists()
    assert "reset default" in capsys.readouterr().out


def test_reset_unknown_card(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_sim(parse("sim", "reset-card", "nobody", "--home", str(tmp_path))) == 2
    assert "unknown card profile" in capsys.readouterr().err


def test_a_command_is_required() -> None:
    with pytest.raises(SystemExit):
        parse("sim")
