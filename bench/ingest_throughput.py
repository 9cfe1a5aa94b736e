"""Ingest throughput end to end on the local runtime (HTTP → S3 → SQS → worker → parse →
chunk → embed → index), for the demo corpus and for synthetic transcript minutes, next to
the raw embedder throughput on the same chunk texts measured in the same run.

    python bench/ingest_throughput.py [--minutes 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import creator_chat.local  # noqa: F401  (quiet Powertools before it is imported)
import httpx
from creator_chat.adapters.embedded.local_embedder import LocalEmbedder
from creator_chat.auth import issue_dev_token
from creator_chat.content import chunk_document, parse
from creator_chat.domain.models import DocumentKind, Role, Tier
from creator_chat.local.runtime import LocalRuntime
from creator_chat.settings import Settings

WORDS = [
    "grind",
    "dose",
    "yield",
    "shot",
    "espresso",
    "milk",
    "steam",
    "pitcher",
    "temperature",
    "pressure",
    "basket",
    "tamp",
    "puck",
    "channel",
    "bean",
    "roast",
    "acidity",
    "sweetness",
    "body",
    "crema",
    "extraction",
    "ratio",
    "seconds",
    "grams",
    "boiler",
    "pump",
    "gasket",
    "descale",
    "water",
    "hardness",
    "filter",
    "burr",
    "retention",
    "static",
    "dial",
]


def synthetic_vtt(minutes: int, seed: int) -> str:
    rng = random.Random(seed)
    lines = ["WEBVTT", ""]
    t = 0.0
    while t < minutes * 60:
        d = rng.uniform(2.5, 5.0)
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 14))).capitalize() + "."
        lines += [f"{_ts(t)} --> {_ts(t + d)}", text, ""]
        t += d
    return "\n".join(lines)


def _ts(s: float) -> str:
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{sec:06.3f}"


def ingest(api: httpx.Client, creator: str, docs: list[dict]) -> tuple[float, int]:
    start = time.perf_counter()
    for d in docs:
        r = api.post(f"/v1/creators/{creator}/documents", json=d)
        assert r.status_code in (200, 202), r.text
    while True:
        listed = api.get(f"/v1/creators/{creator}/documents").json()["documents"]
        if all(x["status"] in ("done", "failed") for x in listed):
            break
        time.sleep(0.1)
    assert all(x["status"] == "done" for x in listed), listed
    return time.perf_counter() - start, sum(x["chunk_count"] for x in listed)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=1000)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="ingest-bench-"))  # the runtime needs one
    rt = LocalRuntime(port=0, data_dir=data_dir, seed_demo=False).start()
    admin = issue_dev_token(Settings(), user_id="bench", role=Role.ADMIN, tier=Tier.ENTERPRISE)
    api = httpx.Client(base_url=rt.url, headers={"Authorization": f"Bearer {admin}"}, timeout=60)

    demo = resources.files("creator_chat") / "demo"
    manifest = json.loads((demo / "manifest.json").read_text())["documents"]
    demo_docs = [
        {
            "title": d["title"],
            "kind": d["kind"],
            "source_url": d["source_url"] or "",
            "content": (demo / d["file"]).read_text(),
        }
        for d in manifest
    ]
    per_doc = 50  # minutes per synthetic transcript
    synth_docs = [
        {
            "title": f"Synthetic {i}",
            "kind": "vtt",
            "source_url": f"https://www.youtube.com/watch?v=synth{i:06d}",
            "content": synthetic_vtt(per_doc, i),
        }
        for i in range(max(1, args.minutes // per_doc))
    ]

    rows = []
    for name, docs in (
        ("demo corpus", demo_docs),
        (f"{args.minutes} synthetic transcript minutes", synth_docs),
    ):
        cid = api.post(
            "/v1/creators", json={"slug": f"bench-{len(rows)}-{int(time.time())}", "name": name}
        ).json()["creator_id"]
        seconds, chunks = ingest(api, cid, docs)
        texts = [
            c.text
            for d in docs
            for c in chunk_document(
                parse(DocumentKind(d["kind"]), d["content"].encode()),
                creator_id="x",
                document_id="d",
                title=d["title"],
                source_url="",
            )
        ]
        embedder = LocalEmbedder()
        embedder.embed(texts[:4])  # loaded before timing
        t = time.perf_counter()
        embedder.embed(texts)
        raw = time.perf_counter() - t
        rows.append((name, len(docs), chunks, seconds, chunks / seconds, len(texts) / raw))
    rt.stop()
    print(
        f"\n{'ingest (local runtime, 2 cores)':<40} {'docs':>5} {'chunks':>7} {'seconds':>8} "
        f"{'chunks/s':>9} {'raw embed chunks/s':>19}"
    )
    for name, n, chunks, seconds, rate, raw in rows:
        print(f"{name:<40} {n:>5} {chunks:>7} {seconds:>8.1f} {rate:>9.1f} {raw:>19.1f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
