"""Deterministic, optionally stratified train / validation / test splits.

Rule: two calls of scikit-learn's ``train_test_split`` with ``random_state=seed``: the first
separates the training rows from the rest (``test_size = val + test``), the second splits the rest
into validation and test (``test_size = test / (val + test)``). Stratification is asked for,
never inferred from the targets (attaching labels does not change a split): with
``stratify="labels"`` (or ``"auto"``, or named columns) both calls stratify on the combination of
label values; combinations too rare to be spread over the parts are pooled into one stratum, and a
pool that is itself too small joins the largest stratum. Feature frequencies for the weighted
losses must come from ``split.train.X`` only.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.model_selection import train_test_split

from .sparsity import feature_rates, sparsity

#: Default train / validation / test fractions.
DEFAULT_RATIOS = (0.70, 0.15, 0.15)


@dataclass(frozen=True, eq=False, repr=False)
class DataPart:
    """One part of a split: rows of the parent dataset.

    Attributes
    ----------
    name : str
        ``"train"``, ``"val"`` or ``"test"``.
    X : scipy.sparse.csr_array of float32
    targets : pandas.DataFrame
        Indexed by ``row_ids``.
    row_ids : ndarray
    positions : ndarray of int
        Row positions in the parent dataset, in increasing order.
    """

    name: str
    X: sp.csr_array
    targets: pd.DataFrame
    row_ids: np.ndarray
    positions: np.ndarray

    @property
    def n_samples(self) -> int:
        """Number of rows."""
        return self.X.shape[0]

    @property
    def sparsity(self) -> float:
        """``s(X)`` of this part (Eq. 2)."""
        return sparsity(self.X)

    @property
    def feature_rates(self) -> np.ndarray:
        """``p_j`` of this part (Eq. 1)."""
        return feature_rates(self.X)

    def __repr__(self) -> str:
        return f"DataPart({self.name!r}, shape={self.X.shape})"


@dataclass(frozen=True, eq=False, repr=False)
class DatasetSplit:
    """Train, validation and test parts of one dataset.

    Attributes
    ----------
    train, val, test : DataPart
    seed : int
    ratios : tuple of float
        The requested (train, val, test) fractions.
    stratified_on : tuple of str
        Target columns whose value combinations were stratified on; empty if none.
    """

    train: DataPart
    val: DataPart
    test: DataPart
    seed: int
    ratios: tuple[float, float, float]
    stratified_on: tuple[str, ...]

    @property
    def sizes(self) -> dict[str, int]:
        """Rows per part."""
        return {part.name: part.n_samples for part in (self.train, self.val, self.test)}

    def __repr__(self) -> str:
        return f"DatasetSplit(sizes={self.sizes}, seed={self.seed}, stratified_on={list(self.stratified_on)})"


def split_dataset(dataset, seed: int = 0, ratios=DEFAULT_RATIOS, stratify=None) -> DatasetSplit:
    """Split a dataset's rows into train, validation and test parts, deterministically.

    Parameters
    ----------
    dataset : BinaryDataset
    seed : int, default=0
        Non-negative; the same seed always gives the same split.
    ratios : sequence of three floats, default=(0.70, 0.15, 0.15)
        Positive (train, val, test) fractions summing to 1.
    stratify : None, "labels", "auto", str or list of str, default=None
        Target columns whose value combination defines the strata. None (default) does not
        stratify, whatever the targets. ``"labels"`` takes every target column that holds only 0
        and 1 (the labels of a classification task) and refuses a dataset without such columns;
        ``"auto"`` takes the same columns and none for regression or no targets (the experiment
        grid's rule); a column name or a list of them takes those columns.

    Returns
    -------
    DatasetSplit
    """
    seed = _check_seed(seed)
    ratios = _check_ratios(ratios)
    n_samples = dataset.shape[0]
    columns = _stratify_columns(dataset.targets, stratify)
    _check_part_sizes(n_samples, ratios)

    positions = np.arange(n_samples)
    keys = _combination_keys(dataset.targets, columns)
    rest_fraction = ratios[1] + ratios[2]
    train, rest = train_test_split(
        positions, test_size=rest_fraction, random_state=seed,
        stratify=_strata(keys, rest_fraction),
    )
    test_fraction = ratios[2] / rest_fraction
    val, test = train_test_split(
        rest, test_size=test_fraction, random_state=seed,
        stratify=None if keys is None else _strata(keys[rest], test_fraction),
    )
    parts = [_part(dataset, name, np.sort(rows)) for name, rows in (("train", train), ("val", val), ("test", test))]
    return DatasetSplit(*parts, seed=seed, ratios=ratios, stratified_on=tuple(columns))


def _part(dataset, name: str, rows: np.ndarray) -> DataPart:
    return DataPart(name, dataset.X[rows], dataset.targets.iloc[rows], dataset.row_ids[rows], rows)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer such as 0, got {seed!r}.")
    return int(seed)


def _check_ratios(ratios) -> tuple[float, float, float]:
    hint = "pass three positive fractions (train, val, test) that sum to 1, e.g. (0.7, 0.15, 0.15)"
    if isinstance(ratios, (str, bytes)) or not hasattr(ratios, "__len__") or len(ratios) != 3:
        raise ValueError(f"ratios must have exactly three entries; {hint}; got {ratios!r}.")
    if not all(isinstance(r, numbers.Real) and not isinstance(r, bool) for r in ratios):
        raise ValueError(f"ratios must be numbers; {hint}; got {ratios!r}.")
    values = tuple(float(r) for r in ratios)
    if not all(math.isfinite(r) and r > 0 for r in values):
        raise ValueError(f"every ratio must be > 0; {hint}; got {ratios!r}.")
    if not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ValueError(f"ratios sum to {sum(values):.6g}, not 1; {hint}.")
    return values


def _check_part_sizes(n_samples: int, ratios: tuple[float, float, float]) -> None:
    """Refuse ratios that would leave a part empty (sizes as train_test_split rounds them)."""
    n_rest = math.ceil((ratios[1] + ratios[2]) * n_samples)
    n_test = math.ceil(ratios[2] / (ratios[1] + ratios[2]) * n_rest)
    sizes = {"train": n_samples - n_rest, "val": n_rest - n_test, "test": n_test}
    empty = [name for name, size in sizes.items() if size < 1]
    if empty:
        raise ValueError(
            f"with {n_samples} rows, ratios {ratios} leave the {', '.join(empty)} part(s) empty; "
            "use more rows or larger fractions for those parts."
        )


def _stratify_columns(targets: pd.DataFrame, stratify) -> list[str]:
    if stratify is None:
        return []
    if isinstance(stratify, str) and stratify in ("auto", "labels"):
        labels = [c for c in targets.columns if _is_binary_label(targets[c])]
        if stratify == "labels" and not labels:
            raise ValueError(
                f"stratify='labels' needs 0/1 label columns among the targets; they are {list(targets.columns)} "
                "(none for a dataset without labels, numbers for regression). Pass stratify=None."
            )
        return labels
    columns = [stratify] if isinstance(stratify, str) else list(stratify)
    missing = [c for c in columns if c not in targets.columns]
    if missing:
        raise ValueError(
            f"cannot stratify on {missing}: not a target column. Target columns: "
            f"{list(targets.columns)}; or pass stratify='labels' or None."
        )
    return columns


def _is_binary_label(column: pd.Series) -> bool:
    values = pd.unique(column.dropna())
    return column.notna().all() and len(values) > 0 and set(values.tolist()) <= {0, 1}


def _combination_keys(targets: pd.DataFrame, columns: list[str]) -> np.ndarray | None:
    """One string per row naming its combination of the columns' values."""
    if not columns:
        return None
    return targets[columns].astype(str).agg("|".join, axis=1).to_numpy(dtype=str)


def _strata(keys: np.ndarray | None, held_out_fraction: float) -> np.ndarray | None:
    """Stratum labels such that every stratum can appear on both sides of the split.

    A stratum needs at least two rows on the smaller side in expectation; rarer combinations are
    pooled, and a pool below that size joins the largest stratum. Returns None when one stratum
    is all that is left.
    """
    if keys is None:
        return None
    min_size = max(2, math.ceil(2 / min(held_out_fraction, 1 - held_out_fraction)))
    labels, counts = np.unique(keys, return_counts=True)
    rare = set(labels[counts < min_size].tolist())
    strata = np.array(["pooled rare combinations" if k in rare else k for k in keys], dtype=object)
    pooled = strata == "pooled rare combinations"
    if 0 < pooled.sum() < min_size:
        common, common_counts = np.unique(strata[~pooled], return_counts=True)
        strata[pooled] = common[np.argmax(common_counts)] if len(common) else "pooled rare combinations"
    return None if len(np.unique(strata)) < 2 else strata.astype(str)
