"""Presets loaded by name, and the library views the notebooks call (one per figure or table)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib import pyplot as plt

import spae_core
from spae_core.book import build_environment
from spae_core.claims import AWARE, CLAIMS, STANDARD, all_claim_units, claim_units
from spae_core.evaluation import DBSCAN_EPS_FACTORS, dbscan_eps_column, dbscan_eps_columns, downstream_metrics
from spae_core.experiments import RunSpec
from spae_core.figures import loss_comparison
from spae_core.losses import DEFAULT_BETA
from spae_core.presets import (Preset, describe_learning_rate_study, describe_main_grid,
                               load_preset, preset_names)
from spae_core.metrics import metric_range
from spae_core.statistics import mean_ci, paired_best_per_metric, summarise
from spae_core.tables import (changed_cells, dbscan_clusters_by_eps, dbscan_eps_verdicts, figure6_column_variants,
                              figure6_columns, figure6_sweep, figure6_table, metric_table, summary_table)

PRESETS_DIR = Path(spae_core.__file__).parent / "presets"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --- presets ---------------------------------------------------------------------------------

def test_every_shipped_yaml_file_is_a_preset_with_its_files_values():
    files = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
    assert preset_names() == files and {"ci", "default", "paper"} <= set(files)
    for name in files:
        raw = yaml.safe_load((PRESETS_DIR / f"{name}.yaml").read_text())
        preset = load_preset(name)
        assert raw.pop("preset") == preset.name == name
        assert {key: getattr(preset, key) for key in raw} == raw


def test_an_unknown_preset_name_lists_the_available_ones():
    with pytest.raises(ValueError, match="no preset named 'nope'; available presets: ci, default, paper"):
        load_preset("nope")


def test_a_preset_is_returned_as_it_is():
    ci = load_preset("ci")
    assert load_preset(ci) is ci


def _preset(**changes) -> Preset:
    values = dict(name="t", datasets=["thyroid", "omdb_metadata"], losses=["mse", "multinomial", "focal"], seeds=[0, 1],
                  max_rows=50, max_epochs=2, patience=3, learning_rate=0.01, batch_size=8, n_jobs=1,
                  lr_datasets=["thyroid"], lr_values=[0.1, 0.001], beta_datasets=["thyroid"], beta_values=[7.0, 1.5],
                  count_datasets=["movielens_ratings"], count_losses=["poisson", "nb"], count_max_rows=40,
                  count_max_epochs=4, count_learning_rate=0.05, ovr_datasets=["thyroid"], ovr_loss="focal",
                  ovr_lambdas=[1.0, 0.5], ovr_batch_sizes=[16, 4], ovr_max_rows=None)
    return Preset(**{**values, **changes})


def test_grids_of_a_preset_are_its_settings_crossed():
    p = _preset()
    main = p.main_specs()
    assert len(main) == 2 * 3 * 2
    assert main[0] == RunSpec("thyroid", "mse", 0, max_rows=50, max_epochs=2, patience=3, learning_rate=0.01,
                              batch_size=8)
    assert p.paper_losses == ["mse", "focal"]
    assert p.learning_rates == [0.001, 0.01, 0.1]
    lr = p.learning_rate_specs()
    assert len(lr) == 3 * 2 * 2 and {s.learning_rate for s in lr} == {0.001, 0.01, 0.1}
    assert {s.loss for s in lr} == {"mse", "focal"}
    assert p.betas == sorted([DEFAULT_BETA, 1.5, 7.0])
    assert {(s.loss, s.beta) for s in p.beta_specs()} == {(l, b) for l in ("wmse", "wbce") for b in p.betas}
    counts = p.count_specs()
    assert len(counts) == 1 * 2 * 2
    assert counts[0] == RunSpec("movielens_ratings", "poisson", 0, max_rows=40, max_epochs=4, patience=3,
                                learning_rate=0.05, batch_size=8)
    ovr = p.ovr_specs()
    assert p.ovr_lambda_values == [0.0, 0.5, 1.0]
    assert len(ovr) == 2 * 3 * 2
    assert [s.batch_size for s in ovr[:6]] == [16] * 6 and ovr[0].learning_rate == 0.01 and ovr[0].max_rows is None


def test_the_store_is_the_presets_results_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SPAE_RESULTS_DIR", str(tmp_path))
    assert _preset().store == tmp_path


def test_descriptions_state_the_grids():
    p = _preset()
    lines = describe_main_grid(p, device="cpu").splitlines()
    assert lines[0] == "preset 't': training on cpu"
    assert lines[1].startswith("2 datasets x 3 losses x 2 seeds; learning rate 0.01, batch size 8, at most 2 epochs")
    assert lines[2] == "rows per dataset: a seeded random subset of at most 50"
    assert describe_main_grid(_preset(max_rows=None), "cpu").splitlines()[2] == "rows per dataset: all"
    assert describe_learning_rate_study(p).startswith("12 runs: thyroid x 2 losses x 2 seeds x learning rates "
                                                      "0.001, 0.01, 0.1")


def test_build_environment_lists_torch():
    text = build_environment()
    assert "CPUs; torch threads:" in text.splitlines()[0] and any(l.split()[0] == "torch" for l in text.splitlines()[1:])


# --- evaluation's column names ---------------------------------------------------------------

def test_dbscan_eps_columns_name_the_rule_and_each_factor():
    columns = dbscan_eps_columns("ch_dbscan")
    assert list(columns) == sorted([1.0, *DBSCAN_EPS_FACTORS])
    assert columns[1.0] == "ch_dbscan" and columns[0.5] == "ch_dbscan_eps_x0.5" and columns[2.0] == "ch_dbscan_eps_x2"
    assert dbscan_eps_column("dbscan_clusters", 0.75) == "dbscan_clusters_eps_x0.75"
    with pytest.raises(ValueError):
        dbscan_eps_column("ch_dbscan", 3.0)
    with pytest.raises(ValueError):
        dbscan_eps_column("trustworthiness", 0.5)


def test_downstream_metrics_keeps_the_downstream_fields_in_order():
    assert downstream_metrics(["ap_macro", "r2_imdb_rating", "ap_label_a", "ap_label_mean", "seed"]) == [
        "r2_imdb_rating", "ap_label_a", "ap_label_mean"]


# --- tables -------------------------------------------------------------------------------------

def _runs(rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    rows = []
    for dataset, counterpart in [("d1", "Netflix_0.97"), ("d2", "IMDB_1.0")]:
        for loss, centre in [("mse", 0.5), ("bce", 0.52), ("wmse", 0.6), ("wbce", 0.62), ("focal", 0.8),
                             ("multinomial", 0.3)]:
            for seed in range(4):
                row = {"dataset": dataset, "paper_counterpart": counterpart, "loss": loss, "seed": seed,
                       "beta": DEFAULT_BETA, "ap_macro": centre + 0.01 * rng.standard_normal(),
                       "contingency": centre + 0.02 * rng.standard_normal(),
                       "contingency_rate_threshold": 1 - centre + 0.02 * rng.standard_normal(),
                       "trustworthiness": np.nan}
                for factor, column in dbscan_eps_columns("ch_dbscan").items():
                    row[column] = centre * factor + 0.05 * rng.standard_normal()
                for factor, column in dbscan_eps_columns("dbscan_clusters").items():
                    row[column] = int(factor * 4) + seed
                rows.append(row)
    return pd.DataFrame(rows)


def test_summary_table_compares_a_column_under_a_label():
    runs = _runs()
    runs = pd.concat([runs, runs.assign(beta=5.0, ap_macro=runs["ap_macro"] / 2)], ignore_index=True)
    table = summary_table(runs[runs["loss"] == "wmse"], "ap_macro", compare=("loss", "beta"),
                          label="{loss} (beta={beta:g})")
    assert list(table.columns) == ["wmse (beta=2)", "wmse (beta=5)"] and table.columns.name.startswith("AP: ")
    values = runs.loc[(runs["loss"] == "wmse") & (runs["dataset"] == "d1") & (runs["beta"] == 5.0), "ap_macro"]
    mean, low, high, n = mean_ci(values, value_range=metric_range("ap_macro"))
    assert table.loc["d1", "wmse (beta=5)"] == f"{mean:.3f} [{low:.3f}, {high:.3f}]"
    assert table.columns.name == f"AP: mean [95% interval] over {n} seeds"
    # The same table as summarising by the loss column and tabulating it.
    assert summary_table(runs, ["ap_macro", "contingency"]).equals(
        metric_table(summarise(runs, ["ap_macro", "contingency"]), ["ap_macro", "contingency"]))
    with pytest.raises(ValueError, match="needs a label"):
        metric_table(summarise(runs, ["ap_macro"], by=("dataset", "loss", "beta")), "ap_macro", compare=("loss", "beta"))


def test_figure6_columns_are_the_defined_figure6_metrics():
    assert figure6_columns(_runs()) == ["ap_macro", "contingency", "ch_dbscan"]


def test_figure6_column_variants_measure_one_metric_by_other_columns():
    runs = _runs()
    table = figure6_column_variants(runs, "Pairwise Contingency", {"t = 0.5": "contingency",
                                                                    "t = p_j": "contingency_rate_threshold"})
    assert set(table["metric"]) == {"Pairwise Contingency"} and list(table["dataset"]) == ["d1", "d2"]
    # contingency is highest for focal; the rate-threshold column (1 - centre) for mse or bce.
    assert all(table["t = 0.5"].str.startswith("focal"))
    other = figure6_table(runs, columns={"Pairwise Contingency": "contingency_rate_threshold"})
    expected = other.loc[other["metric"] == "Pairwise Contingency", "ours_best"].tolist()
    assert [cell.split(" ")[0] for cell in table["t = p_j"]] == expected


def test_dbscan_views_use_every_eps():
    runs = _runs()
    clusters = dbscan_clusters_by_eps(runs)
    assert list(clusters.columns) == ["0.5 x rule", "0.75 x rule", "1 x rule", "1.5 x rule", "2 x rule"]
    # int(factor * 4) + seed, mean over seeds 0..3: int(factor * 4) + 1.5
    assert clusters.loc["d1"].tolist() == [3.5, 4.5, 5.5, 7.5, 9.5]
    verdicts = dbscan_eps_verdicts(runs)
    assert set(verdicts["metric"]) == {"CH Score (DBScan)"}
    assert list(verdicts.columns[2:-1]) == [f"eps {f:g} x rule" for f in sorted([1.0, *DBSCAN_EPS_FACTORS])]


def test_figure6_sweep_one_variant_per_value_with_the_other_losses():
    runs = _runs()
    weighted = runs[runs["loss"].isin(["wmse", "wbce"])]
    sweep = pd.concat([weighted, weighted.assign(beta=5.0, ap_macro=weighted["ap_macro"] + 1)], ignore_index=True)
    table = figure6_sweep(sweep, "beta", "beta={:g}", others=runs)
    assert list(table.columns) == ["dataset", "metric", "beta=2", "beta=5", "changes"]
    ap = table[table["metric"] == "AP"]
    assert all(ap["beta=2"].str.startswith("focal")) and all(ap["beta=5"].str.startswith("wbce"))
    assert ap["changes"].all()
    alone = figure6_sweep(runs, "beta", "beta={:g}")
    assert list(alone.columns) == ["dataset", "metric", "beta=2", "changes"] and not alone["changes"].any()


def test_changed_cells_counts_changes_per_choice():
    a = pd.DataFrame({"changes": [True, False, True]})
    b = pd.DataFrame({"changes": [False]})
    table = changed_cells({"a": a, "b": b})
    assert table.to_dict("list") == {"choice": ["a", "b"], "cells": [3, 1], "cells that change": [2, 0]}


# --- figures and claims -------------------------------------------------------------------------

def test_loss_comparison_summarises_and_draws_the_shown_metrics():
    runs = _runs()
    summary, fig = loss_comparison(runs, ["ap_macro"], also=["contingency"])
    assert summary.equals(summarise(runs, ["ap_macro", "contingency"]))
    assert len(fig.axes) == 1
    best = paired_best_per_metric(runs, ["ap_macro"])
    hatched = [bar for bar in fig.axes[0].patches if bar.get_hatch() == "///"]
    assert len(hatched) == int(best["separated"].sum())


def test_loss_comparison_defined_only_leaves_out_undefined_metrics():
    runs = _runs()
    summary, fig = loss_comparison(runs, ["trustworthiness", "ap_macro"], defined_only=True)
    assert set(summary["metric"]) == {"ap_macro"} and summary["mean"].notna().all()
    assert len(fig.axes) == 1


def test_all_claim_units_are_each_claims_units_on_the_paper_losses():
    runs = _runs().assign(trustworthiness=lambda r: r["ap_macro"])
    units = all_claim_units(runs)
    paper = runs[runs["loss"].isin(STANDARD + AWARE)]
    expected = pd.concat([claim_units(paper, c).assign(claim=c.key) for c in CLAIMS], ignore_index=True)
    pd.testing.assert_frame_equal(units, expected)
    assert "multinomial" not in set(units["best_a"]) | set(units["best_b"])
