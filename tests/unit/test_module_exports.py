# SPDX-License-Identifier: Apache-2.0
"""Curated ``__all__``, docstrings and licence lines of host and hw_sim modules (STYLE §9).

One parametrised check replaces the per-area copies; each area keeps the
extra rules it had (docstring length, module size). The verifier keeps its
own file (``tests/unit/verifier/test_verifier_exports.py``).
"""

from __future__ import annotations

import importlib
import inspect

import pytest

_LICENCE = "# SPDX-License-Identifier: Apache-2.0"

#: Host core: docstring over 40 characters and the licence line.
HOST_MODULES = [
    "host.apdu",
    "host.channel",
    "host.tlv",
    "host.transport.sim",
    "host.card",
    "host.card.basic_four",
    "host.card.card_info",
    "host.card.certificates",
    "host.card.commands",
    "host.card.constants",
    "host.card.files",
    "host.card.integrity",
    "host.card.jpki",
    "host.card.surface",
    "host.card.surface_codes",
    "host.card.surface_face",
    "host.card.surface_photo",
    "host.card.kinds",
    "host.card.pin_policy",
    "host.card.pins",
    "host.private_files",
    "host.trace",
]

#: Peripherals and simulated devices: ``__all__`` only.
PERIPHERAL_MODULES = [
    "host.peripherals",
    "host.peripherals.controller",
    "host.peripherals.counters",
    "host.peripherals.escpos",
    "host.peripherals.face_matcher",
    "host.peripherals.link",
    "host.peripherals.messages",
    "host.peripherals.pinblock",
    "host.peripherals.printer",
    "host.peripherals.serial_port",
    "hw_sim.devices",
    "hw_sim.devices.base",
    "hw_sim.devices.bench",
    "hw_sim.devices.cli",
    "hw_sim.devices.controller",
    "hw_sim.devices.errors",
    "hw_sim.devices.escpos_parse",
    "hw_sim.devices.escpos_render",
    "hw_sim.devices.face_matcher",
    "hw_sim.devices.faults",
    "hw_sim.devices.printer",
    "host.printing",
    "host.printing.ipp",
    "host.printing.states",
    "hw_sim.printing",
    "hw_sim.printing.command",
    "hw_sim.printing.configs",
    "hw_sim.printing.engine",
]

#: Readers and reader transports: a "Why" (or long) docstring, licence, under 420 lines.
READER_MODULES = [
    "hw_sim.lifecycle",
    "hw_sim.pty",
    "hw_sim.readers",
    "hw_sim.readers.vpcd",
    "hw_sim.readers.pcscd",
    "hw_sim.readers.pn532_frames",
    "hw_sim.readers.pn532",
    "hw_sim.readers.pn532_pty",
    "hw_sim.readers.stack",
    "hw_sim.readers.bench",
    "hw_sim.readers.cli",
    "host.transport.pcsc",
    "host.transport.pcsc.library",
    "host.transport.pcsc.url",
    "host.transport.pcsc.events",
    "host.transport.pcsc.transport",
    "host.transport.libnfc",
    "host.transport.nfc_binding",
    "host.transport.cli",
]

#: The demo package (``myna-edge demo``): a "Why" (or long) docstring, licence, under 420 lines.
DEMO_MODULES = [
    "myna_edge.demo",
    "myna_edge.demo.counter",
    "myna_edge.demo.flows",
    "myna_edge.demo.readers",
    "myna_edge.demo.stories",
    "myna_edge.demo.transfer",
    "myna_edge.demo.ui",
    "myna_edge.demo.world",
]

#: The bench package (``myna-edge bench``): same rules as the demo's.
BENCH_MODULES = [
    "myna_edge.bench",
    "myna_edge.bench.capacity",
    "myna_edge.bench.card",
    "myna_edge.bench.cli",
    "myna_edge.bench.flow_split",
    "myna_edge.bench.flows",
    "myna_edge.bench.latency",
    "myna_edge.bench.link",
    "myna_edge.bench.machine",
    "myna_edge.bench.metrics",
    "myna_edge.bench.plots",
    "myna_edge.bench.report",
    "myna_edge.bench.row",
    "myna_edge.bench.rows",
    "myna_edge.bench.issuance",
    "myna_edge.bench.issuance_load",
    "myna_edge.bench.issuance_rows",
    "myna_edge.bench.counter",
    "myna_edge.bench.tracing",
    "myna_edge.bench.verifier",
    "myna_edge.bench.verifier_echo",
    "myna_edge.bench.verifier_load",
    "myna_edge.bench.hil",
    "myna_edge.bench.hil.calibrate",
    "myna_edge.bench.hil.cli",
    "myna_edge.bench.hil.devices",
    "myna_edge.bench.hil.plan",
    "myna_edge.bench.hil.suite",
    "myna_edge.bench.hil.trace",
]


def _source_lines(name: str) -> list[str]:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    with open(module.__file__, encoding="utf-8") as source:
        return source.readlines()


@pytest.mark.parametrize(
    "name", HOST_MODULES + PERIPHERAL_MODULES + READER_MODULES + DEMO_MODULES + BENCH_MODULES
)
def test_all_is_in_sync(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(set(exported)) == len(exported)
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names missing {item}"
    defined = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == name
    }
    assert defined <= set(exported), f"{name} does not export {defined - set(exported)}"


@pytest.mark.parametrize("name", HOST_MODULES)
def test_host_modules_have_docstrings_and_licence(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__, name
    assert len(module.__doc__) > 40, name
    assert _source_lines(name)[0].strip() == _LICENCE, name


@pytest.mark.parametrize("name", READER_MODULES + DEMO_MODULES + BENCH_MODULES)
def test_reader_demo_and_bench_modules_say_why_and_stay_small(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__
    assert "Why" in module.__doc__ or len(module.__doc__) > 200, name
    lines = _source_lines(name)
    assert lines[0].strip() == _LICENCE, name
    assert len(lines) < 420, f"{name} has {len(lines)} lines"


def test_peripheral_errors_are_one_branch() -> None:
    from host import errors

    for name in (
        "BoardAbsentError",
        "BoardSilentError",
        "IncompatibleBoardError",
        "BoardTamperedError",
        "BoardNotCommissionedError",
        "InvalidPinBlockError",
        "EntryCancelledError",
        "EntryTimeoutError",
        "PaperOutError",
        "PaymentCancelledError",
        "PaymentDeviceError",
        "PaymentError",
        "PaymentTimeoutError",
        "CoverOpenError",
    ):
        cls = getattr(errors, name)
        assert issubclass(cls, errors.PeripheralError)
        assert name in errors.__all__
        assert name in (errors.__doc__ or "")
    assert issubclass(errors.BoardSilentError, TimeoutError)
    assert issubclass(errors.EntryTimeoutError, TimeoutError)
