"""GDPR: export returns all of a user's data; erase leaves none of it and nothing else."""

from __future__ import annotations

import time
import uuid

import httpx
from creator_chat.domain.models import Message, Thread
from creator_chat.ids import random_id, sortable_id
from creator_chat.local.runtime import LocalRuntime

from tests.e2e.conftest import DEMO, TokenFactory, bearer


def _rows_mentioning(runtime: LocalRuntime, text: str) -> dict[str, int]:
    """Rows of every table of the embedded database whose values contain ``text``."""
    db = runtime.container.database
    found = {}
    tables = [r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        rows = db.query(f'SELECT * FROM "{table}"')
        n = sum(1 for row in rows if any(text in str(v) for v in tuple(row)))
        if n:
            found[table] = n
    return found


def test_export_then_erase_leaves_nothing_of_the_user_and_everything_of_others(
    api: httpx.Client, token: TokenFactory, demo_ready, runtime: LocalRuntime
):
    me, other = f"gdpr-{uuid.uuid4().hex[:8]}", f"keep-{uuid.uuid4().hex[:8]}"
    mine, theirs = bearer(token(me)), bearer(token(other))
    api.put(
        "/v1/me/profile",
        json={"channel_name": "My Channel", "goals": "better latte art"},
        headers=mine,
    )
    answer = api.post(
        f"/v1/creators/{DEMO}/chat",
        json={"message": "What temperature should steamed milk reach?"},
        headers=mine,
    ).json()
    api.post(
        f"/v1/messages/{answer['message_id']}/feedback",
        json={"rating": "up", "comment": "great"},
        headers=mine,
    )
    api.post(f"/v1/creators/{DEMO}/chat", json={"message": "How do I descale?"}, headers=theirs)
    before_other = _rows_mentioning(runtime, other)
    assert before_other

    export = api.get("/v1/me/export", headers=mine)
    assert export.status_code == 200
    data = export.json()
    assert data["profile"]["channel_name"] == "My Channel"
    assert [m["role"] for m in data["threads"][0]["messages"]] == ["user", "assistant"]
    assert data["feedback"][0]["comment"] == "great"
    assert data["usage"][0]["requests"] == 1
    assert data["sessions"]
    assert other not in export.text

    assert _rows_mentioning(runtime, me)  # sanity: the scan does see the user's items
    receipt = api.delete("/v1/me", headers=mine)
    assert receipt.status_code == 200
    body = receipt.json()
    assert body["receipt_id"] and body["deleted_items"]["conversations"] >= 3
    assert me not in receipt.text  # the receipt names a pseudonym, not the user

    assert _rows_mentioning(runtime, me) == {}
    assert _rows_mentioning(runtime, other) == before_other


# ---------------------------------------------------------------------------- export jobs
def _fill_account(runtime: LocalRuntime, user: str, threads: int, per_thread: int = 2) -> None:
    """A large account, written straight into the thread store (chatting 600 times through
    the API would only make the test slow)."""
    c = runtime.container
    now = int(c.clock.now())
    for _ in range(threads):
        t = Thread(random_id("th_"), user, DEMO, now, now, now + c.settings.thread_idle_ttl_s)

        def msg(k: int, t: Thread = t) -> Message:
            role = "user" if k % 2 == 0 else "assistant"
            return Message(sortable_id(time.time()), t.thread_id, user, DEMO, role, f"m{k}", now)

        c.threads.create_thread(t, msg(0))
        for k in range(1, per_thread):
            c.threads.append_message(t, msg(k))


def _wait_until_built(api: httpx.Client, status_url: str, headers: dict[str, str]) -> dict:
    deadline = time.monotonic() + 60
    while True:
        status = api.get(status_url, headers=headers)
        assert status.status_code == 200, status.text
        body = status.json()
        if body["status"] != "pending" or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_a_large_account_gets_an_export_job_then_a_download_link(
    api: httpx.Client, token: TokenFactory, runtime: LocalRuntime
):
    me = f"big-{uuid.uuid4().hex[:8]}"
    mine = bearer(token(me))
    limit = runtime.container.settings.export_inline_max_messages
    _fill_account(runtime, me, threads=limit // 2 + 1)  # just over the inline limit

    accepted = api.get("/v1/me/export", headers=mine)

    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert job["status"] == "pending" and job["export_id"]
    assert job["status_url"] == f"/v1/me/exports/{job['export_id']}"
    assert accepted.headers["location"] == job["status_url"]
    assert api.get("/v1/me/export", headers=mine).json()["export_id"] == job["export_id"]

    ready = _wait_until_built(api, job["status_url"], mine)
    assert ready["status"] == "ready", ready
    assert ready["download_expires_at"] <= ready["expires_at"]
    with httpx.Client() as anonymous:  # the link is its own authorisation, like S3's
        download = anonymous.get(ready["download_url"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/json"
    data = download.json()
    assert len(download.content) == ready["size_bytes"]
    assert data["user_id"] == me
    assert len(data["threads"]) == limit // 2 + 1
    assert sum(len(t["messages"]) for t in data["threads"]) == 2 * (limit // 2 + 1)

    forged = ready["download_url"].replace("signature=", "signature=0")
    assert httpx.get(forged).status_code == 403


def test_an_export_job_holds_what_the_inline_export_holds(
    api: httpx.Client, token: TokenFactory, runtime: LocalRuntime
):
    me = f"small-{uuid.uuid4().hex[:8]}"
    mine = bearer(token(me))
    api.put("/v1/me/profile", json={"channel_name": "Crema Corner"}, headers=mine)
    _fill_account(runtime, me, threads=3, per_thread=3)

    inline = api.get("/v1/me/export", headers=mine)
    assert inline.status_code == 200
    accepted = api.post("/v1/me/exports", headers=mine)  # a job on request, whatever the size
    assert accepted.status_code == 202
    ready = _wait_until_built(api, accepted.json()["status_url"], mine)
    assert ready["status"] == "ready", ready
    downloaded = httpx.get(ready["download_url"]).json()

    expected = inline.json()
    # the same data; only the export's own time and its audit trail (which now records the
    # inline export and the job's request) moved on
    for key in ("user_id", "profile", "threads", "feedback", "usage", "sessions"):
        assert downloaded[key] == expected[key], key
    assert downloaded["audit"][: len(expected["audit"])] == expected["audit"]
    assert [a["action"] for a in downloaded["audit"][len(expected["audit"]) :]] == [
        "data.export",
        "data.export.requested",
    ]


def test_only_the_owner_reads_an_export(
    api: httpx.Client, token: TokenFactory, runtime: LocalRuntime
):
    me, other = f"owner-{uuid.uuid4().hex[:8]}", f"snoop-{uuid.uuid4().hex[:8]}"
    accepted = api.post("/v1/me/exports", headers=bearer(token(me))).json()
    ready = _wait_until_built(api, accepted["status_url"], bearer(token(me)))
    assert ready["status"] == "ready"

    theirs = api.get(accepted["status_url"], headers=bearer(token(other)))
    assert theirs.status_code == 404
    assert theirs.json()["error"]["code"] == "not_found"
    assert api.get(accepted["status_url"]).status_code == 401
    assert api.get("/v1/me/exports/exp_unknown", headers=bearer(token(me))).status_code == 404


def test_erasure_removes_the_users_exports(
    api: httpx.Client, token: TokenFactory, runtime: LocalRuntime
):
    me = f"erase-exp-{uuid.uuid4().hex[:8]}"
    mine = bearer(token(me))
    _fill_account(runtime, me, threads=2)
    accepted = api.post("/v1/me/exports", headers=mine).json()
    ready = _wait_until_built(api, accepted["status_url"], mine)
    assert httpx.get(ready["download_url"]).status_code == 200
    files = runtime.container.settings.data_dir / "exports"
    assert (files / f"{accepted['export_id']}.json").exists()

    receipt = api.delete("/v1/me", headers=mine)

    assert receipt.status_code == 200
    assert receipt.json()["deleted_items"]["exports"] == 1
    assert httpx.get(ready["download_url"]).status_code == 404
    assert not (files / f"{accepted['export_id']}.json").exists()
    assert _rows_mentioning(runtime, me) == {}
    assert _rows_mentioning(runtime, accepted["export_id"]) == {}
