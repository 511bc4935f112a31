"""Reader for the Kaggle "Netflix popular movies" CSV (Narayan 2022): the paper's IMDB data.

The file has one title per row with columns such as ``title, year, certificate, duration, genre,
rating, description, stars, votes``; ``genre`` holds comma-separated values. The paper one-hot
encodes content metadata and regresses the IMDB ``rating`` on the embeddings.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from .dataset import BinaryDataset
from .onehot import MISSING_TOKENS, one_hot_multi
from .reduction import nonempty

#: Columns encoded by default: the content rating and the genres.
DEFAULT_COLUMNS = ("certificate", "genre")


def load_netflix_movies(
    path,
    *,
    columns=DEFAULT_COLUMNS,
    target: str | None = "rating",
    separator: str = ",",
    name: str = "netflix_movies",
) -> BinaryDataset:
    """One-hot metadata matrix with the rating as regression target, from the Kaggle CSV.

    Parameters
    ----------
    path : path-like
        The CSV file (header row, comma-separated, double-quoted fields as in the Kaggle file).
    columns : sequence of str, default=("certificate", "genre")
        Columns to one-hot encode; each cell is split on ``separator`` and every value becomes a
        feature ``"<column>=<value>"``. Empty and "N/A" values count as missing.
    target : str or None, default="rating"
        Numeric column used as regression target. Rows with an empty or "N/A" target are dropped
        (their number is recorded in the provenance). None keeps every row and sets no target.
    separator : str, default=","
    name : str, default="netflix_movies"

    Returns
    -------
    BinaryDataset
        Rows are the file's records that have a target and at least one value in ``columns``;
        ``row_ids`` are their line numbers in the file (the header is line 1).

    Raises
    ------
    ValueError
        If a requested column is missing, a record has the wrong number of fields, or a target
        value is not a number (the message gives the line number).
    """
    path = Path(path)
    columns = [columns] if isinstance(columns, str) else list(columns)
    if not columns:
        raise ValueError("columns must name at least one column to encode, e.g. ('certificate', 'genre').")
    header, records, line_numbers = _read_records(path)
    wanted = columns + ([target] if target is not None else [])
    missing = [c for c in wanted if c not in header]
    if missing:
        raise ValueError(f"{path}: column(s) {missing} not in the header; available: {header}.")
    frame = pd.DataFrame(records, columns=header)
    frame["line"] = line_numbers

    n_without_target = 0
    if target is not None:
        values = frame[target].str.strip()
        present = ~values.isin(MISSING_TOKENS)
        n_without_target = int((~present).sum())
        frame = frame[present].reset_index(drop=True)
        frame[target] = _as_numbers(values[present].to_numpy(dtype=str), frame["line"].to_numpy(), path, target)

    X, feature_names = one_hot_multi(frame, columns, separator=separator)
    rows, _ = nonempty(X)
    rule = (
        f"columns {', '.join(columns)} one-hot encoded: each cell split on {separator!r}, parts "
        "stripped, empty and 'N/A' parts dropped, feature '<column>=<value>' is 1 if the row has "
        f"that value; rows without any value dropped ({len(frame) - len(rows)})"
        + (f"; rows without a {target} dropped ({n_without_target}); target {target} (float)." if target else ".")
    )
    targets = pd.DataFrame({target: frame[target].to_numpy(dtype=float)[rows]}) if target else None
    return BinaryDataset(
        name=name,
        X=X[rows],
        feature_names=feature_names,
        row_ids=frame["line"].to_numpy()[rows],
        targets=targets,
        task=f"regression: {target}" if target else "none",
        paper_counterpart="IMDB_1.0",
        provenance={"file": str(path), "rule": rule, "X_dtype": "float32 (0/1), scipy.sparse.csr_array"},
    )


def _read_records(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, records and the line number each record starts on; refuses ragged records."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path} is empty; expected a header row.")
        records, line_numbers = [], []
        start = reader.line_num + 1
        for record in reader:
            if len(record) != len(header):
                raise ValueError(
                    f"{path}, line {start}: expected {len(header)} fields (as in the header), found {len(record)}."
                )
            records.append(record)
            line_numbers.append(start)
            start = reader.line_num + 1
    return header, records, line_numbers


def _as_numbers(values: np.ndarray, line_numbers: np.ndarray, path: Path, column: str) -> np.ndarray:
    numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(numbers)
    if bad.any():
        first = int(np.argmax(bad))
        raise ValueError(
            f"{path}, line {line_numbers[first]}: {column} must be a number, found {str(values[first])!r} "
            f"({int(bad.sum())} such value{'s' if bad.sum() > 1 else ''} in the file)."
        )
    return numbers
