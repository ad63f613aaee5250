# SPDX-License-Identifier: Apache-2.0
"""``myna-edge dev-stack --out DIR``: the whole terminal stack in one command, for integrators.

Why: an ATM integrator must reach a first transfer from ``protos/`` alone,
in the production shape (mTLS to the verifier), with no hardware. This
starts, each as its own process (their PIDs printed):

1. ``myna-edge verifier --config DIR/verifier.toml``: mTLS on a free
   loopback port, SQLite, trusting the simulator's test PKI exported to
   ``DIR/trust`` (``myna-edge sim export-pki``);
2. for the ATM profile, ``myna-edge sim controller --commission
   DIR/board.key``: the controller firmware under MicroPython with its PIN
   pad key injected (firmware/PROTOCOL.md §6), so the first transfer over
   the threshold does not fail for want of a key;
3. ``myna-edge sim printer``: the ESC/POS receipt printer, receipts in
   ``DIR/receipts``;
4. ``myna-edge agent --config DIR/terminal.toml`` on the chosen profile,
   with a terminal certificate issued from the verifier's terminal CA and
   the simulated reader ``sim://?slot=ID`` holding the test card
   (``myna-edge sim reader insert|remove ID`` from anywhere). ``--profile
   mfp`` is a convenience-store multifunction printer: today it runs the
   agent's kiosk profile (PIN resets, touchscreen secrets) with its printer,
   as terminal ``mfp-01``; certificate issuance there is issue 14.

It prints the addresses and the ``terminal.toml`` it wrote, writes the same
facts as JSON to ``DIR/dev-stack.json``, then the line ``myna-edge
dev-stack: ready``. Lines on standard input drive the simulators (``pad
password ABCD1234``, ``pad wait-entry``, ``printer paper out``, ``insert
[PROFILE]``, ``remove``); standard input closing is not a stop. SIGINT
(Ctrl-C) or SIGTERM stops the agent, the printer, the controller and the
verifier in that order (bounded waits, then SIGKILL of the process group)
and reaps every child; a child that dies on its own stops the stack too
(exit status 1).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Final

import grpc

from host.agent.config import AgentConfigError, load_agent_config
from host.api import Profile
from hw_sim.card import get_profile
from hw_sim.errors import SlotStateError, UnknownProfileError
from hw_sim.home import sim_home
from hw_sim.readers.slot import insert_card, remove_card
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna_edge.devstack.children import Child, ChildError, myna_edge_argv
from myna_edge.devstack.configs import prepare_files, terminal_toml, verifier_toml

__all__ = ["READY_LINE", "add_parser", "run_dev_stack"]

#: Printed (and flushed) once everything answers.
READY_LINE: Final = "myna-edge dev-stack: ready"
_START_TIMEOUT: Final = 60.0  # seconds for one child to be ready
_STOP_TIMEOUT: Final = 10.0  # seconds for one child to stop before SIGKILL
#: ``--profile`` -> the agent's profile (an MFP runs the kiosk's flows, see above).
_PROFILES: Final = {"atm": Profile.ATM, "kiosk": Profile.KIOSK, "mfp": Profile.KIOSK}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dev-stack``."""
    parser = sub.add_parser(
        "dev-stack", help="verifier (mTLS), simulated devices and agent in one command"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for configs, logs, data")
    parser.add_argument(
        "--profile", choices=sorted(_PROFILES), default="atm",
        help="terminal kind: atm (PIN pad, cash), kiosk, mfp (kiosk flows with a printer)",
    )  # fmt: skip
    parser.add_argument("--card", default="default", help="card put on the reader at start")
    parser.add_argument(
        "--api-port", type=int, default=0, help="TerminalService port on 127.0.0.1 (0: free one)"
    )
    parser.set_defaults(handler=run_dev_stack)


class _Stack:
    """The started children, in start order; ``stop`` stops them in reverse."""

    def __init__(self) -> None:
        self.children: list[Child] = []
        self.by_name: dict[str, Child] = {}

    def start(self, child: Child) -> Child:
        self.children.append(child)
        self.by_name[child.name] = child
        return child

    def dead(self) -> Child | None:
        return next((c for c in self.children if not c.alive()), None)

    def stop(self) -> None:
        for child in reversed(self.children):
            code = child.stop(_STOP_TIMEOUT)
            print(f"  stopped {child.name} (pid {child.pid}, exit {code})", flush=True)


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_agent(child: Child, address: str, timeout: float) -> None:
    """Wait until the agent's GetStatus answers with the verifier online (recovery ran)."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = tpb_grpc.TerminalServiceStub(channel)
        while time.monotonic() < deadline:
            if not child.alive():
                raise ChildError(f"agent exited ({child.process.returncode}):\n{child.tail()}")
            try:
                status = stub.GetStatus(tpb.GetStatusRequest(), timeout=1)
            except grpc.RpcError:
                time.sleep(0.1)
                continue
            states = {d.device: d.state for d in status.devices}
            if states.get("verifier") == tpb.DEVICE_STATE_ONLINE:
                return
            time.sleep(0.1)
    raise ChildError(f"agent not ready within {timeout:.0f} s:\n{child.tail()}")


def _launch(
    args: argparse.Namespace, stack: _Stack, stopping: threading.Event
) -> dict[str, object]:
    """Start everything; returns the facts printed and written to ``dev-stack.json``."""
    root: Path = args.out.resolve()
    terminal_id = f"{args.profile}-01"
    home = sim_home()
    files = prepare_files(root, terminal_id, sim_home=home)
    (root / "verifier.toml").write_text(verifier_toml(files), encoding="utf-8")
    logs = root / "logs"
    verifier = stack.start(
        Child("verifier", myna_edge_argv("verifier", "--config", str(root / "verifier.toml")),
              logs / "verifier.log", cwd=root)
    )  # fmt: skip
    port = int(verifier.wait_for(r"listening on port (\d+)", _START_TIMEOUT)[1])
    facts: dict[str, object] = {
        "out": str(root), "profile": args.profile, "agent_profile": _PROFILES[args.profile].value
    }  # fmt: skip
    controller = key = firmware_pid = None
    if args.profile == "atm":
        controller, key = root / "controller", root / "board.key"
        pad = stack.start(
            Child("controller", myna_edge_argv(
                "sim", "controller", "--link", str(controller), "--flash",
                str(root / "controller.flash"), "--commission", str(key)),
                logs / "controller.log", stdin=True, cwd=root)
        )  # fmt: skip
        firmware_pid = int(pad.wait_for(r"\(pid (\d+)\); commissioned", _START_TIMEOUT)[1])
    if stopping.is_set():
        return facts
    printer, receipts = root / "printer", root / "receipts"
    prn = stack.start(
        Child("printer", myna_edge_argv(
            "sim", "printer", "--link", str(printer), "--out", str(receipts)),
            logs / "printer.log", stdin=True, cwd=root)
    )  # fmt: skip
    prn.wait_for(r"^printer on ", _START_TIMEOUT)
    insert_card(terminal_id, args.card, home=home)
    reader = f"sim://?slot={terminal_id}&home={home}&persist=0"
    api = f"127.0.0.1:{args.api_port or _free_port()}"
    terminal = terminal_toml(
        files, profile=_PROFILES[args.profile].value, terminal_id=terminal_id, reader=reader,
        api=api, verifier_port=port, printer=printer, controller=controller, controller_key=key,
    )  # fmt: skip
    (root / "terminal.toml").write_text(terminal, encoding="utf-8")
    load_agent_config(root / "terminal.toml")  # a wrong profile fails here, with its key named
    if stopping.is_set():
        return facts
    agent = stack.start(
        Child("agent", myna_edge_argv("agent", "--config", str(root / "terminal.toml")),
              logs / "agent.log", cwd=root)
    )  # fmt: skip
    _wait_agent(agent, api, _START_TIMEOUT)
    facts.update(
        verifier={"pid": verifier.pid, "address": f"127.0.0.1:{port}"},
        printer={"pid": prn.pid, "link": str(printer), "receipts": str(receipts)},
        agent={"pid": agent.pid, "address": api, "terminal_id": terminal_id},
        reader={"url": reader, "slot": terminal_id, "card": args.card, "sim_home": str(home)},
        terminal_toml=str(root / "terminal.toml"),
        trust_dir=str(files.trust),
    )  # fmt: skip
    if controller is not None:
        pad_child = stack.by_name["controller"]
        facts["controller"] = {"pid": pad_child.pid, "firmware_pid": firmware_pid,
                               "link": str(controller), "key": str(key)}  # fmt: skip
    return facts


def _report(facts: dict[str, object], files_root: Path) -> None:
    kind = f"{facts['profile']}, agent profile {facts['agent_profile']}"
    print(f"myna-edge dev-stack ({kind}) in {files_root}")
    rows: list[tuple[str, str]] = []
    for name in ("verifier", "controller", "printer", "agent"):
        part = facts.get(name)
        if isinstance(part, dict):
            where = part.get("address") or part.get("link")
            extra = f" (firmware pid {part['firmware_pid']})" if "firmware_pid" in part else ""
            rows.append((name, f"pid {part['pid']:<7} {where}{extra}"))
    for name, text in rows:
        print(f"  {name:<11}{text}")
    reader = facts["reader"]
    assert isinstance(reader, dict)
    print(f"  {'reader':<11}{reader['url']} (card {reader['card']!r} on it)")
    print("  verifier: mTLS, test PKI trusted (trust_dir " + str(facts["trust_dir"]) + ")")
    print(f"--- {facts['terminal_toml']} ---")
    print(Path(str(facts["terminal_toml"])).read_text(encoding="utf-8"), end="")
    print("---")
    slot, home = reader["slot"], reader["sim_home"]
    print(f"card: myna-edge sim reader remove {slot} --home {home}")
    print(f"      myna-edge sim reader insert {slot} --profile revoked --home {home}")
    pad = "pad password ABCD1234 | pad wait-entry | " if "controller" in facts else ""
    print(f"stdin: {pad}printer paper out | insert [PROFILE] | remove")
    print(f"       (logs in {files_root / 'logs'})")
    print(READY_LINE + " (Ctrl-C stops everything)", flush=True)


def _commands(stack: _Stack, slot: str, stopping: threading.Event) -> None:
    """Forward standard-input lines to the simulators until it closes (not a stop)."""
    for line in sys.stdin:
        words = line.split()
        if not words or stopping.is_set():
            continue
        try:
            if words[0] in ("pad", "printer") and len(words) > 1:
                name = "controller" if words[0] == "pad" else "printer"
                child = stack.by_name.get(name)
                if child is None or not child.say(" ".join(words[1:])):
                    print(f"no {name} to tell", flush=True)
            elif words[0] == "insert":
                insert_card(slot, words[1] if len(words) > 1 else "default")
                print("card inserted", flush=True)
            elif words[0] == "remove":
                remove_card(slot)
                print("card removed", flush=True)
            else:
                print(f"unknown command {words[0]!r}", flush=True)
        except (SlotStateError, UnknownProfileError, OSError) as error:
            print(f"error: {error}", flush=True)


def run_dev_stack(args: argparse.Namespace) -> int:
    """Start the stack, serve until SIGINT/SIGTERM, stop it; 0 on a clean stop."""
    try:
        get_profile(args.card)  # before anything starts: a typo is not a half-started stack
    except UnknownProfileError as error:
        print(f"myna-edge dev-stack: {error} (myna-edge sim cards lists them)", file=sys.stderr)
        return 2
    stopping = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stopping.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    stack = _Stack()
    status = 0
    try:
        try:
            facts = _launch(args, stack, stopping)
        except (ChildError, AgentConfigError, OSError, ValueError) as error:
            print(f"myna-edge dev-stack: {error}", file=sys.stderr, flush=True)
            return 1
        if stopping.is_set():
            return 0
        root = Path(str(facts["out"]))
        (root / "dev-stack.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
        _report(facts, root)
        agent = facts["agent"]
        assert isinstance(agent, dict)
        threading.Thread(
            target=_commands, args=(stack, agent["terminal_id"], stopping), daemon=True,
            name="dev-stack-stdin",
        ).start()  # fmt: skip
        while not stopping.wait(0.5):
            dead = stack.dead()
            if dead is not None:
                print(f"myna-edge dev-stack: {dead.name} exited:\n{dead.tail()}", file=sys.stderr)
                status = 1
                break
        return status
    finally:
        print("myna-edge dev-stack: stopping", flush=True)
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
