"""Chain-of-thought elicitation classifier: hashing vectoriser + logistic regression, trained on
examples generated here (no external corpus), stored as a package artefact.

Grain: one probability per prompt. Rebuild the artefact with ``python -m detector.features.cot``.
"""

from __future__ import annotations

import itertools
import random
import re
from functools import cache
from pathlib import Path

import joblib
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils import murmurhash3_32

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


def scores(texts: list[str | None]) -> np.ndarray:
    """Probability that each prompt elicits a chain of thought (0-1).

    Same values as ``load().predict_proba`` (to float rounding), computed in bulk: each distinct
    text is tokenised once, each distinct unigram / bigram is hashed once (see :func:`_fast`).
    """
    if not texts:
        return np.zeros(0)
    pipe = load()
    texts = [t or "" for t in texts]
    if not _fast_ok(pipe):
        return pipe.predict_proba(texts)[:, 1]
    index: dict[str, int] = {}
    inv = np.fromiter((index.setdefault(t, len(index)) for t in texts), dtype=np.int64, count=len(texts))
    return _fast(pipe, list(index))[inv]


_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_FAST_PARAMS = {"analyzer": "word", "lowercase": True, "preprocessor": None, "tokenizer": None,
                "strip_accents": None, "stop_words": None, "token_pattern": r"(?u)\b\w\w+\b",
                "ngram_range": (1, 2), "binary": False, "norm": "l2", "alternate_sign": False}


def _fast_ok(pipe: Pipeline) -> bool:
    """True when the pipeline is the hashing-vectoriser + logistic-regression shape _fast handles."""
    vec, clf = pipe.named_steps.get("vec"), pipe.named_steps.get("clf")
    if not isinstance(vec, HashingVectorizer) or not isinstance(clf, LogisticRegression):
        return False
    params = vec.get_params()
    return all(params.get(k) == v for k, v in _FAST_PARAMS.items()) and clf.coef_.shape[0] == 1


_HASHES: dict[str, int] = {}
_HASH_CACHE_MAX = 2_000_000


def _murmur(feature: str) -> int:
    h = _HASHES.get(feature)
    if h is None:
        if len(_HASHES) >= _HASH_CACHE_MAX:
            _HASHES.clear()
        h = _HASHES[feature] = murmurhash3_32(feature, 0)
    return h


def _hash_columns(features: list[str], n_features: int) -> np.ndarray:
    """sklearn FeatureHasher column of each feature string (murmurhash3 32-bit, seed 0); hashes
    are cached across calls (bounded), as the same words and bigrams recur across chunks/days."""
    h = np.fromiter((_murmur(f) for f in features), dtype=np.int64, count=len(features))
    return np.where(h == -(2**31), (2**31 - 1 - (n_features - 1)) % n_features, np.abs(h) % n_features)


def _tokenise(texts: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(row, token) for every token of each text, in text order: what the vectoriser's
    ``(?u)\\b\\w\\w+\\b`` finds in ``text.lower()``. Pure-ASCII texts are split in Arrow (where
    ``\\w`` is ``[0-9a-z_]`` after lower-casing, same as Python's); the others go through ``re``."""
    texts = pc.fill_null(texts, "")
    is_ascii = pc.string_is_ascii(texts).to_numpy(zero_copy_only=False)
    ascii_rows = np.flatnonzero(is_ascii)
    parts = pc.split_pattern_regex(pc.utf8_lower(texts.filter(pa.array(is_ascii))), "[^0-9a-z_]+")
    tokens = pc.list_flatten(parts)
    rows = ascii_rows[pc.list_parent_indices(parts).to_numpy()]
    keep = pc.greater_equal(pc.utf8_length(tokens), 2)
    rows, tokens = rows[keep.to_numpy(zero_copy_only=False)], tokens.filter(keep)
    other = np.flatnonzero(~is_ascii)
    if len(other):
        found = [_TOKEN.findall(t.lower()) for t in texts.take(pa.array(other)).to_pylist()]
        lens = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
        rows = np.concatenate([rows, np.repeat(other, lens)])
        tokens = pa.concat_arrays([tokens, pa.array(list(itertools.chain.from_iterable(found)), pa.string())])
        order = np.argsort(rows, kind="stable")
        rows, tokens = rows[order], tokens.take(pa.array(order))
    return rows.astype(np.int64), tokens


def _fast(pipe: Pipeline, texts: list[str]) -> np.ndarray:
    """P(CoT) of distinct ``texts``: unigram + bigram counts hashed, l2-normalised, logistic."""
    vec, clf = pipe.named_steps["vec"], pipe.named_steps["clf"]
    n_features = vec.n_features
    rows, tokens = _tokenise(pa.array(texts, pa.string()))
    if not len(tokens):
        return np.full(len(texts), 1.0 / (1.0 + np.exp(-clf.intercept_[0])))
    vocab = tokens.dictionary_encode()
    ids = vocab.indices.to_numpy().astype(np.int64)
    words = vocab.dictionary.to_pylist()
    cols = _hash_columns(words, n_features)[ids]
    nxt = np.flatnonzero(rows[1:] == rows[:-1]) if len(rows) else np.zeros(0, dtype=np.int64)
    pair = ids[nxt] * len(words) + ids[nxt + 1]
    upair, pinv = np.unique(pair, return_inverse=True)
    bigrams = [words[a] + " " + words[b] for a, b in zip(upair // len(words), upair % len(words), strict=True)]
    rows = np.concatenate([rows, rows[nxt]])
    cols = np.concatenate([cols, _hash_columns(bigrams, n_features)[pinv]])
    cell, counts = np.unique(rows * n_features + cols, return_counts=True)
    r, c = cell // n_features, cell % n_features
    coef = clf.coef_[0]
    dot = np.bincount(r, weights=counts * coef[c], minlength=len(texts))
    norm = np.sqrt(np.bincount(r, weights=counts.astype(float) ** 2, minlength=len(texts)))
    z = np.where(norm > 0, dot / np.where(norm > 0, norm, 1.0), 0.0) + clf.intercept_[0]
    return 1.0 / (1.0 + np.exp(-z))


if __name__ == "__main__":
    save(build())
    print(f"wrote {ARTEFACT}")
