"""Benign archetypes: creation of accounts and their per-day traffic.

Each archetype is a pair ``create(ctx, rng, count) -> list[Account]`` and
``emit(ctx, acct, rng, day0) -> list[(epoch_s, record)]`` where ``day0`` is the UTC midnight of
the day being generated. Hard negatives (production templates, logprob classifiers, eval
runners, resellers, shared NAT, new accounts, night batches, multilingual users) live here.
"""

from __future__ import annotations

import random

import pools as P
import prompts as T
from context import Ctx
from records import MODELS, Account, content

DAY = 86400.0


def _model(rng: random.Random, w: tuple[float, float, float] = (0.5, 0.4, 0.1)) -> str:
    return rng.choices([MODELS["pro"], MODELS["flash"], MODELS["think"]], weights=w)[0]


def _chat_params(rng: random.Random, acct: Account, body: dict) -> dict:
    """Typical consumer-app parameters, fixed per account where an app would fix them."""
    tr = acct.traits
    if tr.get("stream"):
        body["stream"] = True
    if tr.get("temperature") is not None:
        body["temperature"] = tr["temperature"]
    if tr.get("max_tokens"):
        body["max_tokens"] = tr["max_tokens"]
    return body


def _session(ctx: Ctx, acct: Account, rng: random.Random, t: float, turns: int, opener: str,
             gap_median: float, system: str | None = None, model: str | None = None,
             follow=None, meta: dict | None = None, ip: str | None = None) -> list[tuple[float, dict]]:
    """A multi-turn chat: history grows with an assistant stub between user turns."""
    out = []
    parts = acct.traits.get("parts", False)
    msgs: list[dict] = [{"role": "system", "content": system}] if system else []
    msgs.append({"role": "user", "content": content(opener, parts)})
    model = model or acct.traits.get("model") or _model(rng)
    ip = ip or rng.choice(acct.ips)
    for i in range(turns):
        body = _chat_params(rng, acct, {"model": model, "messages": [dict(m) for m in msgs]})
        out.append((t, ctx.b.record(acct, t, body, ip=ip, meta=meta)))
        msgs.append({"role": "assistant", "content": rng.choice(T.ASSISTANT_STUBS) + " ..."})
        msgs.append({"role": "user", "content": content(follow() if follow else rng.choice(T.FOLLOWUPS), parts)})
        t += P.lognormal_around(rng, gap_median, 0.8) + 3
        if i > 8:  # long chats get trimmed by clients
            msgs = msgs[:1] + msgs[-6:]
    return out


def _aged(ctx: Ctx, rng: random.Random, lo_days: float = 20, hi_days: float = 1500) -> float:
    return ctx.start - rng.uniform(lo_days, hi_days) * DAY


def _acct(ctx: Ctx, rng: random.Random, arche: str, *, tz: float | None = None, ips=None, uas=None,
          created=None, org=None, payment=None, group=None, nkeys=1, traits=None) -> Account:
    aid = ctx.new_account_id()
    return Account(
        account_id=aid, label="benign", archetype=arche, group=group or aid,
        org_id=org if org is not None else (ctx.new_id("org") if rng.random() < 0.8 else None),
        created_at=created if created is not None else _aged(ctx, rng),
        payment=payment if payment is not None else (ctx.new_id("pm") if rng.random() < 0.93 else None),
        keys=[ctx.new_id("key") for _ in range(nkeys)], tz=P.pick_tz(rng) if tz is None else tz,
        ips=ips or [P.residential_ip(rng)], uas=uas or [P.ua_browser(rng)], traits=traits or {})


# ------------------------------------------------------------------------------ consumer chat

def _consumer_traits(rng: random.Random) -> dict:
    return {"stream": rng.random() < 0.7, "parts": rng.random() < 0.2,
            "temperature": rng.choice([None, None, None, 0.7, 1.0, 0.5]),
            "max_tokens": rng.choice([None, None, 1024, 2048, 4096]),
            "model": _model(rng), "active": rng.uniform(0.35, 0.9),
            "sessions": P.lognormal_around(rng, 1.8, 0.6)}


def _consumer_uas(rng: random.Random) -> list[str]:
    r = rng.random()
    if r < 0.4:
        return [P.ua_browser(rng)]
    if r < 0.75:
        return [P.ua_chat_app(rng)]
    return [P.ua_sdk(rng, rng.choice(["openai-python", "openai-node"]))]


def create_consumer(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        ips = [P.residential_ip(rng) for _ in range(rng.choice([1, 1, 2, 3]))]
        out.append(_acct(ctx, rng, "consumer_chat", ips=ips, uas=_consumer_uas(rng),
                         traits=_consumer_traits(rng)))
    return out


def emit_consumer(ctx: Ctx, acct: Account, rng: random.Random, day0: float, opener=None,
                  profile: str = "consumer") -> list:
    tr = acct.traits
    if rng.random() > tr["active"]:
        return []
    out = []
    for _ in range(max(1 if ctx.volume >= 1 else 0, ctx.n(rng, tr["sessions"]))):
        t = P.day_time(rng, day0, acct.tz, profile)
        turns = min(15, 1 + P.poisson(rng, 1.6))
        first = opener() if opener else T.consumer_opener(rng, ctx.corpora)
        sysp = rng.choice([None, None, "You are a helpful assistant."])
        out += _session(ctx, acct, rng, t, turns, first, 50, system=sysp)
    return out


# ------------------------------------------------------------------------------ multilingual

LANG_TZ = {"es": -3, "de": 1, "fr": 1, "pt": -3, "ja": 9, "zh": 8, "ko": 9, "ru": 3, "hi": 5.5,
           "ar": 3, "it": 1, "tr": 3}


def create_multilingual(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        lang = rng.choice(list(T.MULTI))
        tr = _consumer_traits(rng) | {"lang": lang}
        out.append(_acct(ctx, rng, "multilingual", tz=LANG_TZ[lang], ips=[P.residential_ip(rng)],
                         uas=_consumer_uas(rng), traits=tr))
    return out


def emit_multilingual(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    lang = acct.traits["lang"]

    def opener() -> str:
        return T.multilingual(rng, lang) if rng.random() < 0.8 else T.consumer_opener(rng, ctx.corpora)
    return emit_consumer(ctx, acct, rng, day0, opener=opener)


# ------------------------------------------------------------------------------ developer testing

DEV_PROMPTS = ["test", "hello", "Say hi", "ping", "Return a JSON object with keys name and age.",
               "What model are you?", "Write a haiku about unit tests.", "2+2=?",
               "Summarize: The quick brown fox jumps over the lazy dog.", "respond with the word OK"]


def create_developer(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        dc = rng.random() < 0.4
        ips = [P.datacenter_ip(rng) if dc else P.residential_ip(rng)]
        if rng.random() < 0.5:
            ips.append(P.residential_ip(rng))
        uas = [P.ua_sdk(rng, k) for k in rng.sample(["openai-python", "openai-node", "curl", "postman",
                                                     "requests", "httpx", "langchain"], rng.randint(1, 3))]
        out.append(_acct(ctx, rng, "developer_testing", ips=ips, uas=uas, nkeys=rng.randint(1, 4),
                         traits={"active": rng.uniform(0.3, 0.8), "bursts": rng.uniform(0.8, 2.5)}))
    return out


def _dev_body(ctx: Ctx, rng: random.Random) -> tuple[dict, str]:
    r = rng.random()
    if r < 0.45:
        text = rng.choice(DEV_PROMPTS)
    elif r < 0.7 and ctx.corpora.arena:
        text = rng.choice(ctx.corpora.arena)
    else:
        text = T.domain_question(rng, rng.choice(["code", "code", "statistics", "writing"]))[1]
    body: dict = {"model": _model(rng, (0.4, 0.5, 0.1)), "messages": [{"role": "user", "content": text}]}
    if rng.random() < 0.5:
        body["temperature"] = rng.choice([0, 0.2, 0.5, 0.7, 1.0, 1.5])
    if rng.random() < 0.5:
        body["max_tokens"] = rng.choice([16, 50, 256, 512, 1000, 2000])
    if rng.random() < 0.15:
        body["logprobs"], body["top_logprobs"] = True, rng.choice([1, 3, 5])
    if rng.random() < 0.1:
        body["n"] = rng.choice([2, 3])
    if rng.random() < 0.1:
        body["response_format"] = {"type": "json_object"}
    if rng.random() < 0.1:
        body["tools"] = [{"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}}}}]
    return body, ("short" if len(text) < 60 else "chat")


def emit_developer(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    weekend = ctx.is_weekend(day0)
    if rng.random() > tr["active"] * (0.3 if weekend else 1.0):
        return []
    out = []
    for _ in range(max(1 if ctx.volume >= 1 else 0, ctx.n(rng, tr["bursts"]))):
        t = P.day_time(rng, day0, acct.tz, "office")
        ua, ip = rng.choice(acct.uas), rng.choice(acct.ips)
        for _ in range(rng.randint(2, 35)):
            body, kind = _dev_body(ctx, rng)
            status = rng.choice([400, 401, 429]) if rng.random() < 0.05 else None
            out.append((t, ctx.b.record(acct, t, body, kind=kind, ua=ua, ip=ip, status=status)))
            t += P.lognormal_around(rng, 20, 1.0)
    return out


# ------------------------------------------------------------------------------ new legit accounts

def create_new_legit(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        created = ctx.start + rng.uniform(-3, ctx.days - 0.3) * DAY
        if rng.random() < 0.55:
            a = _acct(ctx, rng, "new_legit", created=created, ips=[P.residential_ip(rng)],
                      uas=_consumer_uas(rng), traits=_consumer_traits(rng) | {"mode": "chat"})
        else:
            app = rng.choice(["recipe", "tutor", "email", "sql"])
            a = _acct(ctx, rng, "new_legit", created=created, ips=[P.datacenter_ip(rng)],
                      uas=[P.ua_sdk(rng, rng.choice(["openai-python", "openai-node", "httpx"]))],
                      traits={"mode": "prototype", "app": app, "volume": P.lognormal_around(rng, 40, 0.7)})
        out.append(a)
    return out


PROTO = {"recipe": "Suggest a recipe using these ingredients: {x}. Keep it simple.",
         "tutor": "You are a friendly tutor for a 10 year old. Student asks: {x}",
         "email": "Draft a polite reply to this email:\n\n{x}",
         "sql": "Convert to a SQL query for table orders(id, customer, total, created_at): {x}"}


def emit_new_legit(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    if acct.traits["mode"] == "chat":
        out = emit_consumer(ctx, acct, rng, day0)
    else:
        out = []
        n = ctx.n(rng, acct.traits["volume"] * (1 + (day0 - ctx.start) / DAY))  # ramping up
        x_pool = {"recipe": T.SLOTS["food"], "tutor": T.MULTI_Y + ["why is the sky blue?"],
                  "email": T.SLOTS["para"], "sql": ["total per customer last month", "top 5 orders",
                                                    "orders over 100 dollars this week"]}[acct.traits["app"]]
        for _ in range(n):
            t = P.day_time(rng, day0, acct.tz, "office")
            text = PROTO[acct.traits["app"]].format(x=rng.choice(x_pool))
            body = {"model": MODELS["flash"], "messages": [{"role": "user", "content": text}],
                    "temperature": 0.7, "max_tokens": 600}
            out.append((t, ctx.b.record(acct, t, body)))
    return [(t, r) for t, r in out if t > acct.created_at]


# ------------------------------------------------------------------------------ campus NAT

def create_campus(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    ncampus = max(1, round(count / 90))
    for c in range(ncampus):
        nat = [P.residential_ip(rng, 0.0) for _ in range(rng.randint(1, 2))]
        tz = rng.choice([-5, 1, 8, -8])
        gid = f"campus{c}"
        for _ in range(count // ncampus + (1 if c < count % ncampus else 0)):
            scripted = rng.random() < 0.12
            uas = [P.ua_sdk(rng, "openai-python")] if scripted else _consumer_uas(rng)
            ips = nat + ([P.residential_ip(rng)] if rng.random() < 0.4 else [])
            out.append(_acct(ctx, rng, "campus_nat", tz=tz, ips=ips, uas=uas, group=gid,
                             created=_aged(ctx, rng, 5, 700),
                             traits=_consumer_traits(rng) | {"scripted": scripted, "nat": nat}))
    return out


def emit_campus(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    if tr["scripted"] and rng.random() < 0.35 and ctx.corpora.gsm8k:
        # a class assignment: run a small benchmark script once
        t = P.day_time(rng, day0, acct.tz, "student")
        out = []
        qs = rng.sample(ctx.corpora.gsm8k, min(len(ctx.corpora.gsm8k),
                                               max(1, round(rng.randint(30, 150) * ctx.volume))))
        for q in qs:
            body = {"model": MODELS["flash"], "temperature": 0,
                    "messages": [{"role": "user", "content": q + "\nLet's think step by step."}]}
            out.append((t, ctx.b.record(acct, t, body, ip=tr["nat"][0], kind="cot")))
            t += P.lognormal_around(rng, 2.0, 0.5)
        return out
    return emit_consumer(ctx, acct, rng, day0, opener=lambda: T.homework(rng, ctx.corpora),
                         profile="student")


# ------------------------------------------------------------------------------ corporate team

def create_corporate(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    while len(out) < count:
        size = min(count - len(out), rng.randint(5, 20))
        org, pm = ctx.new_id("org"), ctx.new_id("pm")
        egress = [P.datacenter_ip(rng) for _ in range(2)]  # corporate proxy egress
        tz = P.pick_tz(rng)
        for _ in range(size):
            dev = rng.random() < 0.5
            uas = [P.ua_sdk(rng, "openai-python"), P.ua_sdk(rng, "curl")] if dev else [P.ua_browser(rng)]
            out.append(_acct(ctx, rng, "corporate_team", tz=tz, ips=egress, uas=uas, org=org, payment=pm,
                             group=org, created=_aged(ctx, rng, 10, 400),
                             traits={"dev": dev, "active": rng.uniform(0.5, 0.95),
                                     "bursts": rng.uniform(1, 2.5), "sessions": P.lognormal_around(rng, 2.5, 0.5),
                                     "stream": False, "model": _model(rng)}))
    return out


def emit_corporate(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    if ctx.is_weekend(day0) and rng.random() < 0.8:
        return []
    if acct.traits["dev"]:
        return emit_developer(ctx, acct, rng, day0)
    return emit_consumer(ctx, acct, rng, day0, profile="office")


# ------------------------------------------------------------------------------ support bot

SUPPORT_SYSTEM = ("You are the customer support assistant for {shop}. Be concise and friendly. Only answer "
                  "questions about orders, shipping, returns and accounts. If you cannot help, offer to "
                  "connect the customer with a human agent. Never invent order details.")


def create_support_bot(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        shop = rng.choice(["ShopRight", "Nordhaus", "CasaVerde", "Kitto", "UrbanTrail", "Velo&Co"])
        out.append(_acct(ctx, rng, "support_bot", ips=[P.datacenter_ip(rng) for _ in range(rng.randint(2, 4))],
                         uas=[P.ua_sdk(rng, rng.choice(["openai-node", "openai-python", "java"]))],
                         tz=rng.choice([-5, -8, 1, 0]), nkeys=2,
                         traits={"system": SUPPORT_SYSTEM.format(shop=shop), "model": MODELS["flash"],
                                 "temperature": 0.3, "max_tokens": 500, "stream": rng.random() < 0.5,
                                 "parts": rng.random() < 0.3, "volume": P.lognormal_around(rng, 150, 0.7)}))
    return out


def emit_support_bot(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    out: list = []
    target = ctx.n(rng, acct.traits["volume"])
    while len(out) < target:
        t = P.day_time(rng, day0, acct.tz, "business_24h")
        turns = 1 + P.poisson(rng, 1.5)
        out += _session(ctx, acct, rng, t, turns, T.support_message(rng), 40,
                        system=acct.traits["system"], follow=lambda: rng.choice(
                            ["ok thanks", "it still doesn't work", "can I talk to a human?",
                             T.support_message(rng), "order number is " + str(rng.randint(100000, 999999))]))
        if rng.random() < 0.3:  # retrieval embedding for the knowledge base
            body = {"model": MODELS["embed"], "input": [T.support_message(rng)]}
            out.append((t, ctx.b.record(acct, t, body, endpoint="/v1/embeddings", kind="embed")))
    return out


# ------------------------------------------------------------------------------ extraction pipeline

EXTRACT = {"invoice": "Extract invoice_number, customer_name, line_items (name, quantity, unit_price) and "
                      "total from the document below. Respond with JSON only.\n\n{doc}",
           "resume": "Parse the resume below into JSON with fields name, title, years_experience, skills.\n\n{doc}",
           "transcript": "List every action item in this conversation as JSON "
                         "[{{owner, task, due}}].\n\n{doc}"}


def create_extraction(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        kind = rng.choice(list(EXTRACT))
        out.append(_acct(ctx, rng, "extraction_pipeline", ips=[P.datacenter_ip(rng)],
                         uas=[P.ua_sdk(rng, rng.choice(["httpx", "requests", "openai-python"]))],
                         traits={"doc": kind, "volume": P.lognormal_around(rng, 250, 0.8),
                                 "model": rng.choice([MODELS["flash"], MODELS["pro"]])}))
    return out


def emit_extraction(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    if ctx.is_weekend(day0) and rng.random() < 0.7:
        return []
    out = []
    n = ctx.n(rng, tr["volume"])
    hours = [h for h in range(8, 19)]
    per = max(1, n // len(hours))
    for h in hours:
        t = day0 - acct.tz * 3600 + h * 3600 + rng.uniform(0, 300)  # hourly cron
        for _ in range(P.poisson(rng, per)):
            body = {"model": tr["model"], "temperature": 0, "max_tokens": 800,
                    "response_format": {"type": "json_object"},
                    "messages": [{"role": "user", "content": EXTRACT[tr["doc"]].format(doc=T.document(rng, tr["doc"]))}]}
            out.append((t, ctx.b.record(acct, t, body, kind="json")))
            t += rng.uniform(0.2, 1.5)
    return out


# ------------------------------------------------------------------------------ logprob classifier

CLASSIFY = ["Classify the sentiment of this product review as POSITIVE, NEGATIVE or NEUTRAL. Answer with one word.\n\nReview: {x}",
            "Is the following message spam? Answer yes or no.\n\n{x}",
            "Which department should handle this ticket: billing, shipping, technical, other?\n\n{x}"]


def create_classifier(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        out.append(_acct(ctx, rng, "classifier_logprobs", ips=[P.datacenter_ip(rng) for _ in range(rng.randint(1, 2))],
                         uas=[P.ua_sdk(rng, rng.choice(["requests", "aiohttp", "openai-python"]))],
                         traits={"tmpl": rng.choice(CLASSIFY), "volume": P.lognormal_around(rng, 300, 0.8),
                                 "top": rng.choice([3, 5, 5, 10, 20]), "cap": rng.choice(["max_tokens", "max_completion_tokens"]),
                                 "model": rng.choice([MODELS["flash"], MODELS["flash"], MODELS["pro"]])}))
    return out


def emit_classifier(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    out = []
    for _ in range(ctx.n(rng, tr["volume"])):
        t = P.day_time(rng, day0, acct.tz, "business_24h")
        x = T.document(rng, "review") if "sentiment" in tr["tmpl"] else T.support_message(rng)
        body = {"model": tr["model"], "messages": [{"role": "user", "content": tr["tmpl"].format(x=x)}],
                tr["cap"]: 1, "temperature": 0, "logprobs": True, "top_logprobs": tr["top"]}
        out.append((t, ctx.b.record(acct, t, body, kind="one")))
    return out


# ------------------------------------------------------------------------------ eval runner

def _mc_question(rng: random.Random) -> str:
    d, q = T.domain_question(rng)
    opts = "\n".join(f"{k}. option {rng.randint(1, 99)}" for k in "ABCD")
    return f"The following is a multiple choice question about {d}.\n\n{q}\n{opts}\nAnswer:"


def create_eval_runner(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        out.append(_acct(ctx, rng, "eval_runner", ips=[P.datacenter_ip(rng)],
                         uas=[P.ua_sdk(rng, rng.choice(["openai-python", "httpx", "litellm", "aiohttp"]))],
                         traits={"p_run": rng.uniform(0.25, 0.6)}))
    return out


def _benchmark(ctx: Ctx, rng: random.Random) -> tuple[str, list[list[str]]]:
    c = ctx.corpora
    options = []
    if c.gsm8k:
        options.append(("gsm8k", [[q + "\n\nSolve step by step. Put the final answer after '####'."]
                                  for q in c.gsm8k[: rng.choice([250, 500, 1319])]]))
    if c.mtbench:
        options.append(("mtbench", [t for t in c.mtbench]))
    if c.arena:
        options.append(("arena", [[p] for p in c.arena[:500]]))
    seeded = random.Random(4242)  # the same fixed question set for every runner
    options.append(("mc", [[_mc_question(seeded)] for _ in range(rng.choice([200, 400]))]))
    return rng.choice(options)


def emit_eval_runner(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    if rng.random() > acct.traits["p_run"]:
        return []
    out = []
    runs = rng.randint(1, 2) * max(1.0, ctx.volume)
    if runs != int(runs):
        runs = int(runs) + (rng.random() < runs - int(runs))
    runs = int(runs)
    for _ in range(runs):
        name, items = _benchmark(ctx, rng)
        if ctx.volume < 1:  # a smaller slice of the benchmark
            items = [it for it in items if rng.random() < ctx.volume] or items[:1]
        models = rng.sample([MODELS["pro"], MODELS["flash"], MODELS["think"]], rng.randint(1, 2))
        cfg = rng.choice([{"temperature": 0}, {"temperature": 0.7, "n": 5}, {"temperature": 1.0, "n": 8},
                          {"temperature": 0, "logprobs": True, "top_logprobs": 5}])
        if name == "mc":
            cfg = {"temperature": 0, "max_tokens": 5, "logprobs": True, "top_logprobs": 5}
        t = P.day_time(rng, day0, acct.tz, "office")
        for model in models:
            for turns in items:
                body = {"model": model, "messages": [{"role": "user", "content": turns[0]}],
                        "max_tokens": cfg.get("max_tokens", rng.choice([2048, 4096]))} | cfg
                if model == MODELS["think"]:
                    body["reasoning_effort"] = "high"
                out.append((t, ctx.b.record(acct, t, body, kind="short" if name == "mc" else "cot",
                                            meta={"eval_run": f"{name}-{model}"})))
                t += rng.expovariate(1 / 0.25)
    return out


# ------------------------------------------------------------------------------ legit reseller

def create_reseller(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        name = rng.choice(["Chatly", "PromptHub", "WriteMate", "Tessera", "OmniChat", "Brainbox"])
        out.append(_acct(ctx, rng, "reseller_platform", ips=[P.datacenter_ip(rng) for _ in range(rng.randint(2, 6))],
                         uas=[f"{name}-gateway/{rng.randint(1, 4)}.{rng.randint(0, 9)}", P.ua_sdk(rng, "litellm")],
                         nkeys=rng.randint(3, 10), created=_aged(ctx, rng, 200, 1200),
                         traits={"volume": P.lognormal_around(rng, 700, 0.5), "users": rng.randint(400, 5000),
                                 "stream": True, "sessions": 1.0, "active": 1.0}))
    return out


def _platform_sessions(ctx: Ctx, acct: Account, rng: random.Random, day0: float, target: int) -> list:
    out: list = []
    while len(out) < target:
        user = f"u_{rng.randint(1, acct.traits['users'])}"
        tz = P.pick_tz(rng)
        t = P.day_time(rng, day0, tz, "consumer")
        turns = 1 + P.poisson(rng, 2)
        opener = T.consumer_opener(rng, ctx.corpora) if rng.random() < 0.85 else T.multilingual(rng, rng.choice(list(T.MULTI)))
        sess = _session(ctx, acct, rng, t, turns, opener, 45, model=_model(rng), meta={"end_user": user})
        for _, rec in sess:
            rec["request"]["user"] = user
        out += sess
    return out


def emit_reseller(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    return _platform_sessions(ctx, acct, rng, day0, ctx.n(rng, acct.traits["volume"]))


# ------------------------------------------------------------------------------ night batch

BATCH = {"summarise": "Summarise the following meeting transcript in 5 bullet points.\n\n{doc}",
         "translate": "Translate the following text into German, keeping the formatting.\n\n{doc}",
         "tag": "Assign up to 3 topic tags to this support conversation. Return a comma-separated list.\n\n{doc}"}


def create_night_batch(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        out.append(_acct(ctx, rng, "night_batch", ips=[P.datacenter_ip(rng)],
                         uas=[P.ua_sdk(rng, rng.choice(["aiohttp", "requests", "go", "java"]))],
                         traits={"job": rng.choice(list(BATCH)), "volume": P.lognormal_around(rng, 150, 0.8),
                                 "legacy": rng.random() < 0.3, "model": rng.choice([MODELS["flash"], MODELS["pro"]])}))
    return out


def emit_night_batch(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    out = []
    t = P.day_time(rng, day0, acct.tz, "night_batch")
    batch_id = ctx.new_id("batch")
    for _ in range(ctx.n(rng, tr["volume"])):
        text = BATCH[tr["job"]].format(doc=T.document(rng, "transcript"))
        if tr["legacy"]:
            body = {"model": tr["model"], "prompt": text, "max_tokens": 400, "temperature": 0.2}
            rec = ctx.b.record(acct, t, body, endpoint="/v1/completions", kind="summary", meta={"batch_id": batch_id})
        else:
            body = {"model": tr["model"], "messages": [{"role": "user", "content": text}],
                    "max_tokens": 700, "temperature": 0.2}
            rec = ctx.b.record(acct, t, body, kind="summary", meta={"batch_id": batch_id})
        out.append((t, rec))
        t += rng.expovariate(1 / 0.6)
    return out


# ------------------------------------------------------------------------------ coding agent

AGENT_SYSTEM = ("You are an autonomous coding agent working inside the user's repository. You can read and "
                "edit files and run shell commands using the provided tools. Make minimal, correct changes; "
                "run the tests after editing; explain what you changed. " * 6)
AGENT_TOOLS = [{"type": "function", "function": {"name": n, "description": d, "parameters": {"type": "object"}}}
               for n, d in [("read_file", "Read a file"), ("write_file", "Write a file"),
                            ("run_shell", "Run a shell command"), ("search", "Search the repository")]]
AGENT_TASKS = ["fix the failing test in tests/test_parser.py", "add pagination to the /users endpoint",
               "refactor the config loader to use pydantic", "why does the build fail on CI?",
               "add type hints to utils/dates.py", "implement retry with backoff in the http client",
               "update the README with the new install steps", "the date picker crashes on safari, fix it"]


def create_coding_agent(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        out.append(_acct(ctx, rng, "coding_agent", ips=[P.residential_ip(rng)], uas=[P.ua_agent(rng)],
                         traits={"active": rng.uniform(0.4, 0.9), "sessions": rng.uniform(1, 3),
                                 "effort": rng.choice(["medium", "high", None]),
                                 "model": rng.choice([MODELS["pro"], MODELS["think"]])}))
    return out


def emit_coding_agent(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    if rng.random() > tr["active"] * (0.4 if ctx.is_weekend(day0) else 1):
        return []
    out = []
    for _ in range(max(1 if ctx.volume >= 1 else 0, ctx.n(rng, tr["sessions"]))):
        t = P.day_time(rng, day0, acct.tz, "office")
        task = rng.choice(AGENT_TASKS)
        if ctx.corpora.arena and rng.random() < 0.2:
            task = rng.choice(ctx.corpora.arena)[:1500]
        msgs = [{"role": "system", "content": AGENT_SYSTEM}, {"role": "user", "content": task}]
        for step in range(rng.randint(8, 70)):
            body = {"model": tr["model"], "messages": [dict(m) for m in msgs], "tools": AGENT_TOOLS,
                    "stream": True, "max_completion_tokens": rng.choice([8192, 16384, 32000])}
            if tr["effort"]:
                body["reasoning_effort"] = tr["effort"]
            out.append((t, ctx.b.record(acct, t, body, kind="agent")))
            call_id = f"call_{rng.getrandbits(32):08x}"
            msgs.append({"role": "assistant", "content": "", "tool_calls": [{"id": call_id, "type": "function",
                         "function": {"name": rng.choice(["read_file", "run_shell", "search"]), "arguments": "{}"}}]})
            msgs.append({"role": "tool", "tool_call_id": call_id,
                         "content": f"$ pytest -q\n{rng.randint(1, 90)} passed, {rng.randint(0, 3)} failed (step {step})"})
            if len(msgs) > 24:
                msgs = msgs[:2] + msgs[-20:]
            t += P.lognormal_around(rng, 9, 0.7)
    return out
