"""The local gateway behaves like API Gateway's HTTP API: routing, events, responses."""

from __future__ import annotations

import asyncio
import base64
import json

from creator_chat.local.gateway import (
    LocalFunction,
    LocalGateway,
    build_event,
    match_route,
    to_http,
)
from creator_chat.resources import DECLARATION, Route

ROUTES = list(DECLARATION.routes)


def test_most_specific_route_wins():
    route, params = match_route(ROUTES, "POST", "/v1/creators/cr_1/documents")  # type: ignore[misc]
    assert route.function == "ingest" and params == {"creator_id": "cr_1"}
    route, params = match_route(ROUTES, "GET", "/v1/creators/cr_1/documents/doc_9")  # type: ignore[misc]
    assert route.function == "ingest" and params == {"creator_id": "cr_1", "proxy": "doc_9"}
    route, params = match_route(ROUTES, "POST", "/v1/creators/cr_1/chat")  # type: ignore[misc]
    assert route.function == "chat" and params == {"proxy": "creators/cr_1/chat"}
    route, _ = match_route(ROUTES, "GET", "/health")  # type: ignore[misc]
    assert not route.authorized


def test_unknown_path_and_method_do_not_match():
    assert match_route(ROUTES, "GET", "/nothing/here") is None
    assert match_route([Route("GET", "/health", "chat")], "POST", "/health") is None
    assert match_route([Route("ANY", "/v1/{proxy+}", "chat")], "GET", "/v1") is None


def test_event_is_payload_2_0_with_joined_headers_cookies_and_query():
    route = Route("ANY", "/v1/{proxy+}", "chat")
    ev = build_event(
        method="GET",
        path="/v1/threads",
        query="limit=5&tag=a&tag=b",
        headers=[
            ("X-Multi", "1"),
            ("x-multi", "2"),
            ("Cookie", "a=1; b=2"),
            ("content-type", "application/json"),
        ],
        body=b"",
        route=route,
        path_params={"proxy": "threads"},
        source_ip="127.0.0.1",
        request_id="r1",
    )
    assert ev["version"] == "2.0" and ev["routeKey"] == "ANY /v1/{proxy+}"
    assert ev["headers"]["x-multi"] == "1,2"
    assert ev["cookies"] == ["a=1", "b=2"]
    assert ev["queryStringParameters"] == {"limit": "5", "tag": "a,b"}
    assert ev["requestContext"]["http"]["method"] == "GET"
    assert ev["requestContext"]["requestId"] == "r1"
    assert "body" not in ev


def test_binary_bodies_are_base64_encoded():
    route = Route("ANY", "/v1/{proxy+}", "chat")
    ev = build_event(
        method="POST",
        path="/v1/x",
        query="",
        headers=[("content-type", "application/pdf")],
        body=b"%PDF\x00\xff",
        route=route,
        path_params={},
        source_ip="",
        request_id="r",
    )
    assert ev["isBase64Encoded"] is True
    assert base64.b64decode(ev["body"]) == b"%PDF\x00\xff"


def test_handler_response_is_turned_back_into_http():
    out = to_http({"statusCode": 201, "headers": {"X-A": "1"}, "cookies": ["s=1"], "body": "hi"})
    assert (
        out.status == 201 and ("x-a", "1") in out.headers and ("set-cookie", "s=1") in out.headers
    )
    assert out.body == b"hi"
    bare = to_http({"ok": True})  # API Gateway infers 200 + JSON for a bare result
    assert bare.status == 200 and json.loads(bare.body) == {"ok": True}


def _gateway(verdict: dict, seen: list) -> LocalGateway:
    def route_handler(event, context):
        seen.append(event)
        return {"statusCode": 200, "body": "ok"}

    fns = {"chat": LocalFunction("chat", route_handler)}
    return LocalGateway(
        [Route("GET", "/v1/x", "chat"), Route("GET", "/open", "chat", authorized=False)],
        fns,
        LocalFunction("authorizer", lambda e, c: verdict),
    )


def _get(gw: LocalGateway, path: str, headers: list[tuple[str, str]]):
    return asyncio.run(
        gw.dispatch(
            method="GET", path=path, query="", headers=headers, body=b"", source_ip="127.0.0.1"
        )
    )


def test_authorizer_runs_before_the_route_and_its_context_reaches_the_handler():
    seen: list = []
    gw = _gateway({"isAuthorized": True, "context": {"user_id": "u1"}}, seen)
    try:
        assert _get(gw, "/v1/x", [("authorization", "Bearer t")]).status == 200
        assert seen[0]["requestContext"]["authorizer"] == {"lambda": {"user_id": "u1"}}
        missing = _get(gw, "/v1/x", [])
        assert missing.status == 401 and json.loads(missing.body) == {"message": "Unauthorized"}
        assert _get(gw, "/open", []).status == 200
    finally:
        gw.close()


def test_a_denied_request_never_reaches_the_handler():
    seen: list = []
    gw = _gateway({"isAuthorized": False}, seen)
    try:
        denied = _get(gw, "/v1/x", [("authorization", "Bearer t")])
        assert denied.status == 403 and json.loads(denied.body) == {"message": "Forbidden"}
        assert seen == []
    finally:
        gw.close()
