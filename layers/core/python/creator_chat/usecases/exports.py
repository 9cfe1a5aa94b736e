"""GDPR export: everything a user has here, as JSON — inline for a small account, as an export
job (a file behind an expiring download link) for a large one.

Building an export costs a fixed number of store queries whatever the number of threads
(``ThreadStore.list_user_messages``), so its time grows with the data, not faster. Still, a
large account's export could outlast the API's 29 s limit (and a Lambda response's 6 MB): past
``export_inline_max_messages`` messages, ``GET /v1/me/export`` answers ``202`` with an export
job the export worker builds into one file (the ``exports`` bucket, one day), and
``GET /v1/me/exports/{id}`` hands out a short-lived download link once it is ready.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from creator_chat.container import Container
from creator_chat.domain.models import (
    AuditEntry,
    ExportJob,
    ExportStatus,
    Identity,
    Thread,
)
from creator_chat.errors import DependencyUnavailable, NotFound
from creator_chat.ids import random_id
from creator_chat.observability import logger

ALL_THREADS = 2**31 - 1
FAILED_REASON = "The export could not be built. Please ask for a new one."


def blob_key(export_id: str) -> str:
    """Where an export's file lives: named by the export alone (no user id in object keys),
    so an erasure can delete it even before its record says it is ready."""
    return f"{export_id}.json"


def status_url(export_id: str) -> str:
    return f"/v1/me/exports/{export_id}"


# ----------------------------------------------------------------------------- building
def build_export(c: Container, user_id: str, threads: list[Thread] | None = None) -> dict[str, Any]:
    """All of the user's data: profile, threads with their messages, feedback, usage, sessions
    and the user's own audit trail. Two thread-store queries for every thread and message."""
    if threads is None:
        threads = c.threads.list_threads(user_id, limit=ALL_THREADS)
    messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in c.threads.list_user_messages(user_id):
        messages[message.thread_id].append(asdict(message))
    profile = c.users.get_profile(user_id)
    return {
        "user_id": user_id,
        "exported_at": int(c.clock.now()),
        "profile": asdict(profile) if profile else None,
        "threads": [{**asdict(t), "messages": messages.get(t.thread_id, [])} for t in threads],
        "feedback": [asdict(f) for f in c.threads.list_feedback(user_id)],
        "usage": [asdict(u) for u in c.users.list_usage(user_id)],
        "sessions": [asdict(s) for s in c.sessions.list_sessions(user_id)],
        "audit": [asdict(a) for a in c.audit.entries_for(user_id)],
    }


def encode(export: dict[str, Any]) -> bytes:
    """An export as the file a job writes (the same JSON the inline answer holds)."""
    return json.dumps(export, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def _audit(c: Container, user_id: str, action: str, request_id: str, **detail: Any) -> None:
    c.audit.record(
        AuditEntry(
            actor_id=user_id,
            action=action,
            target=user_id,
            outcome="ok",
            request_id=request_id,
            at=int(c.clock.now()),
            detail=detail,
        )
    )


def export_inline(
    c: Container, user_id: str, request_id: str = "", threads: list[Thread] | None = None
) -> dict[str, Any]:
    export = build_export(c, user_id, threads)
    _audit(c, user_id, "data.export", request_id)
    return export


# ------------------------------------------------------------------------------ the API
@dataclass(frozen=True)
class ExportAnswer:
    """What ``GET /v1/me/export`` answers: the export itself, or the job building it."""

    inline: dict[str, Any] | None = None
    job: ExportJob | None = None


def export_or_queue(c: Container, caller: Identity, request_id: str = "") -> ExportAnswer:
    """Inline when the account holds at most ``export_inline_max_messages`` messages (the
    threads' counts, one query), else an export job."""
    threads = c.threads.list_threads(caller.user_id, limit=ALL_THREADS)
    if sum(t.message_count for t in threads) <= c.settings.export_inline_max_messages:
        return ExportAnswer(inline=export_inline(c, caller.user_id, request_id, threads))
    return ExportAnswer(job=request_export(c, caller, request_id))


def request_export(c: Container, caller: Identity, request_id: str = "") -> ExportJob:
    """Start an export job, or return the caller's pending one (asking again — a client
    retrying, polling the wrong URL — never queues a second build)."""
    uid = caller.user_id
    for existing in c.exports.list_exports(uid):
        if existing.status is ExportStatus.PENDING:
            return existing
    now = int(c.clock.now())
    job = ExportJob(
        export_id=random_id("exp_") + random_id(),
        user_id=uid,
        status=ExportStatus.PENDING,
        created_at=now,
        updated_at=now,
        expires_at=now + c.settings.export_ttl_s,
    )
    c.exports.create_export(job)
    try:
        c.export_queue.send(
            {"export_id": job.export_id, "user_id": uid, "request_id": request_id},
            dedup_id=job.export_id,
        )
    except DependencyUnavailable:
        c.exports.set_status(
            uid,
            job.export_id,
            ExportStatus.FAILED,
            expected=(ExportStatus.PENDING,),
            failure_reason="The export could not be queued. Please ask again.",
        )
        raise
    _audit(c, uid, "data.export.requested", request_id, export_id=job.export_id)
    return job


@dataclass(frozen=True)
class ExportView:
    job: ExportJob
    download_url: str | None = None
    download_expires_at: int | None = None


def get_export(c: Container, caller: Identity, export_id: str) -> ExportView:
    """The caller's export (another user's reads as not found), with a fresh download link
    when it is ready; the link never outlives the export."""
    job = c.exports.get_export(caller.user_id, export_id)
    if job is None:
        raise NotFound("export not found")
    if job.status is not ExportStatus.READY:
        return ExportView(job)
    now = int(c.clock.now())
    expires_s = max(1, min(c.settings.export_url_ttl_s, job.expires_at - now))
    url = c.export_blobs.presigned_get_url(job.blob_key, expires_s=expires_s)
    return ExportView(job, download_url=url, download_expires_at=now + expires_s)


# ---------------------------------------------------------------------------- the worker
def run_export_job(c: Container, body: dict[str, Any], *, final_attempt: bool) -> str:
    """The export worker: build one export into its file, once; idempotent per export id.

    The file is written before the record says ``ready``; if the record is gone by then (the
    user erased their data meanwhile) the file is deleted again. A failure is retried by the
    queue; on the final attempt the export ends ``failed``.
    """
    uid, export_id = str(body["user_id"]), str(body["export_id"])
    job = c.exports.get_export(uid, export_id)
    if job is None:
        return "gone"  # erased, or expired while it waited
    if job.status is not ExportStatus.PENDING:
        return "already-done"
    key = blob_key(export_id)
    try:
        data = encode(build_export(c, uid))
        c.export_blobs.put(key, data, content_type="application/json")
        ready = c.exports.set_status(
            uid,
            export_id,
            ExportStatus.READY,
            expected=(ExportStatus.PENDING,),
            blob_key=key,
            size_bytes=len(data),
        )
    except Exception:
        if final_attempt:
            c.exports.set_status(
                uid,
                export_id,
                ExportStatus.FAILED,
                expected=(ExportStatus.PENDING,),
                failure_reason=FAILED_REASON,
            )
        raise
    if not ready:
        c.export_blobs.delete(key)
        return "gone"
    _audit(c, uid, "data.export", str(body.get("request_id", "")), export_id=export_id)
    logger.info("export ready", extra={"export_id": export_id, "bytes": len(data)})
    return "ready"


# ---------------------------------------------------------------------- erasure, expiry
def erase_user_exports(c: Container, user_id: str) -> int:
    """Every export of the user, record and file (erasure). Records go first: a worker still
    building one then finds no record to mark ready and deletes its own file."""
    jobs = c.exports.list_exports(user_id, include_expired=True)
    deleted = c.exports.delete_user_exports(user_id)
    for job in jobs:
        c.export_blobs.delete(blob_key(job.export_id))
    return deleted
