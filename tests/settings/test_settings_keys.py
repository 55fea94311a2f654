"""Every ``detector.toml`` key and ``DETECTOR_*`` environment variable keeps working.

The tables below were enumerated from the settings loader and ``docs/`` before it moved to
pydantic-settings; each name is loaded from TOML, from the environment and as an argument.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.errors import ConfigError
from detector.settings import HookEndpoint, load_settings

#: key -> (TOML literal, environment text, expected value). Each differs from the default.
SCALARS: dict[str, tuple[str, str, object]] = {
    "engine": ('"spark"', "spark", "spark"),
    "spark_master": ('"local[2]"', "local[2]", "local[2]"),
    "spark_lake_uri": ('"file:///x/lake"', "file:///x/lake", "file:///x/lake"),
    "spark_checkpoint_dir": ('"dbfs:/dg/ckpt"', "dbfs:/dg/ckpt", "dbfs:/dg/ckpt"),
    "embedding_backend": ('"hashing"', "hashing", "hashing"),
    "embedding_sample_k": ("32", "32", 32),
    "threads": ("3", "3", 3),
    "keep_prompt_text": ("false", "0", False),
    "retention_days": ("30", "30", 30),
    "features_retention_days": ("10", "10", 10),
    "embeddings_cache_retention_days": ("11", "11", 11),
    "clusters_retention_days": ("12", "12", 12),
    "verdicts_retention_days": ("13", "13", 13),
    "cases_retention_days": ("14", "14", 14),
    "ingest_held_retention_days": ("15", "15", 15),
    "review_threshold": ("0.4", "0.4", 0.4),
    "block_threshold": ("0.9", "0.9", 0.9),
    "verdict_ttl_s": ("60", "60", 60),
    "block_expiry_days": ("5", "5", 5),
    "dev_mode": ("true", "1", True),
    "hooks_worker": ("false", "off", False),
    "hooks_poll_s": ("0.5", "0.5", 0.5),
    "hooks_max_attempts": ("3", "3", 3),
    "hooks_backoff_base_s": ("1.5", "1.5", 1.5),
    "hooks_backoff_cap_s": ("60.0", "60", 60.0),
    "hooks_timeout_s": ("2.0", "2", 2.0),
    "max_body_bytes": ("1234", "1234", 1234),
    "max_id_chars": ("64", "64", 64),
    "max_lookup_ids": ("5", "5", 5),
    "http_header_timeout_s": ("2.5", "2.5", 2.5),
    "http_body_timeout_s": ("3.5", "3.5", 3.5),
    "http_keep_alive_s": ("1.0", "1", 1.0),
    "http_max_header_bytes": ("4096", "4096", 4096),
    "http_max_connections": ("10", "10", 10),
    "api_docs": ("true", "yes", True),
    "report_base_url": ('"https://dg.example.com"', "https://dg.example.com",
                        "https://dg.example.com"),
    "group_access": ("true", "true", True),
    "session_ttl_s": ("120", "120", 120),
    "claim_ttl_s": ("600", "600", 600),
    "account_key": ('"team"', "team", "team"),
    "returning_new_days": ("4", "4", 4),
    "returning_prefix_days": ("8", "8", 8),
    "returning_max_key_accounts": ("21", "21", 21),
    "returning_lookback_days": ("30", "30", 30),
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for name in [n for n in os.environ if n.startswith("DETECTOR_")]:
        monkeypatch.delenv(name)


def _toml(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "detector.toml").write_text(text, encoding="utf-8")
    return home


@pytest.mark.parametrize("key", sorted(SCALARS))
def test_key_from_toml(tmp_path, key):
    literal, _, expected = SCALARS[key]
    s = load_settings(_toml(tmp_path / "h", f"{key} = {literal}\n"))
    assert getattr(s, key) == expected


@pytest.mark.parametrize("key", sorted(SCALARS))
def test_key_from_environment_beats_toml(tmp_path, monkeypatch, key):
    _, text, expected = SCALARS[key]
    home = tmp_path / "h"
    home.mkdir()
    monkeypatch.setenv(f"DETECTOR_{key.upper()}", text)
    assert getattr(load_settings(home), key) == expected


@pytest.mark.parametrize("key", sorted(SCALARS))
def test_argument_beats_environment(tmp_path, monkeypatch, key):
    _, text, expected = SCALARS[key]
    monkeypatch.setenv(f"DETECTOR_{key.upper()}", text)
    default = getattr(load_settings(tmp_path / "d", **{key: None}), key)
    assert default == expected  # a None argument leaves the environment's value
    monkeypatch.delenv(f"DETECTOR_{key.upper()}")
    assert getattr(load_settings(tmp_path / "d"), key) != expected  # the default differs
    monkeypatch.setenv(f"DETECTOR_{key.upper()}", text)
    assert getattr(load_settings(tmp_path / "d", **{key: default}), key) == default


def test_empty_environment_value_is_ignored(tmp_path, monkeypatch):
    home = _toml(tmp_path / "h", "threads = 3\n")
    monkeypatch.setenv("DETECTOR_THREADS", "")
    assert load_settings(home).threads == 3


def test_home_from_argument_and_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTOR_HOME", str(tmp_path / "env-home"))
    assert load_settings().home == tmp_path / "env-home"
    assert load_settings(tmp_path / "arg").home == tmp_path / "arg"
    _toml(tmp_path / "env-home", "threads = 5\n")
    assert load_settings().threads == 5  # the toml of the environment's home is read
    monkeypatch.delenv("DETECTOR_HOME")
    assert load_settings().home == Path("detector-home")


def test_inbox_from_toml_and_environment(tmp_path, monkeypatch):
    home = _toml(tmp_path / "h", 'inbox = "/srv/inbox"\n')
    assert load_settings(home).inbox == Path("/srv/inbox")
    monkeypatch.setenv("DETECTOR_INBOX", "/srv/other")
    assert load_settings(home).inbox == Path("/srv/other")


def test_spark_conf_from_toml_and_environment(tmp_path, monkeypatch):
    home = _toml(tmp_path / "h", '[spark_conf]\n"spark.a" = "4g"\n"spark.b" = true\n')
    assert load_settings(home).spark_conf == (("spark.a", "4g"), ("spark.b", "true"))
    monkeypatch.setenv("DETECTOR_SPARK_CONF", '{"spark.c": 2}')
    assert load_settings(home).spark_conf == (("spark.c", "2"),)


def test_hooks_from_toml(tmp_path):
    home = _toml(tmp_path / "h", '[[hooks]]\nname = "siem"\nurl = "https://x/y"\nsecret = "s1"\n'
                                 '[[hooks]]\nname = "b"\nurl = "https://b"\nsecret = "s2"\n'
                                 'events = ["account.blocked"]\nshadow = true\n')
    hooks = load_settings(home).hooks
    assert hooks == (HookEndpoint("siem", "https://x/y", "s1"),
                     HookEndpoint("b", "https://b", "s2", ("account.blocked",), True))
    assert hooks[0].events == HookEndpoint.events


@pytest.mark.parametrize(("text", "words"), [
    ("nonsense = 1\n", ["nonsense"]),
    ("threads = \"many\"\n", ["threads", "many"]),
    ('engine = "oracle"\n', ["engine", "oracle"]),
    ("max_body_bytes = 0\n", ["max_body_bytes", "0"]),
    ("[[hooks]]\nname = \"a\"\n", ["hooks"]),
    ("threads = [\n", ["not valid TOML"]),
])
def test_bad_toml_names_key_and_value(tmp_path, text, words):
    with pytest.raises(ConfigError) as err:
        load_settings(_toml(tmp_path / "h", text))
    for word in words:
        assert word in str(err.value)


def test_bad_environment_names_variable_and_value(tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTOR_HOOKS_MAX_ATTEMPTS", "lots")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    assert "hooks_max_attempts" in str(err.value) and "'lots'" in str(err.value)
    assert "DETECTOR_HOOKS_MAX_ATTEMPTS" in str(err.value)
