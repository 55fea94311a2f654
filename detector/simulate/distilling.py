"""Distilling archetypes: accounts harvesting outputs to train another model.

They are built to be realistically hard: hydra members stay under volume limits, low-and-slow
mimics look human one by one, proxies hide harvesting inside real customer traffic. Nothing in
ids, user agents or metadata names the label.
"""

from __future__ import annotations

import random

import numpy as np

from detector.simulate import infra
from detector.simulate import prompts as P
from detector.simulate.benign import (
    _user_msgs,
    end_user_pool,
    relay_gateway,
    relay_request,
    relay_weights,
    zipf_cum,
)
from detector.simulate.context import Account, Context, Unit
from detector.simulate.timing import (
    DAY_S,
    PERSONAL,
    flat,
    in_hours,
    job_clock,
    job_times,
    round_robin,
    sessions,
    utc_weights,
)

_EXPERT_SYSTEMS = ("You are a world-class expert. Always answer exhaustively, with examples.",
                   "You are a meticulous teacher. Give complete, step-by-step explanations.",
                   "Respond with the most detailed, high-quality answer possible.")


class TopicWalk:
    """Systematic coverage of the taxonomy: items in a fixed shuffled order, visited in turn."""

    def __init__(self, ctx: Context, r: random.Random) -> None:
        self.items = list(ctx.taxonomy)
        r.shuffle(self.items)
        self.i = r.randrange(len(self.items))

    def next(self) -> tuple[str, str]:
        item = self.items[self.i % len(self.items)]
        self.i += 1
        return item


def _harvest_prompt(ctx: Context, r: random.Random, walk: TopicWalk, cot_share: float) -> str:
    subj, sub = walk.next()
    if r.random() < cot_share:
        return P.cot_wrap(r, ctx.prompts.math(r))
    return ctx.prompts.instruction(r, subj, sub)


def _pow2(r: random.Random, lo: float, hi: float) -> int:
    """A max_tokens value: a power of two within [lo, hi]."""
    opts = [2 ** k for k in range(8, 16) if lo <= 2 ** k <= hi] or [int(hi)]
    return r.choice(opts)


def _fleet(r: random.Random, n: int) -> list[str]:
    net = infra.cloud_subnet(r)
    return [infra.ipv4(r, (), prefix24=net) for _ in range(n)]


def bulk_harvester(ctx: Context, u: Unit) -> list[Account]:
    """Self-instruct style generation prompts, long outputs, 24/7 at high volume."""
    r, g = u.r, u.g
    p = ctx.params("bulk_harvester", r)
    acct = ctx.new_account(r, "bulk_harvester", age_days=p["age_days"])
    acct.error_share = p["error_share"]
    fleet, ua = _fleet(r, r.randint(1, 4)), r.choice(infra.SCRIPT_UAS)
    walk = TopicWalk(ctx, r)
    regular = r.random() < p["regular_share"]
    max_tokens = _pow2(r, 2048, p["max_tokens"])
    temps = r.choice(((0.7,), (1.0,), (0.3, 0.7, 1.0), (0.0, 0.5, 1.0)))
    system = r.choice(_EXPERT_SYSTEMS) if r.random() < 0.6 else None
    n_choices = r.choice((1, 1, 1, 2, 4))
    clock = job_clock(r, acct.tz_offset_h, paced=regular)
    for d in range(ctx.days):
        n = int(g.poisson(p["requests_per_day"]))
        times = job_times(g, clock, ctx.day_start(d), n)
        for j, t in enumerate(times.tolist()):
            msgs = [{"role": "user", "content": _harvest_prompt(ctx, r, walk, 0.15)}]
            if system:
                msgs.insert(0, {"role": "system", "content": system})
            body = {"messages": msgs, "max_tokens": max_tokens, "temperature": temps[j % len(temps)]}
            if n_choices > 1:
                body["n"] = n_choices
            ctx.add(acct, r, t, body, model="frontier-large", ip=r.choice(fleet), ua=ua,
                    completion_median=p["completion_median"])
    return [acct]


def hydra(ctx: Context, u: Unit) -> list[Account]:
    """A cluster of fresh accounts behind a load balancer: each under volume limits, shared
    payment instruments and cloud /24s, round-robin timing, slightly varied user agents."""
    r, g = u.r, u.g
    cp = ctx.params("hydra", r)
    cluster = ctx.unique_id(r, "c", 32)
    n_cards = max(1, int(round(u.size * cp["cards_per_member"])))
    cards = [infra.payment_fingerprint(r) for _ in range(n_cards)]
    nets = [infra.cloud_subnet(r) for _ in range(max(1, int(round(cp["subnets"]))))]
    uas = r.sample(infra.SCRIPT_UAS, max(1, int(round(cp["ua_variants"]))))
    batch_age = cp["age_days"]
    members: list[Account] = []
    ips: list[list[str]] = []
    for i in range(u.size):
        acct = ctx.new_account(r, "hydra", cluster=cluster, payment=cards[i % n_cards],
                               age_days=batch_age + r.uniform(0, 0.3), tz=0)
        acct.error_share = 0.01
        members.append(acct)
        ips.append([infra.ipv4(r, (), prefix24=r.choice(nets)) for _ in range(r.randint(1, 3))])
    member_ua = [r.choice(uas) for _ in members]
    walk = TopicWalk(ctx, r)
    max_tokens = r.choice((4096, 8192))
    temp = r.choice((0.7, 0.8, 1.0))
    system = r.choice(_EXPERT_SYSTEMS) if r.random() < 0.5 else None
    for d in range(ctx.days):
        n = int(g.poisson(cp["requests_per_day"] * u.size))
        times, who = round_robin(g, ctx.day_start(d), ctx.day_start(d) + DAY_S, n, u.size)
        for t, m in zip(times.tolist(), who.tolist(), strict=True):
            msgs = [{"role": "user", "content": _harvest_prompt(ctx, r, walk, 0.3)}]
            if system:
                msgs.insert(0, {"role": "system", "content": system})
            body = {"messages": msgs, "max_tokens": max_tokens, "temperature": temp}
            ctx.add(members[m], r, t, body, model="frontier-large", ip=r.choice(ips[m]),
                    ua=member_ua[m], completion_median=cp["completion_median"])
    return members


def cot_coercion(ctx: Context, u: Unit) -> list[Account]:
    """Prompts that coerce the full chain of thought; reasoning model / high reasoning effort."""
    r, g = u.r, u.g
    p = ctx.params("cot_coercion", r)
    acct = ctx.new_account(r, "cot_coercion", age_days=p["age_days"])
    fleet, ua = _fleet(r, r.randint(1, 3)), r.choice(infra.SCRIPT_UAS + infra.SDK_UAS)
    walk = TopicWalk(ctx, r)
    max_tokens = r.choice((8192, 16384, 32768))
    clock = job_clock(r, acct.tz_offset_h)
    for d in range(ctx.days):
        n = int(g.poisson(p["requests_per_day"]))
        for t in job_times(g, clock, ctx.day_start(d), n).tolist():
            subj, sub = walk.next()
            problem = ctx.prompts.math(r) if r.random() < 0.6 else \
                ctx.prompts.instruction(r, subj, sub)
            body: dict = {"messages": [{"role": "user", "content": P.cot_wrap(r, problem)}],
                          "max_completion_tokens": max_tokens}
            if r.random() < p["reasoning_share"]:
                model, body["reasoning_effort"] = "frontier-reasoner", "high"
                reasoning = 2.0 * p["completion_median"]
            else:
                model, reasoning = "frontier-large", 0.0
            ctx.add(acct, r, t, body, model=model, ip=r.choice(fleet), ua=ua,
                    completion_median=p["completion_median"], reasoning_median=reasoning)
    return [acct]


def logprob_harvester(ctx: Context, u: Unit) -> list[Account]:
    """Full token distributions: logprobs with top_logprobs=20 on long, diverse completions."""
    r, g = u.r, u.g
    p = ctx.params("logprob_harvester", r)
    acct = ctx.new_account(r, "logprob_harvester", age_days=p["age_days"])
    fleet, ua = _fleet(r, r.randint(1, 3)), r.choice(infra.SCRIPT_UAS + infra.SDK_UAS)
    walk = TopicWalk(ctx, r)
    max_tokens = r.choice((2048, 4096))
    clock = job_clock(r, acct.tz_offset_h)
    for d in range(ctx.days):
        n = int(g.poisson(p["requests_per_day"]))
        for t in job_times(g, clock, ctx.day_start(d), n).tolist():
            text = ctx.prompts.chat(r) if r.random() < 0.5 else _harvest_prompt(ctx, r, walk, 0.1)
            body = {"messages": [{"role": "user", "content": text}], "max_tokens": max_tokens,
                    "temperature": 1.0, "logprobs": True, "top_logprobs": 20}
            ctx.add(acct, r, t, body, model="frontier-large", ip=r.choice(fleet), ua=ua,
                    completion_median=p["completion_median"])
    return [acct]


def low_and_slow(ctx: Context, u: Unit) -> list[Account]:
    """Aged accounts with human-like timing and real-looking prompts, that between them cover
    the topic taxonomy systematically (each member walks its own disjoint slice)."""
    r, g = u.r, u.g
    cluster = ctx.unique_id(r, "c", 32)
    items = list(ctx.taxonomy)
    r.shuffle(items)
    max_tokens = r.choice((2048, 4096))
    plan = []
    for _ in range(u.size):  # every member (identity, habits) before any request
        p = ctx.params("low_and_slow", r)
        acct = ctx.new_account(r, "low_and_slow", cluster=cluster, age_days=p["age_days"])
        ips = [infra.residential_ip(r) for _ in range(r.randint(1, 2))]
        ua = r.choice(infra.APP_UAS)
        sure_day = r.randrange(ctx.days)
        days = [d for d in range(ctx.days) if d == sure_day or r.random() <= p["active_day_share"]]
        plan.append((acct, p, ips, ua, days))
    members = [m[0] for m in plan]
    for i, (acct, p, ips, ua, days) in enumerate(plan):
        mine = items[i::u.size] or items
        weights = utc_weights(PERSONAL, acct.tz_offset_h)
        k = 0
        for d in days:
            n = max(1, int(g.poisson(p["requests_per_day"])))
            times, sid = sessions(g, ctx.day_start(d), n, weights, p["turns_mean"], 90.0)
            history: list[dict] = []
            last = -1
            for t, s in zip(times.tolist(), sid.tolist(), strict=True):
                if s != last:
                    history, last = [], s
                    subj, sub = mine[k % len(mine)]
                    k += 1
                    text = P.human_question(r, subj, sub) if r.random() < 0.85 else ctx.prompts.chat(r)
                else:
                    text = P.follow_up(r)
                body = {"messages": _user_msgs(history, text, r), "max_tokens": max_tokens}
                if r.random() < 0.5:
                    body["stream"] = True
                ctx.add(acct, r, t, body, model="frontier-large", ip=r.choice(ips), ua=ua,
                        completion_median=p["completion_median"])
    return members


def release_chaser(ctx: Context, u: Unit) -> list[Account]:
    """Quiet on the old model, then moves to a newly released model within hours, at volume."""
    r, g = u.r, u.g
    p = ctx.params("release_chaser", r)
    acct = ctx.new_account(r, "release_chaser", age_days=p["age_days"])
    fleet, ua = _fleet(r, r.randint(1, 3)), r.choice(infra.SCRIPT_UAS)
    walk = TopicWalk(ctx, r)
    switch = ctx.release_t + p["lag_hours"] * 3600.0
    max_tokens = r.choice((4096, 8192))
    for d in range(ctx.days):
        d0, d1 = ctx.day_start(d), ctx.day_start(d) + DAY_S
        pre = flat(g, d0, min(d1, switch), int(g.poisson(p["pre_release_per_day"])), False) \
            if d0 < switch else np.empty(0)
        lo = max(d0, switch)
        frac = max(0.0, (d1 - lo) / DAY_S)
        post = flat(g, lo, d1, int(g.poisson(p["post_release_per_day"] * frac)), True) \
            if lo < d1 else np.empty(0)
        for t in pre.tolist():
            body = {"messages": [{"role": "user", "content": ctx.prompts.chat(r)}]}
            ctx.add(acct, r, t, body, model="frontier-large", ip=r.choice(fleet), ua=ua,
                    completion_median=p["completion_median"] / 3)
        for t in post.tolist():
            body = {"messages": [{"role": "user", "content": _harvest_prompt(ctx, r, walk, 0.3)}],
                    "max_tokens": max_tokens, "temperature": 0.8}
            ctx.add(acct, r, t, body, model=ctx.release_model, ip=r.choice(fleet), ua=ua,
                    completion_median=p["completion_median"])
    return [acct]


def proxy_mixer(ctx: Context, u: Unit) -> list[Account]:
    """A proxy serving real customers that mixes a fraction of harvesting into its traffic,
    sent through rotating residential exits with ordinary client user agents."""
    r, g = u.r, u.g
    p = ctx.params("proxy_mixer", r)
    acct = ctx.new_account(r, "proxy_mixer", age_days=p["age_days"], n_keys=r.randint(2, 5))
    users = end_user_pool(r, int(p["end_users"]))
    cum = zipf_cum(len(users), g)
    exits = [infra.residential_ip(r) for _ in range(r.randint(20, 200))]
    gateway = relay_gateway(r)
    walk = TopicWalk(ctx, r)
    weights = relay_weights(r, acct.tz_offset_h)
    for d in range(ctx.days):
        n = int(g.poisson(p["requests_per_day"]))
        n_dist = int(g.binomial(n, p["distill_share"]))
        for t in in_hours(g, ctx.day_start(d), n - n_dist, weights).tolist():
            body, ip, ua = relay_request(ctx, r, users, cum, gateway)
            ctx.add(acct, r, t, body, model=ctx.model_at(r, t, ctx.base_model(r), 0.1), ip=ip,
                    ua=ua, key=r.choice(acct.keys), completion_median=p["completion_median"],
                    distilled=False)
        for t in flat(g, ctx.day_start(d), ctx.day_start(d) + DAY_S, n_dist, False).tolist():
            body = {"messages": [{"role": "user", "content": _harvest_prompt(ctx, r, walk, 0.2)}],
                    "max_tokens": r.choice((2048, 4096)), "user": r.choice(users)[0]}
            ctx.add(acct, r, t, body, model="frontier-large", ip=r.choice(exits),
                    ua=r.choice(infra.APP_UAS), key=r.choice(acct.keys),
                    completion_median=p["distill_completion_median"], distilled=True)
    return [acct]
