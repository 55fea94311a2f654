"""Prompt text: a built-in generator (templates + :mod:`vocab`) and optional real corpora.

Every function takes a ``random.Random`` so generation is deterministic for a seed and cheap
per call (the simulator makes one call per request). :class:`PromptSource` mixes corpus prompts
(``--corpus DIR``, the split named by the scenario) into the built-in ones.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from detector.errors import InputError
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


# ---------------------------------------------------------------------------------------------
# Real corpora (--corpus DIR)
# ---------------------------------------------------------------------------------------------

#: Which corpus files feed which pool, per split. Training and evaluation never share a file
#: (gsm8k is split in halves by line order).
SPLITS: dict[str, dict[str, tuple[str, ...]]] = {
    "train": {
        "chat": ("benign/arena_hard_v0.1_question.jsonl", "benign/hh_rlhf_harmless_base_test.jsonl.gz"),
        "instructions": ("instructions/self_instruct_seed_tasks.jsonl",),
        "math": ("instructions/gsm8k_test.jsonl#first",),
        "bench": ("benign/arena_hard_v0.1_question.jsonl", "instructions/gsm8k_test.jsonl#first"),
    },
    "eval": {
        "chat": ("benign/arena_hard_v2.0_question.jsonl", "benign/mt_bench_question.jsonl",
                 "benign/vicuna_bench_question.jsonl"),
        "instructions": ("instructions/self_instruct_user_oriented_instructions.jsonl",),
        "math": ("instructions/gsm8k_test.jsonl#second",),
        "bench": ("benign/mt_bench_question.jsonl", "benign/vicuna_bench_question.jsonl",
                  "instructions/gsm8k_test.jsonl#second"),
    },
}


def _read_lines(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _hh_opener(text: str) -> str:
    """First human turn of an hh-rlhf transcript ('\\n\\nHuman: ... \\n\\nAssistant: ...')."""
    body = text.split("Human:", 1)[-1]
    return body.split("\n\nAssistant:", 1)[0].strip()


def _texts(rows: list[dict]) -> list[str]:
    out = []
    for row in rows:
        if "prompt" in row:
            out.append(row["prompt"])
        elif "turns" in row:
            out.append(row["turns"][0])
        elif "question" in row:
            out.append(row["question"])
        elif "instruction" in row:
            inst = row.get("instances") or [{}]
            extra = inst[0].get("input", "")
            out.append(row["instruction"] + (f"\n\n{extra}" if extra else ""))
        elif "chosen" in row:
            out.append(_hh_opener(row["chosen"]))
    return [t for t in out if t]


def load_corpus(root: Path, split: str) -> dict[str, list[str]]:
    """Pools of real prompts (chat, instructions, math, bench) for ``split`` ('train'|'eval')."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"--corpus {root}: not a folder")
    if split not in SPLITS:
        raise InputError(f"corpus_split: expected 'train' or 'eval', got {split!r}")
    pools: dict[str, list[str]] = {}
    cache: dict[str, list[str]] = {}
    for pool, names in SPLITS[split].items():
        texts: list[str] = []
        for name in names:
            rel, _, half = name.partition("#")
            if rel not in cache:
                path = root / rel
                cache[rel] = _texts(_read_lines(path)) if path.exists() else []
            rows = cache[rel]
            mid = len(rows) // 2
            texts += rows[:mid] if half == "first" else rows[mid:] if half == "second" else rows
        pools[pool] = texts
    if not any(pools.values()):
        raise InputError(f"--corpus {root}: none of the expected corpus files was found "
                         "(see docs/simulator.md)")
    return pools


@dataclass
class PromptSource:
    """Built-in prompts with a share drawn from real corpora when they are loaded.

    ``corpus_share``: probability that a prompt of a pool comes from the corpus (0..1).
    """

    pools: dict[str, list[str]] = field(default_factory=dict)
    corpus_share: float = 0.3

    def _pick(self, r: random.Random, pool: str) -> str | None:
        texts = self.pools.get(pool)
        if texts and r.random() < self.corpus_share:
            return r.choice(texts)
        return None

    def chat(self, r: random.Random) -> str:
        return self._pick(r, "chat") or casual(r)

    def instruction(self, r: random.Random, subject: str, subtopic: str) -> str:
        got = self._pick(r, "instructions")
        if got is not None:
            return ("Answer the following instruction in full detail, as an expert would.\n\n" + got)
        return harvest_generation(r, subject, subtopic)

    def math(self, r: random.Random) -> str:
        return self._pick(r, "math") or math_problem(r)

    def user_question(self, r: random.Random, lang: str | None = None) -> str:
        """An app's end-user question: a corpus chat prompt (paraphrased in context most of the
        time, so it does not repeat verbatim) or a built-in one; in ``lang`` when given."""
        if lang is not None and lang != "en":
            return foreign_question(r, lang)
        got = self._pick(r, "chat")
        if got is not None:
            return paraphrase(r, got) if r.random() < 0.7 else got
        return everyday_question(r)

    def bench(self, r: random.Random) -> str:
        texts = self.pools.get("bench")
        if texts and r.random() < max(self.corpus_share, 0.7):
            return r.choice(texts)
        return benchmark_question(r)


# ---------------------------------------------------------------------------------------------
# End users of heavy benign apps: diverse single-turn questions, several languages,
# step-by-step asks, documents for batch jobs. Built so that a heavy app does not recycle a few
# thousand prompts: a core question (built-in templates, or a corpus prompt) is combined with
# an independent context preface, constraint and casing, and most carry fresh names/numbers.
# ---------------------------------------------------------------------------------------------

_EVERYDAY = (
    "what's a good way to {goal} when {constraint}",
    "how do I {goal}? {constraint}",
    "compare {prod} and {prod2} for someone who {habit}",
    "I need a {adj} {wsub} for {name}'s {event}",
    "my {rel} wants to {goal}, how can I help",
    "is {n}% a normal {metric} for a {job}",
    "what are the first steps to {goal} in {city}",
    "explain {sub} ({subj}) with an everyday example",
    "how does {sub} affect {sub2}",
    "give me a {n}-day plan to {goal}",
    "what questions should I ask before I {decision}",
    "I got {grade} on my {subj} test, how do I improve at {sub}",
    "what's the history behind {hsub} in a few paragraphs",
    "draft a {adj} text to {name} about {event}",
    "what is the difference between {sub} and {sub2} in {subj}",
    "can {food1} replace {food2} in {csub}",
    "my {thing} shows {err}, what should I check first",
    "how much should I budget for {event} with {n} guests",
    "which is better for {habit} people: {prod} or {prod2}",
    "summarise the arguments for and against {policy}",
)
_GOALS = ("start running", "learn to cook", "save for a house", "fall asleep earlier",
          "learn Spanish", "pass my driving test", "negotiate a raise", "get better at chess",
          "start a podcast", "write a novel", "switch careers into data science", "grow tomatoes",
          "stop procrastinating", "pay off a credit card", "train a puppy", "learn the guitar",
          "organise a small wedding", "move abroad", "build a gaming PC", "prepare for a marathon",
          "read more books", "learn calculus on my own", "plan a road trip", "start freelancing")
_CONSTRAINTS = ("I only have 20 minutes a day", "money is tight", "I work night shifts",
                "I have two kids", "I live in a small flat", "I'm over 60", "I have a bad knee",
                "I'm a student", "I travel a lot for work", "English is not my first language",
                "I tried twice already and gave up", "I have no car")
_HABITS = ("runs every morning", "works from home", "travels often", "has a tight budget",
           "games a lot", "cooks every day", "commutes by bike", "has back pain")
_EVENTS = ("birthday", "retirement party", "wedding", "graduation", "farewell lunch",
           "first day at work", "housewarming", "anniversary")
_METRICS = ("raise", "bonus", "savings rate", "body fat percentage", "tip", "interest rate")
_DECISIONS = ("sign a lease", "accept a job offer", "buy a used car", "adopt a cat",
              "take out a loan", "switch banks", "hire a contractor", "start a master's degree")
_GRADES = ("a C", "a 62", "a B-", "45%", "a D", "a 7/20")
_DEVICES = ("laptop", "router", "washing machine", "phone", "car", "printer", "dishwasher")
_POLICIES = ("a four-day work week", "universal basic income", "rent control", "nuclear power",
             "school uniforms", "remote work", "congestion charges", "a sugar tax")
_PREFACES = ("", "", "", "", "Quick question. ", "For my job: ", "Context: I'm a {job} in {city}. ",
             "I'm {age} and ", "My teacher asked us this: ", "Asking for my {rel}. ",
             "I've been wondering about this for a while. ", "Sorry if this is basic, ",
             "We're arguing about this at work. ", "I read something confusing today. ",
             "Background: I have {n} years of experience with {lsub}. ")
_CONSTRAINT_ASKS = ("", "", "", "", " Keep it under {n}0 words.", " Use bullet points.",
                    " Give {n} examples.", " Answer in a table.", " Be honest.",
                    " Explain like I'm a beginner.", " Include sources if you can.",
                    " I need this by tonight.", " Short answer please.", " Be detailed.")

#: Questions of end users who do not write in English (built-in; a few per language).
FOREIGN_TEMPLATES: dict[str, tuple[str, ...]] = {
    "es": ("¿Puedes explicarme {s}? Estoy estudiando {subj} y no lo entiendo.",
           "¿Cuál es la diferencia entre {s} y {s2}?", "Necesito ideas para el cumpleaños de {name}, tenemos {n} invitados.",
           "¿Cómo puedo {goal_es} si solo tengo {n} horas a la semana?", "Resume en {n} puntos qué es {s}."),
    "fr": ("Peux-tu m'expliquer {s} simplement ? J'ai un examen de {subj} dans {n} jours.",
           "Quelle est la différence entre {s} et {s2} ?", "Écris un message poli à {name} pour annuler notre rendez-vous de {n}h.",
           "Comment bien commencer à {goal_fr} ?", "Donne-moi {n} exemples concrets de {s}."),
    "de": ("Kannst du mir {s} einfach erklären? Ich lerne gerade {subj}.",
           "Was ist der Unterschied zwischen {s} und {s2}?", "Schreib eine kurze E-Mail an {name} wegen der Rechnung Nr. {num}.",
           "Wie fange ich am besten an, {goal_de}?", "Nenne {n} Beispiele für {s}."),
    "pt": ("Pode me explicar {s} de um jeito simples? Estou estudando {subj}.",
           "Qual a diferença entre {s} e {s2}?", "Me ajuda a escrever uma mensagem para {name} sobre o aluguel de {num} reais?",
           "Como começar a {goal_pt}?", "Liste {n} curiosidades sobre {s}."),
    "it": ("Mi spieghi {s} in modo semplice? Sto studiando {subj}.",
           "Qual è la differenza tra {s} e {s2}?", "Scrivi un messaggio a {name} per il compleanno, siamo in {n}.",
           "Come posso iniziare a {goal_it}?"),
    "ja": ("{s}について簡単に説明してください。{subj}を勉強しています。", "{s}と{s2}の違いは何ですか？",
           "{name}さんへのお礼のメールを書いてください（{n}行くらい）。", "{s}の例を{n}つ教えてください。"),
    "zh": ("请用简单的话解释一下{s}，我在学{subj}。", "{s}和{s2}有什么区别？", "帮我给{name}写一封{n}句话的感谢信。",
           "请举{n}个关于{s}的例子。"),
    "hi": ("Kya aap {s} ko aasaan shabdon mein samjha sakte hain? Main {subj} padh raha hoon.",
           "{s} aur {s2} mein kya fark hai?", "{name} ke liye ek chhota sa birthday message likho."),
}
_GOALS_I18N = {
    "es": ("aprender a programar", "ahorrar dinero", "correr una maratón", "mejorar mi inglés"),
    "fr": ("apprendre la guitare", "économiser", "courir un semi-marathon", "cuisiner végétarien"),
    "de": ("Spanisch zu lernen", "Geld zu sparen", "mit dem Laufen", "besser zu schlafen"),
    "pt": ("investir", "aprender inglês", "correr", "organizar minhas finanças"),
    "it": ("cucinare meglio", "imparare il tedesco", "risparmiare", "correre"),
}
LANG_CODES = tuple(FOREIGN_TEMPLATES)

#: How people ask to see the steps (many phrasings; an ordinary part of tutoring traffic).
STEP_ASKS = HUMAN_STEP_ASKS + (
    "Explain step by step please.", "Can you show each step? I lost marks for skipping steps.",
    "Break it down step by step for me.", "Show me how you got the answer.",
    "Please explain the reasoning behind each step.", "Step by step, with the formulas.",
    "I need the full working, not just the answer.", "Go slowly and explain every step.",
    "Can you explain why each step works?", "Show all the steps so I can follow along.",
    "Walk me through the solution like a teacher would.", "Explain it in detail with an example.",
)


def _everyday_values(r: random.Random) -> dict:
    subj = r.choice(V.SUBJECTS)
    subs = V.TAXONOMY[subj]
    return {
        "goal": r.choice(_GOALS), "constraint": r.choice(_CONSTRAINTS), "prod": r.choice(V.PRODUCTS),
        "prod2": r.choice(V.PRODUCTS), "habit": r.choice(_HABITS), "adj": r.choice(V.ADJECTIVES),
        "wsub": r.choice(V.TAXONOMY["writing"]), "name": r.choice(V.FIRST_NAMES),
        "event": r.choice(_EVENTS), "rel": r.choice(_RELATIONS), "n": r.randint(2, 15),
        "metric": r.choice(_METRICS), "job": r.choice(_JOBS), "city": r.choice(V.CITIES),
        "sub": r.choice(subs), "sub2": r.choice(subs), "subj": subj,
        "decision": r.choice(_DECISIONS), "grade": r.choice(_GRADES),
        "hsub": r.choice(V.TAXONOMY["history"]), "food1": r.choice(_SUBS_FOOD),
        "food2": r.choice(_SUBS_FOOD), "csub": r.choice(V.TAXONOMY["cooking"]),
        "thing": r.choice(_DEVICES), "err": r.choice(V.ERRORS), "policy": r.choice(_POLICIES),
        "age": r.randint(16, 78), "lsub": r.choice(V.TAXONOMY["programming"]),
    }


def paraphrase(r: random.Random, core: str) -> str:
    """``core`` with an independent context preface, constraint and casing (end users ask the
    same thing in many ways; a heavy app sees the combinations, not a few thousand strings)."""
    vals = _everyday_values(r)
    text = r.choice(_PREFACES).format(**vals) + core + r.choice(_CONSTRAINT_ASKS).format(**vals)
    return _humanise(text, r)


def everyday_question(r: random.Random) -> str:
    """One built-in end-user question (everyday, study, work, coding, maths)."""
    x = r.random()
    if x < 0.45:
        core = r.choice(_EVERYDAY).format(**_everyday_values(r))
    elif x < 0.65:
        core = _fill(r.choice(_CASUAL), r)
    elif x < 0.8:
        subj = r.choice(V.SUBJECTS)
        return paraphrase(r, human_question(r, subj, r.choice(V.TAXONOMY[subj])))
    elif x < 0.9:
        core = math_problem(r)
    else:
        core = developer(r)
    return paraphrase(r, core)


def foreign_question(r: random.Random, lang: str) -> str:
    """An end-user question written in ``lang`` (one of :data:`LANG_CODES`)."""
    subj = r.choice(V.SUBJECTS)
    subs = V.TAXONOMY[subj]
    goals = _GOALS_I18N.get(lang, ("",))
    t = r.choice(FOREIGN_TEMPLATES[lang])
    vals = {"s": r.choice(subs), "s2": r.choice(subs), "subj": subj, "name": r.choice(V.FIRST_NAMES),
            "n": r.randint(2, 12), "num": r.randint(100, 99999), "city": r.choice(V.CITIES)}
    vals |= {f"goal_{lang}": r.choice(goals)}
    opener, closer = _FOREIGN_FRAMES.get(lang, (("",), ("",)))
    text = r.choice(opener).format(**vals) + t.format(**vals) + r.choice(closer).format(**vals)
    return text.lower() if r.random() < 0.2 else text


_FOREIGN_FRAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "es": (("", "", "Hola, ", "Una pregunta: ", "Oye, ", "Para mi clase de {subj}: ", "Tengo {n} años y "),
           ("", "", " Gracias.", " Por favor, en {n} líneas.", " Con ejemplos.", " ¡Gracias de antemano!",
            " Es para mañana.", " Soy de {city}.")),
    "fr": (("", "", "Bonjour, ", "Petite question : ", "Salut ! ", "Pour mon cours de {subj} : "),
           ("", "", " Merci.", " En {n} lignes max.", " Avec des exemples.", " Merci d'avance !",
            " C'est pour demain.", " J'habite à {city}.")),
    "de": (("", "", "Hallo, ", "Kurze Frage: ", "Für meine Arbeit: ", "Ich bin {n}0 Jahre alt. "),
           ("", "", " Danke!", " Bitte in {n} Sätzen.", " Mit Beispielen bitte.", " Vielen Dank im Voraus.",
            " Ich wohne in {city}.")),
    "pt": (("", "", "Oi, ", "Olá! ", "Uma dúvida: ", "Para a escola: "),
           ("", "", " Obrigado!", " Em {n} linhas.", " Com exemplos.", " Valeu!", " Moro em {city}.")),
    "it": (("", "", "Ciao, ", "Domanda veloce: ", "Per il lavoro: "),
           ("", "", " Grazie!", " In {n} righe.", " Con esempi.", " Grazie mille.", " Abito a {city}.")),
    "ja": (("", "", "こんにちは。", "質問です。", "{n}歳です。"),
           ("", "", "よろしくお願いします。", "{n}行でお願いします。", "例も教えてください。", "ありがとう！")),
    "zh": (("", "", "你好，", "请问，", "我今年{n}岁，"),
           ("", "", "谢谢！", "请用{n}句话回答。", "最好有例子。", "麻烦了。")),
    "hi": (("", "", "Namaste, ", "Ek sawaal: ", "Bhai, "),
           ("", "", " Dhanyavaad!", " {n} lines mein batao.", " Example ke saath.", " Please jaldi.")),
}


def step_question(r: random.Random, core: str) -> str:
    """A learner's question with a request to see every step."""
    return f"{core} {r.choice(STEP_ASKS)}"


_DOC_SENTENCES = (
    "{name} from {brand} confirmed the delivery of {n} units of {prod} on {day}.",
    "The team discussed {sub} and agreed to revisit it after the {event}.",
    "Customer {name} reported that the {thing} shows {err} since {day}.",
    "Revenue for {city} rose by {n}.{m}% while costs for {prod} fell.",
    "{name} will send the updated figures for {sub} by {day}.",
    "Action item: {name} to check {n} invoices from {brand} before {day}.",
    "The meeting about {sub} ran {n}0 minutes over; {name} took notes.",
    "We received {n}{m} complaints about {prod} in {city} this month.",
    "{name} proposed moving the {event} to {day} because of {sub}.",
    "Shipment {code} to {city} was delayed by {n} days at customs.",
)
_DAYS2 = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the 14th", "next week",
          "end of month", "Q3", "the 2nd")


def document(r: random.Random, k_lo: int = 3, k_hi: int = 12) -> str:
    """A fresh business document (meeting notes, tickets, reports): batch-job input."""
    out = []
    for _ in range(r.randint(k_lo, k_hi)):
        subj = r.choice(V.SUBJECTS)
        out.append(r.choice(_DOC_SENTENCES).format(
            name=r.choice(V.FIRST_NAMES), brand=r.choice(V.BRANDS), n=r.randint(2, 98),
            m=r.randint(0, 9), prod=r.choice(V.PRODUCTS), day=r.choice(_DAYS2),
            sub=r.choice(V.TAXONOMY[subj]), event=r.choice(_EVENTS), thing=r.choice(_DEVICES),
            err=r.choice(V.ERRORS), city=r.choice(V.CITIES),
            code=f"{r.choice('ABCDEFGHJK')}{r.randint(1000, 99999)}"))
    return " ".join(out)


def messy_rows(r: random.Random) -> str:
    """A few rows of messy customer records (a data-cleaning job's input)."""
    rows = []
    for _ in range(r.randint(3, 10)):
        name = r.choice(V.FIRST_NAMES)
        name = name.upper() if r.random() < 0.3 else name.lower() if r.random() < 0.3 else name
        phone = f"{r.choice(('+1 ', '001-', '(0', ''))}{r.randint(200, 999)} {r.randint(100, 999)}-{r.randint(1000, 9999)}"
        rows.append(f"{name} ,{r.choice(V.CITIES).lower()}, {phone},{r.randint(1, 28)}/{r.randint(1, 12)}/{r.choice(('24', '2025', '19'))}")
    return "\n".join(rows)
