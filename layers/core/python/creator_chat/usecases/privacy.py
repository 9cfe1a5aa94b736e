"""GDPR: export everything a user has here, or erase it all (and nothing of anyone else's)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import Any

from creator_chat.container import Container
from creator_chat.domain.models import AuditEntry, Identity
from creator_chat.ids import random_id


def pseudonym(user_id: str) -> str:
    """What the audit log keeps of an erased user: provable, not reversible."""
    return "erased:" + hashlib.sha256(user_id.encode()).hexdigest()[:24]


def export_user_data(c: Container, caller: Identity, request_id: str = "") -> dict[str, Any]:
    """All of the caller's data as JSON: profile, threads with messages, feedback, usage,
    sessions and the caller's own audit trail."""
    uid = caller.user_id
    threads = []
    for thread in c.threads.list_threads(uid, limit=10_000):
        messages = [asdict(m) for m in c.threads.list_messages(thread.thread_id, limit=100_000)]
        threads.append({**asdict(thread), "messages": messages})
    profile = c.users.get_profile(uid)
    export = {
        "user_id": uid,
        "exported_at": int(c.clock.now()),
        "profile": asdict(profile) if profile else None,
        "threads": threads,
        "feedback": [asdict(f) for f in c.threads.list_feedback(uid)],
        "usage": [asdict(u) for u in c.users.list_usage(uid)],
        "sessions": [asdict(s) for s in c.sessions.list_sessions(uid)],
        "audit": [asdict(a) for a in c.audit.entries_for(uid)],
    }
    c.audit.record(
        AuditEntry(
            actor_id=uid,
            action="data.export",
            target=uid,
            outcome="ok",
            request_id=request_id,
            at=int(c.clock.now()),
        )
    )
    return export


def erase_user_data(c: Container, caller: Identity, request_id: str = "") -> dict[str, Any]:
    """Delete every item of the caller in every table; returns a receipt.

    The audit log keeps one entry that the erasure happened, under a pseudonym.
    """
    uid = caller.user_id
    deleted = {
        "conversations": c.threads.delete_user_data(uid),
        "users": c.users.delete_user(uid),
        "sessions": c.sessions.delete_user_sessions(uid),
        "rate_limits": c.rate_limiter.delete_user_counters(uid),
        "audit": c.audit.delete_actor(uid),
    }
    at = int(c.clock.now())
    receipt: dict[str, Any] = {
        "receipt_id": random_id("erase_"),
        "subject": pseudonym(uid),
        "erased_at": at,
        "deleted_items": deleted,
    }
    c.audit.record(
        AuditEntry(
            actor_id=pseudonym(uid),
            action="data.erase",
            target=pseudonym(uid),
            outcome="ok",
            request_id=request_id,
            at=at,
            detail={"receipt_id": receipt["receipt_id"]},
        )
    )
    return receipt
