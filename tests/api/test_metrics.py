"""``/metrics``: every metric name and label the service exposes, scraped and parsed; one
registry per app; the Prometheus text content type."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from detector.api.metrics import BUCKETS, Metrics

from .conftest import auth

#: sample name -> label names, as scraped after one verdict lookup (unchanged since the
#: hand-written exposition)
SERVICE_SAMPLES = {
    "dg_http_requests_total": {"method", "route", "status"},
    "dg_http_request_duration_seconds_bucket": {"method", "route", "le"},
    "dg_http_request_duration_seconds_sum": {"method", "route"},
    "dg_http_request_duration_seconds_count": {"method", "route"},
    "dg_verdict_lookups_total": {"decision"},
    "dg_verdict_index_accounts": set(),
    "dg_verdict_index_reloads": set(),
    "dg_verdict_index_reload_errors": set(),
    "dg_verdict_index_load_seconds": set(),
    "dg_verdict_index_loaded_at_seconds": set(),
    "dg_verdicts_by_decision": {"decision"},
    "dg_cases_change_counter": set(),
    "dg_process_start_time_seconds": set(),
}


def _samples(text: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, set()).update(s.labels)
    return out


def _types(text: str) -> dict[str, str]:
    return {line.split()[2]: line.split()[3] for line in text.splitlines()
            if line.startswith("# TYPE ")}


def test_scrape_names_and_labels(client, keys):
    client.get("/v1/verdicts/acct_block", headers=auth(keys["hook"]))
    r = client.get("/metrics", headers=auth(keys["viewer"]))
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert _samples(r.text) == SERVICE_SAMPLES
    types = _types(r.text)
    assert types["dg_http_request_duration_seconds"] == "histogram"
    assert types["dg_verdicts_by_decision"] == types["dg_verdict_index_accounts"] == "gauge"
    assert types.get("dg_http_requests_total", types.get("dg_http_requests")) == "counter"
    les = [s.labels["le"] for f in text_string_to_metric_families(r.text) for s in f.samples
           if s.name == "dg_http_request_duration_seconds_bucket"
           and s.labels["route"] == "/v1/verdicts/{account_id}"]
    assert [float(x) for x in les] == [*BUCKETS, float("inf")]


def test_counters_histograms_and_gauges():
    m = Metrics()
    m.observe("GET", '/a/"{x}"', 200, 0.003)
    m.observe("GET", '/a/"{x}"', 200, 0.2)
    m.observe("GET", '/a/"{x}"', 404, 9.0)
    m.inc("dg_decisions_total", decision="block")
    m.inc("dg_decisions_total", decision="block")
    m.gauge("dg_test_gauge", "A test gauge.", lambda: [({"k": "v"}, 2.5)])
    text = m.render()
    vals = {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}
    route = ("route", '/a/"{x}"')
    assert vals[("dg_http_requests_total", (("method", "GET"), route, ("status", "200")))] == 2
    assert vals[("dg_http_requests_total", (("method", "GET"), route, ("status", "404")))] == 1
    key = (("le", "0.005"), ("method", "GET"), route)
    assert vals[("dg_http_request_duration_seconds_bucket", key)] == 1
    assert vals[("dg_http_request_duration_seconds_count", (("method", "GET"), route))] == 3
    assert vals[("dg_decisions_total", (("decision", "block"),))] == 2
    assert vals[("dg_test_gauge", (("k", "v"),))] == 2.5
    assert not [n for n, _ in vals if n.endswith("_created")]


def test_each_app_has_its_own_registry():
    a, b = Metrics(), Metrics()
    a.inc("dg_verdict_lookups_total", decision="allow")
    a.observe("GET", "/x", 200, 0.01)
    assert 'dg_verdict_lookups_total{decision="allow"} 1' in a.render()
    assert "dg_verdict_lookups_total{" not in b.render()
    assert 'route="/x"' not in b.render()
