"""Embedded table ``exports``: GDPR export jobs by (user, export id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from creator_chat.adapters.embedded.base import EmbeddedStore, from_json, to_json
from creator_chat.domain.models import ExportJob, ExportStatus
from creator_chat.errors import Conflict


class EmbeddedExportStore(EmbeddedStore):
    """One row per export, keyed by its user: reading another user's export is a miss. Expired
    rows read as absent; the local runtime's purge deletes them with their files
    (``expired`` + ``delete_export``), since a row must not go before its file."""

    def create_export(self, job: ExportJob) -> None:
        with self._db.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO exports"
                " (user_id, export_id, status, created_at, expires_at, data)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    job.user_id,
                    job.export_id,
                    job.status.value,
                    job.created_at,
                    job.expires_at,
                    to_json(job),
                ),
            )
            if cur.rowcount == 0:
                raise Conflict("export already exists")

    def get_export(self, user_id: str, export_id: str) -> ExportJob | None:
        row = self._db.query_one(
            "SELECT data FROM exports WHERE user_id = ? AND export_id = ? AND expires_at > ?",
            (user_id, export_id, self._now()),
        )
        return _export(row["data"]) if row else None

    def list_exports(self, user_id: str, *, include_expired: bool = False) -> list[ExportJob]:
        rows = self._db.query(
            "SELECT data FROM exports WHERE user_id = ? AND (? OR expires_at > ?)"
            " ORDER BY created_at, export_id",
            (user_id, include_expired, self._now()),
        )
        return [_export(r["data"]) for r in rows]

    def set_status(
        self,
        user_id: str,
        export_id: str,
        status: ExportStatus,
        *,
        expected: Sequence[ExportStatus],
        blob_key: str | None = None,
        size_bytes: int | None = None,
        failure_reason: str | None = None,
    ) -> bool:
        now = self._now()
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT data FROM exports WHERE user_id = ? AND export_id = ? AND expires_at > ?",
                (user_id, export_id, now),
            ).fetchone()
            if row is None:
                return False
            job = _export(row["data"])
            if job.status not in expected:
                return False
            updated = replace(
                job,
                status=status,
                updated_at=now,
                blob_key=job.blob_key if blob_key is None else blob_key,
                size_bytes=job.size_bytes if size_bytes is None else size_bytes,
                failure_reason=job.failure_reason if failure_reason is None else failure_reason,
            )
            conn.execute(
                "UPDATE exports SET status = ?, data = ? WHERE user_id = ? AND export_id = ?",
                (status.value, to_json(updated), user_id, export_id),
            )
        return True

    def delete_user_exports(self, user_id: str) -> int:
        return self._db.execute("DELETE FROM exports WHERE user_id = ?", (user_id,)).rowcount

    # -- the local purge (in AWS: the table's TTL and the bucket's lifecycle rule) ---------
    def expired(self, now: float, *, limit: int = 500) -> list[ExportJob]:
        rows = self._db.query(
            "SELECT data FROM exports WHERE expires_at <= ? ORDER BY expires_at LIMIT ?",
            (int(now), limit),
        )
        return [_export(r["data"]) for r in rows]

    def delete_export(self, user_id: str, export_id: str) -> None:
        self._db.execute(
            "DELETE FROM exports WHERE user_id = ? AND export_id = ?", (user_id, export_id)
        )


def _export(text: str) -> ExportJob:
    job = from_json(ExportJob, text)
    job.status = ExportStatus(job.status)
    return job
