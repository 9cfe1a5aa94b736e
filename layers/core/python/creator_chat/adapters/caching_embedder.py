"""An Embedder decorator that keeps each text's vector in a Cache.

Queries repeat (the same question from many fans) and re-ingesting a document re-embeds
mostly unchanged chunks, so vectors are cached per text. Keys hash the model id, the
dimension and the text: a model change can never return vectors from another space.
Values are little-endian float32 bytes (1.5 KB for 384 dimensions, against ~8 KB as JSON);
float32 is what every index stores anyway. Pure stdlib, so it also runs in the Lambda layer
where numpy is not installed.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from collections.abc import Sequence

from creator_chat.ports import Cache, Embedder

_log = logging.getLogger(__name__)

_KEY_PREFIX = "emb:v1:"


class CachingEmbedder:
    """Implements ``ports.Embedder``: cache hits are served, misses go to ``inner`` in one call."""

    def __init__(self, inner: Embedder, cache: Cache, *, ttl_s: int = 86400) -> None:
        self._inner = inner
        self._cache = cache
        self._ttl_s = ttl_s
        self._format = f"<{inner.dimension}f"
        self._size = struct.calcsize(self._format)

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def key(self, text: str) -> str:
        digest = hashlib.sha256(
            f"{self._inner.model_id}\x00{self._inner.dimension}\x00{text}".encode()
        ).hexdigest()
        return _KEY_PREFIX + digest

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        keys = [self.key(text) for text in texts]
        vectors: list[list[float] | None] = [self._get(key) for key in keys]

        # Each distinct missing text is embedded once, even if it repeats in the batch.
        missing: dict[str, list[int]] = {}
        for i, vector in enumerate(vectors):
            if vector is None:
                missing.setdefault(texts[i], []).append(i)
        if missing:
            fresh = self._inner.embed(list(missing))
            if len(fresh) != len(missing):
                raise ValueError(f"inner embedder returned {len(fresh)} vectors for {len(missing)}")
            for positions, vector in zip(missing.values(), fresh, strict=True):
                packed = self._pack(vector)
                # Serve the float32-rounded vector, so a miss returns exactly what a hit will.
                rounded = list(struct.unpack(self._format, packed))
                for i in positions:
                    vectors[i] = rounded
                self._set(keys[positions[0]], packed)
        return [vector for vector in vectors if vector is not None]

    def _pack(self, vector: Sequence[float]) -> bytes:
        if len(vector) != self.dimension:
            raise ValueError(f"inner embedder returned {len(vector)} values, not {self.dimension}")
        return struct.pack(self._format, *vector)

    def _get(self, key: str) -> list[float] | None:
        try:
            raw = self._cache.get(key)
        except Exception:  # the port promises no errors; a broken adapter must not break chat
            _log.warning("embedding cache get failed", exc_info=True)
            return None
        if raw is None or len(raw) != self._size:
            return None  # absent, or written for another dimension: a miss
        return list(struct.unpack(self._format, raw))

    def _set(self, key: str, value: bytes) -> None:
        try:
            self._cache.set(key, value, ttl_s=self._ttl_s)
        except Exception:
            _log.warning("embedding cache set failed", exc_info=True)
