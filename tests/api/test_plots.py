"""Server-side SVG charts."""

from __future__ import annotations


def test_activity_chart_fills_silent_hours():
    from detector.api.plots import activity_chart, fill_hours

    filled = fill_hours([{"hour": "2026-11-26T22:00:00+00:00", "requests": 3},
                         {"hour": "2026-11-27T01:00:00+00:00", "requests": 1}])
    assert [f["requests"] for f in filled] == [3, 0, 0, 1]
    svg = activity_chart(filled)
    assert svg.count("<rect") == 4 and "2026-11-27" in svg
