"""Monthly token budgets, the pure parts: months and their resets, what an answer reserves,
the settings per tier, and a hold outliving any answer that could still settle it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from creator_chat.domain.models import Tier, TokenHold
from creator_chat.resources import DECLARATION
from creator_chat.settings import Settings
from creator_chat.usecases import budgets


def epoch(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp())  # type: ignore[misc]


@pytest.mark.parametrize(
    ("now", "month", "reset"),
    [
        (epoch(2027, 1, 1), "2027-01", epoch(2027, 2, 1)),
        (epoch(2027, 1, 31, 23, 59, 59), "2027-01", epoch(2027, 2, 1)),
        (epoch(2027, 2, 28, 12), "2027-02", epoch(2027, 3, 1)),
        (epoch(2026, 12, 31, 23, 59, 59), "2026-12", epoch(2027, 1, 1)),
    ],
)
def test_a_budget_is_a_utc_calendar_month_that_resets_when_the_next_one_starts(
    now: int, month: str, reset: int
):
    assert budgets.month_of(now) == month
    assert budgets.month_reset(month) == reset
    assert budgets.iso_utc(reset).endswith("-01T00:00:00Z")


def test_an_answer_reserves_its_whole_prompt_budget_and_answer():
    settings = Settings(prompt_token_budget=6000, answer_max_tokens=700)

    assert budgets.answer_cost_bound(settings) == 6700


def test_each_tier_has_its_budget_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    defaults = Settings()
    assert [defaults.token_budget_for(t) for t in Tier] == [400_000, 4_000_000, 40_000_000]
    # a tier's hourly quota of answers, all in flight at their worst case, fits its budget
    bound = defaults.prompt_token_budget + defaults.answer_max_tokens
    assert all(defaults.token_budget_for(t) >= defaults.quota_for(t) * bound for t in Tier)

    monkeypatch.setenv("CREATOR_CHAT_TOKEN_BUDGET_FREE", "50000")
    monkeypatch.setenv("CREATOR_CHAT_TOKEN_BUDGET_ENTERPRISE", "1")

    configured = Settings()
    assert configured.token_budget_for(Tier.FREE) == 50_000
    assert configured.token_budget_for(Tier.PREMIUM) == 4_000_000
    assert configured.token_budget_for(Tier.ENTERPRISE) == 1


def test_a_budget_of_zero_is_refused_at_start(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CREATOR_CHAT_TOKEN_BUDGET_PREMIUM", "0")

    with pytest.raises(ValueError, match="CREATOR_CHAT_TOKEN_BUDGET_PREMIUM: must be at least 1"):
        Settings()


def test_a_hold_outlives_any_answer_that_may_still_settle_it():
    # a queued answer may be settled as long as its job can still be delivered: a hold
    # given back earlier could let the budget be spent twice
    llm_jobs = DECLARATION.queue("llm-jobs")
    longest_function = max(f.timeout_s for f in DECLARATION.functions)

    assert Settings().token_hold_ttl_s > llm_jobs.retention_s + llm_jobs.visibility_timeout_s
    assert Settings().token_hold_ttl_s > longest_function


def test_a_hold_round_trips_through_a_job_body():
    hold = TokenHold("u1", "2027-01", "tk_1", 6700, 2_000_000_000)

    assert TokenHold.from_json(hold.to_json()) == hold
    assert TokenHold.from_json(None) is None
    assert TokenHold.from_json({}) is None
