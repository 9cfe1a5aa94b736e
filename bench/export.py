"""The GDPR export's cost against the size of an account: 10, 100 and 1000 threads of a few
messages each, on the embedded database (what `creator-chat serve` uses) and on DynamoDB/S3
in moto on loopback (the AWS adapters; moto adds an HTTP round trip per request and walks
its whole table for every query, which real DynamoDB does not).

For each size it prints the time to build the export as the API does now (a fixed number of
store queries: ``list_user_messages``), the same with the per-thread reads the export used
before (one ``list_messages`` and one feedback query per thread; skipped past ``--before-max``
threads on moto, where it grows with threads x table size), and an export job's whole run
(build, encode, write the file). Other users' threads sit in the same tables.

    python bench/export.py [--sizes 10,100,1000] [--messages 4] [--family both]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import creator_chat.local  # noqa: F401  (quiet Powertools before it is imported)
from boto3.dynamodb.conditions import Key
from creator_chat.container import Container
from creator_chat.domain.models import Feedback, Identity, Message, Role, Thread, Tier
from creator_chat.ids import sortable_id
from creator_chat.settings import Settings
from creator_chat.usecases import exports


def fill(c: Container, user: str, threads: int, messages: int) -> None:
    """``threads`` threads of ``messages`` messages (question, answer, ...), each answer rated
    once, as the chat writes them."""
    for i in range(threads):
        now = int(c.clock.now())
        t = Thread(f"th_{uuid.uuid4().hex[:16]}", user, "cr_bench", now, now, now + 7 * 86400)

        def msg(k: int, t: Thread = t, now: int = now, i: int = i) -> Message:
            role = "user" if k % 2 == 0 else "assistant"
            text = f"{role} message {k} of thread {i}: " + "grind size and dose " * 8
            return Message(sortable_id(time.time()), t.thread_id, user, "cr_bench", role, text, now)

        c.threads.create_thread(t, msg(0))
        last = None
        for k in range(1, messages):
            last = msg(k)
            c.threads.append_message(t, last)
        if last is not None:
            c.threads.put_feedback(
                Feedback(last.message_id, user, "cr_bench", t.thread_id, "up", "", now)
            )


def per_thread_export(c: Container, user: str) -> dict[str, Any]:
    """The export as it was built before: a message query (and, on DynamoDB, a feedback
    query) per thread."""
    threads = [
        {**asdict(t), "messages": [asdict(m) for m in c.threads.list_messages(t.thread_id)]}
        for t in c.threads.list_threads(user, limit=10_000)
    ]
    if c.embedded:
        feedback = [asdict(f) for f in c.threads.list_feedback(user)]
    else:
        store: Any = c.threads
        feedback = [
            item
            for t in threads
            for item in store._query_all(
                KeyConditionExpression=Key("pk").eq(f"THREAD#{t['thread_id']}")
                & Key("sk").begins_with("FEEDBACK#")
            )
        ]
    return {"threads": threads, "feedback": feedback}


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def container_for(family: str) -> Container:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-export-"))
    if family == "embedded":
        return Container(Settings(storage="embedded", data_dir=data_dir, resource_prefix="bench"))
    from creator_chat.local.emulator import Emulator
    from creator_chat.local.provision import provision

    os.environ["AWS_ENDPOINT_URL"] = Emulator().start()
    settings = Settings(
        storage="aws", resource_prefix=f"bx{uuid.uuid4().hex[:6]}", data_dir=data_dir
    )
    provision(settings)
    return Container(settings)


def measure(family: str, sizes: list[int], messages: int, before_max: int) -> None:
    c = container_for(family)
    where = "embedded database" if family == "embedded" else "DynamoDB + S3 in moto on loopback"
    print(f"\nGDPR export, {where}, {messages} messages per thread")
    columns = ("threads", 8), ("messages", 9), ("now (s)", 9), ("before (s)", 11), ("job (s)", 9)
    print(" ".join(f"{name:>{width}}" for name, width in columns), f"{'file':>9}")
    noise = f"noise-{uuid.uuid4().hex[:6]}"
    fill(c, noise, 100, messages)  # someone else's data
    exports.build_export(c, noise)  # warm: connections, prepared statements
    for n in sizes:
        user = f"bench-{n}-{uuid.uuid4().hex[:6]}"
        fill(c, user, n, messages)
        now_s, built = timed(lambda user=user: exports.build_export(c, user))
        count = sum(len(t["messages"]) for t in built["threads"])
        assert len(built["threads"]) == n and count == n * messages
        before = "skipped"
        if family == "embedded" or n <= before_max:
            before_s, old = timed(lambda user=user: per_thread_export(c, user))
            assert old["threads"] == built["threads"]
            before = f"{before_s:.3f}"
        job = exports.request_export(c, Identity(user, Role.FAN, Tier.FREE))
        job_s, outcome = timed(
            lambda job=job, user=user: exports.run_export_job(
                c, {"export_id": job.export_id, "user_id": user}, final_attempt=True
            )
        )
        assert outcome == "ready"
        stored = c.exports.get_export(user, job.export_id)
        size = stored.size_bytes if stored else 0
        print(
            f"{n:>8} {count:>9} {now_s:>9.3f} {before:>11} {job_s:>9.3f} {size / 1e6:>7.2f}MB",
            flush=True,
        )
    c.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--messages", type=int, default=4)
    parser.add_argument("--family", choices=("embedded", "aws", "both"), default="both")
    parser.add_argument(
        "--before-max", type=int, default=300, help="largest size to run the old reads on moto"
    )
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    sizes = [int(s) for s in args.sizes.split(",")]
    families = ("embedded", "aws") if args.family == "both" else (args.family,)
    for family in families:
        measure(family, sizes, args.messages, args.before_max)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
