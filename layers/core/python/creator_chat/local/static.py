"""The web client, served by the local gateway, and the local-only dev sign-in.

``StaticSite`` is the gateway's ``static`` hook: ``/`` and ``/c/{slug}`` (the same page,
opened on that creator) answer ``web/index.html``; ``/app.js``, ``/style.css``,
``/widget.js`` and the folder's other files answer themselves; ``/config.json`` tells the
page where the API is (same origin here) and whether dev sign-in is available. Every file
carries the security headers of :func:`security_headers`: a CSP allowing only this origin,
``frame-ancestors 'none'`` except on the embed page (``/c/{slug}?embed=1``, framed by
creators' sites), and ``X-Content-Type-Options: nosniff``.

``/dashboard`` is the creator's dashboard (``web/dashboard.html``), on the same stylesheet.

``dev_routes`` are what the pages need locally: ``POST /local/dev-token`` mints a *fan* token,
or a *creator* token for the owner of an existing or a new creator, signed with the local
secret; ``GET /local/dev-creators`` lists the creators to choose from. The local runtime wires
them only outside the deployed environments (and, unless told otherwise, only on a loopback
bind); they are not in the declaration, so CDK never deploys them.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from creator_chat.auth import DEV_TOKEN_TTL_S, issue_dev_token
from creator_chat.domain.models import Creator, Identity, Role, Tier
from creator_chat.errors import DomainError
from creator_chat.local.gateway import GatewayResponse, LocalRequest, LocalRoute
from creator_chat.ports import Clock, CreatorStore
from creator_chat.settings import Settings
from creator_chat.usecases import creators as creator_uc

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
DEV_TOKEN_PATH = "/local/dev-token"  # noqa: S105 - a URL path, not a secret
DEV_CREATORS_PATH = "/local/dev-creators"
DASHBOARD_PAGE = ("/dashboard", "/dashboard/")
# Only these environments may mint tokens with the shared secret.
DEV_SIGN_IN_ENVS = ("local", "test")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# A creator's page: /c/{slug}, slugs as the creators API accepts them.
CREATOR_PAGE = re.compile(r"/c/[a-z0-9][a-z0-9-]{1,62}/?")
# One file directly in the web folder: no dot files, no traversal, no sub-folders.
FILE_NAME = re.compile(r"/([a-z0-9][a-z0-9_-]*\.[a-z]+)")
USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
# who creates a creator for the dev sign-in: the local server itself, as an admin would
DEV_SIGN_IN_ADMIN = Identity(user_id="system:dev-sign-in", role=Role.ADMIN, tier=Tier.ENTERPRISE)


def content_security_policy(*, frame_ancestors: str = "'none'", connect_src: str = "'self'") -> str:
    """The page's CSP: its own scripts, styles and API only (``connect_src``)."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {connect_src}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        )
    )


def security_headers(*, embed: bool = False) -> list[tuple[str, str]]:
    """Headers every static file carries; ``embed`` lets any site frame the page."""
    headers = [
        (
            "content-security-policy",
            content_security_policy(frame_ancestors="*" if embed else "'none'"),
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("cache-control", "no-cache"),
    ]
    if not embed:
        headers.append(("x-frame-options", "DENY"))  # for browsers without frame-ancestors
    return headers


def _json(status: int, body: Mapping[str, Any], *, cache: str = "no-cache") -> GatewayResponse:
    headers = [(k, cache if k == "cache-control" else v) for k, v in security_headers()]
    return GatewayResponse(
        status, [("content-type", "application/json"), *headers], json.dumps(body).encode()
    )


class StaticSite:
    """The gateway's ``static`` hook for the web client in ``root``."""

    def __init__(
        self,
        *,
        root: Path = WEB_ROOT,
        dev_sign_in: bool = False,
        api_base: str = "",
        sign_in_url: str | None = None,
        max_upload_bytes: int | None = None,
    ) -> None:
        self.root = root
        self.config: dict[str, Any] = {
            "api_base": api_base,
            "dev_sign_in": dev_sign_in,
            "sign_in_url": sign_in_url,
        }
        if max_upload_bytes is not None:  # the dashboard refuses a larger file before sending
            self.config["max_upload_bytes"] = max_upload_bytes

    def __call__(self, path: str, query: str) -> GatewayResponse | None:
        if path == "/config.json":
            return _json(200, self.config)
        if path in ("/", "/index.html") or CREATOR_PAGE.fullmatch(path):
            embed = bool(CREATOR_PAGE.fullmatch(path)) and parse_qs(query).get("embed") == ["1"]
            return self._file("index.html", embed=embed)
        if path in DASHBOARD_PAGE:
            return self._file("dashboard.html")
        named = FILE_NAME.fullmatch(path)
        return self._file(named.group(1)) if named else None

    def _file(self, name: str, *, embed: bool = False) -> GatewayResponse | None:
        content_type = CONTENT_TYPES.get(Path(name).suffix)
        file = self.root / name
        if content_type is None or name == "config.json" or not file.is_file():
            return None
        headers = [("content-type", content_type), *security_headers(embed=embed)]
        if name == "widget.js":  # loaded by creators' pages, from their origin
            headers.append(("cross-origin-resource-policy", "cross-origin"))
        return GatewayResponse(200, headers, file.read_bytes())


def _error(status: int, code: str, message: str) -> GatewayResponse:
    body = {"error": {"code": code, "message": message, "request_id": str(uuid.uuid4())}}
    return _json(status, body, cache="no-store")


def _creator_out(creator: Creator) -> dict[str, Any]:
    return {
        "creator_id": creator.creator_id,
        "slug": creator.slug,
        "name": creator.name,
        "active": creator.active,
    }


def dev_routes(
    settings: Settings,
    *,
    creators: CreatorStore | None = None,
    clock: Clock | None = None,
) -> dict[tuple[str, str], LocalRoute]:
    """``POST /local/dev-token`` → ``{token, ...}``: a token for the web pages.

    - ``{user_id, tier?}`` (or ``"role": "fan"``): a fan.
    - ``{user_id, tier?, "role": "creator", "creator": id or slug}``: the owner of that
      creator, or ``"new_creator": {slug, name}`` to create one first (as an admin would).
      The token is what ``creator-chat token --role creator --creator ...`` prints: role
      ``creator`` and the creator's id in ``creator_id``. Only with ``creators`` (the store).

    ``GET /local/dev-creators`` → ``{creators: [{creator_id, slug, name, active}]}``: whom
    the creator choice offers (inactive ones too: their owners may still manage them).

    Refused outside local and test (the deployed environments verify Cognito tokens). Never
    an admin token, and only for JSON requests (a cross-site form cannot send one without a
    CORS preflight, which these routes never answer), from this origin.
    """
    if settings.env not in DEV_SIGN_IN_ENVS or settings.jwt_secret is None:
        return {}

    def mint(request: LocalRequest) -> GatewayResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _error(415, "unsupported_media_type", "send JSON")
        origin = request.headers.get("origin")
        if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
            return _error(403, "forbidden", "dev sign-in is for this origin only")
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _error(400, "malformed_json", "request body is not valid JSON")
        if not isinstance(body, dict):
            return _error(422, "invalid_input", "expected an object")
        user_id = body.get("user_id")
        tier = body.get("tier", Tier.FREE.value)
        role = body.get("role", Role.FAN.value)
        if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id):
            return _error(422, "invalid_input", "user_id: 1-64 letters, digits or _.@-")
        if tier not in {t.value for t in Tier}:
            return _error(422, "invalid_input", "tier: free, premium or enterprise")
        if role not in (Role.FAN.value, Role.CREATOR.value):
            return _error(
                422,
                "invalid_input",
                "role: fan or creator (an admin token: creator-chat token --role admin)",
            )
        creator: Creator | None = None
        if role == Role.CREATOR.value:
            chosen = _chosen_creator(body, creators, clock)
            if isinstance(chosen, GatewayResponse):
                return chosen
            creator = chosen
        token = issue_dev_token(
            settings,
            user_id=user_id,
            role=Role(role),
            tier=Tier(tier),
            creator_id=creator.creator_id if creator else None,
        )
        out: dict[str, Any] = {
            "token": token,
            "user_id": user_id,
            "role": role,
            "tier": tier,
            "expires_in": DEV_TOKEN_TTL_S,
        }
        if creator is not None:
            out["creator"] = _creator_out(creator)
        return _json(200, out, cache="no-store")  # a credential

    routes: dict[tuple[str, str], LocalRoute] = {("POST", DEV_TOKEN_PATH): mint}
    if creators is not None:
        store = creators

        def list_creators(request: LocalRequest) -> GatewayResponse:
            listed = sorted(store.list_creators(active_only=False), key=lambda c: c.name.lower())
            return _json(200, {"creators": [_creator_out(c) for c in listed]}, cache="no-store")

        routes[("GET", DEV_CREATORS_PATH)] = list_creators
    return routes


def _chosen_creator(
    body: Mapping[str, Any], creators: CreatorStore | None, clock: Clock | None
) -> Creator | GatewayResponse:
    """The creator a creator sign-in asks for: an existing one (id or slug), or a new one."""
    if creators is None or clock is None:
        return _error(403, "forbidden", "this server offers the fan sign-in only")
    existing, new = body.get("creator"), body.get("new_creator")
    if (existing is None) == (new is None):
        return _error(
            422, "invalid_input", "give either 'creator' (an id or slug) or 'new_creator'"
        )
    if existing is not None:
        if not isinstance(existing, str) or not existing or len(existing) > 64:
            return _error(422, "invalid_input", "creator: a creator's id or slug")
        found = creators.get_creator(existing) or creators.get_creator_by_slug(existing)
        if found is None:
            return _error(404, "not_found", f"there is no creator '{existing}'")
        return found
    if not isinstance(new, dict) or set(new) - {"slug", "name"}:
        return _error(422, "invalid_input", "new_creator: {slug, name}")
    slug, name = new.get("slug"), new.get("name")
    if not isinstance(slug, str) or not creator_uc.SLUG_RE.fullmatch(slug):
        return _error(
            422, "invalid_input", "new_creator.slug: 3-63 lowercase letters, digits or hyphens"
        )
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        return _error(422, "invalid_input", "new_creator.name: 1-200 characters")
    try:
        return creator_uc.create_creator(
            creators, clock, DEV_SIGN_IN_ADMIN, slug=slug, name=name.strip()
        )
    except DomainError as err:  # the slug is taken (409)
        return _error(err.status, err.code, err.message)


def refused_dev_routes(reason: str) -> dict[tuple[str, str], LocalRoute]:
    """The dev sign-in turned off (a server reachable from other hosts): ``403`` with why."""

    def refuse(request: LocalRequest) -> GatewayResponse:
        return _error(403, "dev_sign_in_off", reason)

    return {("POST", DEV_TOKEN_PATH): refuse, ("GET", DEV_CREATORS_PATH): refuse}
