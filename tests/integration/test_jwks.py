"""RS256/ES256 tokens verified against a JWKS URL (Cognito-shaped), with key rotation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from creator_chat.auth import TokenVerifier
from creator_chat.errors import Unauthorized
from creator_chat.settings import Settings
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISS = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example"
AUD = "app-client-id"


class Jwks:
    def __init__(self) -> None:
        self.keys: list[dict] = []
        self.fetches = 0


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, Jwks]]:
    state = Jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.fetches += 1
            body = json.dumps({"keys": state.keys}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", state
    server.shutdown()


def _public_jwk(key, kid: str, alg: str) -> dict:
    jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


def _token(key, kid: str, alg: str, **claims: object) -> str:
    now = int(time.time())
    body = {
        "sub": "cognito-user-1",
        "iss": ISS,
        "aud": AUD,
        "iat": now,
        "exp": now + 300,
        "custom:role": "creator",
        "custom:tier": "premium",
        "custom:creator_id": "cr_1",
        **claims,
    }
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


def _verifier(url: str) -> TokenVerifier:
    return TokenVerifier(
        Settings(jwks_url=url, jwt_issuer=ISS, jwt_audience=AUD, jwks_refresh_cooldown_s=0)
    )


def test_rs256_and_es256_tokens_verify_against_the_jwks(jwks_server):
    url, state = jwks_server
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    state.keys = [_public_jwk(rsa_key, "k-rsa", "RS256"), _public_jwk(ec_key, "k-ec", "ES256")]
    verifier = _verifier(url)

    who = verifier.verify(_token(rsa_key, "k-rsa", "RS256"))
    assert (who.user_id, who.role.value, who.tier.value, who.creator_id) == (
        "cognito-user-1",
        "creator",
        "premium",
        "cr_1",
    )
    assert verifier.verify(_token(ec_key, "k-ec", "ES256")).user_id == "cognito-user-1"
    assert state.fetches == 1  # fetched once, then cached


def test_rotated_key_is_fetched_and_unknown_signers_are_refused(jwks_server):
    url, state = jwks_server
    old, new, rogue = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)
    )
    state.keys = [_public_jwk(old, "k1", "RS256")]
    verifier = _verifier(url)
    verifier.verify(_token(old, "k1", "RS256"))

    state.keys = [_public_jwk(old, "k1", "RS256"), _public_jwk(new, "k2", "RS256")]
    assert verifier.verify(_token(new, "k2", "RS256")).user_id == "cognito-user-1"
    assert state.fetches == 2  # an unknown kid triggered one refresh

    with pytest.raises(Unauthorized):  # right kid, wrong key
        verifier.verify(_token(rogue, "k2", "RS256"))
    with pytest.raises(Unauthorized):
        verifier.verify(_token(old, "k1", "RS256", aud="other-client"))


def test_hs256_is_refused_when_only_a_jwks_is_configured(jwks_server):
    url, state = jwks_server
    state.keys = [
        _public_jwk(rsa.generate_private_key(public_exponent=65537, key_size=2048), "k", "RS256")
    ]
    forged = jwt.encode(
        {"sub": "x", "iss": ISS, "aud": AUD, "iat": 1, "exp": 4_000_000_000},
        "guessable-secret-000000000000000000000",
        algorithm="HS256",
        headers={"kid": "k"},
    )
    with pytest.raises(Unauthorized):
        _verifier(url).verify(forged)
