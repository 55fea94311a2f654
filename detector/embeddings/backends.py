"""Embedding backends behind one small interface: texts in, L2-normalised float32 rows out.

Every backend has a ``name`` and a ``model_version`` that are stored beside each vector (the
cache is keyed by prompt hash + model key), and ``dim``, the vector length.

* ``minilm``: sentence-transformers all-MiniLM-L6-v2 (384 dims) from the bundled package; fp16 and
  large batches on CUDA; sentence-transformers sorts each call's texts by length before batching,
  so padding is small.
* ``static``: a model2vec model distilled from that MiniLM (mean of static token vectors;
  256 dims), encoded with a cached pure-Python word-piece tokenizer (see static_encoder.py).
* ``hashing``: signed feature hashing of word unigrams and bigrams (256 dims). Deterministic, no
  model at all: the unit-test backend and a documented last resort. It sees words, not meaning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from detector.embeddings.config import EmbeddingConfig, resolve_device
from detector.errors import ConfigError

log = logging.getLogger(__name__)


class EmbeddingBackend(Protocol):
    """Turns texts into L2-normalised vectors, one row per text (float32, shape (n, dim))."""

    name: str
    model_version: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero); float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    return x / norms


def model_key(backend: EmbeddingBackend) -> str:
    """The cache / artefact key of a backend: ``<name>|<model_version>``."""
    return f"{backend.name}|{backend.model_version}"


class HashingBackend:
    """Signed hashing of word 1- and 2-grams into ``dim`` buckets (sklearn's murmurhash3)."""

    name = "hashing"

    def __init__(self, dim: int = 256) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.dim = dim
        self.model_version = f"hashing-v1:d{dim}:words1-2:sklearn-murmur3"
        self._vec = HashingVectorizer(n_features=dim, ngram_range=(1, 2), alternate_sign=True,
                                      norm=None, lowercase=True, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(self._vec.transform(list(texts)).toarray())


class StaticBackend:
    """model2vec static embeddings distilled from MiniLM, encoded by :class:`StaticEncoder` (numpy)."""

    name = "static"

    def __init__(self, model_dir: Path, batch_size: int = 8192, max_tokens: int = 512) -> None:
        from detector.embeddings.static_encoder import ENCODER_VERSION, StaticEncoder

        self.model_dir = Path(model_dir)
        self._encoder = StaticEncoder(self.model_dir, max_tokens=max_tokens)
        self.dim = self._encoder.dim
        self.model_version = f"{self.model_dir.name}:{ENCODER_VERSION}:t{max_tokens}"
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._encoder.encode(texts[i:i + self.batch_size])
                 for i in range(0, len(texts), self.batch_size)]
        return l2_normalise(np.vstack(parts))


class MiniLMBackend:
    """sentence-transformers all-MiniLM-L6-v2, fp16 on CUDA, fp32 on CPU."""

    name = "minilm"

    def __init__(self, device: str, batch_size: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        from detector.embeddings.models import minilm_path, minilm_version

        self.device = device
        self._model = SentenceTransformer(str(minilm_path()), device=device)
        self.precision = "fp32"
        if device.startswith("cuda"):
            self._model.half()
            self.precision = "fp16"
        self.batch_size = batch_size or (1024 if device.startswith("cuda") else 64)
        getdim = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        self.dim = int(getdim() or 384)
        self.model_version = f"{minilm_version()}:{self.precision}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                 normalize_embeddings=False, show_progress_bar=False)
        return l2_normalise(out)


def _static_available() -> bool:
    try:
        import model2vec  # noqa: F401
    except ImportError:
        return False
    return True


def choose_backend_name(config: EmbeddingConfig, device: str) -> str:
    """``auto`` -> minilm on CUDA, else static (else hashing, with a warning, without model2vec)."""
    if config.backend != "auto":
        return config.backend
    if device.startswith("cuda"):
        return "minilm"
    if _static_available():
        return "static"
    log.warning("model2vec is not installed: falling back to the 'hashing' embedding backend; "
                "install 'distill-guard[cpu-static]' for the static MiniLM-distilled model")
    return "hashing"


def make_backend(config: EmbeddingConfig, home: Path, allow_distill: bool = True) -> EmbeddingBackend:
    """Build the backend ``config`` asks for (``home`` holds the distilled static model)."""
    from detector.embeddings.models import ensure_static_model

    device = resolve_device(config.device)
    name = choose_backend_name(config, device)
    if name == "hashing":
        return HashingBackend()
    if name == "static":
        folder = ensure_static_model(Path(home) / "embeddings" / "models", config.static_dims,
                                     allow_distill=allow_distill)
        return StaticBackend(folder, batch_size=config.batch_size or 8192)
    if name == "minilm":
        return MiniLMBackend(device, config.batch_size)
    raise ConfigError(f"setting 'embedding_backend': no backend for {name!r}")
