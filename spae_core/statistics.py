"""Summary statistics over seeds: means with confidence intervals, and the "best loss" of a cell.

Pure functions on pandas DataFrames of run records (one row per run); nothing here knows how the
runs were made.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from .metrics.ranges import MetricRange, metric_range

__all__ = ["best_per_group", "holm", "mean_ci", "mean_difference_ci", "paired_best", "paired_best_per_metric", "paired_differences", "paired_group_difference", "paired_t_pvalue", "percent_of_best", "seeds_for_power", "summarise"]


def mean_ci(values, confidence: float = 0.95, value_range: MetricRange | None = None) -> tuple[float, float, float, int]:
    """Mean and two-sided confidence interval of the finite values, inside ``value_range``.

    Without a range (or with an unbounded one) the interval is Student-t's, ``mean +- t s /
    sqrt(n)``. With a range bounded on both sides (a [0, 1] metric) it is the same interval built
    on the logit scale of the position in ``[low, high]`` and mapped back,

        g^-1( g(mean) +- t * g'(mean) * s / sqrt(n) ),

    ``g'(mean) s / sqrt(n)`` being the delta-method standard error of ``g(mean)``: the
    logit-transformed interval used for proportions. It lies inside the range by construction and
    contains the arithmetic mean (its centre, mapped), it stretches away from a bound the seeds
    crowd against, it needs no rule for seeds exactly on a bound (only the mean is transformed, and
    the mean is on a bound only when every seed is), and on 3-10 seeds of a skewed [0, 1] metric it
    covers the mean more often than Student-t's (see the Confidence intervals section of the
    book's methods page for the Monte-Carlo). With a range bounded on one side only (counts and
    scores >= 0, R^2 <= 1) it is Student-t's interval intersected with the range: the
    intersection keeps its coverage (the true mean lies in the range), while a log scale there
    gives no better coverage and unbounded arms on few seeds (DBSCAN clusters 0, 0, 2 gave
    0.7 [0.0, 49.3]).

    Parameters
    ----------
    values : array-like of float
        One value per seed; NaN values (undefined metrics) are left out and not counted.
    confidence : float, default=0.95
    value_range : MetricRange, optional
        The values' range (:func:`spae_core.metrics.metric_range`); None for none.

    Returns
    -------
    mean, low, high : float
        ``mean`` is the arithmetic mean. NaN where there are no finite values; ``low == high ==
        mean`` for a single value (no interval can be estimated from one run, and we do not
        pretend otherwise: ``n`` says so) and when every value is the same.
    n : int
        Number of finite values used.

    Raises
    ------
    ValueError
        If ``confidence`` is not in (0, 1), or a value lies outside ``value_range`` (it cannot be
        that quantity; the range or the values are wrong).
    """
    x = _finite_values(values, confidence, value_range)
    n = x.size
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    mean = float(x.mean())
    if n == 1 or x.min() == x.max():
        return mean, mean, mean, n
    half = float(stats.t.ppf(0.5 + confidence / 2, df=n - 1) * x.std(ddof=1) / np.sqrt(n))
    if value_range is None or value_range.unbounded:
        return mean, mean - half, mean + half, n
    if not (value_range.bounded_below and value_range.bounded_above):
        return mean, max(mean - half, value_range.low), min(mean + half, value_range.high), n
    with np.errstate(divide="ignore"):
        centre, slope = _to_real_line(np.float64(mean), value_range), _slope(np.float64(mean), value_range)
    if not (np.isfinite(centre) and np.isfinite(slope)):
        # Seeds within rounding of a bound whose mean rounds onto it: the plain interval, in range.
        return mean, max(mean - half, value_range.low), min(mean + half, value_range.high), n
    low, high = (_from_real_line(centre + sign * slope * half, value_range) for sign in (-1, 1))
    # Guards against rounding only: g^-1(g(mean)) may differ from mean in the last bit, and the
    # affine map of a finite range may round past its end.
    return mean, max(min(low, mean), value_range.low), min(max(high, mean), value_range.high), n


def mean_difference_ci(differences, confidence: float = 0.95,
                       difference_range: MetricRange | None = None) -> tuple[float, float, float, int]:
    """Mean and Student-t interval of paired differences, intersected with ``difference_range``.

    Differences are tested by the paired t-test (:func:`paired_t_pvalue`); their interval stays
    Student-t's, so that it excludes 0 exactly when that test rejects at ``1 - confidence``. The
    difference of two [0, 1] metrics lies in [-1, 1] (:meth:`MetricRange.difference_range`); the
    intersection with it keeps the interval's coverage (the true difference lies in the range)
    and its agreement with the test (0 is inside the range).

    Returns
    -------
    mean, low, high : float
    n : int
        As :func:`mean_ci`.
    """
    x = _finite_values(differences, confidence, difference_range)
    mean, low, high, n = mean_ci(x, confidence)
    if difference_range is not None and n:
        low, high = max(low, difference_range.low), min(high, difference_range.high)
    return mean, low, high, n


def _finite_values(values, confidence: float, value_range: MetricRange | None) -> np.ndarray:
    """The finite values, after checking ``confidence`` and that they lie in ``value_range``."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if value_range is not None and x.size and not (value_range.low <= x.min() and x.max() <= value_range.high):
        outside = x[(x < value_range.low) | (x > value_range.high)]
        raise ValueError(f"{outside.size} value(s) lie outside the range {value_range} of this quantity "
                         f"(first: {outside[0]!r}); the values or the declared range are wrong.")
    return x


def _to_real_line(x, value_range: MetricRange):
    """The logit of the position of ``x`` in the finite range ``value_range``."""
    return special.logit((x - value_range.low) / (value_range.high - value_range.low))


def _slope(x: float, value_range: MetricRange) -> float:
    """``g'(x)``, the derivative of :func:`_to_real_line`."""
    return (value_range.high - value_range.low) / ((x - value_range.low) * (value_range.high - x))


def _from_real_line(y: float, value_range: MetricRange) -> float:
    """Inverse of :func:`_to_real_line`."""
    return float(value_range.low + (value_range.high - value_range.low) * special.expit(y))


def summarise(records: pd.DataFrame, metrics, by=("dataset", "loss"), confidence: float = 0.95,
              ranges=None) -> pd.DataFrame:
    """Long table of ``mean``, ``ci_low``, ``ci_high``, ``n`` per group and metric.

    Intervals are :func:`mean_ci`'s inside each metric's range.

    Parameters
    ----------
    records : DataFrame
        One row per run.
    metrics : sequence of str
        Columns of ``records`` to summarise; a missing column is an error, not a silent skip.
    by : sequence of str
        Grouping columns.
    confidence : float, default=0.95
    ranges : mapping of str to MetricRange, optional
        Ranges of the metrics; a metric not in it gets its declared range,
        :func:`spae_core.metrics.metric_range` of its name (an undeclared name is an error).
    """
    by = list(by)
    missing = [m for m in list(metrics) + by if m not in records.columns]
    if missing:
        raise ValueError(f"records has no column(s) {missing}; available: {sorted(records.columns)}.")
    value_ranges = {m: (ranges or {}).get(m) or metric_range(m) for m in metrics}
    rows = []
    for keys, group in records.groupby(by, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        for metric in metrics:
            mean, low, high, n = mean_ci(group[metric], confidence, value_ranges[metric])
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


def paired_t_pvalue(a, b) -> tuple[float, int]:
    """Two-sided paired t-test of ``mean(a - b) = 0`` over the pairs where both are finite.

    Returns
    -------
    p : float
        NaN with fewer than two pairs (no test is possible). When every difference is the same,
        the t statistic is undefined: ``p = 1`` if the differences are all 0 (identical runs),
        ``p = 0`` otherwise (a constant non-zero difference is as separated as data can be).
    n : int
        Number of pairs used.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal shapes, got {a.shape} and {b.shape}.")
    d = (a - b)[np.isfinite(a) & np.isfinite(b)]
    n = d.size
    if n < 2:
        return float("nan"), n
    if np.all(d == d[0]):
        return (1.0 if d[0] == 0 else 0.0), n
    t = d.mean() / (d.std(ddof=1) / np.sqrt(n))
    return float(2 * stats.t.sf(abs(t), df=n - 1)), n


def seeds_for_power(differences, alpha: float = 0.05, power: float = 0.8, max_seeds: int = 1000) -> int:
    """Seeds a two-sided paired t-test at level ``alpha`` needs to detect the mean of ``differences`` with ``power``.

    The mean and standard deviation of the (finite) per-seed ``differences`` are taken as the
    true difference and spread; the power of the test with ``n`` pairs is that of the noncentral
    t distribution with ``n - 1`` degrees of freedom and noncentrality ``sqrt(n) * mean / sd``.

    Returns
    -------
    int
        The smallest ``n >= 2`` with at least ``power``; ``max_seeds + 1`` when even ``max_seeds``
        is not enough (a mean difference near zero, or zero: such losses are tied at this
        precision). A constant non-zero difference needs 2.

    Raises
    ------
    ValueError
        With fewer than two finite differences (no spread to estimate), or ``alpha``/``power``
        outside (0, 1).
    """
    for name, value in (("alpha", alpha), ("power", power)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1), got {value}.")
    d = np.asarray(differences, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size < 2:
        raise ValueError(f"need at least two finite per-seed differences to estimate their spread, got {d.size}.")
    mean, sd = abs(float(d.mean())), float(d.std(ddof=1))
    if sd == 0:
        return 2 if mean > 0 else max_seeds + 1
    n = np.arange(2, max_seeds + 1)
    critical = stats.t.ppf(1 - alpha / 2, n - 1)
    shift = np.sqrt(n) * mean / sd
    achieved = stats.nct.sf(critical, n - 1, shift) + stats.nct.cdf(-critical, n - 1, shift)
    enough = np.flatnonzero(achieved >= power)
    return int(n[enough[0]]) if enough.size else max_seeds + 1


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN.

    NaN p-values (no test possible) do not count towards the family size.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    running = 0.0
    for rank, index in enumerate(finite[np.argsort(p[finite], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def paired_best(records: pd.DataFrame, metric: str, by=("dataset",), candidate: str = "loss",
                pair_on: str = "seed", alpha: float = 0.05) -> pd.DataFrame:
    """The best candidate per group, declared only where paired tests separate it from every other.

    In each group, the candidate with the highest mean ``metric`` over seeds is compared with
    each other candidate by a two-sided paired t-test on the per-seed differences (runs with the
    same ``pair_on`` value share their initial weights and sample order, so pairing removes that
    part of the seed-to-seed variation). The ``k - 1`` p-values of a group form one family,
    corrected with Holm's step-down method. A candidate whose adjusted p-value is ``>= alpha``
    (or that cannot be tested: fewer than two seeds where both are defined) is *tied* with the
    best. The best is *separated* when nothing is tied with it and at least one other candidate
    is defined: only then is it "the best".

    Choosing the best by its mean before testing it against the rest favours a finding; the
    two-sided test (instead of a one-sided one in the observed direction) is the conservative
    answer to that.

    Returns
    -------
    DataFrame
        ``by`` columns, ``best``, ``best_mean``, ``runner_up``, ``p_runner_up`` (Holm-adjusted),
        ``n_pairs`` (seeds paired with the runner-up), ``tied`` (sorted list), ``separated``.
        Groups where the metric is undefined for every run get ``best = None``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}.")
    rows = []
    for keys, wide in _seed_tables(records, metric, by, candidate, pair_on):
        means = wide.mean(skipna=True).dropna()
        if means.empty:
            rows.append({**dict(zip(by, keys)), "best": None, "best_mean": float("nan"), "runner_up": None,
                         "p_runner_up": float("nan"), "n_pairs": 0, "tied": [], "separated": False})
            continue
        order = means.sort_values(ascending=False, kind="stable").index.tolist()
        best, others = order[0], order[1:]
        tests = [paired_t_pvalue(wide[best].to_numpy(), wide[other].to_numpy()) for other in others]
        adjusted = holm([p for p, _ in tests])
        tied = sorted(o for o, p in zip(others, adjusted) if not p < alpha)
        rows.append({
            **dict(zip(by, keys)), "best": best, "best_mean": float(means[best]),
            "runner_up": others[0] if others else None,
            "p_runner_up": float(adjusted[0]) if others else float("nan"),
            # With no other defined candidate there is nothing to be separated from.
            "n_pairs": tests[0][1] if others else 0, "tied": tied, "separated": bool(others) and not tied,
        })
    return pd.DataFrame(rows)


def paired_group_difference(records: pd.DataFrame, metric: str, group_a, group_b, by=("dataset",),
                            candidate: str = "loss", pair_on: str = "seed", confidence: float = 0.95,
                            value_range: MetricRange | None = None) -> pd.DataFrame:
    """How far the best member of ``group_a`` is ahead of the best member of ``group_b``, per group.

    The paper's claims compare families of losses ("sparsity-aware losses beat MSE and BCE"). A
    family is represented by its best member on that dataset (highest mean over seeds), which is
    how the paper reads its own figures; the two representatives are compared seed by seed.
    ``value_range`` is the metric's range (default: :func:`spae_core.metrics.metric_range` of
    ``metric``); the differences' interval stays in its difference range (:func:`mean_difference_ci`).

    Returns
    -------
    DataFrame
        ``by`` columns, ``best_a``, ``best_b``, ``difference`` (mean of ``a - b`` over paired
        seeds), ``ci_low``, ``ci_high`` (paired Student-t interval within the differences' range),
        ``p`` (two-sided paired
        t-test, :func:`paired_t_pvalue`), ``n_pairs``. Groups where either family has no
        defined value are left out.
    """
    group_a, group_b = list(group_a), list(group_b)
    if set(group_a) & set(group_b):
        raise ValueError(f"group_a and group_b overlap: {sorted(set(group_a) & set(group_b))}.")
    rows = []
    for keys, wide in _seed_tables(records, metric, by, candidate, pair_on):
        # Looked up here, after _seed_tables has checked that the column exists.
        difference_range = (value_range or metric_range(metric)).difference_range()
        means = wide.mean(skipna=True)
        a = means.reindex(group_a).dropna()
        b = means.reindex(group_b).dropna()
        if a.empty or b.empty:
            continue
        best_a, best_b = a.idxmax(), b.idxmax()
        d = (wide[best_a] - wide[best_b]).to_numpy()
        mean, low, high, n = mean_difference_ci(d, confidence, difference_range)
        p, _ = paired_t_pvalue(wide[best_a].to_numpy(), wide[best_b].to_numpy())
        rows.append({**dict(zip(by, keys)), "best_a": best_a, "best_b": best_b, "difference": mean,
                     "ci_low": low, "ci_high": high, "p": p, "n_pairs": n})
    return pd.DataFrame(rows, columns=[*by, "best_a", "best_b", "difference", "ci_low", "ci_high", "p", "n_pairs"])


def paired_best_per_metric(records: pd.DataFrame, metrics, by=("dataset",), alpha: float = 0.05) -> pd.DataFrame:
    """:func:`paired_best` for several metrics, in long format with a ``metric`` column.

    Metrics missing from ``records`` are an error; a metric undefined for every run of a group
    gives that group ``best = None``.
    """
    frames = [paired_best(records, metric, by=by, alpha=alpha).assign(metric=metric) for metric in metrics]
    return pd.concat(frames, ignore_index=True)


def paired_differences(records: pd.DataFrame, metric: str, reference, candidate: str = "loss", by=("dataset",),
                       pair_on: str = "seed", confidence: float = 0.95,
                       value_range: MetricRange | None = None) -> pd.DataFrame:
    """Each candidate against one reference candidate, seed by seed, per group.

    For every candidate other than ``reference`` (e.g. each count loss against ``count_mse``, or
    each OVR strength against ``ovr_lambda = 0``) the per-seed differences ``candidate -
    reference`` are summarised by their mean and paired Student-t interval (within the range of
    a difference of two values of the metric, :func:`mean_difference_ci`) and tested by a
    two-sided paired t-test (:func:`paired_t_pvalue`). The tests of one group form one family,
    corrected with Holm's method (:func:`holm`).

    Parameters
    ----------
    records : DataFrame
        One row per run.
    metric : str
    reference
        The value of ``candidate`` every other value is compared with.
    candidate, pair_on : str
        Columns: what is compared, and what pairs runs (runs with the same seed share their
        initial weights and sample order).
    by : sequence of str
        Grouping columns.
    confidence : float, default=0.95
    value_range : MetricRange, optional
        The metric's range; default :func:`spae_core.metrics.metric_range` of ``metric``.

    Returns
    -------
    DataFrame
        ``by`` columns, ``candidate`` (named after the ``candidate`` column), ``reference``,
        ``difference``, ``ci_low``, ``ci_high``, ``p``, ``p_holm``, ``n_pairs``. A group without
        the reference gets no rows; a candidate with fewer than two pairs gets NaN ``p``.

    Raises
    ------
    ValueError
        If a column is missing, or a group holds two runs with the same ``candidate`` and
        ``pair_on`` (they could not be paired without dropping one).
    """
    by = list(by)
    missing = [c for c in [metric, candidate, pair_on, *by] if c not in records.columns]
    if missing:
        raise ValueError(f"records has no column(s) {missing}; available: {sorted(records.columns)}.")
    duplicated = records.duplicated(subset=[*by, candidate, pair_on], keep=False)
    if duplicated.any():
        first = records.loc[duplicated, [*by, candidate, pair_on]].iloc[0].to_dict()
        raise ValueError(f"{int(duplicated.sum())} runs share their {[*by, candidate, pair_on]} with another run "
                         f"(first: {first}); group by the column that tells them apart.")
    columns = [*by, candidate, "reference", "difference", "ci_low", "ci_high", "p", "p_holm", "n_pairs"]
    difference_range = (value_range or metric_range(metric)).difference_range()
    rows = []
    for keys, group in records.groupby(by, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        wide = group.pivot(index=pair_on, columns=candidate, values=metric)
        if reference not in wide.columns:
            continue
        others = [c for c in dict.fromkeys(group[candidate]) if c != reference]
        tests = []
        for other in others:
            mean, low, high, n = mean_difference_ci((wide[other] - wide[reference]).to_numpy(dtype=np.float64),
                                                    confidence, difference_range)
            p, _ = paired_t_pvalue(wide[other].to_numpy(dtype=np.float64), wide[reference].to_numpy(dtype=np.float64))
            tests.append({**dict(zip(by, keys)), candidate: other, "reference": reference, "difference": mean,
                          "ci_low": low, "ci_high": high, "p": p, "n_pairs": n})
        for row, adjusted in zip(tests, holm([t["p"] for t in tests])):
            row["p_holm"] = float(adjusted)
        rows.extend(tests)
    return pd.DataFrame(rows, columns=columns)


def _seed_tables(records: pd.DataFrame, metric: str, by, candidate: str, pair_on: str):
    """Per group of ``by``: its key tuple and a (``pair_on`` x ``candidate``) table of ``metric``."""
    missing = [c for c in [metric, candidate, pair_on, *by] if c not in records.columns]
    if missing:
        raise ValueError(f"records has no column(s) {missing}; available: {sorted(records.columns)}.")
    for keys, group in records.groupby(list(by), sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        yield keys, group.pivot_table(index=pair_on, columns=candidate, values=metric, aggfunc="first", dropna=False)
