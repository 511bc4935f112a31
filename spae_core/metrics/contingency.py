"""The non-trivial pairwise contingency score of a reconstruction (Eq. 9 of the paper).

All pairs of features are scored from co-occurrence counts (products of indicator matrices), a
block of features at a time, so memory is bounded by the block size, not the number of pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..validation import (
    MAX_EXACT_COUNT,
    as_matrix,
    check_binary_values,
    check_int,
    check_probabilities,
    check_same_shape,
    check_threshold,
)
from ._common import _SPARSE_DENSITY_LIMIT, _WORKING_MEMORY_BYTES, _HasScore, _warn_undefined

__all__ = ["ContingencyResult", "contingency_score"]


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


def _sum_pair_scores(counts: _CoOccurrences, pair_scores: np.ndarray | None) -> tuple[float, int]:
    """Sum and number of the defined scores of all pairs ``j < k``, a pair of blocks at a time.

    Fills ``pair_scores`` (symmetric) on the way unless it is None.
    """
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
    return total, n_used


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
    X_true = as_matrix("X_true", X_true)
    P = as_matrix("P", P)
    check_same_shape("X_true", X_true, "P", P)
    check_binary_values("X_true", X_true)
    check_probabilities("P", P)
    n_samples, n_features = X_true.shape
    threshold = check_threshold(threshold, n_features)
    # About 30 block_size x block_size float64 arrays are alive per pair of blocks.
    block_size = (
        max(1, int(np.sqrt(_WORKING_MEMORY_BYTES / (30 * 8))))
        if block_size is None
        else check_int("block_size", block_size, 1)
    )
    if n_samples >= MAX_EXACT_COUNT:
        raise ValueError(
            f"contingency_score counts in float32, exact below {MAX_EXACT_COUNT} "
            f"rows; got {n_samples}. Evaluate on a subsample."
        )

    counts = _CoOccurrences(X_true, P, threshold, block_size)
    pair_scores = np.full((n_features, n_features), np.nan) if return_pair_scores else None
    total, n_used = _sum_pair_scores(counts, pair_scores)
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
