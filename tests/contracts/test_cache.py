"""Cache contract: the in-process cache (embedded family) and Redis (ElastiCache's protocol,
the AWS family) behave the same for what the chat relies on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from creator_chat.adapters.aws.redis_cache import RedisCache
from creator_chat.adapters.embedded.memory_cache import MemoryCache
from creator_chat.breaker import CircuitBreaker
from creator_chat.clock import FixedClock
from creator_chat.ports import Cache

from tests.integration.redis_fixture import redis_server  # noqa: F401


@dataclass
class Family:
    cache: Cache
    pass_time: Callable[[float], None]  # let this many seconds go by for the cache


@pytest.fixture(params=["embedded", "aws"])
def family(request: pytest.FixtureRequest) -> Iterator[Family]:
    if request.param == "embedded":
        clock = FixedClock()
        yield Family(MemoryCache(clock=clock), clock.advance)
        return
    server = request.getfixturevalue("redis_server")
    breaker = CircuitBreaker("redis", failure_threshold=3, reset_timeout_s=30, clock=FixedClock())
    cache = RedisCache(server.url, timeout_s=0.5, breaker=breaker, key_prefix="contract:")
    yield Family(cache, time.sleep)  # Redis expires keys on its own clock


def key() -> str:
    return f"k-{uuid.uuid4().hex[:10]}"


def test_a_value_reads_back_and_an_unknown_key_is_a_miss(family: Family):
    k = key()
    family.cache.set(k, b"\x00answer\xff", ttl_s=60)
    assert family.cache.get(k) == b"\x00answer\xff"
    assert family.cache.get(key()) is None


def test_a_new_value_replaces_the_old_and_delete_removes_it(family: Family):
    k = key()
    family.cache.set(k, b"old", ttl_s=60)
    family.cache.set(k, b"new", ttl_s=60)
    assert family.cache.get(k) == b"new"
    family.cache.delete(k)
    assert family.cache.get(k) is None
    family.cache.delete(k)  # deleting a missing key is fine


def test_a_value_is_gone_after_its_ttl(family: Family):
    k, kept = key(), key()
    family.cache.set(k, b"short", ttl_s=1)
    family.cache.set(kept, b"long", ttl_s=60)
    family.pass_time(1.2)
    assert family.cache.get(k) is None
    assert family.cache.get(kept) == b"long"


def test_a_non_positive_ttl_stores_nothing(family: Family):
    k = key()
    family.cache.set(k, b"old", ttl_s=60)
    family.cache.set(k, b"never", ttl_s=0)
    assert family.cache.get(k) is None


def test_the_cache_answers_a_ping(family: Family):
    assert family.cache.ping() is True
