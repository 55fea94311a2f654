"""Server-side SVG charts."""

from __future__ import annotations


def test_activity_chart_fills_silent_hours():
    from detector.api.plots import activity_chart, fill_hours

    filled = fill_hours([{"hour": "2026-11-26T22:00:00+00:00", "requests": 3},
                         {"hour": "2026-11-27T01:00:00+00:00", "requests": 1}])
    assert [f["requests"] for f in filled] == [3, 0, 0, 1]
    svg = activity_chart(filled)
    assert svg.count("<rect") == 4 and "2026-11-27" in svg


def test_coverage_chart_labels_are_never_clipped():
    import re

    from detector.api.plots import AXIS_CHAR_PX, coverage_chart, text_width

    rows = [{"name": "cov_" + "very_long_topic_coverage_name_" * 3, "family": "cov",
             "value": 123456.789, "median": 0.000123},
            {"name": "cov_topic_entropy", "family": "cov", "value": 0.95, "median": 0.3}]
    svg = str(coverage_chart(rows, width=400))
    width = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))
    for m in re.finditer(r'<text x="([\d.]+)"([^>]*)>([^<]*)</text>', svg):
        x, text = float(m.group(1)), m.group(3)
        if 'text-anchor="end"' in m.group(2):  # right-aligned label: it must start inside the chart
            assert x - text_width(text) >= 0, text
        else:
            assert x + text_width(text, AXIS_CHAR_PX) <= width, (text, x, width)
    assert rows[0]["name"] in svg and "1.235e+05 vs 0.000123" in svg


def test_family_legend_names_each_colour_once():
    from detector.api.plots import FAMILY_COLOURS, family_legend

    feats = [{"name": "vol_requests", "family": "vol", "percentile": 99.0},
             {"name": "vol_tokens", "family": "vol", "percentile": 90.0},
             {"name": "hv_logprobs", "family": "hv", "percentile": 80.0},
             {"name": "cov_x", "family": "cov", "percentile": 70.0}]  # not in the bar chart
    svg = str(family_legend(feats))
    assert svg.count("<rect") == 2
    assert FAMILY_COLOURS["vol"] in svg and FAMILY_COLOURS["hv"] in svg
    assert "volume (vol)" in svg and "output harvesting (hv)" in svg and "(cov)" not in svg
    assert str(family_legend([])) == ""
