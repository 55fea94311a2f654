"""Corpus splits: training and evaluation prompts never mix."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from detector.errors import InputError
from detector.simulate import simulate
from detector.simulate.corpus import PromptSource, load_corpus

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture()
def tiny_corpus(tmp_path: Path) -> Path:
    _write(tmp_path / "benign/arena_hard_v0.1_question.jsonl", [{"prompt": "TRAIN chat"}])
    _write(tmp_path / "benign/mt_bench_question.jsonl", [{"turns": ["EVAL chat", "follow"]}])
    _write(tmp_path / "instructions/gsm8k_test.jsonl",
           [{"question": f"Q{i}", "answer": "1"} for i in range(4)])
    return tmp_path


def test_splits_are_disjoint(tiny_corpus):
    train, ev = load_corpus(tiny_corpus, "train"), load_corpus(tiny_corpus, "eval")
    assert train["chat"] == ["TRAIN chat"] and ev["chat"] == ["EVAL chat"]
    assert train["math"] == ["Q0", "Q1"] and ev["math"] == ["Q2", "Q3"]


def test_prompt_source_draws_from_corpus(tiny_corpus):
    src = PromptSource(load_corpus(tiny_corpus, "eval"), corpus_share=1.0)
    assert src.chat(random.Random(1)) == "EVAL chat"
    assert PromptSource({}, 1.0).chat(random.Random(1)) != "EVAL chat"


def test_bad_corpus_folder(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        load_corpus(tmp_path / "missing", "train")
    with pytest.raises(InputError, match="none of the expected"):
        load_corpus(tmp_path, "train")


def test_simulation_with_eval_corpus_never_uses_training_prompts(tiny_corpus, tmp_path, small_scenario):
    small_scenario.corpus_split, small_scenario.corpus_share = "eval", 0.5
    simulate(tmp_path / "out", 30, 1, 3, scenario=small_scenario, corpus=tiny_corpus)
    text = (tmp_path / "out" / "requests-2026-11-24.jsonl").read_text()
    assert "EVAL chat" in text and "TRAIN chat" not in text
    truth = json.loads((tmp_path / "out" / "truth.json").read_text())
    assert truth["corpus_split"] == "eval"


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared corpora not present")
def test_real_corpora_split_without_overlap():
    train, ev = load_corpus(SHARED, "train"), load_corpus(SHARED, "eval")
    for pool in ("chat", "instructions", "math"):
        assert train[pool] and ev[pool]
        assert not set(train[pool]) & set(ev[pool]), pool
