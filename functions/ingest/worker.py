"""Ingest worker Lambda: SQS jobs → parse, chunk, embed, index (partial batch failures)."""

from __future__ import annotations

from typing import Any

from creator_chat import snapstart
from creator_chat.container import container_from_env
from creator_chat.observability import lambda_entry
from creator_chat.resources import DECLARATION
from creator_chat.usecases.ingest import process_job
from creator_chat.workers import SqsWorker

container = container_from_env()
container.build_clients_for(DECLARATION.function("ingest-worker"))
snapstart.register(
    container, DECLARATION.function("ingest-worker")
)  # refreshed after a SnapStart restore
_worker = SqsWorker(
    container,
    queue="ingest-jobs",
    # a job id is one version of a document; ``run`` tells a deliberate re-run of that
    # version (after a write it was overtaken by) from a duplicate delivery
    key="[job_id, run]",
    handle=lambda job, final: process_job(container, job, final_attempt=final),
    max_receive_count=DECLARATION.queue("ingest-jobs").max_receive_count,
)


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _worker(event, context)
