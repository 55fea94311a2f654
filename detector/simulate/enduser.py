"""End users of heavy benign apps: diverse single-turn questions, several languages,
step-by-step asks, documents for batch jobs. Built so that a heavy app does not recycle a few
thousand prompts: a core question (built-in templates, or a corpus prompt) is combined with
an independent context preface, constraint and casing, and most carry fresh names/numbers.
"""

from __future__ import annotations

import random

from detector.simulate import vocab as V
from detector.simulate.prompts import (
    _CASUAL,
    _JOBS,
    _RELATIONS,
    _SUBS_FOOD,
    HUMAN_STEP_ASKS,
    _fill,
    _humanise,
    developer,
    human_question,
    math_problem,
)

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
