"""What ``creator-chat serve`` prints while it runs.

* **Access lines**, one per request, from the local gateway (``creator_chat.access``): the
  method, the path (never its query string; for the local upload and download routes, whose
  paths carry keys, their prefix), the status, the duration and the request id (the
  ``request_id`` of an error body); JSON lines add the route that answered (the declared
  template, e.g. ``/v1/{proxy+}``). Never a header, a token or a body.
* **Events** at info: start-up, ingest and worker jobs (finished, failed, retried), purges;
  warnings and errors always.

Two formats: ``text`` (the default, for a terminal) and ``json``, the Powertools JSON lines
the functions write to CloudWatch in AWS. ``quiet`` keeps warnings and errors only.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Literal

from aws_lambda_powertools.logging.formatter import RESERVED_LOG_ATTRS, LambdaPowertoolsFormatter

from creator_chat.observability import SERVICE, logger

__all__ = ["ACCESS_LOGGER", "LogFormat", "access_log", "configure", "log_request"]

LogFormat = Literal["text", "json"]
ACCESS_LOGGER = "creator_chat.access"

# Off until ``configure`` (the in-process runtime of tests and benchmarks prints nothing).
access_log = logging.getLogger(ACCESS_LOGGER)
access_log.propagate = False
access_log.setLevel(logging.WARNING)

# Keys Powertools adds (the Lambda context, the correlation id): useful in CloudWatch, noise
# on a terminal.
_CONTEXT_KEYS = frozenset(
    {
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "correlation_id",
        "xray_trace_id",
        "service",
        "sampling_rate",
    }
)


def _utc(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))


class TextFormatter(LambdaPowertoolsFormatter):
    """``2026-11-30T12:00:00Z  INFO  job finished queue=ingest-jobs outcome=done``.

    A Powertools formatter (the Logger appends its Lambda context keys through it), printed
    as one line for a person: the time in UTC, the level, the message, then the record's
    own keys.
    """

    def format(self, record: logging.LogRecord) -> str:
        extras = {
            k: v
            for k, v in record.__dict__.items()
            if k not in RESERVED_LOG_ATTRS and k not in _CONTEXT_KEYS and not k.startswith("_")
        }
        fields = "".join(f" {k}={_value(v)}" for k, v in extras.items())
        line = f"{_utc(record.created)}  {record.levelname:<7} {record.getMessage()}{fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _AccessText(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{_utc(record.created)}  {record.getMessage()}"


def _value(value: Any) -> str:
    text = str(value)
    return repr(text) if (not text or " " in text) else text


def configure(fmt: LogFormat = "text", *, quiet: bool = False, level: str | None = None) -> None:
    """Set up this process's output: the access lines (unless ``quiet``) and the events
    logger at ``level`` (default: info, or warning when ``quiet``) in ``fmt``."""
    logger.setLevel(level or ("WARNING" if quiet else "INFO"))
    handler = logger.registered_handler
    access = logging.StreamHandler(sys.stdout)
    if fmt == "text":
        handler.setFormatter(TextFormatter())
        access.setFormatter(_AccessText())
    else:
        access.setFormatter(LambdaPowertoolsFormatter(service=SERVICE))
    for old in list(access_log.handlers):
        access_log.removeHandler(old)
    access_log.addHandler(access)
    access_log.setLevel(logging.WARNING if quiet else logging.INFO)


def log_request(
    method: str, path: str, route: str, status: int, started: float, request_id: str
) -> None:
    """One access line (``started``: ``time.perf_counter()`` when the request arrived):
    ``path`` without its query string, ``route`` the declared route that answered (API
    Gateway's template, e.g. ``/v1/{proxy+}``, a file, a local route's prefix; ``-`` for
    none)."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    ms = round((time.perf_counter() - started) * 1000)
    access_log.info(
        f"{method} {path} {status} {ms} ms req={request_id}",
        extra={
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": ms,
            "request_id": request_id,
        },
    )
