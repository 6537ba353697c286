"""Headless Chromium (Debian's) driven by Playwright, against pytest-django's live server.

Playwright's own browser downloads are never used: the browser is /usr/bin/chromium. Screenshots
go to test-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.env import require_binary
from tests.support.website import website  # noqa: F401 - a client's site on loopback

# The page tests' fixtures: a scene of two clients' data, real certificates, fast passwords.
from tests.web.conftest import fast_password_hashing, scene, test_ca  # noqa: F401

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium():
    """One browser per module. Playwright's sync API keeps an event loop running in this thread
    while it lives, so it must end with the browser tests: later tests use asyncio.run()."""
    path = require_binary("chromium", "/usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    # Django refuses ORM calls from a thread with a running loop unless told this is fine (it
    # is: the test owns the thread); only for as long as the loop runs.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(chromium, transactional_db):
    """A page closed before the test database is emptied (it depends on ``transactional_db``, so
    it is torn down first): a live page still polling during the flush would find its tables
    locked (SQLite's shared in-memory test database)."""
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot as test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
