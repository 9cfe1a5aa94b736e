"""The walking skeleton through the local gateway: health, creators, the authorizer, threads."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import DEMO, TokenFactory, bearer


def test_health_needs_no_token(api: httpx.Client):
    r = api.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_deep_health_reports_each_dependency_with_latency(api: httpx.Client):
    body = api.get("/health/deep").json()
    names = {d["name"] for d in body["dependencies"]}
    assert {"database", "queues", "uploads", "cache", "vector_index"} <= names  # embedded
    assert body["ok"] is True
    assert all(d["latency_ms"] >= 0 for d in body["dependencies"])


def test_creators_lists_the_demo_creator_for_a_valid_token(api: httpx.Client, token: TokenFactory):
    r = api.get("/v1/creators", headers=bearer(token("fan-1")))
    assert r.status_code == 200
    slugs = {c["slug"] for c in r.json()["creators"]}
    assert "bench-shot" in slugs
    one = api.get("/v1/creators/bench-shot", headers=bearer(token("fan-1"))).json()
    assert one["creator_id"] == DEMO and one["persona"]


def test_missing_token_is_401_like_api_gateway(api: httpx.Client):
    r = api.get("/v1/creators")
    assert r.status_code == 401 and r.json() == {"message": "Unauthorized"}


def test_forged_token_is_403(api: httpx.Client, token: TokenFactory):
    import jwt

    forged = jwt.encode(
        {
            "sub": "x",
            "role": "admin",
            "tier": "enterprise",
            "iss": "creator-chat-local",
            "aud": "creator-chat",
            "iat": 1,
            "exp": 4_000_000_000,
        },
        "wrong-secret-of-a-proper-length-0123456789",
        algorithm="HS256",
    )
    r = api.get("/v1/creators", headers=bearer(forged))
    assert r.status_code == 403 and r.json() == {"message": "Forbidden"}


def test_expired_token_is_403(api: httpx.Client, token: TokenFactory):
    expired = token("fan-1", ttl_s=60, now=1_000_000)
    assert api.get("/v1/creators", headers=bearer(expired)).status_code == 403


def test_alg_none_token_is_refused(api: httpx.Client):
    import jwt

    unsigned = jwt.encode(
        {"sub": "x", "role": "admin", "tier": "enterprise"}, key=None, algorithm="none"
    )
    assert api.get("/v1/creators", headers=bearer(unsigned)).status_code == 403


def test_only_admins_create_creators(api: httpx.Client, token: TokenFactory):
    body = {"slug": "new-creator", "name": "New"}
    r = api.post("/v1/creators", json=body, headers=bearer(token("fan-1")))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = api.post("/v1/creators", json=body, headers=bearer(token("root", "admin")))
    assert r.status_code == 201 and r.json()["slug"] == "new-creator"
    again = api.post("/v1/creators", json=body, headers=bearer(token("root", "admin")))
    assert again.status_code == 409


def test_bad_input_gets_a_json_error_body(api: httpx.Client, token: TokenFactory):
    headers = {**bearer(token("root", "admin")), "content-type": "application/json"}
    r = api.post("/v1/creators", content=b"{not json", headers=headers)
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    r = api.post("/v1/creators", json={"slug": "x"}, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["request_id"]


def test_one_user_cannot_read_another_users_threads(
    api: httpx.Client, token: TokenFactory, demo_ready
):
    alice, bob = bearer(token("alice")), bearer(token("bob"))
    r = api.post(f"/v1/creators/{DEMO}/chat", json={"message": "How do I descale?"}, headers=alice)
    assert r.status_code == 200
    thread_id = r.json()["thread_id"]

    assert [t["thread_id"] for t in api.get("/v1/threads", headers=alice).json()["threads"]] == [
        thread_id
    ]
    assert api.get("/v1/threads", headers=bob).json()["threads"] == []
    stolen = api.get(f"/v1/threads/{thread_id}/messages", headers=bob)
    assert stolen.status_code == 404  # not 403: a thread id's existence must not leak
    assert "descale" not in stolen.text
    # nor can bob continue alice's thread
    r = api.post(
        f"/v1/creators/{DEMO}/chat", json={"message": "hi", "thread_id": thread_id}, headers=bob
    )
    assert r.status_code == 404
    mine = api.get(f"/v1/threads/{thread_id}/messages", headers=alice).json()["messages"]
    assert [m["role"] for m in mine] == ["user", "assistant"]


def test_openapi_is_served(api: httpx.Client):
    assert api.get("/docs").status_code == 200
    spec = api.get("/openapi.json").json()
    assert "/v1/creators/{creator_id}/chat" in spec["paths"]
