"""Checks of the inputs every entry point takes (one concern: reject bad data loudly).

Nothing here casts, clips or drops silently: an input is either accepted as it is or rejected
with a ``ValueError`` that says what was wrong, where (how many entries, and the first one in
row-major order), and how to fix it. Every check of "0/1 or counts" in the package lives here:

* :func:`check_binary_matrix`, :func:`check_count_matrix`: matrices that the losses, the training
  loop and the estimator take, returned as float32 CSR arrays;
* :func:`find_non_binary`, :func:`check_binary_entries`, :func:`check_count_entries`: the
  entries of a dataset's ``X`` (``spae_core.datasets``);
* :func:`as_matrix`, :func:`as_vector` and the ``check_*`` value and parameter checks that the
  metrics (``spae_core.metrics``) run at their boundary;
* :func:`check_binary_target`, :func:`check_count_target`: the torch targets a loss module
  receives (``spae_core.losses``).

All of them locate bad entries with :func:`first_offender`. :data:`MAX_EXACT_COUNT` (2**24) is
the one definition of the float32 exactness limit. This module is of the bottom layer: it imports
nothing else from the package, and torch only inside the checks of torch tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "MAX_EXACT_COUNT",
    "NonBinaryReport",
    "as_matrix",
    "as_vector",
    "check_binary_entries",
    "check_binary_matrix",
    "check_binary_target",
    "check_binary_values",
    "check_count_entries",
    "check_count_matrix",
    "check_count_target",
    "check_count_values",
    "check_finite",
    "check_int",
    "check_non_negative",
    "check_numeric_dtype",
    "check_probabilities",
    "check_real",
    "check_same_n_samples",
    "check_same_shape",
    "check_threshold",
    "find_non_binary",
    "first_offender",
    "is_binary",
]

#: Largest count accepted, and the float32 exactness limit everywhere in the package: float32,
#: the dtype the network computes in, holds every integer up to 2**24 exactly and rounds some
#: above it (so co-occurrence counts and squared distances of 0/1 rows are exact below it).
MAX_EXACT_COUNT = 2**24


# --------------------------------------------------------------------------------------------
# Locating bad entries
# --------------------------------------------------------------------------------------------


def _not_binary(values):
    """Mask of the values that are neither 0 nor 1 (NaN included)."""
    return (values != 0) & (values != 1)


def _summed_csr(X) -> sp.csr_array:
    """A sparse matrix as a CSR array whose duplicate entries are summed (the caller's untouched).

    Duplicate entries are summed by every scipy operation: the checks judge the values they sum to.
    """
    csr = sp.csr_array(X)
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
    return csr


def _locate(A, bad) -> tuple[int, tuple[int, int | None] | None, Any]:
    """Count the True entries of ``bad`` and locate the first one in row-major order.

    ``bad`` is a mask over the stored values of a sparse ``A`` (in CSR/COO order) or over the
    entries of a dense ``A`` (1-D or 2-D). Returns ``(count, (row, column) or None, value)``;
    the column is None for a 1-D ``A``.
    """
    count = int(np.count_nonzero(bad))
    if count == 0:
        return 0, None, None
    if sp.issparse(A):
        coo = sp.coo_array(A)
        rows, cols, values = coo.row[bad], coo.col[bad], coo.data[bad]
        first = np.lexsort((cols, rows))[0]
        return count, (int(rows[first]), int(cols[first])), values[first]
    flat = int(np.argmax(bad.ravel()))
    location = np.unravel_index(flat, A.shape)
    location = (int(location[0]), int(location[1])) if A.ndim == 2 else (int(location[0]), None)
    return count, location, A.ravel()[flat]


def first_offender(A, is_bad) -> tuple[int, tuple[int, int | None] | None, Any]:
    """Count the entries of ``A`` for which ``is_bad(values)`` holds and locate the first one.

    ``is_bad`` must be False for 0, so the implicit zeros of a sparse matrix never offend and
    only its stored values need checking. Returns ``(count, (row, column) or None, value)``;
    "first" is in row-major order, and the column is None for a 1-D ``A``.
    """
    if sp.issparse(A):
        return _locate(A, is_bad(sp.coo_array(A).data))
    return _locate(A, is_bad(A))


def _where(location: tuple[int, int | None]) -> str:
    row, column = location
    return f"row {row}" if column is None else f"row {row}, column {column}"


# --------------------------------------------------------------------------------------------
# Matrices the losses, the training loop and the estimator take
# --------------------------------------------------------------------------------------------


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
    not_binary = _not_binary(values)
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
        return _summed_csr(X), None
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
    _, (row, column), value = _locate(csr if csr is not None else dense, mask)
    value = float(value) if csr is not None else value.item()
    return f"first at row {row}, column {column}: {value!r}"


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


# --------------------------------------------------------------------------------------------
# Entries of a dataset's X (spae_core.datasets)
# --------------------------------------------------------------------------------------------


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


def _dataset_matrix(X, prefix: str = ""):
    """The matrix to check: a sparse ``X`` with its duplicates summed, else ``X`` as a 2-D ndarray."""
    if sp.issparse(X):
        return _summed_csr(X)
    A = np.asarray(X)
    if A.ndim != 2:
        raise ValueError(f"{prefix}expected a 2-D matrix, got an array with {A.ndim} dimension(s).")
    return A


def find_non_binary(X) -> NonBinaryReport | None:
    """Locate entries that are neither 0 nor 1 (NaN counts as offending).

    Parameters
    ----------
    X : scipy sparse matrix or array-like of shape (n_rows, n_columns)
        Duplicate entries of a sparse matrix are judged by the value they sum to.

    Returns
    -------
    NonBinaryReport or None
        None when every entry is 0 or 1.
    """
    count, location, value = first_offender(_dataset_matrix(X), _not_binary)
    if count == 0:
        return None
    return NonBinaryReport(count, location[0], location[1], float(value))


def _entries_error(what: str, kind: str, count: int, row: int, column: int, value: float, hint: str = "") -> ValueError:
    return ValueError(
        f"{what} must contain only {kind}, but {count} entr{'y is' if count == 1 else 'ies are'} not; "
        f"the first is {value!r} at row {row}, column {column} (zero-based).{hint}"
    )


def check_binary_entries(X, what: str = "X") -> None:
    """Refuse a dataset matrix with values other than 0 and 1 (NaN included).

    Raises
    ------
    ValueError
        If ``X`` is not 2-D or any entry is not 0 or 1; the message gives their count and the
        first position.
    """
    report = find_non_binary(X)
    if report is not None:
        raise _entries_error(what, "0 and 1", report.count, report.row, report.column, report.value,
                             " Binarise first, e.g. (X > 0).")


def _not_a_count(values):
    """Mask of the values that are negative, fractional, NaN, infinite or above MAX_EXACT_COUNT."""
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(values) | (values < 0) | (values != np.floor(values)) | (values > MAX_EXACT_COUNT)


def check_count_entries(X, what: str = "X"):
    """Refuse a dataset matrix with anything but non-negative integer counts.

    Returns
    -------
    scipy.sparse.csr_array or the input
        A sparse ``X`` with its duplicate entries summed (the values that were checked); a dense
        ``X`` as it was passed.

    Raises
    ------
    ValueError
        If ``X`` is not a numeric 2-D matrix, or any entry is negative, fractional, NaN, infinite
        or above :data:`MAX_EXACT_COUNT`; the message gives how many and the first position.
    """
    A = _dataset_matrix(X, f"{what}: ")
    if not sp.issparse(A) and A.dtype.kind not in "biuf":
        raise ValueError(f"{what} has dtype {A.dtype}; pass a numeric matrix of counts.")
    count, location, value = first_offender(A, _not_a_count)
    if count:
        raise _entries_error(what, f"non-negative integer counts (at most {MAX_EXACT_COUNT})", count,
                             location[0], location[1], float(value))
    return A if sp.issparse(X) else X


# --------------------------------------------------------------------------------------------
# Arrays the metrics take (spae_core.metrics)
# --------------------------------------------------------------------------------------------


def check_numeric_dtype(name: str, dtype: np.dtype) -> None:
    if dtype.kind not in "biuf":
        raise ValueError(
            f"{name} has dtype {dtype}; pass a real-valued numeric array (bool, int or float)."
        )


def check_finite(name: str, A) -> None:
    dtype = A.dtype
    if dtype.kind != "f":
        return
    count, location, value = first_offender(A, lambda v: ~np.isfinite(v))
    if count:
        raise ValueError(
            f"{name} has {count} NaN or infinite entries (first at {_where(location)}: {value}); "
            f"remove or impute them before evaluating."
        )


def as_matrix(name: str, A, *, allow_sparse: bool = True):
    """Validate a 2-D, non-empty, numeric, finite matrix; return it as an ndarray or CSR array.

    Dense input is not copied or cast; sparse input is converted to CSR (values unchanged).
    """
    if sp.issparse(A):
        if not allow_sparse:
            raise ValueError(
                f"{name} is a sparse matrix but must be dense here; pass {name}.toarray()."
            )
        A = sp.csr_array(A)
    else:
        A = np.asarray(A)
    check_numeric_dtype(name, A.dtype)
    if A.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features), got shape {A.shape}; "
            f"reshape it, e.g. {name}.reshape(-1, 1) for a single feature."
        )
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {A.shape}); it needs samples and features.")
    check_finite(name, A)
    return A


def as_vector(name: str, y) -> np.ndarray:
    """Validate a 1-D, non-empty, numeric, finite vector."""
    if sp.issparse(y):
        raise ValueError(f"{name} must be a dense 1-D array, got a sparse matrix.")
    y = np.asarray(y)
    check_numeric_dtype(name, y.dtype)
    if y.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D of shape (n_samples,), got shape {y.shape}; "
            f"pass {name}.ravel() if it is a single column."
        )
    if y.shape[0] == 0:
        raise ValueError(f"{name} is empty; it needs one value per sample.")
    check_finite(name, y)
    return y


def is_binary(A) -> bool:
    """Whether every entry of ``A`` (a bool, numeric or sparse matrix) is 0 or 1."""
    values = A.data if sp.issparse(A) else A
    return A.dtype.kind == "b" or bool(np.all((values == 0) | (values == 1)))


def check_binary_values(name: str, A) -> None:
    """Refuse metric input with entries other than 0 and 1 (a bool array always passes)."""
    if A.dtype.kind == "b":
        return
    count, location, value = first_offender(A, _not_binary)
    if count:
        raise ValueError(
            f"{name} has {count} entries that are not 0 or 1 (first at {_where(location)}: "
            f"{value}); binarise it first, e.g. ({name} > 0).astype(np.int8)."
        )


def check_probabilities(name: str, P) -> None:
    if P.dtype.kind == "b":
        return
    count, location, value = first_offender(P, lambda v: (v < 0) | (v > 1))
    if count:
        raise ValueError(
            f"{name} has {count} entries outside [0, 1] (first at {_where(location)}: {value}); "
            f"pass probabilities, e.g. apply a sigmoid to logits."
        )


def check_count_values(name: str, A) -> None:
    """Refuse metric input with entries that are not non-negative integers."""
    count, location, value = first_offender(A, lambda v: (v < 0) | (v != np.floor(v)))
    if count:
        raise ValueError(
            f"{name} has {count} entries that are not non-negative integers (first at "
            f"{_where(location)}: {value}); pass the observed counts."
        )


def check_non_negative(name: str, A) -> None:
    count, location, value = first_offender(A, lambda v: v < 0)
    if count:
        raise ValueError(
            f"{name} has {count} negative entries (first at {_where(location)}: {value}); pass "
            f"predicted counts or means, which are >= 0 (e.g. SparseAutoencoder.predict_mean)."
        )


def check_same_shape(name_a: str, A, name_b: str, B) -> None:
    if A.shape != B.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {name_a} {A.shape} and "
            f"{name_b} {B.shape}."
        )


def check_same_n_samples(name_a: str, A, name_b: str, B) -> None:
    if A.shape[0] != B.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have one row per sample, the same samples in the same "
            f"order; got {A.shape[0]} rows in {name_a} and {B.shape[0]} in {name_b}."
        )


def check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    return int(value)


def check_real(name: str, value, *, low: float, high: float, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}.")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        interval = f"{'(' if low_open else '['}{low}, {high}]"
        raise ValueError(f"{name} must lie in {interval}, got {value}.")
    return float(value)


def check_threshold(threshold, n_features: int) -> np.ndarray:
    """Return the threshold as a float64 array of shape () or (n_features,)."""
    t = np.asarray(threshold)
    if t.ndim == 0:
        return np.asarray(check_real("threshold", t.item(), low=0.0, high=1.0), dtype=np.float64)
    check_numeric_dtype("threshold", t.dtype)
    if t.shape != (n_features,):
        raise ValueError(
            f"threshold must be a scalar or one value per feature (shape ({n_features},)), "
            f"got shape {t.shape}."
        )
    count, location, value = first_offender(
        t.astype(np.float64), lambda v: ~np.isfinite(v) | (v < 0) | (v > 1)
    )
    if count:
        raise ValueError(
            f"threshold has {count} values that are not finite numbers in [0, 1] "
            f"(first at feature {location[0]}: {value})."
        )
    return t.astype(np.float64)


# --------------------------------------------------------------------------------------------
# Torch targets of the loss modules (spae_core.losses)
# --------------------------------------------------------------------------------------------


def check_binary_target(logits, target, name: str) -> None:
    """Refuse a loss target that is not a 0/1 tensor shaped like the logits.

    A dense (strided) target must be floating point and hold only 0 and 1; a sparse CSR target
    must be 2-D, have the logits' dtype and store only 1s.
    """
    import torch

    if target.layout == torch.sparse_csr:
        _check_sparse_binary_target(logits, target, name)
        return
    if target.layout != torch.strided:
        raise ValueError(f"{name}: the target has layout {target.layout}; pass a dense tensor or a sparse CSR one.")
    _check_dense_target(
        logits, target, name, outputs="logits", kind="0s and 1s",
        is_bad=lambda t: ~((t == 0) | (t == 1)), bad_kind="not 0 or 1",
        hint="this loss needs binary targets. Binarise the data first, or use a count loss for counts.",
    )


def check_count_target(logits, target, name: str) -> None:
    """Refuse a loss target that is not a floating-point tensor of non-negative integer counts."""
    import torch

    _check_dense_target(
        logits, target, name, outputs="outputs", kind="counts",
        is_bad=lambda t: ~(torch.isfinite(t) & (t >= 0) & (t == torch.round(t))),
        bad_kind="not non-negative integers", hint="this loss needs counts.",
    )


def _check_dense_target(logits, target, name: str, *, outputs: str, kind: str, is_bad, bad_kind: str,
                        hint: str) -> None:
    """Shape, dtype and values of a dense target; the first bad entry by its index."""
    import torch

    if logits.shape != target.shape:
        raise ValueError(
            f"{name}: {outputs} have shape {tuple(logits.shape)} but the target has shape "
            f"{tuple(target.shape)}; they must match entry for entry."
        )
    if not torch.is_floating_point(target):
        raise ValueError(
            f"{name}: the target has dtype {target.dtype}; pass a floating-point tensor of {kind} "
            "(e.g. target.float())."
        )
    bad = is_bad(target)
    n_bad = int(bad.sum())
    if n_bad:
        first = tuple(int(i) for i in bad.nonzero()[0].tolist())
        raise ValueError(
            f"{name}: the target has {n_bad} entries that are {bad_kind} (first at index {first}, "
            f"value {target[first].item()!r}); {hint}"
        )


def _check_sparse_binary_target(logits, target, name: str) -> None:
    if logits.ndim != 2 or tuple(logits.shape) != tuple(target.shape):
        raise ValueError(
            f"{name}: logits have shape {tuple(logits.shape)} but the sparse target has shape "
            f"{tuple(target.shape)}; they must match entry for entry."
        )
    if target.dtype != logits.dtype:
        raise ValueError(f"{name}: the sparse target has dtype {target.dtype} but the logits {logits.dtype}; "
                         "they must match.")
    # A stored entry is a positive: a stored 0 would be counted as a 1, so none may be stored.
    n_bad = int((target.values() != 1).sum())
    if n_bad:
        raise ValueError(
            f"{name}: the sparse target stores {n_bad} values other than 1; a sparse binary target "
            "stores only its 1s. Drop stored zeros (scipy: X.eliminate_zeros()) or binarise the data."
        )
