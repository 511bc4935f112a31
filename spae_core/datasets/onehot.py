"""One-hot encoding of categorical columns that may hold several comma-separated values per cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .binary import X_DTYPE

#: Cell values (after splitting and stripping) that mean "no value".
MISSING_TOKENS = ("", "N/A")


def one_hot_multi(
    frame: pd.DataFrame, columns, separator: str = ",", missing_tokens=MISSING_TOKENS
) -> tuple[sp.csr_array, np.ndarray]:
    """One indicator feature per (column, value), with multi-valued cells split.

    Each cell is split on ``separator``; the parts are stripped of surrounding whitespace; parts
    that are missing (NaN) or in ``missing_tokens`` are dropped. Feature ``"<column>=<value>"`` is 1
    for a row if any part of its cell equals ``value``. Features are ordered by column (in the order
    given) and then by value (sorted). Rows without any value stay in the result as all-zero rows.

    Parameters
    ----------
    frame : pandas.DataFrame
    columns : sequence of str
        Columns of ``frame`` to encode.
    separator : str, default=","
    missing_tokens : sequence of str, default=("", "N/A")

    Returns
    -------
    X : scipy.sparse.csr_array of float32, shape (len(frame), n_features)
    feature_names : ndarray of str
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"columns {missing} not found; available: {list(frame.columns)}.")
    n_rows = len(frame)
    row_blocks, column_blocks, names = [], [], []
    for column in columns:
        cells = frame[column].reset_index(drop=True)
        cells = cells[cells.notna()].astype(str)
        parts = cells.str.split(separator, regex=False).explode().str.strip()
        parts = parts[~parts.isin(missing_tokens)]
        tokens = parts.to_numpy(dtype=str)
        values = np.unique(tokens)
        row_blocks.append(parts.index.to_numpy(dtype=np.int64))
        column_blocks.append(len(names) + np.searchsorted(values, tokens))
        names.extend(f"{column}={value}" for value in values)
    rows = np.concatenate(row_blocks) if row_blocks else np.empty(0, dtype=np.int64)
    cols = np.concatenate(column_blocks) if column_blocks else np.empty(0, dtype=np.int64)
    X = sp.csr_array((np.ones(len(rows), dtype=X_DTYPE), (rows, cols)), shape=(n_rows, len(names)))
    # A value repeated within one cell adds up to 2; presence is what the feature records.
    X.sum_duplicates()
    X.data[:] = 1
    return X, np.asarray(names, dtype=str)
