"""`spae compare`'s library: users' datasets loaded by name, the comparison's directory, the best-loss table."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats

from spae_core import datasets
from spae_core.comparison import (COMPARISON_FILE, comparison_metrics, load_comparison, prepare_comparison)
from spae_core.datasets import (USER_DATA_ENV, BinaryDataset, CountDataset, find_user_dataset, save_user_dataset,
                                user_dataset_names)
from spae_core.experiments import is_count_dataset, unfinished_runs
from spae_core.statistics import holm
from spae_core.tables import BEST_LOSS_TABLE_COLUMNS, best_loss_table


def _dataset(name="mine", n=40, d=12, seed=0, labels=True, cls=BinaryDataset, high=2):
    rng = np.random.default_rng(seed)
    X = sp.csr_array(rng.integers(0, high, size=(n, d)).astype(np.float32) * (rng.random((n, d)) < 0.3))
    targets = pd.DataFrame({"label=yes": rng.integers(0, 2, n)}) if labels else None
    return cls(name=name, X=X, feature_names=[f"f{j}" for j in range(d)], row_ids=np.arange(n), targets=targets,
               task="classification: label" if labels else "none", provenance={"file": f"{name}.csv"})


@pytest.fixture
def user_data(tmp_path, monkeypatch):
    directory = tmp_path / "data"
    monkeypatch.setenv(USER_DATA_ENV, str(directory))
    return directory


def test_a_saved_dataset_loads_by_name_with_its_labels(user_data):
    original = _dataset()
    save_user_dataset(original, user_data)
    loaded = datasets.load("mine")
    np.testing.assert_array_equal(loaded.X.toarray(), original.X.toarray())
    np.testing.assert_array_equal(loaded.feature_names, original.feature_names)
    pd.testing.assert_frame_equal(loaded.targets, original.targets)
    assert loaded.task == original.task
    assert user_dataset_names("binary") == ["mine"] and user_dataset_names("counts") == []


def test_a_saved_count_dataset_is_a_count_dataset_for_the_grid(user_data):
    save_user_dataset(_dataset("tallies", cls=CountDataset, high=6, labels=False), user_data)
    assert isinstance(datasets.load_counts("tallies"), CountDataset)
    assert is_count_dataset("tallies") and "tallies" in datasets.count_dataset_names()
    with pytest.raises(ValueError, match="count dataset; load it with load_counts"):
        datasets.load("tallies")


def test_saving_other_data_under_a_saved_name_is_refused_and_the_same_data_is_a_no_op(user_data):
    save_user_dataset(_dataset(), user_data)
    save_user_dataset(_dataset(), user_data)
    with pytest.raises(ValueError, match="already holds another dataset named 'mine'"):
        save_user_dataset(_dataset(seed=1), user_data)
    with pytest.raises(ValueError, match="cannot name a saved dataset"):
        save_user_dataset(_dataset(name="../escape"), user_data)


def test_an_unknown_name_is_still_an_error_naming_the_valid_ones(user_data):
    with pytest.raises(ValueError, match="unknown dataset 'nothing'.*movielens_097"):
        datasets.load("nothing")
    assert find_user_dataset("nothing") is None


def test_a_comparison_directory_refuses_other_data_and_keeps_its_own(tmp_path, monkeypatch):
    monkeypatch.delenv(USER_DATA_ENV, raising=False)
    comparison = prepare_comparison(_dataset(), tmp_path / "out", preset="ci")
    assert json.loads((tmp_path / "out" / COMPARISON_FILE).read_text())["dataset"] == "mine"
    again = load_comparison(tmp_path / "out")
    assert again.specs() == comparison.specs() and again.digest == comparison.digest
    prepare_comparison(_dataset(), tmp_path / "out", preset="default")  # same data, another preset: fine
    with pytest.raises(ValueError, match="already holds a comparison of 'mine'"):
        prepare_comparison(_dataset(seed=3), tmp_path / "out", preset="ci")
    with pytest.raises(ValueError, match="holds no comparison"):
        load_comparison(tmp_path / "elsewhere")


def test_the_reports_data_table_states_each_fact_of_the_saved_dataset(tmp_path, monkeypatch):
    from spae_core.comparison import comparison_data

    monkeypatch.delenv(USER_DATA_ENV, raising=False)
    facts = comparison_data(prepare_comparison(_dataset(), tmp_path / "out", preset="ci"))["value"]
    assert facts["rows x features"] == "40 x 12" and facts["labels"] == "classification: label"
    assert facts["entries"] == "0/1" and facts["rows trained on"] == "all"
    assert facts["sparsity"] == f"{1 - _dataset().X.nnz / (40 * 12):.4f}"


def test_a_comparison_under_a_built_in_name_is_refused_and_a_saved_name_is_not(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="is a built-in dataset's"):
        prepare_comparison(_dataset(name="thyroid"), tmp_path / "out")
    counts = _dataset("tallies", cls=CountDataset, high=6)
    comparison = prepare_comparison(counts, tmp_path / "counts")
    monkeypatch.setenv(USER_DATA_ENV, str(comparison.data_dir))  # as after run_comparison in this process
    prepare_comparison(counts, tmp_path / "counts")


def test_the_comparison_grid_is_the_presets_grid_on_the_users_data(tmp_path):
    from spae_core.presets import load_preset

    ci = load_preset("ci")
    binary = prepare_comparison(_dataset(), tmp_path / "b", preset="ci")
    assert {(s.dataset, s.loss, s.seed) for s in binary.specs()} == {("mine", l, s) for l in ci.losses for s in ci.seeds}
    assert {s.max_epochs for s in binary.specs()} == {ci.max_epochs}
    counts = prepare_comparison(_dataset("tallies", cls=CountDataset, high=6), tmp_path / "c", preset="ci")
    assert {s.loss for s in counts.specs()} == set(ci.count_losses)
    assert {s.learning_rate for s in counts.specs()} == {ci.count_learning_rate}
    assert comparison_metrics(counts, pd.DataFrame())["MAE on non-zeros"] == "mae_nonzero"


def _seed_records(means: dict, seeds=6, noise=0.02, metric="m"):
    rng = np.random.default_rng(1)
    return pd.DataFrame([{"dataset": "d", "loss": loss, "seed": seed, metric: mean + 0.1 * seed + noise * rng.standard_normal()}
                         for loss, mean in means.items() for seed in range(seeds)])


def test_best_loss_table_separates_a_clear_winner_by_the_paired_t_test_with_holm():
    records = _seed_records({"a": 1.0, "b": 0.8, "c": 0.5})
    row = best_loss_table(records, {"M": "m"}).iloc[0]
    wide = records.pivot(index="seed", columns="loss", values="m")
    p = [stats.ttest_rel(wide["a"], wide[o]).pvalue for o in ("b", "c")]
    assert list(best_loss_table(records, {"M": "m"}).columns) == BEST_LOSS_TABLE_COLUMNS
    assert (row["best"], row["outcome"], row["runner_up"], row["tied"]) == ("a", "separated", "b", "none")
    assert row["p_runner_up"] == pytest.approx(holm(p)[0])
    assert row["best_mean"] == pytest.approx(wide["a"].mean())


def test_best_loss_table_ties_what_the_tests_cannot_separate_and_reads_errors_lower_better():
    records = _seed_records({"a": 1.0, "b": 1.0, "c": 0.5}, noise=0.05)
    assert best_loss_table(records, {"M": "m"}).iloc[0]["outcome"] == "tied"
    low = best_loss_table(records, {"error": "m"}, lower_is_better={"m"}).iloc[0]
    assert low["best"] == "c" and low["outcome"] == "separated"
    assert low["best_mean"] == pytest.approx(records.loc[records["loss"] == "c", "m"].mean())


def test_best_loss_table_lists_undefined_and_untestable_metrics_instead_of_dropping_them():
    records = _seed_records({"a": 1.0, "b": 0.5}, seeds=1).assign(n=np.nan)
    table = best_loss_table(records, {"M": "m", "N": "n", "absent": "not_recorded"})
    assert table.set_index("metric")["outcome"].to_dict() == {"M": "untestable", "N": "undefined"}
    # Undefined: no best, so no ties ("n/a", not "none"); untestable: the losses it could not be tested against.
    assert table.set_index("metric")["tied"].to_dict() == {"M": "b", "N": "n/a"}


def test_unfinished_runs_are_those_that_used_every_epoch_still_improving():
    records = pd.DataFrame({"epochs": [3, 3, 2, 3], "best_epoch": [3, 2, 2, 3], "max_epochs": [3, 3, 3, 3],
                            "stopped_early": [False, False, True, True]})
    assert unfinished_runs(records).index.tolist() == [0]


def test_the_reports_site_settings_are_the_books(tmp_path):
    import yaml

    from spae_core.report import _config

    book = yaml.safe_load((Path(__file__).resolve().parents[1] / "_config.yml").read_text())
    report = _config(prepare_comparison(_dataset(), tmp_path / "out", preset="ci"))
    local = set(book["sphinx"]["local_extensions"])
    assert report["sphinx"]["config"]["extensions"] == [e for e in book["sphinx"]["config"]["extensions"]
                                                        if e not in local]
    assert {k: v for k, v in report["sphinx"]["config"].items() if k != "extensions"} == {
        k: v for k, v in book["sphinx"]["config"].items() if k != "extensions"}
    assert report["html"]["favicon"] == book["html"]["favicon"] and "announcement" in report["html"]  # ci: a banner
