"""Latency of the local runtime, warm: GET /v1/creators through the gateway, the chat path
excluding the generator (by step), and a cached reply. The embedded default (SQLite in a
fresh data dir), as `creator-chat serve` runs it.

    python bench/chat_path.py [--n 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import creator_chat.local  # noqa: F401  (quiet Powertools before it is imported)
from _table import header, row
from creator_chat.auth import issue_dev_token
from creator_chat.container import container_from_env
from creator_chat.domain.models import Identity, Role, Tier
from creator_chat.local.runtime import LocalRuntime
from creator_chat.settings import Settings
from creator_chat.usecases import chat as chat_uc

DEMO = "cr_bench-shot"


def wait_ready(client: httpx.Client) -> None:
    while True:
        docs = client.get(f"/v1/creators/{DEMO}/documents").json()["documents"]
        if docs and all(d["status"] in ("done", "failed") for d in docs):
            return
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100)
    args = parser.parse_args()
    os.environ.pop("AWS_ENDPOINT_URL", None)
    rt = LocalRuntime(port=0, data_dir=Path(tempfile.mkdtemp(prefix="chat-path-"))).start()
    settings = Settings()
    admin = issue_dev_token(settings, user_id="bench-admin", role=Role.ADMIN, tier=Tier.ENTERPRISE)
    client = httpx.Client(base_url=rt.url, headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    wait_ready(client)
    questions = [
        q["question"]
        for q in json.loads(
            (resources.files("creator_chat") / "demo" / "questions.json").read_text()
        )["questions"]
    ]

    for _ in range(20):  # warm up: models loaded, connections open
        client.get("/v1/creators")
    lat = []
    for _ in range(args.n):
        t = time.perf_counter()
        assert client.get("/v1/creators").status_code == 200
        lat.append((time.perf_counter() - t) * 1000)
    print(header("through the local gateway (HTTP → authorizer → handler → SQLite)"))
    print(row("GET /v1/creators", lat))

    # chat over HTTP: distinct questions per user (no response cache), enterprise quota
    http_chat, cached = [], []
    for i in range(args.n):
        tok = issue_dev_token(
            settings, user_id=f"bench-fan-{i}", role=Role.FAN, tier=Tier.ENTERPRISE
        )
        q = f"{questions[i % len(questions)]} (variant {i})"
        t = time.perf_counter()
        r = client.post(
            f"/v1/creators/{DEMO}/chat",
            json={"message": q},
            headers={"Authorization": f"Bearer {tok}"},
        )
        http_chat.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200 and not r.json()["cached"], r.text
    for i in range(args.n):
        tok = issue_dev_token(
            settings, user_id=f"bench-cached-{i}", role=Role.FAN, tier=Tier.ENTERPRISE
        )
        t = time.perf_counter()
        r = client.post(
            f"/v1/creators/{DEMO}/chat",
            json={"message": questions[0]},
            headers={"Authorization": f"Bearer {tok}"},
        )
        if i > 0:
            cached.append((time.perf_counter() - t) * 1000)
            assert r.json()["cached"], r.text
    print(row("POST chat (uncached, local generator)", http_chat))
    print(row("POST chat (cached first-turn reply)", cached))

    # the use case in-process: per-step timings, generator excluded
    deps = container_from_env()
    steps: dict[str, list[float]] = {}
    totals = []
    for i in range(args.n):
        who = Identity(f"bench-steps-{i}", Role.FAN, Tier.ENTERPRISE)
        result = chat_uc.ask(deps, who, DEMO, f"{questions[i % len(questions)]} (steps {i})")
        for step, ms in result.timings_ms.items():
            steps.setdefault(step, []).append(ms)
        totals.append(sum(ms for s, ms in result.timings_ms.items() if s != "generate"))
    print(header("chat use case in-process, by step (warm)"))
    print(row("total excluding the generator", totals))
    grand = sum(statistics.median(v) for s, v in steps.items() if s != "generate")
    for step, values in sorted(steps.items(), key=lambda kv: -statistics.median(kv[1])):
        share = (
            ""
            if step == "generate"
            else f"  ({100 * statistics.median(values) / grand:.0f}% of non-generator)"
        )
        print(row(f"  {step}", values) + share)
    rt.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
