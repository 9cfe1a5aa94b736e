"""GDPR: export returns all of a user's data; erase leaves none of it and nothing else."""

from __future__ import annotations

import uuid

import boto3
import httpx
from creator_chat.resources import DECLARATION
from creator_chat.settings import Settings

from tests.e2e.conftest import DEMO, TokenFactory, bearer


def _items_mentioning(text: str) -> dict[str, int]:
    ddb = boto3.client("dynamodb")
    settings = Settings()
    found = {}
    for table in DECLARATION.tables:
        n = 0
        for page in ddb.get_paginator("scan").paginate(
            TableName=settings.physical_name("table", table.name)
        ):
            n += sum(1 for item in page["Items"] if text in str(item))
        if n:
            found[table.name] = n
    return found


def test_export_then_erase_leaves_nothing_of_the_user_and_everything_of_others(
    api: httpx.Client, token: TokenFactory, demo_ready
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
    before_other = _items_mentioning(other)
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

    assert _items_mentioning(me)  # sanity: the scan does see the user's items
    receipt = api.delete("/v1/me", headers=mine)
    assert receipt.status_code == 200
    body = receipt.json()
    assert body["receipt_id"] and body["deleted_items"]["conversations"] >= 3
    assert me not in receipt.text  # the receipt names a pseudonym, not the user

    assert _items_mentioning(me) == {}
    assert _items_mentioning(other) == before_other
