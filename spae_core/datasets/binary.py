"""Conversion of 0/1 data to the canonical matrix type of ``spae_core.datasets``.

Every dataset's ``X`` is a ``scipy.sparse.csr_array`` of dtype float32 in canonical form (sorted
column indices, no duplicate entries, no stored zeros). float32 holds 0 and 1 exactly, is what
torch and scikit-learn consume without a copy, and keeps co-occurrence counts such as ``X.T @ X``
exact up to 2**24, where an 8-bit integer type would overflow silently at 255.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..validation import NonBinaryReport, check_binary_entries, find_non_binary

__all__ = ["X_DTYPE", "NonBinaryReport", "canonical_csr", "find_non_binary", "to_binary_csr"]

#: dtype of every ``X`` that this package returns.
X_DTYPE = np.float32


def to_binary_csr(X, what: str = "X") -> sp.csr_array:
    """Return ``X`` as a canonical float32 ``csr_array``, refusing values other than 0 and 1.

    The check is :func:`spae_core.validation.check_binary_entries`.

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
    check_binary_entries(X, what)
    return canonical_csr(X)


def canonical_csr(X) -> sp.csr_array:
    """``X`` (already checked) as a float32 ``csr_array`` with duplicates summed and no stored zeros."""
    csr = sp.csr_array(X, dtype=X_DTYPE)
    if not csr.has_canonical_format or not csr.data.all():
        # The conversion may share arrays with the caller's matrix: tidy a copy, not their data.
        csr = csr.copy()
        csr.sum_duplicates()
        csr.eliminate_zeros()
    return csr
