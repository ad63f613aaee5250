# SPDX-License-Identifier: Apache-2.0
"""``Row``: one line of the bench report's table.

Why a module of its own: ``bench.rows`` builds the rows of every suite and
imports their builders, and a builder that lives beside its suite (such as
``bench.issuance_rows``) needs the row type without importing ``bench.rows``
back.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Row"]


@dataclass(frozen=True)
class Row:
    """One line of the table: ``ratio`` is None when the figure is unavailable."""

    area: str
    figure: str
    ratio: float | None
    baseline: str
    measured: str

    def __post_init__(self) -> None:
        if not self.baseline.strip():
            raise ValueError(f"the row {self.figure!r} names no baseline")
