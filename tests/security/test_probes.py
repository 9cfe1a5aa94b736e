"""Probes through the local gateway: every one must be refused, and none may leak data."""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
from creator_chat.settings import Settings

from tests.e2e.conftest import DEMO, TokenFactory, bearer

SECRET_LOOKING = ("descale", "backflush", "My secret question")


def _claims(**over: object) -> dict:
    now = int(time.time())
    return {
        "sub": "probe",
        "role": "admin",
        "tier": "enterprise",
        "iss": "creator-chat-local",
        "aud": "creator-chat",
        "iat": now,
        "exp": now + 600,
        **over,
    }


def _sign(claims: dict) -> str:
    secret = Settings().jwt_secret
    assert secret is not None
    return jwt.encode(claims, secret.get_secret_value(), algorithm="HS256")


@pytest.fixture(scope="module")
def victim(api: httpx.Client, token: TokenFactory, demo_ready) -> dict:
    tok = token("victim-fan")
    body = api.post(
        f"/v1/creators/{DEMO}/chat",
        json={"message": "My secret question about descale?"},
        headers=bearer(tok),
    ).json()
    return {"token": tok, **body}


def _refused(r: httpx.Response) -> None:
    assert r.status_code in (401, 403, 404), r.text
    assert not any(s in r.text for s in SECRET_LOOKING)


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no token
        {"Authorization": "Bearer"},  # empty
        {"Authorization": "Basic dXNlcjpwYXNz"},  # wrong scheme
        {"Authorization": "Bearer " + "a" * 9000},  # oversized
        {"Authorization": "Bearer not.a.jwt"},
    ],
)
def test_malformed_or_missing_tokens_are_refused(api: httpx.Client, headers: dict, victim: dict):
    _refused(api.get(f"/v1/threads/{victim['thread_id']}/messages", headers=headers))


@pytest.mark.parametrize(
    "name,tok",
    [
        ("expired", lambda: _sign(_claims(iat=1_000, exp=2_000))),
        ("not yet valid", lambda: _sign(_claims(nbf=int(time.time()) + 3600))),
        ("wrong signature", lambda: jwt.encode(_claims(), "x" * 40, algorithm="HS256")),
        ("wrong audience", lambda: _sign(_claims(aud="another-app"))),
        ("wrong issuer", lambda: _sign(_claims(iss="https://evil.example"))),
        ("alg none", lambda: jwt.encode(_claims(), key=None, algorithm="none")),
        ("unknown role", lambda: _sign(_claims(role="root"))),
        ("unknown tier", lambda: _sign(_claims(tier="diamond"))),
        ("no subject", lambda: _sign({k: v for k, v in _claims().items() if k != "sub"})),
    ],
)
def test_forged_or_invalid_tokens_are_refused(api: httpx.Client, name: str, tok, victim: dict):
    r = api.get("/v1/creators", headers=bearer(tok()))
    assert r.status_code == 403, name
    _refused(api.get(f"/v1/threads/{victim['thread_id']}/messages", headers=bearer(tok())))


def test_alg_confusion_header_tampering_is_refused(api: httpx.Client, token: TokenFactory):
    tok = token("fan-tamper")
    head, payload, sig = tok.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert (
        api.get("/v1/creators", headers=bearer(f"{head}.{forged_payload}.{sig}")).status_code == 403
    )


def test_a_fan_cannot_read_another_fans_thread_or_message(
    api: httpx.Client, token: TokenFactory, victim: dict
):
    thief = bearer(token("thief-fan"))
    _refused(api.get(f"/v1/threads/{victim['thread_id']}/messages", headers=thief))
    _refused(
        api.get(f"/v1/threads/{victim['thread_id']}/messages/{victim['message_id']}", headers=thief)
    )
    _refused(
        api.post(
            f"/v1/messages/{victim['message_id']}/feedback", json={"rating": "down"}, headers=thief
        )
    )
    _refused(
        api.post(
            f"/v1/creators/{DEMO}/chat",
            json={"message": "hi", "thread_id": victim["thread_id"]},
            headers=thief,
        )
    )
    assert api.get("/v1/threads", headers=thief).json()["threads"] == []


def test_a_creator_cannot_ingest_into_or_read_another_creator(
    api: httpx.Client, token: TokenFactory, demo_ready
):
    other = bearer(token("mallory", "creator", creator="cr_mallory"))
    _refused(
        api.post(
            f"/v1/creators/{DEMO}/documents",
            json={"title": "x", "kind": "text", "content": "spam"},
            headers=other,
        )
    )
    _refused(api.get(f"/v1/creators/{DEMO}/documents", headers=other))
    _refused(api.post(f"/v1/creators/{DEMO}/search", json={"query": "descale"}, headers=other))
    _refused(api.get(f"/v1/creators/{DEMO}/trending", headers=other))
    _refused(api.patch(f"/v1/creators/{DEMO}", json={"name": "pwned"}, headers=other))


def test_denied_cross_tenant_attempts_are_audited(
    api: httpx.Client, token: TokenFactory, demo_ready, runtime
):
    actor = f"auditee-{uuid.uuid4().hex[:6]}"
    api.get(
        f"/v1/creators/{DEMO}/trending", headers=bearer(token(actor, "creator", creator="cr_x"))
    )
    items = runtime.container.audit.entries_for(actor)
    assert [(i.action, i.target, i.outcome) for i in items] == [("trending.read", DEMO, "denied")]


def test_path_traversal_and_header_injection_are_harmless(
    api: httpx.Client, token: TokenFactory, demo_ready
):
    creator = bearer(token("ines", "creator", creator=DEMO))
    for doc_id in ("..%2F..%2Fetc%2Fpasswd", "../../etc/passwd", "%00", "doc_%2e%2e"):
        r = api.get(f"/v1/creators/{DEMO}/documents/{doc_id}", headers=creator)
        assert r.status_code in (404, 400), (doc_id, r.status_code)
        assert "root:" not in r.text
    r = api.get("/v1/creators", headers={**bearer(token("fan-h")), "X-Injected": "a\tb"})
    assert r.status_code == 200


def test_a_revoked_session_is_refused(api: httpx.Client, token: TokenFactory):
    tok = token(f"fan-sess-{uuid.uuid4().hex[:6]}")
    sessions = api.get("/v1/sessions", headers=bearer(tok)).json()
    assert sessions["current"] and [s["session_id"] for s in sessions["sessions"]] == [
        sessions["current"]
    ]
    other_fan = bearer(token("fan-other-sess"))
    assert api.delete(f"/v1/sessions/{sessions['current']}", headers=other_fan).status_code == 404
    assert api.delete("/v1/sessions/current", headers=bearer(tok)).status_code == 200
    # the local gateway does not cache authorizer answers (API Gateway: at most 60 s)
    assert api.get("/v1/creators", headers=bearer(tok)).status_code == 403
    assert api.get("/v1/creators", headers=other_fan).status_code == 200


def test_reading_another_fans_thread_is_audited(
    api: httpx.Client, token: TokenFactory, victim: dict, runtime
):
    thief = f"thief-{uuid.uuid4().hex[:6]}"
    api.get(f"/v1/threads/{victim['thread_id']}/messages", headers=bearer(token(thief)))
    items = runtime.container.audit.entries_for(thief)
    assert [(i.action, i.target, i.outcome) for i in items] == [
        ("thread.read", victim["thread_id"], "denied")
    ]
