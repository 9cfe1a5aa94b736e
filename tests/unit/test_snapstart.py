"""SnapStart hooks (creator_chat/snapstart.py), called directly: a restored copy reseeds
``random`` and gets its own session, clients, credentials and stores; the snapshot holds no
open connection."""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from creator_chat import snapstart
from creator_chat.container import Container
from creator_chat.resources import DECLARATION
from creator_chat.settings import Settings

SECRET = "snapstart-test-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def clean_hooks() -> Iterator[None]:
    snapstart._reset_for_tests()
    yield
    snapstart._reset_for_tests()


@pytest.fixture
def container() -> Container:
    # the AWS family against a closed loopback port: building clients makes no call
    settings = Settings(storage="aws", jwt_secret=SECRET)  # type: ignore[arg-type]
    c = Container(settings)
    c.build_clients_for(DECLARATION.function("chat"))
    return c


def test_after_restore_reseeds_random() -> None:
    random.seed(1234)
    snapshot_state = random.getstate()  # what every restored copy would start from
    snapstart.after_restore()
    assert random.getstate() != snapshot_state
    first = random.random()
    random.setstate(snapshot_state)
    assert random.random() != first


def test_after_restore_replaces_session_clients_and_stores(container: Container) -> None:
    snapstart.register(container, DECLARATION.function("chat"))
    old_session = container.aws.session
    old_dynamodb = container._dynamodb
    old_sessions_store = container.sessions
    old_threads = container.threads
    closed: list[str] = []
    old_dynamodb.meta.client.close = lambda: closed.append("dynamodb")

    snapstart.after_restore()

    assert closed == ["dynamodb"]  # the snapshot's pooled connections are dropped
    assert container.aws.session is not old_session  # credentials resolved again
    assert "_dynamodb" in container.__dict__  # the function's clients are rebuilt, ready
    assert container._dynamodb is not old_dynamodb
    assert container.sessions is not old_sessions_store
    assert container.threads is not old_threads


def test_before_snapshot_closes_every_client(container: Container) -> None:
    snapstart.register(container)
    sqs = container.aws.client("sqs")
    closed: list[str] = []
    sqs.close = lambda: closed.append("sqs")
    container._dynamodb.meta.client.close = lambda: closed.append("dynamodb")
    snapstart.before_snapshot()
    assert sorted(closed) == ["dynamodb", "sqs"]


def test_refresh_keeps_what_holds_no_connection(container: Container) -> None:
    database = object()  # the embedded database (local runs only): a file, not a socket
    container.__dict__["database"] = database
    container.overrides["cache"] = object()
    snapstart.refresh(container)
    assert container.__dict__["database"] is database
    assert "cache" in container.overrides


def test_register_uses_the_lambda_runtime_hooks_when_present(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered: dict[str, Callable[[], Any]] = {}
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_before_snapshot = lambda f: registered.setdefault("before", f)  # type: ignore[attr-defined]
    runtime.register_after_restore = lambda f: registered.setdefault("after", f)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)

    assert snapstart.register(container) is True
    assert snapstart.register(container) is True  # once per process, one entry per container
    assert registered == {"before": snapstart.before_snapshot, "after": snapstart.after_restore}
    assert snapstart.registered() == [container]


def test_outside_lambda_register_records_the_container_only(container: Container) -> None:
    sys.modules.pop("snapshot_restore_py", None)
    assert snapstart.register(container) is False
    assert snapstart.registered() == [container]
