"""Conversion of 0/1 data to the canonical matrix type of ``spae_core.datasets``.

Every dataset's ``X`` is a ``scipy.sparse.csr_array`` of dtype float32 in canonical form (sorted
column indices, no duplicate entries, no stored zeros). float32 holds 0 and 1 exactly, is what
torch and scikit-learn consume without a copy, and keeps co-occurrence counts such as ``X.T @ X``
exact up to 2**24, where an 8-bit integer type would overflow silently at 255.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: dtype of every ``X`` that this package returns.
X_DTYPE = np.float32


@dataclass(frozen=True)
class NonBinaryReport:
    """Where a matrix holds values other than 0 and 1.

    Attributes
    ----------
    count : int
        Number of offending entries.
    row, column : int
        Zero-based position of the first offending entry in row-major order.
    value : float
        The value found there.
    """

    count: int
    row: int
    column: int
    value: float


def find_non_binary(X) -> NonBinaryReport | None:
    """Locate entries that are neither 0 nor 1 (NaN counts as offending).

    Parameters
    ----------
    X : scipy sparse matrix or array-like of shape (n_rows, n_columns)

    Returns
    -------
    NonBinaryReport or None
        None when every entry is 0 or 1.
    """
    if sp.issparse(X):
        csr = sp.csr_array(X)
        if not csr.has_canonical_format:
            # Duplicate entries add up on conversion to dense, so judge the summed values.
            csr = csr.copy()
            csr.sum_duplicates()
        bad = (csr.data != 0) & (csr.data != 1)
        if not bad.any():
            return None
        first = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(csr.indptr, first, side="right") - 1)
        return NonBinaryReport(int(bad.sum()), row, int(csr.indices[first]), float(csr.data[first]))
    dense = np.asarray(X)
    if dense.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got an array with {dense.ndim} dimension(s).")
    bad = (dense != 0) & (dense != 1)
    if not bad.any():
        return None
    row, column = (int(i) for i in np.argwhere(bad)[0])
    return NonBinaryReport(int(bad.sum()), row, column, float(dense[row, column]))


def to_binary_csr(X, what: str = "X") -> sp.csr_array:
    """Return ``X`` as a canonical float32 ``csr_array``, refusing values other than 0 and 1.

    Parameters
    ----------
    X : scipy sparse matrix or array-like of shape (n_rows, n_columns)
    what : str, default="X"
        How to name the input in error messages.

    Returns
    -------
    scipy.sparse.csr_array of float32

    Raises
    ------
    ValueError
        If any entry is not 0 or 1; the message gives their count and the first position.
    """
    report = find_non_binary(X)
    if report is not None:
        raise ValueError(
            f"{what} must contain only 0 and 1, but {report.count} entr"
            f"{'y is' if report.count == 1 else 'ies are'} not; the first is {report.value!r} at "
            f"row {report.row}, column {report.column} (zero-based). Binarise first, e.g. (X > 0)."
        )
    csr = sp.csr_array(X, dtype=X_DTYPE)
    if not csr.has_canonical_format or not csr.data.all():
        # The conversion may share arrays with the caller's matrix: tidy a copy, not their data.
        csr = csr.copy()
        csr.sum_duplicates()
        csr.eliminate_zeros()
    return csr
