"""Synthetic binary data with a chosen sparsity and latent clusters, for tests and Figure 1.

Model: the rows are split as evenly as possible into ``n_clusters`` clusters (assignment shuffled).
Cluster ``k`` has its own Bernoulli rate per feature, ``r_kj = (1 - s) * d * g_kj / sum_j g_kj`` with
``g_kj ~ Gamma(concentration)``, so every cluster's rates average exactly ``1 - s``: the expected
sparsity is ``s`` whatever the cluster sizes. Rates above 1 are capped and the excess spread over
the other features in proportion to their rates, which keeps the average. Small
``concentration`` puts each cluster's 1s on few features, which makes clusters easy to tell apart.
Entries are independent Bernoulli draws given the row's cluster.

Count mode (:func:`make_sparse_counts`): the same draws give the non-zero pattern, so a seed gives
the support of :func:`make_sparse_binary` with that seed; each non-zero entry then holds
``1 + Poisson(lambda_kj)`` with ``lambda_kj = (mean_count - 1) * m_kj``, ``m_kj ~ Gamma(2, 1/2)``
(mean 1) per cluster and feature, so non-zero entries average ``mean_count`` and clusters also
differ in how large their counts are.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from .binary import X_DTYPE

#: Matrix entries drawn per chunk of rows (bounds the memory of the uniform draws).
_ENTRIES_PER_CHUNK = 1 << 22


def make_sparse_binary(
    n: int,
    d: int,
    sparsity: float,
    n_clusters: int = 1,
    random_state=None,
    *,
    concentration: float = 0.5,
) -> tuple[sp.csr_array, np.ndarray]:
    """Binary matrix with expected sparsity ``sparsity`` and ``n_clusters`` latent clusters.

    Parameters
    ----------
    n, d : int
        Number of rows and features (>= 1).
    sparsity : float
        Target expected ``s(X)`` (Eq. 2), in (0, 1).
    n_clusters : int, default=1
        Number of latent clusters, 1 <= n_clusters <= n.
    random_state : int, numpy.random.Generator or None
        Seed or generator; the same seed gives the same data.
    concentration : float, default=0.5
        Shape of the Gamma draws of the cluster profiles (> 0); smaller is more distinct.

    Returns
    -------
    X : scipy.sparse.csr_array of float32, shape (n, d)
    labels : ndarray of int64, shape (n,)
        Cluster of each row.
    """
    X, labels, _ = _support(n, d, sparsity, n_clusters, random_state, concentration)
    return X, labels


def make_sparse_counts(
    n: int,
    d: int,
    sparsity: float,
    n_clusters: int = 1,
    random_state=None,
    *,
    concentration: float = 0.5,
    mean_count: float = 3.0,
) -> tuple[sp.csr_array, np.ndarray]:
    """Count matrix with expected sparsity ``sparsity``, ``n_clusters`` latent clusters, small counts.

    Parameters
    ----------
    n, d, sparsity, n_clusters, random_state, concentration
        As :func:`make_sparse_binary`; with the same values the non-zero pattern is its matrix.
    mean_count : float >= 1, default=3.0
        Expected value of a non-zero entry. 1 gives the binary matrix itself.

    Returns
    -------
    X : scipy.sparse.csr_array of float32, shape (n, d)
        Non-negative integer counts.
    labels : ndarray of int64, shape (n,)
    """
    if isinstance(mean_count, bool) or not isinstance(mean_count, numbers.Real) or not 1 <= mean_count < np.inf:
        raise ValueError(f"mean_count must be a finite number >= 1 (non-zero entries are at least 1), got {mean_count!r}.")
    X, labels, rng = _support(n, d, sparsity, n_clusters, random_state, concentration)
    magnitudes = (mean_count - 1.0) * rng.gamma(2.0, 0.5, size=(n_clusters, d))
    rows = np.repeat(np.arange(n), np.diff(X.indptr))
    X.data = (1 + rng.poisson(magnitudes[labels[rows], X.indices])).astype(X_DTYPE)
    return X, labels


def _support(n, d, sparsity, n_clusters, random_state, concentration):
    """The binary draw of :func:`make_sparse_binary`, and the generator for any further draws."""
    for value, label in ((n, "n"), (d, "d"), (n_clusters, "n_clusters")):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}.")
    if n_clusters > n:
        raise ValueError(f"n_clusters ({n_clusters}) cannot exceed the number of rows n ({n}).")
    if isinstance(sparsity, bool) or not isinstance(sparsity, numbers.Real) or not 0 < sparsity < 1:
        raise ValueError(f"sparsity must be a number in (0, 1), e.g. 0.99; got {sparsity!r}.")
    if not isinstance(concentration, numbers.Real) or not concentration > 0:
        raise ValueError(f"concentration must be a positive number, got {concentration!r}.")
    rng = np.random.default_rng(random_state)

    labels = rng.permutation(np.arange(n) % n_clusters)
    rates = np.vstack([
        _capped_rates(rng.gamma(concentration, size=d), 1.0 - sparsity) for _ in range(n_clusters)
    ])
    rows_per_chunk = max(1, _ENTRIES_PER_CHUNK // d)
    chunks = []
    for start in range(0, n, rows_per_chunk):
        chunk_rates = rates[labels[start: start + rows_per_chunk]]
        chunks.append(sp.csr_array(rng.random(chunk_rates.shape) < chunk_rates, dtype=X_DTYPE))
    return sp.vstack(chunks, format="csr"), labels, rng


def _capped_rates(weights: np.ndarray, mean_rate: float) -> np.ndarray:
    """Rates proportional to ``weights``, averaging ``mean_rate``, none above 1."""
    total = mean_rate * len(weights)
    rates = np.zeros(len(weights))
    capped = np.zeros(len(weights), dtype=bool)
    # Each round caps at least one more feature, so this ends within d rounds.
    while True:
        free = ~capped
        share = total - capped.sum()
        free_weight = weights[free].sum()
        if free_weight == 0:
            rates[free] = share / free.sum()
        else:
            rates[free] = share * weights[free] / free_weight
        over = free & (rates > 1)
        if not over.any():
            break
        capped |= over
        rates[capped] = 1.0
    return rates
