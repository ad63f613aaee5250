# SPDX-License-Identifier: Apache-2.0
"""MkDocs hook: serve a few files that live beside the code as pages of the manual.

The benchmark report (``bench-report/``, written by ``myna-edge bench``), the link
protocol (``firmware/PROTOCOL.md``), the verifier's rules (``verifier/README.md``) and
the touch-entry scheme (``host/api/touch-entry.md``) are committed where the code that
makes or follows them lives. The manual links to them at their repository paths
(``/bench-report/README.md`` with ``absolute_links: relative_to_docs``, which GitHub
reads the same way), so figures are shown from the committed outputs, never copied by
hand, and a moved file fails ``mkdocs build --strict``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]

# Repository paths (globs) mounted at the same path in the site.
MOUNTED = (
    "bench-report/README.md",
    "bench-report/*.png",
    "bench-report/report.json",
    "firmware/PROTOCOL.md",
    "verifier/README.md",
    "host/api/touch-entry.md",
)


def on_files(files: Files, config: Any) -> Files:
    """Add each mounted file; a pattern that matches nothing is a broken manual."""
    for pattern in MOUNTED:
        matches = sorted(ROOT.glob(pattern))
        if not matches:
            raise FileNotFoundError(f"mkdocs hook: nothing at {pattern} (moved?)")
        for path in matches:
            files.append(
                File(
                    path.relative_to(ROOT).as_posix(),
                    src_dir=str(ROOT),
                    dest_dir=config["site_dir"],
                    use_directory_urls=config["use_directory_urls"],
                )
            )
    return files
