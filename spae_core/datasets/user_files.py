"""Readers for a user's own binary data: dense 0/1 CSV, scipy ``.npz``, MatrixMarket ``.mtx``, and a
long CSV of (row, column) pairs.

Every reader refuses malformed input instead of skipping it: a bad line is reported with its
line number, and values other than 0 and 1 with their count and the first offending position.
Rows and columns are kept as they are (including all-zero ones); derive variants with
:func:`spae_core.datasets.reduce_sparsity` and friends.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp

from .binary import X_DTYPE, to_binary_csr
from .dataset import BinaryDataset

_X_DTYPE_NOTE = "float32 (0/1), scipy.sparse.csr_array"
_INTEGER = re.compile(r"-?\d+")


def load_binary_csv(
    path, *, header: bool = True, id_column: str | None = None, name: str | None = None
) -> BinaryDataset:
    """A dense 0/1 CSV: one row per sample, one column per feature.

    Parameters
    ----------
    path : path-like
    header : bool, default=True
        Whether the first line names the columns. Without it, features are named "0", "1", ...
    id_column : str, optional
        Header name of a column of row identifiers (not a feature). Rows are otherwise identified by
        their line number.
    name : str, optional
        Defaults to the file's stem.

    Returns
    -------
    BinaryDataset

    Raises
    ------
    ValueError
        On a line with the wrong number of fields, an empty or non-numeric field (with line number
        and column), or values other than 0 and 1 (with their count and the first position).
    """
    path = Path(path)
    if id_column is not None and not header:
        raise ValueError("id_column names a header column; it needs header=True.")
    feature_names, ids, nonzero_rows, nonzero_columns = None, [], [], []
    n_non_binary, first_non_binary = 0, None
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        id_position = None
        if header:
            columns = next(reader, None)
            if columns is None:
                raise ValueError(f"{path} is empty; expected a header line.")
            if id_column is not None and id_column not in columns:
                raise ValueError(f"{path}: id_column {id_column!r} is not in the header {columns}.")
            id_position = columns.index(id_column) if id_column is not None else None
            feature_names = [c for k, c in enumerate(columns) if k != id_position]
        for row_number, fields in enumerate(reader):
            line = reader.line_num
            if feature_names is None:
                feature_names = [str(j) for j in range(len(fields))]
            n_fields = len(feature_names) + (id_position is not None)
            if len(fields) != n_fields or not fields:
                raise ValueError(f"{path}, line {line}: expected {n_fields} fields, found {len(fields)}.")
            ids.append(fields[id_position] if id_position is not None else line)
            values_text = [f for k, f in enumerate(fields) if k != id_position]
            values = _row_values(values_text, path, line, feature_names)
            bad = (values != 0) & (values != 1)
            if bad.any():
                n_non_binary += int(bad.sum())
                if first_non_binary is None:
                    j = int(np.argmax(bad))
                    first_non_binary = (line, feature_names[j], values_text[j])
            present = np.flatnonzero(values)
            nonzero_rows.append(np.full(len(present), row_number, dtype=np.int64))
            nonzero_columns.append(present)
    if n_non_binary:
        line, column, value = first_non_binary
        raise ValueError(
            f"{path}: {n_non_binary} value(s) are not 0 or 1; the first is {value!r} at line {line}, "
            f"column {column!r}."
        )
    feature_names = feature_names or []
    n_features = len(feature_names)
    rows = np.concatenate(nonzero_rows) if nonzero_rows else np.empty(0, dtype=np.int64)
    cols = np.concatenate(nonzero_columns) if nonzero_columns else np.empty(0, dtype=np.int64)
    X = sp.csr_array((np.ones(len(rows), dtype=X_DTYPE), (rows, cols)), shape=(len(ids), n_features))
    return _user_dataset(path, name, X, feature_names, ids, "dense 0/1 CSV, one row per sample")


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
    return _matrix_file(path, sp.load_npz, (ValueError, OSError, KeyError), "is not a scipy.sparse .npz file "
                        "(written by save_npz)", "scipy.sparse save_npz file", feature_names, row_ids, name)


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
    return _matrix_file(path, scipy.io.mmread, (ValueError,), "is not a valid MatrixMarket file", "MatrixMarket file",
                        feature_names, row_ids, name)


def _matrix_file(path, read, read_errors, invalid: str, kind: str, feature_names, row_ids, name) -> BinaryDataset:
    """Read a whole-matrix file with ``read``; a reader error becomes a ValueError naming the file."""
    path = Path(path)
    try:
        matrix = read(path)
    except read_errors as error:
        raise ValueError(f"{path} {invalid}: {error}") from error
    return _user_dataset(path, name, to_binary_csr(matrix, str(path)), feature_names, row_ids, kind)


def load_pairs_csv(
    path, *, row_column: str = "row", column_column: str = "column", name: str | None = None
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
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
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


def _row_values(values_text: list[str], path: Path, line: int, feature_names: list[str]) -> np.ndarray:
    """A line's fields as numbers; an empty or non-numeric field is reported with its place."""
    try:
        return np.array(values_text, dtype=np.float64)
    except ValueError:
        for text, feature in zip(values_text, feature_names):
            try:
                float(text)
            except ValueError:
                what = "empty field" if not text.strip() else f"non-numeric value {text!r}"
                raise ValueError(f"{path}, line {line}, column {feature!r}: {what}; expected 0 or 1.") from None
        raise


def _label_codes(labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique labels (as integers if all are) and each label's position among them."""
    if labels and all(_INTEGER.fullmatch(label) for label in labels):
        return np.unique(np.array(labels, dtype=np.int64), return_inverse=True)
    return np.unique(np.array(labels, dtype=str), return_inverse=True)


def _user_dataset(path: Path, name, X, feature_names, row_ids, source: str, **facts) -> BinaryDataset:
    feature_names = np.arange(X.shape[1]).astype(str) if feature_names is None else feature_names
    row_ids = np.arange(X.shape[0]) if row_ids is None else np.asarray(row_ids)
    provenance = {"file": str(path), "rule": f"read as is from a {source}.", "X_dtype": _X_DTYPE_NOTE, **facts}
    return BinaryDataset(
        name=path.stem if name is None else name, X=X, feature_names=feature_names, row_ids=row_ids,
        provenance=provenance,
    )
