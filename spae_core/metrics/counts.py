"""How well a reconstruction of count data recovers the counts (sparse counts: source 001 and the
paper's future work): exact recovery of the non-zeros after rounding, zeros kept, errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..validation import as_matrix, check_count_values, check_non_negative, check_same_shape
from ._common import _HasScore, _values_at, _warn_undefined

__all__ = ["CountReconstructionResult", "count_reconstruction"]


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
    X_true = as_matrix("X_true", X_true)
    M = as_matrix("M", M)
    check_same_shape("X_true", X_true, "M", M)
    check_count_values("X_true", X_true)
    check_non_negative("M", M)
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
