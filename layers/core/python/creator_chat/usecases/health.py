"""Deep health: each dependency probed cheaply, with its status and latency."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from creator_chat.container import Container
from creator_chat.observability import logger


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    latency_ms: float
    detail: str = ""


DETAIL_MAX_CHARS = 300
# ``scheme://user:password@host``: the credentials of a URL in an error message
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s@]+@")


def describe(err: BaseException) -> str:
    """``Type: message`` of a failed check, for operators: bounded, and without the
    credentials a URL in the message may carry."""
    message = str(err)
    return _safe(f"{type(err).__name__}: {message}" if message.strip() else type(err).__name__)


def _safe(text: str) -> str:
    text = _URL_CREDENTIALS.sub("***@", " ".join(text.split()))
    return text if len(text) <= DETAIL_MAX_CHARS else text[: DETAIL_MAX_CHARS - 1] + "…"


def _probe(
    name: str, check: Callable[[], object], *, why_false: Callable[[], str] | None = None
) -> Probe:
    """``check`` fails by raising (the detail is the error) or by answering ``False`` (the
    detail is ``why_false()``, e.g. the error a cache swallowed, else a generic reason)."""
    start = time.perf_counter()
    try:
        result = check()
        ok, detail = (result is not False), ""
        if not ok:
            detail = _safe(why_false() if why_false else "") or f"{name} did not answer"
    except Exception as err:  # a health check reports faults, it does not raise them
        ok, detail = False, describe(err)
    return Probe(name, ok, round((time.perf_counter() - start) * 1000, 2), detail)


DEPLOYED_ENVS = ("dev", "staging", "prod")


def deep_health(c: Container) -> list[Probe]:
    """Tables, queues and uploads are named by the family that serves them: the embedded
    database and the data dir locally, DynamoDB, SQS and S3 in AWS.

    ``/health/deep`` answers anyone: deployed, a failure's detail is its error type only
    (a message may name internal hosts); the message is in the function's log."""
    tables, queues, blobs = (
        ("database", "queues", "uploads") if c.embedded else ("dynamodb", "sqs", "s3")
    )
    probes = [
        _probe(tables, lambda: c.creators.get_creator("__health__")),
        _probe(queues, lambda: c.llm_queue.ping() and c.ingest_queue.ping()),
        _probe(blobs, c.blobs.ping),
        _probe("cache", c.cache.ping, why_false=lambda: str(getattr(c.cache, "last_error", ""))),
        _probe("vector_index", lambda: c.index.count("__health__")),
    ]
    if c.settings.env not in DEPLOYED_ENVS:
        return probes
    for probe in probes:
        if probe.detail:
            logger.warning(
                "health check failed", extra={"dependency": probe.name, "detail": probe.detail}
            )
    return [
        Probe(p.name, p.ok, p.latency_ms, p.detail.split(":", 1)[0] if p.detail else "")
        for p in probes
    ]
