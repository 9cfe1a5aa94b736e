"""Embedded table ``audit``: the audit log."""

from __future__ import annotations

from creator_chat.adapters.aws.dynamodb.audit import AUDIT_RETENTION_S
from creator_chat.adapters.embedded.base import EmbeddedStore, from_json, to_json
from creator_chat.domain.models import AuditEntry

__all__ = ["AUDIT_RETENTION_S", "EmbeddedAuditLog"]


class EmbeddedAuditLog(EmbeddedStore):
    """One row per entry, by actor and time; an entry expires ``AUDIT_RETENTION_S`` after it
    happened (~13 months) and is absent from then on."""

    def record(self, entry: AuditEntry) -> None:
        self._db.execute(
            "INSERT INTO audit (actor_id, at, expires_at, data) VALUES (?, ?, ?, ?)",
            (entry.actor_id, entry.at, entry.at + AUDIT_RETENTION_S, to_json(entry)),
        )

    def entries_for(self, actor_id: str) -> list[AuditEntry]:
        # oldest first, as DynamoDB's "<epoch>#<id>" sort key; the row id orders one second
        rows = self._db.query(
            "SELECT data FROM audit WHERE actor_id = ? AND (expires_at IS NULL OR expires_at > ?)"
            " ORDER BY at, id",
            (actor_id, self._now()),
        )
        return [from_json(AuditEntry, r["data"]) for r in rows]

    def delete_actor(self, actor_id: str) -> int:
        # expired rows too (not yet purged): erasure leaves nothing of the actor behind
        return self._db.execute("DELETE FROM audit WHERE actor_id = ?", (actor_id,)).rowcount
