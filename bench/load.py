"""Load: many concurrent fans chatting with several creators, through the local gateway.

Starts the local runtime in-process (the embedded default: the SQLite database in a fresh
data dir, local embedder, extractive generator, in-process cache) — or targets ``--url``
(loopback only) — creates three creators with a small document each next to the demo
creator, then, for each concurrency level,
drives that many simulated fans over that many connections until ``--requests`` requests
have been sent (or ``--max-seconds`` have passed). A fan asks first-turn questions (the same
few per creator, so most are served from the response cache) and follow-ups in its last
thread (``thread_id``: never cached). A quarter of the fans are on the free tier and share a
few user ids, so the hourly quota (50) triggers; the others are premium, one user each.

Reports requests/s, latency percentiles, the error rate (5xx and transport errors apart),
the 429s against the exact number the quota should refuse, and — in-process — where the
server's time goes: the gateway's worker pool, the authorizer, the chat function, and the
embedded database's write transactions (with the wait for the write lock) and reads. The
client shares the process (and its GIL) with the server here; ``bench/load_types.py``
measures a separate server process by request type.

    python bench/load.py [--concurrency 50,200,1000] [--requests 2000] [--url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import creator_chat.local  # noqa: F401  (quiet Powertools before it is imported)
from _table import pct
from creator_chat.auth import issue_dev_token
from creator_chat.domain.models import Role, Tier
from creator_chat.settings import Settings

DEMO = "cr_bench-shot"
FREE_SHARE = 4  # every 4th fan is on the free tier
FREE_REQUESTS_PER_USER = 100  # free fans share ids so each id asks ~twice its quota
FOLLOW_UP_SHARE = 0.4
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
API_GATEWAY_TIMEOUT_S = 29  # in AWS a request still running then is a 504

CREATORS = [
    (
        "Knot Lab",
        "A bowline makes a fixed loop that will not slip or jam under load. Tie it by making "
        "a small loop, passing the end up through it, around the standing part and back down. "
        "A clove hitch holds a rope to a post but can slip when the load changes direction.",
        ["Which knot makes a fixed loop?", "What does a clove hitch do?", "Does a bowline jam?"],
    ),
    (
        "Sourdough Shed",
        "Feed the starter twice a day with equal weights of flour and water. Bulk fermentation "
        "takes four to six hours at twenty four degrees. Bake at two hundred fifty degrees with "
        "steam for twenty minutes, then uncovered until the crust is deep brown.",
        ["How often do I feed the starter?", "How long is bulk fermentation?", "How hot?"],
    ),
    (
        "Bike Bench",
        "Check tyre pressure every week: road tyres run at six to eight bar. Clean and lube the "
        "chain every three hundred kilometres. Replace brake pads when the groove is gone. A "
        "worn chain stretches and wears the cassette, so measure it with a chain checker.",
        ["What pressure for road tyres?", "When do I lube the chain?", "When are pads worn?"],
    ),
]
FOLLOW_UPS = [
    "Can you say more about that?",
    "And how long does that take?",
    "What mistake do beginners make there?",
    "Is there a quicker way?",
]


# ------------------------------------------------------------------- instrumentation
class Timers:
    """Thread-safe sums of durations (ms) and counts by name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ms: defaultdict[str, float] = defaultdict(float)
        self.n: Counter[str] = Counter()

    def add(self, name: str, ms: float) -> None:
        with self._lock:
            self.ms[name] += ms
            self.n[name] += 1

    def reset(self) -> None:
        with self._lock:
            self.ms.clear()
            self.n.clear()


TIMERS = Timers()


def instrument_database() -> None:
    """Time the embedded database: write transactions (waiting for the process's write lock
    included) and reads, as the handlers make them."""
    from creator_chat.adapters.embedded.database import Database

    transaction, query, query_one = Database.transaction, Database.query, Database.query_one

    @contextlib.contextmanager
    def timed_transaction(self: Database) -> Iterator[Any]:
        outer = not self.in_transaction
        t = time.perf_counter()
        with transaction(self) as conn:
            if outer:
                TIMERS.add("sqlite write lock: wait", (time.perf_counter() - t) * 1000)
            yield conn
        if outer:
            TIMERS.add("sqlite write transactions", (time.perf_counter() - t) * 1000)

    def timed(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        def wrapper(self: Database, *args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(self, *args, **kwargs)
            finally:
                TIMERS.add(name, (time.perf_counter() - t) * 1000)

        return wrapper

    Database.transaction = timed_transaction  # type: ignore[method-assign]
    Database.query = timed(query, "sqlite reads")  # type: ignore[method-assign]
    Database.query_one = timed(query_one, "sqlite reads")  # type: ignore[method-assign]


def instrument_gateway() -> None:
    """Time each request in the gateway and each Lambda invocation, by function."""
    from creator_chat.local.gateway import LocalFunction, LocalGateway

    dispatch = LocalGateway.dispatch
    invoke = LocalFunction.invoke

    async def timed_dispatch(self: LocalGateway, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return await dispatch(self, **kwargs)
        finally:
            TIMERS.add("gateway (request in → response out)", (time.perf_counter() - t) * 1000)

    def timed_invoke(self: LocalFunction, event: dict[str, Any]) -> Any:
        t = time.perf_counter()
        try:
            return invoke(self, event)
        finally:
            TIMERS.add(f"function {self.name}", (time.perf_counter() - t) * 1000)

    LocalGateway.dispatch = timed_dispatch  # type: ignore[method-assign]
    LocalFunction.invoke = timed_invoke  # type: ignore[method-assign]


# ------------------------------------------------------------------------ the world
@dataclass
class Target:
    creator_id: str
    questions: list[str]


@dataclass
class Fan:
    user_id: str
    tier: Tier
    token: str
    target: Target
    rng: random.Random
    thread_id: str | None = None


@dataclass
class Outcome:
    latency_ms: float
    status: int  # 0: transport error
    kind: str  # first | follow
    user_id: str
    cached: bool = False
    error: str = ""


@dataclass
class LevelResult:
    concurrency: int
    seconds: float
    outcomes: list[Outcome]
    expected_429: int
    server: dict[str, tuple[float, int]] = field(default_factory=dict)
    cpu_s: float = 0.0  # this process's CPU time (client and, in-process, the server)


def wait_for_documents(client: httpx.Client, creator_id: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        docs = client.get(f"/v1/creators/{creator_id}/documents").json()["documents"]
        if docs and all(d["status"] in ("done", "failed") for d in docs):
            return
        time.sleep(0.2)
    raise SystemExit(f"documents of {creator_id} were not ingested in time")


def build_world(url: str, settings: Settings) -> list[Target]:
    admin = issue_dev_token(settings, user_id="load-admin", role=Role.ADMIN, tier=Tier.ENTERPRISE)
    run = uuid.uuid4().hex[:6]
    targets: list[Target] = []
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=60
    ) as client:
        for n, (name, text, questions) in enumerate(CREATORS):
            r = client.post("/v1/creators", json={"slug": f"load-{n}-{run}", "name": name})
            r.raise_for_status()
            creator_id = r.json()["creator_id"]
            doc = client.post(
                f"/v1/creators/{creator_id}/documents",
                json={"title": f"{name} notes", "kind": "text", "content": text},
            )
            doc.raise_for_status()
            targets.append(Target(creator_id, questions))
        demo = json.loads((resources.files("creator_chat") / "demo" / "questions.json").read_text())
        targets.append(Target(DEMO, [q["question"] for q in demo["questions"]][:6]))
        for target in targets:
            wait_for_documents(client, target.creator_id)
    return targets


def make_fans(
    settings: Settings, targets: list[Target], concurrency: int, requests: int, level: str
) -> tuple[list[Fan], int]:
    """``concurrency`` fans; returns them and how many free-tier ids they share."""
    free_fans = concurrency // FREE_SHARE
    free_requests = requests * free_fans / max(1, concurrency)
    free_ids = max(1, round(free_requests / FREE_REQUESTS_PER_USER))
    fans: list[Fan] = []
    for n in range(concurrency):
        free = n % FREE_SHARE == 0
        tier = Tier.FREE if free else Tier.PREMIUM
        user_id = f"load-{level}-free-{n % free_ids}" if free else f"load-{level}-fan-{n}"
        token = issue_dev_token(settings, user_id=user_id, role=Role.FAN, tier=tier)
        fans.append(Fan(user_id, tier, token, targets[n % len(targets)], random.Random(n)))
    return fans, free_ids


# -------------------------------------------------------------------------- driving
async def drive(
    url: str, fans: list[Fan], requests: int, max_seconds: float, timeout_s: float
) -> tuple[list[Outcome], float]:
    outcomes: list[Outcome] = []
    issued = 0
    limits = httpx.Limits(max_connections=len(fans), max_keepalive_connections=len(fans))
    start = time.perf_counter()
    deadline = start + max_seconds

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout_s) as client:

        async def run(fan: Fan) -> None:
            nonlocal issued
            while issued < requests and time.perf_counter() < deadline:
                issued += 1
                follow = fan.thread_id is not None and fan.rng.random() < FOLLOW_UP_SHARE
                body: dict[str, Any] = {
                    "message": fan.rng.choice(FOLLOW_UPS if follow else fan.target.questions)
                }
                if follow:
                    body["thread_id"] = fan.thread_id
                t = time.perf_counter()
                try:
                    r = await client.post(
                        f"/v1/creators/{fan.target.creator_id}/chat",
                        json=body,
                        headers={"Authorization": f"Bearer {fan.token}"},
                    )
                except httpx.HTTPError as err:
                    ms = (time.perf_counter() - t) * 1000
                    outcomes.append(
                        Outcome(
                            ms,
                            0,
                            "follow" if follow else "first",
                            fan.user_id,
                            error=type(err).__name__,
                        )
                    )
                    continue
                ms = (time.perf_counter() - t) * 1000
                cached = False
                if r.status_code in (200, 202):
                    data = r.json()
                    cached = bool(data.get("cached"))
                    fan.thread_id = data["thread_id"]
                outcomes.append(
                    Outcome(ms, r.status_code, "follow" if follow else "first", fan.user_id, cached)
                )

        await asyncio.gather(*(run(f) for f in fans))
    return outcomes, time.perf_counter() - start


def expected_quota_refusals(outcomes: list[Outcome], fans: list[Fan], limit: int) -> int:
    """What an exact quota refuses: everything a free id asked beyond its limit (every
    request reached the quota check, so a 5xx or transport error counts as asked)."""
    free = {f.user_id for f in fans if f.tier is Tier.FREE}
    asked = Counter(o.user_id for o in outcomes if o.user_id in free and o.status != 0)
    return sum(max(0, n - limit) for n in asked.values())


# ------------------------------------------------------------------------- reporting
def summary_line(result: LevelResult) -> str:
    out = result.outcomes
    lat = [o.latency_ms for o in out]
    status = Counter(o.status for o in out)
    ok = status[200] + status[202]
    five = sum(n for s, n in status.items() if s >= 500)
    transport = status[0]
    other_4xx = sum(n for s, n in status.items() if 400 <= s < 500 and s != 429)
    errors = five + transport + other_4xx
    cached = sum(1 for o in out if o.cached)
    slow = sum(1 for o in out if o.latency_ms > API_GATEWAY_TIMEOUT_S * 1000)
    return (
        f"{result.concurrency:>6} {len(out):>6} {result.seconds:>7.1f} "
        f"{len(out) / result.seconds:>7.1f} {pct(lat, 50):>8.0f} {pct(lat, 95):>8.0f} "
        f"{pct(lat, 99):>8.0f} {ok:>6} {cached:>6} {status[429]:>5}/{result.expected_429:<5} "
        f"{100 * errors / max(1, len(out)):>6.2f}% {five:>4} {transport:>5} {slow:>6}"
    )


HEADER = (
    f"{'conc':>6} {'reqs':>6} {'secs':>7} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
    f"{'p99 ms':>8} {'2xx':>6} {'cached':>6} {'429/exp':>11} {'errors':>7} {'5xx':>4} {'conn':>5} "
    f"{'>29 s':>6}"
)


def breakdown(result: LevelResult) -> Iterator[str]:
    n = max(1, len(result.outcomes))
    yield (
        f"\nwhere the server's time goes at {result.concurrency} connections (ms per request; "
        f"process CPU {result.cpu_s / result.seconds:.2f} cores busy):"
    )
    for name, (ms, calls) in sorted(result.server.items(), key=lambda kv: -kv[1][0]):
        if calls:
            yield f"  {name:<42} {ms / n:>9.1f}   ({calls} calls, {ms / calls:.2f} ms each)"


def raise_file_limit(connections: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, connections * 3 + 512))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", default="50,200,1000", help="comma-separated levels")
    parser.add_argument("--requests", type=int, default=2000, help="requests per level")
    parser.add_argument("--max-seconds", type=float, default=600, help="cap per level")
    parser.add_argument("--timeout", type=float, default=300, help="per request, seconds")
    parser.add_argument("--url", help="a running local server (loopback only)")
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",") if x]
    raise_file_limit(max(levels))

    runtime = None
    if args.url:
        if urlsplit(args.url).hostname not in LOOPBACK:
            raise SystemExit("--url must be a loopback address: this bench never leaves the host")
        from creator_chat.local.secret import default_data_dir, read_secret

        # signs tokens as `creator-chat token` does: the given secret, or the server's data dir's
        if not os.environ.get("CREATOR_CHAT_JWT_SECRET"):
            secret = read_secret(default_data_dir())
            if secret is None:
                raise SystemExit(
                    "set CREATOR_CHAT_JWT_SECRET or CREATOR_CHAT_DATA_DIR (the server's)"
                )
            os.environ["CREATOR_CHAT_JWT_SECRET"] = secret
        url = args.url.rstrip("/")
    else:
        from creator_chat.local.runtime import LocalRuntime

        instrument_database()
        instrument_gateway()
        data_dir = Path(tempfile.mkdtemp(prefix="load-"))
        os.environ.pop("AWS_ENDPOINT_URL", None)  # the embedded default, as `make run`
        # the 429s checked here are the hourly quota's: free ids shared by dozens of fans at
        # once would otherwise also meet their monthly token budget (each answer in flight
        # holds 6,700 tokens of it), which tests/*/test_token_budgets.py check instead
        os.environ.setdefault("CREATOR_CHAT_TOKEN_BUDGET_FREE", str(10**12))
        runtime = LocalRuntime(port=0, data_dir=data_dir).start()
        url = runtime.url
    settings = Settings()
    try:
        targets = build_world(url, settings)
        # warm up: models loaded, the response cache holds each first-turn answer once
        asyncio.run(drive(url, make_fans(settings, targets, 8, 64, "warm")[0], 64, 120, 60))
        results: list[LevelResult] = []
        for concurrency in levels:
            fans, free_ids = make_fans(
                settings,
                targets,
                concurrency,
                args.requests,
                f"c{concurrency}-{uuid.uuid4().hex[:4]}",
            )
            TIMERS.reset()
            cpu = time.process_time()
            outcomes, seconds = asyncio.run(
                drive(url, fans, args.requests, args.max_seconds, args.timeout)
            )
            result = LevelResult(
                concurrency,
                seconds,
                outcomes,
                expected_quota_refusals(outcomes, fans, settings.quota_free),
                {k: (TIMERS.ms[k], TIMERS.n[k]) for k in TIMERS.ms},
                cpu_s=time.process_time() - cpu,
            )
            results.append(result)
            print(
                f"{concurrency} connections: {len(outcomes)} requests in {seconds:.1f} s "
                f"({free_ids} free-tier ids shared by {concurrency // FREE_SHARE} fans)",
                file=sys.stderr,
            )
        print(f"\nchat load through the local gateway ({'in-process runtime' if runtime else url})")
        print(HEADER)
        for result in results:
            print(summary_line(result))
        print(
            "\n429/exp: quota refusals seen / what an exact hourly quota of "
            f"{settings.quota_free} refuses; errors: 5xx, transport errors and 4xx other than "
            "429, as a share of all requests; conn: transport errors; >29 s: answers slower "
            "than API Gateway's integration timeout (a 504 in AWS)"
        )
        for result in results:
            errors = Counter(o.error for o in result.outcomes if o.error)
            statuses = Counter(o.status for o in result.outcomes)
            print(
                f"\n{result.concurrency} connections: statuses {dict(sorted(statuses.items()))}"
                + (f", transport errors {dict(errors)}" if errors else "")
            )
            if result.server:
                for line in breakdown(result):
                    print(line)
    finally:
        if runtime is not None:
            runtime.stop()
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
