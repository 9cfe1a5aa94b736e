"""Defects 3 and 4: a revoked token stays revoked — in any encoding of it, after its user is
erased, and until the token itself would have expired."""

from __future__ import annotations

import base64
import hashlib

from creator_chat.domain.models import Session

from tests.integrity.conftest import Rig, uid

DAY = 24 * 3600


def encodings(token: str) -> list[str]:
    """Other spellings of the same signed token that a lenient base64 decoder accepts."""
    signed, _, signature = token.rpartition(".")
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == signature
    # the last character carries unused low bits: set them, the bytes stay the same
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    unused = {2: 0b1111, 3: 0b11}.get(len(raw) % 3, 0)
    last = alphabet[alphabet.index(signature[-1]) | unused]
    spellings = [token + "=", token + "==", f"{signed}.{signature[:-1]}{last}"]
    return [s for s in spellings if s != token]


def sessions_of(rig: Rig, token: str) -> list[dict]:
    reply = rig.call("GET", "/v1/sessions", token)
    assert reply.status == 200, reply
    return list(reply.body["sessions"])


def test_a_revoked_token_is_refused_in_every_encoding_and_makes_no_new_session(rig: Rig):
    fan = uid("fan-")
    token, other = rig.token(fan), rig.token(fan)
    assert rig.call("GET", "/v1/creators", token).status == 200
    current = rig.call("GET", "/v1/sessions", token).body["current"]

    revoked = rig.call("DELETE", "/v1/sessions/current", token)

    assert revoked.status == 200 and revoked.body["session_id"] == current  # the real id
    assert rig.call("GET", "/v1/creators", token).status == 403
    for spelling in encodings(token):
        assert rig.call("GET", "/v1/creators", spelling).status == 403, spelling
    listed = sessions_of(rig, other)  # the user's other token lists what exists
    assert [s["session_id"] for s in listed if s["session_id"] == current] == [current]
    assert len(listed) == 2  # the revoked one and the lister's own: no session per spelling


def test_every_encoding_of_a_live_token_is_one_session(rig: Rig):
    token = rig.token(uid("fan-"))
    accepted = [
        s for s in [token, *encodings(token)] if rig.call("GET", "/v1/creators", s).status == 200
    ]
    assert token + "=" in accepted  # the JWT library takes a padded signature
    assert len(sessions_of(rig, token)) == 1


def test_erasure_revokes_every_session_of_the_user_and_revoked_stays_revoked(rig: Rig):
    fan = uid("fan-")
    a, b, unused = rig.token(fan), rig.token(fan), rig.token(fan)
    for t in (a, b):
        assert rig.call("GET", "/v1/creators", t).status == 200
    assert rig.call("DELETE", "/v1/sessions/current", a).status == 200

    erased = rig.call("DELETE", "/v1/me", b)

    assert erased.status == 200, erased
    for t in (a, b, unused):  # revoked, the caller's own, and one never used
        assert rig.call("GET", "/v1/creators", t).status == 403
        assert rig.call("POST", "/v1/creators/any/chat", t, {"message": "hi"}).status == 403
    # signing in again afterwards is a new, clean account
    rig.clock.advance(1)
    fresh = rig.token(fan)
    assert rig.call("GET", "/v1/creators", fresh).status == 200
    assert len(sessions_of(rig, fresh)) == 1


def test_a_revoked_session_outlives_the_session_ttl_while_its_token_lives(rig: Rig):
    token = rig.token(uid("fan-"), ttl_s=3 * DAY)
    assert rig.call("GET", "/v1/creators", token).status == 200
    assert rig.call("DELETE", "/v1/sessions/current", token).status == 200

    rig.clock.advance(DAY + 60)  # past the 24 h a session used to live
    purge_expired_sessions(rig)  # as the purge (embedded) or TTL (DynamoDB) would by now

    assert rig.call("GET", "/v1/creators", token).status == 403


def purge_expired_sessions(rig: Rig) -> None:
    now = int(rig.clock.now())
    if rig.family == "embedded":
        rig.container.database.purge_expired(now)
        return
    client = rig.container.aws.client("dynamodb")
    table = rig.settings.physical_name("table", "sessions")
    for item in client.scan(TableName=table)["Items"]:
        if int(item["expires_at"]["N"]) <= now:
            client.delete_item(TableName=table, Key={"session_id": item["session_id"]})


def test_a_session_revoked_under_the_old_raw_string_key_stays_revoked(rig: Rig):
    """Sessions recorded before sessions were keyed by the token's identity were keyed by a
    hash of the string presented; one revoked then is still refused, in any encoding."""
    fan = uid("fan-")
    token = rig.token(fan)
    now = int(rig.clock.now())
    legacy_id = "ses_" + hashlib.sha256(token.encode()).hexdigest()[:32]
    rig.container.sessions.put_session(Session(legacy_id, fan, now, now + DAY, revoked=True))

    for spelling in [token, *encodings(token)]:
        assert rig.call("GET", "/v1/creators", spelling).status == 403, spelling


def test_a_token_living_longer_than_the_erasure_window_is_refused(rig: Rig):
    token = rig.token(uid("fan-"), ttl_s=rig.settings.max_token_lifetime_s + 1)
    assert rig.call("GET", "/v1/creators", token).status == 403
