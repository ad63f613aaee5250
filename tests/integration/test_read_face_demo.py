# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo --flow counter`` as a user runs it: the result screen, the photo, the record."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from PIL import Image

from hw_sim.card import get_profile


def test_counter_demo_shows_the_result_screen(sim_home_dir: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "myna_edge", "demo", "--flow", "counter", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "MYNA_EDGE_SIM_HOME": str(sim_home_dir)},
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    profile = get_profile("default")
    assert "判定 verdict:      真正なカード (genuine)" in out
    assert f"氏名 name:         {profile.person.name}" in out
    assert "有効期限 expiry:   2035-01-01" in out
    assert "=> completed (verdict genuine)" in out
    for secret in (profile.verification_code_b, profile.person.my_number):
        assert secret not in out + result.stderr
    with Image.open(tmp_path / "counter-photo.png") as photo:
        assert (photo.format, photo.mode) == ("PNG", "L")
    record_file = tmp_path / "aml-checks.jsonl"
    assert stat.S_IMODE(record_file.stat().st_mode) == 0o600
    (record,) = [json.loads(line) for line in record_file.read_text().splitlines()]
    assert record["verdict"] == "genuine"
    assert record["photo_compared"] is True
    assert profile.person.my_number not in record_file.read_text()
