"""Per-account-day partial aggregates, written once in Ibis (runs on DuckDB and on Spark).

Grain of the result: one row per account_id active in the day's requests. Columns are counts,
sums, maxima and minima (see :data:`WINDOW_AGG`) from which :mod:`detector.features.catalog`
derives every non-sampled feature, for one day or for a 7-day window of summed partials.

Portability rules followed here: time within the day is integer arithmetic on the exact epoch
microseconds (:func:`unix_micros`; no timestamp subtraction, no field extraction through a
time-zone calendar, no floating epoch, which round or truncate differently per engine); no
hash(), no mode, no kurtosis; regexes use only syntax shared by RE2 (DuckDB) and
java.util.regex (Spark).

Shape, for speed (measured on DuckDB, see docs/features.md "Speed"): one plain aggregate over
the requests (no sort, no DISTINCT: distinct aggregates made DuckDB fan every row out to one
consumer per distinct column) plus side aggregates that each read only the columns they need,
joined on account_id: timing (one window over (account number, time), then per
account-minute sums giving gaps, periodic pairs, hours and peak rate), per-(account, value)
counts (models, user agents, keys, /24 prefixes with the shared-prefix count, payment
fingerprints, and one per distinct-count column), the CoT lexicon once per
distinct prompt text of the day. Per-model constants (the 48 h new-model window's end) are
computed on the small first-seen table, not per request.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from detector.features.formulas import HOURS
from detector.features.lexicon import alternation, load_phrases

TEMPLATE_CHARS = 300
HIGH_MAX_TOKENS = 4096
SHARED_PREFIX_ACCOUNTS = 3
HIGH_EFFORT = ("high", "xhigh", "max", "maximum")
PERIODIC_TOLERANCE = 0.1
PERIODIC_MIN_GAP_S = 1.0
NEW_MODEL_HOURS = 48
US_PER_DAY = 86_400_000_000
US_PER_MINUTE = 60_000_000
#: Type the key-entropy terms are summed in (exact and order-independent on DuckDB and Spark).
EXACT_TERM = dt.Decimal(38, 18)
#: Partials stored before the gap sums became int64 milliseconds held float seconds under other
#: names: (stored name, current name, factor to milliseconds); see
#: :func:`detector.features.derive.legacy_gap_sums`.
LEGACY_GAP_SUMS = (("gap_sum", "gap_ms_sum", 1e3), ("gap_sq", "gap_ms_sq", 1e6))

#: How each partial column combines across the days of a window (``none``: daily only).
WINDOW_AGG: dict[str, str] = {
    "n": "sum", "in_tok": "sum", "out_tok": "sum", "active_hours": "sum", "peak_rpm": "max",
    **{h: "sum" for h in HOURS},
    "gap_n": "sum", "gap_ms_sum": "sum", "gap_ms_sq": "sum", "pair_n": "sum", "periodic_n": "sum",
    "logprobs_n": "sum", "top_logprobs_sum": "sum", "n_gt1": "sum", "n_sum": "sum",
    "max_tokens_n": "sum", "max_tokens_sum": "sum", "max_tokens_high_n": "sum",
    "finish_n": "sum", "length_n": "sum", "high_effort_n": "sum", "reasoning_tok": "sum",
    "cot_lex_n": "sum", "multiturn_n": "sum", "system_n": "sum", "script_ua_n": "sum",
    "shared_prefix_n": "sum", "new_model_n": "sum", "created_min": "min",
    "n_distinct_prompt": "none", "top_model_n": "none", "n_models": "none",
    "temp_distinct": "none", "temp_min": "none", "temp_max": "none",
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


@ibis.udf.scalar.builtin
def unix_micros(ts: dt.Timestamp(timezone="UTC")) -> dt.int64:  # type: ignore[empty-body]
    """Microseconds since 1970-01-01 UTC, exact (Spark ``UNIX_MICROS``; DuckDB ``EPOCH_US``)."""


def _day_ms_as_us(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Time within the row's UTC day (the lake partitions by UTC date), truncated to the
    millisecond, in microseconds: a multiple of 1000 below 86_400_000_000.

    Integer arithmetic on the exact epoch microseconds: no time-zone calendar, no rounding,
    same value on every engine (both take the sign of the dividend in ``%``; times are after 1970).
    """
    us = unix_micros(ts) % US_PER_DAY
    return us - us % 1000


def _requests(req: ir.Table, first_seen: ir.Table) -> ir.Table:
    """Per-request numeric and flag columns of the main aggregate (grain: one row per request)."""
    # the 48 h window's end is added once per model (interval arithmetic on a zoned timestamp
    # goes through a calendar: costly per request)
    fs = first_seen.select(fs_model=first_seen.model,
                           fs_until=first_seen.first_ts + ibis.interval(hours=NEW_MODEL_HOURS))
    r = req.left_join(fs, req.model == fs.fs_model)
    return r.select(
        account_id=r.account_id,
        system_hash=r.system_hash,
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
        new_model=(r.ts < r.fs_until).fill_null(False),
    )


def _count_if(t: ir.Table, cond: ir.BooleanValue) -> ir.IntegerScalar:
    """Rows of ``t`` where ``cond`` is true (COUNT(*) FILTER (WHERE cond) in SQL)."""
    return t.count(where=cond)


def _sum_if(cond: ir.BooleanValue, value: ir.IntegerValue) -> ir.IntegerScalar:
    """Sum of ``value`` over rows where ``cond`` is true (0 when none)."""
    return ibis.ifelse(cond, value, 0).cast("int64").sum()


def _main(req: ir.Table, first_seen: ir.Table) -> ir.Table:
    """Counts, sums and extremes straight over the requests (no sort, no distinct counts)."""
    g = _requests(req, first_seen)
    aggs = {
        "n": g.count(),
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
        "temp_min": g.temperature.min(),
        "temp_max": g.temperature.max(),
        "high_effort_n": _count_if(g, g.high_effort),
        "multiturn_n": _count_if(g, g.multiturn),
        "system_n": g.system_hash.count(),
        "new_model_n": _count_if(g, g.new_model),
        "created_min": g.account_created_at.min(),
    }
    return g.group_by("account_id").aggregate(**aggs)


def _timing(req: ir.Table) -> ir.Table:
    """Inter-arrival gaps, periodic gap pairs, the hour-of-day histogram, active hours and the
    peak per-minute rate per account, from one sort of (account number, time).

    The account number is the rank of account_id (integer partition keys sort and hash faster
    than strings). Both lags come from one window; gap statistics are summed per
    (account, minute), which also gives the per-minute counts. Requests with equal times need
    no tie-breaker: whatever their order, the sequence of times (hence of gaps and gap pairs)
    is the same. Gaps are whole milliseconds (times are truncated to the millisecond), so their
    sums and sums of squares are exact int64 (at most 8.64e7 and 7.5e15 per account-day) and do
    not depend on the order in which threads or executors add them; the periodicity test runs
    per row on the gap in seconds.
    """
    acc = req.select("account_id").distinct()
    acc = acc.mutate(k=ibis.row_number().over(order_by=acc.account_id))
    e = req.select(account_id=req.account_id, t=_day_ms_as_us(req.ts)).join(acc, "account_id")
    w = ibis.window(group_by=e.k, order_by=e.t)
    lag1, lag2 = e.t.lag().over(w), e.t.lag(2).over(w)
    g = e.select(k=e.k, minute=e.t // US_PER_MINUTE, gap_ms=((e.t - lag1) // 1000).cast("int64"),
                 prev_gap=(lag1 - lag2).cast("float64") / 1e6)
    gap = g.gap_ms.cast("float64") / 1e3  # the same double as (t - lag1) / 1e6
    big = ibis.greatest(gap, g.prev_gap)
    pair = g.prev_gap.notnull() & (gap >= PERIODIC_MIN_GAP_S) & (g.prev_gap >= PERIODIC_MIN_GAP_S)
    periodic = pair & ((gap - g.prev_gap).abs() <= PERIODIC_TOLERANCE * big)
    m = g.group_by(["k", "minute"]).aggregate(
        c=g.count(), gap_n=g.gap_ms.count(), gap_ms_sum=g.gap_ms.sum().cast("int64"),
        gap_ms_sq=(g.gap_ms * g.gap_ms).sum().cast("int64"),
        pair_n=_count_if(g, pair), periodic_n=_count_if(g, periodic))
    m = m.mutate(hour=(m.minute // 60).cast("int32"))
    stats = m.group_by("k").aggregate(
        gap_n=m.gap_n.sum(), gap_ms_sum=m.gap_ms_sum.sum().cast("int64"),
        gap_ms_sq=m.gap_ms_sq.sum().cast("int64"), pair_n=m.pair_n.sum(),
        periodic_n=m.periodic_n.sum(), active_hours=m.hour.nunique(), peak_rpm=m.c.max(),
        **{h: _sum_if(m.hour == i, m.c) for i, h in enumerate(HOURS)})
    return stats.join(acc, "k").drop("k")


def _models(req: ir.Table) -> ir.Table:
    """Requests on the busiest model (null model counts as one value) and distinct models."""
    c = req.group_by(["account_id", "model"]).aggregate(c=req.count())
    return c.group_by("account_id").aggregate(top_model_n=c.c.max(), n_models=c.model.count())


def _prompts(req: ir.Table) -> ir.Table:
    """The CoT lexicon, evaluated once per distinct prompt text of the day (null text counts as
    ""), then weighted by each (account, text)'s requests."""
    cot = alternation(load_phrases("cot_phrases"))
    r = req.select(account_id=req.account_id, text=req.prompt_text.fill_null(""))
    p = r.group_by(["account_id", "text"]).aggregate(c=r.count())
    texts = p.select("text").distinct()
    texts = texts.mutate(cot=texts.text.lower().re_search(cot).fill_null(False))
    j = p.join(texts, "text")
    return j.group_by("account_id").aggregate(cot_lex_n=_sum_if(j.cot, j.c))


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
    # each term rounded to 18 decimals and summed as DECIMAL(38, 18): an exact sum, the same
    # whatever order threads or executors add the terms in (a double sum is not)
    j = j.mutate(term=(-(p * p.log2())).cast(EXACT_TERM))
    agg = j.group_by("account_id").aggregate(ent=j.term.sum().cast("float64"), keys=j.keys.max())
    even = ibis.ifelse(agg.keys >= 2, agg.ent / agg.keys.cast("float64").log2(), ibis.null())
    return agg.select("account_id", key_distinct=agg.keys, key_evenness=even.cast("float64"))


def _distinct(req: ir.Table, column: str, name: str) -> ir.Table:
    """Distinct non-null values of ``column`` per account, from the (account, value) pairs."""
    pairs = req.group_by(["account_id", column]).aggregate()
    return pairs.group_by("account_id").aggregate(**{name: pairs[column].count()})


def _prefixes(req: ir.Table) -> ir.Table:
    """Distinct /24 prefixes and requests from prefixes that at least SHARED_PREFIX_ACCOUNTS
    accounts used that day, both from one (account, prefix) count."""
    per = req.group_by(["account_id", "ip_prefix"]).aggregate(c=req.count())
    used = per.filter(per.ip_prefix.notnull())
    crowd = used.group_by("ip_prefix").aggregate(accts=used.count())
    crowd = crowd.filter(crowd.accts >= SHARED_PREFIX_ACCOUNTS).select(sp=crowd.ip_prefix, shared=True)
    j = per.left_join(crowd, per.ip_prefix == crowd.sp)
    return j.group_by("account_id").aggregate(prefix_distinct=j.ip_prefix.count(),
                                              shared_prefix_n=_sum_if(j.shared.fill_null(False), j.c))


def _payment(req: ir.Table) -> ir.Table:
    """Other accounts active that day sharing a payment fingerprint with the account."""
    pairs = req.filter(req.payment_fingerprint.notnull()).select("account_id", "payment_fingerprint")
    pairs = pairs.distinct()
    other = pairs.select(o_acct=pairs.account_id, o_fp=pairs.payment_fingerprint)
    j = pairs.join(other, (pairs.payment_fingerprint == other.o_fp) & (pairs.account_id != other.o_acct))
    return j.group_by("account_id").aggregate(payment_shared_accounts=j.o_acct.nunique())


#: Column order of the partials table (the stored ``features/partials`` order, before ``date``).
COLUMNS = ["account_id", "n", "n_distinct_prompt", "in_tok", "out_tok", "reasoning_tok", "active_hours",
           "n_models", *HOURS, "gap_n", "gap_ms_sum", "gap_ms_sq", "pair_n", "periodic_n", "logprobs_n",
           "top_logprobs_sum", "n_gt1", "n_sum", "max_tokens_n", "max_tokens_sum", "max_tokens_high_n",
           "finish_n", "length_n", "temp_distinct", "temp_min", "temp_max", "high_effort_n", "cot_lex_n",
           "multiturn_n", "system_n", "system_distinct", "ip_distinct", "prefix_distinct", "ua_distinct",
           "key_distinct", "end_user_distinct", "script_ua_n", "new_model_n", "created_min", "top_model_n", "peak_rpm",
           "key_evenness", "shared_prefix_n", "payment_shared_accounts"]


def partials(req: ir.Table, first_seen: ir.Table) -> ir.Table:
    """The partials table expression for one day's requests (one row per account).

    Each side aggregate reads only the request columns it needs (no wide shared intermediate),
    and regexes run once per distinct text rather than once per request.
    """
    out = _main(req, first_seen)
    sides = [_timing(req), _models(req), _prompts(req), _agents(req), _keys(req),
             _prefixes(req), _payment(req)]
    distinct = {"n_distinct_prompt": "prompt_hash", "temp_distinct": "temperature",
                "system_distinct": "system_hash", "ip_distinct": "client_ip", "end_user_distinct": "end_user_hash"}
    for name, column in distinct.items():
        if column in req.columns:  # lakes written before end_user_hash existed have none
            sides.append(_distinct(req, column, name))
    for side in sides:
        out = out.left_join(side, "account_id").drop("account_id_right")
    fill = {"shared_prefix_n": 0, "payment_shared_accounts": 0, "key_distinct": 0,
            **{name: 0 for name in distinct}}
    out = out.mutate(**{k: (out[k].fill_null(v) if k in out.columns else ibis.literal(v, "int64"))
                        for k, v in fill.items()})
    return out.select(*COLUMNS)


def first_seen_models(req_all: ir.Table) -> ir.Table:
    """(model, first_ts): each model's first appearance anywhere in the lake."""
    r = req_all.filter(req_all.model.notnull())
    return r.group_by("model").aggregate(first_ts=r.ts.min())
