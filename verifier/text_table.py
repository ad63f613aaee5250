# SPDX-License-Identifier: Apache-2.0
"""Aligned text tables for the operator commands (``fleet``, ``transfers``).

Why one helper: both commands print a header and rows in columns padded to
their widest cell, and a terminal operator reads them side by side.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["aligned_table"]


def aligned_table(rows: Sequence[Sequence[str]]) -> str:
    """The rows (the header first) as lines, each column padded to its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
