from detector.decide.scoring import (
    MODEL_BLOCK_FLOOR,
    MODEL_BLOCK_MAX_END_USERS,
    MODEL_BLOCK_MIN_REQUESTS,
    MODEL_REVIEW_FLOOR,
    policy_config,
)
from detector.settings import load_settings


def test_card_thresholds_are_used_and_floored(tmp_path):
    settings = load_settings(tmp_path)
    cfg = policy_config(settings, {"thresholds": {"review": 0.2, "block": 0.4}})
    assert cfg.review_threshold == MODEL_REVIEW_FLOOR == 0.5
    assert cfg.block_threshold == MODEL_BLOCK_FLOOR
    assert cfg.model_block_min_requests == MODEL_BLOCK_MIN_REQUESTS
    assert cfg.model_block_max_end_users == MODEL_BLOCK_MAX_END_USERS
    cfg = policy_config(settings, {"thresholds": {"review": 0.6, "block": 0.95}})
    assert (cfg.review_threshold, cfg.block_threshold) == (0.6, 0.95)


def test_explicit_settings_override_the_card(tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTOR_BLOCK_THRESHOLD", "0.5")
    monkeypatch.setenv("DETECTOR_REVIEW_THRESHOLD", "0.1")
    cfg = policy_config(load_settings(tmp_path), {"thresholds": {"review": 0.3, "block": 0.95}})
    assert (cfg.review_threshold, cfg.block_threshold) == (0.1, 0.5)


def test_stage_entry_point_is_not_shadowed_by_a_submodule():
    import detector.decide as decide
    import detector.decide.scoring  # noqa: F401  (importing the module must not rebind decide.score)

    assert callable(decide.score) and not isinstance(decide.score, type(decide))
