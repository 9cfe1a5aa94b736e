"""Chat worker Lambda: answers queued questions within the LLM budget (its concurrency)."""

from __future__ import annotations

from typing import Any

from creator_chat import snapstart
from creator_chat.container import container_from_env
from creator_chat.observability import lambda_entry
from creator_chat.resources import DECLARATION
from creator_chat.usecases.chat import answer_queued
from creator_chat.workers import SqsWorker

container = container_from_env()
container.build_clients_for(DECLARATION.function("chat-worker"))
snapstart.register(
    container, DECLARATION.function("chat-worker")
)  # refreshed after a SnapStart restore
_worker = SqsWorker(
    container,
    queue="llm-jobs",
    key="message_id",
    handle=lambda job, final: answer_queued(container, job, final_attempt=final),
    max_receive_count=DECLARATION.queue("llm-jobs").max_receive_count,
)


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _worker(event, context)
