# SPDX-License-Identifier: Apache-2.0
"""``deploy/prometheus``: promtool checks the scrape config and rules, and runs their unit tests.

``promtool test rules`` feeds each alert the series that must fire it and
the ones that must not (``myna-edge.rules.test.yml``); a rule whose
expression, ``for`` or annotations drift fails here.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.prerequisites import missing_prerequisite

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"
ALERTS = (
    "MynaVerifierDown",
    "MynaVerifierErrorRatio",
    "MynaVerifierLatencyP99",
    "MynaOcspUnreachable",
    "MynaTerminalOffline",
    "MynaTerminalCannotReachVerifier",
    "MynaPrinterOutOfPaper",
    "MynaJournalBacklog",
    "MynaMunicipalityUnreachable",
    "MynaIssuanceOutboxBacklog",
    "MynaIssuanceOutboxGaveUp",
)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        missing_prerequisite("promtool (Debian package prometheus) is not installed")
    return subprocess.run(
        [binary, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=120, check=False
    )


def test_rules_check() -> None:
    done = _promtool("check", "rules", "myna-edge.rules.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in done.stdout


def test_scrape_config_check() -> None:
    done = _promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_unit_tests() -> None:
    done = _promtool("test", "rules", "myna-edge.rules.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.parametrize("alert", ALERTS)
def test_every_alert_is_unit_tested_and_documented(alert: str) -> None:
    tests = (DEPLOY / "myna-edge.rules.test.yml").read_text(encoding="utf-8")
    # the operators' page of the manual says what to do for each alert
    operators = (DEPLOY.parents[1] / "docs" / "operators.md").read_text(encoding="utf-8")
    assert f"alertname: {alert}" in tests
    assert alert in operators


def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    # the unit tests can fail: a changed expected annotation is caught
    shutil.copy(DEPLOY / "myna-edge.rules.yml", tmp_path)
    text = (DEPLOY / "myna-edge.rules.test.yml").read_text(encoding="utf-8")
    (tmp_path / "bad.test.yml").write_text(text.replace("1.333%", "9.999%"), encoding="utf-8")
    binary = shutil.which("promtool")
    if binary is None:
        missing_prerequisite("promtool (Debian package prometheus) is not installed")
    done = subprocess.run(
        [binary, "test", "rules", "bad.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
