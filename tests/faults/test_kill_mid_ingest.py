"""The local server killed with SIGKILL (or stopped with SIGTERM) in the middle of ingesting,
then restarted on the same data directory: every accepted document still ends ``done`` (or
``failed``).

Runs ``creator-chat serve`` as a real process, as in ``tests/e2e/test_restart.py``, and kills
it without warning. Every 2xx was a committed transaction in the embedded database, jobs
included: at start the runtime hands the jobs that were in flight back to the workers.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
import uuid
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
from creator_chat.auth import issue_dev_token
from creator_chat.domain.models import Role, Tier
from creator_chat.settings import Settings

from tests import serve_process
from tests.e2e.conftest import bearer, wait_for_documents

SECRET = "kill-test-secret-0123456789abcdef0123456789"
BATCH = 8  # documents per round: about 15 s of embedding on a 2-core machine
MAX_ROUNDS = 6
WORDS = ("knot", "loop", "bight", "rope", "hitch", "bowline", "sheet", "bend", "cleat", "coil")


def server(data_dir: Path) -> AbstractContextManager[tuple[str, subprocess.Popen[bytes]]]:
    return serve_process.server(data_dir, SECRET)


def marker(n: int) -> str:
    return f"zq{n:03d}kx"  # a word only document n holds


def transcript(n: int, sentences: int = 400) -> str:
    rng = random.Random(n)
    text = [
        " ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "." for _ in range(sentences)
    ]
    return " ".join([f"This knot is called the {marker(n)} knot.", *text])


def new_creator(api: httpx.Client, admin: str, slug_prefix: str) -> str:
    slug = f"{slug_prefix}-{uuid.uuid4().hex[:6]}"
    r = api.post("/v1/creators", json={"slug": slug, "name": slug}, headers=bearer(admin))
    assert r.status_code == 201, r.text
    return str(r.json()["creator_id"])


def post_documents(api: httpx.Client, admin: str, cid: str, accepted: list[str], n: int) -> None:
    """Post ``n`` more knot transcripts; their ids are appended to ``accepted``."""
    for _ in range(n):
        k = len(accepted)
        r = api.post(
            f"/v1/creators/{cid}/documents",
            json={"title": f"Knots {k}", "kind": "text", "content": transcript(k)},
            headers=bearer(admin),
        )
        assert r.status_code == 202, r.text
        accepted.append(r.json()["document"]["document_id"])


def test_sigkill_mid_ingest_then_restart_every_accepted_document_ends_done(tmp_path: Path):
    settings = Settings(jwt_secret=SECRET)
    admin = issue_dev_token(settings, user_id="admin-k", role=Role.ADMIN, tier=Tier.ENTERPRISE)
    accepted: list[str] = []
    with server(tmp_path) as (url, proc), httpx.Client(base_url=url, timeout=30) as api:
        cid = new_creator(api, admin, "kill")
        in_flight: list[str] = []
        for _round in range(MAX_ROUNDS):
            post_documents(api, admin, cid, accepted, BATCH)
            # no waiting for anything to reach the disk: every 202 above was committed
            statuses = {
                d["document_id"]: d["status"]
                for d in api.get(f"/v1/creators/{cid}/documents", headers=bearer(admin)).json()[
                    "documents"
                ]
            }
            in_flight = [d for d in accepted if statuses.get(d) in ("queued", "processing")]
            if in_flight:
                break  # mid-ingest: kill now
        assert in_flight, "every document was done before the kill: nothing to recover"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    with server(tmp_path) as (url, _proc), httpx.Client(base_url=url, timeout=30) as api:
        docs = wait_for_documents(api, admin, cid, timeout_s=300)
        by_id = {d["document_id"]: d for d in docs}
        assert len(by_id) == len(docs)  # no document twice
        # every accepted document is there and settled; its content was intact, so done
        assert set(accepted) <= set(by_id), set(accepted) - set(by_id)
        settled = {d: by_id[d]["status"] for d in accepted}
        assert set(settled.values()) <= {"done", "failed"}, settled
        assert set(settled.values()) == {"done"}, [by_id[d] for d in accepted]
        assert all(by_id[d]["chunk_count"] > 0 for d in accepted)
        # and what was in flight at the kill is searchable now
        for document_id in in_flight:
            n = int(by_id[document_id]["title"].removeprefix("Knots "))
            hits = api.post(
                f"/v1/creators/{cid}/search",
                json={"query": f"the {marker(n)} knot", "top_k": 3},
                headers=bearer(admin),
            ).json()["results"]
            assert [h["document_id"] for h in hits][:1] == [document_id], hits[:1]


def test_sigterm_mid_ingest_saves_what_was_just_accepted_and_the_restart_finishes_it(
    tmp_path: Path,
):
    """``kill``/``docker stop`` (SIGTERM) is a graceful stop, like Ctrl-C: the process exits 0
    without waiting for the worker's batch (even when signalled twice), and the next start
    finishes every document accepted before the signal."""
    settings = Settings(jwt_secret=SECRET)
    admin = issue_dev_token(settings, user_id="admin-t", role=Role.ADMIN, tier=Tier.ENTERPRISE)
    accepted: list[str] = []
    with server(tmp_path) as (url, proc), httpx.Client(base_url=url, timeout=30) as api:
        cid = new_creator(api, admin, "term")
        post_documents(api, admin, cid, accepted, BATCH)
        # a second signal (an impatient supervisor or user) must not turn a graceful stop
        # into a crash
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0

    with server(tmp_path) as (url, _proc), httpx.Client(base_url=url, timeout=30) as api:
        docs = wait_for_documents(api, admin, cid, timeout_s=300)
        by_id = {d["document_id"]: d["status"] for d in docs}
        assert set(accepted) <= set(by_id), set(accepted) - set(by_id)
        assert {by_id[d] for d in accepted} == {"done"}, by_id
