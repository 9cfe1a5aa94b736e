"""Streamed answers in the web page: the text appears as it is written, then the citations;
the page falls back to the HTTP route when the socket cannot open."""

from __future__ import annotations

import itertools
import re
import uuid

import httpx
import pytest
from creator_chat.local.bedrock_stub import PacedConverseStub
from creator_chat.local.runtime import LocalRuntime
from playwright.sync_api import Page, expect

from tests.e2e.conftest import TokenFactory, answer_at_a_models_pace, bearer

from .conftest import DEMO_NAME, ask, dev_sign_in

ANSWER_TIMEOUT_MS = 30_000

# every change to the answer's text while it is written, and whether its sources were there
RECORD = """
() => {
  window.__seen = [];
  new MutationObserver(() => {
    const answer = [...document.querySelectorAll('.msg.bot')].pop();
    if (!answer) return;
    const text = answer.querySelector('.text');
    window.__seen.push({
      text: text ? text.textContent : '',
      streaming: answer.classList.contains('streaming'),
      sources: !!answer.querySelector('.sources'),
    });
  }).observe(document.getElementById('log'), {subtree: true, childList: true, characterData: true});
}
"""


@pytest.fixture
def paced(runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> PacedConverseStub:
    """A first token after 300 ms, then 30 tokens/s."""
    return answer_at_a_models_pace(
        runtime, monkeypatch, first_token_s=0.3, tokens_per_s=30, model_id="stub.paced-web"
    )


def fan() -> str:
    return f"web-stream-{uuid.uuid4().hex[:8]}"


def test_the_answer_appears_as_it_is_written_then_its_citations(
    page: Page,
    runtime: LocalRuntime,
    paced: PacedConverseStub,
    api: httpx.Client,
    token: TokenFactory,
    demo_ready,
) -> None:
    user = fan()
    page.goto(runtime.url + "/c/bench-shot")
    dev_sign_in(page, user)
    page.evaluate(RECORD)
    chats: list[str] = []
    page.on("request", lambda r: chats.append(r.url) if r.url.endswith("/chat") else None)
    ask(page, "How do I descale the steam boiler?")
    answer = page.locator(".msg.bot").last
    expect(answer.locator(".sources a").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(answer).not_to_have_class(re.compile(r"\bstreaming\b"))
    seen = page.evaluate("window.__seen")
    partial = [s["text"] for s in seen if s["streaming"]]
    # several updates while it was written, each longer than the last, none with sources yet
    distinct = list(dict.fromkeys(partial))
    assert len(distinct) >= 5, distinct
    assert all(len(a) < len(b) for a, b in itertools.pairwise(distinct))
    assert not any(s["sources"] for s in seen if s["streaming"])
    assert chats == []  # over the socket, not the HTTP route
    # the page shows what the thread stored
    threads = api.get("/v1/threads", headers=bearer(token(user))).json()["threads"]
    messages = api.get(
        f"/v1/threads/{threads[0]['thread_id']}/messages", headers=bearer(token(user))
    ).json()["messages"]
    stored = messages[-1]["content"]
    assert stored.startswith("From the creator's content:")
    expect(answer.locator(".text")).to_have_text(stored)
    expect(page.locator("#announcer")).to_contain_text(f"{DEMO_NAME} answered:")


def test_when_the_socket_cannot_open_the_page_asks_over_http(
    page: Page, runtime: LocalRuntime, demo_ready
) -> None:
    # the socket is refused (a proxy without WebSocket support): the question still goes out
    page.route_web_socket(re.compile(r".*/v1/stream.*"), lambda ws: ws.close())
    page.goto(runtime.url + "/c/bench-shot")
    dev_sign_in(page, fan())
    with page.expect_response(lambda r: r.url.endswith("/chat")) as sent:
        ask(page, "What grind size for a first shot?")
    assert sent.value.status == 200
    answer = page.locator(".msg.bot").last
    expect(answer.locator(".sources a").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(answer).to_contain_text("grind")


def test_past_the_quota_over_the_socket_the_page_says_when(
    page: Page, runtime: LocalRuntime, demo_ready
) -> None:
    user = fan()
    limiter = runtime.container.rate_limiter
    for _ in range(50):
        limiter.hit(f"chat:{user}", limit=50, window_s=3600)
    page.goto(runtime.url + "/c/bench-shot")
    dev_sign_in(page, user)
    ask(page, "What grind size for a first shot?")
    notice = page.locator("#notice")
    expect(notice).to_contain_text("You have asked all the questions your plan allows this hour")
    expect(page.locator("#log > li")).to_have_count(0)
    expect(page.get_by_label(f"Your question for {DEMO_NAME}")).to_have_value(
        "What grind size for a first shot?"
    )
