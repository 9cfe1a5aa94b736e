"""A small, thread-safe circuit breaker with an injectable clock.

States:

* ``closed``: calls go through; ``failure_threshold`` consecutive failures open it.
* ``open``: calls are refused at once (no network, no timeout paid) until
  ``reset_timeout_s`` has passed since it opened.
* ``half_open``: the first ``allow()`` after the timeout lets exactly ONE trial call
  through; its ``record_success()`` closes the breaker, its ``record_failure()`` opens it
  again for another ``reset_timeout_s``. Other callers are refused while the trial runs.
  A trial that never reports back (its caller crashed) is given up after
  ``reset_timeout_s`` and another trial is allowed, so the breaker cannot stick.

Callers use ``allow()`` / ``record_success()`` / ``record_failure()`` around the protected
call, or the ``call(fn)`` helper. Time comes from a ``Clock``: tests move a ``FixedClock``
instead of sleeping.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from creator_chat.errors import DependencyUnavailable
from creator_chat.ports import Clock

__all__ = ["BreakerState", "CircuitBreaker", "CircuitOpenError"]

_log = logging.getLogger(__name__)

T = TypeVar("T")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(DependencyUnavailable):
    """Raised by ``CircuitBreaker.call`` when the breaker refuses the call."""

    code = "circuit_open"


StateListener = Callable[[str, BreakerState, BreakerState], None]


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30,
        clock: Clock,
        on_state_change: StateListener | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if reset_timeout_s < 0:
            raise ValueError("reset_timeout_s must be >= 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = float(reset_timeout_s)
        self._clock = clock
        self._on_state_change = on_state_change
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_started_at: float | None = None

    # -- inspection -------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """The recorded state. ``open`` turns ``half_open`` on the first ``allow()``
        after the timeout, not by itself; reading the state never changes it."""
        with self._lock:
            return self._state

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._failures

    # -- protocol ---------------------------------------------------------------------

    def allow(self) -> bool:
        """Whether the caller may make the protected call now."""
        transition: tuple[BreakerState, BreakerState] | None = None
        with self._lock:
            now = self._clock.now()
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                if now - self._opened_at < self.reset_timeout_s:
                    return False
                transition = self._set_state(BreakerState.HALF_OPEN)
                self._trial_started_at = now
                allowed = True
            else:  # HALF_OPEN: one trial at a time
                started = self._trial_started_at
                if started is not None and now - started < self.reset_timeout_s:
                    return False
                self._trial_started_at = now  # the previous trial never reported back
                allowed = True
        self._notify(transition)
        return allowed

    def record_success(self) -> None:
        transition: tuple[BreakerState, BreakerState] | None = None
        with self._lock:
            if self._state is BreakerState.CLOSED:
                self._failures = 0
            elif self._state is BreakerState.HALF_OPEN:
                self._failures = 0
                self._trial_started_at = None
                transition = self._set_state(BreakerState.CLOSED)
            # OPEN: a late success of a call started before it opened proves little; ignore.
        self._notify(transition)

    def record_failure(self) -> None:
        transition: tuple[BreakerState, BreakerState] | None = None
        with self._lock:
            now = self._clock.now()
            if self._state is BreakerState.CLOSED:
                self._failures += 1
                if self._failures >= self.failure_threshold:
                    self._opened_at = now
                    transition = self._set_state(BreakerState.OPEN)
            elif self._state is BreakerState.HALF_OPEN:
                self._failures += 1
                self._opened_at = now
                self._trial_started_at = None
                transition = self._set_state(BreakerState.OPEN)
            # OPEN: late failures of calls started before it opened do not extend it.
        self._notify(transition)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` under the breaker; raises ``CircuitOpenError`` when refused.

        Any exception from ``fn`` counts as a failure and is re-raised.
        """
        if not self.allow():
            raise CircuitOpenError(f"circuit {self.name!r} is open")
        try:
            result = fn()
        except Exception:
            self.record_failure()
            raise
        self.record_success()
        return result

    # -- internals --------------------------------------------------------------------

    def _set_state(self, new: BreakerState) -> tuple[BreakerState, BreakerState]:
        old, self._state = self._state, new
        return old, new

    def _notify(self, transition: tuple[BreakerState, BreakerState] | None) -> None:
        """Log and report a transition, outside the lock; a listener's error is swallowed."""
        if transition is None:
            return
        old, new = transition
        level = logging.WARNING if new is BreakerState.OPEN else logging.INFO
        _log.log(level, "circuit %s: %s -> %s", self.name, old.value, new.value)
        if self._on_state_change is not None:
            try:
                self._on_state_change(self.name, old, new)
            except Exception:
                _log.exception("circuit %s: state listener failed", self.name)

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state.value})"
