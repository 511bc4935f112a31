"""Readers for a user's own data: dense CSV, scipy ``.npz``, MatrixMarket ``.mtx``, and a long CSV of
(row, column) pairs; :func:`read_data` picks the reader by the file's suffix and the dataset class
(0/1 or counts) by the values, and attaches labels.

Every reader refuses malformed input instead of skipping it: a bad line is reported with its
line number, and values other than 0 and 1 with their count and the first offending position.
Rows and columns are kept as they are (including all-zero ones); derive variants with
:func:`spae_core.datasets.reduce_sparsity` and friends. How a dense CSV's cells are read
(delimiter, header, boolean words, missing cells) is :mod:`spae_core.datasets.dense_csv`.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

from ..validation import MAX_EXACT_COUNT
from .binary import X_DTYPE, to_binary_csr
from .counts import CountDataset, to_count_csr
from .dataset import BinaryDataset
from .dense_csv import DEFAULT_FALSE_VALUES, DEFAULT_TRUE_VALUES, CsvTable, read_csv_table, sniff_delimiter
from .labels import attach_labels, typed_label_cells

__all__ = ["DATA_FORMATS", "DATA_KINDS", "load_binary_csv", "load_mtx", "load_npz", "load_pairs_csv", "read_data"]

#: What ``read_data(format=...)`` accepts, and the suffixes ``"auto"`` maps to them.
DATA_FORMATS = {"csv": (".csv", ".tsv", ".txt"), "pairs": (".csv", ".tsv", ".txt"), "npz": (".npz",),
                "mtx": (".mtx", ".mtx.gz")}
#: What ``read_data(kind=...)`` accepts.
DATA_KINDS = ("auto", "binary", "counts")

_X_DTYPE_NOTE = "float32 (0/1), scipy.sparse.csr_array"
_COUNTS_DTYPE_NOTE = "float32 (non-negative integer counts), scipy.sparse.csr_array"
_INTEGER = re.compile(r"-?\d+")


def load_binary_csv(
    path,
    *,
    header: bool | None = None,
    delimiter: str | None = None,
    true_values=DEFAULT_TRUE_VALUES,
    false_values=DEFAULT_FALSE_VALUES,
    na: str = "error",
    id_column: str | None = None,
    label_column: str | None = None,
    name: str | None = None,
    task: str = "auto",
    engine: str = "auto",
) -> BinaryDataset:
    """A dense 0/1 CSV: one row per sample, one column per feature.

    Parameters
    ----------
    path : path-like
        UTF-8 text; a byte-order mark at its start is skipped.
    header : bool, optional
        Whether the first line names the columns. None (default) decides: a first line whose
        every field is a number or a boolean word is data, and so is one whose text sits only in
        columns holding text on the next lines too (ids, labels); otherwise it is a header.
        ``provenance["header"]`` says which was assumed. Without a header the columns are named
        ``"0"``, ``"1"``, ... by position.
    delimiter : str, optional
        One character. None detects it among ``,`` ``;`` tab ``|`` from the first lines.
    true_values, false_values : iterable of str, default=("true", "yes", "t"), ("false", "no", "f")
        Words read as 1 and as 0, in any case.
    na : {"error", "zero", "drop-rows"}, default="error"
        Missing cells (empty, ``NA``, ``N/A``, ``nan``, ``NULL``, ``?``, in any case): refused,
        naming how many and the first few; read as 0 (``provenance["na_cells_set_to_zero"]``);
        or their rows dropped (``provenance["na_rows_dropped"]`` and
        ``["na_rows_dropped_first_lines"]``; a missing label drops its row too).
    id_column : str, optional
        The column of row identifiers (not a feature). Rows are otherwise identified by their line
        number.
    label_column : str, optional
        The column holding each row's label: removed from the features and attached as the
        downstream targets by :func:`spae_core.datasets.attach_labels`.
    name : str, optional
        Defaults to the file's stem.
    task : {"auto", "classification", "regression"}, default="auto"
        How the label is read; see :func:`spae_core.datasets.attach_labels`.
    engine : {"auto", "reference"}, default="auto"
        ``"auto"`` reads with pandas' C parser where the file allows it (no quote characters in
        the data lines); ``"reference"`` always with the csv module. Both give the same dataset
        and the same errors.

    Returns
    -------
    BinaryDataset

    Raises
    ------
    ValueError
        On an undecidable delimiter, a line with the wrong number of fields, a non-numeric field
        or missing cells (with line number and column), or values other than 0 and 1 (with their
        count and the first position; counts are read by :func:`read_data` with ``kind="counts"``).
    """
    table = read_csv_table(path, header=header, delimiter=delimiter, true_values=true_values,
                           false_values=false_values, na=na, id_column=id_column, label_column=label_column,
                           engine=engine)
    return _csv_dataset(table, "binary", name, task)


def _csv_dataset(table: CsvTable, kind: str, name, task: str) -> BinaryDataset:
    """The dataset of a read CSV table, its values checked as ``kind``, its label column attached."""
    values = table.values
    data = values.data
    not_binary = data != 1
    not_count = (data < 0) | (np.mod(data, 1) != 0) | ~np.isfinite(data) | (data > MAX_EXACT_COUNT)
    if kind == "binary" or (kind == "auto" and not_count.any()):
        offending = not_binary if kind == "binary" else not_count
        if offending.any():
            raise _cell_error(table, offending, kind, counts_instead=kind == "binary" and not not_count.any())
    if kind == "counts" and not_count.any():
        raise _cell_error(table, not_count, kind, counts_instead=False)
    is_counts = kind == "counts" or (kind == "auto" and not_binary.any())
    source = ("dense CSV of non-negative integer counts, one row per sample" if is_counts else
              "dense 0/1 CSV, one row per sample")
    dataset = _user_dataset(table.path, name, values, table.feature_names, table.row_ids, source,
                            dataset_class=CountDataset if is_counts else BinaryDataset, **table.facts)
    if table.labels is None:
        return dataset
    labels = typed_label_cells(pd.Series(table.labels, name=table.label_name, dtype=object))
    return attach_labels(dataset, labels, task=task,
                         source=f"labels from column {table.label_name!r} of {table.path}")


def _cell_error(table: CsvTable, offending: np.ndarray, kind: str, *, counts_instead: bool) -> ValueError:
    """The error naming how many cells are not of ``kind`` and the first of them (in reading order)."""
    values = table.values
    first = int(np.argmax(offending))
    row = int(np.searchsorted(values.indptr, first, side="right") - 1)
    column = int(values.indices[first])
    expected = {"binary": "0 or 1", "counts": "non-negative integers (counts)",
                "auto": "0/1 or non-negative integers (counts)"}[kind]
    message = (f"{table.path}: {int(offending.sum())} value(s) are not {expected}; the first is "
               f"{table.cell_text(row, column)!r} at {table.where(row, column)}.")
    if counts_instead:
        message += " They are non-negative integers: for counts use read_data(path, kind='counts') (or kind='auto')."
    return ValueError(message)


def read_data(
    path,
    *,
    format: str = "auto",
    kind: str = "auto",
    labels=None,
    label_column: str | None = None,
    label_id_column: str | None = None,
    task: str = "auto",
    name: str | None = None,
    **csv_options,
) -> BinaryDataset | CountDataset:
    """A user's data file as a dataset: 0/1 data as a BinaryDataset, counts as a CountDataset.

    Parameters
    ----------
    path : path-like
    format : {"auto", "csv", "pairs", "npz", "mtx"}, default="auto"
        ``"auto"`` goes by the suffix: ``.csv``, ``.tsv``, ``.txt`` are a dense CSV
        (:func:`load_binary_csv`'s reading), unless the header is exactly the two columns ``row``
        and ``column``, a long CSV of pairs (:func:`load_pairs_csv`); ``.npz`` is
        :func:`load_npz`'s, ``.mtx`` (or ``.mtx.gz``) :func:`load_mtx`'s.
    kind : {"auto", "binary", "counts"}, default="auto"
        ``"auto"``: 0/1 values give a BinaryDataset, non-negative integers a CountDataset,
        anything else an error naming the first offending cell. ``"binary"`` and ``"counts"``
        force the class (0/1 data are valid counts). A pairs file is always 0/1.
    labels : path-like, pandas.Series or array-like, optional
        Labels attached by :func:`spae_core.datasets.attach_labels`.
    label_column : str, optional
        The column holding the labels: of the dense CSV, or, with ``labels`` a label file, of that
        file (needed when it has several columns besides the ids).
    label_id_column : str, optional
        For a label file: its column of row ids, matched to the data's row ids.
    task : {"auto", "classification", "regression"}, default="auto"
        How the labels are read; see :func:`spae_core.datasets.attach_labels`.
    name : str, optional
        Defaults to the file's stem.
    **csv_options
        For a dense CSV, the options of :func:`load_binary_csv` (``header``, ``delimiter``,
        ``true_values``, ``false_values``, ``na``, ``id_column``, ``engine``); for pairs,
        ``row_column``, ``column_column`` and ``delimiter``. Options of another format are
        accepted at their defaults (so one call can pass them all) and refused otherwise.

    Returns
    -------
    BinaryDataset or CountDataset

    Raises
    ------
    ValueError
        On an unknown format or suffix (naming the formats), an unknown option or one set for
        another format, or any error of the reader and of ``attach_labels``.
    """
    path = Path(path)
    if kind not in DATA_KINDS:
        raise ValueError(f"kind must be one of {list(DATA_KINDS)}, got {kind!r}.")
    fmt = _data_format(path, format)
    data_label_column = label_column if labels is None else None  # with a label file, it names that file's column
    if data_label_column is not None and fmt != "csv":
        raise ValueError(f"label_column names a column of a dense CSV; {path} is read as {fmt!r}: pass labels=... "
                         "(a label file, with label_column naming its column if it has several).")
    csv_options = _options_for(fmt, csv_options, path)
    if fmt == "csv":
        table = read_csv_table(path, label_column=data_label_column, **csv_options)
        dataset = _csv_dataset(table, kind, name, task)
    elif fmt == "pairs":
        if kind == "counts":
            raise ValueError(f"{path} is a pairs file: it gives 0/1 data (a pair listed twice gives one 1); "
                             "kind='counts' needs a dense CSV, .npz or .mtx of counts.")
        dataset = load_pairs_csv(path, name=name, **csv_options)
    else:
        dataset = _matrix_file(path, *_MATRIX_READERS[fmt], None, None, name, kind=kind)
    if labels is not None:
        dataset = attach_labels(dataset, labels, task=task, id_column=label_id_column, label_column=label_column)
    elif label_id_column is not None:
        raise ValueError("label_id_column names a column of a label file; pass labels=<path> with it.")
    return dataset


#: The reading options of each format, with their defaults.
_FORMAT_OPTIONS = {
    "csv": {"header": None, "delimiter": None, "true_values": DEFAULT_TRUE_VALUES,
            "false_values": DEFAULT_FALSE_VALUES, "na": "error", "id_column": None, "engine": "auto"},
    "pairs": {"row_column": "row", "column_column": "column", "delimiter": None},
    "npz": {},
    "mtx": {},
}


def _options_for(fmt: str, options: dict, path: Path) -> dict:
    """The options that ``fmt`` takes; another format's option is refused unless left at its default.

    A caller (the ``spae`` command, say) may pass every reading option for every file: those at
    their defaults say nothing and are left out; one set to something else would be ignored, so
    it is refused.
    """
    known = {name for table in _FORMAT_OPTIONS.values() for name in table}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown reading option(s) {unknown}; the options are {sorted(known)}.")
    takes = _FORMAT_OPTIONS[fmt]
    set_elsewhere = sorted(
        name for name, value in options.items()
        if name not in takes and not _is_default(value, next(t[name] for t in _FORMAT_OPTIONS.values() if name in t))
    )
    if set_elsewhere:
        raise ValueError(f"option(s) {set_elsewhere} do not apply to the {fmt!r} format of {path}; it takes "
                         f"{sorted(takes) or 'none'}.")
    return {name: value for name, value in options.items() if name in takes}


def _is_default(value, default) -> bool:
    if isinstance(default, tuple) and not isinstance(value, str):
        try:
            return tuple(value) == default
        except TypeError:
            return False
    return value == default


def _data_format(path: Path, format: str) -> str:
    formats = ", ".join(f"{f!r} ({' '.join(s)})" for f, s in DATA_FORMATS.items())
    if format != "auto":
        if format not in DATA_FORMATS:
            raise ValueError(f"format must be 'auto' or one of {formats}; got {format!r}.")
        return format
    name = path.name.lower()
    for fmt in ("npz", "mtx", "csv"):
        if any(name.endswith(suffix) for suffix in DATA_FORMATS[fmt]):
            return "pairs" if fmt == "csv" and _pairs_header(path) else fmt
    raise ValueError(f"cannot tell the format of {path} from its suffix; the formats are {formats}. Rename the "
                     "file or pass format=...")


def _pairs_header(path: Path) -> bool:
    """Whether a CSV's first line is exactly the header ``row``, ``column``."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        first_lines = "".join(line for _, line in zip(range(20), handle))
    if not first_lines.strip():
        return False
    delimiter = sniff_delimiter(first_lines, path)
    first = next(csv.reader(io.StringIO(first_lines), delimiter=delimiter))
    return [field.strip() for field in first] == ["row", "column"]


def load_npz(path, *, feature_names=None, row_ids=None, name: str | None = None) -> BinaryDataset:
    """A sparse matrix saved with ``scipy.sparse.save_npz``.

    Parameters
    ----------
    path : path-like
    feature_names, row_ids : array-like, optional
        Default to "0", "1", ... and 0, 1, ...
    name : str, optional
        Defaults to the file's stem.

    Raises
    ------
    ValueError
        If the file is not a scipy sparse ``.npz`` or holds values other than 0 and 1.
    """
    return _matrix_file(path, *_MATRIX_READERS["npz"], feature_names, row_ids, name)


def load_mtx(path, *, feature_names=None, row_ids=None, name: str | None = None) -> BinaryDataset:
    """A MatrixMarket file (coordinate or array; ``pattern`` entries count as 1).

    Parameters
    ----------
    path : path-like
    feature_names, row_ids : array-like, optional
        Default to "0", "1", ... and 0, 1, ...
    name : str, optional
        Defaults to the file's stem.

    Raises
    ------
    ValueError
        On a malformed line (scipy's message, with its line number) or values other than 0 and 1.
    """
    return _matrix_file(path, *_MATRIX_READERS["mtx"], feature_names, row_ids, name)


#: For each whole-matrix format: its reader, the reader's errors, the words for an invalid file, the source.
_MATRIX_READERS = {
    "npz": (sp.load_npz, (ValueError, OSError, KeyError), "is not a scipy.sparse .npz file (written by save_npz)",
            "scipy.sparse save_npz file"),
    "mtx": (scipy.io.mmread, (ValueError,), "is not a valid MatrixMarket file", "MatrixMarket file"),
}


def _matrix_file(path, read, read_errors, invalid: str, source: str, feature_names, row_ids, name, *,
                 kind: str = "binary") -> BinaryDataset:
    """Read a whole-matrix file with ``read``; a reader error becomes a ValueError naming the file.

    ``kind="auto"`` keeps 0/1 data binary and reads other non-negative integers as counts.
    """
    path = Path(path)
    try:
        matrix = read(path)
    except read_errors as error:
        raise ValueError(f"{path} {invalid}: {error}") from error
    if kind == "binary":
        return _user_dataset(path, name, to_binary_csr(matrix, str(path)), feature_names, row_ids, source)
    try:
        X = to_count_csr(matrix, str(path))
    except ValueError as error:
        if kind == "auto":
            raise ValueError(f"{error} (kind='auto' reads 0/1 values as binary data and non-negative integers as "
                             "counts)") from None
        raise
    if kind == "auto" and not (X.data != 1).any():
        return _user_dataset(path, name, X, feature_names, row_ids, source)
    return _user_dataset(path, name, X, feature_names, row_ids, f"{source} of non-negative integer counts",
                         dataset_class=CountDataset)


def load_pairs_csv(
    path, *, row_column: str = "row", column_column: str = "column", name: str | None = None,
    delimiter: str | None = None,
) -> BinaryDataset:
    """A long CSV table of (row, column) pairs, one 1 per pair.

    Parameters
    ----------
    path : path-like
        CSV with a header line; other columns than the two named are ignored.
    row_column, column_column : str, default="row", "column"
        Header names of the row and column labels.
    name : str, optional
        Defaults to the file's stem.
    delimiter : str, optional
        One character; None detects it among ``,`` ``;`` tab ``|`` from the first lines.

    Returns
    -------
    BinaryDataset
        Rows and columns ordered by label: numerically if every label is an integer, else as text.
        A pair listed twice gives one 1 (the number of repeats is in the provenance).

    Raises
    ------
    ValueError
        On a line with the wrong number of fields or an empty label (with its line number), or if
        the header lacks the named columns.
    """
    path = Path(path)
    row_labels, column_labels = [], []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        if delimiter is None:
            delimiter = sniff_delimiter("".join(line for _, line in zip(range(20), handle)), path)
            handle.seek(0)
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path} is empty; expected a header line naming {row_column!r} and {column_column!r}.")
        missing = [c for c in (row_column, column_column) if c not in header]
        if missing:
            raise ValueError(f"{path}: column(s) {missing} not in the header {header}; set row_column/column_column.")
        i, j = header.index(row_column), header.index(column_column)
        for fields in reader:
            line = reader.line_num
            if len(fields) != len(header):
                raise ValueError(f"{path}, line {line}: expected {len(header)} fields, found {len(fields)}.")
            row, column = fields[i].strip(), fields[j].strip()
            if not row or not column:
                raise ValueError(f"{path}, line {line}: empty {row_column if not row else column_column!r} label.")
            row_labels.append(row)
            column_labels.append(column)
    row_ids, rows = _label_codes(row_labels)
    feature_names, cols = _label_codes(column_labels)
    X = sp.csr_array((np.ones(len(rows), dtype=X_DTYPE), (rows, cols)), shape=(len(row_ids), len(feature_names)))
    X.sum_duplicates()
    n_repeats = len(rows) - X.nnz
    X.data[:] = 1
    return _user_dataset(
        path, name, X, feature_names, row_ids,
        f"long CSV of ({row_column}, {column_column}) pairs; a pair listed more than once gives one 1",
        repeated_pairs=n_repeats,
    )


def _label_codes(labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique labels (as integers if all are) and each label's position among them."""
    if labels and all(_INTEGER.fullmatch(label) for label in labels):
        return np.unique(np.array(labels, dtype=np.int64), return_inverse=True)
    return np.unique(np.array(labels, dtype=str), return_inverse=True)


def _user_dataset(path: Path, name, X, feature_names, row_ids, source: str, *, dataset_class=BinaryDataset,
                  **facts) -> BinaryDataset:
    feature_names = np.arange(X.shape[1]).astype(str) if feature_names is None else feature_names
    row_ids = np.arange(X.shape[0]) if row_ids is None else np.asarray(row_ids)
    dtype_note = _COUNTS_DTYPE_NOTE if dataset_class is CountDataset else _X_DTYPE_NOTE
    provenance = {"file": str(path), "rule": f"read as is from a {source}.", "X_dtype": dtype_note, **facts}
    return dataset_class(
        name=path.stem if name is None else name, X=X, feature_names=feature_names, row_ids=row_ids,
        provenance=provenance,
    )
