"""SQS worker plumbing shared by the ingest and chat workers (Powertools).

Batch processing reports partial failures, so one bad record never makes Lambda retry the
records that succeeded. Idempotency is keyed on the business id (job id, message id) and
its persistence (DynamoDB in AWS, the embedded database locally) is built on first use,
not at import.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    IdempotencyConfig,
    idempotent_function,
)

from creator_chat.container import Container
from creator_chat.observability import logger

RecordHandler = Callable[[dict[str, Any], bool], Any]
# The ids a job event names (a job's other fields may carry user data: never logged).
JOB_IDS = ("job_id", "document_id", "creator_id", "message_id", "export_id", "kind")


def job_ids(job: Any) -> dict[str, str]:
    if not isinstance(job, dict):
        return {}
    return {k: str(job[k]) for k in JOB_IDS if isinstance(job.get(k), str | int)}


def receive_count(record: SQSRecord) -> int:
    return int(record.attributes.approximate_receive_count or "1")


class SqsWorker:
    """Runs ``handle(job, final_attempt)`` once per job id, for each record of a batch."""

    def __init__(
        self,
        container: Container,
        *,
        queue: str,
        key: str,
        handle: RecordHandler,
        max_receive_count: int,
    ) -> None:
        self._container = container
        self._key = key
        self._handle = handle
        self._max_receives = max_receive_count
        self._queue = queue
        self._idempotent: Callable[..., Any] | None = None
        self._config: IdempotencyConfig | None = None

    def _idempotent_handle(self) -> Callable[..., Any]:
        if self._idempotent is None:
            persistence = self._container.idempotency_persistence()
            config = IdempotencyConfig(
                event_key_jmespath=self._key,
                expires_after_seconds=24 * 3600,
                raise_on_no_idempotency_key=True,
            )
            handle = self._handle

            @idempotent_function(  # type: ignore[untyped-decorator]
                data_keyword_argument="job", persistence_store=persistence, config=config
            )
            def run(*, job: dict[str, Any], final_attempt: bool) -> Any:
                return handle(job, final_attempt)

            self._idempotent = run
            self._config = config
        return self._idempotent

    def _record(self, record: SQSRecord) -> Any:
        """One job; its outcome is an info event (``job done``, ``job failed``: the job's
        ids and the use case's outcome), a failure to be retried a warning."""
        job = json.loads(record.body)
        attempt = receive_count(record)
        final = attempt >= self._max_receives
        try:
            outcome = self._idempotent_handle()(job=job, final_attempt=final)
        except Exception as err:
            logger.warning(
                "job attempt failed" if not final else "job failed on its last attempt",
                extra={
                    "queue": self._queue,
                    "attempt": attempt,
                    "error": type(err).__name__,
                    **job_ids(job),
                },
            )
            raise
        result = outcome if isinstance(outcome, str) else "done"
        logger.info(
            "job failed" if result == "failed" else "job done",
            extra={"queue": self._queue, "outcome": result, **job_ids(job)},
        )
        return outcome

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self._idempotent_handle()
        if self._config is not None:
            # lets an in-progress record expire with the invocation, should it time out
            self._config.register_lambda_context(context)
        processor = BatchProcessor(event_type=EventType.SQS)
        return process_partial_response(  # type: ignore[return-value]
            event=event, record_handler=self._record, processor=processor, context=context
        )
