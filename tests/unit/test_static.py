"""The web client's static files, the dev sign-in, and the gateway hooks that serve them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
from creator_chat.auth import TokenVerifier
from creator_chat.clock import FixedClock
from creator_chat.domain.models import Creator, Role
from creator_chat.errors import Conflict
from creator_chat.local.gateway import GatewayResponse, LocalFunction, LocalGateway, LocalRequest
from creator_chat.local.runtime import LocalRuntime
from creator_chat.local.static import (
    DEV_CREATORS_PATH,
    DEV_TOKEN_PATH,
    WEB_ROOT,
    StaticSite,
    dev_routes,
)
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


def test_the_dashboard_is_its_own_page_on_the_same_stylesheet():
    site = StaticSite(dev_sign_in=True, max_upload_bytes=5 * 1024 * 1024)
    html = (WEB_ROOT / "dashboard.html").read_bytes()
    for path in ("/dashboard", "/dashboard/", "/dashboard.html"):
        page = site(path, "")
        assert page is not None and page.body == html, path
        headers = _headers(page)
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
    assert site("/dashboard", "embed=1") is not None
    assert (
        "frame-ancestors 'none'"
        in _headers(site("/dashboard", "embed=1"))[  # type: ignore[arg-type]
            "content-security-policy"
        ]
    )
    script = site("/dashboard.js", "")
    assert script is not None and _headers(script)["content-type"].startswith("text/javascript")
    text = html.decode()
    assert 'src="/dashboard.js"' in text and 'href="/style.css"' in text
    assert "<script>" not in text and "style=" not in text
    assert json.loads(site("/config.json", "").body)["max_upload_bytes"] == 5 * 1024 * 1024  # type: ignore[union-attr]


# -- dev sign-in ------------------------------------------------------------------------


class FakeCreators:
    """The creator store's part the dev sign-in uses, in memory."""

    def __init__(self, *creators: Creator) -> None:
        self.by_id = {c.creator_id: c for c in creators}

    def get_creator(self, creator_id: str) -> Creator | None:
        return self.by_id.get(creator_id)

    def get_creator_by_slug(self, slug: str) -> Creator | None:
        return next((c for c in self.by_id.values() if c.slug == slug), None)

    def list_creators(self, *, active_only: bool = True) -> list[Creator]:
        return [c for c in self.by_id.values() if c.active or not active_only]

    def create_creator(self, creator: Creator) -> None:
        if creator.creator_id in self.by_id or self.get_creator_by_slug(creator.slug):
            raise Conflict(f"creator id or slug '{creator.slug}' already exists")
        self.by_id[creator.creator_id] = creator


def _mint(
    settings: Settings,
    body: object,
    *,
    content_type: str = "application/json",
    origin: str | None = None,
    creators: FakeCreators | None = None,
) -> GatewayResponse:
    routes = dev_routes(settings, creators=creators, clock=FixedClock(1_800_000_000.0))  # type: ignore[arg-type]
    route = routes[("POST", DEV_TOKEN_PATH)]
    headers = {"content-type": content_type, "host": "127.0.0.1:8080"}
    if origin:
        headers["origin"] = origin
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return route(LocalRequest("POST", DEV_TOKEN_PATH, "", headers, raw, "127.0.0.1"))


def test_dev_sign_in_mints_a_fan_token_by_default():
    settings = Settings(env="local", jwt_secret=SECRET)
    response = _mint(settings, {"user_id": "web-fan", "tier": "premium"})
    assert response.status == 200 and _headers(response)["cache-control"] == "no-store"
    body = json.loads(response.body)
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"], audience=settings.jwt_audience)
    assert claims["sub"] == "web-fan" and claims["role"] == "fan" and claims["tier"] == "premium"
    assert "creator_id" not in claims
    assert body["role"] == "fan" and body["expires_in"] > 0


@pytest.mark.parametrize("role", ["admin", "ADMIN", "owner", 1])
def test_dev_sign_in_never_mints_an_admin_token(role: object):
    response = _mint(
        Settings(env="local", jwt_secret=SECRET),
        {"user_id": "web-fan", "role": role},
        creators=FakeCreators(),
    )
    assert response.status == 422
    assert "role: fan or creator" in json.loads(response.body)["error"]["message"]


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


# -- dev sign-in as a creator (the dashboard) -------------------------------------------

DEMO = Creator(creator_id="cr_bench-shot", slug="bench-shot", name="Bench Shot Espresso")
HIDDEN = Creator(creator_id="cr_old", slug="old-channel", name="Old channel", active=False)


def _claims(response: GatewayResponse, settings: Settings) -> dict[str, object]:
    token = json.loads(response.body)["token"]
    return jwt.decode(token, SECRET, algorithms=["HS256"], audience=settings.jwt_audience)


@pytest.mark.parametrize("chosen", ["cr_bench-shot", "bench-shot"])
def test_dev_sign_in_as_the_owner_of_an_existing_creator(chosen: str):
    settings = Settings(env="local", jwt_secret=SECRET)
    response = _mint(
        settings,
        {"user_id": "ines", "role": "creator", "creator": chosen},
        creators=FakeCreators(DEMO),
    )
    assert response.status == 200, response.body
    assert _headers(response)["cache-control"] == "no-store"
    body = json.loads(response.body)
    assert body["role"] == "creator" and body["creator"]["creator_id"] == "cr_bench-shot"
    claims = _claims(response, settings)
    # what `creator-chat token --role creator --creator bench-shot` prints: the id, not the slug
    assert claims["role"] == "creator" and claims["creator_id"] == "cr_bench-shot"
    assert claims["sub"] == "ines" and claims["tier"] == "free"
    identity = TokenVerifier(settings).verify(body["token"])
    assert identity.role is Role.CREATOR and identity.can_manage_creator("cr_bench-shot")
    assert not identity.can_manage_creator("cr_other")


def test_dev_sign_in_as_a_new_creator_creates_it_first():
    settings = Settings(env="local", jwt_secret=SECRET)
    store = FakeCreators(DEMO)
    response = _mint(
        settings,
        {
            "user_id": "ana",
            "role": "creator",
            "new_creator": {"slug": "ana-bakes", "name": " Ana "},
        },
        creators=store,
    )
    assert response.status == 200, response.body
    created = store.get_creator_by_slug("ana-bakes")
    assert created is not None and created.name == "Ana" and created.active
    assert created.creator_id.startswith("cr_") and created.created_at == 1_800_000_000
    assert _claims(response, settings)["creator_id"] == created.creator_id
    again = _mint(
        settings,
        {"user_id": "eve", "role": "creator", "new_creator": {"slug": "ana-bakes", "name": "x"}},
        creators=store,
    )
    assert again.status == 409  # a taken address is not a way into someone else's creator


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"creator": "no-such-creator"}, 404),
        ({}, 422),  # neither an existing nor a new creator
        ({"creator": "bench-shot", "new_creator": {"slug": "abc", "name": "A"}}, 422),
        ({"creator": ""}, 422),
        ({"creator": ["bench-shot"]}, 422),
        ({"new_creator": {"slug": "Not A Slug", "name": "A"}}, 422),
        ({"new_creator": {"slug": "-abc", "name": "A"}}, 422),
        ({"new_creator": {"slug": "abc\n", "name": "A"}}, 422),
        ({"new_creator": {"slug": "abc", "name": ""}}, 422),
        ({"new_creator": {"slug": "abc", "name": "A", "active": False}}, 422),
        ({"new_creator": "abc"}, 422),
    ],
)
def test_dev_sign_in_as_a_creator_refuses_bad_choices(body: dict[str, object], status: int):
    response = _mint(
        Settings(env="local", jwt_secret=SECRET),
        {"user_id": "ines", "role": "creator", **body},
        creators=FakeCreators(DEMO),
    )
    assert response.status == status
    assert set(json.loads(response.body)["error"]) == {"code", "message", "request_id"}


def test_without_a_creator_store_the_sign_in_offers_fans_only():
    response = _mint(
        Settings(env="local", jwt_secret=SECRET),
        {"user_id": "ines", "role": "creator", "creator": "bench-shot"},
    )
    assert response.status == 403
    assert ("GET", DEV_CREATORS_PATH) not in dev_routes(Settings(env="local", jwt_secret=SECRET))


def test_the_creator_choice_lists_every_creator_by_name():
    routes = dev_routes(
        Settings(env="test", jwt_secret=SECRET),
        creators=FakeCreators(HIDDEN, DEMO),  # type: ignore[arg-type]
        clock=FixedClock(0),
    )
    listed = routes[("GET", DEV_CREATORS_PATH)](
        LocalRequest("GET", DEV_CREATORS_PATH, "", {"host": "127.0.0.1:8080"}, b"", "127.0.0.1")
    )
    assert listed.status == 200 and _headers(listed)["cache-control"] == "no-store"
    assert json.loads(listed.body) == {
        "creators": [
            {
                "creator_id": "cr_bench-shot",
                "slug": "bench-shot",
                "name": "Bench Shot Espresso",
                "active": True,
            },
            {"creator_id": "cr_old", "slug": "old-channel", "name": "Old channel", "active": False},
        ]
    }


@pytest.mark.parametrize(
    ("host", "allowed", "on"),
    [
        ("127.0.0.1", False, True),
        ("::1", False, True),
        ("localhost", False, True),
        ("0.0.0.0", False, False),
        ("192.168.1.20", False, False),
        ("0.0.0.0", True, True),
    ],
)
def test_the_creator_sign_in_follows_the_loopback_rule(
    host: str, allowed: bool, on: bool, monkeypatch: pytest.MonkeyPatch
):
    """The same rule as the fan sign-in: on for a loopback bind only, unless allowed."""
    monkeypatch.delenv("CREATOR_CHAT_DEV_SIGN_IN", raising=False)
    shown = host if ":" not in host else f"[{host}]"
    settings = Settings(env="local", jwt_secret=SECRET, public_url=f"http://{shown}:8080")
    runtime = LocalRuntime(host=host, allow_dev_sign_in=allowed)
    runtime.container = SimpleNamespace(creators=FakeCreators(DEMO), clock=FixedClock(0))
    routes = runtime._dev_sign_in_routes(settings)
    assert runtime.dev_sign_in is on and runtime.dev_sign_in_refused is not on
    assert runtime.dev_sign_in_exposed is (on and host not in ("127.0.0.1", "::1", "localhost"))
    headers = {"content-type": "application/json", "host": "127.0.0.1:8080"}
    body = json.dumps({"user_id": "ines", "role": "creator", "creator": "bench-shot"}).encode()
    minted = routes[("POST", DEV_TOKEN_PATH)](
        LocalRequest("POST", DEV_TOKEN_PATH, "", headers, body, "127.0.0.1")
    )
    listed = routes[("GET", DEV_CREATORS_PATH)](
        LocalRequest("GET", DEV_CREATORS_PATH, "", headers, b"", "127.0.0.1")
    )
    if on:
        assert minted.status == 200 and listed.status == 200
        assert _claims(minted, settings)["creator_id"] == "cr_bench-shot"
    else:
        for refused in (minted, listed):
            assert refused.status == 403
            error = json.loads(refused.body)["error"]
            assert error["code"] == "dev_sign_in_off" and "--allow-dev-sign-in" in error["message"]
