"""Cluster parameters from ``[clusters]`` and ``DETECTOR_CLUSTERS__<FIELD>``; the docs list
every setting; errors name key, source and value."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from detector.cluster_params import ClusterParams
from detector.errors import ConfigError
from detector.settings import Settings, load_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in [n for n in os.environ if n.startswith("DETECTOR_")]:
        monkeypatch.delenv(name)


def _other(value: object) -> object:
    """A valid value different from the default ``value``."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, tuple):
        return (*value, max(value) + 1)
    if isinstance(value, str):
        return "louvain" if value == "signed" else "signed"
    if isinstance(value, float):
        return value / 2
    return value + 1


FIELDS = [f.name for f in dataclasses.fields(ClusterParams)]


def test_there_are_51_cluster_parameters():
    assert len(FIELDS) == 51


@pytest.mark.parametrize("name", FIELDS)
def test_every_cluster_parameter_from_environment_and_toml(tmp_path, monkeypatch, name):
    value = _other(getattr(ClusterParams(), name))
    home = tmp_path / "h"
    home.mkdir()
    literal = json.dumps(list(value) if isinstance(value, tuple) else value)
    (home / "detector.toml").write_text(f"[clusters]\n{name} = {literal}\n")
    assert getattr(load_settings(home).clusters, name) == value
    (home / "detector.toml").unlink()
    monkeypatch.setenv(f"DETECTOR_CLUSTERS__{name.upper()}",
                       literal if not isinstance(value, str) else value)
    assert getattr(load_settings(home).clusters, name) == value


def test_toml_and_environment_merge_field_by_field(tmp_path, monkeypatch):
    (tmp_path / "detector.toml").write_text("[clusters]\nseed = 7\ntemplate_num_perm = 32\n")
    monkeypatch.setenv("DETECTOR_CLUSTERS__TEMPLATE_NUM_PERM", "128")
    p = load_settings(tmp_path).clusters
    assert (p.seed, p.template_num_perm, p.windows) == (7, 128, (1, 7))


def test_argument_replaces_the_parameters(tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTOR_CLUSTERS__SEED", "7")
    assert load_settings(tmp_path, clusters=ClusterParams(seed=3)).clusters.seed == 3


@pytest.mark.parametrize(("env", "words"), [
    ({"DETECTOR_CLUSTERS__TEMPLATE_THRESHOLD": "0"},
     ["clusters.template_threshold", "$DETECTOR_CLUSTERS__TEMPLATE_THRESHOLD", "(0, 1]", "0.0"]),
    ({"DETECTOR_CLUSTERS__WINDOWS": "weekly"},
     ["clusters", "$DETECTOR_CLUSTERS__WINDOWS", "JSON", "'weekly'"]),
    ({"DETECTOR_CLUSTERS__SWEEP_PARTITION": "kmeans"},
     ["clusters.sweep_partition", "'louvain' or 'signed'", "'kmeans'"]),
])
def test_cluster_errors_name_key_source_and_value(tmp_path, monkeypatch, env, words):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    for word in words:
        assert word in str(err.value)


def test_unknown_cluster_key_in_toml(tmp_path):
    (tmp_path / "detector.toml").write_text("[clusters]\ntemplate_perms = 3\n")
    with pytest.raises(ConfigError, match=r"detector.toml: unknown setting 'clusters.template_perms'"):
        load_settings(tmp_path)


def test_replace_validates_and_keeps_the_rest(tmp_path, monkeypatch):
    s = load_settings(tmp_path, threads=2)
    monkeypatch.setenv("DETECTOR_THREADS", "9")
    r = s.replace(dev_mode=True)
    assert (r.dev_mode, r.threads, s.dev_mode, r.home) == (True, 2, False, s.home)
    with pytest.raises(ConfigError, match=r"setting 'max_body_bytes' from arguments: expected a "
                                          r"positive number, got 0"):
        s.replace(max_body_bytes=0)


def test_settings_are_frozen_and_hashable(tmp_path):
    s = load_settings(tmp_path)
    with pytest.raises(ValueError):
        s.threads = 3  # type: ignore[misc]
    assert hash(s) == hash(load_settings(tmp_path))


def test_docs_name_every_setting():
    text = DOCS.read_text(encoding="utf-8")
    missing = [n for n in Settings.model_fields if n != "home" and f"`{n}`" not in text]
    assert missing == [], f"docs/configuration.md does not name {missing}"
