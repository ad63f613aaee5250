# SPDX-License-Identifier: Apache-2.0
"""The exactly-once models (issue 20): spin verifies them, rejects each seeded bug,
and their journaled steps agree with the agent's code and crash campaign.

Bound 1 (one crash, one network fault) keeps the whole file well under a
minute on two cores; ``myna-edge models check --bound 2`` qualifies a build.
The transfer is verified with and without its old timing assumption
(``NO_TTL_ASSUMPTION``): since late completion (issue 20) it needs none, and
a witness shows spin really reaches a commit after the TTL.
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
from myna_edge.models import (
    MODELS,
    MODELS_DIR,
    Bug,
    Model,
    Run,
    Variant,
    check,
    model_steps,
    steps_header,
)
from tests.prerequisites import missing_prerequisite

_ROOT = Path(__file__).resolve().parents[2]
_FLOWS = _ROOT / "host" / "flows"
#: The flow modules that journal each protocol's steps.
_FLOW_FILES = {
    "transfer": ("transfer.py", "settle.py", "receipt.py"),
    "issuance": ("issue.py", "issue_paid.py", "issue_effects.py", "issue_settle.py"),
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


def _variant_id(variant: Variant) -> str:
    return "-".join(m.lower() for m in variant) or "as-assumed"


@pytest.mark.usefixtures("spin_tools")
@pytest.mark.parametrize("run", list(Run), ids=lambda r: r.value)
@pytest.mark.parametrize(
    ("model", "variant"),
    [(model, variant) for model in MODELS for variant in model.variants],
    ids=lambda v: v.name if isinstance(v, Model) else _variant_id(v),
)
def test_model_verifies(model: Model, variant: Variant, run: Run) -> None:
    result = check(model, run=run, bound=_BOUND, variant=variant)
    assert result.errors == 0, result.output[-3000:]
    assert result.states > 10_000  # the faults really branch the search
    assert "Search not completed" not in result.output


def test_the_transfer_is_verified_without_the_ttl_assumption() -> None:
    assert ("NO_TTL_ASSUMPTION",) in _model("transfer").variants


@pytest.mark.usefixtures("spin_tools")
@pytest.mark.parametrize(
    ("model", "bug"),
    [(model, bug) for model in MODELS for bug in model.bugs],
    ids=lambda v: v.macro if isinstance(v, Bug) else v.name,
)
def test_seeded_bug_is_rejected_with_a_counterexample(model: Model, bug: Bug) -> None:
    result = check(model, run=bug.run, bound=_BOUND, bug=bug.macro, variant=bug.variant)
    assert result.errors > 0, f"{bug.macro} not rejected: {bug.breaks}"
    assert bug.evidence in result.output, result.output[-3000:]


@pytest.mark.usefixtures("spin_tools")
def test_the_old_sweep_is_correct_only_under_the_ttl_assumption() -> None:
    # Before issue 20 the sweep reversed; spin accepts that only if the TTL
    # outlasts a dispense, a restart and an outage (the assumption dropped above).
    result = check(_model("transfer"), run=Run.SAFETY, bound=_BOUND, bug="BUG_SWEEP_REVERSES")
    assert result.errors == 0, result.output[-3000:]


@pytest.mark.usefixtures("spin_tools")
@pytest.mark.parametrize(
    ("model", "witness"),
    [(model, w) for model in MODELS for w in model.witnesses],
    ids=lambda v: v.macro if isinstance(v, Bug) else v.name,
)
def test_witness_is_reached(model: Model, witness: Bug) -> None:
    result = check(model, run=witness.run, bound=_BOUND, bug=witness.macro, variant=witness.variant)
    assert result.errors > 0, f"{witness.macro} not reached: the check would be vacuous"
    assert witness.evidence in result.output, result.output[-3000:]


@pytest.mark.usefixtures("spin_tools")
def test_no_late_commit_is_reachable_under_the_ttl_assumption() -> None:
    result = check(_model("transfer"), run=Run.SAFETY, bound=_BOUND, bug="WITNESS_LATE_COMMIT")
    assert result.errors == 0, result.output[-3000:]
