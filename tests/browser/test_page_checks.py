"""The browser checks themselves, on small pages made here whose answer is known by construction.

A check that never fires (or fires on the scroll boxes the issue asks for) would let the book's test
pass or fail for the wrong reason; these pin both sides.
"""

import pytest

from page_checks import broken_images, hidden_verdicts, open_page, set_viewport, wide_elements

COLUMN_PX = 600
# A table exactly 900 px wide: three 300 px cells, no padding or spacing between them.
WIDE_TABLE = (
    "<table style='border-collapse:collapse'><tr>"
    + "<td style='min-width:300px;padding:0'>x</td>" * 3
    + "</tr></table>"
)


def _open(driver, tmp_path, body, width=1280):
    page = tmp_path / "page.html"
    page.write_text(
        "<!doctype html><html><body style='margin:0'>"
        f"<article class='bd-article' style='width:{COLUMN_PX}px;padding:0'>{body}</article></body></html>"
    )
    set_viewport(driver, width)
    open_page(driver, page.as_uri())


@pytest.mark.parametrize("overflow", ["visible", "hidden"])
def test_a_table_wider_than_the_column_fails_unless_it_scrolls(driver, tmp_path, overflow):
    _open(driver, tmp_path, f"<div style='overflow-x:{overflow}'>{WIDE_TABLE}</div>")
    failures, scrolled = wide_elements(driver)
    assert len(failures) == 1 and "900 px wide in a 600 px column" in failures[0]
    assert scrolled == 0


@pytest.mark.parametrize("overflow", ["auto", "scroll"])
def test_a_table_in_a_horizontal_scroll_box_is_allowed(driver, tmp_path, overflow):
    _open(driver, tmp_path, f"<div style='overflow-x:{overflow}'>{WIDE_TABLE}</div>")
    assert wide_elements(driver) == ([], 1)


def test_a_table_that_fits_is_not_counted(driver, tmp_path):
    _open(driver, tmp_path, "<table><tr><td>narrow</td></tr></table>")
    assert wide_elements(driver) == ([], 0)


def test_an_image_that_does_not_load_is_reported(driver, tmp_path):
    _open(driver, tmp_path, "<img src='missing.png' alt='a missing figure'>")
    assert broken_images(driver) == ["image with naturalWidth 0: missing.png"]


def test_verdicts_beyond_a_narrow_viewport_fail(driver, tmp_path):
    body = "<div style='overflow-x:auto'><table><tr><td style='min-width:500px'>claim</td><td>supported</td></tr></table></div>"
    _open(driver, tmp_path, body, width=400)
    failures, visible = hidden_verdicts(driver)
    assert visible == 0 and len(failures) == 1 and "outside the" in failures[0]


def test_verdicts_in_view_pass_and_collapsed_details_are_ignored(driver, tmp_path):
    body = "<p>not supported</p><p>inconclusive</p><details><summary>units</summary>supported</details>"
    _open(driver, tmp_path, body, width=400)
    assert hidden_verdicts(driver) == ([], 2)


def test_a_verdict_that_is_not_displayed_fails(driver, tmp_path):
    _open(driver, tmp_path, "<p style='visibility:hidden'>supported</p><p>supported</p>", width=400)
    assert hidden_verdicts(driver) == (["verdict 'supported' is not displayed (in 'supported')"], 1)
