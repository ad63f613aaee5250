# SPDX-License-Identifier: Apache-2.0
"""The issuance incidents campaign at a bounded size, and each invariant seen to fail.

One campaign (three MFP stations, each with the ccTalk bus emulator on a
pty and its own CUPS + ``ippeveprinter`` print engine; centre and
municipality over mTLS; the municipality killed mid-run) runs for the
module; its evidence must pass ``check_invariants``. Then copies of that
evidence are corrupted the way each incident would have shown, and the
check must catch every one.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from hw_sim.card import get_profile
from hw_sim.printing import engine_tools
from myna_edge.chaos import SCENARIOS, ChaosInvariantError
from myna_edge.chaos.issuance.evidence import CashCount, Evidence, check_invariants
from myna_edge.chaos.issuance.leaks import find_leaks
from myna_edge.chaos.issuance.scenario import run_campaign
from tests.prerequisites import missing_prerequisite

SEED = 20231214
COUNT = 9


@pytest.fixture(scope="module")
def campaign(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, object], Evidence]:
    missing = [tool for tool, path in engine_tools().items() if path is None]
    if importlib.util.find_spec("cups") is None:
        missing.append("pycups")
    if missing:
        missing_prerequisite(f"print engine prerequisites missing: {', '.join(missing)}")
    return run_campaign(SEED, COUNT, tmp_path_factory.mktemp("chaos-issuance"))


@pytest.fixture
def evidence(campaign: tuple[dict[str, object], Evidence]) -> Evidence:
    """The campaign's evidence, which must hold before a copy is corrupted."""
    check_invariants(campaign[1])
    return campaign[1]


def test_the_scenario_is_registered() -> None:
    assert SCENARIOS["issuance"] == "myna_edge.chaos.issuance.scenario:run_scenario"


def test_the_campaign_holds_its_invariants(campaign: tuple[dict[str, object], Evidence]) -> None:
    figures, evidence = campaign
    check_invariants(evidence)
    assert figures["requests"] == len(evidence.requests) >= COUNT
    faults = figures["faults"]
    assert isinstance(faults, dict)
    assert all(faults[name] >= 1 for name in ("abort", "hang", "paper_out", "walk_away"))
    assert figures["municipality_killed"] == 1
    assert len(evidence.printed) >= 3  # documents reached paper despite the faults
    assert evidence.not_printed >= 2  # the aborted and the hung job reached the printer
    assert any(state == "REFUNDED" for state, *_ in evidence.centre.values())
    stations = {r.station for r in evidence.requests}
    assert len(stations) == 3


def test_a_document_of_another_holder_is_caught(evidence: Evidence) -> None:
    job = evidence.printed[0]
    other = next(r.holder for r in evidence.requests if r.holder not in job.names)
    swapped = dataclasses.replace(job, names=(other,))
    corrupt = dataclasses.replace(evidence, printed=(swapped, *evidence.printed[1:]))
    with pytest.raises(ChaosInvariantError, match=r"holder: .* someone other than the card holder"):
        check_invariants(corrupt)


def test_a_page_that_is_not_the_issued_document_is_caught(evidence: Evidence) -> None:
    job = dataclasses.replace(evidence.printed[0], sha256=bytes(32))
    corrupt = dataclasses.replace(evidence, printed=(job, *evidence.printed[1:]))
    with pytest.raises(ChaosInvariantError, match="not the document the centre issued"):
        check_invariants(corrupt)


def test_an_unsigned_code_is_caught(evidence: Evidence) -> None:
    job = dataclasses.replace(evidence.printed[0], signature_ok=False)
    corrupt = dataclasses.replace(evidence, printed=(job, *evidence.printed[1:]))
    with pytest.raises(ChaosInvariantError, match="no valid code"):
        check_invariants(corrupt)


def test_a_document_printed_twice_is_caught(evidence: Evidence) -> None:
    again = dataclasses.replace(evidence.printed[0], job_id=999)
    corrupt = dataclasses.replace(evidence, printed=(*evidence.printed, again))
    with pytest.raises(ChaosInvariantError, match=r"once: .* printed more than once"):
        check_invariants(corrupt)


def test_a_fee_kept_without_a_document_is_caught(evidence: Evidence) -> None:
    first = evidence.cash[0]
    cash = (CashCount(first.station, first.kept_yen + 200), *evidence.cash[1:])
    corrupt = dataclasses.replace(evidence, cash=cash)
    with pytest.raises(ChaosInvariantError, match=r"money: .* kept JPY"):
        check_invariants(corrupt)


def test_a_centre_charge_without_a_print_is_caught(evidence: Evidence) -> None:
    serial, record = next(
        (serial, record) for serial, record in evidence.centre.items() if record[0] == "REFUNDED"
    )
    centre = {**evidence.centre, serial: ("CHARGED", *record[1:])}
    with pytest.raises(ChaosInvariantError, match=f"money: the centre holds {serial}"):
        check_invariants(dataclasses.replace(evidence, centre=centre))


def test_a_municipal_void_of_a_printed_document_is_caught(evidence: Evidence) -> None:
    serial = evidence.printed[0].title
    municipal = {**evidence.municipal, serial: "VOID"}
    with pytest.raises(ChaosInvariantError, match=f"municipality holds printed {serial}"):
        check_invariants(dataclasses.replace(evidence, municipal=municipal))


def test_a_flow_that_charged_without_paper_is_caught(evidence: Evidence) -> None:
    index, request = next(
        (i, r) for i, r in enumerate(evidence.requests) if r.serial and not r.printed
    )
    requests = list(evidence.requests)
    requests[index] = dataclasses.replace(request, charged=True)
    with pytest.raises(ChaosInvariantError, match=f"request {request.number} .* charged=True"):
        check_invariants(dataclasses.replace(evidence, requests=tuple(requests)))


def test_the_mfp_side_was_scanned_and_held_no_secret(
    campaign: tuple[dict[str, object], Evidence],
) -> None:
    figures, evidence = campaign
    assert evidence.leaks == ()
    assert isinstance(figures["secrets_files_scanned"], int)
    assert figures["secrets_files_scanned"] >= 7  # 3 journals, 3 electronic journals, the log


def test_a_pin_or_a_name_on_the_mfp_side_is_caught(tmp_path: Path) -> None:
    profile = get_profile("default")
    (tmp_path / "mfp-01-ej.txt").write_text(
        f"ISSUE-END serial=131016-2026-000001 pin={profile.auth_pin}\n", encoding="utf-8"
    )
    (tmp_path / "campaign.log").write_text(
        f"printing for {profile.person.name}\nListDocuments OK {profile.auth_pin}.90 ms\n",
        "utf-8",
    )
    leaks = find_leaks(tmp_path, ["default"])
    assert len([leak for leak in leaks if leak.startswith("campaign.log: default:auth_pin")]) == 0
    assert "mfp-01-ej.txt: default:auth_pin (ascii)" in leaks
    assert "campaign.log: default:name (utf-8)" in leaks
    assert all(profile.auth_pin not in leak for leak in leaks)  # labels, never values


def test_a_leak_fails_the_campaign(evidence: Evidence) -> None:
    corrupt = dataclasses.replace(evidence, leaks=("mfp-01-ej.txt: default:auth_pin (ascii)",))
    with pytest.raises(ChaosInvariantError, match="secrets: found on the MFP side"):
        check_invariants(corrupt)
