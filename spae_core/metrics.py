"""Evaluation metrics of the replication (Section 4.2 and Appendix C of the paper).

Every metric is a pure function of arrays (dense NumPy arrays or SciPy sparse matrices) that
returns numbers. Inputs are validated at the boundary: malformed input raises a ``ValueError``
that says what is wrong, where, and how to fix it; input on which a metric is merely undefined
(no positive label, a single cluster, ...) gives NaN and an :class:`UndefinedMetricWarning`.
Nothing is silently clipped or cast.

The paper leaves several choices open. Each one is a parameter with a stated default here, and
the docstring of each function explains the choice:

* Reconstructions are probabilities in [0, 1] (apply a sigmoid to logits first). They are
  binarised as ``P > threshold`` (strict, as in the paper's "x_hat > t = 0.5").
* Average precision is scikit-learn's step-function AP (no interpolation), per feature, averaged
  over the features that have at least one positive.
* Trustworthiness ranks tied input-space distances by (distance, row index), which reproduces
  scikit-learn with a stable sort exactly.
* DBSCAN's ``eps`` defaults to the knee of the sorted k-distance curve; sparsity groups are ten
  equal-width bins over the observed range of per-sample sparsity.
* Downstream models: ordinary least squares (R^2) and L2-regularised logistic regression with
  ``C=1`` on standardised features (average precision per label).
* Count reconstructions are rounded half up and scored separately on the non-zero and the zero
  entries (:func:`count_reconstruction`); code sparsity is Hoyer's index by default
  (:func:`code_sparsity`).

This module is the bottom layer of ``spae_core``: it imports nothing else from the package.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import DBSCAN
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import average_precision_score as _sklearn_average_precision
from sklearn.metrics import calinski_harabasz_score, r2_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

__all__ = [
    "AveragePrecisionResult",
    "CodeSparsityResult",
    "ContingencyResult",
    "CountReconstructionResult",
    "DBSCANClusteringResult",
    "ReconstructionDistribution",
    "SparsityGroupingResult",
    "UndefinedMetricWarning",
    "average_precision",
    "calinski_harabasz_dbscan",
    "calinski_harabasz_sparsity",
    "code_sparsity",
    "contingency_score",
    "count_reconstruction",
    "downstream_classification",
    "downstream_regression",
    "reconstruction_distribution",
    "trustworthiness",
]

# Working-memory target for the chunked computations. The chunk sizes follow from it, so peak
# memory stays bounded whatever the number of samples or features.
_WORKING_MEMORY_BYTES = 256 * 2**20

# Counts of 0/1 products are integers; float32 holds every integer below 2**24 exactly, so
# co-occurrence counts and squared distances between binary rows are exact in float32 up to there.
_FLOAT32_EXACT_INTEGER_LIMIT = 2**24

# Below this density an indicator matrix is kept in sparse (CSC/CSR) form for products.
_SPARSE_DENSITY_LIMIT = 0.05


# --------------------------------------------------------------------------------------------
# Result containers
# --------------------------------------------------------------------------------------------


class _HasScore:
    """Lets a result be used where a number is expected: ``float(result) == result.score``."""

    score: float

    def __float__(self) -> float:
        return float(self.score)


@dataclass(frozen=True, eq=False)
class AveragePrecisionResult(_HasScore):
    """Average precision of a reconstruction.

    Attributes
    ----------
    score : float
        The averaged AP (``average="macro"``: mean of ``per_feature`` over the features used;
        ``average="micro"``: AP of all entries pooled).
    average : str
        ``"macro"`` or ``"micro"``.
    n_features_used : int
        Features with at least one positive; the macro average is over these.
    n_skipped : int
        Features without any positive, whose AP is undefined (NaN in ``per_feature``).
    per_feature : ndarray of shape (n_features,)
        AP of every feature, NaN where the feature has no positive.
    """

    score: float
    average: str
    n_features_used: int
    n_skipped: int
    per_feature: np.ndarray


@dataclass(frozen=True, eq=False)
class ContingencyResult(_HasScore):
    """Pairwise contingency score of a reconstruction (Eq. 9).

    Attributes
    ----------
    score : float
        Mean of the per-pair scores over the pairs that are defined.
    n_pairs_used : int
        Feature pairs ``j < k`` with at least one row where the real data has ``j`` or ``k``.
    n_pairs_undefined : int
        Pairs with no such row (neither feature ever occurs); they are excluded from the mean.
    pair_scores : ndarray of shape (n_features, n_features) or None
        Symmetric float64 matrix of per-pair scores (NaN on the diagonal and for undefined
        pairs), or None unless ``return_pair_scores=True``.
    """

    score: float
    n_pairs_used: int
    n_pairs_undefined: int
    pair_scores: np.ndarray | None


@dataclass(frozen=True, eq=False)
class DBSCANClusteringResult(_HasScore):
    """Calinski-Harabasz score of DBSCAN clusters of the embeddings.

    Attributes
    ----------
    score : float
        CH score of the non-noise points grouped by cluster; NaN when undefined.
    n_clusters : int
        Clusters found, noise excluded.
    eps : float
        The DBSCAN radius used (given, or chosen by the k-distance knee).
    noise_fraction : float
        Fraction of samples DBSCAN labelled as noise (excluded from the score).
    labels : ndarray of shape (n_samples,)
        DBSCAN labels, ``-1`` for noise.
    """

    score: float
    n_clusters: int
    eps: float
    noise_fraction: float
    labels: np.ndarray


@dataclass(frozen=True, eq=False)
class SparsityGroupingResult(_HasScore):
    """Calinski-Harabasz score of the embeddings grouped by per-sample sparsity.

    Attributes
    ----------
    score : float
        CH score over the non-empty sparsity bins; NaN when undefined.
    n_groups : int
        Non-empty bins.
    bin_edges : ndarray of shape (n_bins + 1,)
        Edges of the equal-width bins (as ``np.histogram_bin_edges``).
    group_sizes : ndarray of shape (n_bins,)
        Samples per bin, empty bins included (equals ``np.histogram(sparsity, bin_edges)[0]``).
    sparsity : ndarray of shape (n_samples,)
        Fraction of zero entries in each row of ``X``.
    labels : ndarray of shape (n_samples,)
        Bin index of every sample.
    """

    score: float
    n_groups: int
    bin_edges: np.ndarray
    group_sizes: np.ndarray
    sparsity: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True, eq=False)
class ReconstructionDistribution:
    """Histogram of reconstructed probabilities (the data of Figure 3).

    Attributes
    ----------
    bin_edges : ndarray of shape (bins + 1,)
        Equal-width edges over [0, 1].
    density : ndarray of shape (bins,)
        Probability density per bin (integrates to 1, as ``np.histogram(..., density=True)``).
    mass_above_threshold : float
        Fraction of entries with ``P > threshold``.
    threshold : float
        The threshold used.
    n_entries : int
        Number of entries of ``P`` (implicit zeros of a sparse ``P`` included).
    """

    bin_edges: np.ndarray
    density: np.ndarray
    mass_above_threshold: float
    threshold: float
    n_entries: int


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


def _warn_undefined(message: str) -> None:
    warnings.warn(message, UndefinedMetricWarning, stacklevel=3)


def _first_offender(A, is_bad) -> tuple[int, tuple[int, int] | None, Any]:
    """Count the entries of ``A`` for which ``is_bad(values)`` holds and locate the first one.

    ``is_bad`` must be False for 0, so the implicit zeros of a sparse matrix never offend and
    only its stored values need checking. Returns ``(count, (row, column) or None, value)``;
    "first" is in row-major order.
    """
    if sp.issparse(A):
        coo = sp.coo_array(A)
        bad = is_bad(coo.data)
        count = int(np.count_nonzero(bad))
        if count == 0:
            return 0, None, None
        rows, cols, values = coo.row[bad], coo.col[bad], coo.data[bad]
        first = np.lexsort((cols, rows))[0]
        return count, (int(rows[first]), int(cols[first])), values[first]
    bad = is_bad(A)
    count = int(np.count_nonzero(bad))
    if count == 0:
        return 0, None, None
    flat = int(np.argmax(bad.ravel()))
    location = np.unravel_index(flat, A.shape)
    location = (int(location[0]), int(location[1])) if A.ndim == 2 else (int(location[0]), None)
    return count, location, A.ravel()[flat]


def _where(location: tuple[int, int | None]) -> str:
    row, column = location
    return f"row {row}" if column is None else f"row {row}, column {column}"


def _check_numeric_dtype(name: str, dtype: np.dtype) -> None:
    if dtype.kind not in "biuf":
        raise ValueError(
            f"{name} has dtype {dtype}; pass a real-valued numeric array (bool, int or float)."
        )


def _check_finite(name: str, A) -> None:
    dtype = A.dtype
    if dtype.kind != "f":
        return
    count, location, value = _first_offender(A, lambda v: ~np.isfinite(v))
    if count:
        raise ValueError(
            f"{name} has {count} NaN or infinite entries (first at {_where(location)}: {value}); "
            f"remove or impute them before evaluating."
        )


def _as_matrix(name: str, A, *, allow_sparse: bool = True):
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
    _check_numeric_dtype(name, A.dtype)
    if A.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features), got shape {A.shape}; "
            f"reshape it, e.g. {name}.reshape(-1, 1) for a single feature."
        )
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {A.shape}); it needs samples and features.")
    _check_finite(name, A)
    return A


def _as_vector(name: str, y) -> np.ndarray:
    """Validate a 1-D, non-empty, numeric, finite vector."""
    if sp.issparse(y):
        raise ValueError(f"{name} must be a dense 1-D array, got a sparse matrix.")
    y = np.asarray(y)
    _check_numeric_dtype(name, y.dtype)
    if y.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D of shape (n_samples,), got shape {y.shape}; "
            f"pass {name}.ravel() if it is a single column."
        )
    if y.shape[0] == 0:
        raise ValueError(f"{name} is empty; it needs one value per sample.")
    _check_finite(name, y)
    return y


def _check_binary(name: str, A) -> None:
    if A.dtype.kind == "b":
        return
    count, location, value = _first_offender(A, lambda v: (v != 0) & (v != 1))
    if count:
        raise ValueError(
            f"{name} has {count} entries that are not 0 or 1 (first at {_where(location)}: "
            f"{value}); binarise it first, e.g. ({name} > 0).astype(np.int8)."
        )


def _check_probabilities(name: str, P) -> None:
    if P.dtype.kind == "b":
        return
    count, location, value = _first_offender(P, lambda v: (v < 0) | (v > 1))
    if count:
        raise ValueError(
            f"{name} has {count} entries outside [0, 1] (first at {_where(location)}: {value}); "
            f"pass probabilities, e.g. apply a sigmoid to logits."
        )


def _check_same_shape(name_a: str, A, name_b: str, B) -> None:
    if A.shape != B.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {name_a} {A.shape} and "
            f"{name_b} {B.shape}."
        )


def _check_same_n_samples(name_a: str, A, name_b: str, B) -> None:
    if A.shape[0] != B.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have one row per sample, the same samples in the same "
            f"order; got {A.shape[0]} rows in {name_a} and {B.shape[0]} in {name_b}."
        )


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    return int(value)


def _check_real(name: str, value, *, low: float, high: float, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}.")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        interval = f"{'(' if low_open else '['}{low}, {high}]"
        raise ValueError(f"{name} must lie in {interval}, got {value}.")
    return float(value)


def _check_threshold(threshold, n_features: int) -> np.ndarray:
    """Return the threshold as a float64 array of shape () or (n_features,)."""
    t = np.asarray(threshold)
    if t.ndim == 0:
        return np.asarray(_check_real("threshold", t.item(), low=0.0, high=1.0), dtype=np.float64)
    _check_numeric_dtype("threshold", t.dtype)
    if t.shape != (n_features,):
        raise ValueError(
            f"threshold must be a scalar or one value per feature (shape ({n_features},)), "
            f"got shape {t.shape}."
        )
    count, location, value = _first_offender(
        t.astype(np.float64), lambda v: ~np.isfinite(v) | (v < 0) | (v > 1)
    )
    if count:
        raise ValueError(
            f"threshold has {count} values that are not finite numbers in [0, 1] "
            f"(first at feature {location[0]}: {value})."
        )
    return t.astype(np.float64)


# --------------------------------------------------------------------------------------------
# Small array helpers
# --------------------------------------------------------------------------------------------


def _dense_columns(A, start: int, stop: int) -> np.ndarray:
    """Columns ``start:stop`` of a dense or sparse matrix as a dense array."""
    block = A[:, start:stop]
    return block.toarray() if sp.issparse(block) else np.asarray(block)


def _nonzero_per_row(A) -> np.ndarray:
    """Entries that are not zero in every row (explicitly stored zeros of sparse input ignored)."""
    if sp.issparse(A):
        rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
        return np.bincount(rows[A.data != 0], minlength=A.shape[0])
    return np.count_nonzero(A, axis=1)


def _values_at(A, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Entries ``A[rows[i], cols[i]]`` of a dense array or a sparse (CSC/CSR) array."""
    return np.asarray(A[rows, cols]).ravel()


def _positive_entries(X_true) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the ones of a 0/1 matrix, sorted by column then row."""
    if sp.issparse(X_true):
        coo = sp.coo_array(X_true)
        keep = coo.data != 0
        rows, cols = coo.row[keep].astype(np.intp), coo.col[keep].astype(np.intp)
        order = np.lexsort((rows, cols))
        return rows[order], cols[order]
    cols, rows = np.nonzero(np.asarray(X_true).T)
    return rows, cols


def _segment_search(
    sorted_values: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    targets: np.ndarray,
    side: str = "left",
) -> np.ndarray:
    """``np.searchsorted`` of each target inside its own sorted segment ``[start, stop)``.

    Returns absolute indices into ``sorted_values``: the first ``i`` in the segment with
    ``sorted_values[i] >= target`` (``side="left"``) or ``> target`` (``side="right"``), or
    ``stop`` if there is none. A binary search over all segments at once: it replaces a Python
    loop of ``np.searchsorted`` calls, one per segment.
    """
    lo = start.astype(np.intp, copy=True)
    hi = stop.astype(np.intp, copy=True)
    last = sorted_values.size - 1
    go_right = np.less if side == "left" else np.less_equal
    active = lo < hi
    while active.any():
        mid = (lo + hi) // 2
        right = go_right(sorted_values[np.minimum(mid, last)], targets)
        lo = np.where(active & right, mid + 1, lo)
        hi = np.where(active & ~right, mid, hi)
        active = lo < hi
    return lo


# --------------------------------------------------------------------------------------------
# 1. Average precision
# --------------------------------------------------------------------------------------------


def _average_precision_of_segments(
    sorted_scores: np.ndarray,
    segment_length: int,
    segment_of_positive: np.ndarray,
    positive_scores: np.ndarray,
    n_segments: int,
) -> np.ndarray:
    """AP of each segment (column) of ``sorted_scores``, exactly as scikit-learn defines it.

    scikit-learn's AP is ``sum_tau (R(tau) - R(tau_prev)) P(tau)`` over the distinct scores
    ``tau`` (tied scores form one threshold). Recall rises only at the scores of positives, by
    ``1 / n_pos`` per positive, so AP = ``mean over positives i of P(s_i)`` with
    ``P(s) = #positives with score >= s / #entries with score >= s``. Both counts come from
    binary searches in sorted arrays; no per-column loop and no argsort are needed.
    """
    seg_start = segment_of_positive * segment_length
    n_at_or_above = seg_start + segment_length - _segment_search(
        sorted_scores, seg_start, seg_start + segment_length, positive_scores
    )
    order = np.lexsort((positive_scores, segment_of_positive))
    sorted_positive_scores = positive_scores[order]
    n_positives = np.bincount(segment_of_positive, minlength=n_segments)
    pos_stop = np.cumsum(n_positives)
    pos_start = pos_stop - n_positives
    positives_at_or_above = pos_stop[segment_of_positive] - _segment_search(
        sorted_positive_scores,
        pos_start[segment_of_positive],
        pos_stop[segment_of_positive],
        positive_scores,
    )
    precision = positives_at_or_above / n_at_or_above
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.bincount(segment_of_positive, weights=precision, minlength=n_segments) / (
            n_positives
        )


def average_precision(X_true, P, average: str = "macro") -> AveragePrecisionResult:
    """Average precision (AP) of reconstructed probabilities against the binary data.

    Each feature is a binary classification problem whose scores are the reconstructed
    probabilities (Appendix C). The AP is scikit-learn's uninterpolated step-function AP,
    ``sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds; tied scores form one
    threshold, as in :func:`sklearn.metrics.precision_recall_curve`. The result equals
    ``sklearn.metrics.average_precision_score`` per column (to rounding, ~1e-15), but it is
    computed with one sort per column and vectorised binary searches instead of a Python loop.

    Parameters
    ----------
    X_true : {array-like, sparse matrix} of shape (n_samples, n_features)
        The real data; every entry must be 0 or 1.
    P : {array-like, sparse matrix} of shape (n_samples, n_features)
        Reconstructed probabilities in [0, 1] (apply a sigmoid to logits first).
    average : {"macro", "micro"}, default="macro"
        ``"macro"`` (the paper's reading of Appendix C): mean of the per-feature APs over the
        features that have at least one positive. A feature with no positive has an undefined
        AP; it is skipped and counted in ``n_skipped`` (no warning: in a sparse test split this
        is expected, and the count is reported). ``"micro"``: AP of all entries pooled, as
        ``average_precision_score(X_true, P, average="micro")``.

    Returns
    -------
    AveragePrecisionResult
        ``.score``, ``.n_features_used``, ``.n_skipped`` and ``.per_feature`` (always the
        per-feature APs, whatever ``average``). ``float(result)`` is the score.

    Warns
    -----
    UndefinedMetricWarning
        When no entry of ``X_true`` is 1: the score is NaN.
    """
    if average not in ("macro", "micro"):
        raise ValueError(f'average must be "macro" or "micro", got {average!r}.')
    X_true = _as_matrix("X_true", X_true)
    P = _as_matrix("P", P)
    _check_same_shape("X_true", X_true, "P", P)
    _check_binary("X_true", X_true)
    _check_probabilities("P", P)
    n_samples, n_features = P.shape
    if sp.issparse(P):
        P = P.tocsc()

    pos_rows, pos_cols = _positive_entries(X_true)
    per_feature = np.full(n_features, np.nan)
    # One sorted chunk of columns costs n_samples * chunk * itemsize bytes.
    chunk = max(1, _WORKING_MEMORY_BYTES // (n_samples * 8))
    boundaries = np.searchsorted(pos_cols, np.arange(0, n_features + chunk, chunk))
    for first_col, lo, hi in zip(range(0, n_features, chunk), boundaries[:-1], boundaries[1:]):
        last_col = min(first_col + chunk, n_features)
        scores = np.sort(_dense_columns(P, first_col, last_col).T, axis=1)
        rows, cols = pos_rows[lo:hi], pos_cols[lo:hi]
        per_feature[first_col:last_col] = _average_precision_of_segments(
            scores.ravel(),
            n_samples,
            cols - first_col,
            _values_at(P, rows, cols),
            last_col - first_col,
        )

    used = ~np.isnan(per_feature)
    n_used = int(np.count_nonzero(used))
    if pos_rows.size == 0:
        _warn_undefined("average precision is undefined: X_true has no entry equal to 1.")
        score = np.nan
    elif average == "macro":
        score = float(np.mean(per_feature[used]))
    else:
        pooled = _dense_columns(P, 0, n_features).ravel()
        score = float(
            _average_precision_of_segments(
                np.sort(pooled),
                pooled.size,
                np.zeros(pos_rows.size, dtype=np.intp),
                _values_at(P, pos_rows, pos_cols),
                1,
            )[0]
        )
    return AveragePrecisionResult(
        score=score,
        average=average,
        n_features_used=n_used,
        n_skipped=n_features - n_used,
        per_feature=per_feature,
    )


# --------------------------------------------------------------------------------------------
# 2. Pairwise contingency score
# --------------------------------------------------------------------------------------------


def _indicator(A, *, dense: bool | None = None) -> np.ndarray | sp.csc_array:
    """A 0/1 float32 indicator of the non-zero entries of ``A``, in the cheaper form for products.

    ``dense=None`` chooses: sparse (CSC) below ``_SPARSE_DENSITY_LIMIT``, otherwise dense
    (Fortran-ordered, so column blocks are contiguous for BLAS). float32 is exact for counts
    below 2**24.
    """
    n_samples, n_features = A.shape
    if sp.issparse(A):
        indicator = sp.csc_array(A, dtype=np.float32, copy=True)
        indicator.data = (indicator.data != 0).astype(np.float32)
        indicator.eliminate_zeros()
    else:
        indicator = np.asfortranarray(A != 0, dtype=np.float32)
    if dense is None:
        density = (
            indicator.nnz if sp.issparse(indicator) else np.count_nonzero(indicator)
        ) / (n_samples * n_features)
        dense = density >= _SPARSE_DENSITY_LIMIT
    if dense:
        return np.asfortranarray(indicator.toarray()) if sp.issparse(indicator) else indicator
    return indicator if sp.issparse(indicator) else sp.csc_array(indicator)


def _exceeds(P, threshold: np.ndarray, *, dense: bool | None = None):
    """Indicator of ``P > threshold`` (threshold scalar or per column), as ``_indicator``."""
    if sp.issparse(P):
        # Thresholds are >= 0, so implicit zeros never exceed them: only stored values matter.
        P = sp.csc_array(P)
        column_of_value = np.repeat(np.arange(P.shape[1]), np.diff(P.indptr))
        limit = threshold if threshold.ndim == 0 else threshold[column_of_value]
        exceeds = sp.csc_array((P.data > limit, P.indices, P.indptr), shape=P.shape)
        return _indicator(exceeds, dense=dense)
    return _indicator(P > threshold, dense=dense)


def _cross_counts(left, right) -> np.ndarray:
    """``left.T @ right`` for dense or sparse 0/1 indicators, as a dense float64 array."""
    if sp.issparse(left) and sp.issparse(right):
        product = (left.T @ right).toarray()
    elif sp.issparse(right):
        product = (right.T @ left).T
    else:
        product = left.T @ right
    return np.asarray(product, dtype=np.float64)


class _CoOccurrences:
    """Co-occurrence counts of the real data ``r``, the binarised reconstruction ``s`` and
    ``a = r * s``, for blocks of features ``[start, stop)``.

    Sparse real data (the usual case) keep ``r`` and ``a`` sparse (CSC) and ``s`` sparse or
    dense by its own density, one C-contiguous array per block so that SciPy's sparse-dense
    product never copies it. Dense real data interleave ``r``, ``a`` and ``s`` column by column
    in one float32 matrix, so that all counts of a pair of blocks come from one BLAS product.
    """

    _NAMES = ("RR", "AA", "AS", "SA", "SR", "AR", "RS", "RA")

    def __init__(self, X_true, P, threshold: np.ndarray, block_size: int):
        n_samples, n_features = X_true.shape
        self.bounds = [
            (start, min(start + block_size, n_features))
            for start in range(0, n_features, block_size)
        ]
        R = _indicator(X_true)
        self.dense = not sp.issparse(R)
        S = _exceeds(P, threshold, dense=True if self.dense else None)
        A = R * S if self.dense else sp.csc_array(R.multiply(S))
        self.real_counts = np.asarray(R.sum(axis=0), dtype=np.float64).ravel()
        self.agree_counts = np.asarray(A.sum(axis=0), dtype=np.float64).ravel()
        if self.dense:
            self.interleaved = np.empty((n_samples, 3 * n_features), dtype=np.float32, order="F")
            self.interleaved[:, 0::3] = R
            self.interleaved[:, 1::3] = A
            self.interleaved[:, 2::3] = S
        else:
            self.blocks = [
                {
                    "R": R[:, start:stop],
                    "A": A[:, start:stop],
                    "S": S[:, start:stop]
                    if sp.issparse(S)
                    else np.ascontiguousarray(S[:, start:stop]),
                }
                for start, stop in self.bounds
            ]

    def block(self, j: int, k: int) -> dict[str, np.ndarray]:
        """``{"RS": R_J^T S_K, ...}`` for feature blocks ``J = j``, ``K = k``: the eight count
        matrices that Eq. 9 needs, as float64."""
        if self.dense:
            (j0, j1), (k0, k1) = self.bounds[j], self.bounds[k]
            product = self.interleaved[:, 3 * j0 : 3 * j1].T @ self.interleaved[:, 3 * k0 : 3 * k1]
            offset = {"R": 0, "A": 1, "S": 2}
            return {
                name: product[offset[name[0]] :: 3, offset[name[1]] :: 3].astype(np.float64)
                for name in self._NAMES
            }
        left, right = self.blocks[j], self.blocks[k]
        return {name: _cross_counts(left[name[0]], right[name[1]]) for name in self._NAMES}


def _pair_scores_block(counts: _CoOccurrences, j: int, k: int) -> np.ndarray:
    """Contingency scores of all pairs of features of blocks ``j`` (rows) and ``k`` (columns).

    With ``r``, ``s`` the indicators of the real data and thresholded reconstruction,
    ``a = r * s`` and ``u_i = r_ij or r_ik = r_ij + r_ik - r_ij r_ik`` (the rows of Eq. 9):

    * real table over those rows: ``n11 = C_jk``, ``n10 = c_j - C_jk``, ``n01 = c_k - C_jk``,
      ``n00 = 0`` with ``C = R^T R``, ``c_j = sum_i r_ij``, and ``N = c_j + c_k - C_jk`` rows;
    * reconstruction: ``m11 = sum_i u_i s_ij s_ik = (A^T S + S^T A - A^T A)_jk``,
      ``m1. = sum_i u_i s_ij = a_j + (S^T R - A^T R)_jk`` and
      ``m.1 = a_k + (R^T S - R^T A)_jk``, from which the other cells follow.

    Every count is a product of indicator matrices, so all pairs of two blocks come from
    eight matrix products instead of a loop over pairs.
    """
    c = counts.block(j, k)
    cols_j, cols_k = slice(*counts.bounds[j]), slice(*counts.bounds[k])
    both_real = c["RR"]
    c_j = counts.real_counts[cols_j][:, None]
    c_k = counts.real_counts[cols_k][None, :]
    n_rows = c_j + c_k - both_real
    m11 = c["AS"] + c["SA"] - c["AA"]
    m1_ = counts.agree_counts[cols_j][:, None] + c["SR"] - c["AR"]
    m_1 = counts.agree_counts[cols_k][None, :] + c["RS"] - c["RA"]
    m10 = m1_ - m11
    m01 = m_1 - m11
    m00 = n_rows - m1_ - m_1 + m11
    total_variation = 0.5 * (
        np.abs(m11 - both_real)
        + np.abs(m10 - (c_j - both_real))
        + np.abs(m01 - (c_k - both_real))
        + m00
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - total_variation / n_rows


def contingency_score(
    X_true,
    P,
    threshold=0.5,
    *,
    return_pair_scores: bool = False,
    block_size: int | None = None,
) -> ContingencyResult:
    """Non-trivial pairwise contingency score (Eq. 9 of the paper).

    For every pair of features ``(j, k)``, take the rows where the real data has ``j`` or ``k``
    (rows where both are 0 would dominate every table of sparse data). Build the 2x2
    contingency table of the real data ``R'`` and of the binarised reconstruction ``S'`` over
    those rows, each normalised by the number of rows, and score the pair
    ``1 - 0.5 * sum |S' - R'|`` (one minus the total variation distance, as SDMetrics'
    ``ContingencySimilarity`` on the restricted rows). The score is the mean over all pairs
    ``j < k`` that have at least one such row.

    All pairs are computed from co-occurrence counts (products of indicator matrices, see
    ``_pair_scores_block``), a block of features at a time, so memory is bounded by the block
    size and the number of features, never by the number of pairs.

    Parameters
    ----------
    X_true : {array-like, sparse matrix} of shape (n_samples, n_features)
        The real data; every entry must be 0 or 1.
    P : {array-like, sparse matrix} of shape (n_samples, n_features)
        Reconstructed probabilities in [0, 1].
    threshold : float or array-like of shape (n_features,), default=0.5
        A reconstruction counts as 1 where ``P > threshold`` (strict, as the paper's
        "x_hat > t"; 0.5 is the paper's t). A vector gives one threshold per feature, e.g. the
        per-feature positive rate.
    return_pair_scores : bool, default=False
        Also return the symmetric ``(n_features, n_features)`` float64 matrix of per-pair
        scores. It needs ``8 * n_features**2`` bytes (2.5 GB at 17,770 features), so it is off
        by default; the score itself never needs it.
    block_size : int or None, default=None
        Features per block; pairs are processed one pair of blocks at a time. None picks
        about 1,000, so that the ``block_size x block_size`` count matrices of a pair of
        blocks fit in about 256 MiB. The result does not depend on it.

    Returns
    -------
    ContingencyResult
        ``.score``, ``.n_pairs_used``, ``.n_pairs_undefined`` and ``.pair_scores`` (None unless
        requested). ``float(result)`` is the score.

    Warns
    -----
    UndefinedMetricWarning
        When no pair is defined (fewer than two features, or no entry of ``X_true`` is 1): the
        score is NaN.
    """
    X_true = _as_matrix("X_true", X_true)
    P = _as_matrix("P", P)
    _check_same_shape("X_true", X_true, "P", P)
    _check_binary("X_true", X_true)
    _check_probabilities("P", P)
    n_samples, n_features = X_true.shape
    threshold = _check_threshold(threshold, n_features)
    # About 30 block_size x block_size float64 arrays are alive per pair of blocks.
    block_size = (
        max(1, int(np.sqrt(_WORKING_MEMORY_BYTES / (30 * 8))))
        if block_size is None
        else _check_int("block_size", block_size, 1)
    )
    if n_samples >= _FLOAT32_EXACT_INTEGER_LIMIT:
        raise ValueError(
            f"contingency_score counts in float32, exact below {_FLOAT32_EXACT_INTEGER_LIMIT} "
            f"rows; got {n_samples}. Evaluate on a subsample."
        )

    counts = _CoOccurrences(X_true, P, threshold, block_size)
    pair_scores = np.full((n_features, n_features), np.nan) if return_pair_scores else None
    total, n_used = 0.0, 0
    # Blocks j <= k cover every pair once; inside a diagonal block only pairs above it count.
    for j, (j0, j1) in enumerate(counts.bounds):
        for k, (k0, k1) in enumerate(counts.bounds[j:], start=j):
            scores = _pair_scores_block(counts, j, k)
            if j == k:
                scores[np.tril_indices(j1 - j0)] = np.nan
            defined = ~np.isnan(scores)
            total += float(scores[defined].sum())
            n_used += int(np.count_nonzero(defined))
            if pair_scores is not None and j == k:
                # Only pairs above the diagonal were scored; mirror them below it.
                pair_scores[j0:j1, j0:j1] = np.fmax(scores, scores.T)
            elif pair_scores is not None:
                pair_scores[j0:j1, k0:k1] = scores
                pair_scores[k0:k1, j0:j1] = scores.T

    n_pairs = n_features * (n_features - 1) // 2
    if n_used == 0:
        _warn_undefined(
            "contingency score is undefined: no pair of features has a row where the real data "
            "has either feature (fewer than two features, or X_true has no entry equal to 1)."
        )
        score = np.nan
    else:
        score = total / n_used
    return ContingencyResult(
        score=score,
        n_pairs_used=n_used,
        n_pairs_undefined=n_pairs - n_used,
        pair_scores=pair_scores,
    )


# --------------------------------------------------------------------------------------------
# 3. Trustworthiness
# --------------------------------------------------------------------------------------------


def _is_binary(A) -> bool:
    values = A.data if sp.issparse(A) else A
    return A.dtype.kind == "b" or bool(np.all((values == 0) | (values == 1)))


def _resolve_device(device):
    """None for the NumPy/SciPy backend, otherwise the ``torch.device`` to run on."""
    if isinstance(device, str) and device in ("auto", "numpy"):
        if device == "numpy":
            return None
        try:
            import torch
        except ImportError:
            return None
        return torch.device("cuda") if torch.cuda.is_available() else None
    try:
        import torch
    except ImportError as error:
        raise ValueError(
            f"device={device!r} needs PyTorch, which is not installed; use device='numpy'."
        ) from error
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device must be 'auto', 'numpy' or a torch device such as 'cuda', got {device!r}."
        ) from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} asks for CUDA, but torch sees no CUDA device; "
            f"use device='auto' or 'numpy'."
        )
    return resolved


class _NumpyRanks:
    """Block kernels of :func:`trustworthiness` with NumPy/SciPy on the CPU.

    ``exact_integer`` selects the path for 0/1 inputs: Gram products, and so squared
    distances, are integers (int32 sparse products, or float32 BLAS products, exact below
    2**24), and the tie rule "(distance, then row index)" folds into one integer key
    ``distance * n + index``; a rank is then the number of smaller keys, read off the sorted
    row by binary search. Otherwise distances follow
    ``sklearn.metrics.pairwise.euclidean_distances`` in float64 and the (rare) exact ties are
    resolved by index afterwards. Sparse ``X`` below ``_SPARSE_DENSITY_LIMIT`` stays sparse
    (sparse-sparse Gram products); denser ``X`` is made dense for BLAS.
    """

    def __init__(self, X, E, exact_integer: bool):
        n_samples, n_features = X.shape
        self.n_samples = n_samples
        self.exact_integer = exact_integer
        keep_sparse = sp.issparse(X) and X.nnz < _SPARSE_DENSITY_LIMIT * n_samples * n_features
        if keep_sparse:
            self.X = sp.csr_array(X, dtype=np.int32 if exact_integer else np.float64)
            self.X_t = sp.csr_array(self.X.T)
            x_sq = np.asarray(self.X.multiply(self.X).sum(axis=1)).ravel()
        else:
            X = X.toarray() if sp.issparse(X) else X
            self.X = np.ascontiguousarray(X, dtype=np.float32 if exact_integer else np.float64)
            self.X_t = self.X.T
            x_sq = np.einsum("ij,ij->i", self.X, self.X)
        if exact_integer:
            # key(i, l) = (|x_l|^2 - 2 x_i.x_l) n + l: the squared distance less the row
            # constant |x_i|^2, times n, plus the index that breaks ties.
            self.key_dtype = _key_dtype(int(x_sq.max()), n_samples)
            self.key_base = _key_base(x_sq, self.key_dtype)
        else:
            self.x_sq = x_sq
        E = np.asarray(E, dtype=np.float64)
        # Centring only reduces the cancellation in |a|^2 + |b|^2 - 2 a.b; distances are unchanged.
        self.E = E - E.mean(axis=0)
        self.minus_2E_t = -2.0 * self.E.T
        self.e_sq = np.einsum("ij,ij->i", self.E, self.E)

    def _gram_rows(self, rows: slice) -> np.ndarray:
        product = self.X[rows] @ self.X_t
        return product.toarray() if sp.issparse(product) else product

    def embedding_neighbours(self, rows: slice, k: int) -> np.ndarray:
        # |e_j|^2 - 2 e_i.e_j orders row i as the squared distance does (|e_i|^2 is constant).
        scores = self.E[rows] @ self.minus_2E_t
        scores += self.e_sq[None, :]
        local = np.arange(rows.stop - rows.start)
        scores[local, local + rows.start] = np.inf
        # Puts the k smallest first (unordered) and the (k+1)-th smallest at position k.
        partition = np.argpartition(scores, k, axis=1)
        smallest = np.take_along_axis(scores, partition[:, : k + 1], axis=1)
        nearest = partition[:, :k]
        # argpartition picks arbitrarily among scores tied with the k-th smallest; such rows
        # are redone with a stable sort so that ties go to the lower index.
        ambiguous = np.flatnonzero(smallest[:, :k].max(axis=1) == smallest[:, k])
        if ambiguous.size:
            nearest[ambiguous] = np.argsort(scores[ambiguous], axis=1, kind="stable")[:, :k]
        return nearest

    def input_ranks(self, rows: slice, neighbours: np.ndarray) -> np.ndarray:
        n = self.n_samples
        local = np.arange(rows.stop - rows.start)
        gram = self._gram_rows(rows)
        if self.exact_integer:
            key = gram.astype(self.key_dtype, copy=False)
            key *= -2 * n
            key += self.key_base
            key[local, local + rows.start] = np.iinfo(self.key_dtype).max
            neighbour_keys = np.take_along_axis(key, neighbours, axis=1)
            key.sort(axis=1)
            return _rowwise_search(key, neighbour_keys, "left") + 1
        # The same operations, in the same order, as sklearn's euclidean_distances.
        dist = -2 * gram
        dist += self.x_sq[rows, None]
        dist += self.x_sq[None, :]
        np.maximum(dist, 0, out=dist)
        np.sqrt(dist, out=dist)
        dist[local, local + rows.start] = np.inf
        neighbour_dist = np.take_along_axis(dist, neighbours, axis=1)
        sorted_dist = np.sort(dist, axis=1)
        closer = _rowwise_search(sorted_dist, neighbour_dist, "left")
        # j itself is one of the entries equal to d(i, j); more than one is a tie.
        tied_row, tied_m = np.nonzero(
            _rowwise_search(sorted_dist, neighbour_dist, "right") - closer > 1
        )
        chunk = rows.stop - rows.start
        for start in range(0, tied_row.size, chunk):
            r, m = tied_row[start : start + chunk], tied_m[start : start + chunk]
            earlier_and_equal = (dist[r] == neighbour_dist[r, m][:, None]) & (
                np.arange(n)[None, :] < neighbours[r, m][:, None]
            )
            closer[r, m] += np.count_nonzero(earlier_and_equal, axis=1)
        return closer + 1


class _TorchRanks:
    """The kernels of :class:`_NumpyRanks` with PyTorch, for a GPU (or any torch device)."""

    def __init__(self, X, E, exact_integer: bool, device):
        import torch

        self.torch = torch
        self.device = device
        self.n_samples = X.shape[0]
        self.exact_integer = exact_integer
        np_dtype = np.float32 if exact_integer else np.float64
        if sp.issparse(X):
            self.X_host = sp.csr_array(X, dtype=np_dtype)
            coo = sp.coo_array(self.X_host)
            self.X = torch.sparse_coo_tensor(
                torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64)),
                torch.from_numpy(coo.data),
                size=coo.shape,
                device=device,
                check_invariants=False,
            ).coalesce()
            x_sq = np.asarray(self.X_host.multiply(self.X_host).sum(axis=1), dtype=np_dtype)
        else:
            self.X_host = None
            X = np.ascontiguousarray(X, dtype=np_dtype)
            self.X = torch.from_numpy(X).to(device)
            x_sq = np.einsum("ij,ij->i", X, X)
        self.x_sq = torch.from_numpy(np.ascontiguousarray(x_sq.ravel())).to(device)
        E = np.asarray(E, dtype=np.float64)
        self.E = torch.from_numpy(E - E.mean(axis=0)).to(device)
        self.e_sq = (self.E * self.E).sum(dim=1)
        if exact_integer:
            key_dtype = _key_dtype(int(x_sq.max()), self.n_samples)
            self.key_dtype = torch.int32 if key_dtype == np.int32 else torch.int64
            self.key_base = torch.from_numpy(_key_base(x_sq.ravel(), key_dtype)).to(device)

    def _gram_rows(self, rows: slice):
        if self.X_host is not None:
            block = self.torch.from_numpy(self.X_host[rows].toarray().T.copy()).to(self.device)
            return self.torch.sparse.mm(self.X, block).T
        return self.X[rows] @ self.X.T

    def embedding_neighbours(self, rows: slice, k: int):
        torch = self.torch
        scores = -2.0 * (self.E[rows] @ self.E.T) + self.e_sq[None, :]
        local = torch.arange(rows.stop - rows.start, device=self.device)
        scores[local, local + rows.start] = torch.inf
        smallest = torch.topk(scores, k + 1, dim=1, largest=False, sorted=True)
        nearest = smallest.indices[:, :k].contiguous()
        ambiguous = torch.nonzero(smallest.values[:, k - 1] == smallest.values[:, k]).ravel()
        if ambiguous.numel():
            nearest[ambiguous] = torch.sort(scores[ambiguous], dim=1, stable=True).indices[:, :k]
        return nearest

    def input_ranks(self, rows: slice, neighbours) -> np.ndarray:
        torch = self.torch
        n = self.n_samples
        local = torch.arange(rows.stop - rows.start, device=self.device)
        index = torch.arange(n, device=self.device)
        gram = self._gram_rows(rows)
        if self.exact_integer:
            key = gram.to(self.key_dtype) * (-2 * n) + self.key_base
            key[local, local + rows.start] = torch.iinfo(self.key_dtype).max
            neighbour_keys = torch.take_along_dim(key, neighbours, dim=1)
            closer = torch.searchsorted(torch.sort(key, dim=1).values.contiguous(), neighbour_keys)
            return (closer + 1).cpu().numpy()
        dist = -2 * gram
        dist += self.x_sq[rows, None]
        dist += self.x_sq[None, :]
        dist = dist.clamp_min_(0).sqrt_()
        dist[local, local + rows.start] = torch.inf
        neighbour_dist = torch.take_along_dim(dist, neighbours, dim=1)
        sorted_dist = torch.sort(dist, dim=1).values.contiguous()
        closer = torch.searchsorted(sorted_dist, neighbour_dist)
        tied = torch.searchsorted(sorted_dist, neighbour_dist, right=True) - closer > 1
        tied_row, tied_m = torch.nonzero(tied, as_tuple=True)
        chunk = rows.stop - rows.start
        for start in range(0, tied_row.numel(), chunk):
            r, m = tied_row[start : start + chunk], tied_m[start : start + chunk]
            earlier_and_equal = (dist[r] == neighbour_dist[r, m][:, None]) & (
                index[None, :] < neighbours[r, m][:, None]
            )
            closer[r, m] += earlier_and_equal.sum(dim=1)
        return (closer + 1).cpu().numpy()


def _key_dtype(largest_row_norm: int, n_samples: int) -> type:
    """Smallest integer type that holds every key ``(|x_l|^2 - 2 x_i.x_l) n + l``."""
    largest_key = (2 * largest_row_norm + 1) * n_samples
    return np.int32 if largest_key < np.iinfo(np.int32).max else np.int64


def _key_base(x_sq: np.ndarray, key_dtype: type) -> np.ndarray:
    """The part ``|x_l|^2 n + l`` of the keys that does not depend on the row ``i``."""
    n_samples = x_sq.shape[0]
    return x_sq.astype(key_dtype) * n_samples + np.arange(n_samples, dtype=key_dtype)


def _rowwise_search(sorted_rows: np.ndarray, queries: np.ndarray, side: str) -> np.ndarray:
    """``np.searchsorted(sorted_rows[i], queries[i], side)`` for every row ``i``, vectorised."""
    n_rows, n_columns = sorted_rows.shape
    start = np.repeat(np.arange(n_rows) * n_columns, queries.shape[1])
    found = _segment_search(
        sorted_rows.ravel(), start, start + n_columns, queries.ravel(), side
    )
    return (found - start).reshape(queries.shape)


def trustworthiness(
    X,
    E,
    n_neighbors: int = 15,
    *,
    block_size: int | None = None,
    device="auto",
) -> float:
    """Trustworthiness of an embedding (Venna and Kaski, 2001), exactly, in bounded memory.

    ``T = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in N_k(i)} max(0, r(i, j) - k)``, where
    ``N_k(i)`` are the ``k`` nearest neighbours of ``i`` in the embedding and ``r(i, j)`` is
    the rank of ``j`` among the neighbours of ``i`` in the input space (Euclidean distances),
    the same formula as :func:`sklearn.manifold.trustworthiness`.

    Ties. Binary inputs have many tied distances, and how ties are ranked moves T by several
    hundredths. Here ``r(i, j) = 1 + #{l != i : (d(i, l), l) < (d(i, j), j)}``: ties are ranked
    by row index. This is exactly scikit-learn's formula with a stable sort (scikit-learn as
    shipped sorts unstably and differs from it by ~1e-4 on binary data). Ties in the
    embedding (rare for continuous embeddings) also go to the lower index. On continuous data
    the result equals scikit-learn's.

    Cost. Rows are processed in blocks: for a block only the distances of its rows to all
    samples are held (O(block_size x n) memory, not O(n^2)). Each of these rows is sorted once
    and the ranks of the k embedding neighbours are read off by binary search (scikit-learn
    argsorts the full matrix and builds an n x n inverse index). For 0/1 inputs squared
    distances are integers computed exactly from (sparse) Gram products in float32. On a
    torch device, ``X`` (dense, or sparse COO) and ``E`` are copied to the device once.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input data (any real values; 0/1 data takes the exact integer path).
    E : array-like of shape (n_samples, n_components)
        Embeddings of the same samples, in the same order.
    n_neighbors : int, default=15
        ``k``; the paper uses 15 (Appendix C). Must be less than ``n_samples / 2``.
    block_size : int or None, default=None
        Rows per block. None picks about 256 MiB of working memory. The result does not
        depend on it.
    device : {"auto", "numpy"} or torch device, default="auto"
        ``"numpy"``: NumPy/SciPy on the CPU. A torch device (``"cuda"``, ``"cuda:1"``, or
        ``"cpu"`` for torch on the CPU) runs the same algorithm with PyTorch. ``"auto"``: CUDA
        when torch sees a GPU, NumPy otherwise.

    Returns
    -------
    float
        Trustworthiness in [0, 1].
    """
    X = _as_matrix("X", X)
    E = _as_matrix("E", E, allow_sparse=False)
    _check_same_n_samples("X", X, "E", E)
    n_samples = X.shape[0]
    k = _check_int("n_neighbors", n_neighbors, 1)
    if k >= n_samples / 2:
        raise ValueError(
            f"n_neighbors={k} must be less than n_samples / 2 = {n_samples / 2} (the "
            f"normaliser 2 / (n k (2n - 3k - 1)) keeps T in [0, 1] only then); use fewer "
            f"neighbours or more samples."
        )
    block_size = (
        max(1, _WORKING_MEMORY_BYTES // (48 * n_samples))
        if block_size is None
        else _check_int("block_size", block_size, 1)
    )
    torch_device = _resolve_device(device)
    # Squared distances between 0/1 rows are at most 2 * n_features, exact in float32 below 2**24.
    exact_integer = _is_binary(X) and 2 * X.shape[1] < _FLOAT32_EXACT_INTEGER_LIMIT
    backend = (
        _NumpyRanks(X, E, exact_integer)
        if torch_device is None
        else _TorchRanks(X, E, exact_integer, torch_device)
    )
    excess = 0
    for start in range(0, n_samples, block_size):
        rows = slice(start, min(start + block_size, n_samples))
        ranks = backend.input_ranks(rows, backend.embedding_neighbours(rows, k))
        excess += int(np.maximum(ranks - k, 0).sum())
    return 1.0 - excess * (2.0 / (n_samples * k * (2.0 * n_samples - 3.0 * k - 1.0)))


# --------------------------------------------------------------------------------------------
# 4-5. Calinski-Harabasz scores of the embeddings
# --------------------------------------------------------------------------------------------


def _calinski_harabasz_or_nan(E: np.ndarray, labels: np.ndarray, what: str) -> float:
    """CH score, or NaN and a warning where it is undefined (needs 2 <= groups <= n - 1)."""
    n_groups = np.unique(labels).size
    if n_groups < 2 or n_groups > labels.size - 1:
        _warn_undefined(
            f"Calinski-Harabasz score is undefined for {what}: it needs between 2 and "
            f"n_samples - 1 groups, got {n_groups} group(s) of {labels.size} samples."
        )
        return np.nan
    return float(calinski_harabasz_score(E, labels))


def _k_distance_knee(E: np.ndarray, k: int) -> float:
    """``eps`` at the knee of the sorted k-distance curve (Ester et al., 1996).

    The k-distance of a point is the distance to its k-th nearest neighbour counting itself,
    i.e. the smallest radius that makes it a DBSCAN core point with ``min_samples=k``. Sorted
    ascending, the curve is flat for points inside clusters and rises steeply for outliers.
    The knee is the point farthest below the chord from the first to the last point after
    scaling both axes to [0, 1] (the "Kneedle" rule); its k-distance is ``eps``.
    """
    distances = NearestNeighbors(n_neighbors=k).fit(E).kneighbors(E)[0][:, k - 1]
    curve = np.sort(distances)
    rise = curve[-1] - curve[0]
    if rise == 0:
        return float(curve[0])
    position = np.linspace(0.0, 1.0, curve.size)
    return float(curve[np.argmax(position - (curve - curve[0]) / rise)])


def calinski_harabasz_dbscan(
    E, eps: float | None = None, min_samples: int = 5
) -> DBSCANClusteringResult:
    """Calinski-Harabasz score of the DBSCAN clusters of the embeddings (Appendix C.2).

    DBSCAN labels some points as noise (label -1). scikit-learn's CH score would treat them as
    one more cluster, a scattered one; here noise points are excluded and the score is that of
    the remaining clusters. The noise fraction is reported so that a run in which most points
    are noise can be recognised.

    Parameters
    ----------
    E : array-like of shape (n_samples, n_components)
        Embeddings.
    eps : float or None, default=None
        DBSCAN neighbourhood radius. The paper does not give it; None picks the knee of the
        sorted k-distance curve with ``k = min_samples`` (see ``_k_distance_knee``). Pass a
        value to study the sensitivity.
    min_samples : int, default=5
        DBSCAN's ``min_samples`` (the point itself included), scikit-learn's default; at
        least 2.

    Returns
    -------
    DBSCANClusteringResult
        ``.score``, ``.n_clusters`` (noise excluded), ``.eps`` (the one used),
        ``.noise_fraction`` and ``.labels``. ``float(result)`` is the score.

    Warns
    -----
    UndefinedMetricWarning
        When fewer than two clusters remain, or when the chosen ``eps`` is 0 (all k-distances
        are 0, e.g. collapsed embeddings): the score is NaN.
    """
    E = _as_matrix("E", E, allow_sparse=False)
    n_samples = E.shape[0]
    min_samples = _check_int("min_samples", min_samples, 2)
    if min_samples > n_samples:
        raise ValueError(
            f"min_samples={min_samples} exceeds the number of samples ({n_samples})."
        )
    if eps is None:
        eps = _k_distance_knee(E, min_samples)
        if eps == 0:
            _warn_undefined(
                "DBSCAN clustering is undefined: the k-distance knee is 0 (at least "
                f"{min_samples} identical embeddings around every knee point); pass eps."
            )
            return DBSCANClusteringResult(
                score=np.nan,
                n_clusters=0,
                eps=0.0,
                noise_fraction=np.nan,
                labels=np.full(n_samples, -1),
            )
    else:
        eps = _check_real("eps", eps, low=0.0, high=np.inf, low_open=True)
    labels = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(E)
    clustered = labels != -1
    n_clusters = int(np.unique(labels[clustered]).size)
    score = _calinski_harabasz_or_nan(
        E[clustered], labels[clustered], f"DBSCAN clusters (eps={eps:.4g}, noise excluded)"
    )
    return DBSCANClusteringResult(
        score=score,
        n_clusters=n_clusters,
        eps=float(eps),
        noise_fraction=float(np.mean(~clustered)),
        labels=labels,
    )


def calinski_harabasz_sparsity(E, X, n_bins: int = 10) -> SparsityGroupingResult:
    """Calinski-Harabasz score of the embeddings grouped by per-sample sparsity (Appendix C.2).

    The sparsity of a sample is the fraction of zero entries in its row of ``X``. Samples are
    grouped into ``n_bins`` equal-width bins over the observed range ``[min, max]`` of
    sparsity, exactly as ``np.histogram(sparsity, bins=n_bins)`` (the last bin is closed; if
    every sample has the same sparsity, numpy's range ``[s - 0.5, s + 0.5]`` applies and there
    is one group). The paper's "10 equally spaced groups" leaves the range open; the observed
    range is used because sparse data occupy a narrow band near 1, which a fixed [0, 1] range
    would put into one or two bins. Empty bins are dropped.

    Parameters
    ----------
    E : array-like of shape (n_samples, n_components)
        Embeddings.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The data the embeddings encode (any real values; only zero vs non-zero matters).
    n_bins : int, default=10
        Number of equal-width bins (the paper's 10).

    Returns
    -------
    SparsityGroupingResult
        ``.score``, ``.n_groups`` (non-empty bins), ``.bin_edges``, ``.group_sizes``,
        ``.sparsity`` and ``.labels``. ``float(result)`` is the score.

    Warns
    -----
    UndefinedMetricWarning
        When fewer than two bins are non-empty: the score is NaN.
    """
    E = _as_matrix("E", E, allow_sparse=False)
    X = _as_matrix("X", X)
    _check_same_n_samples("E", E, "X", X)
    n_bins = _check_int("n_bins", n_bins, 1)
    n_features = X.shape[1]
    sparsity = (n_features - _nonzero_per_row(X)) / n_features
    bin_edges = np.histogram_bin_edges(sparsity, bins=n_bins)
    labels = np.minimum(np.searchsorted(bin_edges, sparsity, side="right") - 1, n_bins - 1)
    group_sizes = np.bincount(labels, minlength=n_bins)
    score = _calinski_harabasz_or_nan(E, labels, f"{n_bins} equal-width sparsity bins")
    return SparsityGroupingResult(
        score=score,
        n_groups=int(np.count_nonzero(group_sizes)),
        bin_edges=bin_edges,
        group_sizes=group_sizes,
        sparsity=sparsity,
        labels=labels,
    )


# --------------------------------------------------------------------------------------------
# 6. Downstream utility
# --------------------------------------------------------------------------------------------


def _check_design_matrices(E_train, E_test):
    E_train = _as_matrix("E_train", E_train)
    E_test = _as_matrix("E_test", E_test)
    if E_train.shape[1] != E_test.shape[1]:
        raise ValueError(
            f"E_train and E_test must have the same columns, got {E_train.shape[1]} and "
            f"{E_test.shape[1]}."
        )
    return E_train, E_test


def _standardise(E_train, E_test):
    """z-score with the training split's mean and standard deviation.

    Sparse inputs (raw data) are only scaled, not centred, so they stay sparse; with an
    intercept in the model centring changes nothing but the penalty on the intercept, which
    neither scikit-learn model applies.
    """
    scaler = StandardScaler(with_mean=not sp.issparse(E_train)).fit(E_train)
    return scaler.transform(E_train), scaler.transform(E_test)


def downstream_regression(
    E_train, y_train, E_test, y_test, *, alpha: float = 0.0
) -> float:
    """R^2 on the test split of a linear regression trained on embeddings (Appendix C.3).

    Raw inputs (sparse matrices with thousands of columns) can be passed in place of the
    embeddings, for the linear baseline the reviewers asked for.

    Parameters
    ----------
    E_train, E_test : {array-like, sparse matrix} of shape (n_train, n_components), (n_test, ...)
        Embeddings (or raw inputs) of the training and test samples.
    y_train, y_test : array-like of shape (n_train,), (n_test,)
        Real-valued targets (IMDB ratings in the paper).
    alpha : float, default=0.0
        0 gives ordinary least squares (``LinearRegression``, the paper's "linear regression";
        predictions do not depend on the scale of the features, so nothing is standardised).
        ``alpha > 0`` gives ridge regression on standardised features (see ``_standardise``),
        advisable for raw inputs with more columns than training samples.

    Returns
    -------
    float
        R^2 on the test split.

    Warns
    -----
    UndefinedMetricWarning
        When ``y_test`` is constant (R^2 divides by its variance): NaN.
    """
    E_train, E_test = _check_design_matrices(E_train, E_test)
    y_train = _as_vector("y_train", y_train)
    y_test = _as_vector("y_test", y_test)
    _check_same_n_samples("E_train", E_train, "y_train", y_train)
    _check_same_n_samples("E_test", E_test, "y_test", y_test)
    alpha = _check_real("alpha", alpha, low=0.0, high=np.inf)
    if np.all(y_test == y_test[0]):
        _warn_undefined("R^2 is undefined: y_test is constant.")
        return np.nan
    if alpha == 0.0:
        model = LinearRegression().fit(E_train, y_train)
    else:
        E_train, E_test = _standardise(E_train, E_test)
        model = Ridge(alpha=alpha).fit(E_train, y_train)
    return float(r2_score(y_test, model.predict(E_test)))


def _label_matrix(name: str, Y) -> tuple[np.ndarray, list[Hashable]]:
    """Labels as a 2-D 0/1 array and their names (DataFrame columns, else 0, 1, ...)."""
    names = list(Y.columns) if hasattr(Y, "columns") else None
    Y = np.asarray(Y)
    if Y.ndim == 1:
        Y = Y[:, None]
    Y = _as_matrix(name, Y, allow_sparse=False)
    _check_binary(name, Y)
    return Y, names if names is not None else list(range(Y.shape[1]))


def downstream_classification(
    E_train, Y_train, E_test, Y_test, *, C: float = 1.0, max_iter: int = 1000
) -> dict[Hashable, float]:
    """Average precision per label of logistic regressions trained on embeddings (Appendix C.3).

    One binary L2-regularised logistic regression per label (labels such as diagnoses are not
    exclusive), fitted with L-BFGS, which accepts sparse input, so raw inputs with thousands of
    columns can be passed in place of the embeddings (the reviewers' baseline). Features are
    standardised with the training split's statistics (see ``_standardise``): the penalty
    depends on their scale, and embeddings of different losses have different scales.

    Parameters
    ----------
    E_train, E_test : {array-like, sparse matrix} of shape (n_train, n_components), (n_test, ...)
        Embeddings (or raw inputs) of the training and test samples.
    Y_train, Y_test : DataFrame or array-like of shape (n_train, n_labels), (n_test, n_labels)
        0/1 labels, one column per label (a 1-D array is one label). With DataFrames the
        labels are the column names, and both must have the same columns.
    C : float, default=1.0
        Inverse L2 regularisation strength (scikit-learn's default).
    max_iter : int, default=1000
        L-BFGS iterations (scikit-learn's default of 100 often stops short on raw inputs; a
        ``ConvergenceWarning`` is passed on if 1000 is not enough).

    Returns
    -------
    dict
        Label name -> average precision on the test split (``average_precision_score``).

    Warns
    -----
    UndefinedMetricWarning
        For a label with a single class in ``Y_train`` (no model can be fitted) or no positive
        in ``Y_test`` (AP undefined): its AP is NaN.
    """
    E_train, E_test = _check_design_matrices(E_train, E_test)
    Y_train, train_names = _label_matrix("Y_train", Y_train)
    Y_test, test_names = _label_matrix("Y_test", Y_test)
    _check_same_n_samples("E_train", E_train, "Y_train", Y_train)
    _check_same_n_samples("E_test", E_test, "Y_test", Y_test)
    if train_names != test_names:
        raise ValueError(
            f"Y_train and Y_test must have the same labels in the same order, got "
            f"{train_names} and {test_names}."
        )
    C = _check_real("C", C, low=0.0, high=np.inf, low_open=True)
    max_iter = _check_int("max_iter", max_iter, 1)
    E_train, E_test = _standardise(E_train, E_test)
    scores: dict[Hashable, float] = {}
    for column, label in enumerate(train_names):
        y_train, y_test = Y_train[:, column], Y_test[:, column]
        if np.unique(y_train).size < 2:
            _warn_undefined(f"label {label!r} has a single class in Y_train; its AP is NaN.")
            scores[label] = np.nan
        elif not np.any(y_test == 1):
            _warn_undefined(f"label {label!r} has no positive in Y_test; its AP is NaN.")
            scores[label] = np.nan
        else:
            model = LogisticRegression(C=C, max_iter=max_iter).fit(E_train, y_train)
            scores[label] = float(
                _sklearn_average_precision(y_test, model.predict_proba(E_test)[:, 1])
            )
    return scores


# --------------------------------------------------------------------------------------------
# 7. Distribution of reconstructed values
# --------------------------------------------------------------------------------------------


def reconstruction_distribution(
    P, threshold: float = 0.5, bins: int = 20
) -> ReconstructionDistribution:
    """Histogram of reconstructed probabilities over [0, 1] (the data of Figure 3).

    Parameters
    ----------
    P : {array-like, sparse matrix} of shape (n_samples, n_features)
        Reconstructed probabilities in [0, 1]; implicit zeros of a sparse ``P`` count as 0.
    threshold : float, default=0.5
        The mass above it is ``mean(P > threshold)`` (strict, as :func:`contingency_score`).
    bins : int, default=20
        Equal-width bins over [0, 1], each ``[a, b)`` except the last, ``[a, 1]``. An even
        number puts 0.5 on an edge, so the histogram splits at the paper's threshold (values
        exactly 0.5 fall in the upper bin but are not above the threshold).

    Returns
    -------
    ReconstructionDistribution
        ``.bin_edges``, ``.density`` (as ``np.histogram(P, bins, range=(0, 1), density=True)``),
        ``.mass_above_threshold``, ``.threshold`` and ``.n_entries``.
    """
    P = _as_matrix("P", P)
    _check_probabilities("P", P)
    threshold = _check_real("threshold", threshold, low=0.0, high=1.0)
    bins = _check_int("bins", bins, 1)
    bin_edges = np.linspace(0.0, 1.0, bins + 1)
    n_entries = P.shape[0] * P.shape[1]
    if sp.issparse(P):
        counts = np.histogram(P.data, bins=bin_edges)[0]
        counts[0] += n_entries - P.data.size
        n_above = int(np.count_nonzero(P.data > threshold))
    else:
        counts = np.histogram(P, bins=bin_edges)[0]
        n_above = int(np.count_nonzero(P > threshold))
    return ReconstructionDistribution(
        bin_edges=bin_edges,
        density=counts / (n_entries * np.diff(bin_edges)),
        mass_above_threshold=n_above / n_entries,
        threshold=threshold,
        n_entries=n_entries,
    )


# --------------------------------------------------------------------------------------------
# Count reconstructions (sparse counts: source 001 and the paper's future work)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CountReconstructionResult(_HasScore):
    """How well a reconstruction of count data recovers the counts.

    Attributes
    ----------
    score : float
        ``nonzero_exact``.
    nonzero_exact : float
        Fraction of the non-zero entries of ``X_true`` whose rounded reconstruction equals the
        count exactly (the forum user's measure in ``001``).
    zero_kept : float
        Fraction of the zero entries of ``X_true`` whose rounded reconstruction is 0.
    mae_nonzero : float
        Mean absolute error ``|m - x|`` of the (unrounded) reconstruction over the non-zero entries.
    deviance_nonzero : float
        Mean Poisson unit deviance ``2 (x log(x / m) - (x - m))`` over the non-zero entries: a
        count-aware error that weighs a miss relative to the count's own Poisson noise (missing 1
        by 1 costs more than missing 45 by 1). Infinite if some ``m = 0`` where ``x > 0``.
    n_nonzero, n_zero : int
        Number of non-zero and zero entries of ``X_true``.
    """

    score: float
    nonzero_exact: float
    zero_kept: float
    mae_nonzero: float
    deviance_nonzero: float
    n_nonzero: int
    n_zero: int


def _check_counts(name: str, A) -> None:
    count, location, value = _first_offender(A, lambda v: (v < 0) | (v != np.floor(v)))
    if count:
        raise ValueError(
            f"{name} has {count} entries that are not non-negative integers (first at "
            f"{_where(location)}: {value}); pass the observed counts."
        )


def _check_non_negative(name: str, A) -> None:
    count, location, value = _first_offender(A, lambda v: v < 0)
    if count:
        raise ValueError(
            f"{name} has {count} negative entries (first at {_where(location)}: {value}); pass "
            f"predicted counts or means, which are >= 0 (e.g. SparseAutoencoder.predict_mean)."
        )


def count_reconstruction(X_true, M) -> CountReconstructionResult:
    """Exact-count recovery and error on the non-zeros of a count reconstruction.

    A reconstruction ``m`` is rounded half up, ``floor(m + 0.5)`` (for ``m >= 0`` the nearest
    integer, ties to the larger; numpy's ``rint`` would round 2.5 to 2), and compared with the
    true count. The non-zero and zero entries are scored separately: on sparse data almost every
    entry is a zero, so a pooled accuracy hides how many of the few non-zeros were recovered.

    Parameters
    ----------
    X_true : {array-like, sparse matrix} of shape (n_samples, n_features)
        Observed non-negative integer counts.
    M : {array-like, sparse matrix} of shape (n_samples, n_features)
        Reconstruction: predicted counts or expected counts, finite and ``>= 0``.

    Returns
    -------
    CountReconstructionResult
        ``.nonzero_exact`` (also ``.score``), ``.zero_kept``, ``.mae_nonzero``,
        ``.deviance_nonzero``, ``.n_nonzero``, ``.n_zero``. A part with no entries (no non-zero
        or no zero entries in ``X_true``) gives NaN for its measures and an
        :class:`UndefinedMetricWarning`.
    """
    X_true = _as_matrix("X_true", X_true)
    M = _as_matrix("M", M)
    _check_same_shape("X_true", X_true, "M", M)
    _check_counts("X_true", X_true)
    _check_non_negative("M", M)
    if sp.issparse(X_true):
        coo = sp.coo_array(X_true)
        keep = coo.data != 0
        rows, cols, x = coo.row[keep], coo.col[keep], coo.data[keep].astype(np.float64)
    else:
        rows, cols = np.nonzero(X_true)
        x = X_true[rows, cols].astype(np.float64)
    m = _values_at(M, rows, cols).astype(np.float64)
    n_entries = X_true.shape[0] * X_true.shape[1]
    n_nonzero = int(x.size)
    n_zero = n_entries - n_nonzero

    # floor(m + 0.5) == 0 exactly when m < 0.5.
    if sp.issparse(M):
        rounds_to_zero = n_entries - M.data.size + int(np.count_nonzero(M.data < 0.5))
    else:
        rounds_to_zero = int(np.count_nonzero(M < 0.5))
    rounds_to_zero_at_nonzero = int(np.count_nonzero(m < 0.5))

    if n_nonzero:
        nonzero_exact = float(np.mean(np.floor(m + 0.5) == x))
        mae = float(np.mean(np.abs(m - x)))
        with np.errstate(divide="ignore"):
            deviance = float(np.mean(2.0 * (x * (np.log(x) - np.log(m)) - (x - m))))
    else:
        _warn_undefined("X_true has no non-zero entries; nonzero_exact, mae_nonzero and deviance_nonzero are NaN.")
        nonzero_exact = mae = deviance = float("nan")
    if n_zero:
        zero_kept = (rounds_to_zero - rounds_to_zero_at_nonzero) / n_zero
    else:
        _warn_undefined("X_true has no zero entries; zero_kept is NaN.")
        zero_kept = float("nan")
    return CountReconstructionResult(
        score=nonzero_exact, nonzero_exact=nonzero_exact, zero_kept=float(zero_kept), mae_nonzero=mae,
        deviance_nonzero=deviance, n_nonzero=n_nonzero, n_zero=n_zero,
    )


# --------------------------------------------------------------------------------------------
# Sparsity of codes (embeddings)
# --------------------------------------------------------------------------------------------

_POPULATION_SPARSITY_MEASURES = ("hoyer", "treves_rolls")


@dataclass(frozen=True, eq=False)
class CodeSparsityResult(_HasScore):
    """Sparsity of a matrix of codes (one row per sample, one column per unit).

    Attributes
    ----------
    score : float
        ``population_sparsity``.
    population_sparsity : float
        Mean over the samples with at least one non-zero unit of their population-sparsity
        index (``measure``), in [0, 1]: 0 when all units are equally active, 1 when one unit
        carries the whole code.
    per_sample : ndarray of shape (n_samples,)
        The index of every sample; NaN for an all-zero code, where it is undefined.
    fraction_near_zero : float
        Fraction of all (sample, unit) activations with ``|h| <= tol``.
    dead_units : float
        Fraction of units with ``|h| <= tol`` for every sample.
    n_silent : int
        Samples whose code is all zeros (left out of ``population_sparsity``).
    measure : str
    tol : float
    """

    score: float
    population_sparsity: float
    per_sample: np.ndarray
    fraction_near_zero: float
    dead_units: float
    n_silent: int
    measure: str
    tol: float


def code_sparsity(E, tol: float = 1e-6, measure: str = "hoyer") -> CodeSparsityResult:
    """Sparsity of codes: near-zero activations and a population-sparsity index.

    Population sparsity of one code ``h`` of ``k >= 2`` units:

    * ``"hoyer"`` (Hoyer 2004, "Non-negative matrix factorization with sparseness constraints",
      JMLR 5, Eq. 1): ``(sqrt(k) - ||h||_1 / ||h||_2) / (sqrt(k) - 1)``.
    * ``"treves_rolls"`` (Treves & Rolls 1991; the population form of Vinje & Gallant 2000,
      Science 287): ``(1 - (sum_u |h_u| / k)^2 / (sum_u h_u^2 / k)) / (1 - 1 / k)``.

    Both are 0 for a code whose units are all equally active and 1 for a code with a single
    active unit, and neither depends on the code's scale.

    Parameters
    ----------
    E : array-like of shape (n_samples, n_units)
        Codes, e.g. ``SparseAutoencoder.transform(X)``; any sign (magnitudes are used).
    tol : float >= 0, default=1e-6
        An activation counts as near zero when ``|h| <= tol``. The bottleneck's ReLU makes a
        silent unit exactly 0, and active units after batch normalisation are of order 1, so
        1e-6 only absorbs floating-point noise; codes without a ReLU need a larger ``tol``.
    measure : {"hoyer", "treves_rolls"}, default="hoyer"

    Returns
    -------
    CodeSparsityResult
        ``.population_sparsity`` (also ``.score``), ``.per_sample``, ``.fraction_near_zero``,
        ``.dead_units``, ``.n_silent``. NaN population sparsity with an
        :class:`UndefinedMetricWarning` when every code is all zeros.
    """
    E = _as_matrix("E", E, allow_sparse=False)
    tol = _check_real("tol", tol, low=0.0, high=np.inf)
    if measure not in _POPULATION_SPARSITY_MEASURES:
        raise ValueError(f"measure must be one of {_POPULATION_SPARSITY_MEASURES}, got {measure!r}.")
    k = E.shape[1]
    if k < 2:
        raise ValueError(f"E has {k} unit; population sparsity compares units and needs at least 2.")
    A = np.abs(E.astype(np.float64))
    near_zero = A <= tol
    l1 = A.sum(axis=1)
    l2_sq = np.square(A).sum(axis=1)
    silent = l2_sq == 0
    per_sample = np.full(E.shape[0], np.nan)
    active = ~silent
    if measure == "hoyer":
        per_sample[active] = (np.sqrt(k) - l1[active] / np.sqrt(l2_sq[active])) / (np.sqrt(k) - 1)
    else:
        per_sample[active] = (1 - (l1[active] / k) ** 2 / (l2_sq[active] / k)) / (1 - 1 / k)
    if active.any():
        population = float(per_sample[active].mean())
    else:
        _warn_undefined("every code in E is all zeros; population sparsity is NaN.")
        population = float("nan")
    return CodeSparsityResult(
        score=population, population_sparsity=population, per_sample=per_sample,
        fraction_near_zero=float(near_zero.mean()), dead_units=float(near_zero.all(axis=0).mean()),
        n_silent=int(silent.sum()), measure=measure, tol=tol,
    )
