"""Streamed answers through the local gateway's WebSocket (``/v1/stream``): time to the first
delta and to ``done``, for the local extractive generator and for the Bedrock adapter on a
stub that streams at a model's pace (first token after 400 ms, then 30 tokens/s), next to
the same questions over the HTTP route (which waits for the whole answer).

The path's own overhead is the first delta minus the stub's first-token delay: everything
the product adds before a fan sees the first word (gateway, authorizer at connect, quota,
thread write, retrieval, prompt, the socket).

    python bench/streaming.py [--n 30]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
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
from creator_chat.adapters.aws.bedrock_generator import BedrockConverseGenerator
from creator_chat.auth import issue_dev_token
from creator_chat.domain.models import Role, Tier
from creator_chat.local.bedrock_stub import PacedConverseStub
from creator_chat.local.runtime import LocalRuntime
from creator_chat.settings import Settings
from websockets.sync.client import connect

DEMO = "cr_bench-shot"
FIRST_TOKEN_S = 0.4
TOKENS_PER_S = 30.0


def wait_ready(client: httpx.Client) -> None:
    while True:
        docs = client.get(f"/v1/creators/{DEMO}/documents").json()["documents"]
        if docs and all(d["status"] in ("done", "failed") for d in docs):
            return
        time.sleep(0.2)


def stream_once(ws, question: str) -> tuple[float, float, int]:
    """(ms to the first delta, ms to done, deltas) for one question."""
    started = time.perf_counter()
    ws.send(json.dumps({"action": "chat", "creator_id": DEMO, "message": question}))
    first = None
    deltas = 0
    while True:
        msg = json.loads(ws.recv(timeout=60))
        now = (time.perf_counter() - started) * 1000
        if msg["type"] == "delta":
            deltas += 1
            first = now if first is None else first
        elif msg["type"] == "done":
            return (first if first is not None else now), now, deltas
        else:
            raise RuntimeError(f"unexpected message: {msg}")


def run(rt: LocalRuntime, label: str, questions: list[str], settings: Settings) -> list[float]:
    tok = issue_dev_token(
        settings, user_id=f"bench-stream-{label}", role=Role.FAN, tier=Tier.ENTERPRISE
    )
    url = rt.url.replace("http://", "ws://") + f"/v1/stream?token={tok}"
    firsts, dones, pieces = [], [], []
    with httpx.Client(base_url=rt.url, headers={"Authorization": f"Bearer {tok}"}) as client:
        for i, q in enumerate(questions):  # warm: models, the sentence embeddings
            client.post(
                f"/v1/creators/{DEMO}/chat", json={"message": f"{q} (warm {i})"}, timeout=60
            )
    with connect(url, open_timeout=10) as ws:
        # small frames both ways: no Nagle delay on the client's side either
        ws.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream_once(ws, "warm-up: what is a flat white?")
        for i, q in enumerate(questions):
            first, done, n = stream_once(ws, f"{q} ({label} {i})")
            firsts.append(first)
            dones.append(done)
            pieces.append(n)
    http = []
    with httpx.Client(base_url=rt.url, headers={"Authorization": f"Bearer {tok}"}) as client:
        for i, q in enumerate(questions):
            t = time.perf_counter()
            r = client.post(
                f"/v1/creators/{DEMO}/chat",
                json={"message": f"{q} ({label}, http {i})"},
                timeout=60,
            )
            assert r.status_code == 200, r.text
            http.append((time.perf_counter() - t) * 1000)
    print(header(f"{label}: {len(questions)} questions, each in a new thread (no cache)"))
    print(row("WebSocket: first delta", firsts))
    print(row("WebSocket: done", dones))
    print(row("HTTP POST chat: the whole answer", http))
    print(row("deltas per answer", [float(n) for n in pieces], unit=""))
    return firsts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    os.environ.pop("AWS_ENDPOINT_URL", None)
    rt = LocalRuntime(port=0, data_dir=Path(tempfile.mkdtemp(prefix="bench-stream-"))).start()
    try:
        settings = Settings()
        admin = issue_dev_token(settings, user_id="bench-admin", role=Role.ADMIN, tier=Tier.FREE)
        with httpx.Client(base_url=rt.url, headers={"Authorization": f"Bearer {admin}"}) as c:
            wait_ready(c)
        questions = [
            q["question"]
            for q in json.loads(
                (resources.files("creator_chat") / "demo" / "questions.json").read_text()
            )["questions"]
        ]
        questions = (questions * (args.n // len(questions) + 1))[: args.n]
        run(rt, "local extractive generator", questions, settings)

        stub = PacedConverseStub(first_token_s=FIRST_TOKEN_S, tokens_per_s=TOKENS_PER_S)
        rt.container.__dict__["generator"] = BedrockConverseGenerator(stub, "stub.paced")
        firsts = run(rt, "Bedrock ConverseStream stub (400 ms, 30 tok/s)", questions, settings)
        median = statistics.median(firsts)
        overhead = median - FIRST_TOKEN_S * 1000
        print(
            f"\nfirst delta vs the stub's first token: {median:.0f} ms / "
            f"{FIRST_TOKEN_S * 1000:.0f} ms = {median / (FIRST_TOKEN_S * 1000):.2f}x; "
            f"the path's own overhead (median) {overhead:.0f} ms"
        )
    finally:
        rt.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
