"""Sphinx extension for the PDF (`make pdf`): notebook tables become LaTeX tables.

A pandas DataFrame (or Styler) displays as text/html and text/plain. Sphinx's LaTeX writer drops
raw HTML, so myst-nb falls back to text/plain and every table prints as wrapped monospaced text. For
the LaTeX builder only, this turns each HTML output that holds a <table> into a docutils table
(header rows, merged cells and all) before myst-nb picks a mime type; the HTML book is untouched.

It also ships a stub of ``bbm.sty``: Jupyter Book's LaTeX class loads it, and the real package is
only in Debian's 600 MB texlive-fonts-extra.
"""

from html.parser import HTMLParser
from pathlib import Path

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

HERE = Path(__file__).resolve().parent
# myst-nb's SelectMimeType runs at priority 4: choose before it does.
BEFORE_MIME_SELECTION = 3
# Column widths in characters (see column_widths).
MIN_WIDTH, WRAP_AT = 3, 30


class TableParser(HTMLParser):
    """Tables and the text around them in one HTML output.

    ``blocks`` holds ("text", str) and ("table", rows) in document order; a row is a list of cells
    (text, is_header, colspan, rowspan) and a row in <thead> has ``in_head`` True (see ``head_rows``).
    """

    SKIPPED = {"style", "script"}
    # Tags that start a new paragraph of the text around tables (a heading, a list item, a quote).
    BLOCKS = {"br", "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "blockquote", "footer",
              "summary", "details", "article"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks, self.head_rows = [], []
        self._rows = self._cell = self._text = None
        self._in_head = False
        self._head_count = self._skipping = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.SKIPPED:
            self._skipping += 1
        elif tag == "table":
            self._flush_text()
            self._rows, self._head_count = [], 0
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
            self._head_count += self._in_head
        elif tag in ("td", "th") and self._rows is not None:
            span = (_span(attrs.get("colspan")), _span(attrs.get("rowspan")))
            self._cell = ["", tag == "th", *span]
        elif tag in self.BLOCKS and self._cell is None:
            self._flush_text()

    def handle_endtag(self, tag):
        if tag in self.SKIPPED:
            self._skipping -= 1
        elif tag in self.BLOCKS - {"br"} and self._cell is None and self._rows is None:
            self._flush_text()
        elif tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None:
            self._cell[0] = " ".join(self._cell[0].split())
            self._rows[-1].append(tuple(self._cell))
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.blocks.append(("table", self._rows))
            self.head_rows.append(self._head_count)
            self._rows = None

    def handle_data(self, data):
        if self._skipping:
            return
        if self._cell is not None:
            self._cell[0] += data
        elif self._rows is None:
            self._text = (self._text or "") + data

    def _flush_text(self):
        text = " ".join((self._text or "").split())
        if text:
            self.blocks.append(("text", text))
        self._text = None

    def close(self):
        super().close()
        self._flush_text()


def _span(value):
    try:
        return max(int(value), 1)
    except (TypeError, ValueError):
        return 1


def column_count(rows):
    """Columns of an HTML table: the widest row once cells spanning rows from above are counted."""
    covered = {}  # row index -> columns taken by rowspans from rows above
    width = 0
    for index, row in enumerate(rows):
        columns = covered.get(index, 0) + sum(colspan for _, _, colspan, _ in row)
        for _, _, colspan, rowspan in row:
            for below in range(index + 1, index + rowspan):
                covered[below] = covered.get(below, 0) + colspan
        width = max(width, columns)
    return width


def column_widths(rows, columns):
    """Relative column widths: a column's longest word always fits, and text longer than
    ``WRAP_AT`` characters wraps. Cells spanning several columns are left out of the estimate."""
    widths = [MIN_WIDTH] * columns
    for row in rows:
        for column, (text, _, colspan, _) in enumerate(row[:columns]):
            if colspan == 1 and text:
                longest_word = max(len(word) for word in text.split())
                widths[column] = max(widths[column], longest_word, min(len(text), WRAP_AT))
    return widths


def docutils_table(rows, head_rows):
    """A docutils table with the HTML table's cells, spans and header rows.

    It is a longtable (it breaks across pages) with given column widths (its cells wrap), set in a
    smaller font so that a wide frame keeps most of its words whole.
    """
    columns = column_count(rows)
    group = nodes.tgroup(cols=columns)
    group += [nodes.colspec(colwidth=width) for width in column_widths(rows, columns)]
    head, body = nodes.thead(), nodes.tbody()
    for index, row in enumerate(rows):
        row_node = nodes.row()
        for text, _, colspan, rowspan in row:
            entry = nodes.entry(morecols=colspan - 1, morerows=rowspan - 1)
            if text:
                entry += nodes.paragraph(text=text)
            row_node += entry
        (head if index < head_rows else body).append(row_node)
    if len(head):
        group += head
    group += body
    table = nodes.table("", group, classes=["longtable", "colwidths-given"])
    return [
        nodes.raw("", r"\begingroup\footnotesize", format="latex"),
        table,
        nodes.raw("", r"\endgroup", format="latex"),
    ]


def html_to_nodes(html, tables_only=True):
    """Docutils nodes for an HTML output holding tables, or None when it holds no table.

    With ``tables_only`` False, HTML without a table becomes its paragraphs too (an output whose
    only other form is a placeholder such as ``<IPython.core.display.HTML object>``).
    """
    parser = TableParser()
    parser.feed(html)
    parser.close()
    if not parser.blocks or (tables_only and not any(kind == "table" for kind, _ in parser.blocks)):
        return None
    head_rows = iter(parser.head_rows)
    converted = []
    for kind, content in parser.blocks:
        converted += docutils_table(content, next(head_rows)) if kind == "table" else [nodes.paragraph(text=content)]
    return converted


class HtmlTablesToLatex(SphinxPostTransform):
    """In LaTeX output, replace a notebook output's mime bundle by its HTML table, as a table."""

    default_priority = BEFORE_MIME_SELECTION
    formats = ("latex",)

    def run(self, **kwargs):
        for bundle in list(self.document.findall(nodes.container)):
            if bundle.get("nb_element") != "mime_bundle":
                continue
            html = [child for child in bundle.children if child.get("mime_type") == "text/html"]
            plain = [child.astext() for child in bundle.children if child.get("mime_type") == "text/plain"]
            # IPython's HTML objects (the claims page, the headline) have no text form of their own.
            placeholder = not plain or plain[0].startswith("<IPython.core.display.HTML")
            converted = html and html_to_nodes(html[0].astext(), tables_only=not placeholder)
            if converted:
                bundle.replace_self(converted)


def ship_bbm_stub(app, config):
    config.latex_additional_files = list(config.latex_additional_files) + [str(HERE / "bbm.sty")]


def setup(app):
    app.add_post_transform(HtmlTablesToLatex)
    app.connect("config-inited", ship_bbm_stub)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
