"""Sparsity of codes (embeddings): near-zero activations, dead units and a population-sparsity
index (Hoyer's, or Treves and Rolls')."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import as_matrix, check_real
from ._common import _HasScore, _warn_undefined

__all__ = ["CodeSparsityResult", "code_sparsity"]


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
    E = as_matrix("E", E, allow_sparse=False)
    tol = check_real("tol", tol, low=0.0, high=np.inf)
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
