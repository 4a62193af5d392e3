"""Browser fixtures: a real server subprocess on a trained tmp store, and Debian's headless Chromium."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import _copy_workdir, free_port, tiny_environ

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    """CHROMIUM_PATH, else the first chromium on PATH."""
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


def _no_browser(reason: str) -> None:
    """In CI a missing browser is a failure (the job must install it); locally, a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


class Server:
    """The running server: its base URL and a tiny JSON client for setup steps."""

    def __init__(self, base: str, env: dict[str, str] | None = None, token: str | None = None) -> None:
        self.base = base
        self.env = env or {}
        self.token = token  # sent as a bearer token when the server was started with one

    def cli(self, *args: str) -> str:
        """Run `python -m server ...` as another process on the same store (as an operator would)."""
        done = subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def call(self, path: str, method: str = "GET", body: dict | None = None, timeout: float = 120) -> dict:
        """One JSON request; raises on an HTTP error status."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def versions(self) -> list[dict]:
        """/api/versions/detail, newest first."""
        return self.call("/api/versions/detail")["versions"]


def _wait_ready(base: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready after {timeout}s:\n{log.read_text()[-3000:]}")


@contextmanager
def serve(template: Path, folder: Path, **overrides: str) -> Iterator[Server]:
    """`python -m server serve` on a copy of `template`, with `CONGESTION_*` overrides; stopped on exit."""
    workdir = _copy_workdir(template, folder / "work")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONGESTION_")}
    env.update(tiny_environ(workdir))
    env["CONGESTION_VERSIONING__FOLLOW_INTERVAL_S"] = "0.5"  # notice CLI changes within a test's patience
    env.update(overrides)
    log = workdir / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port)],
                                   cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process, log)
        yield Server(base, {k: v for k, v in env.items() if k != "CONGESTION_VERSIONING__FOLLOW_INTERVAL_S"},
                     token=overrides.get("CONGESTION_SERVER__TOKEN"))
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="package")
def live_server(trained_template: Path, tmp_path_factory) -> Iterator[Server]:
    """`python -m server serve` on a copy of the two-version template (tiny training settings)."""
    with serve(trained_template, tmp_path_factory.mktemp("browser")) as server:
        yield server


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """The browser binary, checked before the (slower) server fixture is built."""
    executable = chromium_path()
    if not executable or not os.access(executable, os.X_OK):
        _no_browser(f"no chromium found at {executable!r} (apt-get install chromium, or set CHROMIUM_PATH)")
    return executable


@pytest.fixture(scope="package")
def browser(chromium_executable):
    """One headless Chromium for the browser tests (Debian's package, never a downloaded build).

    Package scope, not session: Playwright's sync API keeps an event loop running in the main
    thread while it is started, and every asyncio test collected after this package needs it gone.
    """
    executable = chromium_executable
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("the playwright Python package is not installed")
    manager = sync_playwright().start()
    try:
        instance = manager.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    except Exception as exc:
        manager.stop()
        _no_browser(f"chromium at {executable} did not start: {exc}")
    yield instance
    instance.close()
    manager.stop()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """Where the tests save screenshots (an artifact folder under the pytest tmp dir)."""
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots: {folder}")
    return folder


@dataclass
class Watch:
    """Problems seen on a page: console errors, uncaught exceptions, failed requests, HTTP errors."""

    problems: list[str] = field(default_factory=list)
    expected_status: set[tuple[int, str]] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    aborted: list[tuple[object, int, str]] = field(default_factory=list)
    navigations: dict[object, int] = field(default_factory=dict)

    def allow(self, status: int, path_fragment: str) -> None:
        """Declare an HTTP error the test provokes on purpose (e.g. a 400 from a bad field)."""
        self.expected_status.add((status, path_fragment))

    def _expected(self, status: int, url: str) -> bool:
        return any(status == s and fragment in url for s, fragment in self.expected_status)

    def attach(self, page) -> None:
        def on_console(message) -> None:
            if message.type != "error":
                return
            url = (message.location or {}).get("url", "")
            if "Failed to load resource" in message.text and any(f in url for _, f in self.expected_status):
                return
            self.problems.append(f"console error: {message.text} ({url})")

        def on_response(response) -> None:
            if response.status >= 400 and not self._expected(response.status, response.url):
                self.problems.append(f"HTTP {response.status} {response.request.method} {response.url}")

        def on_failed(request) -> None:
            text = f"request failed: {request.method} {request.url} {request.failure}"
            if "ERR_ABORTED" in (request.failure or ""):  # judged later: a reload cancels in-flight requests
                self.aborted.append((page, self.navigations.get(page, 0), text))
            else:
                self.problems.append(text)

        def on_navigated(frame) -> None:
            if frame == page.main_frame:
                self.navigations[page] = self.navigations.get(page, 0) + 1

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("requestfailed", on_failed)
        page.on("framenavigated", on_navigated)
        page.on("response", on_response)
        page.on("request", lambda r: self.requests.append(f"{r.method} {r.url}"))

    def all_problems(self) -> list[str]:
        """Problems, plus aborted requests that no later navigation of their page explains."""
        unexplained = [text for page, seen, text in self.aborted if self.navigations.get(page, 0) <= seen]
        return self.problems + unexplained


@pytest.fixture
def watch() -> Watch:
    """Collects page problems; the `page` fixture fails the test if any were seen."""
    return Watch()


@pytest.fixture
def new_page(chromium_executable, live_server, browser, watch):
    """A factory of pages in fresh contexts (own localStorage), watched for errors."""
    # live_server comes first: its trained template uses asyncio.run(), which cannot run once
    # Playwright's sync API has started its own event loop in this thread.
    contexts = []

    def make(width: int = 1280, height: int = 900, color_scheme: str = "light", timezone_id: str | None = None):
        context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=color_scheme,
                                      accept_downloads=True, base_url=live_server.base, timezone_id=timezone_id)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        watch.attach(page)
        return page

    yield make
    for context in contexts:
        for page in context.pages:
            page.wait_for_load_state("networkidle")
    problems = watch.all_problems()
    for context in contexts:
        context.close()
    assert not problems, "browser problems:\n" + "\n".join(problems)


@pytest.fixture
def page(new_page):
    """A 1280 px wide light-theme page."""
    return new_page()
