"""Baselines without an autoencoder, on the same splits and metrics as the runs."""

from __future__ import annotations

import warnings

import pandas as pd

from . import metrics
from .datasets import load
from .evaluation import downstream_scores, task_kind
from .experiments import subsample_rows

__all__ = ["raw_input_downstream"]


def raw_input_downstream(datasets, *, max_rows: int | None = None, split_seed: int = 0, cache_dir=None) -> pd.DataFrame:
    """The downstream models fitted on the raw binary inputs instead of embeddings.

    Uses the rows and split of the experiment grid (:func:`spae_core.experiments.subsample_rows`
    with the same ``max_rows`` and ``split_seed``), so the numbers compare directly with the runs'.
    Datasets without targets are skipped. Undefined scores (a label with a single class in a
    small split) are NaN, silently: the caller sees the NaN in the table.

    Returns
    -------
    DataFrame
        One row per dataset and metric: ``dataset``, ``metric`` (``r2_<target>`` or
        ``ap_label_<label>``, as in the run records), ``raw_input``.
    """
    rows = []
    for name in datasets:
        dataset = subsample_rows(load(name, cache_dir=cache_dir), max_rows, split_seed)
        kind = task_kind(dataset.task, dataset.targets)
        if kind == "none" or dataset.targets.shape[1] == 0:
            continue
        split = dataset.split(seed=split_seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", metrics.UndefinedMetricWarning)
            scores = downstream_scores(split.train.X, split.test.X, split.train.targets, split.test.targets, kind)
        rows += [{"dataset": name, "metric": metric, "raw_input": score} for metric, score in scores.items()]
    return pd.DataFrame(rows, columns=["dataset", "metric", "raw_input"])
