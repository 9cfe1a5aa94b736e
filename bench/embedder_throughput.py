"""Throughput of the local embedder: cold load, memory, ingest and query speed.

Each thread setting runs in a fresh Python process, so the load time (imports + model +
first embedding) and the resident memory are what a cold Lambda or a new server pays.

    python bench/embedder_throughput.py [--threads 1,2] [--chunks 64] [--queries 50]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

_STARTED = time.perf_counter()

_WORDS = [
    "camera",
    "lens",
    "light",
    "softbox",
    "microphone",
    "audio",
    "gain",
    "stream",
    "upload",
    "thumbnail",
    "title",
    "edit",
    "cut",
    "color",
    "grade",
    "export",
    "render",
    "bitrate",
    "codec",
    "sponsor",
    "channel",
    "subscriber",
    "comment",
    "video",
    "frame",
    "scene",
    "script",
    "hook",
    "intro",
    "outro",
    "b-roll",
    "tripod",
    "gimbal",
    "focus",
    "exposure",
    "shutter",
    "iso",
    "white",
    "balance",
    "studio",
    "background",
    "green",
    "screen",
    "chroma",
    "key",
    "voice",
    "noise",
    "gate",
    "compressor",
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "for",
    "with",
    "on",
    "your",
    "you",
    "is",
    "it",
    "that",
    "this",
    "how",
    "why",
    "what",
    "when",
]


def rss_mb() -> float:
    """Resident memory now (Linux /proc), falling back to the peak from getrusage."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(threads: int, n_chunks: int, n_queries: int) -> dict[str, float]:
    from creator_chat.adapters.embedded.local_embedder import LocalEmbedder

    embedder = LocalEmbedder(threads=threads)
    embedder.embed(["warm up"])
    load_s = time.perf_counter() - _STARTED
    rss_after_load = rss_mb()

    rng = random.Random(7)
    # 400 words is more than 256 tokens, so every chunk is truncated to exactly 256.
    chunks = [" ".join(rng.choices(_WORDS, k=400)) for _ in range(n_chunks)]
    started = time.perf_counter()
    embedder.embed(chunks)
    chunks_per_s = n_chunks / (time.perf_counter() - started)

    queries = [" ".join(rng.choices(_WORDS, k=rng.randint(6, 14))) + "?" for _ in range(n_queries)]
    timings = []
    for query in queries:
        started = time.perf_counter()
        embedder.embed([query])
        timings.append(time.perf_counter() - started)

    return {
        "threads": threads,
        "load_s": load_s,
        "rss_mb": rss_after_load,
        "peak_rss_mb": rss_mb(),
        "chunks_per_s": chunks_per_s,
        "query_ms_p50": statistics.median(timings) * 1000,
        "query_ms_p90": statistics.quantiles(timings, n=10)[-1] * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated intra-op thread counts")
    parser.add_argument("--chunks", type=int, default=64, help="256-token chunks to embed")
    parser.add_argument("--queries", type=int, default=50, help="single queries to time")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(child(int(args.threads), args.chunks, args.queries)))
        return 0

    rows = []
    for threads in (int(t) for t in args.threads.split(",")):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--threads",
                str(threads),
                "--chunks",
                str(args.chunks),
                "--queries",
                str(args.queries),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))

    from creator_chat.adapters.embedded.local_embedder import MODEL_ID

    print(f"model: {MODEL_ID}  chunks: {args.chunks} x 256 tokens  queries: {args.queries}")
    header = (
        f"{'threads':>7} {'load s':>7} {'RSS MB':>7} {'peak MB':>8} "
        f"{'chunks/s':>9} {'query ms p50':>13} {'p90':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['threads']:>7} {r['load_s']:>7.2f} {r['rss_mb']:>7.0f} {r['peak_rss_mb']:>8.0f} "
            f"{r['chunks_per_s']:>9.1f} {r['query_ms_p50']:>13.2f} {r['query_ms_p90']:>6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
