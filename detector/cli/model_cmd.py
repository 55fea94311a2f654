"""`detector model train|evaluate|list|activate`: the classifier's registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from detector.cli.common import fail, handle_errors, settings_from
from detector.lake.db import lake_dates

model_app = typer.Typer(help="Train, evaluate, list, diff and activate classifier versions.",
                        no_args_is_help=True)


def _days(settings, date: list[str] | None) -> list[str]:
    days = sorted(set(date)) if date else lake_dates(settings)
    if not days:
        fail("no ingested days with features: ingest logs and `detector run` first")
    return days


@model_app.command("train")
@handle_errors
def train(
    ctx: typer.Context,
    truth: Annotated[Path | None, typer.Option(help="truth.json of a simulation (generated labels).")] = None,
    date: Annotated[list[str] | None, typer.Option("--date", help="Days to train on (default: all).")] = None,
    activate: Annotated[bool, typer.Option(help="Make the new version active.")] = False,
    review_fpr: Annotated[float, typer.Option(help="Target benign FPR for review.")] = 0.01,
    block_fpr: Annotated[float, typer.Option(help="Target benign FPR for block.")] = 0.001,
) -> None:
    """Train on the home's features with generated truth and analyst labels (labels win)."""
    from detector.model.dataset import labelled_frame, read_truth
    from detector.model.registry import ModelRegistry
    from detector.model.train import train_model

    settings = settings_from(ctx)
    frame = labelled_frame(settings, _days(settings, date), read_truth(truth) if truth else None)
    if frame.empty or frame["is_distiller"].nunique() < 2:
        fail("training needs labelled account-days of both classes (give --truth, or record "
             "analyst decisions that confirm and clear accounts)")
    model, card = train_model(frame.drop(columns=["archetype"], errors="ignore"),
                              review_fpr=review_fpr, block_fpr=block_fpr,
                              description=f"home {settings.home}, truth {truth}, analyst labels")
    version = ModelRegistry(settings).save(model, card, activate=activate)
    typer.echo(json.dumps({"version": version, "active": activate, **card["validation"]},
                          default=str))


@model_app.command("evaluate")
@handle_errors
def evaluate(
    ctx: typer.Context,
    truth: Annotated[Path, typer.Option(help="truth.json with the labels to evaluate against.")],
    version: Annotated[str | None, typer.Option(help="Version (default: the active model).")] = None,
    date: Annotated[list[str] | None, typer.Option("--date")] = None,
) -> None:
    """Average precision, recall and benign FPR of a model version on labelled account-days."""
    import numpy as np
    from sklearn.metrics import average_precision_score

    from detector.model.dataset import labelled_frame, read_truth
    from detector.model.registry import ModelRegistry, load_active_model
    from detector.model.thresholds import rate_at

    settings = settings_from(ctx)
    model, card = (ModelRegistry(settings).load(version) if version
                   else load_active_model(settings))
    frame = labelled_frame(settings, _days(settings, date), read_truth(truth))
    y = frame["is_distiller"].to_numpy()
    p = model.predict_proba(frame)[:, 1]
    thr = card["thresholds"]
    out = {"version": card.get("version"), "rows": len(frame),
           "average_precision": float(average_precision_score(y, p)) if y.any() else None}
    for name in ("review", "block"):
        out[f"recall_{name}"] = rate_at(p[y == 1], thr[name])
        out[f"fpr_{name}"] = rate_at(p[y == 0], thr[name])
    out["positives"], out["negatives"] = int(y.sum()), int((1 - y).sum())
    typer.echo(json.dumps(out, default=lambda v: float(v) if isinstance(v, np.floating) else str(v)))


@model_app.command("list")
@handle_errors
def list_versions(ctx: typer.Context) -> None:
    """Versions in this home's registry (the packaged default scores when none is active)."""
    from detector.model.registry import ModelRegistry

    for row in ModelRegistry(settings_from(ctx)).list():
        mark = "*" if row["active"] else " "
        typer.echo(f"{mark} {row['version']}  created {row['created']}  AP {row['average_precision']}")


@model_app.command("activate")
@handle_errors
def activate_version(ctx: typer.Context, version: str) -> None:
    """Make VERSION the model that scores."""
    from detector.model.registry import ModelRegistry

    ModelRegistry(settings_from(ctx)).activate(version)
    typer.echo(f"active model: {version}")


@model_app.command("diff")
@handle_errors
def diff_version(
    ctx: typer.Context,
    candidate: Annotated[str, typer.Option("--candidate", help="Registry version to compare.")],
    days: Annotated[int, typer.Option("--days", min=1, help="Last N evaluated days.")] = 7,
    date: Annotated[list[str] | None, typer.Option(
        "--date", help="These evaluated days instead of the last N (repeatable).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="JSON file (default: <home>/reports/shadow/model-<version>-<day>.json).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole diff as JSON.")] = False,
) -> None:
    """Score the last days with CANDIDATE beside the active model (shadow, nothing written to
    verdicts): account-days newly flagged, cleared, escalated or de-escalated, by signal family."""
    from detector.decide.shadow import run_diff, shadow_days, summary_lines
    from detector.model.registry import ModelRegistry, load_active_model

    settings = settings_from(ctx)
    cand = ModelRegistry(settings).load(candidate)
    active_card = load_active_model(settings)[1]
    dates = shadow_days(settings, days, date)
    label = {"kind": "model", "active": active_card.get("version", "unknown"),
             "candidate": cand[1].get("version", candidate)}
    diff, path = run_diff(settings, dates, label, out, candidate_model=cand)
    if as_json:
        typer.echo(json.dumps(diff, default=str))
        return
    typer.echo(f"model diff: active {label['active']} -> candidate {label['candidate']}")
    for line in summary_lines(diff):
        typer.echo(line)
    typer.echo(f"diff written to {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
