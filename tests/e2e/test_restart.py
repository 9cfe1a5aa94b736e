"""The local server keeps its data in the data directory across a restart.

Runs ``creator-chat serve`` as a real process (moto's state lives in the process, so only a
new process proves a restart), stops it with Ctrl-C, and starts it again on the same folder.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from creator_chat.auth import issue_dev_token
from creator_chat.domain.models import Role, Tier
from creator_chat.settings import Settings

from tests import serve_process
from tests.e2e.conftest import bearer, wait_for_documents

SECRET = "restart-test-secret-0123456789abcdef0123"


@contextmanager
def server(data_dir: Path) -> Iterator[str]:
    with serve_process.server(data_dir, SECRET) as (url, _):
        yield url


def test_threads_documents_and_index_survive_a_restart(tmp_path: Path):
    settings = Settings(jwt_secret=SECRET)  # type: ignore[arg-type]
    admin = issue_dev_token(settings, user_id="admin-r", role=Role.ADMIN, tier=Tier.ENTERPRISE)
    fan = issue_dev_token(settings, user_id="fan-r", role=Role.FAN, tier=Tier.FREE)
    with server(tmp_path) as url, httpx.Client(base_url=url, timeout=30) as api:
        slug = f"keep-{uuid.uuid4().hex[:6]}"
        cid = api.post(
            "/v1/creators", json={"slug": slug, "name": "Keep"}, headers=bearer(admin)
        ).json()["creator_id"]
        api.post(
            f"/v1/creators/{cid}/documents",
            headers=bearer(admin),
            json={
                "title": "Knots",
                "kind": "text",
                "content": "A bowline knot makes a fixed loop that will not slip under load.",
            },
        )
        assert wait_for_documents(api, admin, cid)[0]["status"] == "done"
        answer = api.post(
            f"/v1/creators/{cid}/chat",
            json={"message": "Which knot makes a fixed loop?"},
            headers=bearer(fan),
        ).json()
        assert "bowline" in answer["answer"]

    with server(tmp_path) as url, httpx.Client(base_url=url, timeout=30) as api:
        threads = api.get("/v1/threads", headers=bearer(fan)).json()["threads"]
        assert [t["thread_id"] for t in threads] == [answer["thread_id"]]
        msgs = api.get(f"/v1/threads/{answer['thread_id']}/messages", headers=bearer(fan)).json()[
            "messages"
        ]
        assert [m["content"] for m in msgs][1] == answer["answer"]
        docs = api.get(f"/v1/creators/{cid}/documents", headers=bearer(admin)).json()["documents"]
        assert [d["status"] for d in docs] == ["done"]
        hits = api.post(
            f"/v1/creators/{cid}/search", json={"query": "fixed loop knot"}, headers=bearer(admin)
        ).json()["results"]
        assert hits and "bowline" in hits[0]["text"]
