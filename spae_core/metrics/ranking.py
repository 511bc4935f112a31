"""Average precision of reconstructed probabilities (Appendix C), per feature or pooled.

scikit-learn's step-function AP (no interpolation), computed with one sort per column and
vectorised binary searches instead of a Python loop over features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..validation import as_matrix, check_binary_values, check_probabilities, check_same_shape
from ._common import _WORKING_MEMORY_BYTES, _HasScore, _segment_search, _values_at, _warn_undefined

__all__ = ["AveragePrecisionResult", "average_precision"]


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


def _dense_columns(A, start: int, stop: int) -> np.ndarray:
    """Columns ``start:stop`` of a dense or sparse matrix as a dense array."""
    block = A[:, start:stop]
    return block.toarray() if sp.issparse(block) else np.asarray(block)


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


def _per_feature_average_precision(P, pos_rows: np.ndarray, pos_cols: np.ndarray) -> np.ndarray:
    """AP of every column of ``P`` (NaN without a positive), a chunk of sorted columns at a time.

    ``pos_rows``, ``pos_cols``: the positives of the real data, sorted by column then row.
    """
    n_samples, n_features = P.shape
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
    return per_feature


def _pooled_average_precision(P, pos_rows: np.ndarray, pos_cols: np.ndarray) -> float:
    """AP of all entries of ``P`` pooled into one ranking (the micro average)."""
    pooled = _dense_columns(P, 0, P.shape[1]).ravel()
    return float(
        _average_precision_of_segments(
            np.sort(pooled),
            pooled.size,
            np.zeros(pos_rows.size, dtype=np.intp),
            _values_at(P, pos_rows, pos_cols),
            1,
        )[0]
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
    X_true = as_matrix("X_true", X_true)
    P = as_matrix("P", P)
    check_same_shape("X_true", X_true, "P", P)
    check_binary_values("X_true", X_true)
    check_probabilities("P", P)
    n_features = P.shape[1]
    if sp.issparse(P):
        P = P.tocsc()

    pos_rows, pos_cols = _positive_entries(X_true)
    per_feature = _per_feature_average_precision(P, pos_rows, pos_cols)
    used = ~np.isnan(per_feature)
    n_used = int(np.count_nonzero(used))
    if pos_rows.size == 0:
        _warn_undefined("average precision is undefined: X_true has no entry equal to 1.")
        score = np.nan
    elif average == "macro":
        score = float(np.mean(per_feature[used]))
    else:
        score = _pooled_average_precision(P, pos_rows, pos_cols)
    return AveragePrecisionResult(
        score=score,
        average=average,
        n_features_used=n_used,
        n_skipped=n_features - n_used,
        per_feature=per_feature,
    )
