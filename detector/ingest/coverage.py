"""What a source lets the detector see: per-field fill rates and the rules it leaves blind.

Grain: one report per ingest command (or ``--dry-run``), over the records it accepted. Each
*signal field* below is one thing a request log may or may not carry (a prompt, a payment
fingerprint...); its fill rate is the share of accepted records that carry it. A field carried
by no record (fill rate 0) makes the features computed from it blind, and every rule whose
condition reads one of those features cannot fire on this source: it is listed in ``blind``
with the fields it misses. This is the one place that maps fields to features; rules are read
from ``rules/*.yaml`` (their ``condition``), so a new rule is covered without editing this file.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from detector.resources import data_dir

#: signal field -> (lake column test as a DuckDB expression, row-tuple column, features fed).
#: The row-tuple column is the lake column name; the test says when it counts as carried.
SIGNALS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "prompt": ("prompt_chars > 0", "prompt_chars", (
        "div_distinct_prompt_ratio", "div_template_reuse", "div_top_template_share",
        "div_multiturn_share", "div_system_share", "div_system_distinct_ratio",
        "div_near_dup_rate", "div_char_ngram_entropy", "div_word_ngram_entropy",
        "hv_cot_lexicon_share", "hv_cot_classifier_share", "cov_codebook_coverage",
        "cov_n_sampled", "cov_mmd_ratio", "cov_prada_stat", "clu_coverage",
        "clu_prompt_overlap", "clu_template_overlap")),
    "output": ("output_chars IS NOT NULL OR finish_reason IS NOT NULL", "output_chars",
               ("hv_length_finish_share",)),
    "tokens": ("completion_tokens IS NOT NULL", "completion_tokens", (
        "vol_input_tokens", "vol_output_tokens", "hv_output_input_ratio",
        "hv_reasoning_token_share", "clu_total_output_tokens")),
    "timestamps": ("ts IS NOT NULL", "ts", (
        "vol_active_hours", "vol_peak_rpm", "tim_hour_entropy", "tim_busy_window_hours",
        "tim_interarrival_cv", "tim_burstiness", "tim_periodicity", "tim_night_share",
        "clu_timing_sync")),
    "ip": ("client_ip IS NOT NULL", "client_ip", (
        "inf_distinct_ips", "inf_distinct_prefixes", "inf_shared_prefix_share")),
    "user_agent": ("user_agent IS NOT NULL", "user_agent",
                   ("inf_distinct_user_agents", "inf_script_ua_share")),
    "payment_fingerprint": ("payment_fingerprint IS NOT NULL", "payment_fingerprint",
                            ("inf_payment_shared_accounts", "clu_shared_payment")),
    "account_creation": ("account_created_at IS NOT NULL", "account_created_at",
                         ("inf_account_age_days", "clu_new_account_share")),
    "end_user": ("end_user_hash IS NOT NULL", "end_user_hash", ("inf_distinct_end_users",)),
    "logprobs": ("json_extract(request_json, '$.logprobs') IS NOT NULL OR "
                 "json_extract(request_json, '$.top_logprobs') IS NOT NULL", "request_json",
                 ("hv_logprobs_share", "hv_top_logprobs_mean")),
}

_RULES_DIR = data_dir("rules")
_IDENT = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")


@lru_cache(maxsize=4)
def rule_features(rules_dir: str = str(_RULES_DIR)) -> dict[str, frozenset[str]]:
    """Rule name (file stem) -> the identifiers its ``condition`` reads."""
    import yaml  # noqa: PLC0415

    out: dict[str, frozenset[str]] = {}
    for path in sorted(Path(rules_dir).glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        cond = doc.get("condition") if isinstance(doc, dict) else None
        if isinstance(cond, str):
            out[path.stem] = frozenset(_IDENT.findall(cond))
    return out


def blind_report(fill: dict[str, float], n: int) -> dict:
    """``{"missing_fields", "blind_features", "blind_rules": {rule: [fields]}}`` for fill rates
    ``fill`` over ``n`` accepted records (nothing is blind when nothing was accepted)."""
    if n == 0:
        return {"missing_fields": [], "blind_features": [], "blind_rules": {}}
    missing = [f for f in SIGNALS if fill.get(f, 0.0) == 0.0]
    feat_field: dict[str, list[str]] = {}
    for f in missing:
        for feat in SIGNALS[f][2]:
            feat_field.setdefault(feat, []).append(f)
    rules: dict[str, list[str]] = {}
    for rule, idents in rule_features().items():
        fields = sorted({fld for i in idents for fld in feat_field.get(i, ())})
        if fields:
            rules[rule] = fields
    return {"missing_fields": missing, "blind_features": sorted(feat_field),
            "blind_rules": dict(sorted(rules.items()))}


def warnings_for(report: dict) -> list[str]:
    """One ``--json`` warning per field no accepted record carried, naming the blind rules."""
    out = []
    for f in report.get("missing_fields", []):
        rules = sorted(r for r, fs in report["blind_rules"].items() if f in fs)
        out.append(f"no_{f}: no accepted record carries it; blind rules: "
                   f"{', '.join(rules) if rules else 'none'}")
    return out


def _has_logprobs_key(request_json: str) -> bool:
    import orjson  # noqa: PLC0415

    try:
        body = orjson.loads(request_json)
    except orjson.JSONDecodeError:
        return False
    return isinstance(body, dict) and ("logprobs" in body or "top_logprobs" in body)


class FillCounter:
    """Counts carried signal fields over row tuples (``--dry-run``, where nothing is stored)."""

    def __init__(self) -> None:
        from detector.ingest.tables import ROW_FIELDS  # noqa: PLC0415

        self.n = 0
        self.counts = dict.fromkeys(SIGNALS, 0)
        names = [f.name for f in ROW_FIELDS]
        self._idx = {f: names.index(col) for f, (_, col, _) in SIGNALS.items()}
        self._extra = {"output": names.index("finish_reason")}

    def add(self, rows: list[tuple]) -> None:
        for row in rows:
            self.n += 1
            for f, i in self._idx.items():
                v = row[i]
                if f == "prompt":
                    carried = v is not None and v > 0
                elif f == "logprobs":  # the request parameter was logged (either value)
                    carried = isinstance(v, str) and _has_logprobs_key(v)
                else:
                    carried = v is not None
                if not carried and f in self._extra:
                    carried = row[self._extra[f]] is not None
                self.counts[f] += carried

    def rates(self) -> dict[str, float]:
        return {f: (round(c / self.n, 4) if self.n else 0.0) for f, c in self.counts.items()}


def lake_fill_rates(files: list[Path]) -> tuple[int, dict[str, float]]:
    """(rows, fill rate per signal field) over the Parquet request files ``files``."""
    if not files:
        return 0, dict.fromkeys(SIGNALS, 0.0)
    from detector.lake.db import open_duckdb  # noqa: PLC0415  (imported when called, not by ingest workers)

    cols = ", ".join(f"count(*) FILTER (WHERE {test})" for test, _, _ in SIGNALS.values())
    con = open_duckdb()
    try:
        row = con.execute(f"SELECT count(*), {cols} FROM read_parquet(?, union_by_name=true)",
                          [[str(f) for f in files]]).fetchone()
    finally:
        con.close()
    n = int(row[0])
    return n, {f: (round(c / n, 4) if n else 0.0) for f, c in zip(SIGNALS, row[1:], strict=True)}


__all__ = ["SIGNALS", "FillCounter", "blind_report", "lake_fill_rates", "rule_features",
           "warnings_for"]


def add_coverage(result: object, files: list[Path]) -> None:
    """Set ``result.fill_rates`` / ``result.blind`` from the request files a job wrote and add
    one warning per field none of them carries."""
    n, rates = lake_fill_rates(files)
    report = blind_report(rates, n)
    result.fill_rates, result.blind = rates, report  # type: ignore[attr-defined]
    result.warnings.extend(warnings_for(report))  # type: ignore[attr-defined]


def dry_run(inputs: list[tuple[str, str, str | None, tuple]], limits: object,
            t0: float) -> object:
    """Read, detect, map and count every input as ingest would; commit nothing.

    ``inputs``: (path, format, account_id, reader options). ``duplicates`` are request ids
    seen earlier in this command (the lake's id store is not consulted: a dry run reads no
    home); ``dates`` are the days the accepted records fall on.
    """
    import time  # noqa: PLC0415

    from detector.ingest.formats import get_format  # noqa: PLC0415
    from detector.ingest.parse import parse_batch  # noqa: PLC0415
    from detector.ingest.result import IngestResult  # noqa: PLC0415
    from detector.ingest.timeparse import day_of  # noqa: PLC0415
    from detector.ingest.worker import FileOutcome  # noqa: PLC0415

    seen: set[str] = set()
    counter = FillCounter()
    outcomes = []
    for path, fmt, account_id, options in inputs:
        form = get_format(fmt)
        source = form.source(Path(path), 0, 0)
        reader = form.reader(Path(path), account_id, options)
        out = FileOutcome(path, "", fmt, "dry-run")
        days: set[str] = set()
        for batch in source.batches(50_000, 48 << 20):
            parsed = parse_batch(batch, limits, reader)  # type: ignore[arg-type]
            fresh = []
            for row in parsed.rows:
                if row[0] in seen:
                    out.duplicates += 1
                    continue
                seen.add(row[0])
                fresh.append(row)
                days.add(day_of(row[1]))
            counter.add(fresh)
            out.read += parsed.read
            out.accepted += len(fresh)
            out.quarantined += len(parsed.bad_raw)
        out.dates = sorted(days)
        out.warnings = list(source.warnings)
        outcomes.append(out)
    result = IngestResult.from_outcomes(outcomes, job_id="dry-run")
    result.dry_run = True
    rates = counter.rates()
    report = blind_report(rates, counter.n)
    result.fill_rates, result.blind = rates, report
    result.warnings.extend(warnings_for(report))
    result.seconds = time.perf_counter() - t0
    return result
