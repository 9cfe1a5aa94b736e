"""Bad input on every route: a clear 4xx with the JSON error body, never a 5xx, and never a
half-written thread.

Most tests go through the local gateway (HTTP → authorizer → handler); the request edge
(``api.common.request_edge``: body size and media type) is also tested in-process, with the
API Gateway events its Lambda function receives.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from unittest.mock import MagicMock

import httpx
import pytest
from creator_chat.api.chat_app import create_app as create_chat_app
from creator_chat.api.common import DEFAULT_MAX_BODY_BYTES
from creator_chat.api.ingest_app import MAX_DOCUMENT_BODY_BYTES
from creator_chat.api.ingest_app import create_app as create_ingest_app
from creator_chat.api.routing import HttpApp
from creator_chat.local.gateway import MAX_PAYLOAD_BYTES, build_event
from creator_chat.resources import Route

from tests.e2e.conftest import DEMO, TokenFactory, bearer

JSON = {"content-type": "application/json"}


# ------------------------------------------------------------------------- helpers
def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The API's own error body: ``{"error": {"code", "message", "request_id"}}``."""
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = r.json()["error"]
    assert set(error) == {"code", "message", "request_id"}
    assert error["message"] and error["request_id"]
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture(scope="module")
def owner(api: httpx.Client, token: TokenFactory) -> tuple[str, str]:
    """A creator of its own (so bad documents never reach the demo) and its token."""
    admin = token("admin-bad-input", "admin", "enterprise")
    r = api.post(
        "/v1/creators",
        json={"slug": f"bad-input-{uuid.uuid4().hex[:6]}", "name": "Bad Input"},
        headers=bearer(admin),
    )
    assert r.status_code == 201, r.text
    creator_id = r.json()["creator_id"]
    return creator_id, token("owner-bad-input", "creator", "premium", creator_id)


def json_routes(creator_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every route that takes a JSON body, with a valid body for it."""
    return [
        ("POST", f"/v1/creators/{DEMO}/chat", {"message": "How do I descale?"}),
        ("POST", "/v1/creators", {"slug": f"x-{uuid.uuid4().hex[:6]}", "name": "X"}),
        ("PATCH", f"/v1/creators/{creator_id}", {"description": "Knots and loops."}),
        ("PUT", "/v1/me/profile", {"channel_name": "Loops"}),
        ("POST", "/v1/messages/msg_unknown/feedback", {"rating": "up"}),
        (
            "POST",
            f"/v1/creators/{creator_id}/documents",
            {"title": "Bowline", "kind": "text", "content": "A bowline makes a fixed loop."},
        ),
        ("POST", f"/v1/creators/{creator_id}/search", {"query": "loop"}),
    ]


ROUTE_IDS = ["chat", "creators", "creator", "profile", "feedback", "documents", "search"]


@pytest.fixture(scope="module")
def admin_headers(token: TokenFactory) -> dict[str, str]:
    return bearer(token("admin-bad-input", "admin", "enterprise"))


def threads_of(api: httpx.Client, tok: str) -> list[dict[str, Any]]:
    r = api.get("/v1/threads", params={"limit": 100}, headers=bearer(tok))
    assert r.status_code == 200, r.text
    threads: list[dict[str, Any]] = r.json()["threads"]
    return threads


# ------------------------------------------------------------------ media type: 415
@pytest.mark.parametrize("n", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "multipart/form-data; boundary=xyz",
        "application/x-www-form-urlencoded",
        "application/xml",
        None,  # no content-type at all (what a cross-site form could send)
    ],
)
def test_a_json_route_refuses_a_body_that_is_not_json_with_415(
    api: httpx.Client,
    owner: tuple[str, str],
    admin_headers: dict[str, str],
    n: int,
    content_type: str | None,
) -> None:
    method, path, body = json_routes(owner[0])[n]
    headers = dict(admin_headers)
    if content_type is not None:
        headers["content-type"] = content_type
    r = api.request(method, path, content=json.dumps(body).encode(), headers=headers)
    error = assert_error(r, 415, "unsupported_media_type")
    assert "application/json" in error["message"]


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/vnd+json"]
)
def test_json_media_types_with_parameters_or_suffixes_are_accepted(
    api: httpx.Client, admin_headers: dict[str, str], content_type: str
) -> None:
    r = api.put(
        "/v1/me/profile",
        content=json.dumps({"goals": "more loops"}).encode(),
        headers={**admin_headers, "content-type": content_type},
    )
    assert r.status_code == 200, r.text


def test_a_route_without_a_body_ignores_the_media_type_of_a_stray_body(
    api: httpx.Client, admin_headers: dict[str, str]
) -> None:
    # POST /v1/sessions names the current session and reads no body
    r = api.post("/v1/sessions", content=b"hello", headers={**admin_headers, "content-type": "x/y"})
    assert r.status_code == 201, r.text


# ------------------------------------------------------------------------ size: 413
def test_a_100_kb_chat_message_is_413_and_leaves_no_thread(
    api: httpx.Client, token: TokenFactory
) -> None:
    tok = token(f"fan-big-{uuid.uuid4().hex[:6]}")
    r = api.post(f"/v1/creators/{DEMO}/chat", json={"message": "x" * 100_000}, headers=bearer(tok))
    error = assert_error(r, 413, "payload_too_large")
    assert str(DEFAULT_MAX_BODY_BYTES) in error["message"]
    assert threads_of(api, tok) == []


def test_an_oversized_body_sent_in_chunks_without_a_length_is_413(
    api: httpx.Client, token: TokenFactory
) -> None:
    def pieces() -> Iterator[bytes]:  # chunked transfer encoding: no Content-Length
        yield b'{"message": "'
        for _ in range(20):
            yield b"y" * 8192
        yield b'"}'

    tok = token(f"fan-chunked-{uuid.uuid4().hex[:6]}")
    r = api.post(f"/v1/creators/{DEMO}/chat", content=pieces(), headers={**bearer(tok), **JSON})
    assert_error(r, 413, "payload_too_large")
    assert threads_of(api, tok) == []


def test_the_chat_limit_admits_the_largest_valid_message_in_any_json_encoding(
    api: httpx.Client, token: TokenFactory, demo_ready: list[dict[str, Any]]
) -> None:
    """4000 characters (the message limit) of emoji, ASCII-escaped as Python's json.dumps
    sends them by default: 12 bytes a character, 48 kB. A 16 kB limit would refuse it."""
    body = json.dumps({"message": "\N{TEACUP WITHOUT HANDLE}" * 3999 + "?"}).encode()
    assert 40_000 < len(body) <= DEFAULT_MAX_BODY_BYTES
    r = api.post(
        f"/v1/creators/{DEMO}/chat", content=body, headers={**bearer(token("fan-emoji")), **JSON}
    )
    assert r.status_code == 200, r.text


def test_documents_oversized_inline_raw_and_beyond_the_gateway_are_all_json_413s(
    api: httpx.Client, owner: tuple[str, str]
) -> None:
    creator_id, tok = owner
    path = f"/v1/creators/{creator_id}/documents"
    headers = {**bearer(tok), **JSON}
    # inline content over max_inline_document_bytes: the use case's 413, with a way forward
    r = api.post(
        path,
        json={"title": "Huge", "kind": "text", "content": "x" * (1024 * 1024 + 1)},
        headers=bearer(tok),
    )
    assert "upload" in assert_error(r, 413, "payload_too_large")["message"]
    # a raw body over the route's limit (not even JSON): refused before it is parsed
    raw = b"x" * (MAX_DOCUMENT_BODY_BYTES + 1)
    assert_error(api.post(path, content=raw, headers=headers), 413, "payload_too_large")
    # over API Gateway's own payload limit: the gateway answers, with its own JSON body
    r = api.post(path, content=b"x" * (MAX_PAYLOAD_BYTES + 1), headers=headers)
    assert r.status_code == 413
    assert r.json() == {"message": "Request Entity Too Large"}
    docs = api.get(path, headers=bearer(tok)).json()["documents"]
    assert [d["title"] for d in docs if d["title"] == "Huge"] == []


# ------------------------------------------------------------ malformed JSON: 400
@pytest.mark.parametrize("n", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'{"message": "unterminated',
        b"\xff\xfe\x00garbage",  # not UTF-8 at all
        b"[" * 50_000,  # nested past the parser's recursion limit, within the size limit
    ],
    ids=["syntax", "unterminated", "not-utf8", "deep-nesting"],
)
def test_malformed_json_is_a_400_on_every_json_route(
    api: httpx.Client,
    owner: tuple[str, str],
    admin_headers: dict[str, str],
    n: int,
    raw: bytes,
) -> None:
    method, path, _ = json_routes(owner[0])[n]
    r = api.request(method, path, content=raw, headers={**admin_headers, **JSON})
    assert_error(r, 400)


# --------------------------------------------------- unknown fields and shapes: 422
@pytest.mark.parametrize("n", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
def test_unknown_fields_are_refused_the_same_way_on_every_json_route(
    api: httpx.Client, owner: tuple[str, str], admin_headers: dict[str, str], n: int
) -> None:
    method, path, body = json_routes(owner[0])[n]
    r = api.request(method, path, json={**body, "surprise": 1}, headers=admin_headers)
    error = assert_error(r, 422, "invalid_input")
    assert "surprise" in error["message"]


@pytest.mark.parametrize("n", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
@pytest.mark.parametrize("body", [[], "text", 42, None], ids=["array", "string", "number", "null"])
def test_a_body_that_is_not_an_object_is_a_422(
    api: httpx.Client, owner: tuple[str, str], admin_headers: dict[str, str], n: int, body: Any
) -> None:
    method, path, _ = json_routes(owner[0])[n]
    r = api.request(
        method, path, content=json.dumps(body).encode(), headers={**admin_headers, **JSON}
    )
    assert_error(r, 422, "invalid_input")


# ------------------------------------------- text: empty, control characters, Unicode
BAD_MESSAGES = {
    "empty": "",
    "blank": "   \n\t ",
    "nul": "How do I\x00 descale?",
    "bell": "How do I descale?\x07",
    "escape": "\x1b[31mHow do I descale?",
    "del": "How do I descale?\x7f",
    "c1": "How do I\x85 descale?",
    "too-long": "x" * 4001,
}


@pytest.mark.parametrize("message", BAD_MESSAGES.values(), ids=BAD_MESSAGES.keys())
def test_bad_chat_messages_are_422s_and_leave_no_thread(
    api: httpx.Client, token: TokenFactory, message: str
) -> None:
    tok = token(f"fan-ctl-{uuid.uuid4().hex[:6]}")
    r = api.post(f"/v1/creators/{DEMO}/chat", json={"message": message}, headers=bearer(tok))
    assert_error(r, 422, "invalid_input")
    assert threads_of(api, tok) == []


def test_an_unpaired_surrogate_is_a_422_not_a_500(api: httpx.Client, token: TokenFactory) -> None:
    # valid JSON (an escaped lone surrogate) that no UTF-8 encoder can store
    tok = token(f"fan-surrogate-{uuid.uuid4().hex[:6]}")
    raw = b'{"message": "How do I descale \\ud83d?"}'
    r = api.post(f"/v1/creators/{DEMO}/chat", content=raw, headers={**bearer(tok), **JSON})
    assert_error(r, 422, "invalid_input")
    assert threads_of(api, tok) == []


def test_a_rejected_follow_up_leaves_its_thread_as_it_was(
    api: httpx.Client, token: TokenFactory, demo_ready: list[dict[str, Any]]
) -> None:
    tok = token(f"fan-follow-{uuid.uuid4().hex[:6]}")
    first = api.post(
        f"/v1/creators/{DEMO}/chat", json={"message": "How do I descale?"}, headers=bearer(tok)
    )
    assert first.status_code == 200, first.text
    thread_id = first.json()["thread_id"]
    before = api.get(f"/v1/threads/{thread_id}/messages", headers=bearer(tok)).json()
    refused = [
        api.post(  # 422: control character
            f"/v1/creators/{DEMO}/chat",
            json={"message": "and\x00then?", "thread_id": thread_id},
            headers=bearer(tok),
        ),
        api.post(  # 415: not JSON
            f"/v1/creators/{DEMO}/chat",
            content=json.dumps({"message": "and then?", "thread_id": thread_id}).encode(),
            headers={**bearer(tok), "content-type": "text/plain"},
        ),
        api.post(  # 413: too large
            f"/v1/creators/{DEMO}/chat",
            json={"message": "z" * 70_000, "thread_id": thread_id},
            headers=bearer(tok),
        ),
        api.post(  # 404: another creator's assistant cannot continue this thread
            "/v1/creators/cr_nobody/chat",
            json={"message": "and then?", "thread_id": thread_id},
            headers=bearer(tok),
        ),
        api.post(  # 404: someone else's thread
            f"/v1/creators/{DEMO}/chat",
            json={"message": "and then?", "thread_id": thread_id},
            headers=bearer(token(f"fan-other-{uuid.uuid4().hex[:6]}")),
        ),
    ]
    assert [r.status_code for r in refused] == [422, 415, 413, 404, 404]
    for r in refused:
        assert_error(r, r.status_code)
    after = api.get(f"/v1/threads/{thread_id}/messages", headers=bearer(tok)).json()
    assert after == before
    assert [t["message_count"] for t in threads_of(api, tok)] == [2]


@pytest.mark.parametrize(
    "message",
    [
        "¿Cómo descalcifico la máquina? ☕",
        "エスプレッソマシンの除石灰はどうすればいいですか",
        "كيف أزيل الترسبات من الآلة؟",  # right to left
        "How do I de\u0301scale\u200b the machine?",  # combining accent, zero-width space
        "Tab\tand\nnewline\r\nare fine",
        "👩🏽‍🔧 how often should I backflush? 🇮🇹",
    ],
    ids=["spanish", "japanese", "arabic", "combining", "whitespace", "emoji"],
)
def test_unicode_questions_are_answered(
    api: httpx.Client, token: TokenFactory, demo_ready: list[dict[str, Any]], message: str
) -> None:
    r = api.post(
        f"/v1/creators/{DEMO}/chat", json={"message": message}, headers=bearer(token("fan-intl"))
    )
    assert r.status_code == 200, r.text
    assert r.json()["answer"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "Knots\x00", "kind": "text", "content": "A bowline."}, "title"),
        ({"title": "Knots\x1b", "kind": "text", "content": "A bowline."}, "title"),
        ({"title": "", "kind": "text", "content": "A bowline."}, "title"),
        ({"title": "Knots", "kind": "text", "content": "A bow\ud800line."}, "content"),
        ({"title": "Knots", "kind": "text", "content": "   "}, "content"),
        ({"title": "Knots", "kind": "knitting", "content": "A bowline."}, "kind"),
        (
            {"title": "Knots", "kind": "text", "content": "A.", "source_url": "http://["},
            "source_url",
        ),
        (
            {"title": "Knots", "kind": "text", "content": "A.", "source_url": "javascript:x"},
            "source_url",
        ),
        ({"title": "Knots", "kind": "text", "content": "A.", "video_id": "../x"}, "video_id"),
        ({"title": "Knots", "kind": "pdf", "upload": True, "size_bytes": -1}, "size_bytes"),
        ({"title": "Knots", "kind": "pdf", "upload": True, "size_bytes": 10**30}, "size_bytes"),
    ],
    ids=[
        "nul-title",
        "escape-title",
        "empty-title",
        "surrogate-content",
        "blank-content",
        "unknown-kind",
        "unparseable-url",
        "script-url",
        "video-id-path",
        "negative-size",
        "huge-size",
    ],
)
def test_bad_documents_are_4xx_and_never_stored(
    api: httpx.Client, owner: tuple[str, str], body: dict[str, Any], field: str
) -> None:
    creator_id, tok = owner
    path = f"/v1/creators/{creator_id}/documents"
    before = api.get(path, headers=bearer(tok)).json()["documents"]
    raw = json.dumps(body).encode()  # ASCII-escaped: an unpaired surrogate travels as \udXXX
    r = api.post(path, content=raw, headers={**bearer(tok), **JSON})
    assert 400 <= r.status_code < 500, r.text
    error = assert_error(r, r.status_code)
    if r.status_code == 422:
        assert field in error["message"]
    assert api.get(path, headers=bearer(tok)).json()["documents"] == before


@pytest.mark.parametrize("content", ["Page one.\fPage two.", "%PDF-1.4 \x00\x01 binary-ish"])
def test_control_characters_in_document_content_are_the_worker_s_to_judge(
    api: httpx.Client, owner: tuple[str, str], content: str
) -> None:
    creator_id, tok = owner
    r = api.post(
        f"/v1/creators/{creator_id}/documents",
        json={"title": f"Pages {uuid.uuid4().hex[:6]}", "kind": "text", "content": content},
        headers=bearer(tok),
    )
    assert r.status_code == 202, r.text


@pytest.mark.parametrize(
    "body",
    [
        {"slug": "ok-slug", "name": "Nul\x00"},
        {"slug": "ok-slug", "name": ""},
        {"slug": "Not A Slug", "name": "x"},
        {"slug": "ok-slug", "name": "x", "persona": "p" * 4001},
    ],
    ids=["nul-name", "empty-name", "bad-slug", "long-persona"],
)
def test_bad_creators_are_4xx(
    api: httpx.Client, admin_headers: dict[str, str], body: dict[str, Any]
) -> None:
    r = api.post("/v1/creators", json=body, headers=admin_headers)
    assert 400 <= r.status_code < 500
    assert_error(r, r.status_code)
    assert api.get("/v1/creators/ok-slug", headers=admin_headers).status_code == 404


# ------------------------------------------------------- numbers: top_k, pagination
@pytest.mark.parametrize("top_k", [0, -1, 51, 10**30, 1.5, "5x", True, None])
def test_top_k_out_of_range_or_not_an_integer_is_422(
    api: httpx.Client, owner: tuple[str, str], top_k: Any
) -> None:
    creator_id, tok = owner
    r = api.post(
        f"/v1/creators/{creator_id}/search",
        json={"query": "loop", "top_k": top_k},
        headers=bearer(tok),
    )
    assert_error(r, 422, "invalid_input")


@pytest.mark.parametrize(
    "path", ["/v1/threads", "/v1/threads/th_x/messages", f"/v1/creators/{DEMO}/trending"]
)
@pytest.mark.parametrize(
    "limit", ["-1", "0", "100000", "99999999999999999999999999", "1e3", "x", ""]
)
def test_pagination_limits_out_of_range_are_422(
    api: httpx.Client, admin_headers: dict[str, str], path: str, limit: str
) -> None:
    r = api.get(path, params={"limit": limit}, headers=admin_headers)
    assert_error(r, 422, "invalid_input")


# ------------------------------------------------------ the request edge, in-process
class InProcess:
    """An HTTP app called with the events API Gateway sends its function (no authorizer)."""

    def __init__(self, app: HttpApp) -> None:
        self.app = app

    def request(
        self, method: str, path: str, content: bytes = b"", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        event = build_event(
            method=method,
            path=path,
            query="",
            headers=list((headers or {}).items()),
            body=content,
            route=Route("ANY", "/{proxy+}", "chat"),
            path_params={"proxy": path.lstrip("/")},
            source_ip="127.0.0.1",
            request_id="req-in-process",
        )
        result = self.app(event, None)
        return httpx.Response(
            result["statusCode"], headers=result["headers"], content=result["body"].encode()
        )

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)


@pytest.fixture(scope="module")
def chat_app() -> InProcess:
    return InProcess(create_chat_app(lambda: None))  # type: ignore[arg-type,return-value]


@pytest.fixture(scope="module")
def ingest_app() -> InProcess:
    container = MagicMock()  # never reached past the edge and validation in these tests
    return InProcess(create_ingest_app(lambda: container))


def test_edge_refuses_by_declared_length(chat_app: InProcess) -> None:
    r = chat_app.post(
        "/v1/creators/c/chat",
        content=b"{}",
        headers={**JSON, "content-length": str(DEFAULT_MAX_BODY_BYTES + 1)},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_edge_limits_are_per_route_and_documented(
    chat_app: InProcess, ingest_app: InProcess
) -> None:
    big = b'{"title": "' + b"t" * (DEFAULT_MAX_BODY_BYTES + 10) + b'"}'
    # over the default, within the documents route's own limit: it passes the edge (and
    # reaches the app, which finds no caller: no authorizer ran in-process)
    r = ingest_app.post("/v1/creators/c/documents", content=big, headers=JSON)
    assert r.status_code == 401, r.text
    # the same body on the search route is over its (default) limit
    r = ingest_app.post("/v1/creators/c/search", content=big, headers=JSON)
    assert r.status_code == 413
    doc = ingest_app.get("/openapi.json").json()
    operation = doc["paths"]["/v1/creators/{creator_id}/documents"]["post"]
    assert operation["x-max-body-bytes"] == MAX_DOCUMENT_BODY_BYTES


def test_edge_errors_are_declared_in_the_openapi_document(chat_app: InProcess) -> None:
    doc = chat_app.get("/openapi.json").json()
    chat = doc["paths"]["/v1/creators/{creator_id}/chat"]["post"]
    assert {"4XX", "401", "403", "413", "503"} <= set(chat["responses"])
    for status in ("4XX", "401", "403", "413", "503"):
        schema = chat["responses"][status]["content"]["application/json"]["schema"]
        names = {ref["$ref"].rsplit("/", 1)[-1] for ref in schema.get("anyOf", [schema])}
        assert names <= set(doc["components"]["schemas"]), (status, names)
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # 422 is ErrorOut
    assert chat["security"] == [{"bearer": []}]
    assert "security" not in doc["paths"]["/health"]["get"]


def test_unknown_routes_and_methods_get_the_json_error_body(chat_app: InProcess) -> None:
    r = chat_app.request("DELETE", "/health", content=b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
