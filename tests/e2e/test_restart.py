"""The embedded default keeps its data in the data directory across a restart."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from creator_chat.auth import issue_dev_token
from creator_chat.domain.models import Role, Tier
from creator_chat.local.runtime import LocalRuntime
from creator_chat.settings import Settings
from tests.e2e.conftest import bearer, wait_for_documents


def _runtime(data_dir: Path) -> LocalRuntime:
    # its own emulator (not the session's), so that a restart really starts from nothing
    return LocalRuntime(port=0, data_dir=data_dir, seed_demo=False,
                        environ={"AWS_ENDPOINT_URL": "", "CREATOR_CHAT_ENV": "test"})


def test_threads_documents_and_index_survive_a_restart(tmp_path: Path, emulator: str):
    import os

    saved = dict(os.environ)
    try:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        first = _runtime(tmp_path).start()
        settings = Settings()
        admin = issue_dev_token(settings, user_id="admin-r", role=Role.ADMIN, tier=Tier.ENTERPRISE)
        fan = issue_dev_token(settings, user_id="fan-r", role=Role.FAN, tier=Tier.FREE)
        with httpx.Client(base_url=first.url, timeout=30) as api:
            slug = f"keep-{uuid.uuid4().hex[:6]}"
            cid = api.post("/v1/creators", json={"slug": slug, "name": "Keep"}, headers=bearer(admin)).json()["creator_id"]
            api.post(f"/v1/creators/{cid}/documents", headers=bearer(admin), json={
                "title": "Knots", "kind": "text",
                "content": "A bowline knot makes a fixed loop that will not slip under load."})
            assert wait_for_documents(api, admin, cid)[0]["status"] == "done"
            answer = api.post(f"/v1/creators/{cid}/chat", json={"message": "Which knot makes a fixed loop?"},
                              headers=bearer(fan)).json()
        first.stop()
        os.environ.pop("AWS_ENDPOINT_URL", None)

        second = _runtime(tmp_path).start()
        with httpx.Client(base_url=second.url, timeout=30) as api:
            threads = api.get("/v1/threads", headers=bearer(fan)).json()["threads"]
            assert [t["thread_id"] for t in threads] == [answer["thread_id"]]
            msgs = api.get(f"/v1/threads/{answer['thread_id']}/messages", headers=bearer(fan)).json()["messages"]
            assert [m["role"] for m in msgs] == ["user", "assistant"]
            docs = api.get(f"/v1/creators/{cid}/documents", headers=bearer(admin)).json()["documents"]
            assert [d["status"] for d in docs] == ["done"]
            hits = api.post(f"/v1/creators/{cid}/search", json={"query": "fixed loop knot"},
                            headers=bearer(admin)).json()["results"]
            assert hits and "bowline" in hits[0]["text"]
        second.stop()
    finally:
        os.environ.clear()
        os.environ.update(saved)
