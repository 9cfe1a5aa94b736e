"""The embedded database's index path: what a commit, a start-up check and a cold load cost,
and SQLite's FTS5 against the in-memory BM25 for the keyword half.

Builds one creator with ``--chunks`` chunks (384-dim unit vectors, transcript-like text) in a
fresh database, then measures:
- committing one 100-chunk document (chunks + vectors in one transaction);
- ``verify()`` at start (orphan chunks removed, chunks counted);
- the first search of the creator after a start (all its rows read into memory);
- a warm hybrid search (in-memory cosine + BM25);
- FTS5's ``bm25()`` top-5 for the same query texts over the same chunks, for comparison.

    python bench/embedded_store.py [--chunks 10000] [--queries 200]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _table import header, row
from creator_chat.adapters.embedded.database import DATABASE_FILE, Database
from creator_chat.adapters.embedded.vector_index import EmbeddedVectorIndex
from creator_chat.domain.models import Chunk

WORDS = [
    "grind",
    "espresso",
    "shot",
    "tamp",
    "basket",
    "portafilter",
    "milk",
    "steam",
    "wand",
    "pitcher",
    "microfoam",
    "latte",
    "descale",
    "citric",
    "gasket",
    "backflush",
    "detergent",
    "group",
    "head",
    "temperature",
    "pressure",
    "bar",
    "dose",
    "yield",
    "ratio",
    "seconds",
    "bean",
    "roast",
    "fresh",
    "burr",
    "calibrate",
    "water",
    "hardness",
    "filter",
    "boiler",
    "pump",
]
DIM = 384


def text(rng: random.Random, n: int = 60) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    m = rng.standard_normal((n, DIM)).astype(np.float32)
    out: np.ndarray = m / np.linalg.norm(m, axis=1, keepdims=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng, nrng = random.Random(7), np.random.default_rng(7)
    folder = Path(tempfile.mkdtemp(prefix="embedded-store-"))
    db = Database(folder / DATABASE_FILE)
    index = EmbeddedVectorIndex(db)
    creator = "cr_bench"
    per_doc = 100
    commit_ms: list[float] = []
    for d in range(args.chunks // per_doc):
        doc = f"doc_{d}"
        chunks = [
            Chunk(f"{doc}-{i}", creator, doc, text(rng), f"Video {d}", ordinal=i)
            for i in range(per_doc)
        ]
        vectors = unit(nrng, per_doc)
        t = time.perf_counter()
        with db.transaction():
            db.execute(
                "INSERT OR REPLACE INTO documents (creator_id, document_id, status, created_at, "
                "data) VALUES (?, ?, 'done', 0, '{}')",
                (creator, doc),
            )
            index.replace_document(creator, doc, chunks, vectors)
        commit_ms.append((time.perf_counter() - t) * 1000)
    db.close()
    size_mb = (folder / DATABASE_FILE).stat().st_size / 1e6

    # a new process would do this: open, verify, then the creator's first search
    t = time.perf_counter()
    db = Database(folder / DATABASE_FILE)
    index = EmbeddedVectorIndex(db)
    verified = index.verify()
    verify_ms = (time.perf_counter() - t) * 1000
    queries = [text(rng, 6) for _ in range(args.queries)]
    qvecs = unit(nrng, args.queries)
    t = time.perf_counter()
    index.search(creator, qvecs[0], queries[0], top_k=5)
    first_ms = (time.perf_counter() - t) * 1000
    warm: list[float] = []
    for q, v in zip(queries, qvecs, strict=True):
        t = time.perf_counter()
        index.search(creator, v, q, top_k=5)
        warm.append((time.perf_counter() - t) * 1000)

    # FTS5 over the same texts, top-5 by bm25()
    conn = sqlite3.connect(folder / DATABASE_FILE)
    conn.execute("CREATE VIRTUAL TABLE fts USING fts5(chunk_id UNINDEXED, body)")
    t = time.perf_counter()
    conn.execute(
        "INSERT INTO fts (chunk_id, body) SELECT chunk_id, json_extract(data, '$.text') "
        "FROM chunks WHERE creator_id = ?",
        (creator,),
    )
    conn.commit()
    fts_build_ms = (time.perf_counter() - t) * 1000
    fts: list[float] = []
    for q in queries:
        match = " OR ".join(q.split())
        t = time.perf_counter()
        conn.execute(
            "SELECT chunk_id FROM fts WHERE fts MATCH ? ORDER BY bm25(fts) LIMIT 5", (match,)
        ).fetchall()
        fts.append((time.perf_counter() - t) * 1000)
    conn.close()

    print(f"\none creator, {verified['chunks']} chunks x {DIM} dims, database {size_mb:.0f} MB")
    print(header("embedded index"))
    print(row(f"commit one {per_doc}-chunk document", commit_ms))
    print(row("start: open + verify (orphans, count)", [verify_ms]))
    print(row("first search after a start (load rows)", [first_ms]))
    print(row("warm hybrid search, top-5 (in memory)", warm))
    print(row("FTS5 bm25() top-5, keyword half only", fts))
    print(row("FTS5 index build over the same chunks", [fts_build_ms]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
