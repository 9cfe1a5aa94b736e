from __future__ import annotations

import threading

import pytest
from creator_chat.adapters.embedded.memory_cache import MemoryCache
from creator_chat.clock import FixedClock
from creator_chat.ports import Cache


def make(max_items: int = 100) -> tuple[MemoryCache, FixedClock]:
    clock = FixedClock()
    return MemoryCache(max_items=max_items, clock=clock), clock


def test_implements_the_cache_port() -> None:
    cache: Cache = MemoryCache()
    assert cache.ping()


def test_bytes_round_trip() -> None:
    cache, _ = make()
    value = bytes(range(256)) + "é✓".encode()
    cache.set("k", value, ttl_s=60)
    got = cache.get("k")
    assert got == value
    assert isinstance(got, bytes)
    assert cache.get("other") is None


def test_stores_a_copy_of_mutable_input() -> None:
    cache, _ = make()
    buf = bytearray(b"abc")
    cache.set("k", buf, ttl_s=60)  # type: ignore[arg-type]  # callers may pass a bytearray
    buf[0] = ord("z")
    assert cache.get("k") == b"abc"


def test_ttl_expiry_is_per_key() -> None:
    cache, clock = make()
    cache.set("short", b"s", ttl_s=10)
    cache.set("long", b"l", ttl_s=100)
    clock.advance(9.999)
    assert cache.get("short") == b"s"
    clock.advance(0.001)
    assert cache.get("short") is None
    assert cache.get("long") == b"l"
    clock.advance(90)
    assert cache.get("long") is None
    assert len(cache) == 0


def test_overwrite_replaces_value_and_ttl() -> None:
    cache, clock = make()
    cache.set("k", b"v1", ttl_s=10)
    clock.advance(5)
    cache.set("k", b"v2", ttl_s=100)
    clock.advance(50)
    assert cache.get("k") == b"v2"


def test_non_positive_ttl_stores_nothing_and_drops_the_old_value() -> None:
    cache, _ = make()
    cache.set("k", b"old", ttl_s=60)
    cache.set("k", b"new", ttl_s=0)
    assert cache.get("k") is None
    cache.set("j", b"x", ttl_s=-5)
    assert cache.get("j") is None


def test_delete() -> None:
    cache, _ = make()
    cache.set("k", b"v", ttl_s=60)
    cache.delete("k")
    assert cache.get("k") is None
    cache.delete("never-there")  # no error


def test_lru_bound_evicts_least_recently_used() -> None:
    cache, _ = make(max_items=3)
    for k in ("a", "b", "c"):
        cache.set(k, k.encode(), ttl_s=60)
    assert cache.get("a") == b"a"  # a is now most recently used
    cache.set("d", b"d", ttl_s=60)  # evicts b
    assert len(cache) == 3
    assert cache.get("b") is None
    assert cache.get("a") == b"a"
    assert cache.get("c") == b"c"
    assert cache.get("d") == b"d"


def test_full_cache_drops_expired_items_before_live_ones() -> None:
    cache, clock = make(max_items=2)
    cache.set("live", b"1", ttl_s=100)
    cache.set("dying", b"2", ttl_s=1)
    assert cache.get("live") == b"1"
    assert cache.get("dying") == b"2"  # dying is now most recently used
    clock.advance(2)
    cache.set("new", b"3", ttl_s=100)
    assert cache.get("live") == b"1"
    assert cache.get("new") == b"3"


def test_rejects_bad_size() -> None:
    with pytest.raises(ValueError):
        MemoryCache(max_items=0)


def test_default_clock_is_the_system_clock() -> None:
    cache = MemoryCache(max_items=10)
    cache.set("k", b"v", ttl_s=60)
    assert cache.get("k") == b"v"


def test_thread_safety_under_contention() -> None:
    cache, _ = make(max_items=50)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(2000):
                key = f"k{(n * 7 + i) % 120}"
                cache.set(key, key.encode(), ttl_s=60)
                got = cache.get(key)
                assert got is None or got == key.encode()
                if i % 5 == 0:
                    cache.delete(key)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache) <= 50
