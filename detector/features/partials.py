"""Per-account-day partial aggregates, written once in Ibis (runs on DuckDB and on Spark).

Grain of the result: one row per account_id active in the day's requests. Columns are counts,
sums, maxima and minima (see :data:`WINDOW_AGG`) from which :mod:`detector.features.catalog`
derives every non-sampled feature, for one day or for a 7-day window of summed partials.

Portability rules followed here: time within the day is built from integer hour / minute /
second / millisecond extractions (no timestamp subtraction, no epoch casts, which round or
truncate differently per engine); no hash(), no mode, no kurtosis; regexes use only syntax
shared by RE2 (DuckDB) and java.util.regex (Spark).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from detector.features.catalog import HOURS
from detector.features.lexicon import alternation, load_phrases

TEMPLATE_CHARS = 300
HIGH_MAX_TOKENS = 4096
SHARED_PREFIX_ACCOUNTS = 3
HIGH_EFFORT = ("high", "xhigh", "max", "maximum")
PERIODIC_TOLERANCE = 0.1
PERIODIC_MIN_GAP_S = 1.0
NEW_MODEL_HOURS = 48

#: How each partial column combines across the days of a window (``none``: daily only).
WINDOW_AGG: dict[str, str] = {
    "n": "sum", "in_tok": "sum", "out_tok": "sum", "active_hours": "sum", "peak_rpm": "max",
    **{h: "sum" for h in HOURS},
    "gap_n": "sum", "gap_sum": "sum", "gap_sq": "sum", "pair_n": "sum", "periodic_n": "sum",
    "logprobs_n": "sum", "top_logprobs_sum": "sum", "n_gt1": "sum", "n_sum": "sum",
    "max_tokens_n": "sum", "max_tokens_sum": "sum", "max_tokens_high_n": "sum",
    "finish_n": "sum", "length_n": "sum", "high_effort_n": "sum", "reasoning_tok": "sum",
    "cot_lex_n": "sum", "multiturn_n": "sum", "system_n": "sum", "script_ua_n": "sum",
    "shared_prefix_n": "sum", "new_model_n": "sum", "created_min": "min",
    "n_distinct_prompt": "none", "top_model_n": "none", "n_models": "none", "n_templates": "none",
    "top_template_n": "none", "temp_distinct": "none", "temp_min": "none", "temp_max": "none",
    "system_distinct": "none", "ip_distinct": "none", "prefix_distinct": "none",
    "ua_distinct": "none", "key_distinct": "none", "key_evenness": "none",
    "payment_shared_accounts": "none",
}


def template(text: ir.StringValue) -> ir.StringValue:
    """Masked prompt template: quoted text, capitalised words and numbers masked, lower-cased."""
    t = text.substr(0, TEMPLATE_CHARS)
    t = t.re_replace(r'"[^"]*"', '"q"').re_replace("\u201c[^\u201d]*\u201d", '"q"')
    t = t.re_replace("[A-Z][a-z]+", "N").re_replace("[0-9]+([.,][0-9]+)*", "0")
    return t.lower().re_replace("[ \t\r\n]+", " ").strip()


def _day_ms(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Milliseconds since 00:00 UTC of the row's day (the lake partitions by UTC date)."""
    secs = (ts.hour().cast("int64") * 60 + ts.minute().cast("int64")) * 60 + ts.second().cast("int64")
    return secs * 1000 + ts.millisecond().cast("int64")


def enrich(req: ir.Table, first_seen: ir.Table) -> ir.Table:
    """Per-request columns the aggregations need (grain: one row per request)."""
    cot = alternation(load_phrases("cot_phrases"))
    script = alternation(load_phrases("script_user_agents"))
    fs = first_seen.select(fs_model=first_seen.model, fs_ts=first_seen.first_ts)
    r = req.left_join(fs, req.model == fs.fs_model)
    return r.select(
        account_id=r.account_id,
        t_ms=_day_ms(r.ts),
        hour=r.ts.hour().cast("int32"),
        minute=(r.ts.hour() * 60 + r.ts.minute()).cast("int32"),
        request_id=r.request_id,
        model=r.model,
        api_key_id=r.api_key_id,
        client_ip=r.client_ip,
        ip_prefix=r.ip_prefix,
        user_agent=r.user_agent,
        payment_fingerprint=r.payment_fingerprint,
        account_created_at=r.account_created_at,
        prompt_hash=r.prompt_hash,
        system_hash=r.system_hash,
        prompt_text=r.prompt_text,
        in_tok=r.prompt_tokens.fill_null(0),
        out_tok=r.completion_tokens.fill_null(0),
        reasoning_tok=r.reasoning_tokens.fill_null(0),
        max_tokens=r.max_tokens,
        temperature=r.temperature,
        n=r.n.fill_null(1),
        logprobs=(r.logprobs.fill_null(False) | (r.top_logprobs.fill_null(0) > 0)),
        top_logprobs=r.top_logprobs.fill_null(0),
        finish_reason=r.finish_reason,
        high_effort=r.reasoning_effort.lower().isin(HIGH_EFFORT).fill_null(False),
        multiturn=r.n_user_turns.fill_null(1) > 1,
        cot=r.prompt_text.lower().re_search(cot).fill_null(False),
        script_ua=r.user_agent.lower().re_search(script).fill_null(False),
        new_model=(r.ts < r.fs_ts + ibis.interval(hours=NEW_MODEL_HOURS)).fill_null(False),
    )


def _count_if(cond: ir.BooleanValue) -> ir.IntegerScalar:
    return cond.cast("int64").sum()


def _gaps(e: ir.Table) -> ir.Table:
    """Inter-arrival gaps (seconds) and whether each consecutive gap pair is periodic."""
    w = ibis.window(group_by=e.account_id, order_by=[e.t_ms, e.request_id])
    g = e.mutate(gap=(e.t_ms - e.t_ms.lag().over(w)).cast("float64") / 1000.0)
    w2 = ibis.window(group_by=g.account_id, order_by=[g.t_ms, g.request_id])
    g = g.mutate(prev_gap=g.gap.lag().over(w2))
    big = ibis.greatest(g.gap, g.prev_gap)
    pair = g.prev_gap.notnull() & (g.gap >= PERIODIC_MIN_GAP_S) & (g.prev_gap >= PERIODIC_MIN_GAP_S)
    periodic = pair & ((g.gap - g.prev_gap).abs() <= PERIODIC_TOLERANCE * big)
    return g.mutate(pair=pair, periodic=periodic)


def _main(e: ir.Table) -> ir.Table:
    g = _gaps(e)
    aggs = {
        "n": g.count(),
        "n_distinct_prompt": g.prompt_hash.nunique(),
        "in_tok": g.in_tok.sum(),
        "out_tok": g.out_tok.sum(),
        "reasoning_tok": g.reasoning_tok.sum(),
        "active_hours": g.hour.nunique(),
        "n_models": g.model.nunique(),
        **{h: _count_if(g.hour == i) for i, h in enumerate(HOURS)},
        "gap_n": g.gap.count(),
        "gap_sum": g.gap.sum(),
        "gap_sq": (g.gap * g.gap).sum(),
        "pair_n": _count_if(g.pair),
        "periodic_n": _count_if(g.periodic),
        "logprobs_n": _count_if(g.logprobs),
        "top_logprobs_sum": g.top_logprobs.cast("int64").sum(),
        "n_gt1": _count_if(g.n > 1),
        "n_sum": g.n.cast("int64").sum(),
        "max_tokens_n": g.max_tokens.count(),
        "max_tokens_sum": g.max_tokens.sum(),
        "max_tokens_high_n": _count_if((g.max_tokens >= HIGH_MAX_TOKENS).fill_null(False)),
        "finish_n": g.finish_reason.count(),
        "length_n": _count_if((g.finish_reason == "length").fill_null(False)),
        "temp_distinct": g.temperature.nunique(),
        "temp_min": g.temperature.min(),
        "temp_max": g.temperature.max(),
        "high_effort_n": _count_if(g.high_effort),
        "cot_lex_n": _count_if(g.cot),
        "multiturn_n": _count_if(g.multiturn),
        "system_n": g.system_hash.count(),
        "system_distinct": g.system_hash.nunique(),
        "ip_distinct": g.client_ip.nunique(),
        "prefix_distinct": g.ip_prefix.nunique(),
        "ua_distinct": g.user_agent.nunique(),
        "key_distinct": g.api_key_id.nunique(),
        "script_ua_n": _count_if(g.script_ua),
        "new_model_n": _count_if(g.new_model),
        "created_min": g.account_created_at.min(),
    }
    return g.group_by("account_id").aggregate(**aggs)


def _top_share(e: ir.Table, column: str, name: str) -> ir.Table:
    """max over values of ``column`` of the per-account request count."""
    c = e.group_by(["account_id", column]).aggregate(c=e.count())
    return c.group_by("account_id").aggregate(**{name: c.c.max()})


def _templates(e: ir.Table) -> ir.Table:
    t = e.select(account_id=e.account_id, tmpl=template(e.prompt_text.fill_null("")))
    c = t.group_by(["account_id", "tmpl"]).aggregate(c=t.count())
    return c.group_by("account_id").aggregate(n_templates=c.count(), top_template_n=c.c.max())


def _key_evenness(e: ir.Table) -> ir.Table:
    """Normalised entropy of per-key request counts (null with fewer than 2 keys)."""
    k = e.filter(e.api_key_id.notnull())
    c = k.group_by(["account_id", "api_key_id"]).aggregate(c=k.count())
    tot = c.group_by("account_id").aggregate(tot=c.c.sum(), keys=c.count())
    j = c.join(tot, "account_id")
    p = j.c.cast("float64") / j.tot.cast("float64")
    j = j.mutate(term=-(p * p.log2()))
    agg = j.group_by("account_id").aggregate(ent=j.term.sum(), keys=j.keys.max())
    even = ibis.ifelse(agg.keys >= 2, agg.ent / agg.keys.cast("float64").log2(), ibis.null())
    return agg.select("account_id", key_evenness=even.cast("float64"))


def _shared_prefix(e: ir.Table) -> ir.Table:
    """Requests from prefixes that at least SHARED_PREFIX_ACCOUNTS accounts used that day."""
    per = e.filter(e.ip_prefix.notnull())
    crowd = per.group_by("ip_prefix").aggregate(accts=per.account_id.nunique())
    crowd = crowd.filter(crowd.accts >= SHARED_PREFIX_ACCOUNTS).select(sp=crowd.ip_prefix)
    j = per.join(crowd, per.ip_prefix == crowd.sp)
    return j.group_by("account_id").aggregate(shared_prefix_n=j.count())


def _payment(e: ir.Table) -> ir.Table:
    """Other accounts active that day sharing a payment fingerprint with the account."""
    pairs = e.filter(e.payment_fingerprint.notnull()).select("account_id", "payment_fingerprint")
    pairs = pairs.distinct()
    other = pairs.select(o_acct=pairs.account_id, o_fp=pairs.payment_fingerprint)
    j = pairs.join(other, (pairs.payment_fingerprint == other.o_fp) & (pairs.account_id != other.o_acct))
    return j.group_by("account_id").aggregate(payment_shared_accounts=j.o_acct.nunique())


def partials(req: ir.Table, first_seen: ir.Table) -> ir.Table:
    """The partials table expression for one day's requests (one row per account)."""
    e = enrich(req, first_seen)
    out = _main(e)
    for side in (_top_share(e, "model", "top_model_n"), _top_share(e, "minute", "peak_rpm"),
                 _templates(e), _key_evenness(e),
                 _shared_prefix(e), _payment(e)):
        out = out.left_join(side, "account_id").drop("account_id_right")
    fill = {"top_model_n": 0, "shared_prefix_n": 0, "payment_shared_accounts": 0}
    return out.mutate(**{k: out[k].fill_null(v) for k, v in fill.items()})


def first_seen_models(req_all: ir.Table) -> ir.Table:
    """(model, first_ts): each model's first appearance anywhere in the lake."""
    r = req_all.filter(req_all.model.notnull())
    return r.group_by("model").aggregate(first_ts=r.ts.min())
