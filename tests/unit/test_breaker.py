from __future__ import annotations

import threading

import pytest
from creator_chat.breaker import BreakerState, CircuitBreaker, CircuitOpenError
from creator_chat.clock import FixedClock


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """The state, read through a call so mypy does not narrow it across assertions."""
    return breaker.state


def make(threshold: int = 3, timeout: float = 30) -> tuple[CircuitBreaker, FixedClock]:
    clock = FixedClock()
    return (
        CircuitBreaker("test", failure_threshold=threshold, reset_timeout_s=timeout, clock=clock),
        clock,
    )


def fail_n(breaker: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        assert breaker.allow()
        breaker.record_failure()


def test_starts_closed_and_allows() -> None:
    breaker, _ = make()
    assert state_of(breaker) is BreakerState.CLOSED
    assert breaker.allow()


def test_opens_after_threshold_consecutive_failures() -> None:
    breaker, _ = make(threshold=3)
    fail_n(breaker, 2)
    assert state_of(breaker) is BreakerState.CLOSED
    assert breaker.allow()
    breaker.record_failure()
    assert state_of(breaker) is BreakerState.OPEN
    assert not breaker.allow()


def test_success_resets_the_consecutive_count() -> None:
    breaker, _ = make(threshold=3)
    fail_n(breaker, 2)
    breaker.record_success()
    assert breaker.consecutive_failures == 0
    fail_n(breaker, 2)
    assert state_of(breaker) is BreakerState.CLOSED


def test_open_refuses_until_timeout_then_half_open_lets_one_trial() -> None:
    breaker, clock = make(threshold=1, timeout=30)
    fail_n(breaker, 1)
    clock.advance(29.9)
    assert not breaker.allow()
    assert state_of(breaker) is BreakerState.OPEN
    clock.advance(0.1)
    assert breaker.allow()  # the one trial
    assert state_of(breaker) is BreakerState.HALF_OPEN
    assert not breaker.allow()  # nobody else while the trial runs
    assert not breaker.allow()


def test_trial_success_closes() -> None:
    breaker, clock = make(threshold=2, timeout=10)
    fail_n(breaker, 2)
    clock.advance(10)
    assert breaker.allow()
    breaker.record_success()
    assert state_of(breaker) is BreakerState.CLOSED
    assert breaker.consecutive_failures == 0
    assert breaker.allow()
    assert breaker.allow()
    # and the full threshold is needed again to open
    fail_n(breaker, 1)
    assert state_of(breaker) is BreakerState.CLOSED


def test_trial_failure_reopens_for_a_full_timeout() -> None:
    breaker, clock = make(threshold=2, timeout=10)
    fail_n(breaker, 2)
    clock.advance(10)
    assert breaker.allow()
    clock.advance(3)
    breaker.record_failure()
    assert state_of(breaker) is BreakerState.OPEN
    clock.advance(9.9)
    assert not breaker.allow()
    clock.advance(0.1)
    assert breaker.allow()
    assert state_of(breaker) is BreakerState.HALF_OPEN


def test_trial_that_never_reports_is_given_up_after_timeout() -> None:
    breaker, clock = make(threshold=1, timeout=10)
    fail_n(breaker, 1)
    clock.advance(10)
    assert breaker.allow()  # trial whose caller then vanishes
    clock.advance(9)
    assert not breaker.allow()
    clock.advance(1)
    assert breaker.allow()  # a new trial
    assert not breaker.allow()


def test_late_results_while_open_do_not_change_it() -> None:
    breaker, clock = make(threshold=1, timeout=10)
    fail_n(breaker, 1)
    clock.advance(5)
    breaker.record_success()  # a call started before it opened
    assert state_of(breaker) is BreakerState.OPEN
    breaker.record_failure()  # does not push the reopening back
    clock.advance(5)
    assert breaker.allow()


def test_state_read_does_not_transition() -> None:
    breaker, clock = make(threshold=1, timeout=10)
    fail_n(breaker, 1)
    clock.advance(100)
    assert state_of(breaker) is BreakerState.OPEN
    assert breaker.allow()
    assert state_of(breaker) is BreakerState.HALF_OPEN


def test_state_listener_sees_each_transition_and_its_errors_are_swallowed() -> None:
    seen: list[tuple[str, BreakerState, BreakerState]] = []

    def listener(name: str, old: BreakerState, new: BreakerState) -> None:
        seen.append((name, old, new))
        raise RuntimeError("listener bug")

    clock = FixedClock()
    breaker = CircuitBreaker(
        "redis", failure_threshold=1, reset_timeout_s=5, clock=clock, on_state_change=listener
    )
    fail_n(breaker, 1)
    clock.advance(5)
    assert breaker.allow()
    breaker.record_success()
    assert seen == [
        ("redis", BreakerState.CLOSED, BreakerState.OPEN),
        ("redis", BreakerState.OPEN, BreakerState.HALF_OPEN),
        ("redis", BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]


def test_call_helper() -> None:
    breaker, clock = make(threshold=2, timeout=10)
    assert breaker.call(lambda: 42) == 42

    def boom() -> int:
        raise ConnectionError("down")

    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(boom)
    assert state_of(breaker) is BreakerState.OPEN

    called: list[bool] = []
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(lambda: called.append(True))
    assert called == []  # refused without calling
    assert info.value.status == 503
    clock.advance(10)
    assert breaker.call(lambda: "ok") == "ok"
    assert state_of(breaker) is BreakerState.CLOSED


def test_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_threshold=0, clock=FixedClock())
    with pytest.raises(ValueError):
        CircuitBreaker("x", reset_timeout_s=-1, clock=FixedClock())


def test_half_open_admits_exactly_one_trial_under_concurrency() -> None:
    breaker, clock = make(threshold=1, timeout=10)
    fail_n(breaker, 1)
    clock.advance(10)
    barrier = threading.Barrier(16)
    admitted: list[bool] = []
    lock = threading.Lock()

    def contend() -> None:
        barrier.wait()
        ok = breaker.allow()
        with lock:
            admitted.append(ok)

    threads = [threading.Thread(target=contend) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == 1


def test_concurrent_failures_open_exactly_once() -> None:
    transitions: list[BreakerState] = []
    breaker = CircuitBreaker(
        "x",
        failure_threshold=50,
        clock=FixedClock(),
        on_state_change=lambda _n, _o, new: transitions.append(new),
    )

    def hammer() -> None:
        for _ in range(100):
            breaker.record_failure()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state_of(breaker) is BreakerState.OPEN
    assert transitions == [BreakerState.OPEN]
