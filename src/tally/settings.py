"""Process settings: one pydantic-settings model, read once from the environment at the edge (CLI / app
factory). Every `TALLY_*` variable is declared and validated here; nowhere else parses the environment.

Nothing under money/, metering/ or rating/ may import this module.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

LogLevel = Literal["critical", "error", "warning", "info", "debug"]

_URL_FORM = "postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME or sqlite:///PATH"


class SettingsError(Exception):
    """A setting tally cannot use; `str()` is one line naming the setting and the expected form."""


class Settings(BaseSettings):
    """tally's configuration. Each field is read from `TALLY_<FIELD NAME>` (upper case); the
    docstrings below are the configuration reference (docs/operations.md is generated from them)."""

    model_config = SettingsConfigDict(
        env_prefix="TALLY_",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    data_dir: Path = Field(
        Path("./tally-data"),
        description="Directory for the embedded SQLite database (`tally.db`) and the generated server "
        "key (`secret.key`). Created if missing; must not be a file.",
    )
    database_url: str = Field(
        "",
        description="PostgreSQL database, as `postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME`. "
        "Unset: the embedded SQLite database in the data directory.",
    )
    test_clock: bool = Field(
        False,
        description="Enable the settable test clock (`POST /tally/v1/test-clock`); same as `--test-clock`. "
        "Never in production.",
    )
    log_level: LogLevel = Field(
        "info",
        description="Log level: critical, error, warning, info or debug; `--log-level` overrides it.",
    )
    events_url: str = Field(
        "",
        description="The metering event store: unset = the SQL database; "
        "`clickhouse://HOST:8123/DB[?cluster=NAME]` = a ClickHouse store (docs/scale-out.md).",
    )
    max_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Largest accepted request body, in bytes."
    )
    worker_interval_seconds: float = Field(
        5.0, gt=0, le=86400, description="Seconds between billing-worker passes."
    )
    webhooks_allow_private_urls: bool = Field(
        False,
        description="Allow webhook endpoints on loopback, private and link-local addresses (SEC-7). "
        "Off by default: a tenant could otherwise make tally call into your network.",
    )
    outbound_loopback_only: bool = Field(
        False,
        description="Confine every outbound connection (webhook deliveries) to loopback: anything else is "
        "refused before a DNS lookup and recorded on the delivery. For test suites and sealed staging "
        "hosts; the test suite runs every server with it.",
    )
    webhooks_timeout_seconds: float = Field(
        5.0, gt=0, le=300, description="Timeout of one webhook delivery attempt, in seconds."
    )
    webhooks_retention_days: int = Field(
        30,
        ge=1,
        description="Settled webhook events (every delivery delivered, failed or canceled) older than "
        "this many days are deleted.",
    )
    secret_key: str | None = Field(
        None,
        repr=False,
        description="Master key for secrets tally must use again (webhook signing secrets are derived "
        "from it). Unset: a random key kept in `<data_dir>/secret.key`. With several hosts, set it on "
        "every process. Never printed.",
    )

    metrics_token: str | None = Field(
        None,
        repr=False,
        description="Bearer token Prometheus must send to read `/metrics`. Unset: `/metrics` answers "
        "clients on loopback only (403 for others).",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("data_dir")
    @classmethod
    def _directory(cls, v: Path) -> Path:
        if v.exists() and not v.is_dir():
            raise ValueError("expected a directory, but it is a file")
        return v

    @field_validator("database_url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip()
        if not v:
            return v
        if v.startswith(("postgres://", "postgresql://")):
            # psycopg 3 is the only PostgreSQL driver we ship.
            v = "postgresql+psycopg://" + v.split("://", 1)[1]
        try:
            url = make_url(v)
        except ArgumentError:
            raise ValueError(f"expected {_URL_FORM}") from None
        if url.drivername not in ("postgresql+psycopg", "sqlite"):
            raise ValueError(f"expected {_URL_FORM}")
        if url.drivername.startswith("postgresql") and not url.database:
            raise ValueError(f"expected {_URL_FORM} (the database name is missing)")
        return v

    @model_validator(mode="after")
    def _sqlite_default(self) -> Settings:
        if not self.database_url:
            object.__setattr__(self, "database_url", sqlite_url(self.data_dir))
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'tally.db').resolve()}"


def load(**overrides: Any) -> Settings:
    """The settings from the environment; `overrides` (command-line options) win over it. Raises
    SettingsError naming the first bad setting."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise SettingsError(describe(exc, set(given))) from None


def describe(exc: ValidationError, from_options: Collection[str] = ()) -> str:
    """One line for the first error: the setting as the user wrote it, its value (never a secret) and
    the form expected."""
    err = exc.errors(include_url=False)[0]
    field = str(err["loc"][0]) if err.get("loc") else "?"
    name = f"--{field.replace('_', '-')}" if field in from_options else f"TALLY_{field.upper()}"
    return f"invalid setting {name}{_shown(field, err.get('input'))}: {_expected(field, err)}"


def _shown(field: str, value: object) -> str:
    if field in ("secret_key", "metrics_token") or not isinstance(value, str | Path | int | float):
        return ""
    if field == "database_url":
        try:
            return "=" + make_url(str(value).strip()).render_as_string(hide_password=True)
        except ArgumentError:
            return ""
    return f"={value}"


def _expected(field: str, err: Any) -> str:
    kind, ctx = err.get("type"), err.get("ctx") or {}
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return "expected a whole number"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return "expected a number"
    if kind in ("bool_parsing", "bool_type"):
        return "expected true or false (or 1/0, yes/no, on/off)"
    if kind == "greater_than_equal":
        return f"expected a number of at least {ctx.get('ge')}"
    if kind == "greater_than":
        return f"expected a number greater than {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"expected a number of at most {ctx.get('le')}"
    if kind == "literal_error":
        return "expected one of " + ", ".join(get_args(Settings.model_fields[field].annotation))
    return str(err.get("msg", "invalid value")).removeprefix("Value error, ")
