"""Benign archetypes: the traffic a detector must leave alone (including hard negatives).

Each generator takes the run :class:`~detector.simulate.context.Context` and a
:class:`~detector.simulate.context.Unit` and returns the accounts it created.
"""

from __future__ import annotations

import random

import numpy as np

from detector.simulate import enduser as U
from detector.simulate import infra
from detector.simulate import prompts as P
from detector.simulate.context import Account, Context, Unit
from detector.simulate.timing import (
    BUSINESS,
    PERSONAL,
    SERVICE,
    burst,
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
                    text = U.step_question(r, text)
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
