# SPDX-License-Identifier: Apache-2.0
"""``myna-edge dev-stack``: the integrator's first transfer, with nothing but the stubs.

The command runs as a subprocess, as an integrator would start it. Once it
prints its ready line, one identity-verified transfer (over the threshold:
the card signs, the signing password is typed on the commissioned PIN pad
through the stack's standard input) runs through the terminal API with the
generated ``myna.edge.v1`` stubs only; the agent reaches the verifier over
mTLS with the certificate the stack issued. Then SIGINT: the stack must stop
and every process it started (the firmware under MicroPython included) must
be gone. The MFP profile (the kiosk's flows with a printer) runs with no
terminal at all (standard input closed), reads and verifies a card with PINs
sealed on the "touchscreen", and sees the card taken away and a revoked one
put on the reader by ``myna-edge sim reader`` run from another process.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc

from host.api.touch_entry import seal
from hw_sim.card import get_profile
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc
from myna.edge.v1 import verifier_pb2 as vpb
from tests.integration.controller_support import require_micropython

READY = "myna-edge dev-stack: ready"


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def _wait_line(lines: queue.Queue[str], text: str, timeout: float, seen: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"no {text!r} in time; output:\n{''.join(seen)}")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _transfer(address: str, say: object) -> tpb.Completion:
    command = tpb.TransferCommand(
        amount_yen=150_000, payee_bank_code="0001", payee_branch_code="123",
        payee_account_type=vpb.ACCOUNT_TYPE_ORDINARY, payee_account_number="1234567",
        payee_name="ヤマダ　ハナコ", remitter_name="ヤマダ　タロウ", remitter_phone="03-1234-5678",
    )  # fmt: skip
    password = get_profile("default").sign_password
    completion = None
    with grpc.insecure_channel(address) as channel:
        stub = tpb_grpc.TerminalServiceStub(channel)
        request = tpb.ExecuteRequest(request_id="first-transfer", transfer=command)
        for message in stub.Execute(request, timeout=60):
            if message.HasField("acknowledgement"):
                assert message.acknowledgement.accepted, message
            prompt = message.event.prompt
            if prompt.type == tpb.PROMPT_TYPE_SIGNING_PASSWORD:
                say(f"pad wait-entry\npad password {password}")  # type: ignore[operator]
            elif prompt.prompt_id:
                answer = tpb.AnswerPromptRequest(
                    request_id="first-transfer", prompt_id=prompt.prompt_id, confirmed=True
                )
                assert stub.AnswerPrompt(answer, timeout=5).accepted
            if message.HasField("completion"):
                completion = message.completion
    assert completion is not None
    return completion


def _wait_card(address: str, state: int) -> None:
    """Poll GetStatus until the agent reports the card in ``state`` (bounded)."""
    deadline = time.monotonic() + 15
    seen: dict[str, int] = {}
    with grpc.insecure_channel(address) as channel:
        stub = tpb_grpc.TerminalServiceStub(channel)
        while time.monotonic() < deadline:
            status = stub.GetStatus(tpb.GetStatusRequest(), timeout=5)
            seen = {d.device: d.state for d in status.devices}
            if seen.get("card") == state:
                return
            time.sleep(0.1)
    raise AssertionError(f"card never {state}: {seen}")


def test_dev_stack_first_transfer_then_ctrl_c_stops_everything(tmp_path: Path) -> None:
    require_micropython()
    out = tmp_path / "stack"
    proc = subprocess.Popen(
        [sys.executable, "-m", "myna_edge", "dev-stack", "--out", str(out)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()

    def say(text: str) -> None:
        assert proc.stdin is not None
        proc.stdin.write(text + "\n")
        proc.stdin.flush()

    pids: list[int] = []
    try:
        _wait_line(lines, READY, 180, seen)
        facts = json.loads((out / "dev-stack.json").read_text(encoding="utf-8"))
        pids = [facts[name]["pid"] for name in ("verifier", "controller", "printer", "agent")]
        pids.append(facts["controller"]["firmware_pid"])
        printed = "".join(seen)
        for pid in pids:
            assert f"{pid}" in printed  # the PIDs are printed
        assert 'profile = "atm"' in printed  # and the terminal.toml
        toml = (out / "terminal.toml").read_text(encoding="utf-8")
        assert "certificate = " in toml  # mTLS to the verifier, no insecure_dev
        assert "insecure_dev" not in toml

        done = _transfer(facts["agent"]["address"], say)
        assert done.code == tpb.COMPLETION_CODE_SUCCESS, done
        assert done.transfer.authorization_id
        receipt = out / "receipts" / "receipt-0001.txt"  # the printer simulator printed it
        deadline = time.monotonic() + 10
        while not receipt.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receipt.exists()

        # the card is taken away and put back from outside the agent's process
        say("remove")
        _wait_card(facts["agent"]["address"], tpb.DEVICE_STATE_NO_DEVICE)
        say("insert")
        _wait_card(facts["agent"]["address"], tpb.DEVICE_STATE_ONLINE)

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=90) == 0
        _wait_line(lines, "stopped verifier", 10, seen)
        deadline = time.monotonic() + 10
        while not all(map(_gone, pids)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [pid for pid in pids if not _gone(pid)] == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in pids:  # never leave a child behind, whatever failed
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def _read_card(address: str, profile: str) -> tuple[list[int], tpb.Completion]:
    """Kiosk read with VerifyCard: PINs typed on the touchscreen, sealed to each prompt's key."""
    pins = {
        tpb.PROMPT_TYPE_AUTH_PIN: get_profile(profile).auth_pin,
        tpb.PROMPT_TYPE_CARD_INFO_PIN: get_profile(profile).text_pin,
    }
    prompts: list[int] = []
    completion = None
    rid = f"read-{profile}"
    with grpc.insecure_channel(address) as channel:
        stub = tpb_grpc.TerminalServiceStub(channel)
        command = tpb.ReadCardCommand(read_basic_four=True, verify_card=True)
        for message in stub.Execute(tpb.ExecuteRequest(request_id=rid, read_card=command), 60):
            if message.HasField("acknowledgement"):
                assert message.acknowledgement.accepted, message
            prompt = message.event.prompt
            if message.event.HasField("prompt"):
                prompts.append(prompt.type)
            if prompt.type in pins and prompt.prompt_id:
                entry = seal(
                    prompt.entry_public_key, rid, prompt.prompt_id, pins[prompt.type].encode()
                )
                answer = tpb.AnswerPromptRequest(
                    request_id=rid, prompt_id=prompt.prompt_id, touch_entry=entry
                )
                assert stub.AnswerPrompt(answer, timeout=5).accepted
            elif prompt.prompt_id:
                answer = tpb.AnswerPromptRequest(
                    request_id=rid, prompt_id=prompt.prompt_id, confirmed=True
                )
                assert stub.AnswerPrompt(answer, timeout=5).accepted
            if message.HasField("completion"):
                completion = message.completion
    assert completion is not None
    return prompts, completion


def _sim_reader(*args: str) -> None:
    """``myna-edge sim reader ...`` as its own process: the card moves from outside the stack."""
    subprocess.run(
        [sys.executable, "-m", "myna_edge", "sim", "reader", *args],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def test_dev_stack_mfp_without_a_terminal_kiosk_flows_and_card_moved_from_outside(
    tmp_path: Path,
) -> None:
    # No terminal: standard input is /dev/null (closed at once), which is not a stop.
    out = tmp_path / "stack"
    proc = subprocess.Popen(
        [sys.executable, "-m", "myna_edge", "dev-stack", "--out", str(out), "--profile", "mfp"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    pids: list[int] = []
    try:
        _wait_line(lines, READY, 180, seen)
        facts = json.loads((out / "dev-stack.json").read_text(encoding="utf-8"))
        assert (facts["profile"], facts["agent_profile"]) == ("mfp", "kiosk")
        assert "controller" not in facts  # no PIN pad: secrets are typed on the touchscreen
        pids = [facts[name]["pid"] for name in ("verifier", "printer", "agent")]
        printed = "".join(seen)
        assert all(f"pid {pid}" in printed for pid in pids)
        assert 'terminal_id = "mfp-01"' in printed
        address, slot, home = (
            facts["agent"]["address"], facts["reader"]["slot"], facts["reader"]["sim_home"]
        )  # fmt: skip
        with grpc.insecure_channel(address) as channel:
            stub = tpb_grpc.TerminalServiceStub(channel)
            caps = stub.GetCapabilities(tpb.GetCapabilitiesRequest(), timeout=5)
        assert (caps.pin_reset, caps.touchscreen_secrets, caps.transfer) == (True, True, False)
        assert caps.receipt_printer

        # VerifyCard over mTLS against the exported test PKI: the card is accepted
        prompts, done = _read_card(address, "default")
        assert done.code == tpb.COMPLETION_CODE_SUCCESS, done
        assert done.read_card.card_verified
        assert tpb.PROMPT_TYPE_AUTH_PIN in prompts

        # another process takes the card away and puts a revoked one on the reader
        _sim_reader("remove", slot, "--home", home)
        _wait_card(address, tpb.DEVICE_STATE_NO_DEVICE)
        _sim_reader("insert", slot, "--profile", "revoked", "--home", home)
        _wait_card(address, tpb.DEVICE_STATE_ONLINE)
        _, done = _read_card(address, "revoked")
        assert done.reason == tpb.COMPLETION_REASON_CARD_REVOKED, done
        assert "失効" in done.message.ja

        assert proc.poll() is None  # still up although its standard input closed long ago
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=90) == 0
        _wait_line(lines, "stopped verifier", 10, seen)
        deadline = time.monotonic() + 10
        while not all(map(_gone, pids)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [pid for pid in pids if not _gone(pid)] == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in pids:
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.stdout is not None:
            proc.stdout.close()


def test_dev_stack_refuses_an_unknown_card_before_starting_anything(tmp_path: Path) -> None:
    out = tmp_path / "stack"
    done = subprocess.run(
        [sys.executable, "-m", "myna_edge", "dev-stack", "--out", str(out), "--card", "nope"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "'nope'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()  # nothing written, nothing started
