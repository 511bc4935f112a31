"""Published results: seeding a store, exporting it, provenance; the reproduction's comparison."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spae_core.experiments import RunSpec, load_records, run_grid
from spae_core.paper import PAPER_LOSSES
from spae_core.published import RUN_FILES, export_store, provenance_table, seed_store
from spae_core.reproduction import (cell_agreement, difference_summary, prepare, reproduction_report,
                                    run_differences, sample_runs, verdict_changes)

TINY = dict(max_rows=300, max_epochs=2, batch_size=64, latent_dim=8, hidden_dims=(16,))


@pytest.fixture(scope="module")
def trained_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    specs = [RunSpec("thyroid", loss, seed, **TINY) for loss in ("bce", "wbce") for seed in (0, 1, 2)]
    run_grid(specs, store, cache_dir=tmp_path_factory.mktemp("cache"), progress=False)
    return store, specs


def test_export_publishes_json_only_and_seeding_restores_every_record(trained_store, tmp_path):
    store, specs = trained_store
    published = tmp_path / "published"
    assert export_store(store, published) == len(specs)
    for spec in specs:
        assert sorted(p.name for p in (published / "runs" / spec.run_name).iterdir()) == sorted(RUN_FILES)
    fresh = tmp_path / "fresh"
    assert seed_store(published, fresh) == len(specs)
    assert seed_store(published, fresh) == 0  # nothing missing any more
    # A seeded store renders without training: the grid reads the published records back.
    again = run_grid(specs, fresh, progress=False)
    original = load_records(store).set_index("run_name").loc[again["run_name"]].reset_index()
    pd.testing.assert_frame_equal(again.reset_index(drop=True), original[again.columns])


def test_export_refuses_an_empty_store_and_keeps_the_previous_publication(trained_store, tmp_path):
    store, _ = trained_store
    published = tmp_path / "published"
    export_store(store, published)
    before = sorted(p.name for p in (published / "runs").iterdir())
    with pytest.raises(FileNotFoundError, match="no finished runs"):
        export_store(tmp_path / "empty", published)
    assert sorted(p.name for p in (published / "runs").iterdir()) == before


def test_seeding_keeps_local_runs_and_honours_exclusions(trained_store, tmp_path):
    store, specs = trained_store
    published = tmp_path / "published"
    export_store(store, published)
    target = tmp_path / "target"
    local = target / "runs" / specs[0].run_name
    local.mkdir(parents=True)
    (local / "record.json").write_text(json.dumps({"local": True}))
    assert seed_store(published, target, exclude=[specs[1].run_name]) == len(specs) - 2
    assert json.loads((local / "record.json").read_text()) == {"local": True}
    assert not (target / "runs" / specs[1].run_name).exists()
    with pytest.raises(FileNotFoundError, match="make publish"):
        seed_store(tmp_path / "nothing", target)


def test_provenance_table_groups_runs_by_machine():
    def provenance(cpu, capability, date):
        return json.dumps({"cpu": cpu, "machine": "x86_64", "cpu_count": 2, "cpu_capability": capability,
                           "mkl": "2024.2", "blas": ["openblas 0.3.30 (SkylakeX)"], "kernel_switches": {},
                           "torch_threads": 1, "date": date,
                           "versions": {"torch": "2.13.0", "numpy": "2.4.6", "scipy": "1", "scikit-learn": "1",
                                        "python": "3.11"}})
    records = pd.DataFrame({"provenance": [provenance("A", "AVX512", "2026-12-01"), provenance("B", "AVX2", "2026-12-02"),
                                           provenance("A", "AVX512", "2026-12-03")]})
    table = provenance_table(records)
    assert table["runs"].tolist() == [2, 1]
    assert table.loc[0, "dates"] == "2026-12-01 to 2026-12-03" and table.loc[1, "dates"] == "2026-12-02"
    assert "torch AVX512" in table.loc[0, "kernels"] and table.loc[0, "cpu"].startswith("A (x86_64")
    with pytest.raises(ValueError, match="carry no provenance"):
        provenance_table(pd.DataFrame({"provenance": [None]}))


def test_sample_is_seeded_and_validated(tmp_path):
    for i in range(10):
        (tmp_path / "runs" / f"run{i}").mkdir(parents=True)
        (tmp_path / "runs" / f"run{i}" / "record.json").write_text("{}")
    assert sample_runs(tmp_path, None) == [f"run{i}" for i in range(10)]
    drawn = sample_runs(tmp_path, 4)
    assert drawn == sample_runs(tmp_path, 4) and len(set(drawn)) == 4 and drawn == sorted(drawn)
    expected = sorted(f"run{i}" for i in np.random.default_rng(0).choice(10, size=4, replace=False))
    assert drawn == expected
    for bad in (0, 11, 2.5):
        with pytest.raises(ValueError, match="SAMPLE must be"):
            sample_runs(tmp_path, bad)


def _records(values, loss="bce"):
    return pd.DataFrame({"run_name": [f"{loss}{i}" for i in range(len(values))], "dataset": "d", "loss": loss,
                         "seed": range(len(values)), "ap_macro": values, "seconds_fit": 1.0, "epochs": 3})


def test_cell_agreement_is_a_paired_t_test_with_holm():
    published = pd.concat([_records([0.50, 0.52, 0.54, 0.51]), _records([0.30, 0.31, 0.29, 0.30], "mse")])
    reproduced = pd.concat([_records([0.51, 0.52, 0.55, 0.50]), _records([0.40, 0.42, 0.41, 0.40], "mse")])
    differences = run_differences(published, reproduced)
    assert differences["metric"].unique().tolist() == ["ap_macro"]  # epochs and timings are not metrics
    cells = cell_agreement(differences).set_index("loss")
    p = {loss: stats.ttest_rel(reproduced.loc[reproduced["loss"] == loss, "ap_macro"],
                               published.loc[published["loss"] == loss, "ap_macro"]).pvalue for loss in ("bce", "mse")}
    assert cells.loc["bce", "p"] == pytest.approx(p["bce"]) and cells.loc["mse", "p"] == pytest.approx(p["mse"])
    ordered = sorted(p.values())
    assert cells["p_holm"].min() == pytest.approx(2 * ordered[0])
    assert cells.loc["mse", "differs"] and not cells.loc["bce", "differs"]
    assert cells.loc["bce", "inside"] and not cells.loc["mse", "inside"]
    summary = difference_summary(differences).iloc[0]
    d = (reproduced["ap_macro"].to_numpy() - published["ap_macro"].to_numpy())
    assert summary["runs"] == 8 and summary["max_abs"] == pytest.approx(np.abs(d).max())
    assert summary["median"] == pytest.approx(np.median(d)) and summary["identical"] == int((d == 0).sum())


def test_unknown_reproduced_run_is_an_error():
    with pytest.raises(ValueError, match="no published twin"):
        run_differences(_records([0.5]), _records([0.5], loss="mse"))


def test_reproduction_of_the_same_runs_passes_with_every_verdict_the_same(trained_store, tmp_path):
    store, specs = trained_store
    published = tmp_path / "published"
    export_store(store, published)
    assert verdict_changes(load_records(store), load_records(store))["same"].all()
    repro = tmp_path / "repro"
    manifest = prepare(published, repro, sample=2)
    assert len(manifest["retrained"]) == 2
    assert len(list((repro / "runs").iterdir())) == len(specs) - 2
    with pytest.raises(ValueError, match="other runs"):
        prepare(published, repro, sample=3)
    with pytest.raises(RuntimeError, match="were not retrained"):
        reproduction_report(repro, specs)
    run_grid(specs, repro, progress=False)  # retrains the two drawn runs: same machine, same bits
    report = reproduction_report(repro, specs)
    assert report.summary.startswith("PASS: 2 run(s) retrained (a seeded sample of 2)")
    assert (report.differences["identical"] == report.differences["runs"]).all()
    assert report.verdicts["same"].all() and report.differing_cells.empty
    assert reproduction_report(store, specs).verdicts is None  # not a reproduction's store


def _figure6_records(means, noise):
    """Runs of the paper's six losses on one dataset, AP = mean + seeded noise per seed."""
    rng = np.random.default_rng(0)
    rows = []
    for loss, mean in means.items():
        for seed in range(5):
            rows.append({"run_name": f"{loss}{seed}", "dataset": "d", "paper_counterpart": "Netflix_0.97", "loss": loss,
                         "seed": seed, "ap_macro": mean + noise * rng.standard_normal()})
    return pd.DataFrame(rows)


def test_a_new_highest_mean_among_tied_losses_is_not_a_changed_verdict():
    losses = list(PAPER_LOSSES)
    tied = _figure6_records({loss: 0.5 for loss in losses}, noise=0.05)
    swapped = tied.assign(ap_macro=tied["ap_macro"] + np.where(tied["loss"] == "dice", 0.03, 0.0))
    table = verdict_changes(tied, swapped)
    cell = table[table["item"] == "d / AP"].iloc[0]
    assert "not separated" in cell["published"] and cell["same"]
    separated = _figure6_records({**{loss: 0.3 for loss in losses}, "wbce": 0.9}, noise=0.001)
    flipped = _figure6_records({**{loss: 0.3 for loss in losses}, "dice": 0.9}, noise=0.001)
    cell = verdict_changes(separated, flipped).set_index("item").loc["d / AP"]
    assert cell["published"].endswith(": wbce") and cell["reproduced"].endswith(": dice") and not cell["same"]


def test_dbscan_derived_cells_are_reported_but_not_judged():
    published = _records([3.0, 4.0, 3.0]).rename(columns={"ap_macro": "dbscan_clusters"})
    reproduced = published.assign(dbscan_clusters=published["dbscan_clusters"] + 1)
    cells = cell_agreement(run_differences(published, reproduced))
    assert cells.loc[0, "differs"] and not cells.loc[0, "judged"]  # a constant +1 cluster: p = 0
    from spae_core.reproduction import summary_line

    line = summary_line({"retrained": ["x"] * 3, "sample": None}, cells,
                        pd.DataFrame({"kind": ["claim"], "same": [True]}))
    assert line.startswith("PASS") and "not judged: 1 of 1" in line


def test_command_line_names_a_missing_store_in_one_line(tmp_path, capsys):
    from spae_core.published import main

    assert main(["seed", str(tmp_path / "absent"), str(tmp_path / "store")]) == 2
    assert main(["export", str(tmp_path / "empty"), str(tmp_path / "published")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no published results at" in err[0] and "no finished runs in" in err[1]
