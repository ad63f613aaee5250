# SPDX-License-Identifier: Apache-2.0
"""Model checking the exactly-once protocols with spin (issue 20).

Why a generator: the Promela models in ``models/`` journal the steps listed in
``host.journal.steps`` (the agent's crash hook and campaign use the same
list), so the models' step table, ``steps.pml``, is generated from it, never
typed twice. Each property has a seeded bug behind a ``#define`` switch in
the model; ``write_model`` writes the copy with the switch on, and a check of
that copy must fail with a counterexample, which proves the property can
fail.

Assumptions are switches too: a model lists its ``variants`` (the transfer:
with and without ``NO_TTL_ASSUMPTION``), each correct model is verified in
every variant, and a bug names the variant it must be caught in (a sweep that
reverses, the design before issue 20, is correct only under the TTL
assumption, so it is checked without it). A witness (``WITNESS_*``) is an
assertion that spin must violate, to show a behaviour is really explored.

A check is ``spin -a`` + ``gcc`` + ``pan`` in a scratch directory: the safety
run checks assertions and invalid end states (no never claim); a liveness run
checks one LTL formula for acceptance cycles under weak fairness.
``myna-edge models check [--bound N]`` runs them all at a larger bound.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from host.journal.steps import ISSUANCE_STEPS, TRANSFER_STEPS, Step, step_name

__all__ = [
    "MODELS",
    "MODELS_DIR",
    "Bug",
    "CheckResult",
    "Model",
    "ModelCheckError",
    "Run",
    "Variant",
    "add_parser",
    "check",
    "model_steps",
    "steps_header",
    "write_model",
]

#: The models' folder (top level of the repository).
MODELS_DIR: Final = Path(__file__).resolve().parent.parent / "models"
#: Journal writes in a model: ``JOURNAL(TRANSFER_COMMIT_INTENT)``, and the
#: outcome writes done atomically with their data: ``s[ISSUE_PRINT_OUTCOME] = 1``.
_JOURNALED: Final = re.compile(
    r"JOURNAL\(([A-Z][A-Z_]+)\)|(?:journal|\.s)\[([A-Z][A-Z_]+)\]\s*=\s*1"
)
_STATES: Final = re.compile(r"^\s*(\d+) states, stored", re.MULTILINE)
_ERRORS: Final = re.compile(r"errors: (\d+)")


class ModelCheckError(RuntimeError):
    """spin, gcc or pan failed to run (not a property violation)."""


class Run(StrEnum):
    """What a check verifies."""

    SAFETY = "safety"  # assertions and invalid end states
    LIVENESS = "settles"  # the LTL formula ``settles``, under weak fairness


#: Macros given to spin for one variant of a model (``-DNAME``), e.g. an assumption dropped.
Variant = tuple[str, ...]


@dataclass(frozen=True)
class Bug:
    """A seeded bug: the ``#define`` that switches it on, the run that must fail."""

    macro: str
    run: Run
    breaks: str  # the property, in words
    evidence: str  # what pan's report of the counterexample must contain
    variant: Variant = ()  # where it must be caught (assumptions dropped)


@dataclass(frozen=True)
class Model:
    """One Promela model, the steps it must journal and its seeded bugs."""

    name: str
    steps: tuple[Step, ...]
    bugs: tuple[Bug, ...]
    variants: tuple[Variant, ...] = ((),)  # each correct run is verified in every one
    #: Behaviours spin must reach (a ``WITNESS_*`` assertion it must violate):
    #: proof that a property is not verified vacuously.
    witnesses: tuple[Bug, ...] = ()

    @property
    def path(self) -> Path:
        return MODELS_DIR / f"{self.name}.pml"


#: The transfer without its timing assumption (the TTL may pass at any moment).
NO_TTL: Final[Variant] = ("NO_TTL_ASSUMPTION",)

MODELS: Final = (
    Model(
        "transfer",
        TRANSFER_STEPS,
        (
            Bug(
                "BUG_SWEEP_WITHOUT_STATE_GUARD",
                Run.SAFETY,
                "never both committed and reversed: a settled transfer never changes",
                "assertion violated (( !(ever_committed)||(vstate==2))",
            ),
            Bug(
                "BUG_SWEEP_REVERSES",
                Run.SAFETY,
                "committed iff the cash moved, whatever the TTL",
                "assertion violated (( !(ever_committed)||(atm==1))",
                variant=NO_TTL,
            ),
            Bug(
                "BUG_DECIDE_WITHOUT_ASKING",
                Run.SAFETY,
                "committed iff the cash moved",
                "assertion violated (( !(ever_committed)||(atm==1))",
            ),
            Bug(
                "BUG_OUTCOME_BEFORE_EFFECT",
                Run.LIVENESS,
                "every authorisation settles",
                "acceptance cycle",
            ),
        ),
        variants=((), NO_TTL),
        witnesses=(
            Bug(
                "WITNESS_LATE_COMMIT",
                Run.SAFETY,
                "a commit after the TTL is reached (and the properties hold)",
                "assertion violated  !(late_committed)",
                variant=NO_TTL,
            ),
        ),
    ),
    Model(
        "issuance",
        ISSUANCE_STEPS,
        (
            Bug(
                "BUG_RELEASE_ONLY_PRINT_LOCK",
                Run.SAFETY,
                "only to the holder who asked",
                "assertion violated ((prints[t]==0)||(printed_for[t]==t))",
            ),
            Bug(
                "BUG_REPRINT_ON_RECOVERY",
                Run.SAFETY,
                "at most one document per request",
                "assertion violated (prints[t]<=1)",
            ),
            Bug(
                "BUG_CHARGE_ON_TIMEOUT",
                Run.SAFETY,
                "charged iff printed, else refunded",
                "assertion violated ((((cstate[t]!=1)",
            ),
            Bug(
                "BUG_PRINT_UNPAID",
                Run.SAFETY,
                "a document voided when unpaid is never printed",
                "assertion violated (((prints[t]==0)||paid[t])",
            ),
            Bug(
                "BUG_SKIP_VOID",
                Run.SAFETY,
                "charged iff printed, else refunded: an unpaid request is voided",
                "assertion violated ((((cstate[t]!=1)",
            ),
        ),
        witnesses=(
            Bug(
                "WITNESS_VOID_AFTER_ANSWER",
                Run.SAFETY,
                "the request answered before the payment ends unpaid (the void path)",
                "assertion violated  !(((jn[t].s[5]==1)&& !(paid[t])))",
            ),
        ),
    ),
)


@dataclass(frozen=True)
class CheckResult:
    """One pan run: its errors (counterexamples), states stored and time."""

    model: str
    run: Run
    bug: str
    bound: int
    variant: Variant
    errors: int
    states: int
    seconds: float
    output: str


def steps_header() -> str:
    """``steps.pml``: one ``#define`` per journaled step, indices in flow order."""
    lines = ["/* generated by myna_edge.models from host/journal/steps.py: do not edit */"]
    for label, steps in (("TRANSFER", TRANSFER_STEPS), ("ISSUANCE", ISSUANCE_STEPS)):
        lines += [f"#define {step_name(step)} {index}" for index, step in enumerate(steps)]
        lines.append(f"#define N_{label}_STEPS {len(steps)}")
    return "\n".join(lines) + "\n"


def model_steps(text: str) -> set[str]:
    """The step names a model's text journals."""
    return {a or b for a, b in _JOURNALED.findall(text)}


def write_model(model: Model, directory: Path, bug: str = "") -> Path:
    """Write ``model`` (with ``bug`` switched on, if given) and ``steps.pml`` to ``directory``.

    Raises:
        ValueError: ``bug`` is not one of the model's seeded bugs or witnesses.
    """
    if bug and bug not in {b.macro for b in (*model.bugs, *model.witnesses)}:
        raise ValueError(f"{model.name} has no seeded bug or witness {bug}")
    (directory / "steps.pml").write_text(steps_header())
    text = model.path.read_text()
    if bug:
        text = f"#define {bug} 1\n{text}"
    target = directory / f"{model.name}{'_' + bug.lower() if bug else ''}.pml"
    target.write_text(text)
    return target


def _run(argv: list[str], cwd: Path, timeout: float) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - our own argv (spin, gcc, pan), no shell
            argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelCheckError(f"{argv[0]} failed: {exc}") from exc
    if done.returncode != 0 and argv[0] != "./pan":
        raise ModelCheckError(f"{argv[0]} exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout + done.stderr


def check(
    model: Model,
    *,
    run: Run,
    bound: int = 1,
    bug: str = "",
    variant: Variant = (),
    timeout: float = 600.0,
) -> CheckResult:
    """Verify ``model`` at ``bound`` crashes and ``bound`` network faults, ``variant`` defined.

    Raises:
        ModelCheckError: spin or gcc is missing or failed, or pan did not finish.
    """
    for tool in ("spin", "gcc"):
        if shutil.which(tool) is None:
            raise ModelCheckError(f"{tool} is not installed (Debian: apt-get install {tool})")
    with tempfile.TemporaryDirectory(prefix="myna-model-") as scratch:
        directory = Path(scratch)
        source = write_model(model, directory, bug)
        bounds = [f"-DMAXCRASH={bound}", f"-DMAXFAULT={bound}", *(f"-D{m}" for m in variant)]
        _run(["spin", *bounds, "-a", source.name], directory, timeout)
        # NFAIR: weak fairness over all the model's processes (7 in issuance).
        flags = ["-DNOCLAIM"] if run is Run.SAFETY else ["-DNFAIR=4"]
        _run(["gcc", "-w", "-O1", *flags, "-o", "pan", "pan.c"], directory, timeout)
        pan = ["./pan", "-m1000000"] + ([] if run is Run.SAFETY else ["-a", "-f", "-N", run.value])
        started = time.monotonic()
        output = _run(pan, directory, timeout)
        seconds = time.monotonic() - started
    errors, states = _ERRORS.search(output), _STATES.search(output)
    unfinished = "Search not completed" in output and errors is not None and errors[1] == "0"
    if errors is None or states is None or unfinished:
        raise ModelCheckError(f"pan did not finish: {output[-2000:]}")
    return CheckResult(
        model=model.name,
        run=run,
        bug=bug,
        bound=bound,
        variant=variant,
        errors=int(errors[1]),
        states=int(states[1]),
        seconds=seconds,
        output=output,
    )


def _check_all(args: argparse.Namespace) -> int:
    failed = 0
    for model in MODELS:
        for variant in model.variants:
            for run in Run:
                result = check(model, run=run, bound=args.bound, variant=variant)
                failed += result.errors > 0
                print(
                    f"{model.name:9} {run.value:8} {_said(variant):18} bound {args.bound}: "
                    f"errors {result.errors}, {result.states} states, {result.seconds:.1f} s"
                )
        for bug in model.bugs:
            result = check(model, run=bug.run, bound=args.bound, bug=bug.macro, variant=bug.variant)
            # At larger bounds pan may meet another property's counterexample
            # first (it stops at the first): still a rejection, said as such.
            failed += result.errors == 0
            first = next((ln for ln in result.output.splitlines() if ln.startswith("pan:1:")), "")
            verdict = "NOT REJECTED" if result.errors == 0 else "rejected"
            if result.errors and bug.evidence not in result.output:
                verdict += f" by another counterexample ({first})"
            print(f"{model.name:9} {bug.macro}: {verdict} ({bug.breaks})")
        for witness in model.witnesses:
            result = check(
                model, run=witness.run, bound=args.bound, bug=witness.macro, variant=witness.variant
            )
            reached = result.errors > 0 and witness.evidence in result.output
            failed += not reached
            verdict = "reached" if reached else "NOT REACHED"
            print(f"{model.name:9} {witness.macro}: {verdict} ({witness.breaks})")
    return 1 if failed else 0


def _said(variant: Variant) -> str:
    return " ".join(variant) or "-"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``myna-edge models check [--bound N]``."""
    parser = sub.add_parser("models", help="model-check the exactly-once protocols with spin")
    models_sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    checking = models_sub.add_parser("check", help="verify every model and reject every seeded bug")
    checking.add_argument("--bound", type=int, default=2, help="crashes and faults (default 2)")
    checking.set_defaults(handler=_check_all)
