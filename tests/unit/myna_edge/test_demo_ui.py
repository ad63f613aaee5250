# SPDX-License-Identifier: Apache-2.0
"""``myna_edge.demo.ui``: the simulated reader field and the demo's options.

The whole world (verifier, agents, gateways, panel) runs in the browser
tests (``tests/browser``); here only the reader slot and the CLI options.
"""

from __future__ import annotations

import argparse
import asyncio

import pytest

from host.card import PinKind
from host.errors import CardRemovedError, StepTimeoutError, TransportError
from myna_edge.demo.ui import ReaderSlot, add_ui_arguments, run_ui_demo


def test_the_reader_is_empty_until_the_card_is_placed() -> None:
    async def main() -> None:
        slot = ReaderSlot("default")
        card = slot.card_factory()
        try:
            with pytest.raises(StepTimeoutError):
                await card.wait_card(0.25)
            slot.place()
            await card.wait_card(2.0)
            assert await card.tries_left(PinKind.AUTH) > 0
        finally:
            await card.aclose()

    asyncio.run(main())


def test_removing_the_card_powers_it_off_mid_session() -> None:
    async def main() -> None:
        slot = ReaderSlot("default")
        slot.place()
        card = slot.card_factory()
        try:
            await card.wait_card(2.0)
            slot.remove()
            assert not slot.present
            with pytest.raises((CardRemovedError, TransportError)):
                await card.tries_left(PinKind.AUTH)
        finally:
            await card.aclose()
        slot.remove()  # harmless with nothing open

    asyncio.run(main())


def test_ui_options_and_a_bad_idle_value(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_ui_arguments(parser)
    parser.add_argument("--card", default="default")
    args = parser.parse_args(["--ui", "--idle", "0"])
    assert args.ui is True
    assert run_ui_demo(args) == 2
    assert "--idle must be positive" in capsys.readouterr().out
    assert parser.parse_args([]).idle == 60.0
    assert parser.parse_args([]).reset_otp is False
    assert parser.parse_args(["--ui", "--reset-otp"]).reset_otp is True


def test_ui_demo_without_cups_names_debs_demo(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No CUPS programs here: the demo stops with what to install, before serving anything."""
    monkeypatch.setattr(
        "myna_edge.demo.issue.engine_tools", lambda: {"cupsd": None, "ippeveprinter": None}
    )
    parser = argparse.ArgumentParser()
    add_ui_arguments(parser)
    parser.add_argument("--card", default="default")
    assert run_ui_demo(parser.parse_args(["--ui"])) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "cupsd, ippeveprinter" in out
    assert "make debs-demo" in out
    assert "Ctrl-C" not in out  # it never served
