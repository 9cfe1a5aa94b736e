"""A fan uses the chat page in a real browser: sign in, pick a creator, ask, follow sources."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from creator_chat.local.runtime import LocalRuntime
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DEMO, TokenFactory, bearer

from .conftest import DEMO_NAME, ask, dev_sign_in

QUESTION = "How do I backflush my machine with detergent?"
ANSWER_TIMEOUT_MS = 30_000


def without_websocket(page: Page) -> None:
    """A browser (or a network) where no WebSocket opens: the page asks over HTTP."""
    page.add_init_script("delete window.WebSocket;")


def fan() -> str:
    return f"web-{uuid.uuid4().hex[:8]}"


def last_answer(page: Page):
    answer = page.locator(".msg.bot").last
    expect(answer).not_to_have_class(re.compile(r"\bpending\b"), timeout=ANSWER_TIMEOUT_MS)
    return answer


def test_a_fan_signs_in_picks_the_creator_and_gets_a_cited_answer(
    page: Page, runtime: LocalRuntime, api: httpx.Client, token: TokenFactory, demo_ready
):
    user = fan()
    page.goto(runtime.url + "/")
    dev_sign_in(page, user)

    page.get_by_role("button", name=re.compile(DEMO_NAME)).click()
    expect(page).to_have_url(runtime.url + "/c/bench-shot")
    expect(page.get_by_role("heading", name=f"Ask {DEMO_NAME}")).to_be_visible()
    expect(page.get_by_label(f"Your question for {DEMO_NAME}")).to_be_focused()

    ask(page, QUESTION)
    expect(page.locator(".msg.user").last).to_contain_text(QUESTION)
    answer = last_answer(page)
    expect(answer).to_contain_text("blind basket")
    expect(page.locator("#announcer")).to_contain_text(f"{DEMO_NAME} answered:")

    # each source opens the video at the cited second, with its snippet on hover and focus
    # (the backflush routine's own source: several sources may be cited, in any order)
    source = answer.locator(".sources a[title*='blind basket']").first
    href = source.get_attribute("href") or ""
    assert "t=" in href and href.startswith("https://"), href
    assert source.get_attribute("target") == "_blank"
    assert "noopener" in (source.get_attribute("rel") or "")
    snippet = source.get_attribute("title") or ""
    assert "blind basket" in snippet
    tooltip = page.locator(f"#{source.get_attribute('aria-describedby')}")
    expect(tooltip).to_have_attribute("role", "tooltip")
    expect(tooltip).to_have_text(snippet)
    expect(tooltip).to_be_hidden()
    source.focus()
    expect(tooltip).to_be_visible()
    expect(source).to_have_accessible_description(snippet)
    inline = answer.locator(".text a.cite-ref").first
    assert "t=" in (inline.get_attribute("href") or "")

    # the conversation is in the thread list, current
    current = page.locator("#thread-list button[aria-current='true']")
    expect(current).to_contain_text(QUESTION)

    # thumbs up reaches the API
    answer.get_by_role("button", name="Yes, helpful").click()
    expect(answer.get_by_role("button", name="Yes, helpful")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(answer.locator(".feedback-status")).to_have_text("Thanks for the feedback.")
    exported = api.get("/v1/me/export", headers=bearer(token(user))).json()
    assert [f["rating"] for f in exported["feedback"]] == ["up"]

    # a new conversation, then back to the first one from the thread list
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator("#log > li")).to_have_count(0)
    expect(page.get_by_label(f"Your question for {DEMO_NAME}")).to_be_focused()
    ask(page, "What grind size for a first shot?")
    last_answer(page)
    expect(page.locator("#thread-list li")).to_have_count(2)
    page.locator("#thread-list button", has_text=QUESTION).click()
    expect(page.locator("#log > li")).to_have_count(2)
    expect(page.locator("#log .msg.user")).to_have_text(re.compile(QUESTION))
    expect(page.locator("#log .sources a").first).to_have_attribute("href", re.compile("t="))

    # a reload keeps the session and the deep link
    page.reload()
    expect(page.get_by_role("heading", name=f"Ask {DEMO_NAME}")).to_be_visible()
    expect(page.locator("#thread-list li")).to_have_count(2)


def test_past_the_hourly_quota_the_page_says_when_the_fan_can_ask_again(
    page: Page, runtime: LocalRuntime, api: httpx.Client, token: TokenFactory, demo_ready
):
    user = fan()
    without_websocket(page)  # over HTTP: the page's fallback when a socket cannot open
    page.goto(runtime.url + "/c/bench-shot")
    dev_sign_in(page, user)
    tok = token(user)  # the same fan, straight to the API: spend the free tier's 50
    for i in range(50):
        spent = api.post(
            f"/v1/creators/{DEMO}/chat",
            json={"message": f"Quota question {i} about grinders?"},
            headers=bearer(tok),
        )
        assert spent.status_code == 200, spent.text
    assert spent.headers["X-RateLimit-Remaining"] == "0"

    with page.expect_response(lambda r: r.url.endswith("/chat")) as refused_info:
        ask(page, QUESTION)
    refused = refused_info.value
    asked_at = time.time()
    assert refused.status == 429
    retry_after = int(refused.headers["retry-after"])
    assert retry_after > 0

    notice = page.locator("#notice")
    expect(notice).to_contain_text("You have asked all the questions your plan allows this hour")
    expect(notice).to_contain_text("You can ask again at")
    reset = datetime.fromisoformat(notice.locator("time").get_attribute("datetime") or "")
    assert abs(reset.timestamp() - (asked_at + retry_after)) < 10
    expect(notice.locator("time")).to_have_text(reset.astimezone(UTC).strftime("%H:%M"))
    minutes = -(-retry_after // 60)
    expected = f"in about {minutes} minutes" if minutes > 1 else "in under a minute"
    expect(notice).to_contain_text(expected)
    # nothing was asked: no half conversation, and the question is kept for later
    expect(page.locator("#log > li")).to_have_count(0)
    expect(page.get_by_label(f"Your question for {DEMO_NAME}")).to_have_value(QUESTION)


def test_keyboard_only_tab_to_the_question_type_and_enter(
    page: Page, runtime: LocalRuntime, demo_ready
):
    page.goto(runtime.url + "/c/bench-shot")
    user_id = page.get_by_label("User id")
    expect(user_id).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the question box")).to_be_focused()
    for _ in range(5):
        page.keyboard.press("Tab")
        if user_id.evaluate("el => el === document.activeElement"):
            break
    expect(user_id).to_be_focused()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(fan())
    page.keyboard.press("Tab")
    expect(page.get_by_label("Tier")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Ask {DEMO_NAME}")).to_be_visible()

    # from the top of the page, Tab reaches the question box
    page.reload()
    question = page.get_by_label(f"Your question for {DEMO_NAME}")
    expect(question).to_be_visible()
    order: list[str] = []
    for _ in range(20):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent")
        )
        if question.evaluate("el => el === document.activeElement"):
            break
    expect(question).to_be_focused()
    assert order.index("sign-out") < order.index("new-thread") < order.index("question"), order

    page.keyboard.type("How often should I backflush")
    page.keyboard.press("Shift+Enter")  # a new line, not a send
    page.keyboard.type("with detergent?")
    expect(page.locator("#log > li")).to_have_count(0)
    page.keyboard.press("Enter")
    answer = last_answer(page)
    expect(answer).to_contain_text("detergent")
    expect(page.locator(".msg.user").last).to_contain_text("with detergent?")
    expect(question).to_be_focused()  # ready for the next question
    expect(question).to_have_value("")

    # and on to the first source with the keyboard: its snippet shows on focus
    source = answer.locator(".sources a").first
    for _ in range(40):
        if source.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Shift+Tab")
    expect(source).to_be_focused()
    expect(page.locator(f"#{source.get_attribute('aria-describedby')}")).to_be_visible()


def test_at_phone_width_nothing_overflows(
    phone_page: Page, runtime: LocalRuntime, screenshots: Path, demo_ready
):
    page = phone_page
    page.goto(runtime.url + "/c/bench-shot")
    dev_sign_in(page, fan())
    ask(page, QUESTION)
    answer = last_answer(page)
    expect(answer.locator(".sources a").first).to_have_attribute("href", re.compile("t="))

    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    for box in page.locator("button:visible, a:visible, textarea, h1").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.right]; })"
    ):
        assert box[0] >= 0 and box[1] <= 375, box
    toggle = page.get_by_role("button", name="Conversations")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#threads")).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#thread-list button", has_text=QUESTION)).to_be_visible()
    toggle.click()

    shot = screenshots / "chat-375px.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_a_queued_answer_shows_queued_then_the_answer(
    page: Page, runtime: LocalRuntime, demo_ready
):
    without_websocket(page)  # over HTTP: the page's fallback when a socket cannot open
    page.goto(runtime.url + "/c/bench-shot")
    dev_sign_in(page, fan())

    def as_async(route):  # the page asks synchronously; make the API queue this one
        body = json.loads(route.request.post_data or "{}")
        route.continue_(post_data=json.dumps({**body, "mode": "async"}))

    page.route("**/v1/creators/*/chat", as_async)
    polled: list[str] = []
    page.on("request", lambda r: polled.append(r.url) if "/messages/" in r.url else None)
    with page.expect_response(lambda r: r.url.endswith("/chat")) as queued:
        ask(page, "What grind size for a first shot?")
    assert queued.value.status == 202
    expect(page.locator(".msg.bot").last).to_contain_text("Queued")
    answer = last_answer(page)
    expect(answer).to_contain_text("grind")
    expect(answer.locator(".sources a").first).to_have_attribute("href", re.compile("t="))
    assert polled and all(queued.value.json()["status_url"] in url for url in polled)


@pytest.fixture
def creator_site(runtime: LocalRuntime) -> Iterator[str]:
    """A creator's own page on another origin (loopback, another port) embedding the widget,
    next to a frame of the plain page, which must refuse to be framed."""
    html = (
        "<!doctype html><html lang=en><title>Ines's espresso blog</title><h1>My blog</h1>"
        f'<script src="{runtime.url}/widget.js" data-creator="bench-shot" '
        f'data-title="Chat with {DEMO_NAME}"></script>'
        f'<iframe id="not-embeddable" title="plain page" src="{runtime.url}/"></iframe>'
    ).encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_the_widget_mounts_the_chat_in_a_creators_page(
    page: Page, runtime: LocalRuntime, creator_site: str, demo_ready
):
    page.goto(creator_site)
    frame_element = page.locator(f"iframe[title='Chat with {DEMO_NAME}']")
    expect(frame_element).to_have_attribute("src", f"{runtime.url}/c/bench-shot?embed=1")
    chat = page.frame_locator(f"iframe[title='Chat with {DEMO_NAME}']")
    expect(chat.get_by_role("heading", name="Sign in to chat")).to_be_visible()
    chat.get_by_label("User id").fill(fan())
    chat.get_by_role("button", name="Sign in").click()
    expect(chat.get_by_role("heading", name=f"Ask {DEMO_NAME}")).to_be_visible()
    expect(chat.locator("body")).to_have_class(re.compile(r"\bembed\b"))
    chat.get_by_label(f"Your question for {DEMO_NAME}").fill(QUESTION)
    chat.get_by_label(f"Your question for {DEMO_NAME}").press("Enter")
    expect(chat.locator(".msg.bot .sources a").first).to_have_attribute("href", re.compile("t="))
    # any other page refuses to be framed (frame-ancestors 'none'): the browser shows an error
    plain = page.locator("#not-embeddable").element_handle().content_frame()
    assert plain is not None
    deadline = time.monotonic() + 10
    while not plain.url.startswith("chrome-error://") and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert plain.url.startswith("chrome-error://"), plain.url
