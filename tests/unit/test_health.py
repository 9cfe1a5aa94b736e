"""The deep health check says why a dependency failed (issue 15): the error's type and
message, bounded and without credentials, also for a cache that swallows its errors."""

from __future__ import annotations

from types import SimpleNamespace

from creator_chat.adapters.aws.redis_cache import RedisCache
from creator_chat.breaker import CircuitBreaker
from creator_chat.clock import FixedClock
from creator_chat.local.runtime import free_port
from creator_chat.usecases.health import deep_health, describe


class Answers:
    def get_creator(self, _id: str) -> None:
        return None

    def ping(self) -> bool:
        return True

    def count(self, _creator: str) -> int:
        return 0


class Broken(Answers):
    def get_creator(self, _id: str) -> None:
        raise ConnectionError("could not reach postgres://app:hunter2@db.internal:5432/chat")


def container(**kw: object) -> SimpleNamespace:
    parts = dict.fromkeys(("creators", "llm_queue", "ingest_queue", "blobs", "cache", "index"))
    ok = Answers()
    env = kw.pop("env", "local")
    return SimpleNamespace(
        embedded=True, settings=SimpleNamespace(env=env), **{k: ok for k in parts} | kw
    )


def test_a_failing_dependency_names_its_error_without_credentials():
    probes = {p.name: p for p in deep_health(container(creators=Broken()))}  # type: ignore[arg-type]
    db = probes["database"]
    assert not db.ok
    assert db.detail == "ConnectionError: could not reach postgres://***@db.internal:5432/chat"
    assert "hunter2" not in db.detail
    assert all(p.ok and p.detail == "" for n, p in probes.items() if n != "database")


def test_an_unreachable_redis_says_why():
    """The cache turns errors into misses (it never fails a request): its ping answers
    False, and the detail is the error it swallowed."""
    breaker = CircuitBreaker("cache", failure_threshold=3, clock=FixedClock(0))
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2, breaker=breaker)
    probes = {p.name: p for p in deep_health(container(cache=cache))}  # type: ignore[arg-type]
    assert not probes["cache"].ok
    assert probes["cache"].detail.startswith("ConnectionError: ")
    assert "refused" in probes["cache"].detail.lower()


def test_a_check_answering_false_without_a_reason_still_says_something():
    class Dead(Answers):
        def ping(self) -> bool:
            return False

    probes = {p.name: p for p in deep_health(container(blobs=Dead()))}  # type: ignore[arg-type]
    assert probes["uploads"].detail == "uploads did not answer"


def test_details_are_bounded():
    assert len(describe(RuntimeError("x" * 5000))) <= 300
    assert describe(TimeoutError()) == "TimeoutError"


def test_deployed_the_public_detail_is_the_error_type_only():
    """/health/deep answers anyone: in a deployed environment a message (which may name
    internal hosts) stays in the log, the response says only what kind of failure it was."""
    probes = {p.name: p for p in deep_health(container(creators=Broken(), env="prod"))}  # type: ignore[arg-type]
    assert not probes["database"].ok
    assert probes["database"].detail == "ConnectionError"
