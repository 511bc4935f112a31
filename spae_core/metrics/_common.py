"""What the metric families share: the result base, the warning, memory and density limits,
and two array helpers (entries at positions, a binary search inside segments)."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning

# Working-memory target for the chunked computations. The chunk sizes follow from it, so peak
# memory stays bounded whatever the number of samples or features.
_WORKING_MEMORY_BYTES = 256 * 2**20

# Below this density an indicator matrix is kept in sparse (CSC/CSR) form for products.
_SPARSE_DENSITY_LIMIT = 0.05


class _HasScore:
    """Lets a result be used where a number is expected: ``float(result) == result.score``."""

    score: float

    def __float__(self) -> float:
        return float(self.score)


def _warn_undefined(message: str) -> None:
    warnings.warn(message, UndefinedMetricWarning, stacklevel=3)


def _values_at(A, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Entries ``A[rows[i], cols[i]]`` of a dense array or a sparse (CSC/CSR) array."""
    return np.asarray(A[rows, cols]).ravel()


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
