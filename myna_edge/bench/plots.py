# SPDX-License-Identifier: Apache-2.0
"""The benchmark report's figures: PNG plots drawn with matplotlib's Agg canvas.

Why here and optional: the plots are for people reading the report; the
figures themselves (``report.json``, the table) need nothing but the stack.
matplotlib is imported only when a plot is drawn (the ``bench`` extra), and
``matplotlib.figure.Figure`` is used directly, never ``pyplot``, so no
display, global state or backend choice is involved. Every plot shows a
measurement next to the baseline measured in the same run.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from myna_edge.bench.latency import LatencySet

__all__ = ["PLOTS", "plot_apdus", "plot_flow_split", "plot_latency", "plot_throughput"]

#: File name -> what it shows (the report's captions).
PLOTS: Final = {
    "latency.png": "Per-call latency, each path against its bare baseline "
    "(box: p25-p75, whiskers: p1-p99)",
    "throughput.png": "Verifier throughput vs callers in flight, against a bare gRPC echo server",
    "flow_split.png": "Where each flow's time goes: card, serial link, verifier, host",
    "apdus.png": "Card commands per operation against the protocol minimum",
}
_DPI: Final = 110
_PARTS_COLOURS: Final = {
    "card": "#4c72b0",
    "link": "#dd8452",
    "verifier": "#55a868",
    "host": "#8172b3",
}


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def _wrap(label: str, width: int = 16) -> str:
    return "\n".join(textwrap.wrap(label, width)) or label


def plot_latency(sets: Mapping[str, LatencySet | str], out: Path) -> Path | None:
    """Box plots of per-call µs, one panel per available path; None if none ran."""
    ready = [found for found in sets.values() if isinstance(found, LatencySet)]
    if not ready:
        return None
    figure = _figure(3.6 * len(ready), 4.6)
    axes = figure.subplots(1, len(ready), squeeze=False)[0]
    from matplotlib.ticker import FuncFormatter

    # 1, 2, 5 times a power of ten, in plain numbers: a log axis a reader can read.
    plain = FuncFormatter(lambda value, _: f"{value:g}" if f"{value:.0e}"[0] in "125" else "")
    for ax, found in zip(axes, ready, strict=True):
        labels = list(found.series)
        summary = found.summary()
        ticks = [_wrap(labels[0]) + "\n(baseline)"]
        for label in labels[1:]:
            figures = summary[label]
            assert isinstance(figures, dict)
            ticks.append(
                f"{_wrap(label)}\np50 ×{figures['p50_over_baseline']:.2f}"
                f"\np99 ×{figures['p99_over_baseline']:.2f}"
            )
        ax.boxplot([found.series[label] for label in labels], whis=(1, 99), showfliers=False,
                   widths=0.6)  # fmt: skip
        ax.set_xticks(range(1, len(labels) + 1), ticks, fontsize=7)
        ax.set_title(found.path, fontsize=10)
        ax.set_ylabel("µs per call (log scale)")
        ax.set_yscale("log")  # boxes of a few µs and tails of hundreds, on one axis
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
        ax.tick_params(axis="y", which="both", labelsize=7)
        ax.grid(axis="y", which="both", alpha=0.3)
    figure.suptitle(PLOTS["latency.png"], fontsize=10)
    figure.savefig(out, format="png")
    return out


def plot_throughput(verifier: Mapping[str, Any], out: Path) -> Path | None:
    """Calls/s of echo, VerifyCard, AuthorizeTransfer vs in-flight, and ratios to echo."""
    runs = verifier.get("runs")
    if not isinstance(runs, dict):
        return None
    levels = sorted({int(name.rsplit("_", 1)[1]) for name in runs})
    targets = {
        "echo": "bare gRPC echo (baseline)",
        "verify_card": "VerifyCard",
        "authorize_transfer": "AuthorizeTransfer (durable)",
    }
    figure = _figure(10, 4.2)
    left, right = figure.subplots(1, 2)
    for key, label in targets.items():
        rates = [runs[f"{key}_{n}"]["per_second"] for n in levels]
        style = "--" if key == "echo" else "-"
        left.plot(levels, rates, style, marker="o", label=label)
        if key != "echo":
            ratios = [
                r / runs[f"echo_{n}"]["per_second"] for r, n in zip(rates, levels, strict=True)
            ]
            right.plot(levels, ratios, marker="o", label=f"{label} / echo")
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(n) for n in levels])
        ax.set_xlabel("callers in flight (one mTLS channel, client in its own process)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    left.set_ylabel("calls per second")
    left.set_ylim(bottom=0)
    right.set_ylabel("throughput ÷ bare echo at the same concurrency")
    right.set_ylim(0, 1.05)
    figure.suptitle(PLOTS["throughput.png"], fontsize=10)
    figure.savefig(out, format="png")
    return out


def plot_flow_split(flows: Mapping[str, Any], out: Path) -> Path | None:
    """Stacked bars per flow: measured split, and the same with the card time modelled."""
    kinds = [k for k, v in flows.items() if isinstance(v, dict) and "time_split_ms" in v]
    if not kinds:
        return None
    figure = _figure(10, 1.2 + 0.9 * len(kinds))
    measured, modelled = figure.subplots(1, 2)
    for ax, model in ((measured, False), (modelled, True)):
        lefts = [0.0] * len(kinds)
        for part, colour in _PARTS_COLOURS.items():
            widths = []
            for kind in kinds:
                split = flows[kind]["time_split_ms"]
                widths.append(
                    flows[kind]["modelled_card_ms"] if model and part == "card" else split[part]
                )
            label = "card (modelled, 106 kbit/s)" if model and part == "card" else part
            ax.barh([_wrap(k.replace("_", " "), 14) for k in kinds], widths, left=lefts,
                    color=colour, label=label)  # fmt: skip
            lefts = [a + b for a, b in zip(lefts, widths, strict=True)]
        ax.set_xlabel("ms per run (mean)")
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
    measured.set_title("simulated card, measured", fontsize=9)
    modelled.set_title("card time modelled at 106 kbit/s (UNCONFIRMED constants)", fontsize=9)
    figure.suptitle(PLOTS["flow_split.png"], fontsize=10)
    figure.savefig(out, format="png")
    return out


def plot_apdus(counts: list[tuple[str, int, int]], out: Path) -> Path | None:
    """Grouped bars: (operation, our card commands, protocol minimum) per operation."""
    if not counts:
        return None
    figure = _figure(max(6.0, 1.1 * len(counts) + 2), 4.2)
    ax = figure.subplots()
    xs = list(range(len(counts)))
    ours = [c[1] for c in counts]
    minimum = [c[2] for c in counts]
    # OpenSC's own count is a reference, not ours: drawn in another colour.
    colours = ["#937860" if "OpenSC" in c[0] else "#4c72b0" for c in counts]
    ax.bar([x - 0.2 for x in xs], minimum, width=0.4, color="#bbbbbb", label="protocol minimum")
    ax.bar([x + 0.2 for x in xs], ours, width=0.4, color=colours, label="measured (card's log)")
    for x, (ourcount, least) in enumerate(zip(ours, minimum, strict=True)):
        ax.annotate(f"×{ourcount / least:.2f}", (x + 0.2, ourcount), xytext=(0, 2),
                    textcoords="offset points", ha="center", fontsize=7)  # fmt: skip
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xticks(xs, [_wrap(c[0], 14) for c in counts], fontsize=7)
    ax.set_ylabel("card commands (APDUs)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    figure.suptitle(PLOTS["apdus.png"], fontsize=10)
    figure.savefig(out, format="png")
    return out
