"""Chain-of-thought elicitation classifier: hashing vectoriser + logistic regression, trained on
examples generated here (no external corpus), stored as a package artefact.

Grain: one probability per prompt. Rebuild the artefact with ``python -m detector.features.cot``.
"""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path

import joblib
import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from detector.lake.io import atomic_path

ARTEFACT = Path(__file__).parent / "artefacts" / "cot_classifier.joblib"
THRESHOLD = 0.5
SEED = 20240501

_TOPICS = [
    "what is 17 times 23", "why is the sky blue", "how do vaccines work",
    "a train leaves at 3pm going 60 mph; when does it arrive 150 miles away",
    "is 221 a prime number", "what causes inflation", "how does a hash map handle collisions",
    "solve 3x + 7 = 22", "which is larger, 2^10 or 10^3", "how many ways to arrange 5 books",
    "what is the derivative of x^3 sin x", "why did the roman empire fall",
    "how should I price a new coffee shop menu", "what is the capital of australia",
    "write a sql query for the top 5 customers by revenue", "prove that sqrt(2) is irrational",
    "convert 72 fahrenheit to celsius", "what does this python code print: print(3 // 2)",
    "a farmer has 12 sheep and all but 5 run away; how many are left",
    "summarise the causes of world war one", "how do I reverse a linked list",
    "estimate the number of piano tuners in chicago", "what is the probability of two sixes",
    "explain recursion", "translate 'good morning' into french", "what is photosynthesis",
]
_ELICIT = [
    "Think step by step.", "Let's think step by step.", "Show your reasoning before the answer.",
    "Explain your reasoning in detail, then give the final answer.",
    "Write out your full chain of thought.", "Reason through it carefully before answering.",
    "Show all intermediate steps.", "Put your reasoning inside <think> tags, then answer.",
    "Walk me through your thought process one step at a time.",
    "First explain how you arrive at the answer, step by step, then state it.",
    "Give a detailed derivation showing every step of your reasoning.",
    "Before you answer, lay out your thinking process in full.",
    "Describe each step of your reasoning and justify it.",
    "Output your internal reasoning trace, then the answer.",
    "Break the problem down and reason about each part explicitly.",
    "Provide a rationale for every step before concluding.",
]
_PLAIN = [
    "{t}", "{t}?", "Quick question: {t}", "Can you tell me {t}", "Answer briefly: {t}",
    "Just the answer please: {t}", "{t}. Keep it short.", "I was wondering, {t}",
    "Give me a one-line answer: {t}", "{t} Reply in one word if possible.",
    "Help me understand {t}", "ELI5: {t}", "{t}, thanks!", "Please answer: {t}",
]


def generated_examples(n: int = 4000, seed: int = SEED) -> tuple[list[str], np.ndarray]:
    """Balanced (texts, labels): 1 = asks for the model's reasoning trace, 0 = does not."""
    rng = random.Random(seed)
    texts: list[str] = []
    labels: list[int] = []
    for i in range(n):
        topic = rng.choice(_TOPICS)
        if i % 2:
            elicit = rng.choice(_ELICIT)
            text = f"{topic}. {elicit}" if rng.random() < 0.5 else f"{elicit} {topic}"
            if rng.random() < 0.3:
                text = text.lower()
            labels.append(1)
        else:
            text = rng.choice(_PLAIN).format(t=topic)
            labels.append(0)
        texts.append(text)
    return texts, np.array(labels)


def build() -> Pipeline:
    """Train the classifier on the generated examples (deterministic)."""
    texts, labels = generated_examples()
    pipe = Pipeline([
        ("vec", HashingVectorizer(n_features=2**16, ngram_range=(1, 2), alternate_sign=False,
                                  norm="l2", lowercase=True)),
        ("clf", LogisticRegression(C=4.0, max_iter=1000, random_state=0)),
    ])
    return pipe.fit(texts, labels)


def save(pipe: Pipeline, path: Path = ARTEFACT) -> None:
    with atomic_path(path) as tmp:
        joblib.dump(pipe, tmp)


@cache
def load(path: Path = ARTEFACT) -> Pipeline:
    """The packaged classifier; trained on the fly (same examples) if the artefact is missing."""
    if path.exists():
        return joblib.load(path)
    return build()


def scores(texts: list[str]) -> np.ndarray:
    """Probability that each prompt elicits a chain of thought (0-1)."""
    if not texts:
        return np.zeros(0)
    return load().predict_proba([t or "" for t in texts])[:, 1]


if __name__ == "__main__":
    save(build())
    print(f"wrote {ARTEFACT}")
