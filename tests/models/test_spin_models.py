# SPDX-License-Identifier: Apache-2.0
"""The exactly-once models (issue 20): spin verifies them, rejects each seeded bug,
and their journaled steps agree with the agent's code and crash campaign.

Bound 1 (one crash, one network fault) keeps the whole file well under a
minute on two cores; ``myna-edge models check --bound 2`` qualifies a build.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from host.agent import crash_hook
from host.journal.records import Effect, Phase
from host.journal.steps import ISSUANCE_STEPS, TRANSFER_STEPS, hook_spec, step_name
from myna_edge.chaos.crash import HOOK_STEPS
from myna_edge.models import MODELS, MODELS_DIR, Model, Run, check, model_steps, steps_header
from tests.prerequisites import missing_prerequisite

_ROOT = Path(__file__).resolve().parents[2]
_FLOWS = _ROOT / "host" / "flows"
#: The flow modules that journal each protocol's steps.
_FLOW_FILES = {
    "transfer": ("transfer.py", "settle.py", "receipt.py"),
    "issuance": ("issue.py", "issue_settle.py"),
}
_PREFIXES = {"transfer": ("transfer.", "receipt."), "issuance": ("issue.",)}
_BOUND = 1


def _model(name: str) -> Model:
    return next(model for model in MODELS if model.name == name)


@pytest.fixture(scope="module")
def spin_tools() -> None:
    for tool in ("spin", "gcc"):
        if shutil.which(tool) is None:
            missing_prerequisite(f"{tool} (Debian package {tool}: scripts/debian-packages.txt)")


def test_generated_step_table_is_current() -> None:
    assert (MODELS_DIR / "steps.pml").read_text() == steps_header()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_model_journals_exactly_the_listed_steps(model: Model) -> None:
    listed = {step_name(step) for step in model.steps}
    assert model_steps(model.path.read_text()) == listed


@pytest.mark.parametrize("name", sorted(_FLOW_FILES))
def test_flows_journal_exactly_the_listed_effects(name: str) -> None:
    used: set[Effect] = set()
    for file in _FLOW_FILES[name]:
        text = (_FLOWS / file).read_text()
        used |= {Effect[member] for member in re.findall(r"\bEffect\.([A-Z_]+)\b", text)}
    listed = {effect for effect, _ in _model(name).steps}
    protocol = {effect for effect in Effect if effect.value.startswith(_PREFIXES[name])}
    assert used == listed == protocol


def test_every_step_is_a_crash_hook_point() -> None:
    assert set(HOOK_STEPS) <= set(TRANSFER_STEPS)
    for step in (*TRANSFER_STEPS, *ISSUANCE_STEPS):
        effect, phase, nth = hook_spec(step).split(":")
        assert (Effect(effect), Phase(phase), int(nth)) == (*step, 1)
    assert crash_hook.KILL_AT_ENV == "MYNA_EDGE_TEST_KILL_AT"


def test_model_step_scanner_sees_a_step_added_on_one_side() -> None:
    text = _model("transfer").path.read_text() + "\nJOURNAL(TRANSFER_EXTRA_INTENT);\n"
    assert "TRANSFER_EXTRA_INTENT" in model_steps(text)


@pytest.mark.usefixtures("spin_tools")
@pytest.mark.parametrize("run", list(Run), ids=lambda r: r.value)
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_model_verifies(model: Model, run: Run) -> None:
    result = check(model, run=run, bound=_BOUND)
    assert result.errors == 0, result.output[-3000:]
    assert result.states > 10_000  # the faults really branch the search
    assert "Search not completed" not in result.output


@pytest.mark.usefixtures("spin_tools")
@pytest.mark.parametrize(
    ("model", "bug"),
    [(model, bug) for model in MODELS for bug in model.bugs],
    ids=lambda v: getattr(v, "macro", getattr(v, "name", "")),
)
def test_seeded_bug_is_rejected_with_a_counterexample(model: Model, bug: object) -> None:
    from myna_edge.models import Bug

    assert isinstance(bug, Bug)
    result = check(model, run=bug.run, bound=_BOUND, bug=bug.macro)
    assert result.errors > 0, f"{bug.macro} not rejected: {bug.breaks}"
    assert bug.evidence in result.output, result.output[-3000:]
