"""Per-feature positive weights ``alpha_j = beta + log(1 / p_j)`` of the weighted losses."""

from __future__ import annotations

import numpy as np

from ..validation import check_binary_matrix, check_count_matrix

__all__ = ["DEFAULT_BETA", "positive_weights", "smoothed_rates"]

#: Default ``beta`` of ``alpha_j = beta + log(1/p_j)``. The paper requires only ``beta > 1``; see
#: :func:`positive_weights` for why we take 2.
DEFAULT_BETA = 2.0


def positive_weights(X_train, beta: float = DEFAULT_BETA, *, counts: bool = False) -> np.ndarray:
    """Per-feature positive weights ``alpha_j = beta + log(1 / p_j)`` of the weighted losses.

    ``p_j`` is estimated from the training split with add-one (Laplace) smoothing,
    ``p_j = (n_j + 1) / (n + 2)``, where ``n_j`` counts the positives of feature ``j`` among ``n``
    training samples. Unsmoothed, a feature never seen in training has ``p_j = 0`` and an
    infinite weight (a defect of the paper's definition); smoothed, its weight is
    ``beta + log(n + 2)``, the largest of any feature but finite.

    Parameters
    ----------
    X_train : array-like or scipy sparse matrix of shape (n_samples, n_features)
        Binary training data. Never pass validation or test data: the weights are part of the
        model.
    beta : float, default=2.0
        Floor of the weight. The paper requires ``beta > 1`` and gives no value. Any ``beta > 1``
        makes every positive weigh more than a negative, whatever its frequency; we take 2, the
        smallest integer that satisfies the constraint, so that the feature's rarity
        (``log(1/p_j)``: 3.5 at ``p_j = 0.03``, 6.9 at ``p_j = 0.001``) dominates the weight.
    counts : bool, default=False
        ``X_train`` holds non-negative integer counts (for ``"wpoisson"``); ``n_j`` then counts
        the non-zero entries of feature ``j``, the binary rule applied to ``x > 0``.

    Returns
    -------
    alpha : ndarray of shape (n_features,), float64
    """
    if not np.isfinite(beta) or beta <= 1:
        raise ValueError(f"beta must be a finite number > 1 (the paper's constraint), got {beta}.")
    if counts:
        X = check_count_matrix(X_train, "X_train")
        positives = np.bincount(X.indices, minlength=X.shape[1]).astype(np.float64)
    else:
        X = check_binary_matrix(X_train, "X_train")
        positives = np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
    return beta + np.log(1.0 / smoothed_rates(positives, X.shape[0]))


def smoothed_rates(positives, n_samples: int) -> np.ndarray:
    """Add-one smoothed positive rates ``p_j = (n_j + 1) / (n + 2)`` from per-feature positive counts ``n_j``.

    Never 0 or 1, so ``log(1 / p_j)`` is finite for a feature never (or always) positive in training.
    """
    return (np.asarray(positives, dtype=np.float64) + 1.0) / (n_samples + 2.0)
