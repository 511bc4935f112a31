"""The built book served on 127.0.0.1 and opened in headless Chromium, once per session.

Run by `make test-browser` (which builds the `ci` book first); `pytest tests` does not collect this
folder (tests/conftest.py). SPAE_BOOK_HTML points at another built site (default _build/html).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from page_checks import (
    broken_images,
    console_errors,
    failed_requests,
    missing_favicon,
    open_page,
    wide_elements,
    set_viewport,
)

ROOT = Path(__file__).resolve().parents[2]
HTML_DIR = Path(os.environ.get("SPAE_BOOK_HTML", ROOT / "_build" / "html"))
# Folders of the built site that hold assets and sources, not pages a reader opens.
NOT_PAGES = {"_static", "_sources", "_images", "_sphinx_design_static", "_panels_static"}
WIDE_VIEWPORT_PX = 1280

PAGE_TIMINGS = {}
# Elements wider than the column that the reader scrolls (allowed; counted for the summary).
SCROLLED_TABLES = {}


def built_pages():
    """Every HTML page of the built site, as paths relative to it (empty when nothing is built)."""
    if not HTML_DIR.is_dir():
        return []
    return sorted(
        path.relative_to(HTML_DIR).as_posix()
        for path in HTML_DIR.rglob("*.html")
        if not NOT_PAGES & set(path.relative_to(HTML_DIR).parts[:-1])
    )


def pytest_generate_tests(metafunc):
    if "page" in metafunc.fixturenames:
        # A missing build shows up as one failing test that says so, not as zero tests passing.
        metafunc.parametrize("page", built_pages() or [None])


@pytest.fixture
def page(request):
    if request.param is None:
        pytest.fail(f"no built book in {HTML_DIR}: run `make test-browser` (it builds the ci book first)")
    return request.param


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def site_url():
    """Serve the built book with `python -m http.server` on a free port of 127.0.0.1."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(HTML_DIR)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"python -m http.server did not start serving {HTML_DIR} on {url}")
            time.sleep(0.1)  # polling a server that is starting; no page is being timed here
    yield url
    server.terminate()
    server.wait(timeout=10)


def _chromedriver():
    path = shutil.which("chromedriver")
    if path is None or shutil.which("chromium") is None:
        pytest.fail("the browser tests need Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    return path


@pytest.fixture(scope="session")
def driver():
    """One headless Chromium for the session, logging console entries and network events."""
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(service=Service(_chromedriver()), options=options)
    browser.set_page_load_timeout(120)
    yield browser
    browser.quit()


@pytest.fixture(scope="session")
def loaded_pages(driver, site_url):
    """Each page loaded once at 1280 px and checked; the tests read the results for their page."""
    cache = {}

    def load(page):
        if page not in cache:
            set_viewport(driver, WIDE_VIEWPORT_PX)
            start = time.perf_counter()
            events, console = open_page(driver, site_url + page)
            PAGE_TIMINGS[page] = time.perf_counter() - start
            cache[page] = _check_loaded(driver, page, events, console)
        return cache[page]

    return load


def _check_loaded(driver, page, events, console):
    requests = failed_requests(events) | missing_favicon(driver)
    overwide, SCROLLED_TABLES[page] = wide_elements(driver)
    return {
        "console": console_errors(console),
        "requests": [f"{what} for {url}" for url, what in requests.items()],
        "images": broken_images(driver),
        "overwide": overwide,
    }


def pytest_terminal_summary(terminalreporter):
    if not PAGE_TIMINGS:
        return
    terminalreporter.section("page load times (1280 px, until the network is idle)")
    for page, seconds in sorted(PAGE_TIMINGS.items()):
        terminalreporter.write_line(f"{seconds:6.2f} s  {page}")
    terminalreporter.write_line(f"{sum(PAGE_TIMINGS.values()):6.2f} s  total for {len(PAGE_TIMINGS)} pages")
    scrolled = {page: count for page, count in SCROLLED_TABLES.items() if count}
    if scrolled:
        terminalreporter.section("wider than the column at 1280 px, in a horizontal scroll box (allowed)")
        for page, count in sorted(scrolled.items()):
            terminalreporter.write_line(f"{count:3d}  {page}")
