"""The decision: model score + rule actions + cluster escalation + allow-list -> verdicts."""

from detector.decide.policy import DECISIONS, PolicyConfig, apply_policy

__all__ = ["DECISIONS", "PolicyConfig", "apply_policy", "score"]


def score(settings, dates: list[str]) -> dict[str, int]:
    """Score ``dates`` and write their verdicts (see ``detector.decide.scoring``)."""
    from detector.decide.scoring import score as _score

    return _score(settings, dates)
