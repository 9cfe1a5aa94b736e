"""Lambda SnapStart runtime hooks: what must not be shared between restored copies.

With SnapStart, Lambda runs a function's init once, snapshots the memory and restores that
snapshot into every new execution environment. Whatever init left in memory is then shared
by all the copies, so the hooks:

- **before the snapshot**: close the pooled HTTP connections of the container's AWS SDK
  clients (a socket captured in a snapshot is dead, or worse, shared, once restored);
- **after a restore**: reseed ``random`` (every copy would otherwise draw the same
  sequence; ``secrets``, ``uuid4`` and ``creator_chat.ids`` read ``os.urandom`` at each call
  and need nothing), then drop the container's boto3 session, clients and every store,
  cache, generator or index built on them — with the credentials they resolved at init —
  and build the function's clients again, so the first request after a restore finds them
  ready and signed with this environment's credentials.

``snapshot_restore_py`` exists only in Lambda's Python runtime; elsewhere ``register``
records the container (tests call the hooks directly) and registers nothing.
"""

from __future__ import annotations

import contextlib
import random
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from creator_chat.container import Container
    from creator_chat.resources import Function

_lock = threading.Lock()
_targets: list[tuple[Container, Function | None]] = []
_hooks_registered = False


def register(container: Container, function: Function | None = None) -> bool:
    """Have the SnapStart hooks refresh ``container`` (and rebuild ``function``'s clients
    after a restore). Returns whether the Lambda runtime's hooks were registered."""
    global _hooks_registered
    with _lock:
        if not any(c is container for c, _ in _targets):
            _targets.append((container, function))
        if _hooks_registered:
            return True
        try:
            from snapshot_restore_py import (  # type: ignore[import-not-found,unused-ignore]
                register_after_restore,
                register_before_snapshot,
            )
        except ImportError:  # not in Lambda's runtime: nothing snapshots this process
            return False
        register_before_snapshot(before_snapshot)
        register_after_restore(after_restore)
        _hooks_registered = True
        return True


def before_snapshot() -> None:
    for container, _ in list(_targets):
        close_connections(container)


def after_restore() -> None:
    random.seed()  # from os.urandom: each restored copy draws its own sequence
    for container, function in list(_targets):
        refresh(container, function)


# what a refresh keeps: state that holds no connection and no credential
_KEEP = frozenset({"database", "upload_signing_key"})


def close_connections(container: Container) -> None:
    """Close the pooled connections of every SDK client the container built."""
    for client in _clients(container):
        close = getattr(client, "close", None)
        if callable(close):
            # closing a dead pool must not fail a restore
            with contextlib.suppress(Exception):
                close()


def refresh(container: Container, function: Function | None = None) -> None:
    """Forget every client, session and whatever was built on them; build the function's
    clients again (no network call: the SDK loads its bundled models)."""
    from creator_chat.adapters.aws.clients import AwsClients

    close_connections(container)
    for name in _cached_names(container):
        if name not in _KEEP:
            container.__dict__.pop(name, None)
    container.aws = AwsClients(container.settings)
    if function is not None:
        container.build_clients_for(function)


def _cached_names(container: Container) -> list[str]:
    from functools import cached_property

    cls = type(container)
    return [
        name
        for name in list(container.__dict__)
        if isinstance(getattr(cls, name, None), cached_property)
    ]


def _clients(container: Container) -> list[Any]:
    found: list[Any] = []
    for value in list(container.aws._cache.values()):
        meta = getattr(value, "meta", None)
        client = getattr(meta, "client", None)  # a boto3 resource: its client holds the pool
        found.append(client if client is not None else value)
    runtime = container.__dict__.get("_bedrock_runtime")
    if runtime is not None:
        found.append(runtime)
    return found


def registered() -> list[Container]:
    """The containers the hooks refresh (for tests)."""
    return [c for c, _ in _targets]


def _reset_for_tests() -> None:
    global _hooks_registered
    with _lock:
        _targets.clear()
        _hooks_registered = False
