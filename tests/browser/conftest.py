"""Browser tests: Playwright driving Debian's Chromium against Django's live server.

Screenshots go to ``BROWSER_ARTIFACTS`` (default ``var/test-artifacts/``) so that CI keeps them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium for one test module. Module-scoped, not session-scoped: while Playwright runs,
    its event loop lives in this thread, and Django refuses ORM calls from such a thread unless
    told it is deliberate (the tests never share a connection with the loop). The permission
    is given here only, and taken back with the loop, so no other test or subprocess gets it."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                yield instance
            finally:
                instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser) -> Iterator[object]:
    """Return a factory of pages, each in its own context (cookies, language, viewport)."""
    contexts = []

    def make(*, width: int = 1440, height: int = 900, locale: str = "zh-CN") -> object:
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    from django.conf import settings

    path = Path(os.environ.get("BROWSER_ARTIFACTS") or Path(settings.VAR_DIR) / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def assert_no_horizontal_scroll(page) -> None:
    """Fail unless the page fits its viewport's width."""
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"page scrolls sideways: scrollWidth {scroll_width} > innerWidth {inner_width}"


def staff_log_in(page, base: str, username: str, password: str | None = None) -> None:
    """Sign a reviewer in at the admin's login page (password "pw-<username>" unless given) and
    wait for the review queue."""
    page.goto(f"{base}/admin/login/?next=/admin/refunds/refundapplication/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password or f"pw-{username}")
    page.click("input[type=submit]")
    page.wait_for_selector("#claim-next, .rh-tabs")


def portal_log_in(page, base: str, username: str, password: str) -> None:
    """Sign a shop's user in at the portal's login page and wait for the dashboard."""
    page.goto(f"{base}/portal/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("form button.primary").click()
    page.wait_for_url(f"{base}/portal/")
