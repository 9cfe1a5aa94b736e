"""Adapters against the emulator (and a real Redis): each test module gets its own tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from creator_chat.clock import FixedClock
from creator_chat.container import Container
from creator_chat.local.provision import provision
from creator_chat.settings import Settings

from tests.integration.redis_fixture import redis_server  # noqa: F401


@pytest.fixture(scope="module")
def settings(emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    s = Settings(
        storage="aws",
        resource_prefix=f"t{uuid.uuid4().hex[:8]}",
        jwt_secret="integration-secret",  # type: ignore[arg-type]
        data_dir=tmp_path_factory.mktemp("data"),
    )
    provision(s)
    return s


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(1_800_000_000.0)


@pytest.fixture
def container(settings: Settings, clock: FixedClock) -> Iterator[Container]:
    yield Container(settings, clock=clock)
