"""The distribution of reconstructed probabilities: a histogram over [0, 1] (the data of Figure 3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..validation import as_matrix, check_int, check_probabilities, check_real

__all__ = ["ReconstructionDistribution", "reconstruction_distribution"]


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
    P = as_matrix("P", P)
    check_probabilities("P", P)
    threshold = check_real("threshold", threshold, low=0.0, high=1.0)
    bins = check_int("bins", bins, 1)
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
