"""Sessions: one per token (however it is encoded), revocable; the authorizer refuses revoked
ones, and a revoked session outlives its token so revoking cannot be undone by waiting.

A session is keyed by the verified token's identity (``auth.VerifiedToken.session_key``), not
by the string presented: ``<token>=`` or any other encoding of the same signature is the same
session. Erasing a user revokes every session of theirs and refuses every token issued
before the erasure (an erasure marker, kept as long as such a token could live).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from creator_chat.domain.models import Identity, Session
from creator_chat.errors import Conflict, NotFound
from creator_chat.ports import Clock, SessionStore

if TYPE_CHECKING:  # only the authorizer verifies tokens: the APIs need no JWT library at init
    from creator_chat.auth import VerifiedToken


def session_id_for(session_key: str) -> str:
    """Stable per token, and not the token: the store never holds a usable credential."""
    return "ses_" + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def erasure_marker_id(user_id: str) -> str:
    """Where an erased user's "tokens issued before T are refused" marker lives."""
    return "ses_erased_" + hashlib.sha256(user_id.encode()).hexdigest()[:32]


def ensure_session(
    store: SessionStore, clock: Clock, token: VerifiedToken, *, ttl_s: int
) -> Session | None:
    """The token's session, created on first use; ``None`` when it was revoked (or the
    user was erased after the token was issued)."""
    who = token.identity
    sid = session_id_for(token.session_key)
    erased_id = erasure_marker_id(who.user_id)
    # a session revoked before sessions were keyed this way (by the hash of the raw string)
    legacy_id = session_id_for(token.canonical)
    # one round trip: the session, and what refuses a token on its first use
    found = store.get_sessions([sid, erased_id, legacy_id])
    session = found.get(sid)
    if session is None:
        erased, legacy = found.get(erased_id), found.get(legacy_id)
        if erased is not None and token.issued_at <= erased.created_at:
            return None
        if legacy is not None and legacy.revoked:
            return None
        now = int(clock.now())
        session = Session(
            session_id=sid,
            user_id=who.user_id,
            created_at=now,
            # never before the token itself expires: a revoked session must outlive it
            expires_at=max(now + ttl_s, token.expires_at + 1),
        )
        try:
            store.put_session(session)
        except Conflict:
            session = store.get_session(sid)  # a concurrent first request created it
            if session is None:
                return None
    if session.revoked or session.user_id != who.user_id:
        return None
    return session


def revoke_all(store: SessionStore, user_id: str, *, now: int, until: int, pseudonym: str) -> int:
    """Erasure: revoke every session of the user (kept, revoked and under a pseudonym, until
    they expire), and refuse every token issued until now, including unused ones."""
    revoked = store.revoke_user_sessions(user_id, new_owner=pseudonym)
    store.put_session(
        Session(
            session_id=erasure_marker_id(user_id),
            user_id=pseudonym,
            created_at=now,
            expires_at=until,
            revoked=True,
        ),
        replace=True,
    )
    return revoked


def list_sessions(store: SessionStore, caller: Identity) -> list[Session]:
    return store.list_sessions(caller.user_id)


def revoke(store: SessionStore, caller: Identity, session_id: str) -> str:
    """Revoke one of the caller's sessions ("current" = the one making this request);
    returns the id of the session revoked."""
    sid = caller.session_id if session_id == "current" else session_id
    if not sid or not store.revoke_session(sid, caller.user_id):
        raise NotFound("session not found")
    return sid
