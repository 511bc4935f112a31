"""Every page of the built book, opened in headless Chromium as a reader would (`make test-browser`).

Each failure message names the page and what failed; one page's load is shared by its four checks.
"""

import urllib.parse

import pytest

from page_checks import hidden_verdicts, open_page, search_hits, set_viewport

# Terms the book discusses on its own pages (metrics and a loss), so a working search finds them.
SEARCH_TERMS = ["trustworthiness", "Calinski", "focal"]
CLAIMS_PAGE = "book/sections/10_claims.html"
# The `spae compare` report that `make test-browser` builds into the site (tests/browser/compare_report.py).
COMPARE_PAGE = "compare/report.html"
NARROW_VIEWPORT_PX = 400


def _fail_if_any(page, what, failures):
    if failures:
        pytest.fail(f"{page}: {len(failures)} {what}:\n  " + "\n  ".join(failures), pytrace=False)


def test_no_console_errors(page, loaded_pages):
    _fail_if_any(page, "console error(s)", loaded_pages(page)["console"])


def test_no_failed_requests(page, loaded_pages):
    _fail_if_any(page, "failed request(s)", loaded_pages(page)["requests"])


def test_every_image_loads(page, loaded_pages):
    _fail_if_any(page, "broken image(s)", loaded_pages(page)["images"])


def test_tables_and_figures_fit_the_column(page, loaded_pages):
    _fail_if_any(page, "element(s) wider than the text column at 1280 px", loaded_pages(page)["overwide"])


@pytest.mark.parametrize("term", SEARCH_TERMS)
def test_search_finds_known_terms(term, driver, site_url):
    url = f"{site_url}search.html?q={urllib.parse.quote(term)}"
    hits = search_hits(driver, url)
    assert hits > 0, f"search.html: no results for {term!r} ({url})"


@pytest.mark.parametrize("claims_page", [CLAIMS_PAGE, COMPARE_PAGE])
def test_claims_verdicts_visible_at_400_px(driver, site_url, claims_page):
    set_viewport(driver, NARROW_VIEWPORT_PX)
    open_page(driver, site_url + claims_page)
    failures, visible = hidden_verdicts(driver)
    if not visible:
        failures.append("no verdict ('supported', 'not supported', 'inconclusive') is displayed within the viewport")
    _fail_if_any(claims_page, f"verdict problem(s) at a {NARROW_VIEWPORT_PX} px viewport", failures)
