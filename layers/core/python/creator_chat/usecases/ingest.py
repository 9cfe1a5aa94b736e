"""Ingest: accept a creator's content, then parse → chunk → embed → index it in a worker.

A document's identity is (creator, source URL or title): posting the same content again
is a no-op, posting changed content under the same identity replaces the old chunks.
Every accepted document ends ``done`` or ``failed`` with a reason.

Tags (``Document.tags``, copied onto every chunk) are part of what a post says: the same
content posted with other tags is indexed again with the new tags (its chunks carry them, so
a ``tags`` filter sees them); posted without ``tags`` at all, a document keeps the tags it
has (``[]`` clears them).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from creator_chat.content.chunking import chunk_document
from creator_chat.content.parsers import parse
from creator_chat.domain.models import (
    AuditEntry,
    Document,
    DocumentKind,
    DocumentStatus,
    Identity,
    SearchFilters,
    SearchHit,
    clean_tags,
)
from creator_chat.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from creator_chat.ids import content_hash, random_id
from creator_chat.observability import count, logger
from creator_chat.ports import (
    MAX_DELAY_S,
    AuditLog,
    BlobStore,
    Clock,
    CreatorStore,
    DocumentStore,
    Embedder,
    JobQueue,
    VectorIndex,
)
from creator_chat.retrieval import passes_gate, query_terms
from creator_chat.usecases.threads import Auditor

if TYPE_CHECKING:
    from creator_chat.settings import Settings

EMBED_BATCH = 32
UPLOAD_URL_TTL_S = 900  # the default of ``Settings.upload_url_ttl_s``
# An upload started just before its form expired may still be landing: a ticket is given up
# this long after the expiry (at most; never more than the ticket's own lifetime).
UPLOAD_COMPLETE_GRACE_S = 60
UPLOAD_EXPIRY = "upload-expiry"  # the ``kind`` of the delayed job that ends abandoned tickets
UPLOAD_NOT_COMPLETED = "upload not completed"


class IngestDeps(Protocol):
    """What the ingest use cases need. The container provides it, building each adapter on
    first use (a route that only reads documents never builds the index or an S3 client)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def creators(self) -> CreatorStore: ...
    @property
    def documents(self) -> DocumentStore: ...
    @property
    def blobs(self) -> BlobStore: ...
    @property
    def ingest_queue(self) -> JobQueue: ...
    @property
    def index(self) -> VectorIndex: ...
    @property
    def embedder(self) -> Embedder: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def clock(self) -> Clock: ...
    def unit_of_work(self) -> AbstractContextManager[object]:
        """Writes that commit together (one transaction in the embedded database)."""
        ...

    @property
    def atomic_units(self) -> bool:
        """A unit of work rolls back whole (the embedded database); on AWS each write in it
        lands on its own."""
        ...


@dataclass(frozen=True)
class Submitted:
    document: Document
    created: bool  # False: identical content was already ingested (a no-op)


@dataclass(frozen=True)
class UploadTicket:
    """Where the client uploads the file: a multipart POST of ``upload_fields`` and then the
    file (field ``file``, at most the declared size) to ``upload_url``."""

    document: Document
    upload_url: str
    upload_fields: dict[str, str]
    expires_in_s: int


def document_id_for(creator_id: str, source_key: str) -> str:
    """Deterministic: the same source (URL, else title) of a creator is the same document."""
    digest = hashlib.sha256(f"{creator_id}\0{source_key.strip().lower()}".encode()).hexdigest()
    return f"doc_{digest[:24]}"


def authorize_manage(
    deps: IngestDeps, caller: Identity, creator_id: str, action: str, request_id: str = ""
) -> None:
    """Only the creator itself (or an admin) manages a creator's content; refusals are audited."""
    Auditor(deps.audit, deps.clock, request_id).require_manager(
        caller, creator_id, action, "you cannot manage this creator's content"
    )
    if deps.creators.get_creator(creator_id) is None:
        raise NotFound("creator not found")


def _audit(deps: IngestDeps, caller: Identity, action: str, target: str, request_id: str) -> None:
    deps.audit.record(
        AuditEntry(
            actor_id=caller.user_id,
            action=action,
            target=target,
            outcome="ok",
            request_id=request_id,
            at=int(deps.clock.now()),
        )
    )


def submit_document(
    deps: IngestDeps,
    caller: Identity,
    creator_id: str,
    *,
    title: str,
    kind: DocumentKind,
    content: bytes,
    source_url: str = "",
    video_id: str | None = None,
    tags: Sequence[str] | None = None,
    request_id: str = "",
) -> Submitted:
    """Store the raw content, record the document as ``queued`` and enqueue its job. The
    same content again is a no-op, unless it comes with other ``tags``: then it is indexed
    again, so that its chunks carry them (``None``: the document's tags as they are)."""
    authorize_manage(deps, caller, creator_id, "document.ingest", request_id)
    limit = deps.settings.max_inline_document_bytes
    if len(content) > limit:
        raise PayloadTooLarge(
            f"inline content is {len(content)} bytes; the limit is {limit}. "
            'Ask for an upload URL ("upload": true) for larger files.'
        )
    if not content.strip():
        raise InvalidInput("content is empty")
    document_id = document_id_for(creator_id, source_url or title)
    digest = content_hash(kind.value.encode() + b"\0" + content)
    existing = deps.documents.get_document(creator_id, document_id)
    tags = _tags_for(tags, existing)
    if (
        existing
        and existing.content_hash == digest
        and existing.status is not DocumentStatus.FAILED
        and existing.tags == tags
    ):
        return Submitted(existing, created=False)
    now = int(deps.clock.now())
    blob_key = f"{creator_id}/{document_id}/{digest}"
    deps.blobs.put(blob_key, content)
    doc = Document(
        creator_id=creator_id,
        document_id=document_id,
        title=title,
        kind=kind,
        content_hash=digest,
        status=DocumentStatus.QUEUED,
        created_at=existing.created_at if existing else now,
        updated_at=now,
        source_url=source_url,
        video_id=video_id,
        blob_key=blob_key,
        job_id=random_id("job_"),
        chunk_count=existing.chunk_count if existing else 0,
        size_bytes=len(content),
        tags=tags,
    )
    _enqueue(deps, doc)
    _audit(deps, caller, "document.ingest", f"{creator_id}/{document_id}", request_id)
    return Submitted(doc, created=True)


def _tags_for(tags: Sequence[str] | None, existing: Document | None) -> list[str]:
    """The tags a post gives its document: the ones given (checked, ``InvalidInput`` if
    not acceptable), else those the document already has."""
    if tags is None:
        return list(existing.tags) if existing else []
    try:
        return clean_tags(tags)
    except ValueError as err:
        raise InvalidInput(f"tags: {err}") from None


def _enqueue(deps: IngestDeps, doc: Document) -> None:
    # The record and its job commit together where they share a database: a crash between
    # the two must not leave a document ``queued`` with no job to run it. Elsewhere: record
    # first, then queue (a job never points at a document that does not exist), and a
    # record whose job could not be sent ends ``failed``.
    try:
        with deps.unit_of_work():
            deps.documents.put_document(doc)
            deps.ingest_queue.send(
                {"job_id": doc.job_id, "creator_id": doc.creator_id, "document_id": doc.document_id}
            )
    except Exception:
        if not deps.atomic_units:
            deps.documents.set_status(
                doc.creator_id,
                doc.document_id,
                DocumentStatus.FAILED,
                failure_reason="could not queue the ingest job; post it again",
                job_id=doc.job_id,
            )
        raise


def request_upload(
    deps: IngestDeps,
    caller: Identity,
    creator_id: str,
    *,
    title: str,
    kind: DocumentKind,
    size_bytes: int,
    source_url: str = "",
    video_id: str | None = None,
    tags: Sequence[str] | None = None,
    content_type: str = "application/octet-stream",
    request_id: str = "",
) -> UploadTicket:
    """An upload form (presigned POST) for a large file; ``complete_upload`` queues it once
    uploaded. The form accepts at most ``size_bytes`` (the store refuses a larger file before
    storing it), and the ticket is the document's until it is completed: a delayed job on the
    ingest queue ends it ``failed`` ("upload not completed") once it has expired."""
    authorize_manage(deps, caller, creator_id, "document.upload", request_id)
    if size_bytes > deps.settings.max_document_bytes:
        raise PayloadTooLarge(
            f"the file is {size_bytes} bytes; the limit is {deps.settings.max_document_bytes}"
        )
    document_id = document_id_for(creator_id, source_url or title)
    existing = deps.documents.get_document(creator_id, document_id)
    doc_tags = _tags_for(tags, existing)
    now = int(deps.clock.now())
    ttl = deps.settings.upload_url_ttl_s
    # The ticket id holds the document's ``job_id`` until the upload is completed: the expiry
    # job changes the document only while it still names this ticket.
    ticket = random_id("upl_")
    blob_key = f"{creator_id}/{document_id}/upload-{random_id()}"
    form = deps.blobs.presigned_post(
        blob_key, expires_s=ttl, content_type=content_type, max_bytes=size_bytes
    )
    doc = Document(
        creator_id=creator_id,
        document_id=document_id,
        title=title,
        kind=kind,
        content_hash="",
        status=DocumentStatus.QUEUED,
        created_at=existing.created_at if existing else now,
        updated_at=now,
        source_url=source_url,
        video_id=video_id,
        blob_key=blob_key,
        job_id=ticket,
        chunk_count=existing.chunk_count if existing else 0,
        size_bytes=size_bytes,
        tags=doc_tags,
    )
    try:
        with deps.unit_of_work():  # the ticket and its expiry job, together (as ``_enqueue``)
            deps.documents.put_document(doc)
            _schedule_expiry(deps, doc, due_at=now + ttl + min(UPLOAD_COMPLETE_GRACE_S, ttl))
    except Exception:
        if not deps.atomic_units:
            deps.documents.set_status(
                creator_id,
                document_id,
                DocumentStatus.FAILED,
                failure_reason="could not queue the upload's expiry; ask for a new upload URL",
                job_id=ticket,
            )
        raise
    return UploadTicket(doc, form.url, form.fields, ttl)


def _schedule_expiry(deps: IngestDeps, doc: Document, *, due_at: float) -> None:
    """Queue the job that ends the ticket ``doc.job_id`` at ``due_at`` unless completed by
    then (SQS delays 15 minutes at most: a later one is re-queued when it arrives early)."""
    delay = min(MAX_DELAY_S, max(0, math.ceil(due_at - deps.clock.now())))
    deps.ingest_queue.send(
        {
            "kind": UPLOAD_EXPIRY,
            "job_id": random_id("exp_"),  # each send its own: the worker's idempotency key
            "creator_id": doc.creator_id,
            "document_id": doc.document_id,
            "ticket": doc.job_id,
            "due_at": due_at,
        },
        delay_s=delay,
    )


def expire_upload(deps: IngestDeps, job: Mapping[str, Any]) -> str:
    """The expiry job of an upload ticket: a ticket still not completed ends ``failed``
    ("upload not completed") and its partial upload is deleted. Conditional on the document
    still being ``queued`` under this very ticket, so a completed upload, a newer ticket or
    content posted again is never touched."""
    creator_id, document_id = str(job["creator_id"]), str(job["document_id"])
    ticket = str(job["ticket"])
    due_at = float(job["due_at"])
    doc = deps.documents.get_document(creator_id, document_id)
    if doc is None:
        return "deleted"
    if doc.job_id != ticket or doc.status is not DocumentStatus.QUEUED:
        return "superseded"  # completed, asked for again, or posted inline since
    if deps.clock.now() < due_at:
        _schedule_expiry(deps, doc, due_at=due_at)
        return "rescheduled"
    if not deps.documents.set_status(
        creator_id,
        document_id,
        DocumentStatus.FAILED,
        failure_reason=UPLOAD_NOT_COMPLETED,
        expected=(DocumentStatus.QUEUED,),
        job_id=ticket,
    ):
        return "superseded"
    try:
        deps.blobs.delete(doc.blob_key)  # whatever was uploaded without being completed
    except Exception as err:  # best effort: the failed document still names it
        logger.warning(
            "could not delete an abandoned upload",
            extra={"document_id": document_id, "error": type(err).__name__},
        )
    count("UploadExpired")
    return "expired"


def complete_upload(
    deps: IngestDeps, caller: Identity, creator_id: str, document_id: str, request_id: str = ""
) -> Submitted:
    """The client has uploaded the file: check it, then queue the job."""
    authorize_manage(deps, caller, creator_id, "document.ingest", request_id)
    doc = deps.documents.get_document(creator_id, document_id)
    if doc is None or not doc.blob_key:
        raise NotFound("document not found")
    if doc.status is DocumentStatus.FAILED and doc.failure_reason == UPLOAD_NOT_COMPLETED:
        raise Conflict("the upload was not completed before its URL expired; ask for a new one")
    try:
        data = deps.blobs.get(doc.blob_key)
    except NotFound as err:
        raise Conflict("nothing was uploaded to the upload URL yet") from err
    # the store enforces the declared size; checked again for a store that cannot (moto)
    limit = min(deps.settings.max_document_bytes, doc.size_bytes or len(data))
    if len(data) > limit:
        deps.blobs.delete(doc.blob_key)
        raise PayloadTooLarge(f"the file is {len(data)} bytes; the upload declared at most {limit}")
    doc.content_hash = content_hash(doc.kind.value.encode() + b"\0" + data)
    doc.size_bytes = len(data)
    doc.job_id = random_id("job_")
    doc.status = DocumentStatus.QUEUED
    _enqueue(deps, doc)
    _audit(deps, caller, "document.ingest", f"{creator_id}/{document_id}", request_id)
    return Submitted(doc, created=True)


def list_documents(
    deps: IngestDeps, caller: Identity, creator_id: str, request_id: str = ""
) -> list[Document]:
    authorize_manage(deps, caller, creator_id, "document.list", request_id)
    return deps.documents.list_documents(creator_id)


def get_document(
    deps: IngestDeps, caller: Identity, creator_id: str, document_id: str, request_id: str = ""
) -> Document:
    authorize_manage(deps, caller, creator_id, "document.read", request_id)
    doc = deps.documents.get_document(creator_id, document_id)
    if doc is None:
        raise NotFound("document not found")
    return doc


def delete_document(
    deps: IngestDeps, caller: Identity, creator_id: str, document_id: str, request_id: str = ""
) -> int:
    """Remove the document, its chunks and its raw content; new content version."""
    authorize_manage(deps, caller, creator_id, "document.delete", request_id)
    doc = deps.documents.get_document(creator_id, document_id)
    if doc is None:
        raise NotFound("document not found")
    # Chunks, record and content version go together: after a crash the document is either
    # still listed with its chunks (delete it again) or gone with them, never half.
    with deps.unit_of_work():
        removed = deps.index.delete_document(creator_id, document_id)
        deps.documents.delete_document(creator_id, document_id)
        deps.creators.bump_content_version(creator_id)
    if doc.blob_key:
        deps.blobs.delete(doc.blob_key)
    _audit(deps, caller, "document.delete", f"{creator_id}/{document_id}", request_id)
    return removed


def search(
    deps: IngestDeps,
    caller: Identity,
    creator_id: str,
    query: str,
    *,
    top_k: int,
    video_id: str | None = None,
    filters: SearchFilters | None = None,
    request_id: str = "",
) -> list[tuple[SearchHit, bool]]:
    """What the creator's assistant would see for this query (hybrid, creator-scoped, and
    narrowed by ``video_id`` and ``filters``): each hit with whether it passes the
    answerability gate (``retrieval.passes_gate``) — a hit under it is one the assistant
    would not answer from."""
    authorize_manage(deps, caller, creator_id, "document.search", request_id)
    hits = retrieve(
        deps.embedder,
        deps.index,
        creator_id,
        query,
        top_k=top_k,
        video_id=video_id,
        filters=filters,
    )
    floor, terms = deps.settings.similarity_floor, query_terms(query)
    return [(h, passes_gate(h, query, floor, terms)) for h in hits]


def retrieve(
    embedder: Embedder,
    index: VectorIndex,
    creator_id: str,
    query: str,
    *,
    top_k: int,
    video_id: str | None = None,
    filters: SearchFilters | None = None,
) -> list[SearchHit]:
    """Embed the query and search one creator's chunks: the retrieval chat uses too. Only
    this creator's chunks matching the filters are kept, whatever the index answers."""
    vector = embedder.embed([query])[0]
    hits = index.search(creator_id, vector, query, top_k=top_k, video_id=video_id, filters=filters)
    return [
        h
        for h in hits
        if h.chunk.creator_id == creator_id and (filters is None or filters.matches(h.chunk))
    ]


# ----------------------------------------------------------------------------- worker
class _NoLongerCurrent(Exception):
    """The document was deleted or posted again while this job worked on it."""


class TransientIngestError(Exception):
    """Worth retrying (a dependency failed); the queue redelivers the job."""


def process_job(deps: IngestDeps, job: Mapping[str, Any], *, final_attempt: bool) -> str:
    """Run one ingest job; returns the outcome. Raises TransientIngestError to be retried.

    Content problems end the document ``failed`` with the reason, and are not retried.
    On the last attempt a dependency failure also ends it ``failed`` (and the job goes on
    to the DLQ), so no accepted document is left ``processing`` forever.

    A job owns its document only while the record names its ``job_id``: every status it
    sets is conditional on that, so a job overtaken by a newer version of the document (or
    by a delete) never marks it ``done``, ``failed`` or ``processing``, and never leaves its
    chunks behind — the newest accepted version is what ends indexed.
    """
    if job.get("kind") == UPLOAD_EXPIRY:
        return expire_upload(deps, job)  # an upload ticket's expiry, not a version to index
    creator_id, document_id = str(job["creator_id"]), str(job["document_id"])
    job_id = str(job["job_id"])
    doc = deps.documents.get_document(creator_id, document_id)
    if doc is None:
        return "deleted"  # removed while queued: nothing to do
    if doc.job_id != job_id:
        return "superseded"  # a newer version was posted; its own job will run
    if doc.status is DocumentStatus.DONE:
        return "done"  # a duplicate delivery of a finished job
    if not deps.documents.set_status(
        creator_id,
        document_id,
        DocumentStatus.PROCESSING,
        expected=(DocumentStatus.QUEUED, DocumentStatus.PROCESSING),
        job_id=job_id,
    ):
        return "superseded"
    try:
        data = deps.blobs.get(doc.blob_key)
        parsed = parse(doc.kind, data)
        chunks = chunk_document(
            parsed,
            creator_id=creator_id,
            document_id=document_id,
            title=doc.title,
            source_url=doc.source_url,
            video_id=doc.video_id,
            tags=doc.tags,
        )
        if not chunks:
            raise InvalidInput("the document has no text to index")
    except (InvalidInput, NotFound) as err:
        reason = err.message if isinstance(err, InvalidInput) else "raw content is missing"
        if not deps.documents.set_status(
            creator_id,
            document_id,
            DocumentStatus.FAILED,
            failure_reason=reason,
            chunk_count=0,
            job_id=job_id,
        ):
            return "superseded"
        count("IngestFailed")
        return "failed"
    except Exception as err:
        _attempt_failed(deps, job_id, creator_id, document_id, err, "reading", final=final_attempt)
        raise TransientIngestError(str(err)) from err
    try:
        vectors: list[list[float]] = []
        for start in range(0, len(chunks), EMBED_BATCH):
            batch = chunks[start : start + EMBED_BATCH]
            vectors.extend(deps.embedder.embed([c.text for c in batch]))
        if not _still_owned(deps, creator_id, document_id, job_id):
            return "superseded"  # overtaken while embedding: write nothing
        # The chunks and the ``done`` status commit together where the stores share a
        # database: after a crash a document is never ``done`` without its chunks, and a job
        # overtaken between the check above and here rolls back whole.
        with deps.unit_of_work():
            deps.index.replace_document(creator_id, document_id, chunks, vectors)
            if not deps.documents.set_status(
                creator_id,
                document_id,
                DocumentStatus.DONE,
                chunk_count=len(chunks),
                expected=(DocumentStatus.PROCESSING,),
                job_id=job_id,
            ):
                raise _NoLongerCurrent
            deps.creators.bump_content_version(creator_id)
    except _NoLongerCurrent:
        if not deps.atomic_units:
            _repair_overtaken_write(deps, creator_id, document_id)
        return "superseded"
    except Exception as err:
        _attempt_failed(deps, job_id, creator_id, document_id, err, "indexing", final=final_attempt)
        raise TransientIngestError(str(err)) from err
    count("IngestChunks", len(chunks))
    return "done"


def _still_owned(deps: IngestDeps, creator_id: str, document_id: str, job_id: str) -> bool:
    current = deps.documents.get_document(creator_id, document_id)
    return (
        current is not None
        and current.job_id == job_id
        and current.status is DocumentStatus.PROCESSING
    )


def _repair_overtaken_write(deps: IngestDeps, creator_id: str, document_id: str) -> None:
    """This job's chunks were written (no shared transaction: DynamoDB + OpenSearch) but the
    document was deleted or re-posted in the meantime. Leave the index as the current
    version says: no chunks for a deleted or failed document; for a version whose own job
    has already read (or replaced) the index, run that version once more so its chunks,
    not ours, are what stays. A version still queued replaces ours when its job runs."""
    current = deps.documents.get_document(creator_id, document_id)
    if current is None or current.status is DocumentStatus.FAILED:
        deps.index.delete_document(creator_id, document_id)
        return
    if current.status is DocumentStatus.QUEUED:
        return
    if deps.documents.set_status(
        creator_id,
        document_id,
        DocumentStatus.QUEUED,
        expected=(DocumentStatus.PROCESSING, DocumentStatus.DONE),
        job_id=current.job_id,
    ):
        # same job id (the version is the same), a new run: the worker's idempotency key
        # is (job_id, run), so this delivery is not taken for a duplicate of the first
        deps.ingest_queue.send(
            {
                "job_id": current.job_id,
                "creator_id": creator_id,
                "document_id": document_id,
                "run": random_id("run_"),
            }
        )
        count("IngestRequeued")


def _attempt_failed(
    deps: IngestDeps,
    job_id: str,
    creator_id: str,
    document_id: str,
    err: Exception,
    stage: str,
    *,
    final: bool,
) -> None:
    """A retryable failure; on the last attempt the document ends ``failed`` with the reason
    (the job then goes on to the DLQ for operators, and the creator can post it again)."""
    logger.warning(
        "ingest attempt failed",
        extra={"document_id": document_id, "stage": stage, "error": type(err).__name__},
    )
    if final:
        reason = f"{stage} failed after retries ({type(err).__name__}); post it again"
        if deps.documents.set_status(
            creator_id,
            document_id,
            DocumentStatus.FAILED,
            chunk_count=0,
            failure_reason=reason,
            job_id=job_id,
        ):
            count("IngestFailed")
