"""Browser tests: the web client in Debian's chromium (Playwright), against the local runtime.

The runtime, API client and token fixtures are the end-to-end ones (one runtime per session).
Needs ``apt-get install chromium`` and ``pip install playwright`` (never ``playwright
install``: the browser is the system's). A failed test leaves a screenshot of its page in
the ``screenshots`` folder (a temp dir, or ``$CREATOR_CHAT_SCREENSHOTS``), named after it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.e2e.conftest import api, demo_ready, runtime, token  # noqa: F401

CHROMIUM = os.environ.get("CREATOR_CHAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 812}
DEMO_NAME = "Bench Shot Espresso"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    setattr(item, f"report_{report.when}", report)  # the page fixture reads it on teardown
    return report


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``$CREATOR_CHAT_SCREENSHOTS`` or a session temp dir."""
    chosen = os.environ.get("CREATOR_CHAT_SCREENSHOTS")
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        return Path(chosen)
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    # package scope: sync Playwright keeps an event loop running in this thread, which
    # asyncio.run() elsewhere in the session must not meet
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).is_file(), (
        f"{CHROMIUM} not found: apt-get install chromium"
    )
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


def _open_page(
    browser: Browser, request: pytest.FixtureRequest, screenshots: Path, viewport: dict[str, int]
) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        shot = screenshots / f"FAILED-{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failed page: {shot}")
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest, screenshots: Path) -> Iterator[Page]:
    yield from _open_page(browser, request, screenshots, DESKTOP)


@pytest.fixture
def phone_page(
    browser: Browser, request: pytest.FixtureRequest, screenshots: Path
) -> Iterator[Page]:
    yield from _open_page(browser, request, screenshots, PHONE)


def dev_sign_in(page: Page, user: str, tier: str = "free") -> None:
    """Fill the dev sign-in form the page shows when no one is signed in."""
    expect(page.get_by_role("heading", name="Sign in to chat")).to_be_visible()
    page.get_by_label("User id").fill(user)
    page.get_by_label("Tier").select_option(tier)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {user} ({tier})")).to_be_visible()


def ask(page: Page, question: str) -> None:
    page.get_by_label(f"Your question for {DEMO_NAME}").fill(question)
    page.get_by_role("button", name="Send").click()
