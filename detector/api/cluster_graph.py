"""A small server-rendered SVG graph of a cluster: members and the evidence types linking them.

Deterministic layout, no JavaScript (the CSP allows none inline), colours as presentation
attributes:

- up to :data:`MAX_DRAWN_MEMBERS` members: every member a dot on a circle (ordered by verdict,
  then score, as the members table), coloured by its decision and linking to its account
  page; one line per linked pair (the strongest :data:`MAX_PAIR_LINES` pairs), coloured by the
  pair's strongest evidence type;
- more members: a summarised graph, one node per verdict group (area by member count) and,
  between two groups and inside each group, the edge counts by evidence type.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from markupsafe import Markup, escape

from detector.api.plots import DECISION_COLOURS

MAX_DRAWN_MEMBERS = 60
MAX_PAIR_LINES = 400
TYPE_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
                "#ff9da7", "#9c755f", "#bab0ac")
GROUPS = ("block", "review", "allow", "no verdict")


def type_colours(types: list[str]) -> dict[str, str]:
    """A colour per evidence type, fixed by the types' sorted order."""
    return {t: TYPE_COLOURS[i % len(TYPE_COLOURS)] for i, t in enumerate(sorted(types))}


def _svg(width: int, height: int, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg class="chart cluster-graph" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>")


def _legend(colours: dict[str, str], counts: dict[str, int], x: float, y: float) -> list[str]:
    out = []
    for i, (t, colour) in enumerate(colours.items()):
        yy = y + i * 18
        out.append(f'<rect x="{x:.0f}" y="{yy - 9:.0f}" width="14" height="4" fill="{colour}"/>'
                   f'<text x="{x + 20:.0f}" y="{yy:.0f}" class="axis">{escape(t)} '
                   f'({counts.get(t, 0):,} edge{"" if counts.get(t, 0) == 1 else "s"})</text>')
    return out


def member_graph(members: list[dict[str, Any]], pairs: list[tuple[str, str, str, float]],
                 edge_counts: dict[str, int], width: int = 680, height: int = 360) -> Markup:
    """Each member on a circle, one line per pair: ``pairs`` are (src, dst, strongest type,
    weight), strongest first. ``members`` in the members table's order."""
    colours = type_colours(list(edge_counts))
    cx, cy, r = height / 2, height / 2, height / 2 - 20
    n = max(len(members), 1)
    pos = {m["account_id"]: (cx + r * math.cos(2 * math.pi * i / n - math.pi / 2),
                             cy + r * math.sin(2 * math.pi * i / n - math.pi / 2))
           for i, m in enumerate(members)}
    body = []
    drawn = [p for p in pairs if p[0] in pos and p[1] in pos][:MAX_PAIR_LINES]
    opacity = 0.6 if len(drawn) <= 60 else 0.3
    for src, dst, etype, _w in reversed(drawn):  # strongest drawn last, on top
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        body.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                    f'stroke="{colours.get(etype, "#999")}" stroke-opacity="{opacity}" '
                    f'stroke-width="1.2"/>')
    dot = 7 if len(members) <= 20 else 5
    for m in members:
        x, y = pos[m["account_id"]]
        colour = DECISION_COLOURS.get(m.get("decision"), DECISION_COLOURS[None])
        label = f'{m["account_id"]}: {m.get("decision") or "no verdict"}'
        body.append(f'<a href="/accounts/{escape(m["account_id"])}"><circle cx="{x:.1f}" '
                    f'cy="{y:.1f}" r="{dot}" fill="{colour}" stroke="#fff">'
                    f"<title>{escape(label)}</title></circle></a>")
    legend_x = height + 30
    body += _legend(colours, edge_counts, legend_x, 30)
    y = 30 + 18 * len(colours) + 14
    for decision in ("block", "review", "allow"):
        body.append(f'<circle cx="{legend_x + 7}" cy="{y - 4}" r="5" '
                    f'fill="{DECISION_COLOURS[decision]}"/><text x="{legend_x + 20}" '
                    f'y="{y}" class="axis">{decision}</text>')
        y += 18
    more = len([p for p in pairs if p[0] in pos and p[1] in pos]) - len(drawn)
    if more > 0:
        body.append(f'<text x="{legend_x}" y="{height - 12}" class="axis">{more:,} weaker '
                    "pairs not drawn</text>")
    return _svg(width, height, body, f"Graph of {len(members)} members and their evidence")


def group_graph(groups: dict[str, int], between: dict[tuple[str, str], Counter],
                width: int = 680, height: int = 380) -> Markup:
    """The summarised graph: one node per verdict group (``groups``: group -> members) and
    edge counts by type between groups (``between``: sorted group pair -> Counter of types;
    a pair of one group is the edges inside it)."""
    present = [g for g in GROUPS if groups.get(g)]
    cx, cy, r = 220, height / 2 + 10, height / 2 - 80
    n = max(len(present), 1)
    pos = {g: (cx + (r * math.cos(2 * math.pi * i / n - math.pi / 2) if n > 1 else 0),
               cy + (r * math.sin(2 * math.pi * i / n - math.pi / 2) if n > 1 else 0))
           for i, g in enumerate(present)}
    top = max(groups.values(), default=1) or 1
    body = []
    for (a, b), counts in sorted(between.items()):
        if a == b or a not in pos or b not in pos:
            continue
        (x1, y1), (x2, y2) = pos[a], pos[b]
        total = sum(counts.values())
        body.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                    f'stroke="#777" stroke-width="{1 + 5 * math.log10(1 + total) / 4:.1f}" '
                    f'stroke-opacity="0.6"/>')
        text = " · ".join(f"{t} {c:,}" for t, c in sorted(counts.items(), key=lambda kv: -kv[1]))
        body.append(f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 4:.1f}" '
                    f'text-anchor="middle" class="axis">{escape(text)}</text>')
    for g in present:
        x, y = pos[g]
        rad = 12 + 30 * math.sqrt(groups[g] / top)
        colour = DECISION_COLOURS.get(None if g == "no verdict" else g, DECISION_COLOURS[None])
        inside = between.get((g, g), Counter())
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{rad:.1f}" fill="{colour}" '
                    f'fill-opacity="0.85"><title>{escape(g)}: {groups[g]:,} members</title>'
                    "</circle>"
                    f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" '
                    f'class="label">{escape(g)} {groups[g]:,}</text>')
        if inside:
            text = "inside: " + " · ".join(
                f"{t} {c:,}" for t, c in sorted(inside.items(), key=lambda kv: -kv[1]))
            body.append(f'<text x="{x:.1f}" y="{y + rad + 14:.1f}" text-anchor="middle" '
                        f'class="axis">{escape(text)}</text>')
    total = sum(groups.values())
    body.append(f'<text x="470" y="30" class="axis">{total:,} members in '
                f"{len(present)} verdict groups;</text>"
                '<text x="470" y="48" class="axis">lines: edges between groups,</text>'
                '<text x="470" y="66" class="axis">by evidence type</text>')
    return _svg(width, height, body,
                f"Summarised graph of {total} members: verdict groups and edges between them")


def graph_svg(members: list[dict[str, Any]], cols: dict[str, list],
              edge_counts: dict[str, int], decided: dict[str, str],
              by_verdict: Counter) -> Markup:
    """The cluster's graph: every member when at most :data:`MAX_DRAWN_MEMBERS`, else the
    summarised verdict-group graph. ``cols``: the edge columns (``src``, ``dst``,
    ``edge_type``, ``weight``) strongest first; ``decided`` maps each member to its group
    (decision or ``no verdict``)."""
    src, dst, types = cols["src"], cols["dst"], cols["edge_type"]
    if len(members) <= MAX_DRAWN_MEMBERS:
        pairs: dict[tuple[str, str], tuple[str, str, str, float]] = {}
        for a, b, etype, w in zip(src, dst, types, cols["weight"], strict=True):
            a, b = sorted((a or "", b or ""))
            if (a, b) not in pairs:
                pairs[(a, b)] = (a, b, etype or "", w or 0.0)
        return member_graph(members, list(pairs.values()), edge_counts)
    order = {g: i for i, g in enumerate(GROUPS)}
    counted = Counter(zip(map(decided.get, src), map(decided.get, dst), types, strict=True))
    between: dict[tuple[str, str], Counter] = {}
    for (ga, gb, etype), n in counted.items():
        if ga is None or gb is None:
            continue
        pair = (ga, gb) if order.get(ga, 9) <= order.get(gb, 9) else (gb, ga)
        between.setdefault(pair, Counter())[etype or ""] += n
    return group_graph(dict(by_verdict), between)
