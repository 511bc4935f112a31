"""Kernel checks: publishing a retrained grid, the verdicts that move under other kernels, seeds to settle them."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from spae_core.evaluation import METRICS_VERSION
from spae_core.experiments import RunSpec, load_records, run_grid
from spae_core.kernel_checks import (add_check, check_label, checks_table, count_fragile, fragile_verdicts, load_checks, main,
                                     main_grid_runs, seeds_to_settle, settling_summary, with_kernel_checks)
from spae_core.paper import PAPER_LOSSES
from spae_core.presets import load_preset
from spae_core.provenance import KERNEL_SWITCHES
from spae_core.published import export_store, seed_store
from spae_core.statistics import seeds_for_power

LOSSES = PAPER_LOSSES


def provenance(**switches):
    return json.dumps({"cpu": "Test CPU", "machine": "x86_64", "cpu_count": 2, "cpu_capability": "AVX512",
                       "mkl": "2024.2", "blas": ["openblas"], "kernel_switches": switches, "torch_threads": 1,
                       "date": "2026-12-02", "versions": {}})


def synthetic_records(ap_by_loss, switches=None):
    """Runs of one dataset (the paper's Netflix 0.97 stand-in), 5 seeds, with the given per-seed AP values."""
    rows = []
    for loss, values in ap_by_loss.items():
        for seed, value in enumerate(values):
            rows.append({"run_name": f"movielens_097__{loss}__seed{seed}", "dataset": "movielens_097", "loss": loss,
                         "seed": seed, "paper_counterpart": "Netflix_0.97", "ap_macro": value, "run_seconds": 60.0,
                         "device": "cpu", "metrics_version": METRICS_VERSION,
                         "provenance": provenance(**(switches or {}))})
    return pd.DataFrame(rows)


SPREAD = np.array([0.0, 0.01, -0.01, 0.02, -0.02])


@pytest.fixture
def published_and_check():
    # Published: MSE ahead of everything by 0.2 (separated). Check: WBCE within noise of MSE (tied).
    published = {loss: 0.5 - 0.01 * i + SPREAD * (i + 1) for i, loss in enumerate(LOSSES)}
    published["mse"] = 0.7 + SPREAD
    check = {**published, "wbce": 0.699 + SPREAD[::-1]}
    return synthetic_records(published), synthetic_records(check, {"MKL_CBWR": "COMPATIBLE"})


def test_check_label_names_the_switches_or_the_machine_and_refuses_mixtures():
    assert check_label(synthetic_records({"bce": [0.1]}, {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "avx2"})) \
        == "torch avx2, MKL COMPATIBLE"
    assert check_label(synthetic_records({"bce": [0.1]})) == "Test CPU, torch AVX512"
    mixed = pd.concat([synthetic_records({"bce": [0.1]}), synthetic_records({"mse": [0.1]}, {"MKL_CBWR": "AVX2"})])
    with pytest.raises(ValueError, match="one kernel set"):
        check_label(mixed)
    with pytest.raises(ValueError, match="provenance"):
        check_label(pd.DataFrame({"run_name": ["x"]}))


def test_a_verdict_that_moves_under_a_check_is_fragile_and_marked_with_both_values(published_and_check):
    published, check = published_and_check
    fragility = fragile_verdicts(published, {"switched": check})
    figure6 = fragility[fragility["kind"] == "Figure 6"].set_index("item")
    # The paper's Netflix 0.97 AP winner is MSE: published it is our separated best (agrees);
    # switched, WBCE cannot be told from it (tied).
    assert figure6.loc["movielens_097 / AP", "published"] == "agrees: mse"
    assert figure6.loc["movielens_097 / AP", "switched"] == "tied: highest mean mse, not separated"
    assert figure6.loc["movielens_097 / AP", "fragile"]
    # The claims that read this cell move with it, and only those: "MSE and BCE achieve the
    # strongest AP" (MSE ahead of the best aware loss, then not) and Figure 6 as a claim.
    claims = fragility[fragility["kind"] == "claim"].set_index("item")
    assert sorted(claims.index[claims["fragile"]]) == ["ap_standard", "figure6_winners"]
    assert (count_fragile(fragility), count_fragile(fragility, "Figure 6"), count_fragile(fragility, "claim")) == (3, 1, 2)
    with pytest.raises(ValueError, match="kind must be"):
        count_fragile(fragility, "claims")
    assert claims.loc["ap_standard", "published"] == "supported"
    assert claims.loc["ap_standard", "switched"] == "inconclusive"

    table = pd.DataFrame({"dataset": ["movielens_097"], "metric": ["AP"]})
    marked = with_kernel_checks(table, fragility, "Figure 6")["under other kernels"].iloc[0]
    assert marked.startswith("FRAGILE: tied") and "under switched" in marked
    claims = pd.DataFrame({"claim": ["ap_standard", "contingency_aware"]})
    assert with_kernel_checks(claims, fragility, "claim")["under other kernels"].tolist() == [
        "FRAGILE: inconclusive under switched", "same (1 check)"]
    unchecked = fragile_verdicts(published, {})
    assert not unchecked["fragile"].any()
    assert with_kernel_checks(table, unchecked, "Figure 6")["under other kernels"].iloc[0].startswith("not checked")
    with pytest.raises(ValueError, match="kind must be"):
        with_kernel_checks(table, fragility, "figure")


def test_a_verdict_untestable_under_both_kernels_is_not_fragile():
    # AP defined on seed 0 only: no cell or claim unit can be tested, on either side. The
    # verdicts read "untestable" both times: the same verdict, not a fragile one.
    one_seed = {loss: [0.5 + 0.01 * i] + [np.nan] * 4 for i, loss in enumerate(LOSSES)}
    published = synthetic_records(one_seed)
    check = synthetic_records({loss: [v[0] + 0.001] + v[1:] for loss, v in one_seed.items()}, {"MKL_CBWR": "COMPATIBLE"})
    fragility = fragile_verdicts(published, {"switched": check}).set_index("item")
    assert fragility.loc["movielens_097 / AP", "published"].startswith("untestable")
    assert fragility.loc["movielens_097 / AP", "switched"].startswith("untestable")
    assert fragility.loc["ap_standard", "published"] == fragility.loc["ap_standard", "switched"] == "untestable"
    assert not fragility["fragile"].any()
    marks = with_kernel_checks(pd.DataFrame({"claim": ["ap_standard"]}), fragility.reset_index(), "claim")
    assert marks["under other kernels"].tolist() == ["same (1 check)"]


def test_a_check_that_lacks_runs_is_an_error_not_a_smaller_comparison(published_and_check):
    published, check = published_and_check
    with pytest.raises(ValueError, match="lacks 1 of these runs"):
        fragile_verdicts(published, {"switched": check.iloc[1:]})


def test_seeds_to_settle_pools_the_moved_comparison_and_prices_the_extra_seeds(published_and_check):
    published, check = published_and_check
    fragility = fragile_verdicts(published, {"switched": check})
    settle = seeds_to_settle(published, {"switched": check}, fragility, n_jobs=2)
    row = settle.set_index("item").loc["movielens_097 / AP"]
    assert row["comparison"] == "movielens_097 ap_macro: mse - wbce"
    # Pooled per-seed differences: published mse - wbce, then the check's.
    pooled = np.concatenate([(0.7 + SPREAD) - (0.47 + 4 * SPREAD), (0.7 + SPREAD) - (0.699 + SPREAD[::-1])])
    assert row["difference"] == pytest.approx(pooled.mean())
    assert row["seeds_needed"] == seeds_for_power(pooled, 0.05 / 5)
    # Six losses x 60 s per extra seed, two runs at a time.
    assert row["hours"] == pytest.approx(row["extra_seeds"] * 6 * 60 / 2 / 3600)
    # The claim that moved is priced by its unit's comparisons on both sides (published: MSE
    # against the best aware loss, WMSE; switched: against WBCE); Figure 6 as a claim points to its cells.
    # Runs of a loss outside the paper's six (the Mult-DAE likelihood, here far ahead of every
    # other loss on both sides) are not part of Figure 6, so they do not change the pricing.
    def with_multinomial(records):
        twin = records[records["loss"] == "mse"].assign(loss="multinomial")
        twin["ap_macro"] += 0.5
        return pd.concat([records, twin.assign(run_name=twin["run_name"].str.replace("mse", "multinomial"))])
    both = {"switched": with_multinomial(check)}
    again = seeds_to_settle(with_multinomial(published), both, fragile_verdicts(with_multinomial(published), both))
    repriced = again.set_index("item").loc["movielens_097 / AP"]
    assert repriced["comparison"] == row["comparison"]
    assert repriced["seeds_needed"] == seeds_for_power(pooled, 0.05 / 5)  # Holm over the six losses' 5 comparisons
    claim = settle[settle["item"] == "ap_standard"]
    assert sorted(claim["comparison"]) == ["movielens_097 ap_macro: mse - wbce", "movielens_097 ap_macro: mse - wmse"]
    assert settle.set_index("item").loc["figure6_winners", "note"].startswith("follows the Figure 6 cells")


@pytest.mark.parametrize("effect, expected", [(0.2, 199), (0.5, 34), (0.8, 15), (1.0, 10)])
def test_seeds_for_power_matches_the_standard_paired_t_sample_sizes(effect, expected):
    # Cohen's (1988) paired/one-sample t sample sizes at alpha = 0.05 two-sided, power 0.8, as
    # G*Power computes them. Two differences effect -+ 1/sqrt(2) have mean `effect` and sd 1.
    differences = effect + np.array([-1, 1]) / np.sqrt(2)
    assert seeds_for_power(differences) == expected


def test_seeds_for_power_edges():
    assert seeds_for_power([0.1, -0.1, 0.1, -0.1], max_seeds=50) == 51  # no difference: never settled
    assert seeds_for_power([0.3, 0.3, 0.3]) == 2  # a constant difference is separated at once
    with pytest.raises(ValueError, match="at least two"):
        seeds_for_power([0.1, np.nan])
    with pytest.raises(ValueError, match="power"):
        seeds_for_power([0.1, 0.2], power=1.0)


TINY = dict(max_rows=300, max_epochs=2, batch_size=64, latent_dim=8, hidden_dims=(16,))


def test_add_check_publishes_records_that_seed_and_export_with_the_runs(tmp_path, monkeypatch):
    # A run records the kernel switches set in its environment, and `make test` itself runs under
    # them (see the README): the published runs here are recorded with none, whatever that environment.
    for name in KERNEL_SWITCHES:
        monkeypatch.delenv(name, raising=False)
    specs = [RunSpec("thyroid", loss, seed, **TINY) for loss in ("bce", "wbce") for seed in (0, 1)]
    cache = tmp_path / "cache"
    run_grid(specs, tmp_path / "own", cache_dir=cache, progress=False)
    published = tmp_path / "published"
    export_store(tmp_path / "own", published)
    with pytest.raises(ValueError, match="same kernels"):
        add_check(tmp_path / "own", published)
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    run_grid(specs, tmp_path / "switched", cache_dir=cache, progress=False)
    label, count = add_check(tmp_path / "switched", published)
    assert count == len(specs) and label == "MKL COMPATIBLE"
    checks = load_checks(published)
    table = checks_table(checks)
    assert table["check"].tolist() == [label] and table["runs"].tolist() == [len(specs)]
    assert "MKL_CBWR=COMPATIBLE" in table.loc[0, "kernels"]
    assert list(checks) == [label] and sorted(checks[label]["run_name"]) == sorted(s.run_name for s in specs)
    # The check travels with the published runs into a store and back out.
    seed_store(published, tmp_path / "fresh")
    assert list(load_checks(tmp_path / "fresh")) == [label]
    export_store(tmp_path / "fresh", tmp_path / "again")
    assert list(load_checks(tmp_path / "again")) == [label]
    # Exporting a store without checks over a publication keeps the publication's checks.
    export_store(tmp_path / "own", published)
    assert list(load_checks(published)) == [label]
    # A run the published store lacks cannot be part of its check.
    run_grid([RunSpec("thyroid", "mse", 0, **TINY)], tmp_path / "switched", cache_dir=cache, progress=False)
    with pytest.raises(ValueError, match="not published"):
        add_check(tmp_path / "switched", published)


def test_a_stale_check_is_named_not_compared(tmp_path):
    records = synthetic_records({"bce": [0.1, 0.2]}, {"MKL_CBWR": "COMPATIBLE"})
    for row in records.to_dict("records"):
        path = tmp_path / "kernel_checks" / "x" / "runs" / row["run_name"] / "record.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({**row, "metrics_version": METRICS_VERSION - 1}))
    with pytest.raises(ValueError, match="make kernel-check"):
        load_checks(tmp_path)


def test_main_grid_runs_are_the_presets_grid():
    preset = dataclasses.replace(load_preset("ci"), datasets=["thyroid"], losses=["bce", "mse"], seeds=[0, 1])
    names = main_grid_runs(preset)
    assert len(names) == 4 and all(n.startswith("thyroid__") for n in names)
    assert names[0] == RunSpec("thyroid", "bce", 0, max_rows=300, max_epochs=3, patience=10, learning_rate=0.001,
                               batch_size=64).run_name
    ci = load_preset("ci")
    assert len(main_grid_runs("ci")) == len(ci.datasets) * len(ci.losses) * len(ci.seeds)


def test_retrain_takes_a_preset_name_and_refuses_an_unknown_one(tmp_path, capsys):
    assert main(["retrain", str(tmp_path), "nope", str(tmp_path / "store")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("python -m spae_core.kernel_checks retrain: ") and "available presets: ci, default, paper" in error
    assert len(error.strip().splitlines()) == 1  # one line, no traceback


def test_settling_summary_counts_settled_verdicts_and_sums_the_largest_cost_per_dataset():
    settle = pd.DataFrame([
        {"kind": "Figure 6", "item": "a / AP", "dataset": "a", "comparison": "x", "extra_seeds": 3, "hours": 1.5},
        {"kind": "Figure 6", "item": "a / AP", "dataset": "a", "comparison": "y", "extra_seeds": 7, "hours": 3.5},
        {"kind": "claim", "item": "c", "dataset": "b", "comparison": "z", "extra_seeds": 2, "hours": 0.25},
        {"kind": "claim", "item": "d", "dataset": "a", "comparison": "w", "extra_seeds": np.nan, "hours": np.nan},
        {"kind": "claim", "item": "figure6_winners", "dataset": None, "comparison": None, "extra_seeds": np.nan,
         "hours": np.nan},
    ])
    # a / AP needs 7 more seeds on a (3.5 h), c needs 2 on b (0.25 h); d never settles; the
    # derived claim is not counted.
    assert settling_summary(settle) == ("2 of 3 fragile verdicts resting on paired comparisons would settle with "
                                        "7 more seeds on a, 2 more seeds on b (about 3.8 hours of training); 1 would "
                                        "not: the losses they compare are tied at this precision")
    assert settling_summary(settle.iloc[4:]).startswith("no fragile verdict")
