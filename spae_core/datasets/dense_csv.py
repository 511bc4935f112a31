"""Parsing a user's dense CSV into a table of numbers: delimiter, header, boolean words, missing cells.

One row per sample, one column per feature, and optionally one column of row ids and one of
labels. Each cell is read as follows (:func:`cell_value`, spaces around it ignored, words compared
without regard to case): a missing-value token (:data:`NA_TOKENS`, or any spelling of NaN) is
missing; a boolean word is 1 or 0; anything else must be a number.

Two parsers give the same table and the same errors. The fast one checks every line's number of
fields on the raw bytes with numpy, then reads the cells with pandas' C parser, in chunks of rows;
it serves files whose data lines hold no quote character and no bare carriage return. The
reference one (the csv module, line by line) serves the rest, and ``engine="reference"`` forces
it. Errors are raised in the same order on both: a line with the wrong number of fields, then
the first non-numeric cell (in reading order), then the missing cells (``na="error"``). Every
error names the file, the line (the file's lines, 1-based, the header included) and the column.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["CsvTable", "DEFAULT_FALSE_VALUES", "DEFAULT_TRUE_VALUES", "DELIMITER_CANDIDATES", "NA_POLICIES",
           "NA_TOKENS", "cell_value", "read_csv_table", "sniff_delimiter"]

#: Cells read as missing (after stripping spaces, in any case); any spelling of NaN is missing too.
NA_TOKENS = ("", "na", "n/a", "nan", "null", "?")
#: Boolean words read as 1 and as 0 (in any case), unless the caller passes others.
DEFAULT_TRUE_VALUES = ("true", "yes", "t")
DEFAULT_FALSE_VALUES = ("false", "no", "f")
#: Delimiters that ``delimiter=None`` chooses among.
DELIMITER_CANDIDATES = (",", ";", "\t", "|")
#: What ``na`` may be: refuse missing cells, read them as 0, or drop their rows.
NA_POLICIES = ("error", "zero", "drop-rows")

_SNIFF_LINES = 20
# Cells per pandas chunk: bounds the dense float64 block to ~128 MB. Each chunk builds one pandas
# column per feature, so fewer, larger chunks of a wide file cost less.
_CHUNK_CELLS = 16_000_000
_FIRST_FEW = 5
_NA, _BAD = "missing", "not a number"


def cell_value(text: str, true_values=DEFAULT_TRUE_VALUES, false_values=DEFAULT_FALSE_VALUES):
    """One cell's value: a float, or the markers for a missing cell and for a non-numeric one.

    The reference semantics of a cell, shared by both parsers, the header detection and the
    label files.

    Parameters
    ----------
    text : str
    true_values, false_values : iterable of str
        Boolean words read as 1 and 0, compared in lower case.

    Returns
    -------
    float or str
        The number; ``"missing"`` for a missing-value token or a spelling of NaN; ``"not a
        number"`` for anything else.
    """
    key = text.strip().lower()
    if key in NA_TOKENS:
        return _NA
    if key in _lower(true_values):
        return 1.0
    if key in _lower(false_values):
        return 0.0
    try:
        value = float(key)
    except ValueError:
        return _BAD
    return _NA if math.isnan(value) else value


def _lower(words) -> frozenset:
    return frozenset(str(w).strip().lower() for w in words)


@dataclass(frozen=True, eq=False)
class CsvTable:
    """A dense CSV read into numbers.

    Attributes
    ----------
    path : Path
    values : scipy.sparse.csr_array of float64
        The feature cells, one row per kept data line; missing cells already handled by ``na``.
    feature_names : list of str
    row_ids : ndarray
        The id column's text, or each row's line number without one.
    lines : ndarray of int
        Each row's line in the file (1-based, the header included).
    labels : ndarray of str or None
        The label column's cells as text (missing ones as ""), or None without ``label_column``.
    label_name : str or None
    feature_positions : list of int
        Each feature's position among the file's columns.
    facts : dict
        What the reading assumed and did, for the dataset's provenance.
    """

    path: Path
    values: sp.csr_array
    feature_names: list
    row_ids: np.ndarray
    lines: np.ndarray
    labels: np.ndarray | None
    label_name: str | None
    feature_positions: list
    facts: dict
    delimiter: str = ","
    _text: str = field(default="", repr=False)

    def cell_text(self, row: int, feature: int) -> str:
        """The file's text of one feature cell (``row`` among the kept rows), for error messages."""
        line = int(self.lines[row])
        reader = csv.reader(io.StringIO(self._text), delimiter=self.delimiter)
        for fields in reader:
            if reader.line_num == line:
                return fields[self.feature_positions[feature]]
        raise AssertionError(f"line {line} not found in {self.path}")  # pragma: no cover - lines come from the file

    def where(self, row: int, feature: int) -> str:
        """``line <n>, column <name>`` of a feature cell."""
        return f"line {int(self.lines[row])}, column {self.feature_names[feature]!r}"


def read_csv_table(
    path,
    *,
    header: bool | None = None,
    delimiter: str | None = None,
    true_values=DEFAULT_TRUE_VALUES,
    false_values=DEFAULT_FALSE_VALUES,
    na: str = "error",
    id_column: str | None = None,
    label_column: str | None = None,
    engine: str = "auto",
) -> CsvTable:
    """Read a dense CSV into a :class:`CsvTable`; the options are those of
    :func:`spae_core.datasets.load_binary_csv`.

    Raises
    ------
    ValueError
        On an empty or non-UTF-8 file, an undecidable delimiter, an unknown id or label column, a
        line with the wrong number of fields, a non-numeric cell, or (``na="error"``) missing cells.
    """
    path = Path(path)
    if na not in NA_POLICIES:
        raise ValueError(f"na must be one of {list(NA_POLICIES)}, got {na!r}.")
    if engine not in ("auto", "reference"):
        raise ValueError(f"engine must be 'auto' (fast where possible) or 'reference' (csv module), got {engine!r}.")
    words = (_lower(true_values), _lower(false_values))
    clash = words[0] & words[1]
    if clash:
        raise ValueError(f"true_values and false_values share {sorted(clash)}; a word can mean only one of them.")
    raw = path.read_bytes()
    had_bom = raw.startswith(codecs.BOM_UTF8)
    raw = raw[len(codecs.BOM_UTF8):] if had_bom else raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not UTF-8 text (byte {error.start} cannot be decoded); save it as UTF-8."
        ) from None
    if not text.strip():
        raise ValueError(f"{path} is empty; expected one line per sample.")
    delimiter, delimiter_note = _delimiter(text, delimiter, path)

    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    first = next(reader)
    header_lines = reader.line_num
    if not first:
        raise ValueError(f"{path}, line 1: empty line; expected a header or the first sample.")
    following = [fields for _, fields in zip(range(_SNIFF_LINES), reader)]
    header, header_note = _header(first, following, header, words)
    names = list(first) if header else [str(j) for j in range(len(first))]
    id_position = _position(names, id_column, "id_column", header_note, path)
    label_position = _position(names, label_column, "label_column", header_note, path)
    if id_position is not None and id_position == label_position:
        raise ValueError(f"{path}: id_column and label_column are the same column {names[id_position]!r}.")
    layout = _Layout(path, len(names), [j for j in range(len(names)) if j not in (id_position, label_position)],
                     names, id_position, label_position, words, na)

    start_line = header_lines if header else 0
    data = _data_bytes(raw, start_line)
    fast = engine == "auto" and _fast_path_applies(raw, data, delimiter)
    if fast:
        try:
            parsed = _fast_parse(layout, data, delimiter, start_line)
        except _FastPathUnsuitable:
            fast = False
    if not fast:
        parsed = _reference_parse(layout, text, delimiter, start_line)
    facts = {"header": header_note, "delimiter": delimiter_note,
             "parser": "pandas C parser" if fast else "csv module (reference parser)"}
    if had_bom:
        facts["byte_order_mark"] = "a UTF-8 byte-order mark at the start of the file was skipped"
    return _table(layout, parsed, facts, delimiter, text)


@dataclass
class _Layout:
    """Where things are in the file, and how cells are read."""

    path: Path
    n_columns: int
    feature_positions: list
    names: list
    id_position: int | None
    label_position: int | None
    words: tuple
    na: str


@dataclass
class _Parsed:
    """What a parser collects: nonzero cells, row facts, and the missing cells met."""

    rows: list = field(default_factory=list)
    columns: list = field(default_factory=list)
    values: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    ids: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    n_rows: int = 0
    na_count: int = 0
    na_first: list = field(default_factory=list)
    dropped_lines: list = field(default_factory=list)

    def add_block(self, layout: _Layout, values: np.ndarray, missing: np.ndarray, lines: np.ndarray, ids, labels):
        """Add a block of rows (dense values with missing cells marked), applying the ``na`` policy."""
        label_missing = (np.isin(np.char.lower(np.char.strip(labels.astype(str))), NA_TOKENS)
                         if labels is not None else np.zeros(len(lines), dtype=bool))
        if missing.any():
            rows, columns = np.nonzero(missing)  # in reading order
            self.na_count += len(rows)
            for r, c in zip(rows[:_FIRST_FEW - len(self.na_first)], columns):
                self.na_first.append(f"line {int(lines[r])}, column {layout.names[layout.feature_positions[c]]!r}")
            values = np.where(missing, 0.0, values)
        keep = np.ones(len(lines), dtype=bool)
        if layout.na == "drop-rows":
            keep = ~(missing.any(axis=1) | label_missing)
            self.dropped_lines.extend(int(v) for v in lines[~keep])
            values, lines = values[keep], lines[keep]
            ids = ids[keep] if ids is not None else None
            labels = labels[keep] if labels is not None else None
        rows, columns = np.nonzero(values)
        self.rows.append(rows + self.n_rows)
        self.columns.append(columns)
        self.values.append(values[rows, columns])
        self.lines.append(lines)
        if ids is not None:
            self.ids.append(ids)
        if labels is not None:
            self.labels.append(labels)
        self.n_rows += len(lines)


def _delimiter(text: str, delimiter, path: Path) -> tuple[str, str]:
    if delimiter is not None:
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise ValueError(f"delimiter must be one character such as ',' or '\\t', got {delimiter!r}.")
        return delimiter, f"{delimiter!r} (given)"
    chosen = sniff_delimiter(text, path)
    return chosen, f"{chosen!r} (detected from the first lines; pass delimiter=... to set it)"


def sniff_delimiter(text: str, path="the file") -> str:
    """The delimiter of a CSV text, chosen among :data:`DELIMITER_CANDIDATES` from its first lines.

    A candidate must split the first line into more than one field; among those, the one that
    splits the most of the first lines into that same number of fields wins. A file whose first
    line none of them splits is one column wide (``","`` is returned).

    Raises
    ------
    ValueError
        If two candidates tie, naming them.
    """
    sample = "\n".join(text.splitlines()[:_SNIFF_LINES])
    scores = {}
    for candidate in DELIMITER_CANDIDATES:
        records = [r for r in csv.reader(io.StringIO(sample), delimiter=candidate)]
        if records and len(records[0]) > 1:
            scores[candidate] = sum(len(r) == len(records[0]) for r in records)
    if not scores:
        return ","
    best = max(scores.values())
    winners = [c for c, s in scores.items() if s == best]
    if len(winners) > 1:
        raise ValueError(
            f"{path}: cannot tell the delimiter from the first lines: they split evenly on each of "
            f"{winners}; pass delimiter=... (one of them)."
        )
    return winners[0]


def _header(first: list, following: list, header, words) -> tuple[bool, str]:
    """Whether the first record is a header, and the sentence that says so."""
    if header is True:
        return True, "first line read as a header (header=True)"
    if header is False:
        return False, "no header (header=False): the first line read as data"
    if header is not None:
        raise ValueError(f"header must be None (detect), True or False, got {header!r}.")
    kinds = [cell_value(t, *words) for t in first]
    if all(k != _BAD for k in kinds) and any(k != _NA for k in kinds):
        return False, "no header: the first line is all numbers, read as data; pass header=True if it names the columns"
    text_columns = [j for j, k in enumerate(kinds) if k == _BAD]
    has_numbers = any(isinstance(k, float) for k in kinds)
    later = [r for r in following if len(r) == len(first)]
    if has_numbers and later and all(cell_value(r[j], *words) == _BAD for r in later for j in text_columns):
        return False, ("no header: the first line holds numbers, and its text sits in columns that hold text on "
                       "the next lines too (ids or labels), read as data; pass header=True if it names the columns")
    return True, ("first line read as a header (it holds non-numeric names); pass header=False to read it as "
                  "data")


def _position(names: list, column, option: str, header_note: str, path: Path) -> int | None:
    if column is None:
        return None
    matches = [j for j, name in enumerate(names) if name == str(column)]
    if len(matches) != 1:
        shown = names if len(names) <= 12 else names[:12] + ["..."]
        problem = "is not a column" if not matches else f"names {len(matches)} columns"
        raise ValueError(f"{path}: {option} {column!r} {problem}; the columns are {shown} ({header_note}).")
    return matches[0]


def _data_bytes(raw: bytes, start_line: int) -> bytes:
    """The bytes after the first ``start_line`` lines."""
    offset = 0
    for _ in range(start_line):
        newline = raw.find(b"\n", offset)
        if newline < 0:
            return b""
        offset = newline + 1
    return raw[offset:]


def _fast_path_applies(raw: bytes, data: bytes, delimiter: str) -> bool:
    """The fast path counts fields by delimiters per line: no quotes in the data, no bare CR."""
    if len(delimiter.encode("utf-8")) != 1 or b'"' in data:
        return False
    return raw.count(b"\r") == raw.count(b"\r\n")


def _line_field_counts(data: bytes, delimiter: str) -> np.ndarray:
    """Fields on each line of ``data`` as the csv module counts them (an empty line has none)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == ord("\n"))
    if len(buf) and buf[-1] != ord("\n"):
        ends = np.append(ends, len(buf))
    starts = np.r_[0, ends[:-1] + 1]
    content_ends = ends.copy()
    has_cr = (content_ends > starts) & (buf[np.maximum(content_ends - 1, 0)] == ord("\r"))
    content_ends[has_cr] -= 1
    separators = np.r_[0, np.cumsum(buf == ord(delimiter), dtype=np.int64)]
    counts = separators[content_ends] - separators[starts] + 1
    counts[content_ends == starts] = 0
    return counts


def _wrong_field_count(path: Path, line: int, expected: int, found: int) -> ValueError:
    return ValueError(f"{path}, line {line}: expected {expected} fields, found {found}.")


def _non_numeric(layout: _Layout, line: int, position: int, text: str) -> ValueError:
    true_words = "/".join(sorted(layout.words[0]))
    false_words = "/".join(sorted(layout.words[1]))
    return ValueError(
        f"{layout.path}, line {line}, column {layout.names[position]!r}: non-numeric value {text!r}; expected "
        f"a number (0 or 1), a boolean word ({true_words} for 1, {false_words} for 0) or a missing-value "
        f"token (empty, NA, N/A, nan, NULL, ?)."
    )


def _text_values(texts: np.ndarray, words) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values, missing mask and non-numeric mask of an array of cell texts (via :func:`cell_value`)."""
    unique, inverse = np.unique(texts.astype(str), return_inverse=True)
    kinds = [cell_value(t, *words) for t in unique]
    missing = np.array([k == _NA for k in kinds], dtype=bool)[inverse]
    bad = np.array([k == _BAD for k in kinds], dtype=bool)[inverse]
    numbers = np.array([k if isinstance(k, float) else 0.0 for k in kinds], dtype=np.float64)[inverse]
    return numbers.reshape(texts.shape), missing.reshape(texts.shape), bad.reshape(texts.shape)


def _reference_parse(layout: _Layout, text: str, delimiter: str, start_line: int) -> _Parsed:
    """The csv module, line by line: first every line's field count, then the cells."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for fields in reader:
        if reader.line_num > start_line and len(fields) != layout.n_columns:
            raise _wrong_field_count(layout.path, reader.line_num, layout.n_columns, len(fields))
    parsed = _Parsed()
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    features = np.array(layout.feature_positions, dtype=np.int64)
    for fields in reader:
        line = reader.line_num
        if line <= start_line:
            continue
        row = np.array(fields, dtype=object)
        values, missing, bad = _text_values(row[features], layout.words)
        if bad.any():
            j = int(np.argmax(bad))
            raise _non_numeric(layout, line, layout.feature_positions[j], fields[layout.feature_positions[j]])
        parsed.add_block(layout, values[None, :], missing[None, :], np.array([line]), _column(row, layout.id_position),
                         _column(row, layout.label_position))
    return parsed


def _column(block: np.ndarray, position: int | None):
    if position is None:
        return None
    return block[..., position].reshape(-1).astype(str)


def _fast_parse(layout: _Layout, data: bytes, delimiter: str, start_line: int) -> _Parsed:
    """Field counts checked on the raw bytes, then pandas' C parser in chunks of rows."""
    if not data:
        return _Parsed()
    if not _fields_add_up(data, delimiter, layout.n_columns):
        _raise_first_wrong_line(layout, data, delimiter, start_line)
        raise _FastPathUnsuitable  # the byte counts and the line counts disagree: let the csv module decide
    text_columns = [p for p in (layout.id_position, layout.label_position) if p is not None]
    # Exact spellings go to pandas; others (odd case, spaces) come back as text and are read by
    # cell_value. The id and label columns are kept as written, as the reference parser keeps them
    # (a per-column list costs pandas time on a wide file, so only when there are such columns).
    na_spellings = sorted({s for t in NA_TOKENS for s in (t, t.upper(), t.title())})
    na_values = {p: na_spellings for p in layout.feature_positions} if text_columns else na_spellings
    chunks = pd.read_csv(
        io.BytesIO(data), sep=delimiter, header=None, names=list(range(layout.n_columns)), index_col=False,
        engine="c", dtype={p: str for p in text_columns}, keep_default_na=False, na_values=na_values,
        true_values=_spellings(layout.words[0]), false_values=_spellings(layout.words[1]),
        skip_blank_lines=False, quoting=csv.QUOTE_NONE, encoding="utf-8", low_memory=False,
        chunksize=max(1, _CHUNK_CELLS // layout.n_columns),
    )
    parsed = _Parsed()
    first_line = start_line + 1
    try:
        for chunk in chunks:
            lines = np.arange(first_line, first_line + len(chunk))
            first_line += len(chunk)
            values, missing = _chunk_values(layout, chunk, lines)
            parsed.add_block(layout, values, missing, lines, _frame_column(chunk, layout.id_position),
                             _frame_column(chunk, layout.label_position))
    except pd.errors.ParserError:
        # A line with too many fields, balanced by one with too few: find the first of them.
        _raise_first_wrong_line(layout, data, delimiter, start_line)
        raise _FastPathUnsuitable from None  # pandas refused the file for another reason
    return parsed


class _FastPathUnsuitable(Exception):
    """The fast parser cannot read this file; the reference parser will (or will say why not)."""


def _fields_add_up(data: bytes, delimiter: str, n_columns: int) -> bool:
    """Whether the data have as many delimiters as their lines need, and no empty line.

    Cheap (byte counts) and sufficient together with pandas' error on a line with too many
    fields: if no line has too many and the total is right, no line has too few.
    """
    n_lines = data.count(b"\n") + (not data.endswith(b"\n"))
    empty_line = data.startswith((b"\n", b"\r\n")) or b"\n\n" in data or b"\n\r\n" in data
    return not empty_line and data.count(delimiter.encode("utf-8")) == n_lines * (n_columns - 1)


def _raise_first_wrong_line(layout: _Layout, data: bytes, delimiter: str, start_line: int):
    """Raise the error of the first line with the wrong number of fields, if there is one."""
    counts = _line_field_counts(data, delimiter)
    wrong = np.flatnonzero(counts != layout.n_columns)
    if len(wrong):
        first = int(wrong[0])
        raise _wrong_field_count(layout.path, start_line + first + 1, layout.n_columns, int(counts[first]))


def _spellings(words) -> list:
    return sorted({s for w in words for s in (w, w.upper(), w.title())})


def _frame_column(chunk: pd.DataFrame, position: int | None):
    if position is None:
        return None
    return chunk[position].to_numpy(dtype=object, na_value="").astype(str)


def _chunk_values(layout: _Layout, chunk: pd.DataFrame, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A chunk's feature cells as float64 with missing cells marked; raises on the first non-numeric cell."""
    dtypes = chunk.dtypes.to_numpy()
    positions = layout.feature_positions
    numeric = [pd.api.types.is_numeric_dtype(dtypes[p]) or pd.api.types.is_bool_dtype(dtypes[p]) for p in positions]
    if all(numeric):
        block = chunk if len(positions) == chunk.shape[1] else chunk.iloc[:, positions]
        values = block.to_numpy(dtype=np.float64)
        return values, np.isnan(values)
    values = np.empty((len(chunk), len(positions)), dtype=np.float64)
    missing = np.zeros(values.shape, dtype=bool)
    bad = np.zeros(values.shape, dtype=bool)
    for j, (position, is_numeric) in enumerate(zip(positions, numeric)):
        if is_numeric:
            values[:, j] = chunk[position].to_numpy(dtype=np.float64)
            missing[:, j] = np.isnan(values[:, j])
        else:
            texts = chunk[position].to_numpy(dtype=object, na_value="")
            values[:, j], missing[:, j], bad[:, j] = _text_values(texts, layout.words)
    if bad.any():
        r, j = divmod(int(np.argmax(bad.ravel())), bad.shape[1])  # the first in reading order
        raise _non_numeric(layout, int(lines[r]), positions[j], str(chunk[positions[j]].iloc[r]))
    return values, missing


def _table(layout: _Layout, parsed: _Parsed, facts: dict, delimiter: str, text: str) -> CsvTable:
    path = layout.path
    if parsed.na_count and layout.na == "error":
        raise ValueError(
            f"{path}: {parsed.na_count} missing cell(s) (empty, NA, N/A, nan, NULL or ?); the first: "
            f"{'; '.join(parsed.na_first)}. Pass na='zero' to read them as 0 or na='drop-rows' to drop their rows."
        )
    if layout.na == "zero":
        facts["na_cells_set_to_zero"] = parsed.na_count
    if layout.na == "drop-rows":
        facts["na_rows_dropped"] = len(parsed.dropped_lines)
        facts["na_rows_dropped_first_lines"] = parsed.dropped_lines[:_FIRST_FEW]
    n_features = len(layout.feature_positions)
    concat = (lambda parts, dtype: np.concatenate(parts) if parts else np.empty(0, dtype=dtype))
    values = sp.csr_array(
        (concat(parsed.values, np.float64), (concat(parsed.rows, np.int64), concat(parsed.columns, np.int64))),
        shape=(parsed.n_rows, n_features),
    )
    values.sum_duplicates()
    lines = concat(parsed.lines, np.int64)
    if layout.id_position is None:
        row_ids = lines.copy()
    else:
        row_ids = concat(parsed.ids, str)
        _check_unique_ids(path, row_ids, lines, layout.names[layout.id_position])
    labels = concat(parsed.labels, str) if layout.label_position is not None else None
    return CsvTable(
        path=path, values=values, feature_names=[layout.names[p] for p in layout.feature_positions],
        row_ids=row_ids, lines=lines, labels=labels,
        label_name=layout.names[layout.label_position] if layout.label_position is not None else None,
        feature_positions=layout.feature_positions, facts=facts, delimiter=delimiter, _text=text,
    )


def _check_unique_ids(path: Path, row_ids: np.ndarray, lines: np.ndarray, column: str) -> None:
    duplicated = pd.Index(row_ids).duplicated(keep=False)
    if duplicated.any():
        shown = [f"{row_ids[k]!r} (line {lines[k]})" for k in np.flatnonzero(duplicated)[:_FIRST_FEW]]
        raise ValueError(f"{path}: the id column {column!r} repeats ids: {', '.join(shown)}; ids must be unique.")
