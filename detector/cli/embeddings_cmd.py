"""`detector embeddings ...`: prepare the static model, compute coverage features, show state."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console

from detector.cli.common import fail, handle_errors, settings_from

err = Console(stderr=True)
emb_app = typer.Typer(help="Embedding coverage features (cov_*): models, cache, population model.",
                      no_args_is_help=True)


def _days(settings, date: list[str] | None, all_days: bool) -> list[str]:
    from detector.lake.db import lake_dates

    known = lake_dates(settings)
    if all_days:
        return known
    if not date:
        fail("embeddings compute: give --date YYYY-MM-DD (repeatable) or --all")
    missing = [d for d in date if d not in known]
    if missing:
        fail(f"--date {', '.join(missing)}: no ingested data for that day (ingested: {', '.join(known) or 'none'})")
    return sorted(set(date))


@emb_app.command("prepare")
@handle_errors
def prepare(
    ctx: typer.Context,
    backend: Annotated[str | None, typer.Option(help="auto | static | minilm | hashing.")] = None,
) -> None:
    """Build (once, offline) and load the embedding model, so `detector run` never waits for it."""
    from detector.embeddings.backends import make_backend
    from detector.embeddings.config import EmbeddingConfig

    settings = settings_from(ctx)
    cfg = EmbeddingConfig.from_settings(settings, backend=backend)
    if cfg.backend == "off":
        fail("embeddings prepare: embedding_backend is 'off'")
    err.print(f"preparing the '{cfg.backend}' embedding backend (a first static distillation takes a minute or two)")
    model = make_backend(cfg, settings.home)
    print(json.dumps({"backend": model.name, "model_version": model.model_version, "dim": model.dim}))


@emb_app.command("compute")
@handle_errors
def compute_cmd(
    ctx: typer.Context,
    date: Annotated[list[str] | None, typer.Option("--date", help="Day (YYYY-MM-DD); repeatable.")] = None,
    all_days: Annotated[bool, typer.Option("--all", help="Every ingested day.")] = False,
    backend: Annotated[str | None, typer.Option(help="auto | static | minilm | hashing.")] = None,
    refit: Annotated[bool, typer.Option(help="Refit the population model (codebook, reference) on the first day.")] = False,
) -> None:
    """Compute the coverage features and centroids for the given days; prints a JSON line per day."""
    from detector.embeddings.config import EmbeddingConfig
    from detector.embeddings.stage import run_days

    settings = settings_from(ctx)
    cfg = EmbeddingConfig.from_settings(settings, backend=backend)
    for result in run_days(settings, _days(settings, date, all_days), config=cfg, refit=refit):
        out = asdict(result)
        out["seconds"] = {k: round(v, 3) for k, v in out["seconds"].items()}
        print(json.dumps(out))


@emb_app.command("info")
@handle_errors
def info(ctx: typer.Context) -> None:
    """The configured backend and, per stored model, cache size and active population version."""
    from detector.embeddings.config import EmbeddingConfig
    from detector.embeddings.paths import embeddings_root

    settings = settings_from(ctx)
    cfg = EmbeddingConfig.from_settings(settings)
    root = embeddings_root(settings)
    caches = {}
    for folder in sorted((root / "cache").glob("model=*")):
        caches[folder.name.split("=", 1)[1]] = sum(1 for _ in folder.glob("part-*.parquet"))
    active = {p.name.removeprefix("ACTIVE-"): p.read_text().strip()
              for p in sorted((root / "population").glob("ACTIVE-*"))}
    print(json.dumps({"config": asdict(cfg), "cache_part_files": caches, "active_population": active}, indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(emb_app, name="embeddings")
