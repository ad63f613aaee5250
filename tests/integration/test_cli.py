# SPDX-License-Identifier: Apache-2.0
"""The ``myna-edge`` command end to end, as a user runs it (separate processes).

Each run is a new process, so these tests also show that a virtual card
remembers its PIN counters between runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hw_sim.card import get_profile


def myna_edge(
    *args: str, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "MYNA_EDGE_SIM_HOME": str(home), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "myna_edge", *args],
        capture_output=True,
        text=True,
        env=full_env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def test_sim_cards_json_lists_profiles_with_their_test_pins(sim_home_dir: Path) -> None:
    result = myna_edge("sim", "cards", "--json", home=sim_home_dir)
    assert result.returncode == 0, result.stderr
    cards: list[dict[str, Any]] = json.loads(result.stdout)
    assert cards[0]["name"] == "default"
    names = {card["name"] for card in cards}
    assert {"default", "sign-locked", "auth-last-try", "revoked", "expired"} <= names
    for card in cards:
        assert set(card) >= {"name", "state", "description", "pins"}
        assert set(card["pins"]) == {"auth_pin", "sign_password", "text_pin"}
    assert cards[0]["pins"]["text_pin"] == get_profile("default").text_pin


def test_read_json_has_stable_fields_and_masks_the_my_number(sim_home_dir: Path) -> None:
    pin = get_profile("default").text_pin
    result = myna_edge(
        "read",
        "--reader",
        "sim://default",
        "--pin-env",
        "PIN",
        "--json",
        home=sim_home_dir,
        env={"PIN": pin},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    person = get_profile("default").person
    assert report["name"] == person.name
    assert report["address"] == person.address
    assert report["birth_date"] == person.birth_date.isoformat()
    assert report["sex"] == person.sex.value
    assert report["my_number"] == "********" + person.my_number[-4:]
    assert report["integrity"] == {"hashes_ok": True, "signature_verified": True}
    assert [c["kind"] for c in report["certificates"]] == ["auth"]
    assert person.my_number not in result.stdout + result.stderr


def test_read_show_my_number_and_sign_cert(sim_home_dir: Path) -> None:
    profile = get_profile("default")
    result = myna_edge(
        "read",
        "--reader",
        "sim://default",
        "--pin-env",
        "PIN",
        "--show-my-number",
        "--sign-cert",
        "--sign-password-env",
        "SIGNPW",
        "--json",
        home=sim_home_dir,
        env={"PIN": profile.text_pin, "SIGNPW": profile.sign_password},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["my_number"] == profile.person.my_number
    assert [c["kind"] for c in report["certificates"]] == ["auth", "sign"]


def test_wrong_pin_is_reported_and_remembered_between_runs(sim_home_dir: Path) -> None:
    profile = get_profile("default")
    wrong = "0000" if profile.text_pin != "0000" else "1111"
    try:
        before = json.loads(myna_edge("pin-status", "--json", home=sim_home_dir).stdout)
        result = myna_edge("read", "--pin-env", "PIN", home=sim_home_dir, env={"PIN": wrong})
        assert result.returncode == 1
        assert "tries left" in result.stderr
        assert wrong not in result.stderr + result.stdout
        after = json.loads(myna_edge("pin-status", "--json", home=sim_home_dir).stdout)
        text_before = next(r for r in before if r["pin"] == "text")
        text_after = next(r for r in after if r["pin"] == "text")
        assert text_after["tries_left"] == text_before["tries_left"] - 1
    finally:
        assert myna_edge("sim", "reset-card", "default", home=sim_home_dir).returncode == 0


def test_pin_status_spends_no_try(sim_home_dir: Path) -> None:
    first = myna_edge("pin-status", "--reader", "sim://auth-last-try", "--json", home=sim_home_dir)
    second = myna_edge("pin-status", "--reader", "sim://auth-last-try", "--json", home=sim_home_dir)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == json.loads(second.stdout)
    auth = next(r for r in json.loads(first.stdout) if r["pin"] == "auth")
    assert auth["tries_left"] == 1
    assert auth["state"] == "last try"


def test_no_pin_source_without_a_terminal_is_a_clear_error(sim_home_dir: Path) -> None:
    result = myna_edge("read", home=sim_home_dir)
    assert result.returncode == 1
    assert "--pin-env" in result.stderr


def test_unknown_reader_is_a_clear_error(sim_home_dir: Path) -> None:
    result = myna_edge("pin-status", "--reader", "sim://nobody", home=sim_home_dir)
    assert result.returncode == 1
    assert "nobody" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_reads_the_default_card(sim_home_dir: Path) -> None:
    result = myna_edge("demo", home=sim_home_dir)
    assert result.returncode == 0, result.stderr
    person = get_profile("default").person
    assert person.name in result.stdout
    assert "issuer signature verified" in result.stdout
    assert person.my_number not in result.stdout


def test_bench_card_suite_reports_ratios_and_the_protocol_minimum(sim_home_dir: Path) -> None:
    result = myna_edge("bench", "card", "--rounds", "1", "--json", home=sim_home_dir)
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)["card"]
    assert card["per_apdu"]["host_stack_over_raw"] > 0
    assert card["auth_certificate"]["extended"]["apdus"] == 3
    assert card["auth_certificate"]["extended_apdus_over_minimum"] == 1.0


def test_bench_rejects_unknown_suites(sim_home_dir: Path) -> None:
    result = myna_edge("bench", "nonsense", home=sim_home_dir)
    assert result.returncode == 2
    assert "nonsense" in result.stderr


def test_read_sign_cert_on_a_card_without_one_says_so_before_any_prompt(sim_home_dir: Path) -> None:
    # stdin is not a terminal and no --pin-env is given: had the command
    # prompted, it would fail "no terminal to prompt"; it must stop before.
    before = myna_edge("pin-status", "--reader", "sim://minor", "--json", home=sim_home_dir)
    result = myna_edge("read", "--reader", "sim://minor", "--sign-cert", home=sim_home_dir)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "myna-edge: no_signing_certificate"
    assert "署名用電子証明書がありません" in lines[1]
    assert "no signing certificate" in lines[2]
    assert "prompt" not in result.stderr
    after = myna_edge("pin-status", "--reader", "sim://minor", "--json", home=sim_home_dir)
    assert json.loads(after.stdout) == json.loads(before.stdout)  # no try spent
