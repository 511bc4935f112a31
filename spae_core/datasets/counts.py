"""Count datasets: sample x feature matrices of non-negative integers (word counts, ratings).

A :class:`CountDataset` is a :class:`~spae_core.datasets.BinaryDataset` whose entries may be any
non-negative integer: the same names, row ids, targets, provenance, splitting and caching, with
the entries checked as counts instead of 0/1. ``X`` is a canonical float32 ``csr_array`` (float32
holds every integer up to 2**24 exactly, and it is what the network computes in).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..validation import check_count_entries
from .binary import canonical_csr
from .dataset import BinaryDataset


def to_count_csr(X, what: str = "X") -> sp.csr_array:
    """Return ``X`` as a canonical float32 ``csr_array``, refusing anything but non-negative integers.

    The count counterpart of :func:`~spae_core.datasets.to_binary_csr` (same parameters and
    result). The check is :func:`spae_core.validation.check_count_entries`: a ``ValueError``
    names how many entries are negative, fractional, NaN, infinite or above
    :data:`spae_core.validation.MAX_EXACT_COUNT`, and the first of them.
    """
    return canonical_csr(check_count_entries(X, what))


@dataclass(frozen=True, eq=False, repr=False)
class CountDataset(BinaryDataset):
    """A sample x feature matrix of non-negative integer counts with its names, targets and provenance.

    Parameters are those of :class:`~spae_core.datasets.BinaryDataset`, except that ``X`` holds
    counts. ``sparsity`` is still the fraction of zero entries (Eq. 2 applied to ``x > 0``).

    Attributes
    ----------
    feature_rates : ndarray of shape (n_features,)
        Fraction of samples in which each feature is non-zero (Eq. 1 applied to ``x > 0``).
    """

    @staticmethod
    def _canonical_matrix(X, what: str) -> sp.csr_array:
        return to_count_csr(X, what)

    @property
    def n_positives(self) -> int:
        """Number of non-zero entries of ``X``."""
        return int(self.X.nnz)

    @property
    def feature_rates(self) -> np.ndarray:
        """Per-feature non-zero rates ``p_j`` (Eq. 1 applied to ``x > 0``)."""
        return np.bincount(self.X.indices, minlength=self.shape[1]) / self.shape[0]

    @property
    def total_count(self) -> int:
        """Sum of all entries."""
        return int(self.X.sum())

    def binarised(self, name: str | None = None) -> BinaryDataset:
        """The 0/1 dataset of the non-zero pattern (``x > 0``), with the same rows and columns."""
        X = self.X.copy()
        X.data[:] = 1
        provenance = dict(self.provenance)
        provenance["rule"] = f"{provenance.get('rule', '')} Then: binarised, 1 where the count is > 0.".strip()
        return BinaryDataset(
            name=self.name if name is None else name, X=X, feature_names=self.feature_names,
            row_ids=self.row_ids, targets=self.targets, task=self.task,
            paper_counterpart=self.paper_counterpart, provenance=provenance,
        )
