"""A fan past the monthly token budget, in a real browser: the page says the month's answers
are used up and from which day the fan can ask again — over HTTP and over the WebSocket."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from creator_chat.local.runtime import LocalRuntime
from creator_chat.usecases import budgets
from playwright.sync_api import Page, expect

from .conftest import DEMO_NAME, ask, dev_sign_in
from .test_chat_page import without_websocket

QUESTION = "Which tamper weight suits a 58 mm basket?"


def spend_the_budget(runtime: LocalRuntime, user: str) -> int:
    """Hold the whole free budget of this month for ``user`` (as answers in flight would);
    returns when it resets."""
    container = runtime.container
    budget = container.settings.token_budget_free
    month = budgets.month_of(container.clock.now())
    held = container.users.reserve_tokens(
        user, month, hold_id="tk_spent", tokens=budget, budget=budget, expires_at=2**40
    )
    assert held.allowed
    return budgets.month_reset(month)


@pytest.mark.parametrize("transport", ["http", "websocket"])
def test_past_the_monthly_budget_the_page_says_from_which_day_to_ask_again(
    page: Page, runtime: LocalRuntime, demo_ready, transport: str
):
    user = f"web-budget-{uuid.uuid4().hex[:8]}"
    if transport == "http":
        without_websocket(page)
    page.goto(runtime.url + "/c/bench-shot")
    dev_sign_in(page, user)
    reset = spend_the_budget(runtime, user)

    ask(page, QUESTION)

    notice = page.locator("#notice")
    expect(notice).to_contain_text("Your plan's answers for this month are used up")
    expect(notice).to_contain_text("You can ask again from")
    shown = datetime.fromisoformat(notice.locator("time").get_attribute("datetime") or "")
    assert 0 <= shown.timestamp() - reset < 60  # Retry-After counted from the refusal
    day = datetime.fromtimestamp(reset, UTC)
    expect(notice.locator("time")).to_contain_text(day.strftime("%B"))
    # nothing was asked: no half conversation, and the question is kept for later
    expect(page.locator("#log > li")).to_have_count(0)
    expect(page.get_by_label(f"Your question for {DEMO_NAME}")).to_have_value(QUESTION)
