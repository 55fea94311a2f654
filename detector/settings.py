"""One settings object for every command: home folder, engine, thresholds, hook endpoints.

Precedence (highest first): explicit arguments, environment variables ``DETECTOR_*``,
``<home>/detector.toml``, defaults below. ``DETECTOR_HOME`` names the home folder.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from detector.errors import ConfigError

DEFAULT_HOME = "detector-home"


@dataclass(frozen=True)
class HookEndpoint:
    """A webhook receiver: its URL, its own signing secret and the events it wants."""

    name: str
    url: str
    secret: str
    events: tuple[str, ...] = ("account.flagged", "account.blocked", "account.cleared", "cluster.detected")
    shadow: bool = False


@dataclass(frozen=True)
class Settings:
    home: Path = Path(DEFAULT_HOME)
    engine: str = "duckdb"
    # --- Spark (engine = "spark"; docs/scale.md) -----------------------------------------
    #: master URL: spark://host:7077, yarn, k8s://..., local[n]; "" = local[threads or *]
    spark_master: str = ""
    #: free-form Spark conf, (key, value) pairs: TOML table [spark_conf] or
    #: DETECTOR_SPARK_CONF as a JSON object; applied last (overrides the built-in defaults)
    spark_conf: tuple[tuple[str, str], ...] = ()
    #: the lake as the cluster reads it (file:///shared/dg/lake, hdfs://..., s3a://...);
    #: "" = the home's lake folder; the driver lists files in its own lake folder
    spark_lake_uri: str = ""
    embedding_backend: str = "auto"  # auto | static | minilm | hashing | off
    embedding_sample_k: int = 256
    threads: int = 0
    keep_prompt_text: bool = True
    retention_days: int = 0
    # --- retention per artefact (detector/privacy/retention.py, docs/security.md) ---------
    # days; 0 keeps forever; -1 follows retention_days
    features_retention_days: int = -1          # features/*, embeddings centroids/manifests
    embeddings_cache_retention_days: int = -1  # embedding cache rows (by creation time)
    clusters_retention_days: int = -1          # clusters/date=D (edges: IPs, payment fps)
    verdicts_retention_days: int = -1          # verdicts/date=D (at least block_expiry_days)
    cases_retention_days: int = 0              # case store: pseudonymise old, unblocked cases
    review_threshold: float | None = None
    block_threshold: float | None = None
    verdict_ttl_s: int = 3600
    #: a model block stays in force until an analyst clears it or this many days pass without
    #: a new block verdict (counted in verdict days); 0 = never expires (docs/hooks.md)
    block_expiry_days: int = 90
    dev_mode: bool = False
    hooks: tuple[HookEndpoint, ...] = field(default_factory=tuple)
    # --- webhook delivery worker (docs/hooks.md) -----------------------------------------
    hooks_worker: bool = True             # `serve` runs the delivery worker in a thread
    hooks_poll_s: float = 2.0             # the worker looks for new events at least this often
    hooks_max_attempts: int = 10          # attempts before a delivery is dead
    hooks_backoff_base_s: float = 30.0    # retry n waits d/2 + U(0, d/2), d = base * 2^(n-1)
    hooks_backoff_cap_s: float = 21600.0  # ... capped at this
    hooks_timeout_s: float = 15.0         # a receiver's answer must arrive in this
    inbox: Path | None = None
    # --- hardening (docs/security.md) ----------------------------------------------------
    max_body_bytes: int = 2_097_152       # request bodies over this answer 413
    max_id_chars: int = 1024              # account ids in routes (ingest accepts 1,024)
    max_lookup_ids: int = 1000            # ids in one POST /v1/verdicts/lookup
    http_header_timeout_s: float = 10.0   # `serve`: a request's headers must arrive in this
    http_body_timeout_s: float = 30.0     # each chunk of a request body must arrive in this
    http_keep_alive_s: float = 5.0        # idle keep-alive connections close after this
    http_max_header_bytes: int = 16_384   # request line + headers larger than this: 400
    http_max_connections: int = 1000     # concurrent connections + tasks (503 beyond)
    api_docs: bool = False                # serve /docs and /redoc (Swagger UI, ReDoc)
    #: the analyst service's public URL (``https://dg.example.com``); the daily report links
    #: account ids to ``<report_base_url>/accounts/<id>`` when set (docs/report.md)
    report_base_url: str = ""
    group_access: bool = False            # files 0660/dirs 0770 instead of 0600/0700
    session_ttl_s: int = 43_200           # a page login (session cookie) lasts this long
    claim_ttl_s: int = 14_400             # an analyst's claim on a case lasts this long
    #: Default ``detector ingest --account-key`` (the billing unit of sources that carry
    #: several: LiteLLM user/team/key/end_user, Bedrock arn/account); "" = each format's own.
    account_key: str = ""
    # --- returning actors (detector/decide/returning.py, docs/model.md) -------------------
    returning_new_days: int = 3           # an account first seen/created this recently is new
    returning_prefix_days: int = 7        # a /24 (/48) links within this many days of a block
    returning_max_key_accounts: int = 20  # a key held by more accounts that day is ignored
    returning_lookback_days: int = 90     # blocked accounts' keys are kept (hashed) this long

    # --- derived paths -------------------------------------------------------------------
    @property
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def requests_dir(self) -> Path:
        return self.lake / "requests"

    @property
    def quarantine_dir(self) -> Path:
        return self.lake / "quarantine"

    @property
    def features_dir(self) -> Path:
        return self.home / "features"

    @property
    def verdicts_dir(self) -> Path:
        return self.home / "verdicts"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def cases_db(self) -> Path:
        return self.state_dir / "cases.sqlite"

    @property
    def umask(self) -> int:
        """The process umask for files this home gets: owner only, or owner and group."""
        return 0o007 if self.group_access else 0o077

    def apply_file_mode(self) -> None:
        """Make new files and folders owner-only (0600/0700; 0660/0770 with group_access)."""
        os.umask(self.umask)

    def ensure_dirs(self) -> None:
        self.apply_file_mode()
        if not self.home.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            self.home.chmod(0o777 & ~self.umask)
        for p in (self.requests_dir, self.quarantine_dir, self.features_dir, self.verdicts_dir,
                  self.models_dir, self.reports_dir, self.state_dir):
            p.mkdir(parents=True, exist_ok=True)


_ENV_PREFIX = "DETECTOR_"
_SCALARS = {f.name: f for f in fields(Settings)
            if f.name not in ("home", "hooks", "inbox", "spark_conf")}


def _spark_conf_from(raw: object, source: str) -> tuple[tuple[str, str], ...]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"setting 'spark_conf' from {source}: not a JSON object ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"setting 'spark_conf' from {source}: expected a table of "
                          f"'spark.key' = value, got {raw!r}")
    return tuple((str(k), str(v).lower() if isinstance(v, bool) else str(v))
                 for k, v in sorted(raw.items()))


def _coerce(name: str, value: object, source: str) -> object:
    kind = type(getattr(Settings(), name)) if getattr(Settings(), name) is not None else float
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"setting '{name}' from {source}: expected {kind.__name__}, got {value!r}"
        ) from None


def _hooks_from(raw: object, source: str) -> tuple[HookEndpoint, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"setting 'hooks' from {source}: expected a list of tables, got {raw!r}")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not {"name", "url", "secret"} <= item.keys():
            raise ConfigError(f"setting 'hooks[{i}]' from {source}: needs name, url and secret")
        out.append(HookEndpoint(
            name=str(item["name"]), url=str(item["url"]), secret=str(item["secret"]),
            events=tuple(item.get("events", HookEndpoint.events)),
            shadow=bool(item.get("shadow", False)),
        ))
    return tuple(out)


def load_settings(home: str | Path | None = None, **overrides: object) -> Settings:
    """Build the settings for ``home`` (or ``$DETECTOR_HOME``, or ``./detector-home``)."""
    home_path = Path(home or os.environ.get(_ENV_PREFIX + "HOME") or DEFAULT_HOME)
    values: dict[str, object] = {"home": home_path}
    toml_path = home_path / "detector.toml"
    if toml_path.exists():
        try:
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{toml_path}: not valid TOML ({exc})") from None
        for key, raw in data.items():
            if key == "hooks":
                values["hooks"] = _hooks_from(raw, str(toml_path))
            elif key == "inbox":
                values["inbox"] = Path(raw)
            elif key == "spark_conf":
                values["spark_conf"] = _spark_conf_from(raw, str(toml_path))
            elif key in _SCALARS:
                values[key] = _coerce(key, raw, str(toml_path))
            else:
                raise ConfigError(f"{toml_path}: unknown setting '{key}'")
    for key in _SCALARS:
        env = os.environ.get(_ENV_PREFIX + key.upper())
        if env is not None and env != "":
            values[key] = _coerce(key, env, f"${_ENV_PREFIX}{key.upper()}")
    if os.environ.get(_ENV_PREFIX + "SPARK_CONF"):
        values["spark_conf"] = _spark_conf_from(os.environ[_ENV_PREFIX + "SPARK_CONF"],
                                                f"${_ENV_PREFIX}SPARK_CONF")
    if os.environ.get(_ENV_PREFIX + "INBOX"):
        values["inbox"] = Path(os.environ[_ENV_PREFIX + "INBOX"])
    for key, raw in overrides.items():
        if raw is not None:
            values[key] = raw
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.engine not in ("duckdb", "spark"):
        raise ConfigError(f"setting 'engine': expected 'duckdb' or 'spark', got {settings.engine!r}")
    for name in ("max_body_bytes", "max_id_chars", "max_lookup_ids", "http_max_header_bytes",
                 "http_max_connections", "http_header_timeout_s", "http_body_timeout_s",
                 "http_keep_alive_s", "returning_new_days", "returning_prefix_days",
                 "returning_max_key_accounts", "returning_lookback_days"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"setting '{name}': expected a positive number, "
                              f"got {getattr(settings, name)!r}")
    settings.apply_file_mode()  # every command: what it creates in the home is owner-only
    return settings
