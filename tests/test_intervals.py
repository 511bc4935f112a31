"""Intervals that respect each quantity's range: the declared ranges, the transformed interval, and its coverage."""

import functools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from spae_core.metrics import AT_MOST_ONE, NON_NEGATIVE, UNBOUNDED, UNIT_INTERVAL, MetricRange, metric_range
from spae_core.runs.store import load_distributions, load_histories, load_records
from spae_core.statistics import mean_ci, mean_difference_ci, paired_differences, paired_group_difference, summarise

ROOT = Path(__file__).parents[1]
STORES = [ROOT / "tests" / "golden" / "results", *sorted((ROOT / "published").glob("*"))]
RANGES = [UNIT_INTERVAL, NON_NEGATIVE, AT_MOST_ONE, MetricRange(-1, 1), MetricRange(2.5, 7.0), MetricRange(-3, math.inf)]


# --------------------------------------------------------------------------------------------
# The interval against a formula written out with scipy
# --------------------------------------------------------------------------------------------


def _t_quantile(n, confidence=0.95):
    return stats.t.ppf(0.5 + confidence / 2, n - 1)


def test_unbounded_metrics_keep_the_student_t_interval():
    values = [-2.0, 0.5, 3.1, 1.2]
    expected = stats.t.interval(0.95, 3, loc=np.mean(values), scale=stats.sem(values))
    for value_range in (None, UNBOUNDED):
        mean, low, high, n = mean_ci(values, value_range=value_range)
        assert (low, high) == pytest.approx(expected) and n == 4


@pytest.mark.parametrize("values", [[0.01, 0.03, 0.107], [0.0, 0.0, 0.0012], [0.2, 0.9, 1.0, 0.95, 0.5]])
def test_unit_interval_is_the_logit_transformed_interval(values):
    m, s, n = np.mean(values), np.std(values, ddof=1), len(values)
    # Delta method: the standard error of logit(mean) is s / (sqrt(n) m (1 - m)).
    half = _t_quantile(n) * s / (np.sqrt(n) * m * (1 - m))
    expected = special.expit(special.logit(m) - half), special.expit(special.logit(m) + half)
    mean, low, high, _ = mean_ci(values, value_range=UNIT_INTERVAL)
    assert mean == pytest.approx(m) and (low, high) == pytest.approx(expected, rel=1e-12)


def test_one_sided_ranges_are_student_t_intersected_with_the_range():
    counts = [0.0, 0.0, 2.0]
    low, high = stats.t.interval(0.95, 2, loc=np.mean(counts), scale=stats.sem(counts))
    assert low < 0  # the case at issue: Student-t's interval of a count reaches below 0
    assert mean_ci(counts, value_range=NON_NEGATIVE)[1:3] == pytest.approx((0.0, high))
    r2 = [0.09, -8.6, -0.5]  # R^2 <= 1
    low, high = stats.t.interval(0.95, 2, loc=np.mean(r2), scale=stats.sem(r2))
    assert high > 1
    assert mean_ci(r2, value_range=AT_MOST_ONE)[1:3] == pytest.approx((low, 1.0))
    inside = [5.0, 7.0, 6.5]  # far from the bound: Student-t's interval unchanged
    assert mean_ci(inside, value_range=NON_NEGATIVE)[1:3] == pytest.approx(
        stats.t.interval(0.95, 2, loc=np.mean(inside), scale=stats.sem(inside)))


def test_a_general_finite_range_is_the_logit_of_the_position_in_it():
    values, low, high = [3.0, 4.5, 6.9], 2.5, 7.0
    u = (np.array(values) - low) / (high - low)
    half = _t_quantile(3) * u.std(ddof=1) / (np.sqrt(3) * u.mean() * (1 - u.mean()))
    expected = [low + (high - low) * special.expit(special.logit(u.mean()) + sign * half) for sign in (-1, 1)]
    assert mean_ci(values, value_range=MetricRange(low, high))[1:3] == pytest.approx(expected)


def test_degenerate_and_undefined_samples():
    assert mean_ci([0.3, 0.3, 0.3], value_range=UNIT_INTERVAL) == (pytest.approx(0.3),) * 3 + (3,)
    assert mean_ci([0.0, 0.0], value_range=UNIT_INTERVAL) == (0.0, 0.0, 0.0, 2)
    assert mean_ci([1.0, np.nan], value_range=UNIT_INTERVAL) == (1.0, 1.0, 1.0, 1)
    assert np.isnan(mean_ci([np.nan], value_range=UNIT_INTERVAL)[0])


def test_values_outside_the_range_are_an_error():
    with pytest.raises(ValueError, match=r"outside the range \[0, 1\]"):
        mean_ci([0.5, 1.2], value_range=UNIT_INTERVAL)
    with pytest.raises(ValueError, match="low < high"):
        MetricRange(1.0, 1.0)


# --------------------------------------------------------------------------------------------
# Properties: inside the range, around the arithmetic mean
# --------------------------------------------------------------------------------------------


@st.composite
def _sample_in_range(draw):
    value_range = draw(st.sampled_from(RANGES))
    low = value_range.low if value_range.bounded_below else value_range.high - 1e3
    high = value_range.high if value_range.bounded_above else value_range.low + 1e3
    inside = st.floats(low, high, allow_nan=False)
    # Values exactly on a bound and all-equal samples come up often, not by luck.
    value = st.one_of(inside, st.sampled_from([low, high]), st.floats(low, low + 1e-6 * (high - low)))
    n = draw(st.integers(2, 10))
    values = draw(st.one_of(st.lists(value, min_size=n, max_size=n), value.map(lambda v: [v] * n)))
    return value_range, values


@settings(max_examples=400, deadline=None)
@given(_sample_in_range(), st.sampled_from([0.5, 0.9, 0.95, 0.99]))
def test_interval_stays_in_range_and_contains_the_mean(sample, confidence):
    value_range, values = sample
    mean, low, high, n = mean_ci(values, confidence, value_range)
    assert n == len(values) and mean == pytest.approx(np.mean(values), rel=1e-12, abs=1e-12)
    assert value_range.low <= low <= mean <= high <= value_range.high


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=2, max_size=10))
def test_difference_intervals_stay_in_the_difference_range(differences):
    mean, low, high, _ = mean_difference_ci(differences, difference_range=UNIT_INTERVAL.difference_range())
    assert -1 <= low <= mean <= high <= 1


def test_difference_intervals_are_student_t_cut_to_the_difference_range():
    inside = [0.02, 0.05, -0.01, 0.03]
    assert mean_difference_ci(inside, difference_range=MetricRange(-1, 1)) == mean_ci(inside)
    # AP of two losses that swap between 0 and 1 from seed to seed: the plain interval leaves [-1, 1].
    wild = [1.0, -1.0, 1.0]
    plain = mean_ci(wild)
    assert plain[1] < -1 and plain[2] > 1
    assert mean_difference_ci(wild, difference_range=MetricRange(-1, 1)) == (plain[0], -1.0, 1.0, 3)


def test_paired_functions_look_up_the_metric_range():
    rows = [{"dataset": "d", "loss": loss, "seed": seed, "ap_macro": value}
            for seed, (a, b) in enumerate([(1.0, 0.0), (0.0, 1.0), (1.0, 0.0)])
            for loss, value in (("focal", a), ("mse", b))]
    records = pd.DataFrame(rows)
    row = paired_differences(records, "ap_macro", "mse").iloc[0]
    assert (row.ci_low, row.ci_high) == (-1.0, 1.0)
    row = paired_group_difference(records, "ap_macro", ["focal"], ["mse"]).iloc[0]
    assert (row.ci_low, row.ci_high) == (-1.0, 1.0)
    with pytest.raises(KeyError, match="no range is declared"):
        paired_differences(records.rename(columns={"ap_macro": "undeclared"}), "undeclared", "mse")


# --------------------------------------------------------------------------------------------
# The declared ranges against the committed records
# --------------------------------------------------------------------------------------------


def test_ranges_of_the_metric_families():
    assert metric_range("ap_label_hypothyroid") == UNIT_INTERVAL and metric_range("r2_imdb_rating") == AT_MOST_ONE
    assert metric_range("ch_dbscan_eps_x0.5") == NON_NEGATIVE and metric_range("seconds_fit") == NON_NEGATIVE
    assert UNIT_INTERVAL.difference_range() == MetricRange(-1, 1) and NON_NEGATIVE.difference_range() == UNBOUNDED
    assert NON_NEGATIVE.ratio_range() == NON_NEGATIVE and UNIT_INTERVAL.ratio_range() == NON_NEGATIVE
    with pytest.raises(KeyError, match="declare it in spae_core/metrics/ranges.py"):
        metric_range("a_new_metric")


@functools.cache
def _stored_tables(store):
    baselines = pd.DataFrame([json.loads(p.read_text()) for p in sorted((store / "baselines").glob("*.json"))])
    return {"records": load_records(store), "baselines": baselines, "histories": load_histories(store),
            "distributions": load_distributions(store)}


@pytest.mark.parametrize("store", STORES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_numeric_column_of_the_stored_results_has_a_declared_range_it_respects(store):
    for name, table in _stored_tables(store).items():
        numeric = table.select_dtypes(include=["number", "bool"])
        assert not numeric.empty, f"{store}: no {name}"
        for column in numeric.columns:
            declared = metric_range(column)
            values = numeric[column].to_numpy(dtype=np.float64)
            values = values[np.isfinite(values)]
            assert ((values >= declared.low) & (values <= declared.high)).all(), f"{name}.{column} leaves {declared}"


@pytest.mark.parametrize("store", STORES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_interval_summarised_from_the_stored_records_lies_in_range(store):
    records = _stored_tables(store)["records"]
    metrics = [c for c in records.select_dtypes(include=["number", "bool"]).columns if c != "seed"]
    summary = summarise(records.assign(stopped_early=records["stopped_early"].astype(float)), metrics)
    ranges = summary["metric"].map(metric_range)
    defined = summary.dropna(subset=["mean"])
    assert len(defined) > 100
    inside = [r.low <= low <= mean <= high <= r.high
              for r, low, mean, high in zip(ranges[defined.index], defined["ci_low"], defined["mean"], defined["ci_high"])]
    assert all(inside)


# --------------------------------------------------------------------------------------------
# Coverage on few seeds of a metric near 0
# --------------------------------------------------------------------------------------------


def _coverage(samples, true_mean, value_range):
    intervals = np.array([mean_ci(sample, value_range=value_range)[1:3] for sample in samples])
    return np.mean((intervals[:, 0] <= true_mean) & (true_mean <= intervals[:, 1]))


@pytest.mark.parametrize("seeds", [3, 5])
def test_coverage_near_zero_is_close_to_nominal_and_above_student_t(seeds):
    # Beta(1, 19): mean 0.05, skewed towards 0 as an AP or a share of a few seeds is.
    samples = np.random.default_rng(14).beta(1.0, 19.0, size=(2000, seeds))
    ours, student = _coverage(samples, 0.05, UNIT_INTERVAL), _coverage(samples, 0.05, None)
    assert ours >= 0.90 and ours > student
