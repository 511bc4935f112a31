"""Deterministic rules that move a binary matrix's sparsity toward a target by removing rows and columns.

The paper derives Netflix_0.97 and Netflix_0.98 from Netflix_1.0 by removing features and samples
"iteratively ... at random" (Appendix A, Table 2). Random removal makes the result depend on a
generator's stream, so these rules are deterministic instead:

* :func:`drop_rarest_features` lowers sparsity: remove the least frequent feature, one at a time,
  until ``s(X)`` reaches the target;
* :func:`greedy_maximize_sparsity` raises it: remove the single row or column whose removal raises
  ``s(X)`` the most, one at a time, until no removal raises it (or the target is reached).

Both remove rows and columns left without any 1 as they go, so the result has no empty row or
column. Ties go to the earlier position (callers order columns and rows by their source ids).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm


def nonempty(X) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the rows and of the columns of ``X`` that hold at least one 1."""
    csr = sp.csr_array(X)
    rows = np.flatnonzero(np.diff(csr.indptr) > 0)
    columns = np.flatnonzero(np.bincount(csr.indices, minlength=csr.shape[1]) > 0)
    return rows, columns


def drop_rarest_features(X, target_sparsity: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower ``s(X)`` to at most ``target_sparsity`` by removing the rarest features first.

    Empty rows and columns are removed first. Then features are removed one at a time in order
    of increasing number of 1s (ties: the earlier column first), rows left empty are removed with
    them, and the process stops at the first point where ``s(X) <= target_sparsity``.

    Parameters
    ----------
    X : scipy sparse matrix of shape (n_samples, n_features)
        Binary data.
    target_sparsity : float
        In (0, 1).

    Returns
    -------
    rows, columns : ndarray of int
        Positions (increasing) of the rows and columns of ``X`` to keep.
    """
    _check_target(target_sparsity)
    rows, columns = nonempty(X)
    _check_has_positives(rows)
    csc = sp.csc_array(sp.csr_array(X)[rows][:, columns])
    counts = np.diff(csc.indptr)
    n_columns = len(columns)
    drop_order = np.lexsort((np.arange(n_columns), counts))
    drop_rank = np.empty(n_columns, dtype=np.int64)
    drop_rank[drop_order] = np.arange(n_columns)
    # A row empties once every one of its columns is gone, i.e. after its latest-dropped column.
    last_drop = np.full(len(rows), -1, dtype=np.int64)
    np.maximum.at(last_drop, csc.indices, np.repeat(drop_rank, counts))
    dropped = np.arange(n_columns)
    rows_left = len(rows) - np.searchsorted(np.sort(last_drop), dropped, side="left")
    positives_left = csc.nnz - np.concatenate(([0], np.cumsum(counts[drop_order])[:-1]))
    path = 1.0 - positives_left / (rows_left * (n_columns - dropped))
    # With one column left every remaining row has its 1 there (s = 0), so the target is reached.
    k = int(np.argmax(path <= target_sparsity))
    kept_rows = rows[last_drop >= k]
    kept_columns = columns[np.sort(drop_order[k:])]
    return kept_rows, kept_columns


def greedy_maximize_sparsity(X, target_sparsity: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raise ``s(X)`` by removing, one at a time, the row or column whose removal raises it most.

    Empty rows and columns are removed first. At each step every remaining row and column is
    scored by the sparsity the matrix would have without it (and without the rows or columns that
    removal would leave empty); the best one is removed (ties: a column before a row, then the
    earlier position). Stops when no removal raises ``s(X)`` or, if given, once ``s(X)`` reaches
    ``target_sparsity``. Each step costs O(nnz), so this is meant for matrices of up to about a
    million 1s.

    Parameters
    ----------
    X : scipy sparse matrix of shape (n_samples, n_features)
        Binary data.
    target_sparsity : float, optional
        Stop as soon as ``s(X) >= target_sparsity``.

    Returns
    -------
    rows, columns : ndarray of int
        Positions (increasing) of the rows and columns of ``X`` to keep.
    """
    if target_sparsity is not None:
        _check_target(target_sparsity)
    coo = sp.coo_array(sp.csr_array(X))
    _check_has_positives(coo.row)
    n_rows, n_columns = coo.shape
    entry_rows, entry_columns = coo.row.astype(np.int64), coo.col.astype(np.int64)
    alive = np.ones(coo.nnz, dtype=bool)
    with tqdm(desc="greedy sparsity search", unit=" removals", leave=False) as progress:
        while True:
            row_counts = np.bincount(entry_rows[alive], minlength=n_rows)
            column_counts = np.bincount(entry_columns[alive], minlength=n_columns)
            n, d, positives = np.count_nonzero(row_counts), np.count_nonzero(column_counts), alive.sum()
            current = 1.0 - positives / (n * d)
            if target_sparsity is not None and current >= target_sparsity:
                break
            # Entries that are the last 1 of their row (column) empty that row (column) on removal.
            last_of_row = alive & (row_counts[entry_rows] == 1)
            last_of_column = alive & (column_counts[entry_columns] == 1)
            rows_emptied = np.bincount(entry_columns[last_of_row], minlength=n_columns)
            columns_emptied = np.bincount(entry_rows[last_of_column], minlength=n_rows)
            with np.errstate(divide="ignore", invalid="ignore"):
                without_column = 1.0 - (positives - column_counts) / ((n - rows_emptied) * (d - 1))
                without_row = 1.0 - (positives - row_counts) / ((n - 1) * (d - columns_emptied))
            without_column[(column_counts == 0) | ~np.isfinite(without_column)] = -np.inf
            without_row[(row_counts == 0) | ~np.isfinite(without_row)] = -np.inf
            best_column, best_row = int(np.argmax(without_column)), int(np.argmax(without_row))
            if max(without_column[best_column], without_row[best_row]) <= current:
                break
            if without_column[best_column] >= without_row[best_row]:
                alive &= entry_columns != best_column
            else:
                alive &= entry_rows != best_row
            progress.set_postfix(sparsity=f"{current:.5f}", refresh=False)
            progress.update()
    rows = np.flatnonzero(np.bincount(entry_rows[alive], minlength=n_rows))
    columns = np.flatnonzero(np.bincount(entry_columns[alive], minlength=n_columns))
    return rows, columns


def reduce_sparsity(dataset, target_sparsity: float, *, name: str | None = None):
    """``dataset`` with its rarest features removed until ``s(X) <= target_sparsity``.

    See :func:`drop_rarest_features`; the rule is appended to the provenance.
    """
    rows, columns = drop_rarest_features(dataset.X, target_sparsity)
    rule = (
        f"features removed one at a time, fewest 1s first (ties: earlier column first), rows left "
        f"empty removed, until sparsity <= {target_sparsity}"
    )
    return dataset.subset(rows, columns, name=name, rule=rule)


def maximize_sparsity(dataset, target_sparsity: float | None = None, *, name: str | None = None):
    """``dataset`` reduced by :func:`greedy_maximize_sparsity`; the rule is appended to the provenance."""
    rows, columns = greedy_maximize_sparsity(dataset.X, target_sparsity)
    until = "no removal raises sparsity"
    if target_sparsity is not None:
        until = f"sparsity >= {target_sparsity} or {until}"
    rule = (
        "repeatedly removed the single row or column whose removal (with any row or column it "
        "leaves empty) raises sparsity most (ties: column before row, then earlier position), "
        f"until {until}"
    )
    return dataset.subset(rows, columns, name=name, rule=rule)


def _check_target(target_sparsity) -> None:
    if not isinstance(target_sparsity, (int, float)) or not 0 < target_sparsity < 1:
        raise ValueError(f"target_sparsity must be a number in (0, 1), e.g. 0.97; got {target_sparsity!r}.")


def _check_has_positives(positions: np.ndarray) -> None:
    if len(positions) == 0:
        raise ValueError("X has no 1s; there is no sparsity to adjust.")
