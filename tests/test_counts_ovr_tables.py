"""Paired differences against a reference, their table, and the parameter-sweep figure."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spae_core.figures import parameter_sweep_figure
from spae_core.statistics import paired_differences, summarise
from spae_core.tables import paired_difference_table, separation_counts


def _records():
    # Two datasets, a reference and two candidates, four seeds each: hand-made per-seed values.
    values = {
        ("a", "ref"): [0.50, 0.52, 0.47, 0.51],
        ("a", "x"): [0.60, 0.61, 0.58, 0.63],
        ("a", "y"): [0.50, 0.53, 0.46, 0.52],
        ("b", "ref"): [0.30, 0.31, 0.29, 0.33],
        ("b", "x"): [0.20, 0.24, 0.21, 0.22],
    }
    return pd.DataFrame([{"dataset": d, "loss": l, "seed": s, "ap_macro": v}
                         for (d, l), vs in values.items() for s, v in enumerate(vs)]), values


def test_paired_differences_match_scipy():
    records, values = _records()
    out = paired_differences(records, "ap_macro", "ref")
    assert out[["dataset", "loss"]].values.tolist() == [["a", "x"], ["a", "y"], ["b", "x"]]
    for (dataset, loss), row in zip([("a", "x"), ("a", "y"), ("b", "x")], out.itertuples()):
        d = np.subtract(values[(dataset, loss)], values[(dataset, "ref")])
        half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2
        assert row.difference == pytest.approx(d.mean())
        assert (row.ci_low, row.ci_high) == pytest.approx((d.mean() - half, d.mean() + half))
        assert row.p == pytest.approx(stats.ttest_rel(values[(dataset, loss)], values[(dataset, "ref")]).pvalue)
        assert row.n_pairs == 4
    # Holm within dataset a (two tests): the smaller p times 2, the larger max(that, p).
    pa = sorted(out[out["dataset"] == "a"]["p"])
    assert sorted(out[out["dataset"] == "a"]["p_holm"]) == pytest.approx([min(1, 2 * pa[0]), max(min(1, 2 * pa[0]), pa[1])])
    # One test in dataset b: no adjustment.
    assert out[out["dataset"] == "b"]["p_holm"].iloc[0] == pytest.approx(out[out["dataset"] == "b"]["p"].iloc[0])


def test_paired_differences_refuse_unpairable_and_missing():
    records, _ = _records()
    with pytest.raises(ValueError, match="share"):
        paired_differences(pd.concat([records, records.iloc[:1]]), "ap_macro", "ref")
    with pytest.raises(ValueError, match="no column"):
        paired_differences(records, "nope", "ref")
    assert paired_differences(records, "ap_macro", "absent").empty


def test_paired_difference_table_cells():
    records, values = _records()
    table = paired_difference_table(records, "ap_macro", "ref")
    assert table.columns.tolist() == ["x", "y"] and table.index.tolist() == ["a", "b"]
    d = np.subtract(values[("a", "x")], values[("a", "ref")])
    assert table.loc["a", "x"].startswith(f"{d.mean():+.3f} [") and table.loc["a", "x"].endswith("] *")
    assert not table.loc["a", "y"].endswith("*")
    assert table.columns.name == "loss - ref: mean [95% interval] over 4 seeds"
    assert pd.isna(table.loc["b", "y"])
    two = paired_difference_table(records.assign(ch_sparsity=records["ap_macro"] * 2), ["ap_macro", "ch_sparsity"], "ref")
    assert two.index.names == ["dataset", "metric"]
    with pytest.raises(ValueError, match="reference"):
        paired_difference_table(records, "ap_macro", "absent")


def test_separation_counts_from_scipy_tests_and_holm():
    records, values = _records()
    # Expected from scipy: paired t-test per (dataset, candidate), Holm within each dataset.
    expected = {"better": 0, "worse": 0}
    for dataset, candidates in {"a": ["x", "y"], "b": ["x"]}.items():
        p = [stats.ttest_rel(values[(dataset, c)], values[(dataset, "ref")]).pvalue for c in candidates]
        order = np.argsort(p)
        adjusted = np.maximum.accumulate([min(1.0, (len(p) - rank) * p[i]) for rank, i in enumerate(order)])
        for rank, i in enumerate(order):
            difference = np.mean(np.subtract(values[(dataset, candidates[i])], values[(dataset, "ref")]))
            if adjusted[rank] < 0.05:
                expected["better" if difference > 0 else "worse"] += 1
    assert expected == {"better": 1, "worse": 1}  # the data are built so: a/x up, b/x down, a/y neither
    table = separation_counts(records.assign(mae_nonzero=records["ap_macro"]), {"ap_macro": True, "mae_nonzero": False}, "ref")
    assert table.loc["ap_macro"].tolist() == [3, expected["better"], expected["worse"], 1]
    # Lower is better for "mae_nonzero": the same differences count the other way round.
    assert table.loc["mae_nonzero"].tolist() == [3, expected["worse"], expected["better"], 1]
    with pytest.raises(ValueError, match="alpha"):
        separation_counts(records, {"ap_macro": True}, "ref", alpha=0)


def test_parameter_sweep_figure_draws_one_line_per_group():
    rows = [{"dataset": d, "ovr_lambda": lam, "seed": s, "ch_sparsity": 0.1 * lam + 0.01 * s + (d == "b")}
            for d in "ab" for lam in (0.0, 0.1, 1.0) for s in range(3)]
    summary = summarise(pd.DataFrame(rows), ["ch_sparsity"], by=("dataset", "ovr_lambda"))
    fig = parameter_sweep_figure(summary, "ovr_lambda", ["ch_sparsity"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "0.1", "1"]
    assert len(ax.get_lines()) >= 2 and len(fig.legends) == 1  # one legend for all panels, below them
    with pytest.raises(ValueError, match="no column"):
        parameter_sweep_figure(summary.drop(columns="ovr_lambda"), "ovr_lambda", ["ch_sparsity"])


def test_parameter_sweep_figure_lines_by_several_columns():
    rows = [{"dataset": d, "batch_size": b, "ovr_lambda": lam, "seed": s, "ch_sparsity": lam + s / 10}
            for d in "ab" for b in (16, 64) for lam in (0.0, 1.0) for s in range(2)]
    summary = summarise(pd.DataFrame(rows), ["ch_sparsity"], by=("dataset", "batch_size", "ovr_lambda"))
    fig = parameter_sweep_figure(summary, "ovr_lambda", ["ch_sparsity"], line_by=("dataset", "batch_size"))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["dataset=a, batch_size=16", "dataset=a, batch_size=64", "dataset=b, batch_size=16",
                      "dataset=b, batch_size=64"]
