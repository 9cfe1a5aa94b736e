"""Export worker Lambda: builds a GDPR export job into its file (the ``exports`` bucket)."""

from __future__ import annotations

from typing import Any

from creator_chat import snapstart
from creator_chat.container import container_from_env
from creator_chat.observability import lambda_entry
from creator_chat.resources import DECLARATION
from creator_chat.usecases.exports import run_export_job
from creator_chat.workers import SqsWorker

container = container_from_env()
container.build_clients_for(DECLARATION.function("export-worker"))
snapstart.register(
    container, DECLARATION.function("export-worker")
)  # refreshed after a SnapStart restore
_worker = SqsWorker(
    container,
    queue="export-jobs",
    key="export_id",
    handle=lambda job, final: run_export_job(container, job, final_attempt=final),
    max_receive_count=DECLARATION.queue("export-jobs").max_receive_count,
)


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _worker(event, context)
