"""Tokens: verification for the authorizer and dev tokens for local use (PyJWT)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.utils import base64url_decode, base64url_encode

from creator_chat.domain.models import Identity, Role, Tier
from creator_chat.errors import Unauthorized
from creator_chat.settings import Settings

DEV_TOKEN_TTL_S = 12 * 3600
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]
ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and claims were checked.

    ``session_key`` names the token however it was encoded: its issuer and ``jti`` when it has
    one, else its signed part (header and payload exactly as signed; only the signature's
    base64 is malleable — padding, unused trailing bits — and, for ECDSA, the signature
    itself). ``canonical`` is the token re-encoded as it was issued (for sessions recorded
    under the raw string before).
    """

    identity: Identity
    session_key: str
    canonical: str
    issued_at: int
    expires_at: int


class TokenVerifier:
    """Verifies a JWT: signature, ``exp``/``nbf``/``iat`` with a small explicit leeway,
    ``iss``, ``aud`` and the required claims.

    - RS256/ES256 against a JWKS URL (Cognito in AWS). PyJWT's ``PyJWKClient`` fetches the
      key set once per container, caches it, and fetches again when a token names an
      unknown ``kid`` (key rotation).
    - HS256 with the shared secret from settings (local and dev only).
    The accepted algorithms are pinned here, never taken from the token.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        if settings.jwks_url:
            self._jwks = jwt.PyJWKClient(
                settings.jwks_url,
                cache_keys=True,
                lifespan=3600,
                timeout=3,
                cooldown_duration=settings.jwks_refresh_cooldown_s,
            )

    def verify(self, token: str) -> Identity:
        return self.verify_token(token).identity

    def verify_token(self, token: str) -> VerifiedToken:
        try:
            header = jwt.get_unverified_header(token)
            alg = header.get("alg")
            if self._jwks is not None and alg in ASYMMETRIC_ALGORITHMS:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ASYMMETRIC_ALGORITHMS
            elif self.settings.jwt_secret is not None and alg == "HS256":
                key, algorithms = self.settings.jwt_secret.get_secret_value(), ["HS256"]
            else:
                raise Unauthorized("unsupported token")
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                leeway=self.settings.jwt_leeway_s,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as err:
            raise Unauthorized("invalid token") from err
        issued, expires = int(claims["iat"]), int(claims["exp"])
        if expires - issued > self.settings.max_token_lifetime_s:
            # an erasure refuses earlier tokens for this long; a longer-lived one would outlive it
            raise Unauthorized("token lifetime is too long")
        signed, _, signature = token.rpartition(".")
        canonical = f"{signed}.{base64url_encode(base64url_decode(signature)).decode()}"
        jti = claims.get("jti")
        key = f"jti:{claims['iss']}\0{jti}" if jti else "signed:" + signed
        return VerifiedToken(
            identity=identity_from_claims(claims),
            session_key=hashlib.sha256(key.encode()).hexdigest(),
            canonical=canonical,
            issued_at=issued,
            expires_at=expires,
        )


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    """Map token claims to an Identity; unknown roles or tiers are refused."""
    # Cognito puts custom attributes under "custom:"; dev tokens use plain names.
    try:
        role = Role(claims.get("role", claims.get("custom:role", "fan")))
        tier = Tier(claims.get("tier", claims.get("custom:tier", "free")))
    except ValueError as err:
        raise Unauthorized("unknown role or tier") from err
    creator_id = claims.get("creator_id", claims.get("custom:creator_id"))
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
        "jti": secrets.token_urlsafe(12),
    }
    if creator_id:
        claims["creator_id"] = creator_id
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")
