"""Embedded tables ``documents`` and ``content_hashes``: documents and content-hash claims."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from creator_chat.adapters.embedded.base import EmbeddedStore, from_json, to_json
from creator_chat.domain.models import Document, DocumentKind, DocumentStatus


class EmbeddedDocumentStore(EmbeddedStore):
    """Documents per creator (``status`` and ``created_at`` as columns, the rest JSON) and
    the ``content_hashes`` claims that make a re-ingest a no-op."""

    def put_document(self, doc: Document) -> None:
        self._db.execute(
            "INSERT INTO documents (creator_id, document_id, status, created_at, data)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (creator_id, document_id) DO UPDATE SET"
            " status = excluded.status, created_at = excluded.created_at, data = excluded.data",
            (doc.creator_id, doc.document_id, doc.status.value, doc.created_at, to_json(doc)),
        )

    def claim_content_hash(self, creator_id: str, content_hash: str, document_id: str) -> str:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO content_hashes (creator_id, content_hash, document_id)"
                " VALUES (?, ?, ?)",
                (creator_id, content_hash, document_id),
            )
            row = conn.execute(
                "SELECT document_id FROM content_hashes WHERE creator_id = ? AND content_hash = ?",
                (creator_id, content_hash),
            ).fetchone()
        return str(row["document_id"]) if row else document_id

    def release_content_hash(self, creator_id: str, content_hash: str) -> None:
        self._db.execute(
            "DELETE FROM content_hashes WHERE creator_id = ? AND content_hash = ?",
            (creator_id, content_hash),
        )

    def get_document(self, creator_id: str, document_id: str) -> Document | None:
        row = self._db.query_one(
            "SELECT status, data FROM documents WHERE creator_id = ? AND document_id = ?",
            (creator_id, document_id),
        )
        return _document(row) if row else None

    def list_documents(self, creator_id: str) -> list[Document]:
        # document_id breaks ties as DynamoDB's sort key does before the stable sort
        rows = self._db.query(
            "SELECT status, data FROM documents WHERE creator_id = ?"
            " ORDER BY created_at, document_id",
            (creator_id,),
        )
        return [_document(r) for r in rows]

    def set_status(
        self,
        creator_id: str,
        document_id: str,
        status: DocumentStatus,
        *,
        chunk_count: int | None = None,
        failure_reason: str | None = None,
        expected: Sequence[DocumentStatus] | None = None,
        job_id: str | None = None,
    ) -> bool:
        # One conditional UPDATE keeps the column and the JSON in step; a missing document or
        # one in a state outside ``expected`` matches no row. No reason given clears the old.
        paths = "'$.status', ?, '$.updated_at', ?, '$.failure_reason', ?"
        params: list[Any] = [status.value, self._now(), failure_reason]
        if chunk_count is not None:
            paths += ", '$.chunk_count', ?"
            params.append(chunk_count)
        sql = (
            f"UPDATE documents SET status = ?, data = json_set(data, {paths})"  # noqa: S608
            " WHERE creator_id = ? AND document_id = ?"
        )
        params = [status.value, *params, creator_id, document_id]
        if expected:
            sql += f" AND status IN ({', '.join('?' * len(expected))})"
            params.extend(e.value for e in expected)
        if job_id is not None:
            sql += " AND json_extract(data, '$.job_id') = ?"
            params.append(job_id)
        return self._db.execute(sql, params).rowcount > 0

    def delete_document(self, creator_id: str, document_id: str) -> None:
        self._db.execute(
            "DELETE FROM documents WHERE creator_id = ? AND document_id = ?",
            (creator_id, document_id),
        )


def _document(row: sqlite3.Row) -> Document:
    doc = from_json(Document, row["data"], status=DocumentStatus(row["status"]))
    doc.kind = DocumentKind(doc.kind)  # stored by value
    return doc
