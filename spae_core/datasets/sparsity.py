"""Sparsity of a binary matrix, as defined in Section 3.1 of the paper (Eq. 1-2).

``p_j`` is the fraction of samples in which feature ``j`` is 1 (Eq. 1), ``s_j = 1 - p_j``, and the
dataset's sparsity ``s(X)`` is the mean of ``s_j`` over features (Eq. 2). Averaging ``s_j`` over
features equals the fraction of zero entries, so ``s(X) = 1 - nnz / (n * d)``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def feature_rates(X) -> np.ndarray:
    """Per-feature positive rates ``p_j`` (Eq. 1).

    Parameters
    ----------
    X : scipy sparse matrix or ndarray of shape (n_samples, n_features)
        Binary data (0/1).

    Returns
    -------
    ndarray of shape (n_features,), float64
        ``p_j = (1/n) * sum_i X_ij``.
    """
    n_samples = X.shape[0]
    if n_samples == 0:
        raise ValueError("X has no rows; feature rates are undefined.")
    counts = np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
    return counts / n_samples


def sparsity(X) -> float:
    """Overall sparsity ``s(X)``: the mean over features of ``s_j = 1 - p_j`` (Eq. 2).

    Parameters
    ----------
    X : scipy sparse matrix or ndarray of shape (n_samples, n_features)
        Binary data (0/1).

    Returns
    -------
    float
        A value in [0, 1]; 1 means all zeros.
    """
    n_samples, n_features = X.shape
    if n_samples == 0 or n_features == 0:
        raise ValueError(f"X has shape {X.shape}; sparsity needs at least one row and one column.")
    positives = X.count_nonzero() if sp.issparse(X) else np.count_nonzero(X)
    return 1.0 - positives / (n_samples * n_features)
