"""Heavy, diverse, legitimate traffic.

Written like the rest of this generator, from the request-log spec and a description of real
provider traffic, without reading the detector: app back-ends forwarding their users' single-turn
questions, study helpers whose users ask for every step and long answers, heavy chat users, and
research groups collecting top_logprobs on long answers. Daily volumes of the app kinds are
log-normal over 10..10,000 requests a day. Prompts combine the corpora, this generator's own
banks and a free rewording layer, so a heavy app does not repeat a small prompt set.
"""

from __future__ import annotations

import math
import random

import pools as P
import prompts as T
from benign import _acct, _aged, _consumer_traits, _consumer_uas, _model, _session
from context import Ctx
from records import MODELS, Account

DAY = 86400.0

LEADS = ["", "", "", "", "hi, ", "Hello! ", "question: ", "pls help. ", "I need help. ",
         "My boss asked me: ", "for school - ", "Random thought: ", "Serious question. ",
         "ok so ", "Hey there, ", "Quick one: ", "I'm confused. "]
TAILS = ["", "", "", "", " thanks", " Thank you!", " (short answer)", " explain simply",
         " in 3 sentences", " with an example", " ASAP", " :)", " I'm in {city}.",
         " I'm {age}.", " for a {job}", " — be concise", " — be thorough", " table please"]
CITIES = ["Leeds", "Osaka", "Lagos", "Quito", "Porto", "Pune", "Austin", "Gdansk", "Hanoi",
          "Perth", "Accra", "Bergen", "Recife", "Tbilisi", "Calgary", "Cebu"]
JOBS = ["nurse", "plumber", "lawyer", "teacher", "cashier", "chef", "pilot", "farmer", "coder"]
OWN_QUESTIONS = [
    "what should I pack for {n} days in {city} in winter", "how do I get rid of fruit flies",
    "best way to learn {lang} vocabulary", "is it normal for a {n} month old to {baby}",
    "how do I dispute a charge of ${m}", "what's a fair price for a used {car} with {k}k miles",
    "how to fix a squeaky door", "why does my sourdough not rise", "how long to boil {n} eggs",
    "can you help me name my {pet}", "what's the capital of {country}", "how many {unit} in a {unit2}",
    "write a toast for my {rel}'s {event}", "ideas for a {n}-year-old's birthday party",
    "how to ask for a raise after {n} years", "is {food} healthy", "explain {topic} in one paragraph",
    "what does '{word}' mean", "how to stay awake on a night shift", "summarise the plot of {book}",
]
SLOTS = {"lang": ["Spanish", "Korean", "German", "Arabic", "Italian"], "baby": ["crawl", "teethe", "babble"],
         "car": ["Corolla", "Civic", "Golf", "Model 3", "Outback"], "pet": ["cat", "dog", "parrot", "hamster"],
         "country": ["Chile", "Kenya", "Laos", "Norway", "Peru", "Oman"], "unit": ["cups", "ounces", "grams"],
         "unit2": ["litre", "pound", "gallon"], "rel": ["sister", "boss", "dad", "best friend"],
         "event": ["wedding", "retirement", "50th birthday"], "food": ["oat milk", "kimchi", "granola", "tofu"],
         "topic": ["inflation", "black holes", "vaccines", "compound interest", "photosynthesis", "recursion",
                   "the electoral college", "plate tectonics", "supply chains", "neural networks"],
         "word": ["ephemeral", "gaslighting", "petrichor", "schadenfreude", "liminal"],
         "book": ["Dune", "Hamlet", "1984", "Beloved", "The Hobbit", "Frankenstein"]}
STEP_ASKS = ["Explain step by step.", "Can you go step by step?", "Show every step please.",
             "Please show the full working.", "How do you get there? walk me through it",
             "I don't get how to solve it, explain each step", "Show me the method, not just the answer."]
RESEARCH_SYSTEMS = ["", "You are a helpful assistant.", "Answer truthfully.", "Reply briefly.",
                    "You are a careful expert."]


def _fill(rng: random.Random, s: str) -> str:
    vals = {k: rng.choice(v) for k, v in SLOTS.items()}
    vals |= {"n": rng.randint(2, 14), "m": rng.randint(9, 900), "k": rng.randint(20, 190),
             "city": rng.choice(CITIES), "age": rng.randint(15, 80), "job": rng.choice(JOBS)}
    return s.format(**vals)


def reword(rng: random.Random, text: str) -> str:
    """A person's own framing around a question: lead-in, tail, casing, typos."""
    out = _fill(rng, rng.choice(LEADS)) + text.strip() + _fill(rng, rng.choice(TAILS))
    x = rng.random()
    if x < 0.25:
        out = out.lower()
    elif x < 0.3 and len(out) > 12:  # a dropped letter
        i = rng.randrange(1, len(out) - 1)
        out = out[:i] + out[i + 1:]
    return out


def user_question(ctx: Ctx, rng: random.Random, langs: list[str] | None = None) -> str:
    """One end user's question: corpora, own banks, other languages; reworded most of the time."""
    if langs and rng.random() < 0.35:
        return T.multilingual(rng, rng.choice(langs)) + rng.choice(["", "", " 🙏", f" ({rng.randint(1, 99)})"])
    c = ctx.corpora
    x = rng.random()
    if x < 0.4 and c.available:
        pool = rng.choice([p for p in (c.vicuna, c.hh, c.arena) if p])
        q = rng.choice(pool)
    elif x < 0.55 and c.self_instruct:
        q = rng.choice(c.self_instruct)
    elif x < 0.75:
        q = _fill(rng, rng.choice(OWN_QUESTIONS))
    elif x < 0.9:
        q = T.domain_question(rng)[1]
    else:
        q = T.casual(rng)
    return reword(rng, q) if rng.random() < 0.8 else q


def _log_volume(rng: random.Random, median: float, sigma: float = 1.3) -> float:
    """Daily volume, log-normal around ``median``, within 10..10,000."""
    for _ in range(20):
        v = median * math.exp(rng.gauss(0, sigma))
        if 10 <= v <= 10000:
            return v
    return min(10000.0, max(10.0, v))


# ------------------------------------------------------------------------------ app forwarder

def create_app_forwarder(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        name = rng.choice(["Qwizly", "AskNow", "Helpr", "Lumen", "Dooit", "Minta", "Sage"])
        langs = rng.sample(list(T.MULTI), rng.randint(0, 3))
        out.append(_acct(ctx, rng, "app_forwarder", ips=[P.datacenter_ip(rng) for _ in range(rng.randint(1, 5))],
                         uas=[P.ua_sdk(rng, rng.choice(["openai-node", "openai-python", "java", "go"]))],
                         nkeys=rng.randint(1, 4), created=_aged(ctx, rng, 30, 1000),
                         traits={"volume": _log_volume(rng, 250), "ids": rng.random() < 0.55,
                                 "users": rng.randint(100, 200000), "langs": langs,
                                 "system": f"You are {name}, an assistant in a mobile app." if rng.random() < 0.6 else None,
                                 "model": rng.choice([MODELS["flash"], MODELS["flash"], MODELS["pro"]]),
                                 "max_tokens": rng.choice([None, 600, 1000, 2000])}))
    return out


def emit_app_forwarder(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    out = []
    for _ in range(ctx.n(rng, tr["volume"] * (0.8 if ctx.is_weekend(day0) else 1.0))):
        t = P.day_time(rng, day0, P.pick_tz(rng) if tr["langs"] else acct.tz, "consumer")
        msgs = [{"role": "user", "content": user_question(ctx, rng, tr["langs"])}]
        if tr["system"]:
            msgs.insert(0, {"role": "system", "content": tr["system"]})
        body: dict = {"model": tr["model"], "messages": msgs}
        if tr["max_tokens"]:
            body["max_tokens"] = tr["max_tokens"]
        if tr["ids"]:
            body["user"] = f"u{rng.randint(1, tr['users'])}"
        out.append((t, ctx.b.record(acct, t, body, kind="chat")))
    return out


# ------------------------------------------------------------------------------ study helper

def create_study_helper(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        out.append(_acct(ctx, rng, "study_helper", ips=[P.datacenter_ip(rng) for _ in range(rng.randint(1, 3))],
                         uas=[P.ua_sdk(rng, rng.choice(["openai-python", "openai-node", "httpx"]))],
                         created=_aged(ctx, rng, 30, 900),
                         traits={"volume": _log_volume(rng, 150), "step": rng.uniform(0.3, 0.95),
                                 "ids": rng.random() < 0.7, "users": rng.randint(50, 50000),
                                 "model": rng.choice([MODELS["pro"], MODELS["think"], MODELS["pro"]]),
                                 "system": rng.choice(["You are a patient tutor. Explain every step.",
                                                       "Homework helper: give complete worked solutions.",
                                                       "You help students understand, with detailed explanations."])}))
    return out


def emit_study_helper(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    out = []
    for _ in range(ctx.n(rng, tr["volume"])):
        t = P.day_time(rng, day0, acct.tz, "student")
        c = ctx.corpora
        q = T.homework(rng, c) if rng.random() < 0.6 else T.domain_question(
            rng, rng.choice(["math", "physics", "chemistry", "statistics", "code"]))[1]
        q = reword(rng, q)
        if rng.random() < tr["step"]:
            q += " " + rng.choice(STEP_ASKS)
        body: dict = {"model": tr["model"], "max_tokens": rng.choice([2000, 4000]),
                      "messages": [{"role": "system", "content": tr["system"]}, {"role": "user", "content": q}]}
        if tr["ids"]:
            body["user"] = f"student-{rng.randint(1, tr['users'])}"
        out.append((t, ctx.b.record(acct, t, body, kind="cot")))
    return out


# ------------------------------------------------------------------------------ power chatter

def create_power_chatter(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        tr = _consumer_traits(rng) | {"active": rng.uniform(0.75, 1.0), "sessions": rng.uniform(8, 40)}
        out.append(_acct(ctx, rng, "power_chatter", ips=[P.residential_ip(rng) for _ in range(rng.randint(1, 3))],
                         uas=_consumer_uas(rng), traits=tr))
    return out


def emit_power_chatter(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    if rng.random() > tr["active"]:
        return []
    out = []
    for _ in range(ctx.n(rng, tr["sessions"])):
        t = P.day_time(rng, day0, acct.tz, "consumer")
        q = user_question(ctx, rng)
        if rng.random() < 0.15:
            q += " " + rng.choice(STEP_ASKS)
        out += _session(ctx, acct, rng, t, min(20, 1 + P.poisson(rng, 3.5)), q, 40)
    return out


# ------------------------------------------------------------------------------ research lab

def create_research_lab(ctx: Ctx, rng: random.Random, count: int) -> list[Account]:
    out = []
    for _ in range(count):
        out.append(_acct(ctx, rng, "research_lab",
                         ips=[P.datacenter_ip(rng) if rng.random() < 0.5 else P.residential_ip(rng)],
                         uas=[P.ua_sdk(rng, rng.choice(["openai-python", "httpx", "aiohttp"]))],
                         nkeys=rng.randint(1, 3), created=_aged(ctx, rng, 60, 1200),
                         traits={"volume": _log_volume(rng, 200, 1.1), "top": rng.choice([5, 10, 20]),
                                 "p_day": rng.uniform(0.4, 1.0), "conds": rng.sample(RESEARCH_SYSTEMS, rng.randint(1, 3)),
                                 "temp": rng.choice([0, 0.7, 1.0]), "max_tokens": rng.choice([1024, 2048, 4096])}))
    return out


def emit_research_lab(ctx: Ctx, acct: Account, rng: random.Random, day0: float) -> list:
    tr = acct.traits
    if rng.random() > tr["p_day"]:
        return []
    out = []
    n = ctx.n(rng, tr["volume"])
    t = P.day_time(rng, day0, acct.tz, "office")
    while len(out) < n:
        q = user_question(ctx, rng) if rng.random() < 0.6 else T.domain_question(rng)[1]
        model = _model(rng, (0.5, 0.5, 0.0))
        for cond in tr["conds"]:
            msgs = ([{"role": "system", "content": cond}] if cond else []) + [{"role": "user", "content": q}]
            body = {"model": model, "messages": msgs, "temperature": tr["temp"], "max_tokens": tr["max_tokens"],
                    "logprobs": True, "top_logprobs": tr["top"]}
            out.append((t, ctx.b.record(acct, t, body, kind="long")))
            t += rng.expovariate(1 / 2.0)
    return out
