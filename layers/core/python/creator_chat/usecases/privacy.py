"""GDPR: export everything a user has here, or erase it all (and nothing of anyone else's)."""

from __future__ import annotations

import hashlib
from typing import Any

from creator_chat.container import Container
from creator_chat.domain.models import AuditEntry, Identity
from creator_chat.ids import random_id
from creator_chat.usecases import exports as exports_uc
from creator_chat.usecases import sessions as session_uc


def pseudonym(user_id: str) -> str:
    """What the audit log keeps of an erased user: provable, not reversible."""
    return "erased:" + hashlib.sha256(user_id.encode()).hexdigest()[:24]


def export_user_data(c: Container, caller: Identity, request_id: str = "") -> dict[str, Any]:
    """All of the caller's data as JSON, built now (``usecases.exports``: a fixed number of
    queries whatever the number of threads; the API hands a large account an export job)."""
    return exports_uc.export_inline(c, caller.user_id, request_id)


def _erase_connections(c: Container, user_id: str) -> int:
    connections = c.connections.list_user_connections(user_id)
    for connection in connections:
        c.connections.delete_connection(connection.connection_id)
    return len(connections)


def erase_user_data(c: Container, caller: Identity, request_id: str = "") -> dict[str, Any]:
    """Delete every item of the caller in every table; returns a receipt.

    The audit log keeps one entry that the erasure happened, under a pseudonym.
    """
    uid = caller.user_id
    deleted = {
        "exports": exports_uc.erase_user_exports(c, uid),  # records and files
        "conversations": c.threads.delete_user_data(uid),
        "users": c.users.delete_user(uid),
        # revoked, not deleted: a deleted session would let its token in again as a new one
        "sessions": session_uc.revoke_all(
            c.sessions,
            uid,
            now=int(c.clock.now()),
            until=int(c.clock.now()) + c.settings.max_token_lifetime_s + c.settings.jwt_leeway_s,
            pseudonym=pseudonym(uid),
        ),
        "rate_limits": c.rate_limiter.delete_user_counters(uid),
        # open WebSockets' records (their sessions are revoked above: no message gets in)
        "connections": _erase_connections(c, uid),
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
