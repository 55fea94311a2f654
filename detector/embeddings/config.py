"""Parameters of the embedding-coverage stage, read from :class:`detector.settings.Settings`.

``Settings`` carries ``embedding_backend`` and ``embedding_sample_k``; every other knob has a
default here and is picked up from a ``Settings`` attribute named ``embedding_<field>`` when one
exists (so new settings can be added without touching this module).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from detector.errors import ConfigError
from detector.settings import Settings

BACKENDS = ("auto", "minilm", "static", "hashing", "off")


@dataclass(frozen=True)
class EmbeddingConfig:
    """What the coverage stage computes and how.

    backend: ``auto`` (MiniLM on CUDA when torch sees a device, else the static model), ``minilm``,
        ``static`` (model2vec distilled from MiniLM), ``hashing`` (last-resort bag of words) or
        ``off``.
    sample_k: at most this many distinct prompts per account-day are embedded (stratified in time).
    n_topics: size of the topic codebook (k of the mini-batch k-means).
    codebook_sample: at most this many population prompts fit the codebook and the topic mix.
    reference_size: size of the benign reference sample of the MMD test (prompts).
    reference_per_account: at most this many prompts per account enter the population sample, so
        one heavy account cannot dominate the reference.
    mmd_alpha: false-positive rate of ``cov_mmd_exceeds`` under the permutation null.
    mmd_permutations: random splits per sample size used to calibrate the MMD threshold.
    similar_threshold: cosine similarity at or above which two prompts count as a similar pair.
    max_chars: prompts are cut to this many characters before embedding (MiniLM reads 256
        tokens anyway; several-megabyte prompts must not cost more than that).
    batch_size: backend batch size; ``None`` picks one per backend and device.
    device: torch device for the statistics (and MiniLM); ``None`` = CUDA when available.
    static_dims: PCA dimensions of the distilled static model.
    seed: seed of every random choice (sampling tie-breaks, k-means, permutations).
    accounts_per_batch: a day with more active accounts is sampled, embedded and summarised in
        ``ceil(accounts / accounts_per_batch)`` account-hash buckets (two passes: embed and
        collect the population sample, then statistics), so the stage's memory is bounded by
        the bucket, not the day; the results are those of one pass.
    """

    backend: str = "auto"
    sample_k: int = 256
    n_topics: int = 64
    codebook_sample: int = 20_000
    reference_size: int = 512
    reference_per_account: int = 4
    mmd_alpha: float = 0.01
    mmd_permutations: int = 500
    similar_threshold: float = 0.9
    max_chars: int = 2000
    batch_size: int | None = None
    device: str | None = None
    static_dims: int = 256
    seed: int = 0
    accounts_per_batch: int = 20_000

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> EmbeddingConfig:
        """Defaults, then ``settings.embedding_<field>`` where present, then ``overrides``."""
        values: dict[str, object] = {}
        for f in fields(cls):
            attr = "embedding_" + f.name
            if f.name == "backend":
                attr = "embedding_backend"
            if hasattr(settings, attr):
                values[f.name] = getattr(settings, attr)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).validated()  # type: ignore[arg-type]

    def with_(self, **changes: object) -> EmbeddingConfig:
        return replace(self, **changes).validated()  # type: ignore[arg-type]

    def validated(self) -> EmbeddingConfig:
        """Raise ConfigError naming the parameter, what was expected and what was got."""
        if self.backend not in BACKENDS:
            _bad("embedding_backend", f"one of {', '.join(BACKENDS)}", self.backend)
        for name, low in (("sample_k", 2), ("n_topics", 2), ("codebook_sample", 16),
                          ("reference_size", 8), ("reference_per_account", 1),
                          ("mmd_permutations", 20), ("max_chars", 16), ("static_dims", 8),
                          ("accounts_per_batch", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                _bad(f"embedding_{name}", f"an integer >= {low}", value)
        if not 0.0 < self.mmd_alpha < 0.5:
            _bad("embedding_mmd_alpha", "a float in (0, 0.5)", self.mmd_alpha)
        if not 0.0 < self.similar_threshold <= 1.0:
            _bad("embedding_similar_threshold", "a float in (0, 1]", self.similar_threshold)
        if self.batch_size is not None and self.batch_size < 1:
            _bad("embedding_batch_size", "a positive integer or None", self.batch_size)
        return self


def _bad(name: str, expected: str, got: object) -> None:
    raise ConfigError(f"setting '{name}': expected {expected}, got {got!r}")


def resolve_device(device: str | None) -> str:
    """The torch device to use: ``device`` if given, else ``cuda`` when torch sees one, else cpu."""
    import torch

    if device:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"setting 'embedding_device': {device!r} requested but torch sees no CUDA device")
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"
