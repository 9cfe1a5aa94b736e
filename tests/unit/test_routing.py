"""The HTTP functions' router (``creator_chat.api.routing``) on the events API Gateway sends.

A small app declared the way the API's apps are (``Depends``, ``Query``, a body model, the
error mapping of ``api.common``) is called with payload-2.0 events; each test asserts what a
client of the deployed function would see: status, JSON error body, headers, the body.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

import pytest
from creator_chat.api.common import DEFAULT_MAX_BODY_BYTES, install_edge, request_id
from creator_chat.api.routing import Depends, HttpApp, JSONResponse, Query, Request, Response
from creator_chat.errors import NotFound
from pydantic import BaseModel, Field

CALLS: list[str] = []
KNOWN = {"cr_1": "cr_1", "slug-one": "cr_1"}


def known_creator(creator_id: str) -> str:
    CALLS.append(creator_id)
    if creator_id not in KNOWN:
        raise NotFound("no such creator")
    return KNOWN[creator_id]


Creator = Annotated[str, Depends(known_creator)]


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=20)
    stars: int = Field(default=3, ge=1, le=5)


class NoteOut(BaseModel):
    creator_id: str
    text: str
    stars: int


def make_app() -> HttpApp:
    app = HttpApp(title="test", version="0")
    install_edge(app)

    @app.get("/v1/creators/{creator_id}/notes")
    def list_notes(
        creator_id: Creator, again: Creator, limit: Annotated[int, Query(ge=1, le=10)] = 5
    ) -> dict[str, Any]:
        return {"creator_id": creator_id, "limit": limit}

    @app.post("/v1/creators/{creator_id}/notes", response_model=NoteOut, status_code=201)
    def add_note(creator_id: Creator, body: NoteIn, request: Request) -> NoteOut:
        return NoteOut(creator_id=creator_id, text=body.text, stars=body.stars)

    @app.get("/v1/files/{name}")
    def file(name: str) -> Response:
        return Response(name.encode() + b"\x00\xff", media_type="application/octet-stream")

    @app.delete("/v1/boom")
    def boom() -> JSONResponse:
        raise RuntimeError("a bug")

    @app.get("/v1/whoami")
    def whoami(request: Request) -> dict[str, str]:
        return {"request_id": request_id(request)}

    return app


APP = make_app()


def call(
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    base64_body: bool = False,
) -> tuple[int, dict[str, str], Any]:
    event: dict[str, Any] = {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"content-type": "application/json", **(headers or {})},
        "requestContext": {"http": {"method": method, "path": path}, "requestId": "req-1"},
        "isBase64Encoded": base64_body,
    }
    if body is not None:
        event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
    result = APP(event, None)
    raw = result["body"]
    if result["isBase64Encoded"]:
        return result["statusCode"], result["headers"], base64.b64decode(raw)
    return result["statusCode"], result["headers"], json.loads(raw) if raw else None


def error(status: int, got: tuple[int, dict[str, str], Any]) -> dict[str, Any]:
    assert got[0] == status, got
    assert got[1]["content-type"] == "application/json"
    err: dict[str, Any] = got[2]["error"]
    assert err["request_id"] == "req-1"
    return err


def test_path_query_and_dependencies_reach_the_endpoint() -> None:
    CALLS.clear()
    status, headers, body = call("GET", "/v1/creators/slug-one/notes", query="limit=2&limit=7")
    assert status == 200 and body == {"creator_id": "cr_1", "limit": 7}  # the last value wins
    assert CALLS == ["slug-one"]  # one dependency, used twice, called once per request
    assert int(headers["content-length"]) == len(json.dumps(body, separators=(",", ":")))
    assert call("GET", "/v1/creators/cr_1/notes")[2]["limit"] == 5  # the default


def test_path_parameters_arrive_decoded() -> None:
    status, _, raw = call("GET", "/v1/files/a%20b")
    assert status == 200 and raw == b"a b\x00\xff"  # a binary body is base64 in the result


@pytest.mark.parametrize("limit", ["0", "11", "x", ""])
def test_query_parameters_out_of_bounds_are_422_naming_the_parameter(limit: str) -> None:
    err = error(422, call("GET", "/v1/creators/cr_1/notes", query=f"limit={limit}"))
    assert err["code"] == "invalid_input" and err["message"].startswith("query.limit: ")


def test_a_valid_body_is_validated_into_its_model_and_answered_with_the_route_status() -> None:
    status, _, body = call("POST", "/v1/creators/cr_1/notes", body=b'{"text": "hi"}')
    assert status == 201 and body == {"creator_id": "cr_1", "text": "hi", "stars": 3}


def test_a_base64_encoded_body_is_decoded() -> None:
    payload = json.dumps({"text": "héllo", "stars": 5}).encode()
    status, _, body = call("POST", "/v1/creators/cr_1/notes", body=payload, base64_body=True)
    assert status == 201 and body["text"] == "héllo"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b'{"text": ""}', "text: "),
        (b'{"text": "ok", "stars": 9}', "stars: "),
        (b"[1, 2]", ": Input should be a valid dictionary"),
        (b"", ": Field required"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(payload: bytes, field: str) -> None:
    err = error(422, call("POST", "/v1/creators/cr_1/notes", body=payload))
    assert err["code"] == "invalid_input" and field in err["message"], err


def test_malformed_json_is_400_before_any_dependency_runs() -> None:
    CALLS.clear()
    err = error(400, call("POST", "/v1/creators/nobody/notes", body=b'{"text": '))
    assert err["code"] == "malformed_json" and CALLS == []


def test_dependencies_refuse_before_the_body_is_validated() -> None:
    err = error(404, call("POST", "/v1/creators/nobody/notes", body=b'{"text": ""}'))
    assert err["code"] == "not_found"


def test_the_edge_refuses_large_and_non_json_bodies() -> None:
    big = b'{"text": "' + b"x" * DEFAULT_MAX_BODY_BYTES + b'"}'
    assert error(413, call("POST", "/v1/creators/cr_1/notes", body=big))["code"] == (
        "payload_too_large"
    )
    declared = {"content-length": str(DEFAULT_MAX_BODY_BYTES + 1)}
    assert error(413, call("POST", "/v1/creators/cr_1/notes", body=b"{}", headers=declared))
    form = {"content-type": "application/x-www-form-urlencoded"}
    err = error(415, call("POST", "/v1/creators/cr_1/notes", body=b"text=hi", headers=form))
    assert err["code"] == "unsupported_media_type"


def test_unknown_paths_are_404_and_other_methods_405() -> None:
    assert error(404, call("GET", "/v1/nothing"))["code"] == "not_found"
    assert error(404, call("GET", "/v1/creators/cr_1/notes/"))["code"] == "not_found"
    assert error(405, call("PUT", "/v1/creators/cr_1/notes"))["code"] == "method_not_allowed"


def test_head_answers_like_get_without_the_body() -> None:
    got = call("GET", "/v1/creators/cr_1/notes")
    status, headers, body = call("HEAD", "/v1/creators/cr_1/notes")
    assert status == 200 and body is None
    assert headers["content-length"] == got[1]["content-length"]


def test_a_bug_is_a_500_with_the_error_body_not_a_crash() -> None:
    assert error(500, call("DELETE", "/v1/boom"))["code"] == "internal_error"


def test_the_request_id_is_api_gateways() -> None:
    assert call("GET", "/v1/whoami")[2] == {"request_id": "req-1"}


def test_the_openapi_document_is_written_from_the_same_declarations() -> None:
    status, _, doc = call("GET", "/openapi.json")
    assert status == 200 and "/openapi.json" not in doc["paths"]
    listed = doc["paths"]["/v1/creators/{creator_id}/notes"]["get"]["parameters"]
    by_name = {p["name"]: p for p in listed}
    assert set(by_name) == {"creator_id", "limit"}  # the dependency's path parameter too
    assert by_name["limit"]["schema"] == {
        "type": "integer",
        "maximum": 10,
        "minimum": 1,
        "default": 5,
        "title": "Limit",
    }
    post = doc["paths"]["/v1/creators/{creator_id}/notes"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NoteIn"
    }
    assert "201" in post["responses"] and doc["paths"]["/v1/whoami"]["get"]["security"]


def test_a_parameter_the_router_cannot_read_fails_when_the_app_is_built() -> None:
    app = HttpApp(title="test", version="0")

    with pytest.raises(TypeError, match="is not a route parameter"):

        @app.get("/v1/items")
        def items(tags: list[str]) -> dict[str, Any]:
            return {}
