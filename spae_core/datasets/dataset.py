"""The dataset object that every loader in ``spae_core.datasets`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .binary import to_binary_csr
from .sparsity import feature_rates, sparsity
from .splitting import DEFAULT_RATIOS, DatasetSplit, split_dataset

#: Task string of datasets without a downstream target.
NO_TASK = "none"


@dataclass(frozen=True, eq=False, repr=False)
class BinaryDataset:
    """A binary sample x feature matrix with its names, targets and provenance.

    Parameters
    ----------
    name : str
        Short identifier, e.g. ``"movielens_097"``.
    X : scipy sparse matrix or array-like of shape (n_samples, n_features)
        0/1 data. Stored as a canonical float32 ``scipy.sparse.csr_array``.
    feature_names : array-like of shape (n_features,)
        Stored as a numpy string array.
    row_ids : array-like of shape (n_samples,)
        Unique identifiers of the rows in the source (user id, patient id, ...).
    targets : pandas.DataFrame, optional
        Downstream targets, one column per target or label, one row per sample in the order of
        ``X``. Its index must be ``row_ids`` or a default ``RangeIndex``; it is stored indexed by
        ``row_ids`` (name ``"row_id"``). Empty (no columns) when there is no downstream task.
    task : str, default="none"
        The downstream task in words, e.g. ``"regression: imdb_rating"``.
    paper_counterpart : str, default="none"
        The paper's dataset this one stands in for, e.g. ``"Netflix_0.97"``.
    provenance : dict, optional
        JSON-serialisable description of where the data come from and how they were transformed
        (package, version, file, licence, rule).

    Attributes
    ----------
    sparsity : float
        ``s(X)``, Eq. 2 of the paper.
    feature_rates : ndarray of shape (n_features,)
        ``p_j``, Eq. 1 of the paper.
    """

    name: str
    X: sp.csr_array
    feature_names: np.ndarray
    row_ids: np.ndarray
    targets: pd.DataFrame | None = None
    task: str = NO_TASK
    paper_counterpart: str = NO_TASK
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        X = self._canonical_matrix(self.X, f"X of dataset {self.name!r}")
        n_samples, n_features = X.shape
        feature_names = np.asarray(self.feature_names, dtype=str)
        if feature_names.shape != (n_features,):
            raise ValueError(
                f"dataset {self.name!r}: feature_names has shape {feature_names.shape} but X has "
                f"{n_features} columns; pass one name per column."
            )
        row_ids = np.asarray(self.row_ids)
        if row_ids.dtype == object:
            row_ids = row_ids.astype(str)
        if row_ids.shape != (n_samples,):
            raise ValueError(
                f"dataset {self.name!r}: row_ids has shape {row_ids.shape} but X has {n_samples} "
                "rows; pass one id per row."
            )
        if pd.Index(row_ids).has_duplicates:
            raise ValueError(f"dataset {self.name!r}: row_ids must be unique.")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "feature_names", feature_names)
        object.__setattr__(self, "row_ids", row_ids)
        object.__setattr__(self, "targets", _aligned_targets(self.targets, row_ids, self.name))
        object.__setattr__(self, "provenance", dict(self.provenance))

    @staticmethod
    def _canonical_matrix(X, what: str) -> sp.csr_array:
        """``X`` validated and in canonical form; subclasses for other kinds of entries override it."""
        return to_binary_csr(X, what)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_samples, n_features)``."""
        return self.X.shape

    @property
    def n_positives(self) -> int:
        """Number of 1 entries in ``X``."""
        return int(self.X.nnz)

    @property
    def sparsity(self) -> float:
        """Overall sparsity ``s(X)`` (Eq. 2)."""
        return sparsity(self.X)

    @property
    def feature_rates(self) -> np.ndarray:
        """Per-feature positive rates ``p_j`` (Eq. 1), over all rows."""
        return feature_rates(self.X)

    def split(self, seed: int = 0, ratios=DEFAULT_RATIOS, stratify=None) -> DatasetSplit:
        """Deterministic train / validation / test split; see :func:`split_dataset`.

        Not stratified unless asked (``stratify="labels"``), so attaching labels never changes it.
        """
        return split_dataset(self, seed=seed, ratios=ratios, stratify=stratify)

    def subset(self, rows=None, columns=None, *, name: str | None = None, rule: str | None = None):
        """A new dataset restricted to some rows and columns.

        Parameters
        ----------
        rows, columns : array-like of int or bool, optional
            Positions (or masks) to keep, in the order given; all when omitted.
        name : str, optional
            Name of the result; defaults to this dataset's name.
        rule : str, optional
            The selection rule in words; appended to ``provenance["rule"]``.

        Returns
        -------
        BinaryDataset
            Of the same class as this dataset.
        """
        rows = np.arange(self.shape[0]) if rows is None else _positions(rows, self.shape[0], "rows")
        columns = np.arange(self.shape[1]) if columns is None else _positions(columns, self.shape[1], "columns")
        provenance = dict(self.provenance)
        if rule is not None:
            provenance["rule"] = f"{provenance['rule']} Then: {rule}" if provenance.get("rule") else rule
        return type(self)(
            name=self.name if name is None else name,
            X=self.X[rows][:, columns],
            feature_names=self.feature_names[columns],
            row_ids=self.row_ids[rows],
            targets=self.targets.iloc[rows],
            task=self.task,
            paper_counterpart=self.paper_counterpart,
            provenance=provenance,
        )

    def summary(self) -> dict[str, Any]:
        """One line of facts: name, size, positives, sparsity, task, paper counterpart."""
        return {
            "name": self.name,
            "paper_counterpart": self.paper_counterpart,
            "n_samples": self.shape[0],
            "n_features": self.shape[1],
            "n_positives": self.n_positives,
            "sparsity": self.sparsity,
            "task": self.task,
        }

    def __repr__(self) -> str:
        targets = ", ".join(map(str, self.targets.columns)) or "none"
        return (
            f"{type(self).__name__}(name={self.name!r}, shape={self.shape}, positives={self.n_positives}, "
            f"sparsity={self.sparsity:.5f}, targets=[{targets}], task={self.task!r}, "
            f"paper_counterpart={self.paper_counterpart!r})"
        )


def _aligned_targets(targets, row_ids: np.ndarray, name: str) -> pd.DataFrame:
    """Targets indexed by ``row_ids``; refuses an index that could silently misalign rows."""
    index = pd.Index(row_ids, name="row_id")
    if targets is None:
        return pd.DataFrame(index=index)
    if not isinstance(targets, pd.DataFrame):
        raise ValueError(
            f"dataset {name!r}: targets must be a pandas DataFrame (one column per target), got "
            f"{type(targets).__name__}."
        )
    if len(targets) != len(row_ids):
        raise ValueError(f"dataset {name!r}: targets has {len(targets)} rows but X has {len(row_ids)}.")
    if not (targets.index.equals(pd.RangeIndex(len(row_ids))) or targets.index.equals(index)):
        raise ValueError(
            f"dataset {name!r}: targets must be indexed by row_ids (same order) or by a default "
            "RangeIndex; reindex it first, e.g. targets.loc[row_ids]."
        )
    aligned = targets.copy()
    aligned.index = index
    return aligned


def _positions(selection, size: int, what: str) -> np.ndarray:
    """Integer positions from an index array or a boolean mask."""
    selection = np.asarray(selection)
    if selection.dtype == bool:
        if selection.shape != (size,):
            raise ValueError(f"boolean {what} mask has shape {selection.shape}, expected ({size},).")
        return np.flatnonzero(selection)
    if not np.issubdtype(selection.dtype, np.integer):
        raise ValueError(f"{what} must be integer positions or a boolean mask, got dtype {selection.dtype}.")
    return selection
