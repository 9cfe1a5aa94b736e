"""Reading conversations: a caller sees only its own threads and messages."""

from __future__ import annotations

from creator_chat.domain.models import Identity, Message, Thread
from creator_chat.errors import NotFound
from creator_chat.ports import ThreadStore


def list_threads(store: ThreadStore, caller: Identity, *, limit: int = 50) -> list[Thread]:
    """The caller's live threads, most recently active first."""
    return store.list_threads(caller.user_id, limit=limit)


def own_thread(store: ThreadStore, caller: Identity, thread_id: str) -> Thread:
    """The thread if it is the caller's. Another user's thread is "not found", so that
    thread ids cannot be probed."""
    thread = store.get_thread(thread_id)
    if thread is None or thread.user_id != caller.user_id:
        raise NotFound("thread not found")
    return thread


def list_messages(
    store: ThreadStore, caller: Identity, thread_id: str, *, limit: int = 100
) -> list[Message]:
    own_thread(store, caller, thread_id)
    return store.list_messages(thread_id, limit=limit)


def get_message(store: ThreadStore, caller: Identity, thread_id: str, message_id: str) -> Message:
    own_thread(store, caller, thread_id)
    message = store.get_message(thread_id, message_id)
    if message is None:
        raise NotFound("message not found")
    return message
