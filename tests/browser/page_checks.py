"""What a reader's browser sees on one page of the built book: the checks `make test-browser` runs.

Each function takes a selenium WebDriver already on the page and returns a list of failures, each a
short sentence naming what failed (the test adds the page). The DOM measurements run as JavaScript
in the page, so they see the layout the reader sees.
"""

import json
import urllib.error
import urllib.parse
import urllib.request

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support.ui import WebDriverWait

# Generous: the machines that run this are shared and can be slow; the waits return as soon as
# their condition holds, so a fast machine does not pay for them.
PAGE_TIMEOUT_S = 60
# The book's text column in sphinx-book-theme; the fallbacks keep the check meaningful if the theme
# changes its markup.
ARTICLE_JS = "document.querySelector('article.bd-article') || document.querySelector('[role=main]') || document.body"


def set_viewport(driver, width, height=900):
    """Emulate a viewport of exactly `width` CSS pixels (a window size would include the browser's frame)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def open_page(driver, url):
    """Load `url` and wait until the document, its images and its network requests have finished.

    Returns the CDP network events and console entries logged while loading (the logs are drained
    first, so nothing from an earlier page is counted here).
    """
    forget_site_storage(driver, url)
    driver.get_log("performance")
    driver.get_log("browser")
    driver.get(url)
    wait = WebDriverWait(driver, PAGE_TIMEOUT_S, poll_frequency=0.2)
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    events = []
    try:
        wait.until(_network_idle(events))
    except TimeoutException:
        pass  # the requests still open are reported by failed_requests
    try:
        wait.until(lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)"))
    except TimeoutException:
        pass  # reported by broken_images
    return events, driver.get_log("browser")


def forget_site_storage(driver, url):
    """Clear the site's local and session storage, so every page is opened as by a first-time
    reader (the theme, for one, behaves differently on a first visit) and no result depends on
    which page the session opened before."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("http", "https"):
        driver.execute_cdp_cmd(
            "Storage.clearDataForOrigin",
            {"origin": f"{parts.scheme}://{parts.netloc}", "storageTypes": "local_storage,session_storage"},
        )


def _network_idle(events):
    """A wait condition: every request seen so far has finished, at two polls in a row (a script
    that has just loaded may start more). Collects the CDP network events into `events`."""
    idle_polls = 0

    def condition(driver):
        nonlocal idle_polls
        events.extend(json.loads(entry["message"])["message"] for entry in driver.get_log("performance"))
        idle_polls = 0 if pending_requests(events) else idle_polls + 1
        return idle_polls >= 2

    return condition


def pending_requests(events):
    """URLs of requests sent and not (yet) finished or failed, from CDP Network events."""
    sent, done = {}, set()
    for event in events:
        params = event.get("params", {})
        if event["method"] == "Network.requestWillBeSent":
            sent[params["requestId"]] = params["request"]["url"]
        elif event["method"] in ("Network.loadingFinished", "Network.loadingFailed"):
            done.add(params["requestId"])
    return [url for request_id, url in sent.items() if request_id not in done and not url.startswith("data:")]


def failed_requests(events):
    """Requests answered with an HTTP error, failed in the network, or never finished: {url: what failed}."""
    urls, failures = {}, {}
    for event in events:
        params = event.get("params", {})
        if event["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif event["method"] == "Network.responseReceived" and params["response"]["status"] >= 400:
            failures.setdefault(params["response"]["url"], f"HTTP {params['response']['status']}")
        elif event["method"] == "Network.loadingFailed" and not params.get("canceled"):
            url = urls.get(params["requestId"], params["requestId"])
            failures.setdefault(url, f"request failed ({params.get('errorText', '?')})")
    for url in pending_requests(events):
        failures.setdefault(url, "request never finished")
    return failures


FAVICON_JS = """
const link = document.querySelector('link[rel~="icon"]');
return link ? link.href : new URL('/favicon.ico', location.href).href;
"""


def missing_favicon(driver):
    """{icon url: what failed} when the page's icon (its <link rel=icon>, else /favicon.ico) cannot be fetched.

    Checked on every page: the browser asks for an icon once per site, so its network log shows a
    missing one only on the first page opened.
    """
    url = driver.execute_script(FAVICON_JS)
    try:
        urllib.request.urlopen(url, timeout=PAGE_TIMEOUT_S).close()
    except urllib.error.HTTPError as error:
        return {url: f"HTTP {error.code} (the page's icon)"}
    except OSError as error:
        return {url: f"request failed ({error}) (the page's icon)"}
    return {}


def console_errors(entries):
    """The browser console's SEVERE entries (uncaught errors, failed loads, console.error)."""
    return [f"console error: {entry['message']}" for entry in entries if entry["level"] == "SEVERE"]


def broken_images(driver):
    """<img> elements that did not load (naturalWidth 0), named by their src."""
    sources = driver.execute_script(
        "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
        ".map(i => i.getAttribute('src'))"
    )
    return [f"image with naturalWidth 0: {src}" for src in sources]


OVERWIDE_JS = """
const article = %s;
const style = getComputedStyle(article);
const column = article.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
// A wide element is fine inside a box that fits the column and scrolls horizontally: the reader
// sees a scrollbar. Anything else wider than the column is clipped or runs off the page.
const inScrollBox = el => {
  for (let a = el.parentElement; a && a !== article.parentElement; a = a.parentElement) {
    if (scrolls(a) && a.getBoundingClientRect().width <= column + 1) return true;
  }
  return false;
};
const found = [];
const elements = article.querySelectorAll('table, figure, img');
elements.forEach(el => {
  const width = el.getBoundingClientRect().width;
  if (width === 0) return;
  const content = Math.max(width, el.scrollWidth);
  const selfScrolls = scrolls(el) && width <= column + 1;
  if (content <= column + 1) return;
  const label = (el.tagName === 'IMG' ? el.getAttribute('src') : el.innerText || '').trim().slice(0, 50);
  found.push([el.tagName.toLowerCase(), Math.round(content), Math.round(column), label, selfScrolls || inScrollBox(el)]);
});
return found;
""" % ARTICLE_JS


def wide_elements(driver):
    """Tables, figures and images wider than the article column.

    Returns (failures: those not in a horizontal scroll box, scrolled: how many are in one).
    """
    found = driver.execute_script(OVERWIDE_JS)
    failures = [
        f"{tag} {content} px wide in a {column} px column, not in a horizontal scroll box ({label!r})"
        for tag, content, column, label, scrolls in found
        if not scrolls
    ]
    return failures, sum(scrolls for *_, scrolls in found)


# Sphinx's searchtools.js fills the summary paragraph only when the search has finished.
SEARCH_DONE_JS = """
const summary = document.querySelector('#search-results p.search-summary');
if (!summary || !summary.textContent.trim()) return null;
return document.querySelectorAll('#search-results ul.search > li').length;
"""


def search_hits(driver, url):
    """Number of results the built search page lists for `url` (search.html?q=...), once it has finished."""
    driver.get(url)
    return WebDriverWait(driver, PAGE_TIMEOUT_S, poll_frequency=0.2).until(
        lambda d: d.execute_script(SEARCH_DONE_JS)
        if d.execute_script("return document.readyState") == "complete"
        else None,
        message=f"the search page {url} did not finish searching within {PAGE_TIMEOUT_S} s",
    )


VERDICTS_JS = """
const article = %s;
const viewport = document.documentElement.clientWidth;
const pattern = /\\b(not supported|supported|inconclusive)\\b/gi;
// Text a reader has to expand on purpose (a closed <details> but its <summary>, toggles, code
// input) is not where the verdicts have to be seen. A hide-input cell's output is shown: only its
// input is folded (.cell_input), so the cell's tag_hide-input class does not hide what it prints.
const collapsed = el => (el.closest('details:not([open])') && !el.closest('summary'))
  || el.closest('.toggle-hidden, .cell_input, script, style');
const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
const found = [];
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  if (collapsed(node.parentElement)) continue;
  for (const match of node.textContent.matchAll(pattern)) {
    const range = document.createRange();
    range.setStart(node, match.index);
    range.setEnd(node, match.index + match[0].length);
    const shown = getComputedStyle(node.parentElement).visibility === 'visible';
    const rects = shown ? Array.from(range.getClientRects()).filter(r => r.width > 0) : [];
    const left = rects.length ? Math.min(...rects.map(r => r.left)) : null;
    const right = rects.length ? Math.max(...rects.map(r => r.right)) : null;
    found.push([match[0], left, right, (node.parentElement.closest('tr, li, p, div') || node.parentElement).textContent.trim().slice(0, 60)]);
  }
}
return [viewport, found];
""" % ARTICLE_JS


def hidden_verdicts(driver):
    """Verdict words on the page that are not displayed or not within the viewport's width.

    Returns (failures, number of verdict words displayed within the viewport).
    """
    viewport, found = driver.execute_script(VERDICTS_JS)
    failures, visible = [], 0
    for word, left, right, context in found:
        if left is None:
            failures.append(f"verdict {word!r} is not displayed (in {context!r})")
        elif left < 0 or right > viewport + 0.5:
            failures.append(
                f"verdict {word!r} spans x = {left:.0f}..{right:.0f} px, outside the {viewport} px viewport (in {context!r})"
            )
        else:
            visible += 1
    return failures, visible
