"""Distilling archetypes: bulk harvesters, hydra fleets, logprob samplers, proxy mixers,
slow aged sweepers and reasoning-trace miners on the Responses API.

Same interface as ``benign``: ``create(ctx, rng, count)`` and ``emit(ctx, acct, rng, day0)``.
"""

from __future__ import annotations

import random

import pools as P
import prompts as T
from benign import DAY, _platform_sessions
from context import Ctx
from records import MODELS, Account


def _acct(ctx: Ctx, rng: random.Random, arche: str, **kw) -> Account:
    aid = ctx.new_account_id()
    org = kw.pop("org", ctx.new_id("org") if rng.random() < 0.7 else None)
    payment = kw.pop("payment", ctx.new_id("pm"))
    nkeys = kw.pop("nkeys", 1)
    return Account(account_id=aid, label="distill", archetype=arche, group=kw.pop("group", aid), org_id=org,
                   payment=payment, keys=[ctx.new_id("key") for _ in range(nkeys)], **kw)


def _harvest_body(ctx: Ctx, rng: random.Random, tr: dict, domains: list[str] | None = None) -> dict:
    q = T.harvest_seed(rng, ctx.corpora, domains)
    text = T.wrap(rng, rng.choice(tr["wrappers"]), q) if tr["wrappers"] else q
    msgs = [{"role": "system", "content": tr["system"]}] if tr.get("system") else []
    msgs.append({"role": "user", "content": text})
    body: dict = {"model": tr["model"], "messages": msgs, tr.get("cap", "max_tokens"): tr["max_tokens"]}
    if tr.get("temperature") is not None:
        body["temperature"] = tr["temperature"]
    if tr.get("effort"):
        body["reasoning_effort"] = tr["effort"]
    if tr.get("logprobs"):
        body["logprobs"], body["top_logprobs"] = True, tr["logprobs"]
    if tr.get("n", 1) > 1:
        body["n"] = tr["n"]
    return body


def _harvest_traits(rng: random.Random, nwrap: int = 2) -> dict:
    return {"wrappers": rng.sample(T.WRAPPERS, nwrap), "system": rng.choice(T.HARVEST_SYSTEMS),
            "model": rng.choice([MODELS["pro"], MODELS["pro"], MODELS["think"]]),
            "max_tokens": rng.choice([4096, 8192, 8192, 16384]),
            "cap": rng.choice(["max_tokens", "max_completion_tokens"]),
            "temperature": rng.choice([None, 0.6, 0.7, 0.8, 1.0]),
            "effort": rng.choice([None, "high", "high"]) if rng.random() < 0.5 else None,
            "logprobs": rng.choice([None, None, None, 5, 20])}


def _scripted_stream(ctx: Ctx, acct: Account, rng: random.Random, day0: float, n: int, body_fn,
                     profile: str = "flat", kind: str = "cot", ip_fn=None) -> list:
    """``n`` requests in concurrent batches (a worker pool) spread over the day."""
    out = []
    while len(out) < n:
        t = P.day_time(rng, day0, acct.tz, profile)
        for _ in range(min(n - len(out), rng.randint(4, 32))):
            ip = ip_fn() if ip_fn else None
            out.append((t, ctx.b.record(acct, t, body_fn(), kind=kind, ip=ip)))
            t += rng.expovariate(1 / 0.4)
    return out


# ------------------------------------------------------------------------------ bulk harvester

def create_bulk(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        tr = _harvest_traits(rng) | {"volume": P.lognormal_around(rng, 1500, 0.5)}
        out.append(_acct(ctx, rng, "bulk_harvester", created_at=ctx.start - rng.uniform(20, 400) * DAY,
                         tz=P.pick_tz(rng), ips=[P.datacenter_ip(rng) for _ in range(rng.randint(1, 3))],
                         uas=[P.ua_sdk(rng, rng.choice(["requests", "aiohttp", "httpx", "openai-python"]))],
                         nkeys=rng.randint(1, 3), traits=tr))
    return out


def emit_bulk(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    return _scripted_stream(ctx, acct, rng, day0, ctx.n(rng, tr["volume"]),
                            lambda: _harvest_body(ctx, rng, tr))


# ------------------------------------------------------------------------------ hydra fleets

FLEETS = [  # share of the hydra budget, and how each fleet hides
    {"share": 0.55, "style": "datacenter", "payments": 5, "shard": True, "median": 100},
    {"share": 0.30, "style": "residential_proxy", "payments": 12, "shard": False, "median": 60},
    {"share": 0.15, "style": "aged_sleepers", "payments": 0, "shard": False, "median": 50},
]


def create_hydra(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out: list[Account] = []
    for fi, f in enumerate(FLEETS):
        size = round(count * f["share"]) if fi < len(FLEETS) - 1 else count - len(out)
        gid = f"fleet{fi}"
        payments = [ctx.new_id("pm") for _ in range(f["payments"])]
        nets = [P.subnet24(rng) for _ in range(2)]
        proxy_pool = [P.residential_ip(rng, 0.0) for _ in range(400)]
        ua_fixed = P.ua_sdk(rng, rng.choice(["httpx", "aiohttp", "openai-python"]))
        base = _harvest_traits(rng, nwrap=1 if fi == 0 else 2)
        burst = ctx.start - rng.uniform(1, 4) * DAY
        org = ctx.new_id("org") if fi == 0 else None
        for _ in range(size):
            if f["style"] == "datacenter":
                created = burst + rng.uniform(0, 3 * 3600)
                ips = [f"{rng.choice(nets)}.{rng.randint(2, 254)}" for _ in range(rng.randint(1, 2))]
                uas, tz = [ua_fixed], 0.0
            elif f["style"] == "residential_proxy":
                created = ctx.start - rng.uniform(0, 10) * DAY
                ips, uas, tz = proxy_pool, [P.ua_sdk(rng, rng.choice(["httpx", "openai-python"]))], 0.0
            else:
                created = ctx.start - rng.uniform(200, 600) * DAY
                ips = [f"{nets[0]}.{rng.randint(2, 254)}"]
                uas, tz = [P.ua_sdk(rng, rng.choice(["requests", "httpx", "openai-python", "openai-node"]))], 0.0
            tr = dict(base) | {"volume": min(300.0, P.lognormal_around(rng, f["median"], 0.3)), "fleet": fi,
                               "domains": rng.sample(list(T.DOMAINS), rng.randint(1, 3)) if f["shard"] else None,
                               "rotate": f["style"] == "residential_proxy"}
            pay = rng.choice(payments) if payments else ctx.new_id("pm")
            out.append(_acct(ctx, rng, "hydra_fleet", created_at=created, tz=tz, ips=ips, uas=uas,
                             group=gid, payment=pay, org=org or (ctx.new_id("org") if rng.random() < 0.5 else None),
                             traits=tr))
    return out


def _fleet_windows(fleet: int, day0: float) -> list[tuple[float, float]]:
    """Synchronised schedule shared by a fleet: (start, length seconds) windows in the day."""
    if fleet == 0:  # every 3 hours at :07 for 20 minutes
        return [(day0 + h * 3600 + 7 * 60, 1200.0) for h in range(0, 24, 3)]
    if fleet == 1:  # every 30 min between 08:00 and 20:00 UTC, 5-minute bursts
        return [(day0 + 8 * 3600 + k * 1800, 300.0) for k in range(24)]
    return [(day0 + 13 * 3600, 4 * 3600.0)]  # one long afternoon window


def emit_hydra(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    n = ctx.n(rng, tr["volume"])
    wins = _fleet_windows(tr["fleet"], day0)
    out = []
    for i in range(n):
        w0, wl = wins[i % len(wins)]
        t = w0 + rng.uniform(0, wl)
        ip = rng.choice(acct.ips)
        out.append((t, ctx.b.record(acct, t, _harvest_body(ctx, rng, tr, tr["domains"]), kind="cot", ip=ip)))
    return [(t, r) for t, r in out if t > acct.created_at]


# ------------------------------------------------------------------------------ logprob sampler

def create_logprob(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        tr = _harvest_traits(rng) | {"volume": P.lognormal_around(rng, 500, 0.5), "logprobs": 20,
                                     "temps": rng.sample([0.0, 0.3, 0.5, 0.7, 1.0, 1.2], rng.randint(2, 4)),
                                     "n": rng.choice([2, 4, 8]), "wrap": rng.random() < 0.5,
                                     "max_tokens": rng.choice([1024, 2048, 4096]), "effort": None}
        out.append(_acct(ctx, rng, "logprob_sampler", created_at=ctx.start - rng.uniform(5, 300) * DAY,
                         tz=P.pick_tz(rng), ips=[P.datacenter_ip(rng)],
                         uas=[P.ua_sdk(rng, rng.choice(["openai-python", "httpx"]))], traits=tr))
    return out


def emit_logprob(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    out = []
    target = ctx.n(rng, tr["volume"])
    while len(out) < target:
        t = P.day_time(rng, day0, acct.tz, "flat")
        base = _harvest_body(ctx, rng, tr | {"wrappers": tr["wrappers"] if tr["wrap"] else []})
        for temp in tr["temps"]:  # the same prompt at every temperature of the sweep
            body = dict(base) | {"temperature": temp}
            out.append((t, ctx.b.record(acct, t, body, kind="chat")))
            t += rng.expovariate(1 / 1.5)
    return out


# ------------------------------------------------------------------------------ proxy mixer

def create_proxy_mixer(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        name = rng.choice(["FastGPT-API", "LLMRelay", "CheapTokens", "OpenBridge", "AIProxyPro"])
        tr = _harvest_traits(rng) | {"volume": P.lognormal_around(rng, 800, 0.5), "users": rng.randint(200, 3000),
                                     "share": rng.uniform(0.15, 0.45), "stream": True,
                                     "harvesters": [f"u_{rng.randint(1, 99999)}" for _ in range(rng.randint(3, 15))]}
        out.append(_acct(ctx, rng, "proxy_mixer", created_at=ctx.start - rng.uniform(60, 700) * DAY,
                         tz=P.pick_tz(rng), ips=[P.datacenter_ip(rng) for _ in range(rng.randint(2, 5))],
                         uas=[f"{name}/{rng.randint(1, 3)}.{rng.randint(0, 9)}", P.ua_sdk(rng, "litellm")],
                         nkeys=rng.randint(3, 8), traits=tr))
    return out


def emit_proxy_mixer(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    n = ctx.n(rng, tr["volume"])
    n_harvest = int(n * tr["share"])
    out = _platform_sessions(ctx, acct, rng, day0, n - n_harvest)
    harvest = _scripted_stream(ctx, acct, rng, day0, n_harvest, lambda: _harvest_body(ctx, rng, tr))
    for _, rec in harvest:
        user = rng.choice(tr["harvesters"])
        rec["request"]["user"] = user
        rec["metadata"] = {"end_user": user}
    return out + harvest


# ------------------------------------------------------------------------------ slow aged sweeper

def create_slow(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        r = rng.random()
        uas = [P.ua_browser(rng)] if r < 0.3 else [P.ua_chat_app(rng)] if r < 0.6 else [P.ua_sdk(rng, "openai-python")]
        tr = {"volume": P.lognormal_around(rng, 110, 0.4), "model": rng.choice([MODELS["pro"], MODELS["think"]]),
              "max_tokens": rng.choice([None, 4096, 8192]), "stream": rng.random() < 0.5,
              "effort": "high" if rng.random() < 0.25 else None,
              "profile": rng.choice(["consumer", "office"])}
        out.append(_acct(ctx, rng, "slow_sweeper", created_at=ctx.start - rng.uniform(365, 1500) * DAY,
                         tz=P.pick_tz(rng), ips=[P.residential_ip(rng) for _ in range(rng.randint(1, 2))],
                         uas=uas, traits=tr))
    return out


def emit_slow(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    if rng.random() < 0.1:  # an occasional day off
        return []
    target = ctx.n(rng, tr["volume"])
    out = []
    while len(out) < target:
        t = P.day_time(rng, day0, acct.tz, tr["profile"])
        for _ in range(rng.randint(5, 25)):
            q = T.harvest_seed(rng, ctx.corpora)
            msgs = [{"role": "user", "content": rng.choice(T.SLOW_PHRASINGS).format(q=q)}]
            if rng.random() < 0.15:  # a human-looking follow-up
                msgs += [{"role": "assistant", "content": "Let me break this down. ..."},
                         {"role": "user", "content": rng.choice(["explain the last step", "why?", "go deeper"])}]
            body: dict = {"model": tr["model"], "messages": msgs}
            if tr["max_tokens"]:
                body["max_tokens"] = tr["max_tokens"]
            if tr["stream"]:
                body["stream"] = True
            if tr["effort"]:
                body["reasoning_effort"] = tr["effort"]
            out.append((t, ctx.b.record(acct, t, body, kind="cot")))
            t += P.lognormal_around(rng, 75, 0.6)
    return out


# ------------------------------------------------------------------------------ responses miner

def create_responses_miner(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        pool = [P.residential_ip(rng, 0.1) for _ in range(200)]
        tr = {"volume": P.lognormal_around(rng, 350, 0.5), "pool": pool,
              "max": rng.choice([16000, 25000, 32000]), "summary": rng.choice(["auto", "detailed"])}
        out.append(_acct(ctx, rng, "responses_miner", created_at=ctx.start - rng.uniform(5, 90) * DAY,
                         tz=P.pick_tz(rng), ips=pool[:5], uas=[P.ua_sdk(rng, "httpx")], traits=tr))
    return out


HARD = ["math", "code", "physics", "cs_theory", "statistics", "chemistry"]


def _hard_problem(ctx: Ctx, rng: random.Random) -> str:
    c = ctx.corpora
    if c.gsm8k and rng.random() < 0.3:
        return rng.choice(c.gsm8k)
    if c.arena and rng.random() < 0.2:
        return rng.choice(c.arena)
    return T.domain_question(rng, rng.choice(HARD))[1]


def emit_responses_miner(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits

    def body() -> dict:
        q = _hard_problem(ctx, rng)
        inp = q if rng.random() < 0.6 else [{"role": "user", "content": q}]
        return {"model": MODELS["think"], "input": inp, "reasoning": {"effort": "high", "summary": tr["summary"]},
                "max_output_tokens": tr["max"], "store": False, "include": ["reasoning.encrypted_content"]}

    out = _scripted_stream(ctx, acct, rng, day0, ctx.n(rng, tr["volume"]), body, kind="cot",
                           ip_fn=lambda: rng.choice(tr["pool"]))
    for _, rec in out:
        rec["endpoint"] = "/v1/responses"
    return out
