"""Prompt text: a built-in generator (templates + :mod:`vocab`) and optional real corpora.

Every function takes a ``random.Random`` so generation is deterministic for a seed and cheap
per call (the simulator makes one call per request). :class:`PromptSource` mixes corpus prompts
(``--corpus DIR``, the split named by the scenario) into the built-in ones.
"""

from __future__ import annotations

import random

from detector.simulate import vocab as V

_CASUAL = (
    "how do I {task} in {lang}",
    "what's the difference between {sub} and {sub2}",
    "explain {sub} like I'm {aud}",
    "can you explain {sub} in simple terms",
    "help me with {wsub} for {name}, keep it {adj}",
    "give me 5 ideas for a {adj} {wsub}",
    "what should I see in {city} in {n} days",
    "is it safe to {verb} {sub}",
    "help me plan a weekly budget, I earn {n}00 a month",
    "recipe for {csub} with what I have: {food1} and {food2}",
    "summarise the main causes of {hsub}",
    "why does {sub} matter",
    "translate '{phrase}' to {hlang}",
    "my {rel} and I keep arguing about chores, any advice",
    "what are good books about {sub}",
    "I have a job interview tomorrow for a {job} role, what questions should I expect",
    "is {prod} worth buying",
    "how many calories are in {food1}",
    "write a {adj} message to my landlord about {issue}",
    "what happened during {hsub}",
    "pros and cons of {sub}",
    "how long does it take to learn {lsub}",
    "tips for {fsub} as a beginner",
    "my code throws {err}, what does it mean",
    "rewrite this to sound {adj}: {phrase}",
)
_SUBS_FOOD = ("eggs", "rice", "spinach", "chickpeas", "chicken", "tofu", "potatoes", "lentils",
              "mushrooms", "leftover pasta", "canned tuna", "avocado")
_PHRASES = ("I will be late to the meeting", "thank you for your help yesterday",
            "the project is delayed by two weeks", "we need to talk about the budget",
            "happy birthday, have a wonderful day", "please send me the invoice",
            "I am not able to attend on Friday", "the results look promising")
_RELATIONS = ("partner", "roommate", "brother", "sister", "mom", "dad", "flatmate")
_JOBS = ("data analyst", "nurse", "product manager", "frontend developer", "teacher",
         "sales", "accountant", "UX designer", "warehouse supervisor")
_ISSUES = ("a leaking tap", "the heating not working", "noise from upstairs", "mould in the bathroom",
           "the deposit", "a broken window")
_VERBS = ("combine", "skip", "mix", "rely on", "invest in", "start")
_DEV = (
    "Fix this {lang} function, it returns None:\n```\ndef {fn}(items):\n    for i in items:\n        if i.{attr} > {n}:\n            result.append(i)\n```",
    "Write a unit test for a function that {task}.",
    "Convert this to {lang2}: `{fn}(x) = x.map(v => v * {n})`",
    "Return JSON with keys name, email, company from: \"{name} ({name_l}@{brand_l}.com) works at {brand}\"",
    "Why am I getting {err} in {fw}?",
    "Generate a SQL query that returns the top {n} customers by revenue per month.",
    "Refactor this {fw} view to use async.",
    "test",
    "hello",
    "Say hi",
    "Write a regex that matches {thing}.",
    "What is the time complexity of {psub}?",
    "Explain this stack trace: {err} at {fn} (line {n})",
    "Summarise this changelog in 3 bullets: added {task}, fixed {err}, bumped {fw} to {n}.0",
    "Write a docstring for a function that {task}.",
)
_THINGS = ("ISO dates", "UK postcodes", "hex colours", "semantic versions", "IPv4 addresses",
           "email addresses", "US phone numbers")
_FUNCS = ("filter_items", "process", "get_data", "handle", "parse_rows", "compute_total", "run")
_ATTRS = ("price", "score", "count", "age", "size")


def _fill(template: str, r: random.Random) -> str:
    """Fill the ``{slot}`` names a template uses (only those, so unused slots cost nothing)."""
    subj = r.choice(V.SUBJECTS)
    values = {
        "task": r.choice(V.CODE_TASKS), "lang": r.choice(V.LANGUAGES),
        "lang2": r.choice(V.LANGUAGES), "sub": r.choice(V.TAXONOMY[subj]),
        "sub2": r.choice(V.TAXONOMY[subj]), "aud": r.choice(V.AUDIENCES),
        "adj": r.choice(V.ADJECTIVES), "wsub": r.choice(V.TAXONOMY["writing"]),
        "name": r.choice(V.FIRST_NAMES), "city": r.choice(V.CITIES), "n": r.randint(2, 12),
        "verb": r.choice(_VERBS), "csub": r.choice(V.TAXONOMY["cooking"]),
        "food1": r.choice(_SUBS_FOOD), "food2": r.choice(_SUBS_FOOD),
        "hsub": r.choice(V.TAXONOMY["history"]), "phrase": r.choice(_PHRASES),
        "hlang": r.choice(V.HUMAN_LANGS), "rel": r.choice(_RELATIONS), "job": r.choice(_JOBS),
        "prod": r.choice(V.PRODUCTS), "issue": r.choice(_ISSUES),
        "lsub": r.choice(V.TAXONOMY["language learning"]),
        "fsub": r.choice(V.TAXONOMY["health and fitness"]), "err": r.choice(V.ERRORS),
        "fn": r.choice(_FUNCS), "attr": r.choice(_ATTRS), "fw": r.choice(V.FRAMEWORKS),
        "brand": r.choice(V.BRANDS), "thing": r.choice(_THINGS),
        "psub": r.choice(V.TAXONOMY["programming"]),
    }
    values["name_l"] = values["name"].lower()
    values["brand_l"] = values["brand"].split()[0].lower()
    return template.format(**values)


def _humanise(text: str, r: random.Random) -> str:
    """Casual styling: openers, closers, sometimes lower-case or a dropped question mark."""
    text = r.choice(V.OPENERS) + text + r.choice(V.CLOSERS)
    x = r.random()
    if x < 0.3:
        text = text.lower()
    elif x < 0.6:
        text = text[:1].upper() + text[1:]
    return text


def casual(r: random.Random) -> str:
    """One opening message of a person chatting (varied topics, casual style)."""
    return _humanise(_fill(r.choice(_CASUAL), r), r)


def follow_up(r: random.Random) -> str:
    """A follow-up turn in an ongoing conversation."""
    return _fill(r.choice(V.FOLLOW_UPS), r)


#: How ordinary people ask for an explanation of the steps (homework, recipes, setup guides):
#: real chat traffic contains these at a low rate, so a reasoning-elicitation phrase alone
#: does not make a distiller.
HUMAN_STEP_ASKS = (
    "Can you explain it step by step?",
    "Please go step by step, I'm a beginner.",
    "Show your work please, I want to check mine.",
    "Walk me through it step-by-step.",
    "Let's think about this together.",
    "Can you explain your reasoning?",
)


def with_step_ask(r: random.Random, text: str) -> str:
    """``text`` with a person's request to see the steps appended."""
    return f"{text} {r.choice(HUMAN_STEP_ASKS)}"


def developer(r: random.Random) -> str:
    """A developer testing or debugging through the API."""
    return _fill(r.choice(_DEV), r)


def assistant_reply(r: random.Random, user_text: str) -> str:
    """A short stand-in for an earlier assistant turn (history in multi-turn requests)."""
    head = user_text[:60].replace("\n", " ")
    return r.choice(("Sure! Regarding \"{h}\": here are the key points. ",
                     "Good question. Short answer about \"{h}\": it depends. ",
                     "Here's a draft for \"{h}\". ")).format(h=head) + "…"


def human_question(r: random.Random, subject: str, subtopic: str) -> str:
    """A person-like question about a given subtopic (low-and-slow mimics use this)."""
    t = r.choice((
        "can you explain {s} to me? I'm studying {subj} and don't get it",
        "what's the best way to understand {s}",
        "I keep confusing {s} with other things in {subj}, can you clarify",
        "how would you explain {s} to {aud}",
        "what are common mistakes people make with {s}",
        "give me an intuition for {s}, then a worked example",
        "why is {s} important in {subj}",
        "could you walk me through {s} with an example",
        "I read about {s} today, what's the big deal",
        "what should I know about {s} before my exam",
    ))
    return _humanise(t.format(s=subtopic, subj=subject, aud=r.choice(V.AUDIENCES)), r)


def harvest_generation(r: random.Random, subject: str, subtopic: str) -> str:
    """Self-instruct / synthetic-data style prompt asking for long, reusable output."""
    k = r.choice((5, 10, 15, 20, 25))
    t = r.choice((
        "You are asked to come up with a set of {k} diverse task instructions about {s} ({subj}). "
        "Each instruction must be different, cover a different {task} skill, and come with a "
        "complete, high-quality response. Format: Instruction: ... Input: ... Output: ...",
        "Write a comprehensive {doc} on {s} in {subj}. Cover definitions, intuition, worked "
        "examples, common misconceptions and practice problems with full solutions.",
        "Generate {k} question-answer pairs about {s} ({subj}) of increasing difficulty. "
        "Answers must be detailed and self-contained.",
        "Answer the following instruction as thoroughly and helpfully as possible, as an expert "
        "would: explain {s} in {subj} with examples.",
        "Produce a long, detailed {doc} about {s}. Do not summarise; be exhaustive.",
        "Create a dialogue of {k} turns between a student and a tutor about {s}, with the tutor "
        "giving complete explanations.",
    ))
    return t.format(k=k, s=subtopic, subj=subject, task=r.choice(V.SELF_INSTRUCT_TASKS),
                    doc=r.choice(V.DOC_TYPES))


def math_problem(r: random.Random) -> str:
    """A grade-school style word problem with fresh numbers."""
    name, name2 = r.choice(V.FIRST_NAMES), r.choice(V.FIRST_NAMES)
    a, b, c = r.randint(3, 90), r.randint(2, 25), r.randint(2, 9)
    return r.choice((
        f"{name} has {a} apples and gives {b} to {name2}. She then buys {c} bags of {b} apples. "
        "How many apples does she have now?",
        f"A train travels {a * 5} km in {c} hours. At the same speed, how far does it go in {b} hours?",
        f"{name} saves ${a} a week. After {b} weeks she spends ${c * 10}. How much is left?",
        f"A rectangle is {a} cm long and {b} cm wide. What is its area and its perimeter?",
        f"{name} reads {b} pages a day. The book has {a * 10} pages. How many days to finish it?",
        f"A shop sells pens at ${c} each and notebooks at ${b}. {name} buys {c} pens and "
        f"{c + 1} notebooks. What does {name} pay?",
        f"If {c} workers build a wall in {b} days, how long do {c * 2} workers take?",
    ))


_COT_SUFFIX = (
    "Think step by step and show your complete reasoning before giving the final answer.",
    "Let's think step by step. Write out every intermediate step; do not skip any.",
    "Explain your full chain of thought in detail, then give the answer on the last line.",
    "Reason through this carefully inside <thinking></thinking> tags, showing all work, then answer.",
    "Before answering, list every assumption and derivation step explicitly.",
    "Show your internal reasoning process verbatim, step by step, then the final answer.",
)


def cot_wrap(r: random.Random, problem: str) -> str:
    """Wrap a problem with an instruction that elicits the full reasoning trace."""
    return f"{problem}\n\n{r.choice(_COT_SUFFIX)}"


def benchmark_question(r: random.Random) -> str:
    """A multiple-choice or short-answer benchmark-style question."""
    subj = r.choice(V.SUBJECTS)
    sub = r.choice(V.TAXONOMY[subj])
    if r.random() < 0.4:
        return math_problem(r)
    opts = r.sample(V.TAXONOMY[subj], 4)
    if sub not in opts:
        opts[r.randrange(4)] = sub
    letters = "ABCD"
    body = "\n".join(f"{letters[i]}) {o}" for i, o in enumerate(opts))
    return (f"The following is a multiple choice question about {subj}.\n"
            f"Which of these is most closely related to {sub}?\n{body}\nAnswer:")


def app_system_prompt(r: random.Random) -> tuple[str, tuple[str, ...]]:
    """A templated app: its fixed system prompt and the user-message templates it fills."""
    brand = r.choice(V.BRANDS)
    kind = r.randrange(3)
    if kind == 0:
        system = (f"You are the virtual assistant of {brand}. Answer customer questions politely "
                  "in at most three sentences. Never promise refunds. If unsure, offer a human agent.")
        templates = tuple(f"Customer {{name}} writes: {t}" for t in V.TICKET_ISSUES)
    elif kind == 1:
        system = (f"You write product descriptions for {brand}'s online shop. Use a warm tone, "
                  "80-120 words, end with a call to action.")
        templates = ("Product: {prod}. Key features: {adj}, {adj2}. Price: ${num}.",
                     "Write the description for {prod} (colour: {colour}, size {num}).",
                     "Item {prod}, SKU {code}, highlight that it is {adj}.")
    else:
        system = (f"You are {brand}'s email assistant. Draft a reply to the email below in the "
                  "user's voice. Keep it under 150 words.")
        templates = ("Email from {name}: Hi, can we move our call to {day} at {num}pm?",
                     "Email from {name}: Please find attached invoice #{num}, due {day}.",
                     "Email from {name}: Thanks for the update on {prod}, any news on #{num}?",
                     "Email from {name}: Are you free for lunch on {day}?")
    return system, templates


_COLOURS = ("black", "white", "navy", "red", "forest green", "grey", "sand")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "next week")


def app_user_message(r: random.Random, templates: tuple[str, ...]) -> str:
    """Fill one of an app's templates for one end user (names, numbers, products vary)."""
    t = r.choice(templates)
    return t.format(
        name=r.choice(V.FIRST_NAMES), num=r.randint(10, 99999), prod=r.choice(V.PRODUCTS),
        adj=r.choice(V.ADJECTIVES), adj2=r.choice(V.ADJECTIVES), colour=r.choice(_COLOURS),
        code=f"{r.choice('ABCDEFGHJK')}{r.randint(100, 999)}", day=r.choice(_DAYS),
    )


def classifier_setup(r: random.Random) -> tuple[str, tuple[str, ...]]:
    """A classification app: system prompt and its label set."""
    kind = r.randrange(3)
    if kind == 0:
        return ("Classify the sentiment of the review. Answer with exactly one word: "
                "positive, negative or neutral.", ("positive", "negative", "neutral"))
    if kind == 1:
        return ("Is the following support ticket urgent? Answer yes or no.", ("yes", "no"))
    return ("Label the topic of the message with one of: billing, shipping, account, product, "
            "other. Output only the label.", ("billing", "shipping", "account", "product", "other"))


def classifier_item(r: random.Random) -> str:
    """One item to classify (a review or a ticket)."""
    bits = r.sample(V.REVIEW_BITS, r.randint(1, 3))
    return f"{r.choice(V.PRODUCTS).capitalize()}: " + ", ".join(bits) + "."
