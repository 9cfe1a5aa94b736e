"""GDPR: export returns all of a user's data; erase leaves none of it and nothing else."""

from __future__ import annotations

import uuid

import httpx
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
