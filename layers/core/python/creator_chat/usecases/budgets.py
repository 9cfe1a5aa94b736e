"""Monthly token budgets: how many tokens (input + output of generated answers) a user may
spend per calendar month (UTC), by tier (``Settings.token_budget_for``).

Exact under any concurrency, by reservation:

1. **Reserve** before anything is stored: one atomic conditional write
   (``UsageStore.reserve_tokens``) holds an answer's worst case — ``prompt_token_budget +
   answer_max_tokens`` — when charged + reserved + that still fits the budget. N parallel
   questions admit exactly as many as fit, and none is refused while one fits.
2. **Settle** once the answer is stored: the request and its actual tokens are counted and
   the budget charged ``min(actual, reserved)``, the rest of the hold given back, in one
   write (``settle_tokens``; in the embedded database in the answer's own transaction).
   Charged never passes the budget, even if the model counted more than the prompt's
   estimate; ``input_tokens``/``output_tokens`` always record what the model reported.
3. **Release** when nothing is generated: an answer that fails, a queued answer whose job
   fails for good or whose thread is gone. A not-found answer (no model call) settles at 0
   tokens. A queued answer carries its hold in the job, and the worker settles or releases
   it. Settling and releasing remove the hold, so each happens once (a repeated delivery, a
   release after a settle: no-ops). A hold never settled (its process died) is given back
   after ``token_hold_ttl_s`` by that user's next refused reservation.

A cached reply costs nothing and needs no room: when the budget is exhausted, a question
that the response cache answers is still served (and counts as a request with 0 tokens).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from creator_chat.domain.models import BudgetDecision, Generation, Identity, TokenHold, Usage
from creator_chat.errors import TokenBudgetExceeded
from creator_chat.ids import random_id
from creator_chat.observability import count, logger
from creator_chat.ports import Clock, UsageStore

if TYPE_CHECKING:
    from creator_chat.settings import Settings


class BudgetDeps(Protocol):
    """What budgets need (``ChatDeps`` and the container provide it)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def users(self) -> UsageStore: ...
    @property
    def clock(self) -> Clock: ...


def month_of(now: float) -> str:
    """The budget's month (``YYYY-MM``, UTC) at ``now``."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m")


def month_reset(month: str) -> int:
    """When ``month``'s budget resets: the first second of the next month, UTC."""
    year, number = (int(part) for part in month.split("-"))
    year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return int(datetime(year, number, 1, tzinfo=UTC).timestamp())


def answer_cost_bound(settings: Settings) -> int:
    """What one answer reserves: its worst case (the whole prompt budget and answer)."""
    return settings.prompt_token_budget + settings.answer_max_tokens


def reserve(deps: BudgetDeps, caller: Identity) -> BudgetDecision:
    """Hold one answer's worst case in the caller's budget for this month; the decision
    carries the hold (or none: no room)."""
    now = deps.clock.now()
    decision = deps.users.reserve_tokens(
        caller.user_id,
        month_of(now),
        hold_id=random_id("tk_"),
        tokens=answer_cost_bound(deps.settings),
        budget=deps.settings.token_budget_for(caller.tier),
        expires_at=int(now) + deps.settings.token_hold_ttl_s,
    )
    if not decision.allowed:
        count("TokenBudgetExceeded")
    return decision


def exceeded(
    deps: BudgetDeps, caller: Identity, decision: BudgetDecision | None = None
) -> TokenBudgetExceeded:
    """The 429 of a refused reservation (``decision``; read afresh when not given)."""
    now = deps.clock.now()
    month = month_of(now)
    budget = deps.settings.token_budget_for(caller.tier)
    if decision is None:
        usage = deps.users.get_usage(caller.user_id, month)
        decision = BudgetDecision(False, budget, usage.charged_tokens, usage.reserved_tokens)
    reset = month_reset(month)
    return TokenBudgetExceeded(
        f"monthly token budget of {decision.budget} tokens reached for the "
        f"{caller.tier.value} tier: {decision.left} left, an answer may take up to "
        f"{answer_cost_bound(deps.settings)}; it resets at {iso_utc(reset)}",
        retry_after_s=max(1, reset - int(now)),
        limit=decision.budget,
        reset_epoch=reset,
        used=decision.used,
        reserved=decision.reserved,
    )


def settle(deps: BudgetDeps, user_id: str, hold: TokenHold | None, generation: Generation) -> None:
    """Count a stored answer: charge its tokens and free its hold (without a hold — a cached
    reply, or a job queued before budgets existed — only count it). Best effort: the answer
    is already stored, so a failing write is logged and counted, never an error."""
    try:
        if hold is None:
            deps.users.add_usage(
                user_id,
                month_of(deps.clock.now()),
                requests=1,
                input_tokens=generation.input_tokens,
                output_tokens=generation.output_tokens,
            )
        elif not deps.users.settle_tokens(
            hold, input_tokens=generation.input_tokens, output_tokens=generation.output_tokens
        ):
            # settled already, or given back after its TTL, or the user was erased
            logger.warning("token hold gone at settlement", extra={"user_id": user_id})
            count("TokenHoldGone")
    except Exception:
        logger.warning("usage not counted", extra={"user_id": user_id})
        count("UsageNotCounted")


def release(deps: BudgetDeps, hold: TokenHold | None) -> None:
    """Give a hold back (nothing was generated). Best effort: a hold left behind only
    narrows the budget until it expires."""
    if hold is None:
        return
    try:
        deps.users.release_tokens(hold)
    except Exception:
        logger.warning("token hold not released", extra={"user_id": hold.user_id})
        count("TokenHoldNotReleased")


@contextmanager
def released_on_error(deps: BudgetDeps, hold: TokenHold | None) -> Iterator[None]:
    """Give the hold back if the block fails (the question was not stored)."""
    try:
        yield
    except BaseException:
        release(deps, hold)
        raise


@dataclass(frozen=True)
class MonthlyUsage:
    """A month of a user's usage with its budget (the caller's tier's, as of now)."""

    usage: Usage
    budget: int
    reset_epoch: int

    @property
    def left(self) -> int:
        return max(0, self.budget - self.usage.charged_tokens - self.usage.reserved_tokens)


def monthly_usage(deps: BudgetDeps, caller: Identity) -> list[MonthlyUsage]:
    """The caller's usage per month, oldest first, the current month always included."""
    current = month_of(deps.clock.now())
    months = {u.month: u for u in deps.users.list_usage(caller.user_id)}
    months.setdefault(current, Usage(caller.user_id, current))
    budget = deps.settings.token_budget_for(caller.tier)
    return [MonthlyUsage(months[m], budget, month_reset(m)) for m in sorted(months)]


def iso_utc(epoch: int) -> str:
    """``2027-02-01T00:00:00Z``: how a reset time is shown."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
