"""RedisCache against a real redis-server (see redis_fixture.py).

Speed is asserted through the breaker (after ``failure_threshold`` failures no further
call reaches the network), never with timers. TLS (``rediss://``, as ElastiCache /
Valkey serverless require) runs against a TLS-only local server with a self-signed
certificate; AWS's own certificates and IAM auth are not exercised locally.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from creator_chat.adapters.aws.redis_cache import (
    EVENT_BYPASS,
    EVENT_ERROR,
    EVENT_HIT,
    EVENT_MISS,
    RedisCache,
)
from creator_chat.breaker import BreakerState, CircuitBreaker
from creator_chat.clock import FixedClock
from creator_chat.ports import Cache

from tests.integration.redis_fixture import RedisServer, free_port, start_redis_server

THRESHOLD = 3
RESET_S = 30.0


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """The state, read through a call so mypy does not narrow it across assertions."""
    return breaker.state


class Events(Counter[str]):
    """An ``on_event`` callback that counts what it is told."""

    def __call__(self, event: str) -> None:
        self[event] += 1


class Harness:
    def __init__(self, url: str, *, key_prefix: str = "t:", timeout_s: float = 0.5) -> None:
        self.clock = FixedClock()
        self.breaker = CircuitBreaker(
            "redis", failure_threshold=THRESHOLD, reset_timeout_s=RESET_S, clock=self.clock
        )
        self.events = Events()
        self.cache = RedisCache(
            url,
            timeout_s=timeout_s,
            breaker=self.breaker,
            on_event=self.events,
            key_prefix=key_prefix,
        )


def get_calls(server: RedisServer) -> int:
    stats = server.client().info("commandstats")
    return int(stats.get("cmdstat_get", {}).get("calls", 0))


def test_is_a_cache(redis_server: RedisServer) -> None:
    cache: Cache = Harness(redis_server.url).cache
    assert cache.ping()


def test_set_get_round_trips_bytes_and_sets_the_ttl(redis_server: RedisServer) -> None:
    h = Harness(redis_server.url, key_prefix="cc:")
    value = bytes(range(256))
    h.cache.set("answer", value, ttl_s=120)

    assert h.cache.get("answer") == value
    raw = redis_server.client()
    assert raw.get("cc:answer") == value  # the prefix is applied
    assert raw.exists("answer") == 0
    ttl = raw.ttl("cc:answer")
    assert 0 < ttl <= 120

    assert h.cache.get("absent") is None
    assert h.events == Counter({EVENT_HIT: 1, EVENT_MISS: 1})
    assert state_of(h.breaker) is BreakerState.CLOSED


def test_delete_and_non_positive_ttl(redis_server: RedisServer) -> None:
    h = Harness(redis_server.url)
    h.cache.set("k", b"v", ttl_s=60)
    h.cache.delete("k")
    assert h.cache.get("k") is None

    h.cache.set("k", b"old", ttl_s=60)
    h.cache.set("k", b"new", ttl_s=0)  # Redis refuses EX 0: nothing kept, old value gone
    assert h.cache.get("k") is None
    assert h.events[EVENT_ERROR] == 0


def test_server_stopped_mid_test_degrades_to_misses_and_opens_the_breaker(
    redis_server: RedisServer,
) -> None:
    h = Harness(redis_server.url)
    h.cache.set("k", b"v", ttl_s=60)
    assert h.cache.get("k") == b"v"  # the pool now holds a live connection

    redis_server.stop()

    for _ in range(THRESHOLD):
        assert h.cache.get("k") is None
    assert h.events[EVENT_ERROR] == THRESHOLD
    assert state_of(h.breaker) is BreakerState.OPEN

    # From now on nothing touches the network: no error, no timeout, just bypasses.
    h.cache.set("k", b"v2", ttl_s=60)
    h.cache.delete("k")
    assert h.cache.get("k") is None
    assert not h.cache.ping()
    assert h.events[EVENT_ERROR] == THRESHOLD
    assert h.events[EVENT_BYPASS] == 4


def test_set_on_a_stopped_server_does_not_raise(redis_server: RedisServer) -> None:
    h = Harness(redis_server.url)
    assert h.cache.ping()
    redis_server.stop()
    for _ in range(THRESHOLD):
        h.cache.set("k", b"v", ttl_s=60)
        h.cache.delete("k")
    assert state_of(h.breaker) is BreakerState.OPEN


def test_recovers_through_half_open_when_the_server_is_back(redis_server: RedisServer) -> None:
    h = Harness(redis_server.url)
    assert h.cache.ping()
    redis_server.stop()
    for _ in range(THRESHOLD):
        h.cache.get("k")
    assert state_of(h.breaker) is BreakerState.OPEN

    redis_server.start()  # same port, empty
    assert h.cache.get("k") is None  # still open: bypassed although the server is up
    assert h.events[EVENT_BYPASS] == 1

    h.clock.advance(RESET_S)
    assert h.cache.ping()  # the half-open trial
    assert state_of(h.breaker) is BreakerState.CLOSED
    h.cache.set("k", b"back", ttl_s=60)
    assert h.cache.get("k") == b"back"


def test_open_breaker_makes_no_network_calls(redis_server: RedisServer) -> None:
    h = Harness(redis_server.url)
    raw = redis_server.client()
    raw.set("t:k", b"present")
    for _ in range(THRESHOLD):
        h.breaker.record_failure()
    assert state_of(h.breaker) is BreakerState.OPEN

    before = get_calls(redis_server)
    assert h.cache.get("k") is None  # the key exists: only a bypass explains the miss
    h.cache.set("k", b"overwritten", ttl_s=60)
    h.cache.delete("k")
    assert get_calls(redis_server) == before
    assert raw.get("t:k") == b"present"
    assert h.events == Counter({EVENT_BYPASS: 3})


def test_unreachable_from_the_start_gives_misses_not_errors() -> None:
    h = Harness(f"redis://127.0.0.1:{free_port()}/0")
    assert not h.cache.ping()
    assert h.cache.get("k") is None
    h.cache.set("k", b"v", ttl_s=60)
    assert state_of(h.breaker) is BreakerState.OPEN
    assert h.events[EVENT_ERROR] == THRESHOLD
    assert h.cache.get("k") is None
    assert h.events[EVENT_BYPASS] == 1


def test_server_side_errors_are_misses_too(redis_server: RedisServer) -> None:
    h = Harness(redis_server.url)
    redis_server.client().lpush("t:list", b"x")  # GET on a list: WRONGTYPE
    assert h.cache.get("list") is None
    assert h.events == Counter({EVENT_ERROR: 1})
    assert h.breaker.consecutive_failures == 1


def test_password_comes_from_the_url(tmp_path: Path) -> None:
    server = start_redis_server(tmp_path, password="s3cret")
    try:
        good = Harness(server.url)
        good.cache.set("k", b"v", ttl_s=60)
        assert good.cache.get("k") == b"v"

        bad = Harness(f"redis://:wrong@127.0.0.1:{server.port}/0")
        assert bad.cache.get("k") is None
        assert bad.events == Counter({EVENT_ERROR: 1})

        anonymous = Harness(f"redis://127.0.0.1:{server.port}/0")
        assert not anonymous.cache.ping()
    finally:
        server.stop()


def test_tls_round_trip(tmp_path: Path) -> None:
    server = start_redis_server(tmp_path, tls=True, password="tls-pw")
    try:
        assert server.url.startswith("rediss://:tls-pw@localhost:")
        h = Harness(server.url)
        assert h.cache.ping()
        h.cache.set("k", b"over tls", ttl_s=60)
        assert h.cache.get("k") == b"over tls"
        assert 0 < server.client().ttl("t:k") <= 60
        assert h.events == Counter({EVENT_HIT: 1})
    finally:
        server.stop()


def test_tls_failures_are_misses_not_errors(tmp_path: Path) -> None:
    server = start_redis_server(tmp_path, tls=True)
    try:
        # An untrusted certificate: verification fails, the cache degrades.
        untrusted = Harness(f"rediss://localhost:{server.port}/0")
        assert untrusted.cache.get("k") is None
        assert not untrusted.cache.ping()
        # Plain text against the TLS port.
        plain = Harness(f"redis://127.0.0.1:{server.port}/0")
        assert plain.cache.get("k") is None
        assert untrusted.events == Counter({EVENT_ERROR: 2})
        assert plain.events == Counter({EVENT_ERROR: 1})
    finally:
        server.stop()


def test_a_failing_event_listener_never_breaks_the_cache(redis_server: RedisServer) -> None:
    def listener(event: str) -> None:
        raise RuntimeError(event)

    breaker = CircuitBreaker("redis", failure_threshold=1, clock=FixedClock())
    cache = RedisCache(redis_server.url, timeout_s=0.5, breaker=breaker, on_event=listener)
    cache.set("k", b"v", ttl_s=60)
    assert cache.get("k") == b"v"
    assert cache.get("nope") is None
    redis_server.stop()
    assert cache.get("k") is None
    assert cache.get("k") is None  # bypass


@pytest.mark.parametrize("url", ["rediss://127.0.0.1:6380/0", "redis://:pw@127.0.0.1:6379/2"])
def test_url_forms_are_accepted_without_connecting(url: str) -> None:
    # Construction is lazy: a TLS / auth URL is parsed into the pool, no socket opened.
    h = Harness(url)
    pool_kwargs = h.cache._client.connection_pool.connection_kwargs
    if url.startswith("rediss://"):
        assert h.cache._client.connection_pool.connection_class.__name__ == "SSLConnection"
    else:
        assert pool_kwargs["password"] == "pw"
        assert pool_kwargs["db"] == 2
    assert h.events == Counter()
