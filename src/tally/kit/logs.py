"""Logging: structlog over the standard library, configured once per process by the CLI.

JSON lines (one object per line: timestamp, level, logger, event and fields) when stderr is not a terminal;
readable coloured lines on one. Records from the standard `logging` module (uvicorn, SQLAlchemy, our own
modules) go through the same renderer, so every line has a timestamp, and a request's lines carry its
`request_id` (bound in a context variable by the request middleware). Anything shaped like a tally API
token or webhook signing secret is masked before a line is written.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer

_SECRET = re.compile(r"\b(tly_|whsec_)[A-Za-z0-9_\-]{6,}")


def _mask(value: Any) -> Any:
    return _SECRET.sub(lambda m: m.group(1) + "***", value) if isinstance(value, str) else value


def redact_secrets(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    return {k: _mask(v) for k, v in event.items()}


def configure(level: str, *, json_lines: bool | None = None) -> None:
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer(colors=True)
    )
    tail: list[Any] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if json_lines:  # (the console renderer formats tracebacks itself)
        tail.append(ExceptionRenderer(ExceptionDictTransformer(show_locals=False)))  # no locals: secrets
    tail += [redact_secrets, renderer]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=tail))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for noisy in ("alembic", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING if level != "debug" else logging.DEBUG)


def get(name: str) -> Any:
    return structlog.stdlib.get_logger(name)
