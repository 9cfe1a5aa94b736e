"""Benchmark the embedded LocalVectorIndex: 100k x 384 float32 across 10 creators, top-5.

    python bench/vector_search.py [--chunks 100000] [--creators 10] [--queries 300]

Prints build time, per-query p50/p99 latency (dense only, hybrid, hybrid + video filter) and
the cost of persisting and cold-loading one creator's shard. Synthetic data: random unit
vectors and texts drawn from a Zipf-like vocabulary, so only the timings mean anything.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np
from creator_chat.adapters.embedded.local_index import LocalVectorIndex
from creator_chat.domain.models import Chunk

DIM = 384
TOP_K = 5
VOCAB = [f"w{i}" for i in range(5000)]


def percentile_ms(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples) * 1000.0, q))


def build_corpus(rng: np.random.Generator, n: int, creators: int) -> tuple[list[Chunk], np.ndarray]:
    vectors = rng.standard_normal((n, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    weights = 1.0 / np.arange(1, len(VOCAB) + 1)
    weights /= weights.sum()
    words = rng.choice(len(VOCAB), size=(n, 60), p=weights)
    chunks = [
        Chunk(
            chunk_id=f"c{i}",
            creator_id=f"creator-{i % creators}",
            document_id=f"doc-{i // 20}",
            text=" ".join(VOCAB[w] for w in words[i]),
            title=f"Video {i // 20}",
            video_id=f"video-{i // 20}",
            start_s=float(i % 20) * 30.0,
            ordinal=i % 20,
        )
        for i in range(n)
    ]
    return chunks, vectors


Query = tuple[str, list[float], str, str | None]  # creator, vector, text, video


def make_queries(rng: np.random.Generator, creators: int, n: int, *, video: bool) -> list[Query]:
    out: list[Query] = []
    for q in range(n):
        creator = q % creators
        vec = rng.standard_normal(DIM).astype(np.float32).tolist()
        text = " ".join(rng.choice(VOCAB[:500], size=6))
        video_id = f"video-{(int(rng.integers(0, 500)) * creators + creator) // 20}"
        out.append((f"creator-{creator}", vec, text, video_id if video else None))
    return out


def timed(index: LocalVectorIndex, queries: list[Query], *, text: bool) -> list[float]:
    gc.collect()
    samples = []
    for creator, vec, query_text, video_id in queries:
        start = time.perf_counter()
        hits = index.search(
            creator, vec, query_text if text else "", top_k=TOP_K, video_id=video_id
        )
        samples.append(time.perf_counter() - start)
        assert all(h.chunk.creator_id == creator for h in hits)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--creators", type=int, default=10)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(42)

    chunks, vectors = build_corpus(rng, args.chunks, args.creators)
    index = LocalVectorIndex()
    start = time.perf_counter()
    for c in range(args.creators):
        rows = [i for i in range(c, args.chunks, args.creators)]
        for b in range(0, len(rows), 1000):  # ingest-sized batches
            batch = rows[b : b + 1000]
            index.upsert(f"creator-{c}", [chunks[i] for i in batch], vectors[batch])
    build_s = time.perf_counter() - start

    plain = make_queries(rng, args.creators, args.queries, video=False)
    in_video = make_queries(rng, args.creators, args.queries, video=True)
    rows_out = [
        ("dense only", timed(index, plain, text=False)),
        # the first use of a query term after a write builds its posting arrays
        ("hybrid, cold", timed(index, plain, text=True)),
        ("hybrid, warm", timed(index, plain, text=True)),
        ("hybrid + video", timed(index, in_video, text=True)),
    ]

    per_creator = args.chunks // args.creators
    print(f"LocalVectorIndex: {args.chunks:,} chunks x {DIM} float32, {args.creators} creators "
          f"({per_creator:,} each), top-{TOP_K}, {args.queries} queries per row")  # fmt: skip
    print(f"build (in memory, batches of 1000): {build_s:.1f} s")
    print()
    print(f"{'query':<16} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, samples in rows_out:
        print(
            f"{name:<16} {percentile_ms(samples, 50):8.2f} {percentile_ms(samples, 99):8.2f} "
            f"{max(samples) * 1000:8.2f}"
        )
    print("\n(on disk, the embedded default keeps chunks in SQLite: bench/embedded_store.py)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
