"""The ``Cache`` on Redis / Valkey (ElastiCache in AWS), behind a circuit breaker.

The cache is best-effort: it must never fail or slow down a request. So:

* every operation first asks the breaker; while it is open the operation is a miss / no-op
  at once, with no network call;
* sockets have a short timeout (``timeout_s``, connect and read alike);
* any error (timeout, refused connection, auth, server error) is recorded on the breaker,
  reported as ``on_event("cache_error")`` and turned into a miss / no-op: nothing raises.

TLS (``rediss://``, needed by ElastiCache / Valkey serverless), the password
(``redis://:password@host``) or ACL user, and the database all come from the URL.

Events passed to ``on_event`` (for the chat layer's metrics): ``"hit"``, ``"miss"``,
``"cache_error"`` and ``"cache_bypass"`` (refused by the open breaker).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from creator_chat.breaker import CircuitBreaker

__all__ = [
    "EVENT_BYPASS",
    "EVENT_ERROR",
    "EVENT_HIT",
    "EVENT_MISS",
    "RedisCache",
]

_log = logging.getLogger(__name__)

EVENT_HIT = "hit"
EVENT_MISS = "miss"
EVENT_ERROR = "cache_error"
EVENT_BYPASS = "cache_bypass"


class RedisCache:
    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 0.05,
        breaker: CircuitBreaker,
        on_event: Callable[[str], None] | None = None,
        key_prefix: str = "",
        health_check_interval_s: int = 30,
    ) -> None:
        self._breaker = breaker
        self._on_event = on_event
        self._prefix = key_prefix
        # why the last operation was a miss / no-op (the deep health check's detail)
        self.last_error = ""
        self._client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            # PING a connection idle this long before reusing it (Lambda freezes
            # containers; the far end may have dropped the socket meanwhile).
            health_check_interval=health_check_interval_s,
            # One immediate retry on a dropped connection (reconnect), none on a timeout:
            # a timeout retried would double the time a slow cache costs a request.
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            decode_responses=False,
        )

    # -- Cache ------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        found, value = self._run("get", lambda: self._client.get(self._key(key)))
        if not found:
            return None
        if value is None:
            self._emit(EVENT_MISS)
            return None
        self._emit(EVENT_HIT)
        return cast(bytes, value)

    def set(self, key: str, value: bytes, *, ttl_s: int) -> None:
        if ttl_s <= 0:
            # Redis refuses EX 0; a value that may not be kept must not be served stale.
            self.delete(key)
            return
        self._run("set", lambda: self._client.set(self._key(key), value, ex=ttl_s))

    def delete(self, key: str) -> None:
        self._run("delete", lambda: self._client.delete(self._key(key)))

    def ping(self) -> bool:
        """Whether the cache answers; goes through the breaker like any operation, so a
        health check can be the half-open trial that closes it again."""
        ok, result = self._run("ping", self._client.ping)
        return ok and bool(result)

    # -- lifecycle --------------------------------------------------------------------

    def close(self) -> None:
        """Disconnect the pool's connections; the cache stays usable (it reconnects)."""
        try:
            self._client.close()
        except Exception:
            _log.debug("redis cache: close failed", exc_info=True)

    # -- internals --------------------------------------------------------------------

    def _key(self, key: str) -> str:
        return self._prefix + key

    def _run(self, op: str, fn: Callable[[], object]) -> tuple[bool, object]:
        """Run one command under the breaker: (True, result) or (False, None); never raises."""
        if not self._breaker.allow():
            self._emit(EVENT_BYPASS)
            self.last_error = (
                f"circuit open after repeated failures (last: {self.last_error or 'unknown'})"
                if not self.last_error.startswith("circuit open")
                else self.last_error
            )
            return False, None
        try:
            result = fn()
        except Exception as exc:  # any failure degrades to a miss / no-op
            self._breaker.record_failure()
            _log.warning("redis cache: %s failed: %s: %s", op, type(exc).__name__, exc)
            self._emit(EVENT_ERROR)
            self.last_error = f"{type(exc).__name__}: {exc}"
            return False, None
        self._breaker.record_success()
        self.last_error = ""
        return True, result

    def _emit(self, event: str) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            _log.exception("redis cache: on_event(%r) failed", event)
