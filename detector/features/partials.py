"""Per-account-day partial aggregates, written once in Ibis (runs on DuckDB and on Spark).

Grain of the result: one row per account_id active in the day's requests. Columns are counts,
sums, maxima and minima (see :data:`WINDOW_AGG`) from which :mod:`detector.features.catalog`
derives every non-sampled feature, for one day or for a 7-day window of summed partials.

Portability rules followed here: time within the day is built from integer hour / minute /
second / millisecond extractions (no timestamp subtraction, no epoch casts, which round or
truncate differently per engine); no hash(), no mode, no kurtosis; regexes use only syntax
shared by RE2 (DuckDB) and java.util.regex (Spark).

Shape, for speed: one plain aggregate over the requests (no sort) plus side aggregates that
each read only the columns they need (gaps: a 2-column window; hours and peak rate: per
account-minute counts; templates and the CoT lexicon: once per distinct prompt text of the day;
scripting user agents: once per distinct (account, user agent)), joined on account_id.
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
    "ua_distinct": "none", "key_distinct": "none", "key_evenness": "none", "end_user_distinct": "none",
    "payment_shared_accounts": "none",
}


def template(text: ir.StringValue) -> ir.StringValue:
    """Masked prompt template: quoted text, capitalised words and numbers masked, lower-cased."""
    t = text.substr(0, TEMPLATE_CHARS)
    t = t.re_replace(r'"[^"]*"', '"q"').re_replace("\u201c[^\u201d]*\u201d", '"q"')
    t = t.re_replace("[A-Z][a-z]+", "N").re_replace("[0-9]+([.,][0-9]+)*", "0")
    return t.lower().re_replace("[ \t\r\n]+", " ").strip()


def _day_ms(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Milliseconds since 00:00 UTC of the row's day (the lake partitions by UTC date).

    The value is cast to a zone-less timestamp once (sessions run in UTC) so the four field
    extractions do not each go through a time-zone calendar.
    """
    ts = ts.cast("timestamp")
    secs = (ts.hour().cast("int64") * 60 + ts.minute().cast("int64")) * 60 + ts.second().cast("int64")
    return secs * 1000 + ts.millisecond().cast("int64")


def _requests(req: ir.Table, first_seen: ir.Table) -> ir.Table:
    """Per-request numeric and flag columns of the main aggregate (grain: one row per request)."""
    fs = first_seen.select(fs_model=first_seen.model, fs_ts=first_seen.first_ts)
    r = req.left_join(fs, req.model == fs.fs_model)
    return r.select(
        account_id=r.account_id,
        prompt_hash=r.prompt_hash,
        system_hash=r.system_hash,
        client_ip=r.client_ip,
        ip_prefix=r.ip_prefix,
        # lakes written before the column existed have none: every request counts as "no id"
        end_user_hash=(r.end_user_hash if "end_user_hash" in req.columns
                       else ibis.null().cast("string")),
        account_created_at=r.account_created_at,
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
        new_model=(r.ts < r.fs_ts + ibis.interval(hours=NEW_MODEL_HOURS)).fill_null(False),
    )


def _count_if(t: ir.Table, cond: ir.BooleanValue) -> ir.IntegerScalar:
    """Rows of ``t`` where ``cond`` is true (COUNT(*) FILTER (WHERE cond) in SQL)."""
    return t.count(where=cond)


def _sum_if(cond: ir.BooleanValue, value: ir.IntegerValue) -> ir.IntegerScalar:
    """Sum of ``value`` over rows where ``cond`` is true (0 when none)."""
    return ibis.ifelse(cond, value, 0).cast("int64").sum()


def _main(req: ir.Table, first_seen: ir.Table) -> ir.Table:
    """Counts, sums, extremes and distinct counts straight over the requests (no sort)."""
    g = _requests(req, first_seen)
    aggs = {
        "n": g.count(),
        "n_distinct_prompt": g.prompt_hash.nunique(),
        "in_tok": g.in_tok.sum(),
        "out_tok": g.out_tok.sum(),
        "reasoning_tok": g.reasoning_tok.sum(),
        "logprobs_n": _count_if(g, g.logprobs),
        "top_logprobs_sum": g.top_logprobs.cast("int64").sum(),
        "n_gt1": _count_if(g, g.n > 1),
        "n_sum": g.n.cast("int64").sum(),
        "max_tokens_n": g.max_tokens.count(),
        "max_tokens_sum": g.max_tokens.sum(),
        "max_tokens_high_n": _count_if(g, (g.max_tokens >= HIGH_MAX_TOKENS).fill_null(False)),
        "finish_n": g.finish_reason.count(),
        "length_n": _count_if(g, (g.finish_reason == "length").fill_null(False)),
        "temp_distinct": g.temperature.nunique(),
        "temp_min": g.temperature.min(),
        "temp_max": g.temperature.max(),
        "high_effort_n": _count_if(g, g.high_effort),
        "multiturn_n": _count_if(g, g.multiturn),
        "system_n": g.system_hash.count(),
        "system_distinct": g.system_hash.nunique(),
        "ip_distinct": g.client_ip.nunique(),
        "prefix_distinct": g.ip_prefix.nunique(),
        "end_user_distinct": g.end_user_hash.nunique(),
        "new_model_n": _count_if(g, g.new_model),
        "created_min": g.account_created_at.min(),
    }
    return g.group_by("account_id").aggregate(**aggs)


def _gaps(req: ir.Table) -> ir.Table:
    """Inter-arrival gap statistics (seconds) and periodic gap pairs per account.

    Sorts only the two columns it needs; both lags come from one window (one sort). Requests
    with equal times need no tie-breaker: whatever their order, the sequence of times (hence
    of gaps and gap pairs) is the same.
    """
    e = req.select(account_id=req.account_id, t_ms=_day_ms(req.ts))
    w = ibis.window(group_by=e.account_id, order_by=e.t_ms)
    lag1, lag2 = e.t_ms.lag().over(w), e.t_ms.lag(2).over(w)
    g = e.mutate(gap=(e.t_ms - lag1).cast("float64") / 1000.0,
                 prev_gap=(lag1 - lag2).cast("float64") / 1000.0)
    big = ibis.greatest(g.gap, g.prev_gap)
    pair = g.prev_gap.notnull() & (g.gap >= PERIODIC_MIN_GAP_S) & (g.prev_gap >= PERIODIC_MIN_GAP_S)
    periodic = pair & ((g.gap - g.prev_gap).abs() <= PERIODIC_TOLERANCE * big)
    return g.group_by("account_id").aggregate(
        gap_n=g.gap.count(), gap_sum=g.gap.sum(), gap_sq=(g.gap * g.gap).sum(),
        pair_n=_count_if(g, pair), periodic_n=_count_if(g, periodic))


def _minutes(req: ir.Table) -> ir.Table:
    """Per-account hour-of-day histogram, active hours and peak per-minute rate."""
    e = req.select(account_id=req.account_id, hour=req.ts.hour().cast("int32"),
                   minute=req.ts.minute().cast("int32"))
    c = e.group_by(["account_id", "hour", "minute"]).aggregate(c=e.count())
    return c.group_by("account_id").aggregate(
        active_hours=c.hour.nunique(), peak_rpm=c.c.max(),
        **{h: _sum_if(c.hour == i, c.c) for i, h in enumerate(HOURS)})


def _models(req: ir.Table) -> ir.Table:
    """Requests on the busiest model (null model counts as one value) and distinct models."""
    c = req.group_by(["account_id", "model"]).aggregate(c=req.count())
    return c.group_by("account_id").aggregate(top_model_n=c.c.max(), n_models=c.model.count())


def _prompts(req: ir.Table) -> ir.Table:
    """Masked templates and the CoT lexicon, evaluated once per distinct prompt text of the day
    (null text counts as ""), then weighted by each (account, text)'s requests."""
    cot = alternation(load_phrases("cot_phrases"))
    r = req.select(account_id=req.account_id, text=req.prompt_text.fill_null(""))
    p = r.group_by(["account_id", "text"]).aggregate(c=r.count())
    texts = p.select("text").distinct()
    texts = texts.mutate(tmpl=template(texts.text), cot=texts.text.lower().re_search(cot).fill_null(False))
    j = p.join(texts, "text")
    t = j.group_by(["account_id", "tmpl"]).aggregate(c=j.c.sum(), cot_n=_sum_if(j.cot, j.c))
    return t.group_by("account_id").aggregate(n_templates=t.count(), top_template_n=t.c.max(),
                                              cot_lex_n=t.cot_n.sum())


def _agents(req: ir.Table) -> ir.Table:
    """Distinct user agents and requests from scripting clients, once per distinct agent."""
    script = alternation(load_phrases("script_user_agents"))
    a = req.group_by(["account_id", "user_agent"]).aggregate(c=req.count())
    is_script = a.user_agent.lower().re_search(script).fill_null(False)
    return a.group_by("account_id").aggregate(ua_distinct=a.user_agent.count(),
                                              script_ua_n=_sum_if(is_script, a.c))


def _keys(req: ir.Table) -> ir.Table:
    """Distinct API keys and the normalised entropy of per-key counts (null under 2 keys)."""
    k = req.filter(req.api_key_id.notnull())
    c = k.group_by(["account_id", "api_key_id"]).aggregate(c=k.count())
    tot = c.group_by("account_id").aggregate(tot=c.c.sum(), keys=c.count())
    j = c.join(tot, "account_id")
    p = j.c.cast("float64") / j.tot.cast("float64")
    j = j.mutate(term=-(p * p.log2()))
    agg = j.group_by("account_id").aggregate(ent=j.term.sum(), keys=j.keys.max())
    even = ibis.ifelse(agg.keys >= 2, agg.ent / agg.keys.cast("float64").log2(), ibis.null())
    return agg.select("account_id", key_distinct=agg.keys, key_evenness=even.cast("float64"))


def _shared_prefix(req: ir.Table) -> ir.Table:
    """Requests from prefixes that at least SHARED_PREFIX_ACCOUNTS accounts used that day."""
    per = req.filter(req.ip_prefix.notnull()).select("account_id", "ip_prefix")
    crowd = per.group_by("ip_prefix").aggregate(accts=per.account_id.nunique())
    crowd = crowd.filter(crowd.accts >= SHARED_PREFIX_ACCOUNTS).select(sp=crowd.ip_prefix)
    j = per.join(crowd, per.ip_prefix == crowd.sp)
    return j.group_by("account_id").aggregate(shared_prefix_n=j.count())


def _payment(req: ir.Table) -> ir.Table:
    """Other accounts active that day sharing a payment fingerprint with the account."""
    pairs = req.filter(req.payment_fingerprint.notnull()).select("account_id", "payment_fingerprint")
    pairs = pairs.distinct()
    other = pairs.select(o_acct=pairs.account_id, o_fp=pairs.payment_fingerprint)
    j = pairs.join(other, (pairs.payment_fingerprint == other.o_fp) & (pairs.account_id != other.o_acct))
    return j.group_by("account_id").aggregate(payment_shared_accounts=j.o_acct.nunique())


#: Column order of the partials table (the stored ``features/partials`` order, before ``date``).
COLUMNS = ["account_id", "n", "n_distinct_prompt", "in_tok", "out_tok", "reasoning_tok", "active_hours",
           "n_models", *HOURS, "gap_n", "gap_sum", "gap_sq", "pair_n", "periodic_n", "logprobs_n",
           "top_logprobs_sum", "n_gt1", "n_sum", "max_tokens_n", "max_tokens_sum", "max_tokens_high_n",
           "finish_n", "length_n", "temp_distinct", "temp_min", "temp_max", "high_effort_n", "cot_lex_n",
           "multiturn_n", "system_n", "system_distinct", "ip_distinct", "prefix_distinct", "ua_distinct",
           "key_distinct", "end_user_distinct", "script_ua_n", "new_model_n", "created_min", "top_model_n", "peak_rpm",
           "n_templates", "top_template_n", "key_evenness", "shared_prefix_n", "payment_shared_accounts"]


def partials(req: ir.Table, first_seen: ir.Table) -> ir.Table:
    """The partials table expression for one day's requests (one row per account).

    Each side aggregate reads only the request columns it needs (no wide shared intermediate),
    and regexes run once per distinct text rather than once per request.
    """
    out = _main(req, first_seen)
    for side in (_gaps(req), _minutes(req), _models(req), _prompts(req), _agents(req), _keys(req),
                 _shared_prefix(req), _payment(req)):
        out = out.left_join(side, "account_id").drop("account_id_right")
    fill = {"shared_prefix_n": 0, "payment_shared_accounts": 0, "key_distinct": 0}
    out = out.mutate(**{k: out[k].fill_null(v) for k, v in fill.items()})
    return out.select(*COLUMNS)


def first_seen_models(req_all: ir.Table) -> ir.Table:
    """(model, first_ts): each model's first appearance anywhere in the lake."""
    r = req_all.filter(req_all.model.notnull())
    return r.group_by("model").aggregate(first_ts=r.ts.min())
