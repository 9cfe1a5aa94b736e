"""Sessions: one per presented token, 24 h, revocable; the authorizer refuses revoked ones."""

from __future__ import annotations

import hashlib

from creator_chat.domain.models import Identity, Session
from creator_chat.errors import Conflict, NotFound
from creator_chat.ports import Clock, SessionStore


def session_id_for(token: str) -> str:
    """Stable per token, and not the token: the store never holds a usable credential."""
    return "ses_" + hashlib.sha256(token.encode()).hexdigest()[:32]


def ensure_session(
    store: SessionStore, clock: Clock, token: str, who: Identity, *, ttl_s: int
) -> Session | None:
    """The token's session, created on first use; ``None`` when it was revoked."""
    sid = session_id_for(token)
    session = store.get_session(sid)
    if session is None:
        now = int(clock.now())
        session = Session(
            session_id=sid, user_id=who.user_id, created_at=now, expires_at=now + ttl_s
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


def list_sessions(store: SessionStore, caller: Identity) -> list[Session]:
    return store.list_sessions(caller.user_id)


def revoke(store: SessionStore, caller: Identity, session_id: str) -> None:
    """Revoke one of the caller's sessions ("current" = the one making this request)."""
    sid = caller.session_id if session_id == "current" else session_id
    if not sid or not store.revoke_session(sid, caller.user_id):
        raise NotFound("session not found")
