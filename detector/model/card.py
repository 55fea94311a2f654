"""Model card rendering (the JSON card is the source of truth; Markdown is derived)."""

from __future__ import annotations


def card_markdown(card: dict) -> str:
    val = card.get("validation", {})
    thr = card.get("thresholds", {})
    lines = [
        f"# Model card: {card.get('version', '?')}",
        "",
        f"- created: {card.get('created', '?')}",
        f"- estimator: {card.get('estimator', '?')}",
        f"- training data: {card.get('training_data', {}).get('description', '?')}",
        f"- training data hash: `{card.get('training_data', {}).get('sha256', '?')}`",
        f"- rows: train {card.get('training_data', {}).get('train_rows', '?')}, "
        f"validation {card.get('training_data', {}).get('validation_rows', '?')}",
        "",
        "## Thresholds (chosen on validation benign account-days)",
        "",
        f"- review: score >= {thr.get('review', '?')} (target benign FPR {thr.get('review_target_fpr', '?')})",
        f"- block: score >= {thr.get('block', '?')} (target benign FPR {thr.get('block_target_fpr', '?')})",
        "",
        "## Validation metrics (account-days of held-out accounts)",
        "",
    ]
    for key in ("average_precision", "roc_auc", "brier", "ece", "recall_review", "recall_block",
                "fpr_review", "fpr_block"):
        if key in val:
            lines.append(f"- {key}: {val[key]:.4f}")
    lines += ["", "## Features", ""]
    lines += [f"- `{name}`" for name in card.get("features", [])]
    lines += ["", "## Library versions", ""]
    lines += [f"- {k}: {v}" for k, v in sorted(card.get("libraries", {}).items())]
    return "\n".join(lines) + "\n"
