"""The static model's fast encoder on a tiny hand-built model: word pieces, unknowns, means."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from detector.embeddings.backends import StaticBackend
from detector.embeddings.static_encoder import StaticEncoder

VOCAB = ["[UNK]", "hello", "world", "##s", "play", "##ing", ",", "!", "cafe", "中", "_"]


@pytest.fixture
def model_dir(tmp_path):
    table = np.zeros((len(VOCAB), 4), dtype=np.float16)
    for i in range(len(VOCAB)):
        table[i, i % 4] = i  # row i = i * e_(i mod 4): easy to average by hand
    save_file({"embeddings": table}, str(tmp_path / "model.safetensors"))
    spec = {"normalizer": {"type": "BertNormalizer", "lowercase": True, "strip_accents": None},
            "model": {"type": "WordPiece", "vocab": {t: i for i, t in enumerate(VOCAB)},
                      "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": 100}}
    (tmp_path / "tokenizer.json").write_text(json.dumps(spec))
    return tmp_path


def test_word_pieces_punctuation_accents_and_unknowns(model_dir) -> None:
    enc = StaticEncoder(model_dir)
    v = {t: i for i, t in enumerate(VOCAB)}
    assert enc.token_ids("Hello, worlds!") == [v["hello"], v[","], v["world"], v["##s"], v["!"]]
    assert enc.token_ids("PLAYING  play") == [v["play"], v["##ing"], v["play"]]
    assert enc.token_ids("Café 中x") == [v["cafe"], v["中"]]          # accents stripped; 'x' unknown: dropped
    assert enc.token_ids("zzz hello_world") == [v["hello"], v["_"], v["world"]]
    assert enc.token_ids("") == []
    assert StaticEncoder(model_dir, max_tokens=2).token_ids("hello worlds hello") == [v["hello"], v["world"]]


def test_vector_is_the_mean_of_token_rows(model_dir) -> None:
    enc = StaticEncoder(model_dir)
    got = enc.encode(["hello world", "zzz", "play"])
    # hello = 1*e1, world = 2*e2 -> mean (0, 0.5, 1, 0); unknown-only text -> zeros; play = 4*e0
    np.testing.assert_allclose(got, [[0, 0.5, 1, 0], [0, 0, 0, 0], [4, 0, 0, 0]])
    backend = StaticBackend(model_dir)
    unit = backend.encode(["hello world"])
    np.testing.assert_allclose(unit[0], np.array([0, 0.5, 1, 0]) / np.sqrt(1.25), rtol=1e-6)
    assert backend.dim == 4 and backend.model_version.endswith(":dg-wordpiece-1:t512")


def test_rejects_a_non_wordpiece_tokenizer(model_dir) -> None:
    spec = json.loads((model_dir / "tokenizer.json").read_text())
    spec["model"]["type"] = "BPE"
    (model_dir / "tokenizer.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="expected a WordPiece model, got 'BPE'"):
        StaticEncoder(model_dir)
