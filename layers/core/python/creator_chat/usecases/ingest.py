"""Ingest: accept a creator's content, then parse → chunk → embed → index it in a worker.

A document's identity is (creator, source URL or title): posting the same content again
is a no-op, posting changed content under the same identity replaces the old chunks.
Every accepted document ends ``done`` or ``failed`` with a reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
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
    SearchHit,
)
from creator_chat.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from creator_chat.ids import content_hash, random_id
from creator_chat.observability import count, logger
from creator_chat.ports import (
    AuditLog,
    BlobStore,
    Clock,
    CreatorStore,
    DocumentStore,
    Embedder,
    JobQueue,
    VectorIndex,
)

if TYPE_CHECKING:
    from creator_chat.settings import Settings

EMBED_BATCH = 32
UPLOAD_URL_TTL_S = 900


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


@dataclass(frozen=True)
class Submitted:
    document: Document
    created: bool  # False: identical content was already ingested (a no-op)


@dataclass(frozen=True)
class UploadTicket:
    document: Document
    upload_url: str
    expires_in_s: int


def document_id_for(creator_id: str, source_key: str) -> str:
    """Deterministic: the same source (URL, else title) of a creator is the same document."""
    digest = hashlib.sha256(f"{creator_id}\0{source_key.strip().lower()}".encode()).hexdigest()
    return f"doc_{digest[:24]}"


def authorize_manage(
    deps: IngestDeps, caller: Identity, creator_id: str, action: str, request_id: str = ""
) -> None:
    """Only the creator itself (or an admin) manages a creator's content; refusals are audited."""
    if caller.can_manage_creator(creator_id):
        if deps.creators.get_creator(creator_id) is None:
            raise NotFound("creator not found")
        return
    deps.audit.record(
        AuditEntry(
            actor_id=caller.user_id,
            action=action,
            target=creator_id,
            outcome="denied",
            request_id=request_id,
            at=int(deps.clock.now()),
        )
    )
    raise Forbidden("you cannot manage this creator's content")


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
    request_id: str = "",
) -> Submitted:
    """Store the raw content, record the document as ``queued`` and enqueue its job."""
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
    if (
        existing
        and existing.content_hash == digest
        and existing.status is not DocumentStatus.FAILED
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
    )
    _enqueue(deps, doc)
    _audit(deps, caller, "document.ingest", f"{creator_id}/{document_id}", request_id)
    return Submitted(doc, created=True)


def _enqueue(deps: IngestDeps, doc: Document) -> None:
    # Record first, then queue: a job never points at a document that does not exist.
    deps.documents.put_document(doc)
    try:
        deps.ingest_queue.send(
            {"job_id": doc.job_id, "creator_id": doc.creator_id, "document_id": doc.document_id}
        )
    except Exception:
        deps.documents.set_status(
            doc.creator_id,
            doc.document_id,
            DocumentStatus.FAILED,
            failure_reason="could not queue the ingest job; post it again",
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
    content_type: str = "application/octet-stream",
    request_id: str = "",
) -> UploadTicket:
    """A presigned PUT URL for a large file; ``complete_upload`` queues it once uploaded."""
    authorize_manage(deps, caller, creator_id, "document.upload", request_id)
    if size_bytes > deps.settings.max_document_bytes:
        raise PayloadTooLarge(
            f"the file is {size_bytes} bytes; the limit is {deps.settings.max_document_bytes}"
        )
    document_id = document_id_for(creator_id, source_url or title)
    existing = deps.documents.get_document(creator_id, document_id)
    now = int(deps.clock.now())
    blob_key = f"{creator_id}/{document_id}/upload-{random_id()}"
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
        job_id="",
        chunk_count=existing.chunk_count if existing else 0,
        size_bytes=size_bytes,
    )
    deps.documents.put_document(doc)
    url = deps.blobs.presigned_put_url(
        blob_key, expires_s=UPLOAD_URL_TTL_S, content_type=content_type
    )
    return UploadTicket(doc, url, UPLOAD_URL_TTL_S)


def complete_upload(
    deps: IngestDeps, caller: Identity, creator_id: str, document_id: str, request_id: str = ""
) -> Submitted:
    """The client has PUT the file: check it, then queue the job."""
    authorize_manage(deps, caller, creator_id, "document.ingest", request_id)
    doc = deps.documents.get_document(creator_id, document_id)
    if doc is None or not doc.blob_key:
        raise NotFound("document not found")
    try:
        data = deps.blobs.get(doc.blob_key)
    except NotFound as err:
        raise InvalidInput("nothing was uploaded to the upload URL yet") from err
    if len(data) > deps.settings.max_document_bytes:
        deps.blobs.delete(doc.blob_key)
        raise PayloadTooLarge(
            f"the file is {len(data)} bytes; the limit is {deps.settings.max_document_bytes}"
        )
    doc.content_hash = content_hash(doc.kind.value.encode() + b"\0" + data)
    doc.size_bytes = len(data)
    doc.job_id = random_id("job_")
    doc.status = DocumentStatus.QUEUED
    _enqueue(deps, doc)
    _audit(deps, caller, "document.ingest", f"{creator_id}/{document_id}", request_id)
    return Submitted(doc, created=True)


def list_documents(deps: IngestDeps, caller: Identity, creator_id: str) -> list[Document]:
    authorize_manage(deps, caller, creator_id, "document.list")
    return deps.documents.list_documents(creator_id)


def get_document(deps: IngestDeps, caller: Identity, creator_id: str, document_id: str) -> Document:
    authorize_manage(deps, caller, creator_id, "document.read")
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
) -> list[SearchHit]:
    """What the creator's assistant would see for this query (hybrid, creator-scoped)."""
    authorize_manage(deps, caller, creator_id, "document.search")
    return retrieve(deps.embedder, deps.index, creator_id, query, top_k=top_k, video_id=video_id)


def retrieve(
    embedder: Embedder,
    index: VectorIndex,
    creator_id: str,
    query: str,
    *,
    top_k: int,
    video_id: str | None = None,
) -> list[SearchHit]:
    """Embed the query and search one creator's chunks: the retrieval chat uses too."""
    vector = embedder.embed([query])[0]
    return index.search(creator_id, vector, query, top_k=top_k, video_id=video_id)


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
    """
    creator_id, document_id = str(job["creator_id"]), str(job["document_id"])
    doc = deps.documents.get_document(creator_id, document_id)
    if doc is None:
        return "deleted"  # removed while queued: nothing to do
    if doc.job_id != job["job_id"]:
        return "superseded"  # a newer version was posted; its own job will run
    if doc.status is DocumentStatus.DONE:
        return "done"  # a duplicate delivery of a finished job
    deps.documents.set_status(creator_id, document_id, DocumentStatus.PROCESSING)
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
        )
        if not chunks:
            raise InvalidInput("the document has no text to index")
    except (InvalidInput, NotFound) as err:
        reason = err.message if isinstance(err, InvalidInput) else "raw content is missing"
        deps.documents.set_status(
            creator_id, document_id, DocumentStatus.FAILED, failure_reason=reason, chunk_count=0
        )
        count("IngestFailed")
        return "failed"
    except Exception as err:
        _attempt_failed(deps, creator_id, document_id, err, "reading", final_attempt=final_attempt)
        raise TransientIngestError(str(err)) from err
    try:
        vectors: list[list[float]] = []
        for start in range(0, len(chunks), EMBED_BATCH):
            batch = chunks[start : start + EMBED_BATCH]
            vectors.extend(deps.embedder.embed([c.text for c in batch]))
        # The chunks and the ``done`` status commit together where the stores share a
        # database: after a crash a document is never ``done`` without its chunks. Only the
        # job that set ``processing`` may mark it done: a document deleted, or posted again,
        # while this job embedded is no longer this job's.
        with deps.unit_of_work():
            deps.index.replace_document(creator_id, document_id, chunks, vectors)
            if not deps.documents.set_status(
                creator_id,
                document_id,
                DocumentStatus.DONE,
                chunk_count=len(chunks),
                expected=(DocumentStatus.PROCESSING,),
            ):
                raise _NoLongerCurrent
            deps.creators.bump_content_version(creator_id)
    except _NoLongerCurrent:
        # Rolled back where the stores share a transaction; elsewhere the chunks just
        # written must not outlive a deleted document (a newer version replaces them).
        if deps.documents.get_document(creator_id, document_id) is None:
            deps.index.delete_document(creator_id, document_id)
        return "superseded"
    except Exception as err:
        _attempt_failed(deps, creator_id, document_id, err, "indexing", final_attempt=final_attempt)
        raise TransientIngestError(str(err)) from err
    count("IngestChunks", len(chunks))
    return "done"


def _attempt_failed(
    deps: IngestDeps,
    creator_id: str,
    document_id: str,
    err: Exception,
    stage: str,
    *,
    final_attempt: bool,
) -> None:
    """A retryable failure; on the last attempt the document ends ``failed`` with the reason
    (the job then goes on to the DLQ for operators, and the creator can post it again)."""
    logger.warning(
        "ingest attempt failed",
        extra={"document_id": document_id, "stage": stage, "error": type(err).__name__},
    )
    if final_attempt:
        reason = f"{stage} failed after retries ({type(err).__name__}); post it again"
        deps.documents.set_status(
            creator_id, document_id, DocumentStatus.FAILED, chunk_count=0, failure_reason=reason
        )
        count("IngestFailed")
