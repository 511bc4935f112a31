"""Checks for the input matrices every entry point takes (one concern: reject bad data loudly).

Nothing here casts, clips or drops silently: a matrix is either accepted as it is (converted to a
CSR matrix of float32 0/1 values, which is exact for 0 and 1) or rejected with a ``ValueError`` that
says what was wrong, where, and how to fix it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["MAX_EXACT_COUNT", "check_binary_matrix", "check_count_matrix"]

#: Largest count accepted: float32, the dtype the network computes in, holds every integer up to
#: 2**24 exactly and rounds some above it.
MAX_EXACT_COUNT = 2**24


def check_binary_matrix(X, name: str = "X", *, min_samples: int = 1, require_positive: bool = False) -> sp.csr_array:
    """Validate a 0/1 matrix and return it as a float32 ``scipy.sparse.csr_array``.

    Parameters
    ----------
    X : array-like or scipy sparse matrix of shape (n_samples, n_features)
        Numeric (bool, integer or float) values that are all exactly 0 or 1.
    name : str
        How the caller calls ``X``, used in error messages.
    min_samples : int, default=1
        Fewest rows accepted.
    require_positive : bool, default=False
        Reject a matrix without a single 1 (there is nothing to learn from it).

    Returns
    -------
    scipy.sparse.csr_array of float32
        Explicitly stored zeros are removed (they carry no information in a 0/1 matrix).

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, is empty, has too few rows, has a non-numeric dtype, holds NaN,
        infinite or any value other than 0 and 1, or (with ``require_positive``) has no 1.
    """
    csr, dense = _parse_matrix(X, name, "0/1")
    shape, values = _check_numeric_nonnegative(csr, dense, name, min_samples, "0/1 matrix",
                                               "the binary losses and metrics need 0/1 data.")
    not_binary = (values != 0) & (values != 1)
    if not_binary.any():
        where = _describe_bad(csr, dense, not_binary)
        raise ValueError(
            f"{name} has {int(not_binary.sum())} entries that are not 0 or 1 ({where}); the binary "
            "losses and metrics need 0/1 data. Binarise it first (e.g. (X > 0).astype(np.float32))."
        )
    if require_positive and not (values == 1).any():
        raise ValueError(f"{name} has no positive entries (all {shape[0]} x {shape[1]} values are 0); there is nothing to learn from it.")
    return _canonical_float32(csr, dense)


def check_count_matrix(X, name: str = "X", *, min_samples: int = 1, require_positive: bool = False) -> sp.csr_array:
    """Validate a matrix of non-negative integer counts and return it as a float32 ``csr_array``.

    The count counterpart of :func:`check_binary_matrix`, for the count losses.

    Parameters
    ----------
    X : array-like or scipy sparse matrix of shape (n_samples, n_features)
        Numeric (bool, integer or float) values that are all non-negative integers (floats with
        no fractional part are accepted) no larger than :data:`MAX_EXACT_COUNT`.
    name : str
        How the caller calls ``X``, used in error messages.
    min_samples : int, default=1
        Fewest rows accepted.
    require_positive : bool, default=False
        Reject a matrix of zeros only.

    Returns
    -------
    scipy.sparse.csr_array of float32
        Canonical (sorted indices, duplicates summed, explicit zeros removed); every value is
        stored exactly.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, is empty, has too few rows, has a non-numeric dtype, or holds NaN,
        infinite, negative, fractional or too large values (the message gives how many entries
        are bad and where the first one is), or (with ``require_positive``) only zeros.
    """
    csr, dense = _parse_matrix(X, name, "non-negative integer count")
    shape, values = _check_numeric_nonnegative(csr, dense, name, min_samples, "matrix of counts",
                                               "counts are non-negative integers.")
    if values.dtype.kind == "f":
        fractional = values != np.floor(values)
        if fractional.any():
            where = _describe_bad(csr, dense, fractional)
            raise ValueError(
                f"{name} has {int(fractional.sum())} entries that are not whole numbers ({where}); the "
                "count losses and metrics need integer counts. Round them yourself if that is what "
                "the data mean (e.g. np.rint(X)), or use a loss for continuous data."
            )
    too_large = values > MAX_EXACT_COUNT
    if too_large.any():
        where = _describe_bad(csr, dense, too_large)
        raise ValueError(
            f"{name} has {int(too_large.sum())} counts above {MAX_EXACT_COUNT} ({where}); float32, in which "
            "the network computes, cannot hold them exactly. Rescale or cap them explicitly."
        )
    if require_positive and not (values > 0).any():
        raise ValueError(f"{name} has no non-zero entries (all {shape[0]} x {shape[1]} values are 0); there is nothing to learn from it.")
    return _canonical_float32(csr, dense)


def _parse_matrix(X, name: str, what: str):
    """``(csr, None)`` for sparse input (canonical), ``(None, ndarray)`` for dense input."""
    if sp.issparse(X):
        csr = sp.csr_array(X)
        if not csr.has_canonical_format:
            # Duplicate entries are summed by every scipy operation: check the values they sum to.
            csr = csr.copy()
            csr.sum_duplicates()
        return csr, None
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):
        X = X.to_numpy()
    arr = np.asarray(X)
    if arr.dtype == object:
        raise ValueError(f"{name} has dtype object; pass a numeric {what} array (e.g. X.astype(np.float32)).")
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got an array with shape {arr.shape}; "
            "reshape a single sample with X.reshape(1, -1)."
        )
    return None, arr


def _describe_bad(csr, dense, mask) -> str:
    if csr is not None:
        coo = sp.coo_array(csr)
        rows, cols = coo.row[mask], coo.col[mask]
        first = np.lexsort((cols, rows))[0]
        value = coo.data[mask][first]
        return f"first at row {int(rows[first])}, column {int(cols[first])}: {float(value)!r}"
    rows, cols = np.nonzero(mask)
    return f"first at row {int(rows[0])}, column {int(cols[0])}: {dense[rows[0], cols[0]].item()!r}"


def _check_numeric_nonnegative(csr, dense, name: str, min_samples: int, kind: str, negative_hint: str):
    """Checks shared by the 0/1 and the count validators; returns the stored values."""
    shape = csr.shape if csr is not None else dense.shape
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {shape}); it needs at least one sample and one feature.")
    if shape[0] < min_samples:
        raise ValueError(f"{name} has {shape[0]} samples; at least {min_samples} are needed.")
    values = csr.data if csr is not None else dense
    if values.dtype.kind not in "biuf":
        raise ValueError(f"{name} has dtype {values.dtype}; pass a numeric {kind}.")
    if values.dtype.kind == "f":
        non_finite = ~np.isfinite(values)
        if non_finite.any():
            where = _describe_bad(csr, dense, non_finite)
            raise ValueError(
                f"{name} has {int(non_finite.sum())} NaN or infinite entries ({where}); "
                "remove or impute them before training."
            )
    negative = values < 0
    if negative.any():
        where = _describe_bad(csr, dense, negative)
        raise ValueError(
            f"Negative values in data: {name} has {int(negative.sum())} entries below 0 ({where}); {negative_hint}"
        )
    return shape, values


def _canonical_float32(csr, dense) -> sp.csr_array:
    """The validated matrix as a float32 csr_array without explicit zeros, indices sorted."""
    if csr is None:
        csr = sp.csr_array(dense)
    csr = csr.astype(np.float32, copy=csr.dtype != np.float32)
    csr.eliminate_zeros()
    csr.sort_indices()
    return csr
