"""A 2xx means the write survives ``kill -9``: SIGKILL at random points of mixed traffic.

A real ``creator-chat serve`` process takes ingests, chats (new threads and follow-ups) and
deletes from a few clients at once; at a random moment it is killed with SIGKILL, and the
data dir is checked as the crash left it (straight from the database file), then through the
API after a restart on the same data dir. Several rounds on one data dir. What must hold:
- every write answered 2xx is there (documents, threads and their messages) and every delete
  answered 2xx stays deleted;
- every chunk belongs to a listed document and every ``done`` document has its chunks;
- every document still ``queued``/``processing`` has its job in the queue, and after the
  restart every document ends ``done``.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from creator_chat.auth import issue_dev_token
from creator_chat.domain.models import Role, Tier
from creator_chat.settings import Settings

from tests import serve_process
from tests.e2e.conftest import bearer, wait_for_documents

SECRET = "crash-test-secret-0123456789abcdef0123456789"
ROUNDS = 3
CLIENTS = 4
TOPICS = ("bowline", "clove hitch", "sheet bend", "figure eight", "reef knot", "cleat hitch")


@dataclass
class Ledger:
    """What the server acknowledged (2xx), and what is uncertain (no answer: killed)."""

    documents: dict[str, str] = field(default_factory=dict)  # id -> topic
    deleted: set[str] = field(default_factory=set)
    maybe_deleted: set[str] = field(default_factory=set)
    threads: dict[str, tuple[str, set[str]]] = field(default_factory=dict)  # id -> (fan, msgs)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def live_documents(self) -> set[str]:
        return set(self.documents) - self.deleted - self.maybe_deleted


def _document_text(topic: str, n: int) -> str:
    return (
        f"The {topic} is knot number {n} of this course. "
        f"To tie the {topic}, form a loop, pass the end through and pull it tight. "
        f"The {topic} holds under load and unties easily afterwards."
    )


def _traffic(
    url: str,
    admin: str,
    fans: list[str],
    cid: str,
    ledger: Ledger,
    stop: threading.Event,
    seed: int,
) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=10) as api:
        while not stop.is_set():
            action = rng.choice(("ingest", "ingest", "chat", "chat", "chat", "delete"))
            try:
                if action == "ingest":
                    topic = rng.choice(TOPICS)
                    n = rng.randrange(10**9)
                    r = api.post(
                        f"/v1/creators/{cid}/documents",
                        json={
                            "title": f"{topic} {n}",
                            "kind": "text",
                            "content": _document_text(topic, n),
                        },
                        headers=bearer(admin),
                    )
                    if r.status_code in (200, 202):
                        with ledger.lock:
                            ledger.documents[r.json()["document"]["document_id"]] = topic
                elif action == "chat":
                    fan = rng.choice(fans)
                    with ledger.lock:
                        mine = [t for t, (f, _) in ledger.threads.items() if f == fan]
                    body: dict[str, str] = {"message": f"How do I tie the {rng.choice(TOPICS)}?"}
                    if mine and rng.random() < 0.5:
                        body["thread_id"] = rng.choice(mine)
                    r = api.post(f"/v1/creators/{cid}/chat", json=body, headers=bearer(fan))
                    if r.status_code in (200, 202):
                        out = r.json()
                        with ledger.lock:
                            _, messages = ledger.threads.setdefault(out["thread_id"], (fan, set()))
                            messages.add(out["message_id"])
                else:
                    with ledger.lock:
                        candidates = sorted(ledger.live_documents())
                    if not candidates:
                        continue
                    doc = rng.choice(candidates)
                    with ledger.lock:
                        ledger.maybe_deleted.add(doc)
                    r = api.delete(f"/v1/creators/{cid}/documents/{doc}", headers=bearer(admin))
                    if r.status_code in (200, 204):
                        with ledger.lock:
                            ledger.deleted.add(doc)
                            ledger.maybe_deleted.discard(doc)
            except httpx.HTTPError:
                return  # the server is gone: what was not answered is not acknowledged


def _check_database_as_the_crash_left_it(data_dir: Path, ledger: Ledger, cid: str) -> None:
    conn = sqlite3.connect(data_dir / "creator-chat.sqlite3")
    try:
        docs = {
            row[0]: (row[1], json.loads(row[2]))
            for row in conn.execute(
                "SELECT document_id, status, data FROM documents WHERE creator_id = ?", (cid,)
            )
        }
        chunks: dict[str, int] = {}
        for document_id, n in conn.execute(
            "SELECT document_id, COUNT(*) FROM chunks WHERE creator_id = ? GROUP BY document_id",
            (cid,),
        ):
            chunks[document_id] = n
        jobs = [json.loads(row[0]) for row in conn.execute("SELECT body FROM jobs")]
        threads = {row[0] for row in conn.execute("SELECT thread_id FROM threads")}
        messages = {row[0] for row in conn.execute("SELECT message_id FROM messages")}
    finally:
        conn.close()
    live = ledger.live_documents()
    assert live <= set(docs), f"acknowledged documents lost: {live - set(docs)}"
    back = {d: docs[d] for d in ledger.deleted & set(docs)}
    assert not back, f"documents deleted with a 2xx came back: {back}"
    assert set(chunks) <= set(docs), f"chunks without a document: {set(chunks) - set(docs)}"
    for document_id, (status, data) in docs.items():
        if status == "done":
            assert chunks.get(document_id, 0) == data["chunk_count"] > 0, (document_id, data)
        if status in ("queued", "processing"):
            # its ingest job, or for an upload ticket its expiry job
            assert any(data["job_id"] in (j.get("job_id"), j.get("ticket")) for j in jobs), (
                f"document {document_id} is {status} but its job is gone"
            )
    assert set(ledger.threads) <= threads, "acknowledged threads lost"
    acked = {m for _, msgs in ledger.threads.values() for m in msgs}
    assert acked <= messages, f"acknowledged messages lost: {acked - messages}"


def _check_through_the_api(api: httpx.Client, admin: str, cid: str, ledger: Ledger) -> None:
    listed = {
        d["document_id"]
        for d in api.get(f"/v1/creators/{cid}/documents", headers=bearer(admin)).json()["documents"]
    }
    assert ledger.live_documents() <= listed
    assert not (ledger.deleted & listed)
    for topic in TOPICS:
        hits = api.post(
            f"/v1/creators/{cid}/search",
            json={"query": f"how to tie the {topic}", "top_k": 50},
            headers=bearer(admin),
        ).json()["results"]
        assert {h["document_id"] for h in hits} <= listed, "a search found an unlisted document"
    for thread_id, (fan, acked) in ledger.threads.items():
        r = api.get(f"/v1/threads/{thread_id}/messages", headers=bearer(fan))
        assert r.status_code == 200, (thread_id, r.text)
        stored = {m["message_id"] for m in r.json()["messages"]}
        assert acked <= stored, (thread_id, acked - stored)


def test_sigkill_at_random_points_of_mixed_traffic_loses_no_acknowledged_write(tmp_path: Path):
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    settings = Settings(jwt_secret=SECRET)  # type: ignore[arg-type]
    admin = issue_dev_token(settings, user_id="admin-c", role=Role.ADMIN, tier=Tier.ENTERPRISE)
    fans = [
        issue_dev_token(settings, user_id=f"fan-c{i}", role=Role.FAN, tier=Tier.ENTERPRISE)
        for i in range(3)
    ]
    ledger = Ledger()
    cid = ""
    for round_ in range(ROUNDS):
        with serve_process.server(tmp_path, SECRET) as (url, proc):
            with httpx.Client(base_url=url, timeout=30) as api:
                if not cid:
                    slug = f"crash-{uuid.uuid4().hex[:6]}"
                    r = api.post(
                        "/v1/creators", json={"slug": slug, "name": "Knots"}, headers=bearer(admin)
                    )
                    cid = r.json()["creator_id"]
                else:
                    _check_through_the_api(api, admin, cid, ledger)
            stop = threading.Event()
            clients = [
                threading.Thread(
                    target=_traffic,
                    args=(url, admin, fans, cid, ledger, stop, seed * 100 + round_ * 10 + i),
                )
                for i in range(CLIENTS)
            ]
            for c in clients:
                c.start()
            # traffic has been acknowledged (a busy machine may take seconds for the first
            # chat, which loads the embedder), then the kill lands at a random point of it
            deadline = time.monotonic() + 60
            while not (ledger.documents and ledger.threads) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(rng.uniform(0.5, 3.0))
            proc.kill()  # SIGKILL, mid-traffic
            proc.wait(timeout=30)
            stop.set()
            for c in clients:
                c.join(timeout=30)
        _check_database_as_the_crash_left_it(tmp_path, ledger, cid)
        assert ledger.documents and ledger.threads, f"round {round_}: no traffic (seed {seed})"

    with (
        serve_process.server(tmp_path, SECRET) as (url, _proc),
        httpx.Client(base_url=url, timeout=30) as api,
    ):
        _check_through_the_api(api, admin, cid, ledger)
        docs = wait_for_documents(api, admin, cid, timeout_s=180)
        statuses = {d["document_id"]: d["status"] for d in docs}
        assert {statuses[d] for d in ledger.live_documents()} == {"done"}, statuses
