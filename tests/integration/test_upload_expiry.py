"""An upload ticket's expiry job on both adapter families, with a clock the test moves: it
comes due only after the ticket's lifetime plus grace (an early delivery — SQS delays 15 min at
most — is re-queued), then ends the ticket ``failed`` and deletes what was uploaded, and it
never touches a ticket that was completed, renewed or deleted. The end-to-end runs (through
`creator-chat serve`, restart included) are in ``tests/e2e/test_upload_tickets.py``."""

# ruff: noqa: F811  (the contract suite's fixtures, imported to run on both families)
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import Creator, DocumentKind, DocumentStatus, Identity, Role, Tier
from creator_chat.errors import Conflict, NotFound
from creator_chat.ports import JobQueue
from creator_chat.usecases import ingest as uc

from tests.contracts.conftest import (  # noqa: F401  (fixtures)
    aws_settings,
    clock,
    family,
    stores,
    uid,
)

ADMIN = Identity("admin-x", Role.ADMIN, Tier.ENTERPRISE)


@pytest.fixture
def creator(stores: Container) -> str:
    creator_id = uid("cr_")
    stores.creators.create_creator(Creator(creator_id, creator_id[3:], "Expiry"))
    return creator_id


class RecordingQueue:
    """The family's ingest queue, keeping what was sent (delayed jobs cannot be received
    within a test): ``(body, delay_s)``."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self.sent: list[tuple[dict[str, Any], int]] = []

    def send(
        self, body: Mapping[str, Any], *, dedup_id: str | None = None, delay_s: int = 0
    ) -> str:
        self.sent.append((dict(body), delay_s))
        return self.queue.send(body, dedup_id=dedup_id, delay_s=delay_s)

    def ping(self) -> bool:
        return self.queue.ping()

    def expiries(self) -> list[tuple[dict[str, Any], int]]:
        found = [(b, d) for b, d in self.sent if b.get("kind") == uc.UPLOAD_EXPIRY]
        self.sent.clear()
        return found


@pytest.fixture
def sent(stores: Container) -> RecordingQueue:
    recorder = RecordingQueue(stores.ingest_queue)
    stores.__dict__["ingest_queue"] = recorder  # the container's cached property
    return recorder


def issue(stores: Container, creator: str, title: str = "Manual") -> uc.UploadTicket:
    return uc.request_upload(
        stores, ADMIN, creator, title=title, kind=DocumentKind.TEXT, size_bytes=50
    )


def expiry_of(sent: RecordingQueue, ticket: uc.UploadTicket, delay_s: int) -> dict[str, Any]:
    ((job, delay),) = sent.expiries()
    assert (job["ticket"], delay) == (ticket.document.job_id, delay_s)
    return job


def test_an_expired_ticket_ends_failed_and_its_upload_is_deleted(
    stores: Container, sent: RecordingQueue, creator: str, clock: FixedClock
):
    ticket = issue(stores, creator)
    job = expiry_of(sent, ticket, delay_s=900)
    doc_id = ticket.document.document_id
    stores.blobs.put(ticket.document.blob_key, b"uploaded but never completed")

    # delivered early (the ticket lives 900 s + 60 s of grace; SQS delays 900 s at most)
    clock.advance(900)
    assert uc.process_job(stores, job, final_attempt=False) == "rescheduled"
    again = expiry_of(sent, ticket, delay_s=60)
    assert again["job_id"] != job["job_id"]  # its own idempotency key
    assert stores.documents.get_document(creator, doc_id).status is DocumentStatus.QUEUED  # type: ignore[union-attr]

    clock.advance(60)
    assert uc.process_job(stores, again, final_attempt=False) == "expired"
    doc = stores.documents.get_document(creator, doc_id)
    assert doc is not None
    assert (doc.status, doc.failure_reason) == (DocumentStatus.FAILED, "upload not completed")
    with pytest.raises(NotFound):
        stores.blobs.get(ticket.document.blob_key)
    with pytest.raises(Conflict):
        uc.complete_upload(stores, ADMIN, creator, doc_id)
    assert uc.process_job(stores, again, final_attempt=False) == "superseded"  # a redelivery


def test_the_expiry_never_touches_a_completed_renewed_or_deleted_ticket(
    stores: Container, sent: RecordingQueue, creator: str, clock: FixedClock
):
    completed = issue(stores, creator, "Completed")
    stores.blobs.put(completed.document.blob_key, b"Fits in fifty bytes.")
    uc.complete_upload(stores, ADMIN, creator, completed.document.document_id)
    renewed = issue(stores, creator, "Renewed")
    issue(stores, creator, "Renewed")  # a second ticket for the same document
    deleted = issue(stores, creator, "Deleted")
    uc.delete_document(stores, ADMIN, creator, deleted.document.document_id)
    jobs = {j["ticket"]: j for j, _ in sent.expiries()}

    clock.advance(2000)
    outcomes = [
        uc.process_job(stores, jobs[t.document.job_id], final_attempt=False)
        for t in (completed, renewed, deleted)
    ]

    assert outcomes == ["superseded", "superseded", "deleted"]
    done = stores.documents.get_document(creator, completed.document.document_id)
    assert done is not None and done.status is DocumentStatus.QUEUED and done.job_id
    current = stores.documents.get_document(creator, renewed.document.document_id)
    assert current is not None and current.status is DocumentStatus.QUEUED
