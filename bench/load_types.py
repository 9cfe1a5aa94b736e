"""Load by request type against a real `creator-chat serve` process, as a new user meets it.

Starts `creator-chat serve` (the embedded default, demo creator, a fresh data dir) in its own
process — or targets ``--url`` (loopback only) — and drives each request type alone for
``--seconds`` at each concurrency level, over that many keep-alive connections:

- ``health``: bare ``GET /health`` (the gateway and the chat function, nothing else);
- ``creators``: ``GET /v1/creators`` (authorizer + one read);
- ``chat cached``: a first-turn question in a new thread, answered from the response cache
  (quota, thread and both messages, usage and trending are still written);
- ``chat follow-up``: a follow-up in the connection's own thread (never cached: retrieval,
  generation and every write).

Every fan is on the enterprise tier (one user per connection) so the quota does not refuse.
Prints req/s, the ratio to ``health``, p50/p99 and the 5xx and transport errors, and the
server's RSS before and after. ``--soak-minutes M`` then runs the four types mixed for M
minutes, sampling the server's RSS every 30 s (memory must stay flat).

    python bench/load_types.py [--concurrency 50,200,1000] [--seconds 15] [--soak-minutes 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _table import pct
from creator_chat.auth import issue_dev_token
from creator_chat.domain.models import Role, Tier
from creator_chat.local.runtime import free_port
from creator_chat.local.secret import default_data_dir, read_secret
from creator_chat.settings import Settings

DEMO = "cr_bench-shot"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
FIRST_TURN = "How often should I backflush with detergent?"
FOLLOW_UPS = (
    "And how long does that take?",
    "What mistake do beginners make there?",
    "Is there a quicker way?",
    "Can you say more about that?",
)
TYPES = ("health", "creators", "chat cached", "chat follow-up")


@dataclass
class Result:
    kind: str
    concurrency: int
    seconds: float
    latencies: list[float]
    statuses: Counter[int]

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


@contextlib.contextmanager
def serve(data_dir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    # the embedded default as `make run` has it; other CREATOR_CHAT_ settings pass through
    skip = ("AWS_", "CREATOR_CHAT_STORAGE", "CREATOR_CHAT_DATA_DIR", "CREATOR_CHAT_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}  # with the secret
    cmd = [sys.executable, "-m", "creator_chat.cli", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(data_dir)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        yield url, proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_for_demo(url: str, admin: str) -> None:
    deadline = time.monotonic() + 300
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as client:
        while time.monotonic() < deadline:
            docs = client.get(f"/v1/creators/{DEMO}/documents").json()["documents"]
            if docs and all(d["status"] in ("done", "failed") for d in docs):
                return
            time.sleep(0.5)
    raise SystemExit("the demo creator was not ingested in time")


class World:
    """Tokens and follow-up threads for ``n`` connections."""

    def __init__(self, url: str, settings: Settings, n: int, tag: str) -> None:
        self.url = url
        self.tokens = [
            issue_dev_token(
                settings, user_id=f"load-{tag}-{i}", role=Role.FAN, tier=Tier.ENTERPRISE
            )
            for i in range(n)
        ]
        self.threads: list[str | None] = [None] * n

    async def prepare_threads(self, client: httpx.AsyncClient) -> None:
        async def one(i: int) -> None:
            r = await client.post(
                f"/v1/creators/{DEMO}/chat",
                json={"message": FIRST_TURN},
                headers={"Authorization": f"Bearer {self.tokens[i]}"},
            )
            r.raise_for_status()
            self.threads[i] = r.json()["thread_id"]

        sem = asyncio.Semaphore(50)

        async def bounded(i: int) -> None:
            async with sem:
                await one(i)

        await asyncio.gather(*(bounded(i) for i in range(len(self.tokens))))


class Connection:
    """One keep-alive HTTP/1.1 connection with pre-encoded requests: a load client must cost
    far less than the server it measures (httpx spends ~3 ms of CPU per request, which on a
    2-core machine made the client the bottleneck)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for header in head.split(b"\r\n")[1:]:
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def encode(method: str, path: str, host: str, token: str | None, body: object = None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def requests_for(kind: str, world: World, i: int, host: str) -> list[bytes]:
    """The requests connection ``i`` cycles through for ``kind``."""
    token = world.tokens[i]
    chat = f"/v1/creators/{DEMO}/chat"
    if kind == "health":
        return [encode("GET", "/health", host, None)]
    if kind == "creators":
        return [encode("GET", "/v1/creators", host, token)]
    if kind == "chat cached":
        return [encode("POST", chat, host, token, {"message": FIRST_TURN})]
    return [
        encode("POST", chat, host, token, {"message": q, "thread_id": world.threads[i]})
        for q in FOLLOW_UPS
    ]


async def drive(url: str, world: World, kinds: list[str], n: int, seconds: float) -> Result:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if "chat follow-up" in kinds and world.threads[0] is None:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
            await world.prepare_threads(client)
    plans = [[r for k in kinds for r in requests_for(k, world, i, parts.netloc)] for i in range(n)]
    start = time.perf_counter()
    deadline = start + seconds

    async def run(i: int) -> None:
        rng = random.Random(i)
        conn = Connection(host, port)
        try:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                try:
                    statuses[await conn.request(rng.choice(plans[i]))] += 1
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    statuses[0] += 1
                    conn.close()
                latencies.append((time.perf_counter() - t) * 1000)
        finally:
            conn.close()

    await asyncio.gather(*(run(i) for i in range(n)))
    return Result("+".join(kinds), n, time.perf_counter() - start, latencies, statuses)


def line(result: Result, health_rps: float) -> str:
    five = sum(v for s, v in result.statuses.items() if s >= 500)
    other = {s: v for s, v in result.statuses.items() if s not in (200, 202) and s < 500}
    ratio = result.rps / health_rps if health_rps else float("nan")
    return (
        f"| `{result.kind}` | {result.concurrency} | {result.rps:.1f} | {ratio:.3f} | "
        f"{pct(result.latencies, 50):,.0f} ms | {pct(result.latencies, 99):,.0f} ms | "
        f"{five} | {result.statuses.get(0, 0)} | {other or ''} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", default="50,200,1000")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--types", default=",".join(TYPES))
    parser.add_argument("--soak-minutes", type=float, default=0)
    parser.add_argument("--url", help="a running server on loopback (else one is started)")
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",") if x]
    kinds = [k.strip() for k in args.types.split(",") if k.strip()]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * max(levels) + 512)), hard))
    if not os.environ.get("CREATOR_CHAT_JWT_SECRET"):
        # the server started below signs with this one; a running one with its data dir's
        secret = read_secret(default_data_dir()) if args.url else secrets.token_urlsafe(48)
        if secret is None:
            raise SystemExit("set CREATOR_CHAT_JWT_SECRET or CREATOR_CHAT_DATA_DIR (the server's)")
        os.environ["CREATOR_CHAT_JWT_SECRET"] = secret
    settings = Settings()
    admin = issue_dev_token(settings, user_id="load-admin", role=Role.ADMIN, tier=Tier.ENTERPRISE)

    with contextlib.ExitStack() as stack:
        if args.url:
            if urlsplit(args.url).hostname not in LOOPBACK:
                raise SystemExit("--url must be a loopback address")
            url, pid = args.url.rstrip("/"), None
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="load-")))
            url, proc = stack.enter_context(serve(data_dir))
            pid = proc.pid
        wait_for_demo(url, admin)
        # warm up: the model is loaded and the first-turn answer is in the response cache
        warm = World(url, settings, 4, f"warm-{uuid.uuid4().hex[:4]}")
        asyncio.run(drive(url, warm, ["chat cached", "chat follow-up"], 4, 3))
        rss_start = rss_mb(pid) if pid else float("nan")
        print(f"\nload by request type through the local gateway ({url}), {args.seconds:.0f} s")
        print("| request | conns | req/s | vs `health` | p50 | p99 | 5xx | transport | other |")
        print("|---|---|---|---|---|---|---|---|---|")
        for n in levels:
            world = World(url, settings, n, f"c{n}-{uuid.uuid4().hex[:4]}")
            health_rps = 0.0
            for kind in kinds:
                result = asyncio.run(drive(url, world, [kind], n, args.seconds))
                if kind == "health":
                    health_rps = result.rps
                print(line(result, health_rps), flush=True)
        if pid:
            print(f"\nserver RSS: {rss_start:.0f} MB after warm-up, {rss_mb(pid):.0f} MB now")
        if args.soak_minutes > 0:
            n = levels[0]
            world = World(url, settings, n, f"soak-{uuid.uuid4().hex[:4]}")
            print(f"\nsoak: the four types mixed at {n} connections for {args.soak_minutes} min")
            end = time.monotonic() + args.soak_minutes * 60
            while time.monotonic() < end:
                step = min(30.0, end - time.monotonic())
                result = asyncio.run(drive(url, world, kinds, n, step))
                five = sum(v for s, v in result.statuses.items() if s >= 500)
                print(
                    f"  {result.rps:7.1f} req/s  p50 {pct(result.latencies, 50):6.0f} ms  "
                    f"5xx {five}  transport {result.statuses.get(0, 0)}  "
                    f"RSS {rss_mb(pid) if pid else float('nan'):.0f} MB",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
