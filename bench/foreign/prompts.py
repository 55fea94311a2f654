"""Prompt sources for the foreign traffic generator.

Two kinds of text: real human prompts from ``/work/shared/data`` (optional: everything here
works without that folder, falling back to the generator's own banks) and the generator's own
compositional templates (domain sweeps, app templates, casual chat, multilingual chat).
All sampling goes through a caller-supplied ``random.Random`` so output is reproducible.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path("/work/shared/data")

# --------------------------------------------------------------------------------------------
# Real corpora


@dataclass
class Corpora:
    """Real prompts by source; each list holds plain prompt strings (first user turn)."""

    arena: list[str] = field(default_factory=list)  # arena-hard v0.1 + v2.0 (coding/math/writing)
    mtbench: list[list[str]] = field(default_factory=list)  # two-turn questions
    vicuna: list[str] = field(default_factory=list)
    hh: list[str] = field(default_factory=list)  # crowdworker openers (first human turn)
    gsm8k: list[str] = field(default_factory=list)
    self_instruct: list[str] = field(default_factory=list)  # instruction (+ input) strings

    @property
    def available(self) -> bool:
        """True when at least the chat corpora were found."""
        return bool(self.arena or self.vicuna or self.hh)


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _first_human_turn(text: str) -> str:
    m = re.search(r"Human:(.*?)(?:\n\nAssistant:|$)", text, re.S)
    return m.group(1).strip() if m else ""


def load_corpora(root: Path = DATA) -> Corpora:
    """Load every corpus that exists under ``root``; missing files give empty lists."""
    c = Corpora()
    for name in ("arena_hard_v0.1_question.jsonl", "arena_hard_v2.0_question.jsonl"):
        c.arena += [d["prompt"] for d in _jsonl(root / "benign" / name) if d.get("prompt")]
    c.mtbench = [d["turns"] for d in _jsonl(root / "benign/mt_bench_question.jsonl")]
    c.vicuna = [d["turns"][0] for d in _jsonl(root / "benign/vicuna_bench_question.jsonl")]
    hh = [_first_human_turn(d["chosen"]) for d in _jsonl(root / "benign/hh_rlhf_harmless_base_test.jsonl.gz")]
    c.hh = sorted({h for h in hh if 8 <= len(h) <= 600})
    c.gsm8k = [d["question"] for d in _jsonl(root / "instructions/gsm8k_test.jsonl")]
    si = _jsonl(root / "instructions/self_instruct_seed_tasks.jsonl")
    si += _jsonl(root / "instructions/self_instruct_user_oriented_instructions.jsonl")
    for d in si:
        inst = d.get("instruction", "")
        inp = (d.get("instances") or [{}])[0].get("input", "")
        c.self_instruct.append(f"{inst}\n\n{inp}".strip() if inp else inst)
    return c


# --------------------------------------------------------------------------------------------
# Domain sweep: the knowledge areas a harvester covers. Own banks, not from any corpus.

DOMAINS: dict[str, dict[str, list[str]]] = {
    "math": {
        "topics": ["modular arithmetic", "eigenvalues", "the binomial theorem", "Bayes' rule",
                   "geometric series", "the chain rule", "integration by parts", "group homomorphisms",
                   "Lagrange multipliers", "the pigeonhole principle", "Markov chains",
                   "complex roots of unity", "Fourier series", "graph colouring", "prime factorisation",
                   "linear recurrences", "conditional expectation", "the Cauchy-Schwarz inequality"],
        "tasks": ["Prove that {a}", "Solve: {p}", "Explain {t} with a worked example.",
                  "Derive the formula for {t} from first principles.",
                  "Give a rigorous proof involving {t} and check each step."],
    },
    "code": {
        "topics": ["a thread-safe LRU cache", "a trie with prefix search", "Dijkstra's algorithm",
                   "a rate limiter using a token bucket", "an interval tree", "a JSON parser",
                   "a union-find structure", "topological sort", "a bloom filter",
                   "a consistent hashing ring", "a B-tree insert", "a regex matcher",
                   "a lock-free queue", "merge sort on linked lists", "a sudoku solver"],
        "tasks": ["Implement {t} in {lang} and explain its complexity.",
                  "Write {t} in {lang}, with unit tests.",
                  "Find and fix the bugs in this {lang} implementation of {t}: {snippet}",
                  "Compare two ways to implement {t} in {lang}; which is faster and why?"],
    },
    "physics": {
        "topics": ["the photoelectric effect", "Lagrangian mechanics", "blackbody radiation",
                   "special relativity time dilation", "the Carnot cycle", "quantum tunnelling",
                   "Maxwell's equations", "angular momentum conservation", "superconductivity",
                   "the Doppler effect", "entropy in statistical mechanics", "projectile motion with drag"],
        "tasks": ["Explain {t} to a graduate student.", "Work through a numerical problem on {t}.",
                  "What are common misconceptions about {t}?", "Derive the key equation of {t}."],
    },
    "chemistry": {
        "topics": ["SN1 versus SN2 reactions", "buffer solutions", "Le Chatelier's principle",
                   "molecular orbital theory", "electrochemical cells", "chirality",
                   "reaction kinetics", "titration curves", "aromaticity", "crystal field theory"],
        "tasks": ["Explain {t} with examples.", "Solve a typical exam problem about {t}.",
                  "How would you teach {t}? Include a worked example."],
    },
    "biology": {
        "topics": ["CRISPR-Cas9", "the Krebs cycle", "meiosis", "antibiotic resistance",
                   "gene regulation in operons", "the immune response to viruses", "photosynthesis",
                   "population genetics", "protein folding", "neurotransmission"],
        "tasks": ["Describe {t} in detail.", "What experiments established our understanding of {t}?",
                  "Explain {t} and its clinical relevance."],
    },
    "medicine": {
        "topics": ["type 2 diabetes management", "atrial fibrillation", "sepsis", "asthma",
                   "hypertension guidelines", "chronic kidney disease", "migraine",
                   "drug interactions of warfarin", "pneumonia diagnosis", "thyroid disorders"],
        "tasks": ["Summarise the pathophysiology of {t}.", "Write a clinical vignette about {t} and answer it.",
                  "What is the differential diagnosis for a patient with {t}?",
                  "Explain first-line treatment of {t} and the evidence behind it."],
    },
    "law": {
        "topics": ["adverse possession", "the doctrine of consideration", "GDPR lawful bases",
                   "fair use in copyright", "negligence and duty of care", "non-compete clauses",
                   "the Fourth Amendment", "force majeure", "trademark dilution", "promissory estoppel"],
        "tasks": ["Explain {t} and its elements.", "Analyse this hypothetical under {t}: {case}",
                  "Compare how {t} is treated in the US and the EU."],
    },
    "finance": {
        "topics": ["discounted cash flow valuation", "the Black-Scholes model", "duration and convexity",
                   "the Modigliani-Miller theorem", "value at risk", "LBO modelling",
                   "working capital management", "options put-call parity", "the CAPM"],
        "tasks": ["Explain {t} with a numerical example.", "What are the limitations of {t}?",
                  "Walk through {t} for a company with revenue of ${n} million."],
    },
    "history": {
        "topics": ["the fall of the Western Roman Empire", "the Meiji Restoration", "the Congress of Vienna",
                   "the causes of World War I", "the Haitian Revolution", "the Silk Road",
                   "the Cuban Missile Crisis", "the printing press", "decolonisation in Africa"],
        "tasks": ["Analyse the causes and consequences of {t}.", "Write an essay on {t}.",
                  "What do historians disagree about regarding {t}?"],
    },
    "philosophy": {
        "topics": ["the trolley problem", "Kant's categorical imperative", "personal identity",
                   "the problem of induction", "free will and determinism", "utilitarianism",
                   "the Chinese room argument", "social contract theory"],
        "tasks": ["Present the strongest arguments for and against {t}.", "Explain {t} and critique it.",
                  "How would Hume respond to {t}?"],
    },
    "writing": {
        "topics": ["a lighthouse keeper", "a city that forgets at night", "a retired astronaut",
                   "two rival bakers", "a letter never sent", "the last day of summer",
                   "an AI that learns to paint", "a storm at sea"],
        "tasks": ["Write a short story about {t}.", "Write a sonnet about {t}.",
                  "Write the opening chapter of a novel about {t}.", "Write a screenplay scene about {t}."],
    },
    "economics": {
        "topics": ["comparative advantage", "inflation targeting", "the Phillips curve", "price elasticity",
                   "game theory in oligopolies", "externalities and Pigouvian taxes", "moral hazard"],
        "tasks": ["Explain {t} with a diagram described in words.", "Apply {t} to a current policy question.",
                  "Solve a textbook problem on {t}."],
    },
    "statistics": {
        "topics": ["p-values", "bootstrap confidence intervals", "logistic regression",
                   "the central limit theorem", "multiple testing corrections", "Bayesian hierarchical models",
                   "survival analysis", "instrumental variables"],
        "tasks": ["Explain {t} and when it fails.", "Work a numerical example of {t}.",
                  "Write {lang} code demonstrating {t}."],
    },
    "cs_theory": {
        "topics": ["NP-completeness of 3-SAT", "the halting problem", "amortised analysis",
                   "the CAP theorem", "Raft consensus", "Turing reductions", "the master theorem"],
        "tasks": ["Prove a key result about {t}.", "Explain {t} rigorously.", "Give an exam question on {t} and solve it."],
    },
}

LANGS = ["Python", "Rust", "Go", "C++", "Java", "TypeScript", "Haskell", "Kotlin"]
SNIPPETS = ["def f(xs):\n    for i in range(len(xs)):\n        if xs[i] > xs[i+1]: return i",
            "fn get(&mut self, k: u32) -> Option<&V> { self.map.get(&k) }",
            "for (int i = 0; i <= n; i++) sum += a[i];",
            "while lo < hi:\n    mid = (lo + hi) // 2\n    if a[mid] < x: lo = mid\n    else: hi = mid"]
CASES = ["A farmer fenced land belonging to his neighbour for 14 years without objection.",
         "An employee signs a two-year non-compete after starting work, with no raise.",
         "A website reuses 30 seconds of a song in a parody video.",
         "A contractor fails to deliver after a port strike closes shipping."]


def _fill(rng: random.Random, template: str, topic: str) -> str:
    a, b = rng.randint(2, 99), rng.randint(2, 999)
    return template.format(
        t=topic, lang=rng.choice(LANGS), snippet=rng.choice(SNIPPETS), case=rng.choice(CASES),
        n=rng.randint(5, 900), p=f"{a}x^2 - {b}x + {rng.randint(1, 50)} = 0 over the reals",
        a=f"the sum of the first {a} odd numbers equals {a}^2" if rng.random() < 0.5
        else f"{topic} holds for n = {a}",
    )


def domain_question(rng: random.Random, domain: str | None = None) -> tuple[str, str]:
    """One synthetic knowledge question; returns (domain, text). Unique enough for sweeps."""
    domain = domain or rng.choice(list(DOMAINS))
    spec = DOMAINS[domain]
    topic = rng.choice(spec["topics"])
    text = _fill(rng, rng.choice(spec["tasks"]), topic)
    # Vary surface details so the same (template, topic) is rarely repeated verbatim.
    audience = rng.choice(["", "", "", " I'm a high-school student.", " Aim it at an expert.",
                           " This is for an undergraduate course.", " Assume no background knowledge.",
                           " I'm preparing for an interview."])
    extra = rng.choice(["", "", f" Keep it under {rng.choice([200, 300, 500, 800])} words.",
                        " Include at least one concrete example.", " End with a short summary.",
                        " Use a table where it helps.", " Mention common mistakes.", " Be rigorous."])
    return domain, text + audience + extra


# --------------------------------------------------------------------------------------------
# Harvest wrappers: the templated envelopes distillers put around seed questions. Own text.

WRAPPERS = [
    "Answer the following question. Think through it step by step and show all of your reasoning "
    "before giving the final answer.\n\nQuestion: {q}",
    "You will be given a task. First write your complete chain of thought inside <thinking> tags, "
    "then give the final answer inside <answer> tags.\n\nTask: {q}",
    "### Instruction\n{q}\n\n### Requirements\n- Reason carefully, step by step\n- Explain every "
    "intermediate step\n- End with 'Final answer:'\n\n### Response",
    "Problem:\n{q}\n\nProvide a detailed, expert-level solution. Show your full reasoning process.",
    "[[SAMPLE {idx}]] {q}\nLet's work this out in a step by step way to be sure we have the right answer.",
    "Please respond as a world-class expert. {q}\nExplain your reasoning thoroughly, then summarise.",
]

HARVEST_SYSTEMS = [
    "You are a helpful, knowledgeable assistant. Always reason step by step before answering.",
    "You are an expert tutor. Provide complete, detailed explanations with all intermediate steps.",
    "You are a precise problem solver. Think carefully and show your full reasoning.",
    "",
]

SLOW_PHRASINGS = [
    "{q}", "Can you explain this to me step by step? {q}", "{q} Please walk me through your reasoning.",
    "I'm trying to understand something. {q}", "{q} Show your work.", "Quick question: {q}",
    "{q} Think it through carefully before answering.", "Help me with this: {q}",
]


def harvest_seed(rng: random.Random, c: Corpora, domains: list[str] | None = None) -> str:
    """A seed question for a distiller: mostly synthetic domain sweep, some real seeds."""
    r = rng.random()
    if domains is None and c.available and r < 0.35:
        pool = rng.choice([p for p in (c.gsm8k, c.self_instruct, c.arena) if p])
        return rng.choice(pool)
    return domain_question(rng, rng.choice(domains) if domains else None)[1]


def wrap(rng: random.Random, wrapper: str, q: str) -> str:
    """Put a seed question into a harvest wrapper."""
    return wrapper.format(q=q, idx=rng.randint(100000, 999999))


# --------------------------------------------------------------------------------------------
# Casual chat (own bank) and follow-ups

CASUAL = [
    "what's a good recipe for {food} that takes under 30 minutes?",
    "help me write an email to my {who} about {issue}",
    "can you summarize this for me: {para}",
    "give me 5 ideas for a {occasion} gift for my {who}",
    "how do i fix '{err}' in excel",
    "plan a 3 day trip to {city} on a budget",
    "is it normal that my {thing} makes a clicking noise?",
    "rewrite this to sound more professional: {para}",
    "what's the difference between {x} and {y}?",
    "explain {concept} like I'm 12",
    "write a birthday message for my {who} who loves {hobby}",
    "translate to {lang2}: {para}",
    "my cover letter for a {job} job, can you improve it? {para}",
    "what should I watch if I liked {show}?",
]
SLOTS = {
    "food": ["chickpeas", "salmon", "tofu", "leftover rice", "zucchini", "chicken thighs", "lentils"],
    "who": ["landlord", "boss", "sister", "coworker", "professor", "mom", "neighbour", "team"],
    "issue": ["a broken heater", "taking Friday off", "a late payment", "the noise at night",
              "my grade on the midterm", "the project deadline"],
    "para": ["The meeting got moved to thursday and nobody told the client so now we have to redo the deck.",
             "Our quarterly revenue grew 12% driven by subscriptions while hardware sales fell slightly.",
             "hey so i wont be able to make it tmrw, something came up with my car, sorry!!",
             "The study found that participants who slept less than six hours showed reduced attention."],
    "occasion": ["anniversary", "retirement", "graduation", "housewarming", "christmas"],
    "err": ["#VALUE!", "#REF!", "#N/A", "circular reference", "#SPILL!"],
    "city": ["Lisbon", "Kyoto", "Mexico City", "Prague", "Montreal", "Hanoi", "Edinburgh"],
    "thing": ["fridge", "laptop fan", "car door", "dishwasher", "bike chain"],
    "x": ["a Roth IRA", "baking soda", "TCP", "a virus", "weather", "an LLC"],
    "y": ["a traditional IRA", "baking powder", "UDP", "bacteria", "climate", "a sole proprietorship"],
    "concept": ["inflation", "black holes", "how vaccines work", "the stock market", "machine learning"],
    "hobby": ["gardening", "hiking", "jazz", "board games", "baking"],
    "lang2": ["Spanish", "French", "German", "Japanese"],
    "job": ["barista", "data analyst", "nurse", "marketing", "teaching assistant"],
    "show": ["Severance", "The Bear", "Dark", "Breaking Bad", "Arcane"],
}
FOLLOWUPS = ["can you make it shorter?", "thanks! and what about the second part?", "more casual please",
             "that's not quite right, try again", "why?", "give me another example", "ok perfect",
             "can you put that in a table?", "now in bullet points", "hmm, explain the last step",
             "what would you recommend?", "translate that into spanish"]

ASSISTANT_STUBS = ["Sure! Here's a version you can use:", "Great question. In short:",
                   "Here are a few options:", "Let me break this down.", "Of course. Here's a draft:"]


def casual(rng: random.Random) -> str:
    """A casual consumer request from the generator's own bank."""
    t = rng.choice(CASUAL)
    return re.sub(r"\{(\w+)\}", lambda m: rng.choice(SLOTS[m.group(1)]), t)


def consumer_opener(rng: random.Random, c: Corpora) -> str:
    """First message of a consumer chat session: real prompts mixed with the casual bank."""
    pools = [p for p in (c.vicuna, c.hh, c.arena) if p]
    if pools and rng.random() < 0.55:
        return rng.choice(rng.choice(pools))
    if c.mtbench and rng.random() < 0.1:
        return rng.choice(c.mtbench)[0]
    return casual(rng)


def homework(rng: random.Random, c: Corpora) -> str:
    """A student's homework question (university NAT archetype)."""
    if c.gsm8k and rng.random() < 0.35:
        return rng.choice(["", "can u explain step by step: ", "how do I solve this? "]) + rng.choice(c.gsm8k)
    if rng.random() < 0.5:
        d = rng.choice(["math", "physics", "chemistry", "biology", "economics", "statistics", "code"])
        return domain_question(rng, d)[1]
    return consumer_opener(rng, c)


# --------------------------------------------------------------------------------------------
# Multilingual chat (own bank)

MULTI = {
    "es": ["¿Cómo puedo mejorar mi currículum para un puesto de {x}?", "Explícame qué es {y} en pocas palabras.",
           "Escribe un correo a mi jefe pidiendo el viernes libre.", "¿Qué receta puedo hacer con arroz y pollo?",
           "Resume este texto: La reunión se pospuso hasta el jueves por la tarde."],
    "de": ["Wie schreibe ich eine Kündigung für meine Wohnung?", "Erkläre mir {y} einfach.",
           "Kannst du diesen Text auf Englisch übersetzen: Wir freuen uns auf Ihren Besuch.",
           "Was sind gute Ausflugsziele in der Nähe von München?", "Hilf mir bei einer Bewerbung als {x}."],
    "fr": ["Peux-tu m'aider à écrire une lettre de motivation pour un poste de {x} ?",
           "Explique-moi {y} simplement.", "Quelles sont les meilleures choses à voir à Lyon ?",
           "Corrige les fautes : je suis allé au magasin hier et j'ai acheter du pain."],
    "pt": ["Como faço para calcular juros compostos?", "Me explica o que é {y}.",
           "Escreva uma mensagem de aniversário para minha avó.", "Quais livros você recomenda sobre história do Brasil?"],
    "ja": ["{y}について簡単に説明してください。", "上司に休暇をお願いするメールを書いてください。",
           "京都で三日間の旅行プランを作ってください。", "この文章を英語に翻訳してください：明日は雨が降るでしょう。"],
    "zh": ["请用简单的话解释一下{y}。", "帮我写一封给房东的邮件，说暖气坏了。", "推荐几本关于中国历史的书。",
           "如何提高英语口语？"],
    "ko": ["{y}에 대해 쉽게 설명해 주세요.", "자기소개서를 더 좋게 고쳐 주세요.", "서울에서 가볼 만한 곳을 추천해 주세요."],
    "ru": ["Объясни простыми словами, что такое {y}.", "Помоги написать письмо арендодателю.",
           "Какие книги почитать по истории России?"],
    "hi": ["{y} को आसान भाषा में समझाइए।", "मेरे दोस्त के जन्मदिन के लिए एक संदेश लिखिए।"],
    "ar": ["اشرح لي {y} بطريقة بسيطة.", "اكتب رسالة إلى مديري أطلب فيها إجازة."],
    "it": ["Come posso migliorare il mio curriculum?", "Spiegami {y} in modo semplice.",
           "Scrivi una ricetta per la carbonara."],
    "tr": ["{y} nedir, basitçe anlatır mısın?", "Ev sahibime bir e-posta yazmama yardım et."],
}
MULTI_Y = ["inflation", "blockchain", "photosynthesis", "machine learning", "quantum computing", "GDPR"]
MULTI_X = ["data analyst", "enfermera", "Ingenieur", "designer", "comptable"]


def multilingual(rng: random.Random, lang: str) -> str:
    """A chat message in ``lang`` (ISO 639-1 code from MULTI)."""
    t = rng.choice(MULTI[lang])
    return t.replace("{y}", rng.choice(MULTI_Y)).replace("{x}", rng.choice(MULTI_X))


# --------------------------------------------------------------------------------------------
# Production app templates (one fixed template per app instance)

FIRST = ["Maria", "John", "Aisha", "Wei", "Carlos", "Priya", "Olga", "Tom", "Fatima", "Kenji", "Lena", "Sam"]
LAST = ["Garcia", "Smith", "Khan", "Chen", "Silva", "Patel", "Ivanova", "Brown", "Haddad", "Sato", "Novak"]
PRODUCTS = ["wireless earbuds", "standing desk", "yoga mat", "coffee grinder", "phone case", "backpack",
            "air fryer", "LED strip", "running shoes", "monitor arm"]
SUPPORT_Q = ["Where is my order #{o}? It was supposed to arrive {d}.", "I want to return the {p}, how do I do that?",
             "I was charged twice for order {o}", "How do I reset my password?", "Do you ship to {c}?",
             "The {p} stopped working after a week", "Can I change the delivery address for order {o}?",
             "Is the {p} back in stock?", "cancel my subscription please", "what's your refund policy"]


def support_message(rng: random.Random) -> str:
    """A customer-service message for the support-bot archetype."""
    t = rng.choice(SUPPORT_Q)
    return t.format(o=rng.randint(100000, 999999), d=rng.choice(["yesterday", "monday", "last week"]),
                    p=rng.choice(PRODUCTS), c=rng.choice(["Canada", "Norway", "Chile", "Japan"]))


def document(rng: random.Random, kind: str) -> str:
    """A synthetic business document (invoice, resume, email, transcript, review)."""
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    if kind == "invoice":
        lines = "\n".join(f"{rng.choice(PRODUCTS)} x{rng.randint(1, 9)} @ {rng.uniform(5, 400):.2f}"
                          for _ in range(rng.randint(2, 8)))
        return f"INVOICE #{rng.randint(1000, 99999)}\nBill to: {name}\nDate: 2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}\n{lines}\nTotal due in 30 days."
    if kind == "resume":
        return (f"{name}\n{rng.choice(['Software Engineer', 'Accountant', 'Nurse', 'Sales Manager'])}\n"
                f"Experience: {rng.randint(1, 20)} years at {rng.choice(['Acme', 'Globex', 'Initech'])}.\n"
                f"Skills: {', '.join(rng.sample(['SQL', 'Excel', 'Python', 'negotiation', 'ICU care', 'Java', 'audit'], 3))}")
    if kind == "review":
        return rng.choice([f"The {rng.choice(PRODUCTS)} broke after two days. Very disappointed.",
                           f"Love this {rng.choice(PRODUCTS)}! Works great and arrived early.",
                           f"It's an ok {rng.choice(PRODUCTS)}, nothing special for the price.",
                           f"Customer service was rude but the {rng.choice(PRODUCTS)} itself is fine."])
    # transcript / email
    turns = [f"{rng.choice(FIRST)}: {rng.choice(SLOTS['para'])}" for _ in range(rng.randint(4, 14))]
    return "\n".join(turns)
