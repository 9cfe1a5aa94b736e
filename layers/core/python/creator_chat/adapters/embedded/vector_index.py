"""The embedded ``VectorIndex``: chunks and vectors in the database, searched in memory.

The ``chunks`` table is the index's only durable state. Each write changes it inside a
transaction — the caller's unit of work when there is one, so a document's chunks commit
together with its ``done`` status, and a delete together with the document's removal — and
once that transaction has committed, the affected document's rows are re-read into the
in-memory hybrid index (``LocalVectorIndex``: exact cosine + BM25 per creator). After any
crash the index is therefore exactly what the database holds: there is no second copy to
disagree with.

Why not a vector extension or FTS5: the in-memory index is exact (recall 1.0), answers a
top-5 over 10k chunks in ~1 ms, and its BM25 is the one the retrieval evaluation tuned
(``local_index``); sqlite-vec needs an SQLite that loads extensions (not this CPython's), and
FTS5's ``bm25()`` would rank differently from the tuned scorer — and measured slower: over one
creator's 10,000 chunks a warm hybrid top-5 here takes 1.2 ms, FTS5's keyword half alone
12.5 ms (``bench/embedded_store.py``). Loading a creator's rows back takes ~0.7 s per 10,000
chunks; the runtime preloads every creator in the background at start.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from creator_chat.adapters.embedded.database import Database
from creator_chat.adapters.embedded.local_index import LocalVectorIndex, Vectors, checked_rows
from creator_chat.domain.models import Chunk, SearchFilters, SearchHit
from creator_chat.errors import InvalidInput
from creator_chat.observability import logger


class EmbeddedVectorIndex:
    """``VectorIndex`` over the ``chunks`` table, searched through an in-memory mirror."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._memory = LocalVectorIndex()
        self._loaded: set[str] = set()
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()

    def _lock(self, creator_id: str) -> threading.RLock:
        with self._locks_guard:
            lock = self._locks.get(creator_id)
            if lock is None:
                lock = self._locks[creator_id] = threading.RLock()
            return lock

    # -- writes --------------------------------------------------------------------------
    def upsert(self, creator_id: str, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        """Insert chunks, replacing any chunk of this creator with the same id."""
        self._write(creator_id, None, chunks, vectors)

    def replace_document(
        self, creator_id: str, document_id: str, chunks: Sequence[Chunk], vectors: Vectors
    ) -> None:
        """Swap the document's chunks for ``chunks`` in one transaction."""
        self._write(creator_id, document_id, chunks, vectors)

    def _write(
        self,
        creator_id: str,
        replace_document: str | None,
        chunks: Sequence[Chunk],
        vectors: Vectors,
    ) -> None:
        matrix = checked_rows(creator_id, replace_document, chunks, vectors)
        dimension = int(matrix.shape[1]) if matrix is not None else 0
        touched: set[str] = {c.document_id for c in chunks}
        with self._db.transaction() as conn:
            if matrix is not None:
                row = conn.execute(
                    "SELECT dimension FROM chunks WHERE creator_id = ? AND document_id != ? "
                    "LIMIT 1",
                    (creator_id, replace_document or ""),
                ).fetchone()
                if row is not None and int(row[0]) != dimension:
                    raise InvalidInput(
                        f"vector dimension {dimension} != index dimension {int(row[0])}"
                    )
            if replace_document is not None:
                conn.execute(
                    "DELETE FROM chunks WHERE creator_id = ? AND document_id = ?",
                    (creator_id, replace_document),
                )
                touched.add(replace_document)
            elif chunks:
                # a chunk id moving to another document leaves its old document's rows stale
                marks = ",".join("?" * len(chunks))
                for old in conn.execute(
                    f"SELECT DISTINCT document_id FROM chunks WHERE creator_id = ? "  # noqa: S608
                    f"AND chunk_id IN ({marks})",
                    (creator_id, *[c.chunk_id for c in chunks]),
                ):
                    touched.add(str(old[0]))
            if matrix is not None:
                conn.executemany(
                    "INSERT OR REPLACE INTO chunks "
                    "(creator_id, chunk_id, document_id, dimension, data, vector) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            creator_id,
                            chunk.chunk_id,
                            chunk.document_id,
                            dimension,
                            json.dumps(asdict(chunk), separators=(",", ":")),
                            matrix[i].tobytes(),
                        )
                        for i, chunk in enumerate(chunks)
                    ],
                )
            self._db.after_commit(lambda: self._refresh(creator_id, touched))

    def delete_document(self, creator_id: str, document_id: str) -> int:
        with self._db.transaction() as conn:
            removed = conn.execute(
                "DELETE FROM chunks WHERE creator_id = ? AND document_id = ?",
                (creator_id, document_id),
            ).rowcount
            self._db.after_commit(lambda: self._refresh(creator_id, {document_id}))
        return int(removed)

    def _refresh(self, creator_id: str, document_ids: set[str]) -> None:
        """Mirror what the database now holds for these documents (after a commit)."""
        with self._lock(creator_id):
            if creator_id not in self._loaded:
                return  # loaded from the database, committed state included, on first use
            for document_id in document_ids:
                chunks, vectors = self._read(creator_id, document_id)
                if chunks:
                    self._memory.replace_document(creator_id, document_id, chunks, vectors)
                else:
                    self._memory.delete_document(creator_id, document_id)

    # -- reads ---------------------------------------------------------------------------
    def _read(
        self, creator_id: str, document_id: str | None = None
    ) -> tuple[list[Chunk], np.ndarray]:
        sql = "SELECT data, vector, dimension FROM chunks WHERE creator_id = ?"
        params: tuple[str, ...] = (creator_id,)
        if document_id is not None:
            sql += " AND document_id = ?"
            params = (creator_id, document_id)
        rows = self._db.query(sql + " ORDER BY document_id, chunk_id", params)
        chunks = [Chunk(**json.loads(r["data"])) for r in rows]
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        matrix = np.vstack([np.frombuffer(r["vector"], dtype=np.float32) for r in rows])
        return chunks, matrix

    def _ensure_loaded(self, creator_id: str) -> None:
        if creator_id in self._loaded:
            return
        with self._lock(creator_id):
            if creator_id in self._loaded:
                return
            started = time.perf_counter()
            chunks, matrix = self._read(creator_id)
            if chunks:
                self._memory.upsert(creator_id, chunks, matrix)
            self._loaded.add(creator_id)
            if chunks:
                logger.info(
                    "index loaded",
                    extra={
                        "creator_id": creator_id,
                        "chunks": len(chunks),
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )

    def search(
        self,
        creator_id: str,
        vector: Sequence[float],
        query_text: str,
        *,
        top_k: int,
        video_id: str | None = None,
        filters: SearchFilters | None = None,
    ) -> list[SearchHit]:
        self._ensure_loaded(creator_id)
        return self._memory.search(
            creator_id, vector, query_text, top_k=top_k, video_id=video_id, filters=filters
        )

    def chunks_for_video(self, creator_id: str, video_id: str, *, limit: int) -> list[Chunk]:
        self._ensure_loaded(creator_id)
        return self._memory.chunks_for_video(creator_id, video_id, limit=limit)

    def count(self, creator_id: str, document_id: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM chunks WHERE creator_id = ?"
        params: tuple[str, ...] = (creator_id,)
        if document_id is not None:
            sql += " AND document_id = ?"
            params = (creator_id, document_id)
        row = self._db.query_one(sql, params)
        return int(row[0]) if row else 0

    def preload(self) -> int:
        """Read every creator's rows into memory (at start, in the background, so that no
        fan's first question waits for it: ~0.7 s per 10,000 chunks); returns creators."""
        creators = [r[0] for r in self._db.query("SELECT DISTINCT creator_id FROM chunks")]
        for creator_id in creators:
            self._ensure_loaded(creator_id)
        return len(creators)

    # -- start-up check ------------------------------------------------------------------
    def verify(self) -> dict[str, int]:
        """Remove chunks whose document no longer exists (none can, unless the database was
        written by a release without units of work); returns what was found."""
        with self._db.transaction() as conn:
            orphans = conn.execute(
                "DELETE FROM chunks WHERE NOT EXISTS (SELECT 1 FROM documents d "
                "WHERE d.creator_id = chunks.creator_id AND d.document_id = chunks.document_id)"
            ).rowcount
        total = self._db.query_one("SELECT COUNT(*) FROM chunks")
        return {"chunks": int(total[0]) if total else 0, "orphans_removed": int(orphans)}
