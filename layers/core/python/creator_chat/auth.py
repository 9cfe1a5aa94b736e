"""Tokens: verification for the authorizer and dev tokens for local use (PyJWT)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from creator_chat.domain.models import Identity, Role, Tier
from creator_chat.errors import Unauthorized
from creator_chat.settings import Settings

DEV_TOKEN_TTL_S = 12 * 3600
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]


@dataclass(frozen=True)
class TokenVerifier:
    """Checks signature, ``exp``/``nbf``/``iat`` (with explicit leeway), ``iss`` and ``aud``."""

    settings: Settings

    def verify(self, token: str) -> Identity:
        secret = self.settings.jwt_secret
        if secret is None:
            raise Unauthorized("no verification key configured")
        try:
            claims = jwt.decode(
                token,
                secret.get_secret_value(),
                algorithms=["HS256"],  # pinned: never trust the token's own "alg"
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                leeway=self.settings.jwt_leeway_s,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as err:
            raise Unauthorized("invalid token") from err
        return identity_from_claims(claims)


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    """Map token claims to an Identity; unknown roles or tiers are refused."""
    try:
        role = Role(claims.get("role", "fan"))
        tier = Tier(claims.get("tier", "free"))
    except ValueError as err:
        raise Unauthorized("unknown role or tier") from err
    creator_id = claims.get("creator_id")
    if role is Role.CREATOR and not creator_id:
        raise Unauthorized("creator token without creator_id")
    user_id = str(claims["sub"])
    if not user_id or len(user_id) > 128:
        raise Unauthorized("bad subject")
    return Identity(
        user_id=user_id,
        role=role,
        tier=tier,
        creator_id=str(creator_id) if creator_id else None,
        session_id=claims.get("sid"),
    )


def issue_dev_token(
    settings: Settings,
    *,
    user_id: str,
    role: Role,
    tier: Tier,
    creator_id: str | None = None,
    ttl_s: int = DEV_TOKEN_TTL_S,
    now: float | None = None,
) -> str:
    """An HS256 token signed with the local secret (local/dev only)."""
    if settings.jwt_secret is None:
        raise RuntimeError("CREATOR_CHAT_JWT_SECRET is not set")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "role": role.value,
        "tier": tier.value,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
    }
    if creator_id:
        claims["creator_id"] = creator_id
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")
