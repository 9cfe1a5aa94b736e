"""The web client's static files, the dev sign-in, and the gateway hooks that serve them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import jwt
import pytest
from creator_chat.local.gateway import GatewayResponse, LocalFunction, LocalGateway, LocalRequest
from creator_chat.local.static import DEV_TOKEN_PATH, WEB_ROOT, StaticSite, dev_routes
from creator_chat.resources import DECLARATION, Route
from creator_chat.settings import Settings

SECRET = "unit-test-secret-unit-test-secret"


def _headers(response: GatewayResponse) -> dict[str, str]:
    return dict(response.headers)


def _dispatch(
    gw: LocalGateway,
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
) -> GatewayResponse:
    return asyncio.run(
        gw.dispatch(
            method=method,
            path=path,
            query=query,
            headers=headers or [],
            body=body,
            source_ip="127.0.0.1",
        )
    )


# -- the gateway hooks ------------------------------------------------------------------


def _gateway(seen: list, **hooks) -> LocalGateway:
    def api(event, context):
        seen.append(event["rawPath"])
        return {"statusCode": 200, "body": "api"}

    return LocalGateway(
        [
            Route("GET", "/open", "chat", authorized=False),
            Route("POST", "/open", "chat", authorized=False),
        ],
        {"chat": LocalFunction("chat", api)},
        LocalFunction("authorizer", lambda e, c: {"isAuthorized": False}),
        **hooks,
    )


def test_local_routes_and_static_answer_only_what_no_declared_route_matches():
    seen: list = []
    calls: list[LocalRequest] = []

    def local(request: LocalRequest) -> GatewayResponse:
        calls.append(request)
        return GatewayResponse(201, [("x-local", "1")], b"local")

    def static(path: str, query: str):
        if path == "/open":
            raise AssertionError("a declared route must win")
        if path == "/page":
            return GatewayResponse(200, [("x-static", query)], b"page")
        return (b"plain", "text/plain") if path == "/plain" else None

    gw = _gateway(
        seen, static=static, local_routes={("POST", "/mint"): local, ("POST", "/open"): local}
    )
    try:
        assert (
            _dispatch(gw, "POST", "/open").body == b"api"
        )  # the declared route, not the local one
        minted = _dispatch(
            gw, "POST", "/mint", body=b"{}", headers=[("Content-Type", "application/json")]
        )
        assert minted.status == 201 and minted.body == b"local"
        assert calls[0].headers["content-type"] == "application/json" and calls[0].body == b"{}"
        assert _dispatch(gw, "GET", "/mint").status == 404  # (method, path) both match
        page = _dispatch(gw, "GET", "/page", query="embed=1")
        assert page.body == b"page" and ("x-static", "embed=1") in page.headers
        plain = _dispatch(gw, "GET", "/plain")
        assert plain.body == b"plain" and ("content-type", "text/plain") in plain.headers
        assert _dispatch(gw, "GET", "/missing").status == 404
        assert _dispatch(gw, "POST", "/plain").status == 404  # static answers GETs only
        assert seen == ["/open"]
    finally:
        gw.close()


def test_a_failing_local_route_is_a_gateway_500():
    def broken(request: LocalRequest) -> GatewayResponse:
        raise RuntimeError("boom")

    gw = _gateway([], local_routes={("POST", "/x"): broken})
    try:
        response = _dispatch(gw, "POST", "/x")
        assert response.status == 500 and json.loads(response.body) == {
            "message": "Internal Server Error"
        }
    finally:
        gw.close()


# -- static files -----------------------------------------------------------------------


def test_pages_and_files_are_served_with_security_headers():
    site = StaticSite(dev_sign_in=True)
    index = (WEB_ROOT / "index.html").read_bytes()
    for path in ("/", "/index.html", "/c/bench-shot", "/c/bench-shot/"):
        page = site(path, "")
        assert page is not None and page.body == index, path
        headers = _headers(page)
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
    for name, content_type in (
        ("app.js", "text/javascript"),
        ("style.css", "text/css"),
        ("widget.js", "text/javascript"),
    ):
        found = site(f"/{name}", "")
        assert found is not None and found.body == (WEB_ROOT / name).read_bytes()
        assert _headers(found)["content-type"].startswith(content_type)
        assert _headers(found)["x-content-type-options"] == "nosniff"
    assert _headers(site("/widget.js", ""))["cross-origin-resource-policy"] == "cross-origin"  # type: ignore[arg-type]


def test_only_the_embed_page_may_be_framed_by_other_sites():
    site = StaticSite()
    embed = _headers(site("/c/bench-shot", "embed=1"))  # type: ignore[arg-type]
    assert "frame-ancestors *" in embed["content-security-policy"]
    assert "x-frame-options" not in embed
    for path, query in (
        ("/", "embed=1"),
        ("/c/bench-shot", ""),
        ("/c/bench-shot", "embed=0"),
        ("/app.js", "embed=1"),
    ):
        headers = _headers(site(path, query))  # type: ignore[arg-type]
        assert "frame-ancestors 'none'" in headers["content-security-policy"], (path, query)


def test_config_tells_the_page_its_api_and_sign_in():
    local = StaticSite(dev_sign_in=True)("/config.json", "")
    assert local is not None and json.loads(local.body) == {
        "api_base": "",
        "dev_sign_in": True,
        "sign_in_url": None,
    }
    hosted = StaticSite(api_base="https://api.example", sign_in_url="https://auth.example/login")
    assert json.loads(hosted("/config.json", "").body) == {  # type: ignore[union-attr]
        "api_base": "https://api.example",
        "dev_sign_in": False,
        "sign_in_url": "https://auth.example/login",
    }


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/..%2Fstatic.py",
        "/.hidden.js",
        "/c/",
        "/c/Bench_Shot",
        "/c/x/y",
        "/static.py",
        "/nothing.js",
        "/web/app.js",
        "/APP.JS",
        "/local/dev-token",
    ],
)
def test_nothing_outside_the_web_folder_is_served(path: str):
    assert StaticSite()(path, "") is None


def test_only_known_file_types_are_served(tmp_path: Path):
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "notes.txt").write_text("private")
    (tmp_path / "config.json").write_text('{"stale": true}')
    site = StaticSite(root=tmp_path)
    assert site("/notes.txt", "") is None
    assert json.loads(site("/config.json", "").body) == {  # type: ignore[union-attr]
        "api_base": "",
        "dev_sign_in": False,
        "sign_in_url": None,
    }  # generated, never a file


def test_the_page_loads_its_assets_from_the_root_so_creator_paths_work():
    html = (WEB_ROOT / "index.html").read_text()
    assert 'src="/app.js"' in html and 'href="/style.css"' in html
    assert "<script>" not in html and "style=" not in html  # nothing inline: the CSP forbids it


# -- dev sign-in ------------------------------------------------------------------------


def _mint(
    settings: Settings,
    body: object,
    *,
    content_type: str = "application/json",
    origin: str | None = None,
) -> GatewayResponse:
    (route,) = dev_routes(settings).values()
    headers = {"content-type": content_type, "host": "127.0.0.1:8080"}
    if origin:
        headers["origin"] = origin
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return route(LocalRequest("POST", DEV_TOKEN_PATH, "", headers, raw, "127.0.0.1"))


def test_dev_sign_in_mints_a_fan_token_only():
    settings = Settings(env="local", jwt_secret=SECRET)
    response = _mint(settings, {"user_id": "web-fan", "tier": "premium", "role": "admin"})
    assert response.status == 200 and _headers(response)["cache-control"] == "no-store"
    body = json.loads(response.body)
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"], audience=settings.jwt_audience)
    assert claims["sub"] == "web-fan" and claims["role"] == "fan" and claims["tier"] == "premium"
    assert body["role"] == "fan" and body["expires_in"] > 0


@pytest.mark.parametrize(
    ("body", "content_type", "origin", "status"),
    [
        ({"user_id": "a"}, "text/plain", None, 415),  # a cross-site form cannot send JSON
        ({"user_id": "a"}, "application/json", "http://evil.example", 403),
        (b"{nope", "application/json", None, 400),
        (["a"], "application/json", None, 422),
        ({"user_id": ""}, "application/json", None, 422),
        ({"user_id": "a" * 65}, "application/json", None, 422),
        ({"user_id": "../admin"}, "application/json", None, 422),
        ({"user_id": "a", "tier": "platinum"}, "application/json", None, 422),
    ],
)
def test_dev_sign_in_refuses_bad_requests(body, content_type, origin, status):
    response = _mint(
        Settings(env="local", jwt_secret=SECRET), body, content_type=content_type, origin=origin
    )
    assert response.status == status
    assert set(json.loads(response.body)["error"]) == {"code", "message", "request_id"}


def test_dev_sign_in_accepts_its_own_origin():
    response = _mint(
        Settings(env="test", jwt_secret=SECRET), {"user_id": "a"}, origin="http://127.0.0.1:8080"
    )
    assert response.status == 200


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_dev_sign_in_does_not_exist_in_deployed_environments(env: str):
    assert dev_routes(Settings(env=env, jwt_secret=SECRET)) == {}  # type: ignore[arg-type]
    assert dev_routes(Settings(env="local", jwt_secret=None)) == {}


def test_dev_sign_in_is_not_a_declared_route():
    assert all(not r.path.startswith("/local") for r in DECLARATION.routes)
