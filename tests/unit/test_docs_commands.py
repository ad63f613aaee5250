# SPDX-License-Identifier: Apache-2.0
"""Every ``myna-edge`` command shown in the README and the manual exists (issue 25).

A reader copies commands from the ```sh blocks of ``README.md`` and the manual
(``docs/`` and the repository pages ``mkdocs.yml`` mounts): a renamed subcommand or
option must fail here, not on their machine. Each block is split into simple
commands; a command whose program is not ``myna-edge`` (make, pip, grpcurl, nfc-list
...) is another tool's and is skipped by that rule alone. For the rest, the
subcommand chain (``sim cards``, ``verifier issue-terminal-cert``) must answer
``--help`` with exit 0, and every long option shown must be one that chain's parser
knows.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from myna_edge.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^```(\w*)\s*$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SEPARATORS = {"&&", "||", ";", "|", "&"}
# The pages mkdocs.yml's hook mounts from beside the code (docs/_hooks/repo_files.py).
_MOUNTED_PAGES = ("firmware/PROTOCOL.md", "verifier/README.md", "host/api/touch-entry.md")


@dataclass(frozen=True)
class Shown:
    """One ``myna-edge`` command as a page shows it."""

    page: str
    line: int
    words: tuple[str, ...]


def manual_pages() -> list[Path]:
    """README.md, every page under docs/, and the mounted repository pages."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return pages + [ROOT / page for page in _MOUNTED_PAGES]


def sh_lines(text: str) -> list[tuple[int, str]]:
    """The logical lines of ```sh blocks (backslash continuations joined)."""
    out: list[tuple[int, str]] = []
    in_sh = False
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        fence = _FENCE.match(line.strip())
        if fence:
            in_sh = not in_sh and fence.group(1) == "sh"
            continue
        if not in_sh:
            continue
        start, head = pending if pending else (number, "")
        joined = head + line
        if joined.rstrip().endswith("\\"):
            pending = (start, joined.rstrip()[:-1] + " ")
            continue
        pending = None
        out.append((start, joined))
    return out


def simple_commands(line: str) -> list[list[str]]:
    """Split a shell line into simple commands; environment assignments dropped."""
    words = shlex.split(line, comments=True)
    commands: list[list[str]] = [[]]
    for word in words:
        if word in _SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(word)
    out = []
    for command in commands:
        while command and _ASSIGNMENT.match(command[0]):
            command = command[1:]
        if command:
            out.append(command)
    return out


def shown_commands() -> list[Shown]:
    shown = []
    for path in manual_pages():
        page = path.relative_to(ROOT).as_posix()
        for number, line in sh_lines(path.read_text(encoding="utf-8")):
            for words in simple_commands(line):
                if Path(words[0]).name == "myna-edge":  # the rule: other programs are skipped
                    shown.append(Shown(page, number, tuple(words[1:])))
    return shown


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:  # type: ignore[type-arg]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _has_positionals(parser: argparse.ArgumentParser) -> bool:
    return any(
        not action.option_strings and not isinstance(action, argparse._SubParsersAction)
        for action in parser._actions
    )


def resolve(
    parser: argparse.ArgumentParser, words: tuple[str, ...]
) -> tuple[list[str], argparse.ArgumentParser, list[str]]:
    """The subcommand chain a shown command names, its parser, and what is wrong with it."""
    problems: list[str] = []
    rest = list(words)
    # global options (-v, -vvv) come before the subcommand
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option.split("=")[0] not in parser._option_string_actions and not re.fullmatch(
            r"-v+", option
        ):
            problems.append(f"unknown global option {option}")
    chain: list[str] = []
    current = parser
    while rest and not rest[0].startswith("-"):
        sub = _subparsers(current)
        if sub is None:
            break
        word = rest[0]
        if word in sub.choices:
            chain.append(rest.pop(0))
            current = sub.choices[word]
            continue
        if not chain or not _has_positionals(current):
            problems.append(f"unknown subcommand {' '.join([*chain, word])!r}")
        break
    if not chain:
        problems.append("no subcommand")
    for word in rest:
        if word.startswith("--"):
            option = word.split("=")[0]
            if option not in current._option_string_actions:
                problems.append(f"unknown option {option} for {' '.join(chain)!r}")
    return chain, current, problems


SHOWN = shown_commands()
PARSER = build_parser()


def test_the_pages_show_myna_edge_commands() -> None:
    pages = {shown.page for shown in SHOWN}
    assert len(SHOWN) >= 40, SHOWN
    assert "README.md" in pages
    assert "docs/getting-started.md" in pages


@pytest.mark.parametrize("shown", SHOWN, ids=lambda s: f"{s.page}:{s.line}")
def test_each_shown_command_exists(shown: Shown) -> None:
    chain, _, problems = resolve(PARSER, shown.words)
    assert problems == [], f"{shown.page}:{shown.line}: myna-edge {' '.join(shown.words)}"
    assert chain


@pytest.mark.parametrize(
    "chain",
    sorted({tuple(resolve(PARSER, shown.words)[0]) for shown in SHOWN}),
    ids=" ".join,
)
def test_each_subcommand_answers_help(
    chain: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*chain, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: myna-edge {' '.join(chain)}")


def test_the_entry_point_answers_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "myna_edge", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "dev-stack" in done.stdout


def test_the_parser_rules_catch_a_wrong_command() -> None:
    """The checks above can fail: a renamed subcommand or option is caught."""
    assert resolve(PARSER, ("sim", "cardz"))[2]
    assert resolve(PARSER, ("read", "--reeder", "sim://"))[2]
    assert resolve(PARSER, ("nonsense",))[2]
    assert simple_commands("A=1 myna-edge sim cards | head && make test # c") == [
        ["myna-edge", "sim", "cards"],
        ["head"],
        ["make", "test"],
    ]


def test_the_command_table_is_what_each_registrar_registers() -> None:
    # myna_edge.cli imports only the named command's registrar (the agent's RSS):
    # the table must name exactly the commands each registrar adds.
    import importlib

    from myna_edge.cli import COMMAND_REGISTRARS

    for registrar, commands in COMMAND_REGISTRARS.items():
        sub = argparse.ArgumentParser().add_subparsers()
        module_name, _, function = registrar.partition(":")
        getattr(importlib.import_module(module_name), function)(sub)
        assert tuple(sub.choices) == commands, registrar


def test_a_command_builds_only_its_own_parser() -> None:
    only = build_parser(["agent", "--help"])
    (sub,) = [a for a in only._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) == {"agent"}
    every = build_parser(["--help"])
    (sub,) = [a for a in every._actions if isinstance(a, argparse._SubParsersAction)]
    assert {"agent", "demo", "verifier", "models"} <= set(sub.choices)
