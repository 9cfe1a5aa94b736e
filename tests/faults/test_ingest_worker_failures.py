"""Ingest worker failure modes, each ending with a ledger: every accepted document is
``done`` or ``failed`` with a reason, every job is deleted or in the DLQ, nothing ran twice.

The worker is the real plumbing (``SqsWorker``: Powertools BatchProcessor + idempotency on
the emulator's ``idempotency`` table) around the real ``process_job``, fed by a
``QueuePoller`` as Lambda's event source mapping would; faults come from a wrapped index
or blob store.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from botocore.exceptions import ClientError
from creator_chat.adapters.embedded.local_index import LocalVectorIndex
from creator_chat.container import Container
from creator_chat.domain.models import Chunk, Creator, Document, DocumentKind, DocumentStatus
from creator_chat.errors import DependencyUnavailable
from creator_chat.resources import DECLARATION
from creator_chat.usecases.ingest import (
    IngestDeps,
    TransientIngestError,
    process_job,
    submit_document,
)
from creator_chat.workers import SqsWorker

from tests.faults.conftest import (
    FakeEmbedder,
    RecordingHandler,
    admin,
    dlq_bodies,
    drain,
    make_poller,
    queue_depth,
)

QUEUE = DECLARATION.queue("ingest-jobs")
BATCH_SIZE = next(w.batch_size for w in DECLARATION.workers if w.queue == QUEUE.name)


class FaultyIndex(LocalVectorIndex):
    """The in-memory local index, except that writing a poisoned document always fails."""

    def __init__(self, poisoned: set[str] | None = None) -> None:
        super().__init__()
        self.poisoned = poisoned if poisoned is not None else set()
        self.writes: Counter[str] = Counter()

    def replace_document(
        self,
        creator_id: str,
        document_id: str,
        chunks: Sequence[Chunk],
        vectors: Any,
    ) -> None:
        self.writes[document_id] += 1
        if document_id in self.poisoned:
            raise DependencyUnavailable("OpenSearch bulk write failed: 429 Too Many Requests")
        super().replace_document(creator_id, document_id, chunks, vectors)


class CountingHandle:
    """The ingest worker's record handler, counting how often the use case really ran."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self.runs: Counter[str] = Counter()
        self.finals: dict[str, list[bool]] = {}

    def __call__(self, job: dict[str, Any], final_attempt: bool) -> str:
        self.runs[job["job_id"]] += 1
        self.finals.setdefault(job["job_id"], []).append(final_attempt)
        return process_job(self._container, job, final_attempt=final_attempt)


def ingest_worker(container: Container, handle: CountingHandle) -> RecordingHandler:
    """Built exactly as functions/ingest/worker.py builds it, around the counting handle."""
    return RecordingHandler(
        SqsWorker(
            container,
            queue=QUEUE.name,
            key="[job_id, run]",
            handle=handle,
            max_receive_count=QUEUE.max_receive_count,
        )
    )


def new_creator(container: Container) -> str:
    import uuid

    creator_id = f"cr_{uuid.uuid4().hex[:10]}"
    container.creators.create_creator(
        Creator(creator_id=creator_id, slug=creator_id.replace("_", "-"), name="Ingest Faults")
    )
    return creator_id


def submit(deps: IngestDeps, creator_id: str, n: int) -> Document:
    submitted = submit_document(
        deps,
        admin(),
        creator_id,
        title=f"Roasting note {n}",
        kind=DocumentKind.MARKDOWN,
        content=(
            f"# Roast {n}\n\nRoast batch {n} light for filter and darker for espresso. "
            "Rest the beans a week before brewing them."
        ).encode(),
    )
    assert submitted.created
    return submitted.document


def job_of(doc: Document) -> dict[str, str]:
    return {"job_id": doc.job_id, "creator_id": doc.creator_id, "document_id": doc.document_id}


def idempotency_records(container: Container) -> list[dict[str, Any]]:
    ddb = container.aws.client("dynamodb")
    table = container.settings.physical_name("table", "idempotency")
    return list(ddb.scan(TableName=table).get("Items", []))


# ------------------------------------------------------------------------------ tests
def test_crash_mid_batch_keeps_the_others_and_sends_the_failed_job_to_the_dlq(
    container: Container, sqs: Any, queue_urls: dict[str, str]
) -> None:
    index = FaultyIndex()
    container.overrides.update(embedder=FakeEmbedder(), index=index)
    deps = container
    creator_id = new_creator(container)
    docs = [submit(deps, creator_id, n) for n in range(5)]
    poison = docs[2]  # the third job sent: its record handler raises on every attempt
    index.poisoned.add(poison.document_id)
    handle = CountingHandle(container)
    worker = ingest_worker(container, handle)
    url, dlq_url = queue_urls[QUEUE.name], queue_urls[QUEUE.dlq_name]
    poller = make_poller(sqs, url, "ingest-worker", worker, batch_size=BATCH_SIZE)

    assert poller.poll_once() == 5  # the whole batch in one invocation
    first = worker.invocations[0]
    by_job = {json.loads(r["body"])["job_id"]: r["messageId"] for r in first.event["Records"]}
    assert set(by_job) == {d.job_id for d in docs}
    assert first.error is None, first.error
    assert first.failed_ids == [by_job[poison.job_id]]  # exactly the poisoned record
    assert queue_depth(sqs, url) == 1  # the 4 others were deleted at once

    drain(poller, sqs, url)

    # the poisoned job: received again and again, the last time as the final attempt ...
    assert worker.receive_counts("job_id", poison.job_id) == [1, 2, QUEUE.max_receive_count]
    assert handle.finals[poison.job_id] == [False, False, True]
    assert all(inv.failed_ids == [by_job[poison.job_id]] for inv in worker.invocations)
    # ... then moved to the DLQ by the redrive policy, the only job there
    assert [b["job_id"] for b in dlq_bodies(sqs, dlq_url)] == [poison.job_id]

    # ledger: 5 accepted = 4 done (each run once) + 1 failed with a reason; none in between
    states = {
        d.document_id: container.documents.get_document(creator_id, d.document_id) for d in docs
    }
    for doc in docs:
        got = states[doc.document_id]
        assert got is not None
        if doc is poison:
            assert got.status is DocumentStatus.FAILED
            assert got.failure_reason and "indexing failed" in got.failure_reason
            assert index.writes[doc.document_id] == QUEUE.max_receive_count
        else:
            assert got.status is DocumentStatus.DONE, got
            assert got.chunk_count > 0
            assert handle.runs[doc.job_id] == 1
            assert index.writes[doc.document_id] == 1
            assert index.count(creator_id, doc.document_id) == got.chunk_count
    assert Counter(s.status for s in states.values() if s) == {
        DocumentStatus.DONE: 4,
        DocumentStatus.FAILED: 1,
    }
    assert queue_depth(sqs, url) == 0


def test_duplicate_delivery_of_a_job_runs_the_use_case_once(
    container: Container, sqs: Any, queue_urls: dict[str, str]
) -> None:
    index = FaultyIndex()
    container.overrides.update(embedder=FakeEmbedder(), index=index)
    creator_id = new_creator(container)
    records_before = len(idempotency_records(container))
    doc = submit(container, creator_id, 1)
    url = queue_urls[QUEUE.name]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(job_of(doc)))  # at-least-once
    handle = CountingHandle(container)
    worker = ingest_worker(container, handle)
    poller = make_poller(sqs, url, "ingest-worker", worker, batch_size=BATCH_SIZE)

    drain(poller, sqs, url)
    # a late third copy, after the first run completed
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(job_of(doc)))
    drain(poller, sqs, url)

    assert len(worker.receive_counts("job_id", doc.job_id)) == 3  # three deliveries ...
    assert handle.runs[doc.job_id] == 1  # ... one run of the use case
    assert index.writes[doc.document_id] == 1
    assert all(inv.failed_ids == [] for inv in worker.invocations)  # every copy deleted
    assert dlq_bodies(sqs, queue_urls[QUEUE.dlq_name]) == []
    got = container.documents.get_document(creator_id, doc.document_id)
    assert got is not None and got.status is DocumentStatus.DONE
    completed = [r for r in idempotency_records(container) if r["status"]["S"] == "COMPLETED"]
    assert len(idempotency_records(container)) == records_before + 1
    assert completed


def test_indexing_that_keeps_failing_ends_failed_with_a_reason_on_the_final_attempt(
    container: Container,
) -> None:
    index = FaultyIndex()
    container.overrides.update(embedder=FakeEmbedder(), index=index)
    deps = container
    creator_id = new_creator(container)
    doc = submit(deps, creator_id, 7)
    index.poisoned.add(doc.document_id)

    for _attempt in range(QUEUE.max_receive_count - 1):
        with pytest.raises(TransientIngestError):
            process_job(deps, job_of(doc), final_attempt=False)
        mid = deps.documents.get_document(creator_id, doc.document_id)
        assert mid is not None and mid.status is DocumentStatus.PROCESSING  # will be retried

    with pytest.raises(TransientIngestError):  # still raised: the job goes on to the DLQ
        process_job(deps, job_of(doc), final_attempt=True)

    final = deps.documents.get_document(creator_id, doc.document_id)
    assert final is not None
    assert final.status is DocumentStatus.FAILED
    assert final.failure_reason and "indexing failed" in final.failure_reason
    assert "post it again" in final.failure_reason
    assert final.chunk_count == 0
    assert index.count(creator_id, doc.document_id) == 0


class FlakyBlobs:
    """The real blob store, whose reads fail as S3 does under load (503 SlowDown)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get(self, key: str) -> bytes:
        raise ClientError(
            {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}},
            "GetObject",
        )


def test_raw_content_unreadable_on_the_final_attempt_ends_failed_not_processing(
    container: Container,
) -> None:
    """S3 failing (not a missing key) on every attempt: the document must not stay
    ``processing`` after the job has gone to the DLQ."""
    container.overrides.update(embedder=FakeEmbedder(), index=FaultyIndex())
    deps = container
    creator_id = new_creator(container)
    doc = submit(deps, creator_id, 9)
    deps.blobs = FlakyBlobs(deps.blobs)  # the container builds it once; replace that one

    with pytest.raises(Exception):  # any type: SQS retries it, then the DLQ keeps it
        process_job(deps, job_of(doc), final_attempt=True)

    final = deps.documents.get_document(creator_id, doc.document_id)
    assert final is not None
    assert final.status is DocumentStatus.FAILED, (
        f"document left {final.status.value} after its final attempt: nothing will ever "
        "finish it (its job is in the DLQ)"
    )
    assert final.failure_reason
