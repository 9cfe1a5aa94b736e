"""Upload tickets through `creator-chat serve`, on both adapter families: a ticket never
completed ends ``failed`` ("upload not completed") once it expires — also when the server was
down at that moment — and its expiry never touches a completed or re-posted document.

The servers run with a 2-second ticket lifetime (``CREATOR_CHAT_UPLOAD_URL_TTL_S``): a ticket
is given up once it has expired plus a grace of at most its own lifetime (4 s here)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
from creator_chat.auth import issue_dev_token
from creator_chat.domain.models import Role, Tier
from creator_chat.settings import Settings

from tests import serve_process
from tests.e2e.conftest import bearer

SECRET = "upload-ticket-test-secret-0123456789abcdef0123"
TTL_S = 2
SHORT_TICKETS = {"CREATOR_CHAT_UPLOAD_URL_TTL_S": str(TTL_S)}
TEXT = b"Rinse the kayak with fresh water after every trip to salt water."


@pytest.fixture(scope="module")
def admin() -> dict[str, str]:
    settings = Settings(jwt_secret=SECRET)  # type: ignore[arg-type]
    return bearer(
        issue_dev_token(settings, user_id="admin-u", role=Role.ADMIN, tier=Tier.ENTERPRISE)
    )


def new_creator(api: httpx.Client, admin: dict[str, str]) -> str:
    r = api.post(
        "/v1/creators", json={"slug": f"up-{uuid.uuid4().hex[:6]}", "name": "Up"}, headers=admin
    )
    assert r.status_code == 201, r.text
    return str(r.json()["creator_id"])


def ticket(api: httpx.Client, admin: dict[str, str], creator: str, title: str) -> dict:
    body = {"title": title, "kind": "text", "upload": True, "size_bytes": len(TEXT)}
    r = api.post(f"/v1/creators/{creator}/documents", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return dict(r.json())


def upload_and_complete(api: httpx.Client, admin: dict[str, str], creator: str, t: dict) -> None:
    sent = httpx.post(
        t["upload_url"],
        data=t["upload_fields"],
        files={"file": ("notes.txt", TEXT, "application/octet-stream")},
    )
    assert sent.status_code in (200, 204), sent.text
    doc_id = t["document"]["document_id"]
    r = api.post(f"/v1/creators/{creator}/documents/{doc_id}/complete", headers=admin)
    assert r.status_code == 202, r.text


def document(api: httpx.Client, admin: dict[str, str], creator: str, doc_id: str) -> dict:
    r = api.get(f"/v1/creators/{creator}/documents/{doc_id}", headers=admin)
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait_until_settled(
    api: httpx.Client, admin: dict[str, str], creator: str, doc_id: str, *, budget_s: float = 60
) -> dict:
    deadline = time.monotonic() + budget_s
    while True:
        doc = document(api, admin, creator, doc_id)
        if doc["status"] in ("done", "failed") or time.monotonic() > deadline:
            return doc
        time.sleep(0.25)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["embedded", "aws"])
def test_an_abandoned_ticket_ends_failed_and_spares_completed_and_reposted_ones(
    tmp_path: Path, admin: dict[str, str], family: str
):
    args = ("--aws-emulator",) if family == "aws" else ()
    with (
        serve_process.server(tmp_path, SECRET, *args, env=SHORT_TICKETS) as (url, _),
        httpx.Client(base_url=url, timeout=30) as api,
    ):
        creator = new_creator(api, admin)
        abandoned = ticket(api, admin, creator, "Abandoned")
        oversized = ticket(api, admin, creator, "Oversized")
        sent = httpx.post(
            oversized["upload_url"],
            data=oversized["upload_fields"],
            files={"file": ("notes.txt", TEXT + b"!", "application/octet-stream")},
        )
        complete = f"/v1/creators/{creator}/documents/{oversized['document']['document_id']}"
        if family == "embedded":
            assert sent.status_code == 413  # refused, nothing stored
            r = api.post(f"{complete}/complete", headers=admin)
            assert "nothing was uploaded" in r.json()["error"]["message"]
        else:
            assert sent.status_code == 204  # moto checks no policy (S3: 400 EntityTooLarge)
            assert api.post(f"{complete}/complete", headers=admin).status_code == 413
        completed = ticket(api, admin, creator, "Completed")
        upload_and_complete(api, admin, creator, completed)
        reposted = ticket(api, admin, creator, "Reposted")  # then posted inline instead
        r = api.post(
            f"/v1/creators/{creator}/documents",
            json={"title": "Reposted", "kind": "text", "content": TEXT.decode()},
            headers=admin,
        )
        assert r.status_code == 202, r.text
        renewed_first = ticket(api, admin, creator, "Renewed")  # then a new ticket, completed
        time.sleep(1)
        renewed = ticket(api, admin, creator, "Renewed")
        upload_and_complete(api, admin, creator, renewed)

        gone = wait_until_settled(api, admin, creator, abandoned["document"]["document_id"])
        assert (gone["status"], gone["failure_reason"]) == ("failed", "upload not completed")
        left = wait_until_settled(api, admin, creator, oversized["document"]["document_id"])
        assert (left["status"], left["failure_reason"]) == ("failed", "upload not completed")
        time.sleep(TTL_S)  # every other ticket's expiry is due by now as well
        for t in (completed, reposted, renewed_first, renewed):
            doc = wait_until_settled(api, admin, creator, t["document"]["document_id"])
            assert doc["status"] == "done", (t["document"]["title"], doc)

        late = api.post(
            f"/v1/creators/{creator}/documents/{gone['document_id']}/complete", headers=admin
        )
        assert late.status_code == 409
        assert "ask for a new one" in late.json()["error"]["message"]


@pytest.mark.slow
def test_a_ticket_that_expires_while_the_server_is_down_ends_failed_after_a_restart(
    tmp_path: Path, admin: dict[str, str]
):
    env = {"CREATOR_CHAT_UPLOAD_URL_TTL_S": "3"}  # given up 6 s after it was issued
    with (
        serve_process.server(tmp_path, SECRET, env=env) as (url, _),
        httpx.Client(base_url=url, timeout=30) as api,
    ):
        creator = new_creator(api, admin)
        issued = time.monotonic()
        doc_id = ticket(api, admin, creator, "Left behind")["document"]["document_id"]
    assert time.monotonic() - issued < 6, "the server took too long to stop"
    time.sleep(max(0.0, 6.5 - (time.monotonic() - issued)))  # due while nothing runs

    with (
        serve_process.server(tmp_path, SECRET, env=env) as (url, _),
        httpx.Client(base_url=url, timeout=30) as api,
    ):
        doc = wait_until_settled(api, admin, creator, doc_id)
        assert (doc["status"], doc["failure_reason"]) == ("failed", "upload not completed")
