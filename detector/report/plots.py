"""The report's charts as self-contained SVG data URIs (matplotlib, no pyplot state).

Text stays text (``svg.fonttype = none``) so the files stay small and readable at any zoom;
``svg.hashsalt`` makes the output deterministic for a given input.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

COLORS = {"allow": "#9aa5b1", "review": "#f0a202", "block": "#d1495b", "active": "#3c6e91"}
_RC = {"svg.fonttype": "none", "svg.hashsalt": "distill-guard", "font.size": 9,
       "axes.spines.top": False, "axes.spines.right": False}


def _data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def trend_chart(trend: list[dict[str, Any]]) -> str:
    """Two stacked panels over the trend's days: active accounts; review and block counts.

    Days without verdicts are gaps, not zeros; both axes count whole accounts from 0.
    """
    labels = [row["date"][5:] for row in trend]
    x = list(range(len(trend)))

    def series(key: str) -> list[float]:
        return [float("nan") if row[key] is None else float(row[key]) for row in trend]

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(6.4, 3.6))
        top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.4]})
        top.bar(x, [0 if v != v else v for v in series("active")], color=COLORS["active"])
        top.set_ylabel("active")
        top.set_ylim(0, max(1.0, *[v for v in series("active") if v == v]) * 1.1)
        top.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
        for key in ("review", "block"):
            bottom.plot(x, series(key), marker="o", ms=4, lw=1.6, color=COLORS[key], label=key)
        bottom.set_ylabel("accounts")
        # whole accounts only: a day with no review or block must not get a 0-0.05 axis
        counts = [v for key in ("review", "block") for v in series(key) if v == v]
        bottom.set_ylim(0, max(1.0, *counts) * 1.1)
        bottom.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        bottom.legend(loc="upper left", frameon=False, ncols=2)
        bottom.set_xticks(x, labels, rotation=45, ha="right")
        fig.align_ylabels()
        return _data_uri(fig)


def score_chart(bins: list[dict[str, Any]], review_threshold: float | None = None,
                block_threshold: float | None = None) -> str:
    """Histogram of the day's scores, stacked by decision (symlog counts above 50 accounts)."""
    lefts = [b["bin_lo"] for b in bins]
    width = bins[0]["bin_hi"] - bins[0]["bin_lo"] if bins else 0.05
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(6.4, 2.8))
        ax = fig.subplots()
        bottom = [0.0] * len(bins)
        for key in ("allow", "review", "block"):
            heights = [float(b[key]) for b in bins]
            ax.bar(lefts, heights, width=width, bottom=bottom, align="edge",
                   color=COLORS[key], label=key, edgecolor="white", linewidth=0.4)
            bottom = [a + h for a, h in zip(bottom, heights, strict=True)]
        if max(bottom, default=0) > 50:
            ax.set_yscale("symlog", linthresh=1)
        else:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        for value, key in ((review_threshold, "review"), (block_threshold, "block")):
            if value is not None:
                ax.axvline(value, color=COLORS[key], ls="--", lw=1)
        ax.set_xlim(0, 1)
        ax.set_xlabel("score")
        ax.set_ylabel("accounts")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, ncols=3)
        return _data_uri(fig)
