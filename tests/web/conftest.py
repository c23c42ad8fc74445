"""Fixtures of the web tests: a headless chromium page (Playwright), and no shared memory left behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import child_runs_leave_nothing
from webkit import CHROMIUM_ARGS, INJECTION, browser_missing, chromium, make_run


@pytest.fixture(autouse=True)
def no_shared_memory_left() -> Iterator[None]:
    """No shared memory left behind; a run a failed test left running is killed first."""
    with child_runs_leave_nothing():
        yield


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = browser_missing()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page at phone width, collecting console errors and page errors in ``page.errors``."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(scope="session")
def finished_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two real finished runs below one directory; the second with markup in its setup and a file name."""
    base = tmp_path_factory.mktemp("web-runs")
    first = make_run(base, "ticks.yaml")
    second = make_run(base, "inj<img src=x onerror=window.__xss=3>.yaml")
    (second / f"note {INJECTION.replace('/', '')}.txt").write_text("a file with markup in its name\n")
    return [first, second]
