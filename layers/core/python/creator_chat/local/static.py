"""The web client, served by the local gateway, and the local-only dev sign-in.

``StaticSite`` is the gateway's ``static`` hook: ``/`` and ``/c/{slug}`` (the same page,
opened on that creator) answer ``web/index.html``; ``/app.js``, ``/style.css``,
``/widget.js`` and the folder's other files answer themselves; ``/config.json`` tells the
page where the API is (same origin here) and whether dev sign-in is available. Every file
carries the security headers of :func:`security_headers`: a CSP allowing only this origin,
``frame-ancestors 'none'`` except on the embed page (``/c/{slug}?embed=1``, framed by
creators' sites), and ``X-Content-Type-Options: nosniff``.

``dev_routes`` is the one POST the page needs locally, ``/local/dev-token``: it mints a
*fan* token signed with the local secret. The local runtime wires it only outside the
deployed environments; it is not in the declaration, so CDK never deploys it.
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
from creator_chat.domain.models import Role, Tier
from creator_chat.local.gateway import GatewayResponse, LocalRequest, LocalRoute
from creator_chat.settings import Settings

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
DEV_TOKEN_PATH = "/local/dev-token"  # noqa: S105 - a URL path, not a secret
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
    ) -> None:
        self.root = root
        self.config = {"api_base": api_base, "dev_sign_in": dev_sign_in, "sign_in_url": sign_in_url}

    def __call__(self, path: str, query: str) -> GatewayResponse | None:
        if path == "/config.json":
            return _json(200, self.config)
        if path in ("/", "/index.html") or CREATOR_PAGE.fullmatch(path):
            embed = bool(CREATOR_PAGE.fullmatch(path)) and parse_qs(query).get("embed") == ["1"]
            return self._file("index.html", embed=embed)
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


def dev_routes(settings: Settings) -> dict[tuple[str, str], LocalRoute]:
    """``POST /local/dev-token {user_id, tier}`` → ``{token, ...}``: a fan token for the page.

    Refused outside local and test (the deployed environments verify Cognito tokens). Only
    fan tokens are minted, and only for JSON requests (a cross-site form cannot send one
    without a CORS preflight, which this route never answers), from this origin.
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
        if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id):
            return _error(422, "invalid_input", "user_id: 1-64 letters, digits or _.@-")
        if tier not in {t.value for t in Tier}:
            return _error(422, "invalid_input", "tier: free, premium or enterprise")
        token = issue_dev_token(settings, user_id=user_id, role=Role.FAN, tier=Tier(tier))
        return _json(
            200,
            {
                "token": token,
                "user_id": user_id,
                "role": Role.FAN.value,
                "tier": tier,
                "expires_in": DEV_TOKEN_TTL_S,
            },
            cache="no-store",  # a credential
        )

    return {("POST", DEV_TOKEN_PATH): mint}


def refused_dev_routes(reason: str) -> dict[tuple[str, str], LocalRoute]:
    """The dev sign-in turned off (a server reachable from other hosts): ``403`` with why."""

    def refuse(request: LocalRequest) -> GatewayResponse:
        return _error(403, "dev_sign_in_off", reason)

    return {("POST", DEV_TOKEN_PATH): refuse}
