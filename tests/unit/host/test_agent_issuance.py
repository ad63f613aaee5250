# SPDX-License-Identifier: Apache-2.0
"""``[issuance]`` in terminal.toml and the factory that opens the MFP payment device and printer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from host.agent import load_agent_config
from host.agent.issuance import (
    PAYMENT_BACKENDS,
    IssuanceDesk,
    IssuanceOptions,
    IssuanceParts,
    close_port,
    open_document_printer,
    open_payment,
)
from host.api.runtime import RuntimeOptions
from host.client import ClientConfig
from host.errors import AgentConfigError
from tests.unit.host.issue_fakes import FakePayment
from tests.unit.host.test_agent_config import GOOD, write

KIOSK = GOOD.replace('profile = "atm"', 'profile = "kiosk"')
SECTION = """
[issuance]
payment = "loop://"
document_printer = "ipp://127.0.0.1:8631/printers/mfp"
payment_timeout = 90
"""


def test_the_section_under_the_kiosk_profile(tmp_path: Path) -> None:
    config = load_agent_config(write(tmp_path, KIOSK + SECTION))
    assert config.issuance == IssuanceDesk(
        payment="loop://",
        document_printer="ipp://127.0.0.1:8631/printers/mfp",
        payment_timeout=90.0,
    )
    assert load_agent_config(write(tmp_path, KIOSK)).issuance is None


def test_only_the_kiosk_profile_issues(tmp_path: Path) -> None:
    with pytest.raises(AgentConfigError, match="only the kiosk profile"):
        load_agent_config(write(tmp_path, GOOD + SECTION))


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("print_timeout = 0\n", "issuance.print_timeout"),
        ('papers = "A4"\n', "papers"),
    ],
)
def test_bad_keys_are_named(tmp_path: Path, extra: str, key: str) -> None:
    with pytest.raises(AgentConfigError, match=key):
        load_agent_config(write(tmp_path, KIOSK + SECTION + extra))


def test_unknown_backends_are_refused_by_name() -> None:
    with pytest.raises(AgentConfigError, match="payment_protocol must be one of: cctalk"):
        open_payment(IssuanceDesk("loop://", "ipp://h/printers/q", payment_protocol="mdb"))
    with pytest.raises(AgentConfigError, match="document_printer must be one of: ipp://"):
        open_document_printer(IssuanceDesk("loop://", "lpd://h/q"))
    with pytest.raises(AgentConfigError, match="not a CUPS queue URI"):
        open_document_printer(IssuanceDesk("loop://", "ipp://h/queues/q"))


def test_a_backend_is_pluggable_and_the_real_ones_open_lazily() -> None:
    PAYMENT_BACKENDS["fake"] = lambda url: FakePayment()
    try:
        port = open_payment(IssuanceDesk("loop://", "ipp://h/printers/q", payment_protocol="fake"))
    finally:
        del PAYMENT_BACKENDS["fake"]
    assert isinstance(port, FakePayment)
    printer = open_document_printer(IssuanceDesk("loop://", "ipp://127.0.0.1/printers/mfp"))
    assert type(printer).__name__ == "CupsDocumentPrinter"
    asyncio.run(close_port(printer))
    asyncio.run(close_port(printer))  # harmless twice
    asyncio.run(close_port(object()))  # nothing to close


def test_the_agent_s_parts_give_the_runtime_its_issuance_options(tmp_path: Path) -> None:
    assert IssuanceOptions.__optional_keys__ <= RuntimeOptions.__optional_keys__
    parts = IssuanceParts()
    parts.open(None, ClientConfig("127.0.0.1:1", "mfp-01", insecure_dev=True))
    assert parts.runtime_options() == {}  # no [issuance]: the command is not offered

    async def scenario() -> None:
        PAYMENT_BACKENDS["fake"] = lambda url: FakePayment()
        try:
            desk = IssuanceDesk(
                "loop://", "ipp://127.0.0.1/printers/mfp", payment_protocol="fake", print_timeout=9
            )
            parts.open(desk, ClientConfig("127.0.0.1:1", "mfp-01", insecure_dev=True))
        finally:
            del PAYMENT_BACKENDS["fake"]
        options = parts.runtime_options()
        assert options["print_timeout"] == 9
        assert isinstance(options["payment"], FakePayment)
        assert options["issuance"] is parts.centre
        await parts.close()
        await parts.close()  # harmless twice
        assert parts.centre is None

    asyncio.run(scenario())
