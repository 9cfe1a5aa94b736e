"""Reading conversations: a caller sees only its own threads and messages."""

from __future__ import annotations

from dataclasses import dataclass

from creator_chat.domain.models import AuditEntry, Identity, Message, Thread
from creator_chat.errors import Forbidden, NotFound
from creator_chat.ports import AuditLog, Clock, ThreadStore


@dataclass(frozen=True)
class Auditor:
    """Records refused cross-tenant attempts."""

    log: AuditLog
    clock: Clock
    request_id: str = ""

    def denied(self, caller: Identity, action: str, target: str) -> None:
        self.log.record(
            AuditEntry(
                actor_id=caller.user_id,
                action=action,
                target=target,
                outcome="denied",
                request_id=self.request_id,
                at=int(self.clock.now()),
            )
        )

    def require_manager(self, caller: Identity, creator_id: str, action: str, refusal: str) -> None:
        """Only the creator itself (its team) or an admin: anyone else is refused with
        ``refusal`` (403), and the attempt is audited."""
        if not caller.can_manage_creator(creator_id):
            self.denied(caller, action, creator_id)
            raise Forbidden(refusal)


def list_threads(store: ThreadStore, caller: Identity, *, limit: int = 50) -> list[Thread]:
    """The caller's live threads, most recently active first."""
    return store.list_threads(caller.user_id, limit=limit)


def own_thread(
    store: ThreadStore, caller: Identity, thread_id: str, auditor: Auditor | None = None
) -> Thread:
    """The thread if it is the caller's. Another user's thread is "not found", so that
    thread ids cannot be probed; the attempt is audited."""
    thread = store.get_thread(thread_id)
    if thread is None:
        raise NotFound("thread not found")
    if thread.user_id != caller.user_id:
        if auditor is not None:
            auditor.denied(caller, "thread.read", thread_id)
        raise NotFound("thread not found")
    return thread


def list_messages(
    store: ThreadStore,
    caller: Identity,
    thread_id: str,
    *,
    limit: int = 100,
    auditor: Auditor | None = None,
) -> list[Message]:
    own_thread(store, caller, thread_id, auditor)
    return store.list_messages(thread_id, limit=limit)


def get_message(
    store: ThreadStore,
    caller: Identity,
    thread_id: str,
    message_id: str,
    auditor: Auditor | None = None,
) -> Message:
    own_thread(store, caller, thread_id, auditor)
    message = store.get_message(thread_id, message_id)
    if message is None:
        raise NotFound("message not found")
    return message
