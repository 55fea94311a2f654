"""Benign archetypes: the traffic a detector must leave alone (including hard negatives).

Each generator takes the run :class:`~detector.simulate.context.Context` and a
:class:`~detector.simulate.context.Unit` and returns the accounts it created.
"""

from __future__ import annotations

import random

import numpy as np

from detector.simulate import infra
from detector.simulate import prompts as P
from detector.simulate.context import Account, Context, Unit
from detector.simulate.timing import (
    BUSINESS,
    PERSONAL,
    SERVICE,
    burst,
    flat,
    in_hours,
    sessions,
    utc_weights,
)

V_BRANDS = P.V.BRANDS

_PERSONAS = ("You are a helpful assistant.", "You are a friendly tutor. Keep answers short.",
             "Answer like a pirate.", "You are my writing coach.", "Be concise.")


def _user_msgs(history: list[dict], text: str, r: random.Random) -> list[dict]:
    """Append an assistant reply to the last user turn and the new user turn."""
    if history and history[-1]["role"] == "user":
        history.append({"role": "assistant", "content": P.assistant_reply(r, history[-1]["content"])})
    history.append({"role": "user", "content": text})
    return list(history)


def _chat_style(r: random.Random) -> dict:
    """Per-account request habits of a person using a chat client or the SDK."""
    return {
        "stream": r.random() < 0.6,
        "max_tokens": r.choice((None, None, None, 1024, 2048, 4096)),
        "temperature": r.choice((None, None, 0.7, 1.0, 0.5)),
        # playground-style clients: the person moves the temperature slider now and then
        "temperatures": r.sample((0.2, 0.5, 0.7, 0.9, 1.0, 1.2), r.randint(2, 4))
        if r.random() < 0.1 else None,
        "system": r.choice(_PERSONAS) if r.random() < 0.3 else None,
        "ua": r.choice(infra.APP_UAS) if r.random() < 0.6 else r.choice(infra.SDK_UAS),
    }


def _chat_body(style: dict, messages: list[dict], r: random.Random) -> dict:
    body: dict = {"messages": messages}
    if style["system"]:
        body["messages"] = [{"role": "system", "content": style["system"]}, *messages]
    if style["max_tokens"]:
        body["max_tokens"] = style["max_tokens"]
    if style["temperatures"]:
        body["temperature"] = r.choice(style["temperatures"])
    elif style["temperature"] is not None:
        body["temperature"] = style["temperature"]
    if style["stream"]:
        body["stream"] = True
    return body


def active_days(ctx: Context, r: random.Random, share: float) -> list[int]:
    """The days an account is active: one sure day (every account is seen at least once in the
    window) and each other day with probability ``share``. Drawn before any request, so the
    same at every volume."""
    sure_day = r.randrange(ctx.days)
    return [d for d in range(ctx.days) if d == sure_day or r.random() <= share]


def _person_days(ctx: Context, u: Unit, acct: Account, p: dict, ips: list[str],
                 style: dict, gap_s: float = 70.0, days: list[int] | None = None,
                 profile: np.ndarray = PERSONAL) -> None:
    """Days of a person chatting: diurnal sessions, multi-turn conversations; a share
    ``step_share`` of opening questions asks to see the steps."""
    r, g = u.r, u.g
    weights = utc_weights(profile, acct.tz_offset_h)
    main = ctx.base_model(r)
    if days is None:
        days = active_days(ctx, r, p.get("active_day_share", 1.0))
    step = p.get("step_share", 0.0)
    for d in days:
        n = max(1, int(g.poisson(p["requests_per_day"])))
        times, sid = sessions(g, ctx.day_start(d), n, weights, p["turns_mean"], gap_s)
        history: list[dict] = []
        last = -1
        for t, s in zip(times.tolist(), sid.tolist(), strict=True):
            if s != last:
                history, last = [], s
                text = ctx.prompts.chat(r)
                if step and r.random() < step:
                    text = P.step_question(r, text)
                model = ctx.model_at(r, t, main, 0.08)
            else:
                text = P.follow_up(r)
            msgs = _user_msgs(history, text, r)
            ip = ips[0] if len(ips) == 1 or r.random() < 0.75 else r.choice(ips[1:])
            ctx.add(acct, r, t, _chat_body(style, msgs, r), model=model, ip=ip, ua=style["ua"],
                    completion_median=p["completion_median"])


def casual(ctx: Context, u: Unit) -> list[Account]:
    """A person chatting through the API: evenings and weekends, multi-turn, residential IPs."""
    r = u.r
    p = ctx.params("casual", r)
    acct = ctx.new_account(r, "casual", age_days=p["age_days"])
    ips = [infra.residential_ip(r) for _ in range(r.randint(1, 3))]
    _person_days(ctx, u, acct, p, ips, _chat_style(r))
    return [acct]


def campus(ctx: Context, u: Unit) -> list[Account]:
    """Many unrelated people behind one NAT address (a university): same IP, different accounts."""
    r = u.r
    nat = infra.ipv4(r, infra.RESIDENTIAL_PREFIXES)
    group = ctx.unique_id(r, "nat", 32)
    tz = ctx.timezone(r)
    members = []
    for _ in range(u.size):  # every member (identity, habits) before any request
        p = ctx.params("campus", r)
        acct = ctx.new_account(r, "campus", age_days=p["age_days"], tz=tz)
        acct.shared_ip_group = group
        ips = [nat, infra.residential_ip(r)]
        members.append((acct, p, ips, _chat_style(r), active_days(ctx, r, p["active_day_share"])))
    for acct, p, ips, style, days in members:
        _person_days(ctx, u, acct, p, ips, style, days=days)
    return [m[0] for m in members]


def newcomer(ctx: Context, u: Unit) -> list[Account]:
    """A brand-new legitimate account exploring: created around the window, tries everything."""
    r, g = u.r, u.g
    p = ctx.params("newcomer", r)
    acct = ctx.new_account(r, "newcomer", age_days=max(p["age_days"], 0.5 - ctx.days))
    style = _chat_style(r)
    ip = infra.residential_ip(r)
    weights = utc_weights(PERSONAL, acct.tz_offset_h)
    for d in range(ctx.days):
        n = int(g.poisson(p["requests_per_day"] * (1.6 if d == 0 else 1.0)))
        times, sid = sessions(g, ctx.day_start(d), n, weights, p["turns_mean"], 50.0)
        history: list[dict] = []
        last = -1
        for t, s in zip(times.tolist(), sid.tolist(), strict=True):
            if s != last:
                history, last = [], s
                model = ctx.model_at(r, t, r.choice(ctx.models), 0.15)
            text = P.developer(r) if r.random() < 0.3 else (
                ctx.prompts.chat(r) if not history else P.follow_up(r))
            ctx.add(acct, r, t, _chat_body(style, _user_msgs(history, text, r), r), model=model,
                    ip=ip, ua=style["ua"], completion_median=p["completion_median"])
    return [acct]


_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def developer(ctx: Context, u: Unit) -> list[Account]:
    """A developer building on the API: office hours, bursts of tests, repeated prompts."""
    r, g = u.r, u.g
    p = ctx.params("developer", r)
    acct = ctx.new_account(r, "developer", age_days=p["age_days"], n_keys=r.randint(1, 3))
    office = infra.residential_ip(r)
    ci = infra.cloud_ip(r)
    uas = r.sample(infra.SDK_UAS, r.randint(1, 3))
    weights = utc_weights(BUSINESS, acct.tz_offset_h)
    for d in active_days(ctx, r, p["active_day_share"]):
        n = max(1, int(g.poisson(p["requests_per_day"] * (0.25 if ctx.is_weekend(d) else 1.0))))
        mean_len = max(2.0, n / max(p["sessions_per_day"], 1.0))
        times, sid = sessions(g, ctx.day_start(d), n, weights, mean_len, 15.0)
        last, text, model, params = -1, "", "", {}
        for t, s in zip(times.tolist(), sid.tolist(), strict=True):
            if s != last:
                last = s
                model = ctx.model_at(r, t, r.choice(ctx.models), 0.25)
                params = {"temperature": r.choice((0, 0.2, 0.7, 1.0)),
                          "max_tokens": r.choice((256, 512, 1024, 4096))}
                text = ""
            if not text or r.random() > p["repeat_share"]:
                text = P.developer(r)
            ep = r.choices(("/v1/chat/completions", "/v1/responses", "/v1/embeddings"), (8, 1, 1))[0]
            if ep == "/v1/embeddings":
                body: dict = {"input": text}
                mdl = "embed-small"
            elif ep == "/v1/responses":
                body = {"input": text, "max_output_tokens": params["max_tokens"],
                        "temperature": params["temperature"]}
                mdl = model
            else:
                body = {"messages": [{"role": "user", "content": text}], **params}
                if r.random() < 0.15:
                    body["tools"] = [_TOOL]
                if r.random() < 0.1:
                    body["response_format"] = {"type": "json_object"}
                mdl = model
            ctx.add(acct, r, t, body, model=mdl, endpoint=ep, ip=ci if r.random() < 0.2 else office,
                    ua=r.choice(uas), key=r.choice(acct.keys), completion_median=p["completion_median"])
    return [acct]


def _server_fleet(r: random.Random) -> list[str]:
    net = infra.cloud_subnet(r)
    return [infra.ipv4(r, (), prefix24=net) for _ in range(r.randint(2, 6))]


def templated_app(ctx: Context, u: Unit) -> list[Account]:
    """A product calling the API for its users: one system prompt, one template, huge reuse."""
    r, g = u.r, u.g
    p = ctx.params("templated_app", r)
    acct = ctx.new_account(r, "templated_app", age_days=p["age_days"], n_keys=2)
    system, templates = P.app_system_prompt(r)
    fleet, ua = _server_fleet(r), r.choice(infra.SDK_UAS)
    model = r.choice(("frontier-mini", "frontier-mini", "frontier-large"))
    users = int(p["end_users"])
    max_tokens, temp = r.choice((200, 300, 512)), r.choice((0.2, 0.3, 0.7))
    weights = utc_weights(SERVICE, acct.tz_offset_h)
    for d in range(ctx.days):
        n = int(g.poisson(p["requests_per_day"] * (0.8 if ctx.is_weekend(d) else 1.0)))
        for t in in_hours(g, ctx.day_start(d), n, weights).tolist():
            body = {"messages": [{"role": "system", "content": system},
                                 {"role": "user", "content": P.app_user_message(r, templates)}],
                    "max_tokens": max_tokens, "temperature": temp,
                    "user": f"u_{r.randrange(users):06d}"}
            ctx.add(acct, r, t, body, model=model, ip=r.choice(fleet), ua=ua,
                    completion_median=p["completion_median"])
    return [acct]


def classifier_app(ctx: Context, u: Unit) -> list[Account]:
    """A classification service: logprobs=true, max_tokens=1, small top_logprobs, temperature 0."""
    r, g = u.r, u.g
    p = ctx.params("classifier_app", r)
    acct = ctx.new_account(r, "classifier_app", age_days=p["age_days"])
    system, _labels = P.classifier_setup(r)
    fleet, ua = _server_fleet(r), r.choice(infra.SDK_UAS)
    k = int(round(p["top_logprobs"]))
    model = r.choice(("frontier-mini", "frontier-large"))
    weights = utc_weights(SERVICE, acct.tz_offset_h)
    for d in range(ctx.days):
        n = int(g.poisson(p["requests_per_day"]))
        n_batch = int(n * p["batch_share"])
        start = ctx.day_start(d) + ((2 - acct.tz_offset_h) % 24) * 3600.0
        times = np.concatenate([burst(g, start, 2 * 3600.0, n_batch),
                                in_hours(g, ctx.day_start(d), n - n_batch, weights)])
        for t in times.tolist():
            body = {"messages": [{"role": "system", "content": system},
                                 {"role": "user", "content": P.classifier_item(r)}],
                    "max_tokens": 1, "temperature": 0, "logprobs": True, "top_logprobs": k}
            ctx.add(acct, r, t, body, model=model, ip=r.choice(fleet), ua=ua, completion_median=1)
    return [acct]


def eval_runner(ctx: Context, u: Unit) -> list[Account]:
    """A benchmark run: a burst over a broad question set, often the same set on several
    models, in one of the ways real harnesses run: greedy (temperature 0 and a seed, some
    questions with "think step by step"), pass@k (n samples per question at a sampling
    temperature, sometimes at two or three temperatures) or multiple-choice scoring from the
    answer token's logprobs; reasoning models at high effort."""
    r, g = u.r, u.g
    p = ctx.params("eval_runner", r)
    acct = ctx.new_account(r, "eval_runner", age_days=p["age_days"])
    ip, ua = (infra.cloud_ip(r) if r.random() < 0.5 else infra.residential_ip(r)), r.choice(infra.SDK_UAS)
    bday = r.randrange(ctx.days)
    n_models = max(1, int(round(p["models_compared"])))
    models = r.sample(ctx.models, min(n_models, len(ctx.models)))
    mode = r.choices(("greedy", "pass_at_k", "mc_logprobs"), weights=(0.5, 0.3, 0.2))[0]
    seed, max_tokens = r.choice((0, 42, 1234, 2024)), r.choice((1024, 2048, 4096))
    temps = r.sample((0.6, 0.7, 0.8, 1.0), r.choice((1, 1, 2, 3)))
    k, effort = r.choice((4, 5, 8, 10)), r.random() < 0.3
    local9 = (9 - acct.tz_offset_h) % 24
    start = ctx.day_start(bday) + (local9 + r.uniform(0, 8)) * 3600.0
    n_q = max(1, int(p["burst_requests"] / len(models)))  # the only draw that depends on volume
    questions = [ctx.prompts.bench(r) for _ in range(n_q)]
    cot = [r.random() < p["cot_share"] for _ in range(n_q)]
    jobs = [(m, i) for m in models for i in range(n_q)]
    times = burst(g, start, p["burst_hours"] * 3600.0, len(jobs))
    for t, (m, i) in zip(times.tolist(), jobs, strict=True):
        text = "Let's think step by step.\n\n" + questions[i] if cot[i] else questions[i]
        body = _eval_body(mode, text, seed, max_tokens, temps[i % len(temps)], k)
        if effort and mode != "mc_logprobs":
            body["reasoning_effort"] = "high"
        median = p["completion_median"] * (2.0 if cot[i] else 1.0)
        ctx.add(acct, r, t, body, model=m, ip=ip, ua=ua,
                completion_median=3.0 if mode == "mc_logprobs" else median,
                reasoning_median=600.0 if "reasoning_effort" in body else 0.0)
    weights = utc_weights(BUSINESS, acct.tz_offset_h)
    for d in range(ctx.days):
        for t in in_hours(g, ctx.day_start(d), int(g.poisson(p["background_per_day"])), weights).tolist():
            body = {"messages": [{"role": "user", "content": P.developer(r)}], "temperature": 0}
            ctx.add(acct, r, t, body, model=r.choice(models), ip=ip, ua=ua,
                    completion_median=p["completion_median"])
    return [acct]


def _eval_body(mode: str, text: str, seed: int, max_tokens: int, temperature: float,
               k: int) -> dict:
    """The request body of one benchmark question under a harness ``mode``."""
    body: dict = {"messages": [{"role": "user", "content": text}]}
    if mode == "pass_at_k":
        return body | {"temperature": temperature, "n": k, "max_tokens": max_tokens}
    if mode == "mc_logprobs":
        return body | {"temperature": 0, "max_tokens": 1, "logprobs": True, "top_logprobs": 5}
    return body | {"temperature": 0, "seed": seed, "max_tokens": max_tokens}


def end_user_pool(r: random.Random, n: int) -> list[tuple[str, str, str]]:
    """End users of a relay: (user id, residential IP, client user agent)."""
    return [(f"eu_{r.getrandbits(32):08x}", infra.residential_ip(r), r.choice(infra.APP_UAS))
            for _ in range(n)]


#: UTC offsets of a worldwide audience (the Americas, Europe, Africa, Asia, Oceania).
WORLD_OFFSETS = (-8.0, -6.0, -5.0, -3.0, 0.0, 1.0, 2.0, 3.0, 5.5, 7.0, 8.0, 9.0, 10.0)


def relay_weights(r: random.Random, tz_offset_h: float) -> np.ndarray:
    """Hourly UTC weights of a relay's traffic: half the relays serve one region (the
    service profile in their own timezone), the others a worldwide audience whose
    traffic never sleeps (a mixture of personal profiles over many timezones)."""
    if r.random() < 0.5:
        return utc_weights(SERVICE, tz_offset_h)
    offsets = r.sample(WORLD_OFFSETS, r.randint(4, len(WORLD_OFFSETS)))
    w = sum(utc_weights(PERSONAL, o) * r.uniform(0.3, 1.0) for o in offsets)
    return w / w.sum()


def relay_gateway(r: random.Random) -> tuple[list[str], str] | None:
    """How a relay reaches the provider: most call from their own few servers with one SDK
    user agent (the provider sees the gateway, not the end user): (server IPs, UA); the rest
    forward each end user's address and client (None)."""
    if r.random() < 0.4:
        return None
    return [infra.cloud_ip(r) for _ in range(r.randint(1, 6))], r.choice(infra.SDK_UAS)


def relay_request(ctx: Context, r: random.Random, users: list, cum: list[float],
                  gateway: tuple[list[str], str] | None = None) -> tuple[dict, str, str]:
    """One legitimate end-user request relayed by a reseller: (body, IP, UA), the IP and UA
    those of the end user, or of the relay's servers when it has a ``gateway``."""
    uid, ip, ua = users[min(len(users) - 1, int(np.searchsorted(cum, r.random())))]
    if gateway is not None:
        ip, ua = r.choice(gateway[0]), gateway[1]
    x = r.random()
    text = ctx.prompts.chat(r) if x < 0.65 else P.developer(r) if x < 0.85 else P.casual(r)
    if r.random() < 0.04:
        text = P.with_step_ask(r, text)
    msgs = [{"role": "user", "content": text}]
    if r.random() < 0.3:
        msgs = _user_msgs([{"role": "user", "content": P.casual(r)}], P.follow_up(r), r)
    body: dict = {"messages": msgs, "user": uid}
    if r.random() < 0.5:
        body["stream"] = True
    if r.random() < 0.3:
        body["max_tokens"] = r.choice((512, 1024, 2048))
    return body, ip, ua


def zipf_cum(n: int, g: np.random.Generator) -> list[float]:
    """Cumulative shares of ``n`` end users with a heavy-tailed activity distribution."""
    w = 1.0 / np.arange(1, n + 1) ** 0.9
    w = g.permutation(w)
    return list(np.cumsum(w) / w.sum())


def reseller(ctx: Context, u: Unit) -> list[Account]:
    """An API reseller relaying many end users: diverse prompts around the clock, from its own
    servers or forwarding its users' addresses."""
    r, g = u.r, u.g
    p = ctx.params("reseller", r)
    acct = ctx.new_account(r, "reseller", age_days=p["age_days"], n_keys=r.randint(2, 6))
    users = end_user_pool(r, int(p["end_users"]))
    cum = zipf_cum(len(users), g)
    gateway = relay_gateway(r)
    weights = relay_weights(r, acct.tz_offset_h)
    for d in range(ctx.days):
        n = int(g.poisson(p["requests_per_day"]))
        for t in in_hours(g, ctx.day_start(d), n, weights).tolist():
            body, ip, ua = relay_request(ctx, r, users, cum, gateway)
            model = ctx.model_at(r, t, ctx.base_model(r), 0.1)
            ctx.add(acct, r, t, body, model=model, ip=ip, ua=ua, key=r.choice(acct.keys),
                    completion_median=p["completion_median"])
    return [acct]


# ---------------------------------------------------------------------------------------------
# The wide benign population: heavy, diverse, legitimate traffic. Daily volumes of the
# app-like archetypes are log-normal over 10..10,000 requests a day; prompts are end users' own
# (combined corpora, templates and paraphrase), so heavy apps do not recycle a few prompts.
# ---------------------------------------------------------------------------------------------

_APP_SYSTEMS = (
    "You are {brand}'s assistant inside our mobile app. Answer the user's question helpfully.",
    "You are a helpful assistant for {brand} customers. Be accurate and friendly.",
    "You are Ask{brand}, a general-purpose assistant. Reply in the user's language.",
    "You answer questions for users of {brand}'s search app. Cite facts carefully.",
)


def _languages(r: random.Random, foreign_share: float) -> tuple[list[str], list[float]]:
    """An app's audience: English plus 1-3 other languages sharing ``foreign_share``."""
    others = r.sample(P.LANG_CODES, r.randint(1, 3))
    w = [1.0 - foreign_share] + [foreign_share / len(others)] * len(others)
    return ["en", *others], w


def app_backend(ctx: Context, u: Unit) -> list[Account]:
    """An app back-end forwarding its end users' diverse single-turn questions: one account,
    its own servers, with or without the end user's id, several languages; 10 to 10,000
    requests a day."""
    r, g = u.r, u.g
    p = ctx.params("app_backend", r)
    acct = ctx.new_account(r, "app_backend", age_days=p["age_days"], n_keys=r.randint(1, 4))
    fleet, ua = _server_fleet(r), r.choice(infra.SDK_UAS)
    with_ids = r.random() < p["user_id_share"]
    users = int(p["end_users"])
    langs, lw = _languages(r, p["foreign_share"])
    system = r.choice(_APP_SYSTEMS).format(brand=r.choice(V_BRANDS)) if r.random() < 0.6 else None
    model = r.choice(("frontier-mini", "frontier-mini", "frontier-large"))
    max_tokens = r.choice((None, 512, 1024, 2048))
    temp = r.choice((None, 0.3, 0.7, 1.0))
    stream = r.random() < 0.5
    weights = relay_weights(r, acct.tz_offset_h)
    for d in range(ctx.days):
        n = int(g.poisson(p["requests_per_day"] * (0.85 if ctx.is_weekend(d) else 1.0)))
        for t in in_hours(g, ctx.day_start(d), n, weights).tolist():
            lang = r.choices(langs, lw)[0]
            msgs = [{"role": "user", "content": ctx.prompts.user_question(r, lang)}]
            if r.random() < p["multi_turn_share"]:
                msgs = _user_msgs([{"role": "user", "content": ctx.prompts.user_question(r, lang)}],
                                  P.paraphrase(r, P.follow_up(r)) if lang == "en" else msgs[0]["content"], r)
            if system:
                msgs = [{"role": "system", "content": system}, *msgs]
            body: dict = {"messages": msgs}
            if with_ids:
                body["user"] = f"usr_{r.randrange(users):07d}"
            if max_tokens:
                body["max_tokens"] = max_tokens
            if temp is not None:
                body["temperature"] = temp
            if stream:
                body["stream"] = True
            ctx.add(acct, r, t, body, model=ctx.model_at(r, t, model, 0.05), ip=r.choice(fleet),
                    ua=ua, key=r.choice(acct.keys), completion_median=p["completion_median"])
    return [acct]


_TUTOR_SYSTEMS = (
    "You are a patient tutor for {brand}. Explain step by step and check understanding.",
    "You are {brand}'s homework helper. Show every step of the working so students can learn.",
    "You help students with {subj}. Give complete, detailed explanations with examples.",
    "You are a study coach. Explain concepts thoroughly, then give a worked example.",
)


def tutor_app(ctx: Context, u: Unit) -> list[Account]:
    """An education app (a developer's product) whose users ask for step-by-step explanations
    and long answers: homework, maths, science, exam preparation."""
    r, g = u.r, u.g
    p = ctx.params("tutor_app", r)
    acct = ctx.new_account(r, "tutor_app", age_days=p["age_days"], n_keys=r.randint(1, 3))
    fleet, ua = _server_fleet(r), r.choice(infra.SDK_UAS)
    subj = r.choice(("maths", "science", "programming", "languages", "everything"))
    system = r.choice(_TUTOR_SYSTEMS).format(brand=r.choice(V_BRANDS), subj=subj)
    with_ids = r.random() < 0.7
    users = int(p["end_users"])
    langs, lw = _languages(r, p["foreign_share"])
    model = r.choice(("frontier-large", "frontier-large", "frontier-reasoner", "frontier-mini"))
    effort = "high" if model == "frontier-reasoner" and r.random() < 0.5 else None
    max_tokens = r.choice((2048, 4096, 8192))
    # students: after school and evenings in the app's region, heavier on weekdays
    weights = utc_weights(PERSONAL, acct.tz_offset_h)
    for d in range(ctx.days):
        n = int(g.poisson(p["requests_per_day"] * (0.7 if ctx.is_weekend(d) else 1.0)))
        for t in in_hours(g, ctx.day_start(d), n, weights).tolist():
            lang = r.choices(langs, lw)[0]
            x = r.random()
            if lang != "en":
                core = ctx.prompts.user_question(r, lang)
            elif x < 0.35:
                core = ctx.prompts.math(r)
            elif x < 0.7:
                s_ = r.choice(_TUTOR_SUBJECTS)
                core = P.human_question(r, s_, r.choice(P.V.TAXONOMY[s_]))
            else:
                core = ctx.prompts.user_question(r)
            text = P.step_question(r, core) if r.random() < p["step_share"] else core
            body: dict = {"messages": [{"role": "system", "content": system},
                                       {"role": "user", "content": text}],
                          "max_tokens": max_tokens}
            if with_ids:
                body["user"] = f"stu_{r.randrange(users):06d}"
            if effort:
                body["reasoning_effort"] = effort
            ctx.add(acct, r, t, body, model=model, ip=r.choice(fleet), ua=ua,
                    key=r.choice(acct.keys), completion_median=p["completion_median"],
                    reasoning_median=500.0 if effort else 0.0)
    return [acct]


_TUTOR_SUBJECTS = ("algebra", "calculus", "statistics", "physics", "chemistry", "biology",
                   "programming", "history", "economics")


def heavy_chat(ctx: Context, u: Unit) -> list[Account]:
    """A heavy chat user (40-400 requests a day): long multi-turn sessions over a long day,
    often asking to be walked through things step by step."""
    r = u.r
    p = ctx.params("heavy_chat", r)
    acct = ctx.new_account(r, "heavy_chat", age_days=p["age_days"])
    ips = [infra.residential_ip(r) for _ in range(r.randint(1, 3))]
    _person_days(ctx, u, acct, p, ips, _chat_style(r), gap_s=45.0)
    return [acct]


_BATCH_JOBS = {
    "translate": ("Translate the following text into {lang}. Keep names and numbers unchanged.\n\n{doc}",
                  1.1, 0.0),
    "summarise": ("Summarise the following notes in {n} bullet points.\n\n{doc}", 0.0, 160.0),
    "clean": ("Normalise these customer records to CSV with columns name,city,phone(E.164),date(ISO). "
              "Output only the CSV.\n\n{rows}", 1.0, 0.0),
    "extract": ("Extract every person, organisation and date from the text as JSON "
                "{{\"people\":[],\"orgs\":[],\"dates\":[]}}.\n\n{doc}", 0.0, 120.0),
}


def batch_job(ctx: Context, u: Unit) -> list[Account]:
    """A nightly batch job (translation, summarisation, data cleaning, extraction): a fixed
    instruction over fresh documents, at machine pace inside a night window."""
    r, g = u.r, u.g
    p = ctx.params("batch_job", r)
    acct = ctx.new_account(r, "batch_job", age_days=p["age_days"])
    ip, ua = infra.cloud_ip(r), r.choice(infra.SDK_UAS)
    jobs = r.sample(tuple(_BATCH_JOBS), r.randint(1, 2))
    target = r.choice(P.V.HUMAN_LANGS)
    model = r.choice(("frontier-mini", "frontier-mini", "frontier-large"))
    temp = r.choice((0, 0, 0.2))
    legacy = r.random() < 0.2  # the responses endpoint
    start_h = (r.uniform(0, 4) - acct.tz_offset_h) % 24  # local 00:00-04:00
    days = [d for d in range(ctx.days) if not ctx.is_weekend(d) or r.random() < p["weekend_share"]]
    for d in days:
        n = int(g.poisson(p["requests_per_day"]))
        t0 = ctx.day_start(d) + start_h * 3600.0
        for t in flat(g, t0, t0 + p["window_hours"] * 3600.0, n, True).tolist():
            job = r.choice(jobs)
            tmpl, ratio, fixed = _BATCH_JOBS[job]
            text = tmpl.format(lang=target, n=r.randint(3, 7), doc=P.document(r),
                               rows=P.messy_rows(r))
            median = fixed or max(20.0, ratio * len(text) / 4.0)
            if legacy:
                body: dict = {"input": text, "max_output_tokens": 2048, "temperature": temp}
                ep, mdl = "/v1/responses", model
            else:
                body = {"messages": [{"role": "user", "content": text}], "max_tokens": 2048,
                        "temperature": temp}
                ep, mdl = "/v1/chat/completions", model
            ctx.add(acct, r, t, body, model=mdl, endpoint=ep, ip=ip, ua=ua, completion_median=median)
    return [acct]


_CONDITIONS = ("", "You are a helpful assistant.", "Answer as concisely as possible.",
               "You are an expert. Think carefully.", "Respond in a neutral, factual tone.",
               "Please answer the question below.")


def research_logprobs(ctx: Context, u: Unit) -> list[Account]:
    """A research group studying the model: top_logprobs on long answers (calibration,
    uncertainty, watermark and interpretability studies), each question under 1-4 prompt
    conditions, in working-hours runs on some days."""
    r, g = u.r, u.g
    p = ctx.params("research_logprobs", r)
    acct = ctx.new_account(r, "research_logprobs", age_days=p["age_days"], n_keys=r.randint(1, 3))
    ip = infra.cloud_ip(r) if r.random() < 0.5 else infra.residential_ip(r)
    ua = r.choice(infra.SDK_UAS)
    k = r.choice((5, 10, 20, 20))
    conds = r.sample(_CONDITIONS, max(1, int(round(p["conditions"]))))
    temp = r.choice((0, 0.7, 1.0))
    max_tokens = r.choice((1024, 2048, 4096))
    models = r.sample(ctx.models, r.randint(1, len(ctx.models)))
    weights = utc_weights(BUSINESS, acct.tz_offset_h)
    for d in active_days(ctx, r, p["active_day_share"]):
        n = int(g.poisson(p["requests_per_day"]))
        n_q = max(1, n // len(conds))
        times = sorted(in_hours(g, ctx.day_start(d), n_q * len(conds), weights).tolist())
        jobs = [(q, c) for q in range(n_q) for c in conds]
        questions = [ctx.prompts.bench(r) if r.random() < 0.4 else ctx.prompts.user_question(r)
                     for _ in range(n_q)]
        for t, (q, c) in zip(times, jobs, strict=True):
            msgs = [{"role": "user", "content": questions[q]}]
            if c:
                msgs.insert(0, {"role": "system", "content": c})
            body = {"messages": msgs, "max_tokens": max_tokens, "temperature": temp,
                    "logprobs": True, "top_logprobs": k}
            ctx.add(acct, r, t, body, model=models[q % len(models)], ip=ip, ua=ua,
                    key=r.choice(acct.keys), completion_median=p["completion_median"])
    return [acct]


_INTERNAL_TOOLS = ("Draft a reply to this customer email:\n\n{doc}",
                   "Summarise this ticket thread for the handover:\n\n{doc}",
                   "Rewrite for our newsletter, friendly tone:\n\n{doc}",
                   "{q}")


def enterprise(ctx: Context, u: Unit) -> list[Account]:
    """An enterprise: many accounts (teams, tools, employees) paid with one company card,
    calling from the corporate egress in office hours."""
    r, g = u.r, u.g
    card = infra.payment_fingerprint(r)
    org = ctx.unique_id(r, "org", 32) if r.random() < 0.6 else None
    net = infra.cloud_subnet(r)
    egress = [infra.ipv4(r, (), prefix24=net) for _ in range(r.randint(1, 4))]
    tz = ctx.timezone(r)
    plan = []
    for _ in range(u.size):  # every member before any request
        p = ctx.params("enterprise", r)
        acct = ctx.new_account(r, "enterprise", age_days=p["age_days"], tz=tz, payment=card,
                               org_id=org if org else "new", n_keys=r.randint(1, 3))
        kind = r.choices(("staff", "tool", "dev"), (0.55, 0.25, 0.2))[0]
        ips = egress + ([infra.residential_ip(r)] if r.random() < 0.4 else [])
        ua = r.choice(infra.APP_UAS) if kind == "staff" else r.choice(infra.SDK_UAS)
        plan.append((acct, p, kind, ips, ua, active_days(ctx, r, p["active_day_share"])))
    weights = utc_weights(BUSINESS, tz)
    for acct, p, kind, ips, ua, days in plan:
        if kind == "staff":
            style = _chat_style(r) | {"ua": ua}
            _person_days(ctx, u, acct, p | {"turns_mean": 2.5}, ips, style, days=days,
                         profile=BUSINESS)
            continue
        for d in days:
            n = max(1, int(g.poisson(p["requests_per_day"] * (0.2 if ctx.is_weekend(d) else 1.0))))
            for t in in_hours(g, ctx.day_start(d), n, weights).tolist():
                if kind == "tool":
                    text = r.choice(_INTERNAL_TOOLS).format(doc=P.document(r, 2, 6),
                                                            q=ctx.prompts.user_question(r))
                else:
                    text = P.developer(r)
                body = {"messages": [{"role": "user", "content": text}],
                        "temperature": r.choice((0, 0.3, 0.7))}
                ctx.add(acct, r, t, body, model=r.choice(ctx.models), ip=r.choice(ips), ua=ua,
                        key=r.choice(acct.keys), completion_median=p["completion_median"])
    return [m[0] for m in plan]
