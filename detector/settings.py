"""One settings object for every command: home folder, engine, thresholds, hook endpoints,
cluster parameters (a ``pydantic_settings.BaseSettings``).

Precedence (highest first): explicit arguments (``Settings(...)``, ``load_settings(...)``),
environment variables ``DETECTOR_<NAME>``, ``<home>/detector.toml``, defaults below.
``DETECTOR_HOME`` names the home folder. Nested tables use ``__``: ``[clusters]`` in the TOML,
``DETECTOR_CLUSTERS__<FIELD>`` in the environment. Values that are lists or tables (``hooks``,
``clusters.windows``) are JSON in the environment; ``DETECTOR_SPARK_CONF`` is a JSON object.
Every invalid value is a :class:`ConfigError` naming the key, where it came from, what was
expected and the value (docs/configuration.md).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from detector.cluster_params import ClusterParams
from detector.errors import ConfigError

DEFAULT_HOME = "detector-home"
ENV_PREFIX = "DETECTOR_"
#: settings that must be above zero
POSITIVE = ("max_body_bytes", "max_id_chars", "max_lookup_ids", "http_max_header_bytes",
            "http_max_connections", "http_header_timeout_s", "http_body_timeout_s",
            "http_keep_alive_s", "returning_new_days", "returning_prefix_days",
            "returning_max_key_accounts", "returning_lookback_days")


@dataclass(frozen=True)
class HookEndpoint:
    """A webhook receiver: its URL, its own signing secret and the events it wants."""

    name: str
    url: str
    secret: str
    events: tuple[str, ...] = ("account.flagged", "account.blocked", "account.cleared", "cluster.detected")
    shadow: bool = False


class Settings(BaseSettings):
    """Every setting; ``Settings(home=..., threads=2)`` reads the environment and the home's TOML."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__",
                                      env_ignore_empty=True, extra="forbid", frozen=True)

    home: Path = Path(DEFAULT_HOME)
    engine: Literal["duckdb", "spark"] = "duckdb"
    # --- Spark (engine = "spark"; docs/scale.md) -----------------------------------------
    #: master URL: spark://host:7077, yarn, k8s://..., local[n]; "" = local[threads or *]
    spark_master: str = ""
    #: free-form Spark conf, (key, value) pairs: TOML table [spark_conf] or
    #: DETECTOR_SPARK_CONF as a JSON object; applied last (overrides the built-in defaults)
    spark_conf: Annotated[tuple[tuple[str, str], ...], NoDecode] = ()
    #: the lake as the cluster reads it (file:///shared/dg/lake, hdfs://..., s3a://...);
    #: "" = the home's lake folder; the driver lists files in its own lake folder
    spark_lake_uri: str = ""
    #: where connected components checkpoint their rounds on a cluster, a folder URI every
    #: executor and the driver reach (file:///shared/dg/ckpt, hdfs://..., s3a://...,
    #: dbfs:/...); "" = the home's state/spark-checkpoints (file://); unused for local[n]
    spark_checkpoint_dir: str = ""
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
    ingest_held_retention_days: int = 30       # state/ingest/held (raw lines awaiting partners)
    review_threshold: float | None = None
    block_threshold: float | None = None
    verdict_ttl_s: int = 3600
    #: a model block stays in force until an analyst clears it or this many days pass without
    #: a new block verdict (counted in verdict days); 0 = never expires (docs/hooks.md)
    block_expiry_days: int = 90
    dev_mode: bool = False
    hooks: tuple[HookEndpoint, ...] = ()
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
    #: parameters of the account graph and its clustering (``[clusters]``,
    #: ``DETECTOR_CLUSTERS__<FIELD>``; docs/clusters.md)
    clusters: ClusterParams = ClusterParams()

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(describe(exc, values)) from None
        except SettingsError as exc:
            raise ConfigError(_undecodable(exc)) from None

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        home = home_of(getattr(init_settings, "init_kwargs", {}))
        return init_settings, env_settings, TomlHome(settings_cls, home / "detector.toml")

    @field_validator(*POSITIVE)
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError(f"expected a positive number, got {value!r}")
        return value

    @field_validator("spark_checkpoint_dir")
    @classmethod
    def _uri(cls, value: str) -> str:
        if value and not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:/", value):
            raise ValueError("expected a folder URI with a scheme (file:///shared/dg/ckpt, "
                             f"hdfs://nn/dg/ckpt, s3a://bucket/dg/ckpt), got {value!r}")
        return value

    @field_validator("spark_conf", mode="before")
    @classmethod
    def _spark_conf(cls, raw: object) -> object:
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON object ({exc}), got {raw!r}") from None
        if isinstance(raw, dict):
            return tuple((str(k), str(v).lower() if isinstance(v, bool) else str(v))
                         for k, v in sorted(raw.items()))
        if isinstance(raw, list | tuple) and all(isinstance(p, list | tuple) for p in raw):
            return raw
        raise ValueError(f"expected a table of 'spark.key' = value, got {raw!r}")

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied and validated (the environment is not read again)."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        try:
            return type(self).model_validate({**values, **changes})
        except ValidationError as exc:
            raise ConfigError(describe(exc, changes)) from None

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


class TomlHome(PydanticBaseSettingsSource):
    """``<home>/detector.toml``: top-level keys are settings, ``[clusters]`` a nested table."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        self.path = path
        self.data = read_toml(path)
        if "home" in self.data:
            raise ConfigError(f"{path}: unknown setting 'home' (name the home with --home "
                              f"or {ENV_PREFIX}HOME)")

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file's tables ({} when it does not exist); invalid TOML is a ConfigError."""
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def home_of(values: dict[str, Any]) -> Path:
    """The home folder: the ``home`` argument, else ``$DETECTOR_HOME``, else the default."""
    return Path(values.get("home") or os.environ.get(ENV_PREFIX + "HOME") or DEFAULT_HOME)


def _source(loc: tuple, values: dict[str, Any]) -> str:
    """Where the value at ``loc`` came from: arguments, an environment variable or the TOML."""
    top = str(loc[0]) if loc else ""
    if values.get(top) is not None:
        return "arguments"
    names = [f"{ENV_PREFIX}{top.upper()}"]
    if len(loc) > 1:
        names.insert(0, f"{ENV_PREFIX}{top.upper()}__{str(loc[1]).upper()}")
    for name in names:
        if os.environ.get(name):
            return f"${name}"
    path = home_of(values) / "detector.toml"
    return str(path) if top in read_toml(path) else "defaults"


def _undecodable(exc: SettingsError) -> str:
    """An environment value that is not the JSON its setting needs: name it and its value."""
    match = re.search(r'field "(\w+)"', str(exc))
    field = match.group(1) if match else "?"
    prefix = f"{ENV_PREFIX}{field.upper()}"
    given = {k: v for k, v in os.environ.items()
             if v and (k.upper() == prefix or k.upper().startswith(prefix + "__"))}
    where = ", ".join(f"${k}" for k in sorted(given)) or "the environment"
    got = ", ".join(repr(given[k]) for k in sorted(given))
    return f"setting '{field}' from {where}: expected JSON (a list or table), got {got}"


def describe(exc: ValidationError, values: dict[str, Any]) -> str:
    """One line per invalid value: key, source, expectation, value (scikit-learn style)."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        where = _source(loc, values)
        if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            lines.append(f"{where}: unknown setting '{key}'")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        msg = msg.removeprefix(f"{loc[-1]}: ") if loc else msg
        if "got " not in msg:
            msg = f"{msg[:1].lower()}{msg[1:]}, got {err.get('input')!r}"
        lines.append(f"setting '{key}' from {where}: {msg}")
    return "; ".join(lines)


def load_settings(home: str | Path | None = None, **overrides: object) -> Settings:
    """Build the settings for ``home`` (or ``$DETECTOR_HOME``, or ``./detector-home``).

    ``overrides`` are explicit arguments; one given as ``None`` leaves the setting to the
    environment, the TOML or the default.
    """
    values = {k: v for k, v in overrides.items() if v is not None}
    if home:
        values["home"] = Path(home)
    settings = Settings(**values)
    settings.apply_file_mode()  # every command: what it creates in the home is owner-only
    return settings
