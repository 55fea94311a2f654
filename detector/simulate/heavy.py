"""The wide benign population: heavy, diverse, legitimate traffic. Daily volumes of the
app-like archetypes are log-normal over 10..10,000 requests a day; prompts are end users' own
(combined corpora, templates and paraphrase), so heavy apps do not recycle a few prompts.

Each generator has the signature of :mod:`detector.simulate.benign`'s.
"""

from __future__ import annotations

import random

from detector.simulate import enduser as U
from detector.simulate import infra
from detector.simulate import prompts as P
from detector.simulate.benign import (
    _chat_style,
    _person_days,
    _server_fleet,
    _user_msgs,
    active_days,
    relay_weights,
)
from detector.simulate.context import Account, Context, Unit
from detector.simulate.timing import (
    BUSINESS,
    PERSONAL,
    flat,
    in_hours,
    utc_weights,
)

_APP_SYSTEMS = (
    "You are {brand}'s assistant inside our mobile app. Answer the user's question helpfully.",
    "You are a helpful assistant for {brand} customers. Be accurate and friendly.",
    "You are Ask{brand}, a general-purpose assistant. Reply in the user's language.",
    "You answer questions for users of {brand}'s search app. Cite facts carefully.",
)


def _languages(r: random.Random, foreign_share: float) -> tuple[list[str], list[float]]:
    """An app's audience: English plus 1-3 other languages sharing ``foreign_share``."""
    others = r.sample(U.LANG_CODES, r.randint(1, 3))
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
    system = r.choice(_APP_SYSTEMS).format(brand=r.choice(P.V.BRANDS)) if r.random() < 0.6 else None
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
                                  U.paraphrase(r, P.follow_up(r)) if lang == "en" else msgs[0]["content"], r)
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
    system = r.choice(_TUTOR_SYSTEMS).format(brand=r.choice(P.V.BRANDS), subj=subj)
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
            text = U.step_question(r, core) if r.random() < p["step_share"] else core
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
            text = tmpl.format(lang=target, n=r.randint(3, 7), doc=U.document(r),
                               rows=U.messy_rows(r))
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
                    text = r.choice(_INTERNAL_TOOLS).format(doc=U.document(r, 2, 6),
                                                            q=ctx.prompts.user_question(r))
                else:
                    text = P.developer(r)
                body = {"messages": [{"role": "user", "content": text}],
                        "temperature": r.choice((0, 0.3, 0.7))}
                ctx.add(acct, r, t, body, model=r.choice(ctx.models), ip=r.choice(ips), ua=ua,
                        key=r.choice(acct.keys), completion_median=p["completion_median"])
    return [m[0] for m in plan]
