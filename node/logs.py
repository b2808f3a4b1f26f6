"""Structured logs: one JSON object per line on stderr (the relay's log file when detached).

Events carry fields, never message contents: no ciphertexts, tokens, nonces or signatures,
and request paths are logged as route templates (no query strings, where a token may be).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

LOGGER = "hongbao.relay"
# uvicorn logs each WebSocket handshake with its query string, where `?token=` may be: any
# log line, from any logger, has credentials in query strings blanked before it is written.
_SECRET_QUERY = re.compile(r"((?:token|nonce|signature)=)[^&\s\"']+", re.IGNORECASE)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": _SECRET_QUERY.sub(r"\1[redacted]", record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if fields:
            data.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            data["exc_type"] = record.exc_info[0].__name__
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def configure(level: str = "info", stream=None) -> None:
    """JSON on the root logger (uvicorn's loggers propagate to it)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # it would log query strings
    logging.getLogger("alembic").setLevel(max(root.level, logging.WARNING))


def get(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER}.{name}" if name else LOGGER)


def event(logger: logging.Logger, level: int, name: str, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={"fields": fields})
