"""Calinski-Harabasz scores of embeddings (Appendix C.2): of their DBSCAN clusters, and of groups
of samples of similar sparsity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import DBSCAN
from sklearn.metrics import calinski_harabasz_score
from sklearn.neighbors import NearestNeighbors

from ..validation import as_matrix, check_int, check_real, check_same_n_samples
from ._common import _HasScore, _warn_undefined

__all__ = [
    "DBSCANClusteringResult",
    "SparsityGroupingResult",
    "calinski_harabasz_dbscan",
    "calinski_harabasz_sparsity",
]


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


def _nonzero_per_row(A) -> np.ndarray:
    """Entries that are not zero in every row (explicitly stored zeros of sparse input ignored)."""
    if sp.issparse(A):
        rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
        return np.bincount(rows[A.data != 0], minlength=A.shape[0])
    return np.count_nonzero(A, axis=1)


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
    E = as_matrix("E", E, allow_sparse=False)
    n_samples = E.shape[0]
    min_samples = check_int("min_samples", min_samples, 2)
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
        eps = check_real("eps", eps, low=0.0, high=np.inf, low_open=True)
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
    E = as_matrix("E", E, allow_sparse=False)
    X = as_matrix("X", X)
    check_same_n_samples("E", E, "X", X)
    n_bins = check_int("n_bins", n_bins, 1)
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
