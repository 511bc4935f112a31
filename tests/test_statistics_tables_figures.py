"""Statistics over seeds, the book's tables and figures, on hand-made run records."""

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt
from scipy import stats

from spae_core.book import notebook_runtimes
from spae_core.figures import (
    bce_soft_target_figure,
    expected_loss_figure,
    metric_bars_figure,
    metric_bars_table,
    reconstruction_distribution_figure,
    training_curves_figure,
    wmse_erratum_figure,
)
from spae_core.metrics import NON_NEGATIVE, UNIT_INTERVAL
from spae_core.paper import FIGURE6_METRICS, PAPER_FIGURE6, PAPER_LOSSES
from spae_core.statistics import best_per_group, holm, mean_ci, paired_best, paired_t_pvalue, percent_of_best, summarise
from spae_core.losses import expected_loss
from spae_core.tables import expected_loss_table, figure6_table, figure6_variants, metric_table, runs_table



@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_mean_ci_is_the_student_t_interval():
    values = [0.61, 0.64, 0.58, 0.70, 0.66]
    mean, low, high, n = mean_ci(values)
    half = stats.t.ppf(0.975, 4) * np.std(values, ddof=1) / np.sqrt(5)
    assert (mean, n) == (pytest.approx(np.mean(values)), 5)
    assert low == pytest.approx(np.mean(values) - half) and high == pytest.approx(np.mean(values) + half)


def test_mean_ci_leaves_out_nan_and_does_not_invent_an_interval():
    assert mean_ci([0.5, np.nan, 0.7])[3] == 2
    assert mean_ci([0.4]) == (0.4, 0.4, 0.4, 1)
    assert np.isnan(mean_ci([np.nan])[0]) and mean_ci([np.nan])[3] == 0
    with pytest.raises(ValueError, match="confidence"):
        mean_ci([1, 2], confidence=95)


def _records():
    rng = np.random.default_rng(0)
    rows = []
    for dataset, counterpart in [("d1", "Netflix_0.97"), ("d2", "IMDB_1.0")]:
        for loss, centre in [("mse", 0.5), ("bce", 0.52), ("focal", 0.8)]:
            for seed in range(4):
                rows.append({"dataset": dataset, "paper_counterpart": counterpart, "loss": loss, "seed": seed,
                             "ap_macro": centre + 0.01 * rng.standard_normal(),
                             "trustworthiness": 0.9 + 0.001 * seed, "ch_dbscan": (2.0 if loss == "focal" else 1.0) * (1 + seed)})
    return pd.DataFrame(rows)


def test_summarise_and_best_with_ties():
    records = _records()
    summary = summarise(records, ["ap_macro", "trustworthiness"])
    assert len(summary) == 2 * 3 * 2 and (summary["n"] == 4).all()
    best = best_per_group(summary).set_index(["dataset", "metric"])
    assert best.loc[("d1", "ap_macro"), "best"] == "focal" and best.loc[("d1", "ap_macro"), "tied"] == []
    # Identical trustworthiness for every loss: all three are tied.
    assert len(best.loc[("d1", "trustworthiness"), "tied"]) == 2
    with pytest.raises(ValueError, match="no column"):
        summarise(records, ["missing_metric"])


def test_percent_of_best():
    records = _records()
    scaled = percent_of_best(records, "ch_dbscan")
    best_mean = records[records["loss"] == "focal"]["ch_dbscan"].mean()  # 2 * mean(1..4) = 5
    expected = 100 * records["ch_dbscan"] / best_mean
    np.testing.assert_allclose(scaled, expected)


def test_metric_table_cells():
    summary = summarise(_records(), ["ap_macro", "trustworthiness"])
    table = metric_table(summary, "trustworthiness")
    assert list(table.index) == ["d1", "d2"] and list(table.columns) == ["mse", "bce", "focal"]
    low, high = mean_ci([0.9, 0.901, 0.902, 0.903], value_range=UNIT_INTERVAL)[1:3]
    assert table.loc["d1", "mse"] == f"0.902 [{low:.3f}, {high:.3f}]"  # all 4 seeds: n said once, in the heading
    assert table.columns.name == "Trustworthiness: mean [95% interval] over 4 seeds"  # one metric: named
    fewer = summarise(_records().assign(trustworthiness=lambda r: r["trustworthiness"].where(
        (r["dataset"] != "d1") | (r["loss"] != "mse") | (r["seed"] != 0))), ["trustworthiness"])
    table = metric_table(fewer, "trustworthiness")
    assert table.loc["d1", "mse"].endswith(" (n=3)") and not table.loc["d1", "bce"].endswith(")")
    assert table.columns.name == "Trustworthiness: mean [95% interval] over 4 seeds, (n=k) where fewer"
    one = summarise(_records()[lambda r: (r["dataset"] != "d1") | (r["seed"] == 0)], ["trustworthiness"])
    assert metric_table(one, "trustworthiness").loc["d1", "mse"] == "0.900 (n=1)"  # one seed: no interval
    reference = pd.DataFrame({"dataset": ["d1", "d2"], "metric": ["ap_macro"] * 2, "raw_input": [0.25, 0.5]})
    both = metric_table(summary, ["ap_macro", "trustworthiness"], reference=reference)
    assert both.columns.name.startswith("loss: ")  # several metrics: named by the rows
    assert both.loc[("d1", "ap_macro"), "raw input"] == "0.250"
    two = metric_table(summary, "ap_macro", reference=reference.assign(raw_input_standardised=[0.125, 0.75]))
    assert two.loc["d2", ["raw input", "raw input standardised"]].tolist() == ["0.500", "0.750"]
    with pytest.raises(ValueError, match="No metric"):
        metric_table(summary, "r2")


def test_figure6_verdicts():
    table = figure6_table(_records()).set_index(["dataset", "metric"])
    # Paper: Netflix_0.97 AP best is MSE; ours is focal, clearly separated -> differs.
    assert table.loc[("d1", "AP"), "ours_best"] == "focal"
    assert table.loc[("d1", "AP"), "paper_best"] == "mse" and table.loc[("d1", "AP"), "verdict"] == "differs"
    # Paper: IMDB AP best is BCE; ours is focal, far ahead -> differs; on Netflix_0.97 the paper's
    # trustworthiness winner (WMSE) was not run here.
    assert table.loc[("d2", "AP"), "verdict"] == "differs"
    assert table.loc[("d1", "Trustworthiness"), "verdict"] == "paper's winner not run"


def test_figure6_tied_when_the_paper_winner_is_not_separable():
    records = _records()
    mse = records["loss"] == "mse"
    # Focal ahead of MSE on average, but not on every seed: paired differences +0.05, -0.03,
    # +0.04, -0.02 (t = 0.34): not separable.
    records.loc[records["loss"] == "focal", "ap_macro"] = records.loc[mse, "ap_macro"].to_numpy() + np.tile([0.05, -0.03, 0.04, -0.02], 2)
    records.loc[records["loss"] == "bce", "ap_macro"] = records.loc[mse, "ap_macro"].to_numpy() - 0.1
    table = figure6_table(records).set_index(["dataset", "metric"])
    assert table.loc[("d1", "AP"), "ours_best"] == "focal" and table.loc[("d1", "AP"), "verdict"] == "tied"
    assert table.loc[("d1", "AP"), "ours_tied"] == "mse" and not table.loc[("d1", "AP"), "separated"]


def test_figure6_a_constant_paired_lead_is_separated_even_inside_overlapping_intervals():
    records = _records()
    mse = records["loss"] == "mse"
    # Seed-to-seed spread (0.01) far larger than the lead (0.001): the unpaired intervals overlap,
    # but every seed puts focal ahead by exactly 0.001, which a paired comparison resolves.
    records.loc[records["loss"] == "focal", "ap_macro"] = records.loc[mse, "ap_macro"].to_numpy() + 0.001
    records.loc[records["loss"] == "bce", "ap_macro"] = records.loc[mse, "ap_macro"].to_numpy() - 0.1
    table = figure6_table(records).set_index(["dataset", "metric"])
    assert table.loc[("d1", "AP"), "separated"] and table.loc[("d1", "AP"), "verdict"] == "differs"


def test_figure6_all_means_every_loss_tied():
    records = _records()
    records["contingency"] = 0.7  # the paper's IMDB contingency cell is "All"
    table = figure6_table(records).set_index(["dataset", "metric"])
    assert table.loc[("d2", "Pairwise Contingency"), "paper_best"] == "All"
    assert table.loc[("d2", "Pairwise Contingency"), "verdict"] == "agrees"


def test_paper_cells_use_known_metrics_and_losses():
    losses = {*PAPER_LOSSES, "all"}
    for cells in PAPER_FIGURE6.values():
        assert set(cells) <= set(FIGURE6_METRICS)
        assert all(winners <= losses for winners in cells.values())


def test_figures_draw_from_records():
    records = _records()
    summary = summarise(records, ["ap_macro"])
    fig = metric_bars_figure(summary, ["ap_macro"], best=best_per_group(summary))
    hatched = [bar for bar in fig.axes[0].patches if bar.get_hatch()]
    assert len(hatched) == 2  # one best bar per dataset
    histories = pd.DataFrame([{"dataset": "d1", "loss": "mse", "seed": s, "run_name": f"r{s}", "epoch": e,
                               "val_loss": 1.0 / e} for s in range(3) for e in range(1, 6)])
    assert training_curves_figure(histories).axes[0].get_title() == "d1"
    edges = np.linspace(0, 1, 21)
    distributions = pd.DataFrame({"dataset": "d1", "loss": "bce", "seed": 0, "run_name": "r0", "bin_left": edges[:-1],
                                  "bin_right": edges[1:], "density": np.full(20, 1.0), "mass_above_threshold": 0.5,
                                  "threshold": 0.5})
    assert reconstruction_distribution_figure(distributions).axes[0].get_yscale() == "log"
    for figure in (expected_loss_figure(), bce_soft_target_figure(), wmse_erratum_figure()):
        assert len(figure.axes) == 2


def test_notebook_runtimes_reads_papermill_metadata(tmp_path):
    (tmp_path / "01_a.ipynb").write_text(json.dumps({"metadata": {"papermill": {"duration": 12.34, "start_time": "t"}}}))
    (tmp_path / "02_b.ipynb").write_text(json.dumps({"metadata": {}}))
    table = notebook_runtimes(tmp_path)
    assert table.to_dict("records") == [{"notebook": "01_a", "seconds": 12.3, "started": "t"}]


def test_bars_can_be_grouped_by_metric_within_dataset_panels():
    summary = summarise(_records(), ["ap_macro", "trustworthiness"])
    fig = metric_bars_figure(summary, ["ap_macro", "trustworthiness"], best=best_per_group(summary), panels_by="dataset")
    assert [ax.get_title() for ax in fig.axes] == ["d1", "d2"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["ap_macro", "trustworthiness"]
    with pytest.raises(ValueError, match="panels_by"):
        metric_bars_figure(summary, ["ap_macro"], panels_by="loss")


def test_metric_bars_table_lists_each_bar_with_its_position_interval_and_mark():
    summary = summarise(_records(), ["ap_macro", "trustworthiness"])
    best = pd.DataFrame({"dataset": ["d1", "d2"], "metric": ["ap_macro"] * 2, "best": ["focal", "bce"],
                         "tied": [[], ["mse"]], "separated": [True, False]})
    bars = metric_bars_table(summary, ["trustworthiness", "ap_macro"], best=best, datasets=["d2", "d1"])
    # Panels in the metrics' order, datasets in the given order, losses in the paper's order.
    assert list(dict.fromkeys(bars["panel"])) == ["trustworthiness", "ap_macro"]
    ap = bars[bars["panel"] == "ap_macro"].set_index(["dataset", "loss"])
    assert list(ap.index) == [(d, loss) for loss in ("mse", "bce", "focal") for d in ("d2", "d1")]
    width = 0.8 / 3
    assert ap["width"].eq(width).all()
    assert ap.loc[("d1", "mse"), "x"] == 1 - width and ap.loc[("d2", "focal"), "x"] == width
    cell = summary.set_index(["dataset", "metric", "loss"]).loc[("d1", "ap_macro", "focal")]
    assert ap.loc[("d1", "focal"), "mean"] == cell["mean"]
    assert ap.loc[("d1", "focal"), "err_low"] == cell["mean"] - cell["ci_low"]
    assert ap.loc[("d1", "focal"), "err_high"] == cell["ci_high"] - cell["mean"]
    # d1: focal separated best (hatched); d2: bce best but not separated, mse tied (both outlined).
    assert ap["mark"].to_dict() == {("d2", "mse"): "tied", ("d1", "mse"): "", ("d2", "bce"): "tied", ("d1", "bce"): "",
                                    ("d2", "focal"): "", ("d1", "focal"): "best"}
    assert (bars.loc[bars["panel"] == "trustworthiness", "mark"] == "").all()  # no best given for it
    by_dataset = metric_bars_table(summary, ["ap_macro", "trustworthiness"], panels_by="dataset")
    assert list(dict.fromkeys(by_dataset["panel"])) == ["d1", "d2"]
    assert list(by_dataset.loc[by_dataset["panel"] == "d1", "group"].unique()) == ["ap_macro", "trustworthiness"]
    fig = metric_bars_figure(summary, ["trustworthiness", "ap_macro"], best=best, datasets=["d2", "d1"])
    assert sum(bool(bar.get_hatch()) for bar in fig.axes[1].patches) == 1


def test_expected_loss_table_and_runs_table():
    table = expected_loss_table(0.99, losses=("mse", "dice"))
    assert table.loc["mse", "s(x_hat) = 0.5"] == expected_loss("mse", 0.99, 0.5)
    assert table.loc["dice", "ratio"] == pytest.approx(expected_loss("dice", 0.99, 0.999) / expected_loss("dice", 0.99, 0.5))
    records = _records().assign(n_samples=100, n_features=5, n_train=70, epochs=[10, 20, 30, 40] * 6,
                                best_epoch=5, stopped_early=[True, True, False, True] * 6)
    runs = runs_table(records)
    assert runs.loc[("d1", "mse"), "seeds"] == 4 and runs.loc[("d1", "mse"), "epochs"] == 25
    assert runs.loc[("d2", "focal"), "stopped_early"] == "3 of 4"  # True, True, False, True


def test_paired_t_pvalue_is_scipys_paired_t_test():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=7), rng.normal(size=7) + 0.5
    p, n = paired_t_pvalue(a, b)
    assert n == 7 and p == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-12)
    # NaN pairs are dropped, the rest tested.
    a2, b2 = np.append(a, np.nan), np.append(b, 1.0)
    assert paired_t_pvalue(a2, b2) == (pytest.approx(p, rel=1e-12), 7)
    assert np.isnan(paired_t_pvalue([1.0], [2.0])[0])
    assert paired_t_pvalue([1, 2, 3], [1, 2, 3]) == (1.0, 3) and paired_t_pvalue([2, 3, 4], [1, 2, 3]) == (0.0, 3)
    with pytest.raises(ValueError, match="equal shapes"):
        paired_t_pvalue([1, 2], [1, 2, 3])


def test_holm_by_hand():
    # m = 4 finite p-values, sorted 0.01, 0.02, 0.03, 0.5: 4*0.01=0.04, 3*0.02=0.06, 2*0.03=0.06, 1*0.5=0.5.
    adjusted = holm([0.03, np.nan, 0.01, 0.5, 0.02])
    np.testing.assert_allclose(adjusted, [0.06, np.nan, 0.04, 0.5, 0.06])
    # Monotone step-down and capped at 1.
    np.testing.assert_allclose(holm([0.4, 0.3]), [0.6, 0.6])
    np.testing.assert_allclose(holm([0.9, 0.8]), [1.0, 1.0])


def test_paired_best_ties_and_separation():
    rows = []
    for seed in range(5):
        rows += [{"dataset": "d", "seed": seed, "loss": "a", "m": 1.0 + 0.1 * seed},
                 {"dataset": "d", "seed": seed, "loss": "b", "m": 0.9 + 0.1 * seed + (0.02 if seed % 2 else -0.02)},
                 {"dataset": "d", "seed": seed, "loss": "c", "m": 0.99 + 0.1 * seed + 0.004 * (-1) ** seed},
                 {"dataset": "d", "seed": seed, "loss": "u", "m": np.nan}]
    best = paired_best(pd.DataFrame(rows), "m").iloc[0]
    assert best["best"] == "a" and best["runner_up"] == "c" and best["n_pairs"] == 5
    # Independent computation: a vs c and a vs b by scipy, Holm by hand over the two.
    frame = pd.DataFrame(rows).pivot(index="seed", columns="loss", values="m")
    p_c = stats.ttest_rel(frame["a"], frame["c"]).pvalue
    p_b = stats.ttest_rel(frame["a"], frame["b"]).pvalue
    assert best["p_runner_up"] == pytest.approx(min(1, max(2 * min(p_b, p_c), p_c if p_c > p_b else 2 * p_c)), rel=1e-9)
    assert best["tied"] == sorted(k for k, p in {"b": p_b, "c": p_c}.items()
                                  if not holm([p_b, p_c])[["b", "c"].index(k)] < 0.05)
    assert best["separated"] == (best["tied"] == [])
    # An undefined candidate is neither best nor tied.
    assert "u" not in best["tied"]
    with pytest.raises(ValueError, match="no column"):
        paired_best(pd.DataFrame(rows), "missing")


def test_figure6_variants_flags_changes():
    records = _records()
    swapped = records.copy()
    swapped.loc[swapped["loss"] == "mse", "ap_macro"] += 1.0  # mse becomes the clear best of AP
    table = figure6_variants({"as run": records, "swapped": swapped}).set_index(["dataset", "metric"])
    assert table.loc[("d1", "AP"), "changes"] and table.loc[("d1", "AP"), "swapped"].startswith("mse")
    assert not table.loc[("d1", "CH Score (DBScan)"), "changes"]


def test_learning_rate_table_ratios_against_the_best_rate():
    from spae_core.tables import learning_rate_table

    rows = []
    for lr, loss_level, stopped in [(1e-3, 1.0, True), (1e-6, 3.0, False)]:
        for seed in range(3):
            rows.append({"dataset": "d", "loss": "mse", "learning_rate": lr, "seed": seed, "epochs": 50 + seed,
                         "best_epoch": 40 + seed, "stopped_early": stopped, "best_val_loss": loss_level * (1 + 0.1 * seed)})
    table = learning_rate_table(pd.DataFrame(rows))
    fast, slow = table.loc[("d", "mse", 1e-3)], table.loc[("d", "mse", 1e-6)]
    # The floor is the 1e-3 mean, 1.1; the 1e-6 runs sit at 3.0 * (1, 1.1, 1.2) / 1.1.
    expected = np.array([3.0, 3.3, 3.6]) / 1.1
    m, lo, hi, _ = mean_ci(expected, value_range=NON_NEGATIVE)  # a ratio of losses
    assert slow["val_loss_vs_best_lr"] == f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
    assert fast["stopped_early"] == "3 of 3" and slow["stopped_early"] == "0 of 3" and slow["seeds"] == 3


def test_training_curves_one_panel_per_dataset_and_rate():
    rows = [{"dataset": d, "loss": "mse", "learning_rate": lr, "run_name": f"{d}{lr}{s}", "epoch": e, "val_loss": 1.0 / e}
            for d in ("a", "b") for lr in (1e-3, 1e-6) for s in range(2) for e in range(1, 4)]
    fig = training_curves_figure(pd.DataFrame(rows), panel_by=("dataset", "learning_rate"), ncols=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["a, lr=0.001", "a, lr=1e-06", "b, lr=0.001", "b, lr=1e-06"]


def test_figure6_variants_ignores_reshuffles_among_tied_losses_and_keeps_undefined_cells():
    records = _records()
    reshuffled = records.copy()
    # A tiny lead of bce over mse on trustworthiness (all tied) is not a change.
    reshuffled.loc[reshuffled["loss"] == "bce", "trustworthiness"] += 1e-4 * np.array([1, -1, 1, 0] * 2)
    undefined = records.assign(ch_dbscan=np.nan)
    table = figure6_variants({"a": records, "b": reshuffled, "c": (undefined, None)}).set_index(["dataset", "metric"])
    assert not table.loc[("d1", "Trustworthiness"), "changes"]
    assert table.loc[("d1", "CH Score (DBScan)"), "c"] == "undefined" and table.loc[("d1", "CH Score (DBScan)"), "changes"]


def test_baseline_table_outcomes():
    from spae_core.tables import baseline_table

    rows = [{"dataset": "d", "loss": loss, "seed": seed, "ap_macro": centre + 0.01 * seed, "trustworthiness": 0.9}
            for loss, centre in [("mse", 0.5), ("focal", 0.6), ("multinomial", 0.7)] for seed in range(3)]
    records = pd.DataFrame(rows)
    baselines = pd.DataFrame([{"dataset": "d", "model": "pca50", "ap_macro": 0.2, "trustworthiness": 0.95},
                              {"dataset": "d", "model": "ease", "ap_macro": 0.3, "trustworthiness": np.nan}])
    table = baseline_table(records, baselines, ["ap_macro", "trustworthiness", "missing"])
    m, lo, hi, _ = mean_ci([0.6, 0.61, 0.62], value_range=UNIT_INTERVAL)
    assert table.loc[("d", "ap_macro"), "autoencoder"] == f"focal: {m:.3f} [{lo:.3f}, {hi:.3f}]"
    assert table.loc[("d", "ap_macro"), "outcome"] == "autoencoder ahead"   # 0.3 < interval of focal
    assert table.loc[("d", "trustworthiness"), "outcome"] == "baseline ahead"  # 0.95 > 0.9 (zero-width interval)
    assert table.loc[("d", "trustworthiness"), "ease"] == "n/a"
    assert table.loc[("d", "ap_macro"), "multinomial"].startswith("0.710")
    # Both raw-input variants are shown, named in words, and each counts as a baseline.
    reference = pd.DataFrame({"dataset": ["d"], "metric": ["ap_macro"], "raw_input": [0.65],
                              "raw_input_standardised": [0.25]})
    table = baseline_table(records, baselines, ["ap_macro", "trustworthiness"], reference=reference)
    assert table.loc[("d", "ap_macro"), ["raw input", "raw input standardised"]].tolist() == ["0.650", "0.250"]
    assert table.loc[("d", "ap_macro"), "outcome"] == "baseline ahead"  # 0.65 > interval of focal
    assert table.loc[("d", "trustworthiness"), "raw input standardised"] == "n/a"
    swapped = reference.rename(columns={"raw_input": "raw_input_standardised", "raw_input_standardised": "raw_input"})
    table = baseline_table(records, baselines, ["ap_macro"], reference=swapped)
    assert table.loc[("d", "ap_macro"), "outcome"] == "baseline ahead"
    with pytest.raises(ValueError, match="at least one value column"):
        baseline_table(records, baselines, ["ap_macro"], reference=reference[["dataset", "metric"]])


def test_a_lone_defined_loss_is_not_separated_and_not_a_verdict():
    records = _records()
    records.loc[records["loss"] != "focal", "ch_dbscan"] = np.nan
    best = paired_best(records, "ch_dbscan").set_index("dataset")
    assert best.loc["d1", "best"] == "focal" and not best.loc["d1", "separated"] and best.loc["d1", "tied"] == []
    # The paper's Netflix_0.97 DBSCAN winner is Dice: run here (as "bce" renamed), but undefined
    # on every seed, so there is nothing to compare it with.
    records2 = records.assign(loss=records["loss"].replace({"bce": "dice"}))
    table = figure6_table(records2).set_index(["dataset", "metric"])
    assert table.loc[("d1", "CH Score (DBScan)"), "verdict"] == "paper's winner undefined here"
    # Defined for Dice on one seed only, and below focal there: one pair, no test possible, so
    # the cell is untestable (not "tied" for lack of a test; spae_core.verdicts.is_untestable).
    records2.loc[(records2["loss"] == "dice") & (records2["seed"] == 0), "ch_dbscan"] = 0.5
    table = figure6_table(records2).set_index(["dataset", "metric"])
    assert table.loc[("d1", "CH Score (DBScan)"), "verdict"] == "untestable"


def test_figure3_axis_spans_the_data_not_the_band_stand_in():
    edges = np.linspace(0, 1, 11)
    rows = [{"dataset": "d1", "loss": "bce", "seed": s, "run_name": f"r{s}", "bin_left": l, "bin_right": r,
             "density": d, "mass_above_threshold": 0.1, "threshold": 0.5}
            for s, scale in [(0, 1.0), (1, 3.0)] for l, r, d in zip(edges[:-1], edges[1:], scale * np.logspace(1, -3, 10))]
    ax = reconstruction_distribution_figure(pd.DataFrame(rows)).axes[0]
    low, high = ax.get_ylim()
    # Lowest positive density 1e-3 (halved), highest upper 95% bound of a bin (doubled): a few decades.
    upper = max(mean_ci([10.0, 30.0], value_range=NON_NEGATIVE)[2], 30.0)
    assert low == pytest.approx(1e-3 / 2) and high == pytest.approx(2 * upper)
