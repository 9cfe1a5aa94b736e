from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

import pytest
from creator_chat.adapters.caching_embedder import CachingEmbedder
from creator_chat.ports import Cache, Embedder


class CountingEmbedder:
    """Deterministic 4-d vectors derived from the text; records every call."""

    def __init__(self, model_id: str = "fake-model") -> None:
        self._model_id = model_id
        self.calls: list[list[str]] = []

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return 4

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [self.vector(t) for t in texts]

    def vector(self, text: str) -> list[float]:
        # Values exactly representable in float32, so round trips compare with ==.
        return [float(len(text)), float(ord(text[0]) if text else 0), 0.5, -0.25]


class DictCache:
    def __init__(self) -> None:
        self.items: dict[str, bytes] = {}
        self.ttls: dict[str, int] = {}

    def get(self, key: str) -> bytes | None:
        return self.items.get(key)

    def set(self, key: str, value: bytes, *, ttl_s: int) -> None:
        self.items[key] = value
        self.ttls[key] = ttl_s

    def delete(self, key: str) -> None:
        self.items.pop(key, None)

    def ping(self) -> bool:
        return True


class BrokenCache(DictCache):
    def get(self, key: str) -> bytes | None:
        raise ConnectionError("redis down")

    def set(self, key: str, value: bytes, *, ttl_s: int) -> None:
        raise ConnectionError("redis down")


@pytest.fixture
def inner() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def cache() -> DictCache:
    return DictCache()


def test_implements_the_embedder_port(inner: CountingEmbedder, cache: DictCache) -> None:
    embedder: Embedder = CachingEmbedder(inner, cache)
    backing: Cache = cache
    assert embedder.model_id == "fake-model"
    assert embedder.dimension == 4
    assert backing.ping()


def test_second_call_is_served_from_the_cache(inner: CountingEmbedder, cache: DictCache) -> None:
    embedder = CachingEmbedder(inner, cache, ttl_s=600)
    first = embedder.embed(["alpha", "beta"])
    second = embedder.embed(["alpha", "beta"])

    assert first == second == [inner.vector("alpha"), inner.vector("beta")]
    assert inner.calls == [["alpha", "beta"]]
    assert set(cache.ttls.values()) == {600}


def test_mixed_hits_and_misses_keep_order_and_embed_only_misses_once(
    inner: CountingEmbedder, cache: DictCache
) -> None:
    embedder = CachingEmbedder(inner, cache)
    embedder.embed(["b", "d"])
    inner.calls.clear()

    texts = ["a", "b", "c", "d", "a", "e"]
    result = embedder.embed(texts)

    assert result == [inner.vector(t) for t in texts]
    # One batch call for the misses, each distinct text once, in first-seen order.
    assert inner.calls == [["a", "c", "e"]]


def test_values_are_float32_bytes_under_a_sha256_key(
    inner: CountingEmbedder, cache: DictCache
) -> None:
    embedder = CachingEmbedder(inner, cache)
    embedder.embed(["hello"])

    digest = hashlib.sha256(b"fake-model\x004\x00hello").hexdigest()
    [(key, value)] = cache.items.items()
    assert key.endswith(digest)
    assert value == struct.pack("<4f", *inner.vector("hello"))
    assert len(value) == 16


def test_a_miss_returns_what_a_later_hit_returns(cache: DictCache) -> None:
    class Irrational(CountingEmbedder):
        def vector(self, text: str) -> list[float]:
            return [1 / 3, 2 / 3, 1 / 7, 0.1]

    embedder = CachingEmbedder(Irrational(), cache)
    assert embedder.embed(["x"]) == embedder.embed(["x"])


def test_another_model_does_not_see_the_cached_vectors(cache: DictCache) -> None:
    first, second = CountingEmbedder("model-a"), CountingEmbedder("model-b")
    CachingEmbedder(first, cache).embed(["same text"])
    CachingEmbedder(second, cache).embed(["same text"])
    assert second.calls == [["same text"]]


def test_a_value_of_the_wrong_size_is_a_miss(inner: CountingEmbedder, cache: DictCache) -> None:
    embedder = CachingEmbedder(inner, cache)
    cache.items[embedder.key("x")] = b"\x00" * 7
    assert embedder.embed(["x"]) == [inner.vector("x")]
    assert inner.calls == [["x"]]


def test_a_failing_cache_behaves_as_a_miss(inner: CountingEmbedder) -> None:
    embedder = CachingEmbedder(inner, BrokenCache())
    assert embedder.embed(["a", "b"]) == [inner.vector("a"), inner.vector("b")]
    assert embedder.embed(["a"]) == [inner.vector("a")]
    assert inner.calls == [["a", "b"], ["a"]]


def test_empty_batch_touches_nothing(inner: CountingEmbedder, cache: DictCache) -> None:
    assert CachingEmbedder(inner, cache).embed([]) == []
    assert inner.calls == []
    assert cache.items == {}


def test_inner_returning_the_wrong_dimension_is_an_error(cache: DictCache) -> None:
    class Wrong(CountingEmbedder):
        def vector(self, text: str) -> list[float]:
            return [1.0, 2.0]

    with pytest.raises(ValueError):
        CachingEmbedder(Wrong(), cache).embed(["x"])
    assert cache.items == {}
