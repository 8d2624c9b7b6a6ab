"""Pages in real headless Chromium: Debian's build, driven by Playwright.

No browser can be downloaded here (``playwright install`` is impossible), so
Playwright's Python package drives the system Chromium through
``executable_path``. Every page a test opens is guarded: a request to any host
but the test's own servers is aborted and recorded, and the test fails at
teardown if there was one (design.md: a page makes zero requests off its own
origin). Uncaught page errors and failed same-origin responses (a missing
vendored file, a 500) fail it too.

Fixtures
--------
browser
    One Chromium for the whole session.
serve
    ``serve(wsgi_app) -> "http://127.0.0.1:<port>"``: a werkzeug server in a
    background thread, stopped after the test.
page
    A fresh browser context and page per test, guarded as above; its record
    is the ``page_log`` fixture.
live
    The demo app on its own test connection (everything it writes is rolled
    back), serving one request at a time; its URL.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    Route,
    sync_playwright,
)
from werkzeug.serving import BaseWSGIServer, make_server

from layers.demo.load import DEMO_PASSWORD
from webgis.app import create_app

CHROMIUM = os.environ.get("WANGGE_CHROMIUM", "/usr/bin/chromium")

# Required here: running as root (no sandbox), no GPU, and no network, so
# nothing may try to phone home (component updates, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# A missed wait should fail in seconds, not hang for Playwright's default 30 s.
TIMEOUT_MS = 10_000


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url`` (the default port spelled out)."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{parts.hostname}:{port}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run tools/install-debian-deps.sh (Debian `chromium`)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class _Server:
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def served_origins() -> set[str]:
    """Origins of the servers this test started: the only hosts pages may reach."""
    return set()


@pytest.fixture
def serve(served_origins: set[str]) -> Iterator[Callable[[Any], str]]:
    """Start WSGI apps on free loopback ports; return a function giving each one's URL."""
    servers: list[_Server] = []

    def start(app: Any) -> str:
        # threaded: the browser opens several connections at once.
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
        thread.start()
        servers.append(_Server(server, thread))
        served_origins.add(origin(servers[-1].url))
        return servers[-1].url

    yield start
    for s in servers:
        s.server.shutdown()
        s.server.server_close()  # else the listening socket leaks (ResourceWarning)
        s.thread.join(timeout=5)


@dataclass
class PageLog:
    """What a guarded page did that a test may want to look at."""

    off_origin: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return [
            *(f"off-origin request: {u}" for u in self.off_origin),
            *(f"page error: {e}" for e in self.page_errors),
            *(f"same-origin failure: {r}" for r in self.bad_responses),
        ]


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(browser: Browser, served_origins: set[str], page_log: PageLog) -> Iterator[Page]:
    """A page that may only talk to this test's servers; fails the test otherwise."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)

    def guard(route: Route, request: Request) -> None:
        if origin(request.url) in served_origins:
            route.continue_()
        else:
            # Abort at once: nothing off-origin is reachable here anyway, and a
            # blocked CDN fetch would otherwise stall the page for its timeout.
            page_log.off_origin.append(request.url)
            route.abort("blockedbyclient")

    def on_response(response: Response) -> None:
        if response.status >= 400 and origin(response.url) in served_origins:
            page_log.bad_responses.append(f"{response.status} {response.url}")

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            page_log.console_errors.append(f"{msg.text} ({msg.location.get('url', '')})")

    context.route("**/*", guard)
    pg = context.new_page()
    pg.on("response", on_response)
    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: page_log.page_errors.append(str(exc)))
    yield pg
    context.close()
    problems = page_log.problems()
    if problems:
        pytest.fail("the page misbehaved:\n  " + "\n  ".join(problems), pytrace=False)


class OneAtATime:
    """A WSGI wrapper serving requests one after the other (they share one connection).

    :meth:`close` waits for the request in flight and refuses later ones, so the
    connection is idle when the test's transaction is rolled back.
    """

    def __init__(self, app) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.closed = False

    def __call__(self, environ, start_response):
        with self.lock:
            if self.closed:
                start_response("503 Service Unavailable", [("Content-Length", "0")])
                return [b""]
            result = self.app(environ, start_response)
            try:
                return list(result)
            finally:
                if hasattr(result, "close"):
                    result.close()

    def close(self) -> None:
        with self.lock:
            self.closed = True


@pytest.fixture
def live(page, serve, demo_url, demo_app_connection, settings_for) -> Iterator[str]:
    app = OneAtATime(create_app(settings_for(demo_url), bind=demo_app_connection))
    yield serve(app)
    page.goto("about:blank")  # no more tile requests from this page
    app.close()


#: Window for the desktop pages: a smaller one asks for fewer tiles (the server answers one
#: at a time).
DESKTOP = {"width": 900, "height": 600}


def _sign_in(page: Page, base: str, username: str, path: str, viewport=DESKTOP) -> None:
    page.set_viewport_size(viewport)
    page.goto(f"{base}/login?next={path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base}{path}")


@pytest.fixture
def login() -> Callable[..., None]:
    """Sign a demo user in through the form: ``login(page, base, username, path[, viewport])``."""
    return _sign_in


@pytest.fixture
def open_editor() -> Callable[..., None]:
    """Sign in and wait for the boundary editor: ``open_editor(page, base[, username])``."""

    def open_(page: Page, base: str, username: str = "officer") -> None:
        _sign_in(page, base, username, "/map/edit")
        page.wait_for_function("() => window.wangge && wangge.editor && wangge.editor.loaded")

    return open_
