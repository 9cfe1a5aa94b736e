"""Deep health: each dependency probed cheaply, with its status and latency."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from creator_chat.container import Container


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    latency_ms: float
    detail: str = ""


def _probe(name: str, check: Callable[[], object]) -> Probe:
    start = time.perf_counter()
    try:
        result = check()
        ok, detail = (result is not False), ""
    except Exception as err:  # a health check reports faults, it does not raise them
        ok, detail = False, type(err).__name__
    return Probe(name, ok, round((time.perf_counter() - start) * 1000, 2), detail)


def deep_health(c: Container) -> list[Probe]:
    """Tables, queues and uploads are named by the family that serves them: the embedded
    database and the data dir locally, DynamoDB, SQS and S3 in AWS."""
    tables, queues, blobs = (
        ("database", "queues", "uploads") if c.embedded else ("dynamodb", "sqs", "s3")
    )
    return [
        _probe(tables, lambda: c.creators.get_creator("__health__")),
        _probe(queues, lambda: c.llm_queue.ping() and c.ingest_queue.ping()),
        _probe(blobs, c.blobs.ping),
        _probe("cache", c.cache.ping),
        _probe("vector_index", lambda: c.index.count("__health__")),
    ]
