"""The PDF's tables: book/_latex/spae_latex.py turns a notebook's HTML table into a docutils table."""

import importlib.util
from pathlib import Path

from docutils import nodes

_SPEC = importlib.util.spec_from_file_location(
    "spae_latex", Path(__file__).resolve().parents[1] / "book" / "_latex" / "spae_latex.py"
)
spae_latex = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(spae_latex)

# A pandas-style frame: a style block, a two-row header with a merged cell, an index spanning two
# rows, and text after the table (a truncated frame's "rows x columns" line).
FRAME_HTML = """<div><style scoped>.dataframe td { color: red; }</style>
<table class="dataframe"><thead>
<tr><th></th><th colspan="2">AP</th></tr>
<tr><th>dataset</th><th>mean</th><th>sd</th></tr>
</thead><tbody>
<tr><th rowspan="2">imdb</th><td>0.5 &amp; up</td><td>0.1</td></tr>
<tr><td>0.7</td><td>0.2</td></tr>
</tbody></table>
<p>2 rows × 3 columns</p></div>"""


def _rows(section):
    return [[entry.astext() for entry in row.findall(nodes.entry)] for row in section.findall(nodes.row)]


def test_an_html_frame_becomes_a_table_with_its_header_spans_and_text():
    begin, table, end, text = spae_latex.html_to_nodes(FRAME_HTML)
    assert (begin["format"], end["format"]) == ("latex", "latex")
    group = table.next_node(nodes.tgroup)
    assert group["cols"] == 3
    assert _rows(group.next_node(nodes.thead)) == [["", "AP"], ["dataset", "mean", "sd"]]
    assert _rows(group.next_node(nodes.tbody)) == [["imdb", "0.5 & up", "0.1"], ["0.7", "0.2"]]
    entries = list(group.findall(nodes.entry))
    assert entries[1]["morecols"] == 1  # "AP" over mean and sd
    assert entries[5]["morerows"] == 1  # "imdb" over both body rows
    assert text.astext() == "2 rows × 3 columns"


def test_a_column_is_as_wide_as_its_longest_word_and_long_text_wraps():
    rows = [[("contingency_highest_on_imdb", False, 1, 1), ("x " * 40, False, 1, 1), ("", False, 1, 1)]]
    assert spae_latex.column_widths(rows, 3) == [len("contingency_highest_on_imdb"), spae_latex.WRAP_AT, spae_latex.MIN_WIDTH]


def test_columns_covered_by_a_rowspan_from_above_are_counted():
    rows = [[("a", True, 1, 3), ("b", False, 2, 1)], [("c", False, 1, 1), ("d", False, 1, 1)], [("e", False, 2, 1)]]
    assert spae_latex.column_count(rows) == 3


def test_html_without_a_table_is_left_to_the_usual_mime_choice():
    assert spae_latex.html_to_nodes("<div><b>no table here</b></div>") is None


def test_html_without_a_table_becomes_paragraphs_when_asked():
    # The claims page's and the headline's HTML: a badge, a heading, a quote, list items.
    html = ('<div><p><strong>Of 10 claims: 2 supported</strong></p><ul><li><span class="badge">supported</span> '
            '<a href="x">Claim one</a></li><li><span>not supported</span> Claim two</li></ul>'
            '<article><span>inconclusive</span><h3>Title</h3><blockquote><p>words</p><footer>the paper</footer>'
            '</blockquote></article></div>')
    assert spae_latex.html_to_nodes(html) is None
    texts = [node.astext() for node in spae_latex.html_to_nodes(html, tables_only=False)]
    assert texts == ["Of 10 claims: 2 supported", "supported Claim one", "not supported Claim two", "inconclusive",
                     "Title", "words", "the paper"]
