"""Fixtures of the browser tests: Debian's Chromium driven by Playwright (no browser
download: the package's own binary), a real `gator hub serve`, and real runs pushed to
it.  Without Chromium or Playwright the tests skip and say why; under CI (CI=true)
they fail instead, as the PostgreSQL tests do."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import units
from hubtools import TOKEN, Server, need_postgres, postgres_schema

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
SCREENSHOTS_ENV = "GATOR_SCREENSHOTS"
DEFAULT_SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


def need_browser() -> None:
    """Skip without Chromium or Playwright; fail under CI, which must run these tests."""
    why = None
    if not CHROMIUM.exists():
        why = f"needs Chromium at {CHROMIUM} (apt-get install chromium; tests/cluster/up.sh installs it)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            why = "needs Playwright for Python (pip install -e '.[test]')"
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the browser tests, but it {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that records any dialog (an alert() would mean a job's output ran)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.dialogs = []
    opened.on("dialog", lambda dialog: (opened.dialogs.append(dialog.message), dialog.dismiss()))
    opened.set_default_timeout(units(10) * 1000)
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots(request: pytest.FixtureRequest) -> Path:
    """Where the screenshots go: $GATOR_SCREENSHOTS, else tests/hub/browser/screenshots/."""
    directory = Path(os.environ.get(SCREENSHOTS_ENV) or DEFAULT_SCREENSHOTS)
    directory.mkdir(parents=True, exist_ok=True)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():  # said on the terminal, not captured
            print(f"\nbrowser tests: screenshots in {directory}", flush=True)
    return directory


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real hub on a new database (SQLite, and a PostgreSQL schema), with the ingest
    token of the tests."""
    need_browser()  # no hub to start when the browser tests cannot run
    root = tmp_path_factory.mktemp("hub")
    token_file = root / "hub.token"
    token_file.write_text(TOKEN + "\n")
    with contextlib.ExitStack() as stack:
        url = (f"sqlite:///{root / 'hub.sqlite'}" if request.param == "sqlite"
               else stack.enter_context(postgres_schema(need_postgres())))
        server = Server(url, token_file)
        try:
            yield server
        finally:
            server.stop()
