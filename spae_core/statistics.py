"""Summary statistics over seeds: means with confidence intervals, and the "best loss" of a cell.

Pure functions on pandas DataFrames of run records (one row per run); nothing here knows how the
runs were made.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["best_per_group", "mean_ci", "percent_of_best", "summarise"]


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float, float, int]:
    """Mean and two-sided Student-t confidence interval of the finite values.

    Parameters
    ----------
    values : array-like of float
        One value per seed; NaN values (undefined metrics) are left out and not counted.
    confidence : float, default=0.95

    Returns
    -------
    mean, low, high : float
        NaN where there are no finite values; ``low == high == mean`` for a single value (no
        interval can be estimated from one run, and we do not pretend otherwise: ``n`` says so).
    n : int
        Number of finite values used.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    mean = float(x.mean())
    if n == 1:
        return mean, mean, mean, 1
    half = float(stats.t.ppf(0.5 + confidence / 2, df=n - 1) * x.std(ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half, n


def summarise(records: pd.DataFrame, metrics, by=("dataset", "loss"), confidence: float = 0.95) -> pd.DataFrame:
    """Long table of ``mean``, ``ci_low``, ``ci_high``, ``n`` per group and metric.

    Parameters
    ----------
    records : DataFrame
        One row per run.
    metrics : sequence of str
        Columns of ``records`` to summarise; a missing column is an error, not a silent skip.
    by : sequence of str
        Grouping columns.
    """
    by = list(by)
    missing = [m for m in list(metrics) + by if m not in records.columns]
    if missing:
        raise ValueError(f"records has no column(s) {missing}; available: {sorted(records.columns)}.")
    rows = []
    for keys, group in records.groupby(by, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        for metric in metrics:
            mean, low, high, n = mean_ci(group[metric], confidence)
            rows.append({**dict(zip(by, keys)), "metric": metric, "mean": mean, "ci_low": low, "ci_high": high, "n": n})
    return pd.DataFrame(rows)


def best_per_group(summary: pd.DataFrame, by=("dataset", "metric"), candidate: str = "loss") -> pd.DataFrame:
    """The candidate with the highest mean in each group, and which candidates it does not separate from.

    A candidate is *tied* with the best when their confidence intervals overlap: with a handful
    of seeds the interval is the honest resolution of a "best" claim. Groups whose means are all
    NaN get ``best = None``.

    Returns
    -------
    DataFrame
        ``by`` columns, ``best``, ``best_mean``, ``tied`` (list of the other candidates whose
        interval overlaps the best one's).
    """
    rows = []
    for keys, group in summary.groupby(list(by), sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        finite = group[np.isfinite(group["mean"])]
        if finite.empty:
            rows.append({**dict(zip(by, keys)), "best": None, "best_mean": float("nan"), "tied": []})
            continue
        top = finite.loc[finite["mean"].idxmax()]
        tied = finite[(finite[candidate] != top[candidate]) & (finite["ci_high"] >= top["ci_low"])]
        rows.append({**dict(zip(by, keys)), "best": top[candidate], "best_mean": float(top["mean"]),
                     "tied": sorted(tied[candidate].tolist())})
    return pd.DataFrame(rows)


def percent_of_best(records: pd.DataFrame, column: str, by=("dataset",), group=("loss",)) -> pd.Series:
    """Each run's ``column`` as a percentage of the best group mean within its ``by`` group.

    The paper's Figure 4b/c scale: CH scores are not comparable across datasets, so each value
    is shown as a percentage of the highest score reached on its dataset. Here "highest" is the
    best mean over seeds of any loss (``group``), so a single lucky seed does not set the scale.
    """
    means = records.groupby(list(by) + list(group))[column].mean()
    best = means.groupby(level=list(range(len(by)))).max()
    scale = records[list(by)].apply(tuple, axis=1).map(lambda key: best.get(key if len(key) > 1 else key[0], np.nan))
    return 100.0 * records[column] / scale
