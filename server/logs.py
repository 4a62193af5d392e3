"""Logging to console and a rotating file, with run id / version tags from context."""
from __future__ import annotations

import contextvars
import json
import logging
import logging.handlers
from pathlib import Path

from server.config import LoggingConfig

run_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("run_id", default=None)
version_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("version", default=None)
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s%(tags)s: %(message)s"


class ContextTags(logging.Filter):
    """Copy the current run id and version onto each record (used by both formats)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = getattr(record, "run_id", None) or run_id_var.get()
        record.version = getattr(record, "version", None) or version_var.get()
        record.request_id = getattr(record, "request_id", None) or request_id_var.get()
        tags = []
        if record.run_id is not None:
            tags.append(f"run={record.run_id}")
        if record.version:
            tags.append(f"version={record.version}")
        if record.request_id:
            tags.append(f"req={record.request_id}")
        record.tags = f" [{' '.join(tags)}]" if tags else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; only the fields worth searching."""

    def format(self, record: logging.LogRecord) -> str:
        body = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("run_id", "version", "request_id"):
            value = getattr(record, key, None)
            if value is not None:
                body[key] = value
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def setup_logging(config: LoggingConfig, *, file_name: str = "server.log") -> None:
    """Install console + rotating-file handlers on the root logger (idempotent)."""
    remove_handlers()
    root = logging.getLogger()
    formatter = JsonFormatter() if config.format == "json" else logging.Formatter(TEXT_FORMAT)
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if config.dir:
        log_dir = Path(config.dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(
            log_dir / file_name, maxBytes=5_000_000, backupCount=5, encoding="utf-8"))
    for handler in handlers:
        handler._congestion = True  # type: ignore[attr-defined]
        handler.setFormatter(formatter)
        handler.addFilter(ContextTags())
        root.addHandler(handler)
    root.setLevel(config.level)
    # aiohttp's access log is noisy at INFO for a dashboard that polls.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    for chatty in ("alembic", "matplotlib"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def remove_handlers() -> None:
    """Detach and close the handlers setup_logging installed."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_congestion", False):
            root.removeHandler(handler)
            handler.close()
