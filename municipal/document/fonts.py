# SPDX-License-Identifier: Apache-2.0
"""Where the Japanese font comes from.

Why IPA Gothic: scripts/debian-packages.txt already installs fonts-ipafont-gothic
for the kiosk screens, it is a TrueType (glyf) font that fpdf2 subsets and
embeds with a ToUnicode map (so the page's text can be extracted and checked),
and its licence allows embedding. ``MYNA_EDGE_DOCUMENT_FONT`` points elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from municipal.document.errors import DocumentFontError

__all__ = ["FONT_CANDIDATES", "japanese_font"]

FONT_CANDIDATES: Final = (
    Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
)


def japanese_font() -> Path:
    """Return the TrueType font the document is set in.

    Raises:
        DocumentFontError: neither the override nor a Debian font exists.
    """
    override = os.environ.get("MYNA_EDGE_DOCUMENT_FONT")
    candidates = (Path(override),) if override else FONT_CANDIDATES
    for path in candidates:
        if path.is_file():
            return path
    raise DocumentFontError(
        "no Japanese font: install fonts-ipafont-gothic (scripts/debian-packages.txt)"
    )
