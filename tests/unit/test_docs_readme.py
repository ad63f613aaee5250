# SPDX-License-Identifier: Apache-2.0
"""The README stays short and sends each audience to its page in one click (issue 25).

Everything else lives in the manual (``mkdocs.yml``, ``docs/``); a README that
grows back past a screenful or loses an audience's link fails here. The links are
relative, so they work on the repository's web view as in a checkout.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAX_LINES = 220

# Each audience's page of the manual, as the README links it.
AUDIENCE_PAGES = (
    "docs/getting-started.md",
    "docs/kiosk-vendors.md",
    "docs/atm-integrators.md",
    "docs/municipalities.md",
    "docs/operators.md",
    "docs/hardware.md",
    "docs/internals/index.md",
    "docs/security.md",
    "docs/glossary.md",
)


def _links(text: str) -> set[str]:
    return {target.split("#")[0] for target in re.findall(r"\]\(([^)\s]+)\)", text)}


def test_readme_is_short() -> None:
    assert len(README.splitlines()) <= MAX_LINES


def test_readme_links_each_audience_page_and_the_manual_has_it() -> None:
    links = _links(README)
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in AUDIENCE_PAGES:
        assert page in links, f"README does not link {page}"
        assert (ROOT / page).is_file(), page
        assert re.search(rf"[\s:]{re.escape(page.removeprefix('docs/'))}$", nav, re.MULTILINE), (
            f"{page} is not in mkdocs.yml's nav"
        )


def test_readme_relative_links_resolve() -> None:
    for target in _links(README):
        if re.match(r"[a-z]+:", target) or not target:
            continue
        assert (ROOT / target).exists(), f"README links {target}, which does not exist"
