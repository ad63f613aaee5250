# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo`` as a user runs it: all four flows, then the failure paths.

Separate processes (``python -m myna_edge demo``), the real firmware under
the MicroPython unix port for the ATM's PIN pad, the printer emulator, the
MFP's ccTalk bus emulator and CUPS print engine, and an in-process verifier
and municipality; the test reads the story and the receipts folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hw_sim.card import get_profile
from tests.integration.controller_support import require_micropython


def demo(*args: str, home: Path, out: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "myna_edge", "demo", "--out", str(out), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "MYNA_EDGE_SIM_HOME": str(home)},
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_all_four_flows_complete(sim_home_dir: Path, tmp_path: Path) -> None:
    require_micropython()
    out = demo(home=sim_home_dir, out=tmp_path)
    profile = get_profile("default")
    assert "reading: completed; card accepted by the verifier: True" in out
    assert "transfer: completed; verifier state: COMMITTED; identity verified: True" in out
    assert "reset: completed; confirmed to the verifier: True" in out
    assert "issue: completed serial=131016-" in out
    assert "charged=True" in out
    assert out.count("\n== ") == 4
    assert "typed on the secure PIN pad" in out
    assert "[verifier] VerifyCard: accepted" in out
    assert "[verifier] AuthorizeTransfer: authorised; final state COMMITTED" in out
    assert "[verifier] ReserveReset: accepted" in out
    assert "[printer] receipt:" in out
    assert "card commands" in out
    assert profile.person.my_number not in out
    assert profile.sign_password not in out
    typed = [line for line in out.splitlines() if "[user]" in line or "[pad]" in line]
    assert len(typed) >= 7
    assert not any(c.isdigit() for line in typed for c in line)
    assert (tmp_path / "receipt-0001.txt").read_text(encoding="utf-8").count("250,000円") == 1
    assert "TRANSFER-COMMIT" in (tmp_path / "electronic-journal.txt").read_text(encoding="utf-8")
    (certificate,) = tmp_path.glob("certificate-*.pdf")
    assert certificate.read_bytes().startswith(b"%PDF")


def test_revoked_card_is_refused_by_every_flow(sim_home_dir: Path, tmp_path: Path) -> None:
    out = demo("--card", "revoked", home=sim_home_dir, out=tmp_path)
    assert "reading: refused; card accepted by the verifier: False" in out
    assert "transfer: refused; verifier state: UNSPECIFIED" in out
    assert "[verifier] AuthorizeTransfer: refused CERTIFICATE_REVOKED" in out
    assert "ReserveReset: rejected CERTIFICATE_REVOKED" in out
    assert "reset: refused; confirmed to the verifier: False; CERTIFICATE_REVOKED" in out
    assert "issue: refused serial=- fee=JPY 0 charged=False" in out
    assert not list(tmp_path.glob("certificate-*"))
    assert not (tmp_path / "receipt-0001.txt").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--flow", "transfer", "--decline"), "transfer: cancelled; verifier state: REVERSED"),
        (("--flow", "read"), "reading: completed"),
    ],
)
def test_one_flow_on_request(
    sim_home_dir: Path, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    out = demo(*args, home=sim_home_dir, out=tmp_path)
    assert expected in out
    assert out.count("\n== ") == 1


def test_a_card_without_a_signing_certificate_is_told_before_the_password(
    sim_home_dir: Path, tmp_path: Path
) -> None:
    out = demo("--flow", "transfer", "--card", "minor", home=sim_home_dir, out=tmp_path)
    assert "[agent]  result: failed  no_signing_certificate" in out
    assert "[screen] このカードには署名用電子証明書がありません" in out
    assert "[screen] This card has no signing certificate" in out
    assert "[pad]" not in out
    assert "signing password" not in out.lower()  # never prompted
    assert "振込先: ヤマダ　ハナコ" in out  # the statement in Japanese first
