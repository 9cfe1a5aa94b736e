"""SessionStore contract: sessions by id, revocable by their owner only, gone once expired."""

from __future__ import annotations

import pytest
from creator_chat.auth import VerifiedToken
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.domain.models import Identity, Role, Session, Tier
from creator_chat.errors import Conflict
from creator_chat.usecases.sessions import ensure_session

from tests.contracts.conftest import uid

DAY = 24 * 3600


def new_session(c: Container, user_id: str, *, ttl_s: int = DAY) -> Session:
    now = int(c.clock.now())
    session = Session(uid("ses_"), user_id, now, now + ttl_s)
    c.sessions.put_session(session)
    return session


def test_a_new_session_reads_back(stores: Container):
    session = new_session(stores, uid("fan-"))

    assert stores.sessions.get_session(session.session_id) == session
    assert stores.sessions.get_session(uid("ses_")) is None


def test_sessions_are_read_together_live_ones_only(stores: Container, clock: FixedClock):
    first = new_session(stores, uid("fan-"))
    second = new_session(stores, uid("fan-"))
    short = new_session(stores, uid("fan-"), ttl_s=60)
    clock.advance(61)
    missing = uid("ses_")

    found = stores.sessions.get_sessions(
        [first.session_id, missing, second.session_id, short.session_id, first.session_id]
    )

    assert found == {first.session_id: first, second.session_id: second}
    assert stores.sessions.get_sessions([]) == {}


def test_putting_an_existing_session_is_a_conflict(stores: Container):
    session = new_session(stores, uid("fan-"))

    with pytest.raises(Conflict):
        stores.sessions.put_session(Session(session.session_id, uid("fan-"), 1, 2))
    assert stores.sessions.get_session(session.session_id) == session


def test_a_revoked_session_reads_as_revoked(stores: Container):
    session = new_session(stores, uid("fan-"))

    assert stores.sessions.revoke_session(session.session_id, session.user_id) is True

    stored = stores.sessions.get_session(session.session_id)
    assert stored is not None and stored.revoked
    assert [s.revoked for s in stores.sessions.list_sessions(session.user_id)] == [True]


def test_a_fan_cannot_revoke_another_fans_session(stores: Container):
    session = new_session(stores, uid("fan-"))

    assert stores.sessions.revoke_session(session.session_id, uid("intruder-")) is False
    stored = stores.sessions.get_session(session.session_id)
    assert stored is not None and not stored.revoked


def test_revoking_an_unknown_session_returns_false(stores: Container):
    assert stores.sessions.revoke_session(uid("ses_"), uid("fan-")) is False


def test_an_expired_session_reads_as_absent(stores: Container, clock: FixedClock):
    user = uid("fan-")
    session = new_session(stores, user)

    clock.advance(DAY - 1)
    assert stores.sessions.get_session(session.session_id) == session
    clock.advance(1)  # expires_at is the first second it is gone
    assert stores.sessions.get_session(session.session_id) is None
    assert stores.sessions.list_sessions(user) == []


def test_list_sessions_returns_the_users_live_sessions_only(stores: Container, clock: FixedClock):
    user = uid("fan-")
    short = new_session(stores, user, ttl_s=60)
    long = new_session(stores, user)
    revoked = new_session(stores, user)
    stores.sessions.revoke_session(revoked.session_id, user)
    new_session(stores, uid("other-"))

    clock.advance(60)

    listed = {s.session_id: s for s in stores.sessions.list_sessions(user)}
    assert set(listed) == {long.session_id, revoked.session_id}
    assert short.session_id not in listed
    assert listed[revoked.session_id].revoked and not listed[long.session_id].revoked


def test_revoking_a_users_sessions_keeps_them_revoked_under_the_new_owner(
    stores: Container, clock: FixedClock
):
    user, other = uid("fan-"), uid("other-")
    first = new_session(stores, user)
    second = new_session(stores, user)
    kept = new_session(stores, other)

    assert stores.sessions.revoke_user_sessions(user, new_owner="erased:x") == 2

    for session in (first, second):
        stored = stores.sessions.get_session(session.session_id)
        assert stored is not None and stored.revoked and stored.user_id == "erased:x"
    assert stores.sessions.list_sessions(user) == []
    assert stores.sessions.get_session(kept.session_id) == kept
    # still there (revoked), so the same id cannot be created again
    with pytest.raises(Conflict):
        stores.sessions.put_session(Session(first.session_id, user, 1, int(clock.now()) + DAY))


def test_replacing_a_session_overwrites_it(stores: Container, clock: FixedClock):
    session = new_session(stores, uid("fan-"))
    now = int(clock.now())
    marker = Session(session.session_id, "erased:y", now, now + 2 * DAY, revoked=True)

    stores.sessions.put_session(marker, replace=True)

    assert stores.sessions.get_session(session.session_id) == marker


def test_a_revoked_token_is_refused_and_another_user_cannot_borrow_a_session(
    stores: Container,
):
    fan = Identity(uid("fan-"), Role.FAN, Tier.FREE)
    now = int(stores.clock.now())
    token = VerifiedToken(fan, uid("key-"), uid("raw-"), now, now + 3600)
    session = ensure_session(stores.sessions, stores.clock, token, ttl_s=DAY)
    assert session is not None
    assert ensure_session(stores.sessions, stores.clock, token, ttl_s=DAY) == session

    impostor = Identity(uid("impostor-"), Role.FAN, Tier.FREE)
    borrowed = VerifiedToken(impostor, token.session_key, token.canonical, now, now + 3600)
    assert ensure_session(stores.sessions, stores.clock, borrowed, ttl_s=DAY) is None

    assert stores.sessions.revoke_session(session.session_id, fan.user_id)
    assert ensure_session(stores.sessions, stores.clock, token, ttl_s=DAY) is None
