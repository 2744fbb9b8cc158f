"""A live server on a free port and a real Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


class _ClosedOnce:
    """A response body that closes at most once, however many times it is asked to."""

    def __init__(self, body):
        self._body = body
        self._closed = False

    def __iter__(self):
        return iter(self._body)

    def close(self) -> None:
        if not self._closed and hasattr(self._body, "close"):
            self._closed = True
            self._body.close()


def _remembering_bodies(app: Flask):
    def wsgi(environ, start_response):
        body = _ClosedOnce(app(environ, start_response))
        environ["tests.response_body"] = body
        return body

    return wsgi


class _ClosingRequestHandler(WSGIRequestHandler):
    """Werkzeug's development server leaves a response body open when the browser drops the connection
    while the server drains the request (a navigation that cancels a script's download): the open static
    file then surfaces as a ResourceWarning in whatever test runs next. This handler closes it."""

    def run_wsgi(self) -> None:
        try:
            super().run_wsgi()
        finally:
            body = getattr(self, "environ", {}).get("tests.response_body")
            if body is not None:
                body.close()


@contextlib.contextmanager
def _serving(app: Flask) -> Iterator[str]:
    server = make_server(
        "127.0.0.1", 0, _remembering_bodies(app), threaded=True, request_handler=_ClosingRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def live_server(base_app: Flask) -> Iterator[str]:
    with _serving(base_app) as url:
        stop = threading.Event()
        jobs = threading.Thread(target=_run_import_jobs, args=(base_app, stop), daemon=True)
        jobs.start()
        yield url
        stop.set()
        jobs.join(timeout=5)


@pytest.fixture(scope="session")
def demo_live_server(demo_app) -> Iterator[str]:
    """The demo app served live: a browser test that asks for it and for `demo` (or `own_demo`) walks the
    demo data set loaded once per session, signed in with the logins `demo.logins` holds, instead of
    loading the demo again into the test database."""
    with _serving(demo_app[0]) as url:
        yield url


# The live server outlives the browser tests (it is session-wide); its import runner works only while
# a browser test runs, or it would take the queued imports of the tests that follow.
_BROWSER_TEST_RUNNING = threading.Event()


@pytest.fixture(autouse=True)
def _import_runner_on_during_browser_tests() -> Iterator[None]:
    _BROWSER_TEST_RUNNING.set()
    yield
    _BROWSER_TEST_RUNNING.clear()


def _run_import_jobs(app: Flask, stop: threading.Event) -> None:
    """What `flask worker` does for the import pages: run the dry runs and imports they queue."""
    from app.crm.importing.jobs import run_import_jobs
    from app.db_types import utcnow
    from app.extensions import db

    while not stop.wait(0.2):
        if not _BROWSER_TEST_RUNNING.is_set():
            continue
        with app.app_context():
            try:
                run_import_jobs(config=app.config, clock=utcnow)
            except Exception:  # a table emptied between tests under it: try again next time
                db.session.rollback()
            finally:
                db.session.remove()


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not shutil.os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI installs it")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def desktop_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()
