"""Small server-side SVG charts for the account page (no JavaScript, no image files).

Each function returns an SVG document fragment (``markupsafe.Markup``) sized by its
``width``; every text label is escaped.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup, escape

from detector.columns import FAMILIES
from detector.columns.percentile import percentile_text

DECISION_COLOURS = {"allow": "#3c8d5a", "review": "#d89a1c", "block": "#c0392b", None: "#888"}
#: Presentation only: one colour per feature family of the column registry (``FAMILIES`` codes).
FAMILY_COLOURS = {"vol": "#4e79a7", "tim": "#f28e2b", "div": "#59a14f", "hv": "#e15759",
                  "inf": "#76b7b2", "rel": "#edc948", "hist": "#9c755f", "cov": "#b07aa1",
                  "clu": "#ff9da7"}


def _svg(width: int, height: int, body: list[str], label: str, cls: str = "chart") -> Markup:
    return Markup(
        f'<svg class="{cls}" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body) + "</svg>")


def _empty(width: int, text: str) -> Markup:
    return _svg(width, 40, [f'<text x="8" y="24" class="muted">{escape(text)}</text>'], text)


def activity_chart(activity: list[dict[str, Any]], width: int = 760, height: int = 170) -> Markup:
    """Requests per hour as bars (x: hours in order, ticks at each day start)."""
    if not activity:
        return _empty(width, "No request activity in the lake for the recent verdict days.")
    activity = fill_hours(activity)
    top = max(a["requests"] for a in activity) or 1
    left, bottom, plot_h = 44, 22, height - 32
    bw = (width - left - 6) / len(activity)
    body = [f'<text x="4" y="14" class="axis">{top}</text>',
            f'<text x="4" y="{height - bottom}" class="axis">0</text>',
            f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" class="axisline"/>']
    for i, a in enumerate(activity):
        h = plot_h * a["requests"] / top
        x = left + i * bw
        body.append(f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{max(bw - 1, 1):.1f}" '
                    f'height="{h:.1f}" class="bar"><title>{escape(str(a["hour"])[:16])}: '
                    f'{a["requests"]} requests</title></rect>')
        hour = str(a["hour"])
        if hour[11:13] == "00" or i == 0:
            body.append(f'<text x="{x:.1f}" y="{height - 6}" class="axis">{escape(hour[:10])}</text>')
    return _svg(width, height, body, "Requests per hour")


def fill_hours(activity: list[dict[str, Any]], max_hours: int = 24 * 14) -> list[dict[str, Any]]:
    """Hourly counts with the silent hours in between added as zeros (last ``max_hours``)."""
    counts = {}
    for a in activity:
        counts[datetime.fromisoformat(str(a["hour"]))] = a["requests"]
    first, last = min(counts), max(counts)
    first = max(first, last - timedelta(hours=max_hours - 1))
    out, h = [], first
    while h <= last:
        out.append({"hour": h.isoformat(), "requests": counts.get(h, 0)})
        h += timedelta(hours=1)
    return out


def score_chart(timeline: list[dict[str, Any]], width: int = 760, height: int = 140) -> Markup:
    """Daily verdict score (0-1) as a line with dots coloured by decision."""
    pts = [t for t in timeline if t.get("score") is not None]
    if not pts:
        return _empty(width, "No scored verdicts yet.")
    left, bottom, plot_h = 44, 22, height - 32
    step = (width - left - 20) / max(len(pts) - 1, 1)
    xy = [(left + 10 + i * step, height - bottom - plot_h * float(t["score"]))
          for i, t in enumerate(pts)]
    body = ['<text x="4" y="14" class="axis">1.0</text>',
            f'<text x="4" y="{height - bottom}" class="axis">0.0</text>',
            f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" class="axisline"/>',
            '<polyline fill="none" class="line" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy) + '"/>']
    for (x, y), t in zip(xy, pts, strict=True):
        colour = DECISION_COLOURS.get(t.get("decision"), "#888")
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"><title>'
                    f'{escape(t["date"])}: {float(t["score"]):.3f} ({escape(t.get("decision") or "")})'
                    f'</title></circle>')
        body.append(f'<text x="{x - 28:.1f}" y="{height - 6}" class="axis">{escape(t["date"][5:])}</text>')
    return _svg(width, height, body, "Daily score")


def percentile_chart(features: list[dict[str, Any]], width: int = 760, top_n: int = 24) -> Markup:
    """The ``top_n`` most extreme features: bar = population percentile (0-100), 50 marked."""
    rows = [f for f in features if f.get("percentile") is not None and f["family"] != "cov"]
    rows.sort(key=lambda f: -abs(f["percentile"] - 50))
    rows = rows[:top_n]
    if not rows:
        return _empty(width, "No feature percentiles for this day.")
    label_w, row_h = 260, 18
    height = row_h * len(rows) + 24
    plot_w = width - label_w - 60
    mid = label_w + plot_w / 2
    body = [f'<line x1="{mid:.1f}" y1="0" x2="{mid:.1f}" y2="{height - 18}" class="midline"/>',
            f'<text x="{label_w}" y="{height - 4}" class="axis">0</text>',
            f'<text x="{mid - 8:.1f}" y="{height - 4}" class="axis">50</text>',
            f'<text x="{label_w + plot_w - 20:.1f}" y="{height - 4}" class="axis">100</text>']
    for i, f in enumerate(rows):
        y = i * row_h + 2
        w = plot_w * f["percentile"] / 100
        colour = FAMILY_COLOURS.get(f["family"], "#999")
        body.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end" class="label">'
                    f'{escape(f["name"])}</text>')
        body.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row_h - 4}" '
                    f'fill="{colour}"><title>{escape(f["name"])} = {escape(_fmt(f["value"]))} '
                    f'(p{percentile_text(f["percentile"])}; median {escape(_fmt(f["median"]))})</title></rect>')
        body.append(f'<text x="{label_w + plot_w + 6}" y="{y + 12}" class="axis">'
                    f'p{percentile_text(f["percentile"])}</text>')
    return _svg(width, height, body, "Feature percentiles")


#: width of one character in the charts' font (11 px sans-serif labels, 10 px axis text),
#: slightly generous so that an estimate never falls short of the rendered text
LABEL_CHAR_PX, AXIS_CHAR_PX = 7.0, 6.4


def text_width(text: str, char_px: float = LABEL_CHAR_PX) -> float:
    """An upper estimate of ``text``'s rendered width in the charts' font (pixels)."""
    return len(text) * char_px


def coverage_chart(features: list[dict[str, Any]], width: int = 760) -> Markup:
    """Topic coverage (``cov_*`` features): the account's value against the population median.
    The label column and the value column are as wide as their longest text, and the chart
    widens rather than clip a label (the SVG scales down to the page)."""
    rows = [f for f in features if f["family"] == "cov" and f.get("value") is not None]
    if not rows:
        return _empty(width, "No topic-coverage features (embeddings stage) for this day.")
    row_h = 26
    note = "dark: this account, light: population median (each row on its own scale)"
    values = [f"{_fmt(f['value'])} vs {_fmt(f['median'])}" for f in rows]
    label_w = max(80.0, max(text_width(f["name"]) for f in rows) + 12)
    right_w = max(text_width(v, AXIS_CHAR_PX) for v in values) + 12
    plot_w = max(160.0, width - label_w - right_w)
    total = max(label_w + plot_w + right_w, label_w + text_width(note, AXIS_CHAR_PX) + 4)
    height = row_h * len(rows) + 20
    body = []
    for i, (f, vtext) in enumerate(zip(rows, values, strict=True)):
        y = i * row_h + 2  # each row on its own scale: features differ in units
        top = max(abs(float(f["value"])), abs(float(f["median"] or 0))) or 1.0
        aw = plot_w * abs(float(f["value"])) / top
        pw = plot_w * abs(float(f["median"] or 0)) / top
        body.append(f'<text x="{label_w - 6:.1f}" y="{y + 14}" text-anchor="end" class="label">'
                    f'{escape(f["name"])}</text>')
        body.append(f'<rect x="{label_w:.1f}" y="{y}" width="{aw:.1f}" height="10" class="acct">'
                    f'<title>account: {escape(_fmt(f["value"]))}</title></rect>')
        body.append(f'<rect x="{label_w:.1f}" y="{y + 11}" width="{pw:.1f}" height="10" '
                    f'class="pop"><title>population median: {escape(_fmt(f["median"]))}'
                    '</title></rect>')
        body.append(f'<text x="{label_w + plot_w + 6:.1f}" y="{y + 14}" class="axis">'
                    f'{escape(vtext)}</text>')
    body.append(f'<text x="{label_w:.1f}" y="{height - 2}" class="axis">{escape(note)}</text>')
    return _svg(int(round(total)), height, body, "Topic coverage versus population")


def family_legend(features: list[dict[str, Any]], width: int = 760) -> Markup:
    """What each bar colour of the percentile chart means: one swatch per feature family
    present (labels from the column registry), wrapping onto more lines when needed."""
    present = list(dict.fromkeys(f["family"] for f in features
                                 if f.get("percentile") is not None and f["family"] != "cov"))
    if not present:
        return Markup("")
    body, x, y = [], 4.0, 4
    for code in present:
        label = f"{FAMILIES.get(code, code)} ({code})"
        w = 16 + text_width(label) + 14
        if x + w > width and x > 4:
            x, y = 4.0, y + 18
        colour = FAMILY_COLOURS.get(code, "#999")
        body.append(f'<rect x="{x:.1f}" y="{y}" width="12" height="12" fill="{colour}"/>')
        body.append(f'<text x="{x + 16:.1f}" y="{y + 10}" class="label">{escape(label)}</text>')
        x += w
    return _svg(width, y + 18, body, "Feature family colours", cls="legend")


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
