# SPDX-License-Identifier: Apache-2.0
"""The hashed release set stays the same as the pinned one (issue 22, finding 9).

``requirements-release.txt`` is what a terminal or verifier host installs
with ``pip --require-hashes``; ``constraints.txt`` is what CI tests with. A
pin changed in one and not the other would ship untested versions, or make
the release install fail, so every pin must agree, every entry must carry a
hash, and every run-time dependency (and the reader backends) must be there.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", re.MULTILINE)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(text: str) -> dict[str, str]:
    return {_norm(name): version for name, version in _PIN.findall(text)}


def _entries(text: str) -> list[str]:
    """Each requirement with its continuation lines, comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [e for e in "\n".join(lines).replace("\\\n", " ").splitlines() if e.strip()]


def test_release_pins_equal_the_tested_pins_and_are_hashed() -> None:
    release = (ROOT / "requirements-release.txt").read_text(encoding="utf-8")
    tested = _pins((ROOT / "constraints.txt").read_text(encoding="utf-8"))
    entries = _entries(release)
    assert entries
    for entry in entries:
        name, version = _PIN.match(entry).groups()  # type: ignore[union-attr]
        assert tested.get(_norm(name)) == version, f"{name}=={version} is not the tested pin"
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), f"{name} has no hash"


def test_every_runtime_dependency_is_in_the_release_set() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    wanted = [*project["dependencies"], *extras["readers"], *extras["printing"]]
    names = {_norm(re.split(r"[\[<>=! ]", spec, maxsplit=1)[0]) for spec in wanted}
    release = _pins((ROOT / "requirements-release.txt").read_text(encoding="utf-8"))
    assert names - set(release) == set()
