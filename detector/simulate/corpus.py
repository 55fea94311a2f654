"""Real prompt corpora (``--corpus DIR``): which files feed which pool per split, and
:class:`PromptSource`, which mixes corpus prompts into the built-in generator's.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from detector.errors import InputError
from detector.simulate import enduser as U
from detector.simulate import prompts as P

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
        return self._pick(r, "chat") or P.casual(r)

    def instruction(self, r: random.Random, subject: str, subtopic: str) -> str:
        got = self._pick(r, "instructions")
        if got is not None:
            return ("Answer the following instruction in full detail, as an expert would.\n\n" + got)
        return P.harvest_generation(r, subject, subtopic)

    def math(self, r: random.Random) -> str:
        return self._pick(r, "math") or P.math_problem(r)

    def user_question(self, r: random.Random, lang: str | None = None) -> str:
        """An app's end-user question: a corpus chat prompt (paraphrased in context most of the
        time, so it does not repeat verbatim) or a built-in one; in ``lang`` when given."""
        if lang is not None and lang != "en":
            return U.foreign_question(r, lang)
        got = self._pick(r, "chat")
        if got is not None:
            return U.paraphrase(r, got) if r.random() < 0.7 else got
        return U.everyday_question(r)

    def bench(self, r: random.Random) -> str:
        texts = self.pools.get("bench")
        if texts and r.random() < max(self.corpus_share, 0.7):
            return r.choice(texts)
        return P.benchmark_question(r)
