"""Process settings, read once from the environment at the edge (CLI / app factory).

Nothing under money/, metering/ or rating/ may import this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    test_clock: bool = False
    # The metering event store (usage.store): empty = the SQL database; clickhouse://host:8123/db[?cluster=C].
    events_url: str = ""
    max_body_bytes: int = 4 * 1024 * 1024
    # SEC-7: webhook URLs may point at loopback/private/link-local hosts only when a self-hoster opts in.
    webhooks_allow_private_urls: bool = False
    webhooks_timeout_seconds: float = 5.0
    # Settled webhook events (every delivery delivered, failed or canceled) older than this are deleted.
    webhooks_retention_days: int = 30
    # Master key for secrets tally must be able to use again (webhook signing secrets are derived from
    # it); unset = a random key kept in `<data_dir>/secret.key`. Never printed (repr=False).
    secret_key: str | None = field(default=None, repr=False)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'tally.db').resolve()}"


def load(*, test_clock: bool = False) -> Settings:
    data_dir = Path(os.environ.get("TALLY_DATA_DIR", "./tally-data"))
    url = os.environ.get("TALLY_DATABASE_URL", "").strip()
    if not url:
        url = sqlite_url(data_dir)
    elif url.startswith(("postgres://", "postgresql://")):
        # psycopg 3 is the only PostgreSQL driver we ship.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return Settings(
        data_dir=data_dir,
        database_url=url,
        test_clock=test_clock,
        webhooks_allow_private_urls=_flag("TALLY_WEBHOOKS_ALLOW_PRIVATE_URLS"),
        webhooks_timeout_seconds=float(os.environ.get("TALLY_WEBHOOKS_TIMEOUT_SECONDS", "5")),
        webhooks_retention_days=_positive_int("TALLY_WEBHOOKS_RETENTION_DAYS", 30),
        secret_key=os.environ.get("TALLY_SECRET_KEY") or None,
        events_url=os.environ.get("TALLY_EVENTS_URL", "").strip(),
    )


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdecimal() or int(raw) < 1:
        raise SystemExit(f"{name} must be a whole number of at least 1, not {raw!r}")
    return int(raw)
