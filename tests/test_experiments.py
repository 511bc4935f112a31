"""The experiment grid: runs keyed by content, skipped when finished, parallel equal to serial."""

import json

import pandas as pd
import pytest

from spae_core.experiments import (RunSpec, StaleRecordsError, load_distributions, load_histories, load_records,
                                   run_grid, run_one)

TINY = dict(max_rows=400, max_epochs=2, batch_size=64, latent_dim=8, hidden_dims=(16,))
VOLATILE = ("seconds", "run_seconds", "train_seconds")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("dataset-cache")


def _stable(frame):
    return frame[[c for c in frame.columns if not c.startswith(VOLATILE)]]


def test_key_depends_on_everything_that_changes_a_run():
    base = RunSpec("thyroid", "focal", 0, **TINY)
    assert base.key == RunSpec("thyroid", "focal", 0, **TINY).key
    changed = [
        RunSpec("thyroid", "focal", 1, **TINY),
        RunSpec("thyroid", "bce", 0, **TINY),
        RunSpec("thyroid", "focal", 0, **{**TINY, "max_epochs": 3}),
        RunSpec("thyroid", "focal", 0, loss_params={"gamma": 1.0}, **TINY),
        RunSpec("thyroid", "focal", 0, split_seed=1, **TINY),
    ]
    assert len({base.key, *(spec.key for spec in changed)}) == 1 + len(changed)
    # loss_params order does not matter
    assert RunSpec("t", "focal", 0, loss_params={"a": 1, "b": 2}).key == RunSpec("t", "focal", 0, loss_params={"b": 2, "a": 1}).key


def test_run_stores_everything_and_is_not_redone(tmp_path, cache_dir):
    spec = RunSpec("thyroid", "wbce", 0, **TINY)
    record = run_one(spec, tmp_path, cache_dir=cache_dir)
    run_dir = tmp_path / "runs" / spec.run_name
    assert {p.name for p in run_dir.iterdir()} == {"spec.json", "model.pt", "history.json", "distribution.json", "record.json"}
    assert json.loads((run_dir / "spec.json").read_text()) == spec.as_dict()
    assert record["epochs"] == 2 and record["n_samples"] == 400 and record["device"] == "cpu"
    assert 0 <= record["ap_macro"] <= 1 and "ap_label_mean" in record and "versions" in record
    mtime = (run_dir / "record.json").stat().st_mtime_ns
    again = run_one(spec, tmp_path, cache_dir=cache_dir)
    assert json.dumps(again, sort_keys=True) == json.dumps(record, sort_keys=True)
    assert (run_dir / "record.json").stat().st_mtime_ns == mtime  # read back, not recomputed
    assert len(load_histories(tmp_path)) == 2 and load_histories(tmp_path, [spec]).equals(load_histories(tmp_path))
    distributions = load_distributions(tmp_path, [spec])
    assert distributions["run_name"].unique().tolist() == [spec.run_name] and distributions.equals(load_distributions(tmp_path))
    assert load_records(tmp_path)["run_name"].tolist() == [spec.run_name]


def test_parallel_grid_equals_serial_grid(tmp_path, cache_dir):
    specs = [RunSpec("thyroid", loss, seed, **TINY) for loss in ("bce", "focal") for seed in (0, 1)]
    serial = run_grid(specs, tmp_path / "serial", n_jobs=1, threads_per_run=1, cache_dir=cache_dir, progress=False)
    parallel = run_grid(specs, tmp_path / "parallel", n_jobs=2, threads_per_run=1, cache_dir=cache_dir, progress=False)
    assert serial["run_name"].tolist() == [s.run_name for s in specs]
    pd.testing.assert_frame_equal(_stable(serial), _stable(parallel))


def _bump_metrics_version(monkeypatch) -> int:
    """Pretend the metric code changed (where the store checks and the runner stamps the version); training fails."""
    from spae_core.runs import runner, store

    version = store.METRICS_VERSION + 1
    monkeypatch.setattr(store, "METRICS_VERSION", version)
    monkeypatch.setattr(runner, "METRICS_VERSION", version)
    monkeypatch.setattr(runner.SparseAutoencoder, "fit", lambda *a, **k: pytest.fail("retrained"))
    return version


def test_changed_metric_code_reevaluates_without_retraining(tmp_path, cache_dir, monkeypatch):
    spec = RunSpec("thyroid", "bce", 0, **TINY)
    first = run_one(spec, tmp_path, cache_dir=cache_dir)
    run_dir = tmp_path / "runs" / spec.run_name
    model_mtime = (run_dir / "model.pt").stat().st_mtime_ns
    new_version = _bump_metrics_version(monkeypatch)
    again = run_one(spec, tmp_path, cache_dir=cache_dir)
    assert again["metrics_version"] == new_version
    assert (run_dir / "model.pt").stat().st_mtime_ns == model_mtime
    assert again["ap_macro"] == first["ap_macro"] and again["train_seconds"] == first["train_seconds"]


def test_stale_records_without_weights_stop_the_grid_with_their_names(tmp_path, cache_dir, monkeypatch):
    """A published record (no weights) of older metrics is never silently reused nor retrained."""
    specs = [RunSpec("thyroid", "bce", seed, **TINY) for seed in (0, 1)]
    run_grid(specs, tmp_path, cache_dir=cache_dir, progress=False)
    for spec in specs:
        (tmp_path / "runs" / spec.run_name / "model.pt").unlink()
    # Same version: the records are read back, weights or not.
    assert run_grid(specs, tmp_path, cache_dir=cache_dir, progress=False)["seed"].tolist() == [0, 1]
    _bump_metrics_version(monkeypatch)
    with pytest.raises(StaleRecordsError, match=rf"2 stored run.*{specs[0].run_name}.*make publish"):
        run_grid(specs, tmp_path, cache_dir=cache_dir, progress=False)
    with pytest.raises(StaleRecordsError, match=specs[1].run_name):
        run_one(specs[1], tmp_path, cache_dir=cache_dir)


def test_training_off_refuses_to_train_missing_runs(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("SPAE_TRAINING", "off")
    spec = RunSpec("thyroid", "focal", 0, **TINY)
    with pytest.raises(RuntimeError, match=rf"1 run\(s\) are not in the store.*{spec.run_name}.*make golden"):
        run_grid([spec], tmp_path, cache_dir=cache_dir, progress=False)
    assert not (tmp_path / "runs").exists()


def test_record_carries_the_machine_provenance(tmp_path, cache_dir):
    import torch

    record = run_one(RunSpec("thyroid", "mse", 0, **TINY), tmp_path, cache_dir=cache_dir)
    provenance = json.loads(record["provenance"])
    assert provenance["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert provenance["versions"] == json.loads(record["versions"])
    assert provenance["torch_threads"] == record["torch_threads"] and len(provenance["date"]) == 10
    assert {"cpu", "mkl", "blas", "kernel_switches"} <= set(provenance)


def test_sweep_specs_repeats_the_grid_per_value():
    from spae_core.experiments import sweep_specs

    specs = sweep_specs(["a", "b"], ["mse", "focal"], [0, 1], "learning_rate", [1e-6, 1e-4], max_epochs=5, learning_rate=1e-3)
    assert len(specs) == 2 * 2 * 2 * 2 and {s.learning_rate for s in specs} == {1e-6, 1e-4}
    assert all(s.max_epochs == 5 for s in specs) and len({s.key for s in specs}) == len(specs)
    assert specs[0] == RunSpec("a", "mse", 0, max_epochs=5, learning_rate=1e-6)
    with pytest.raises(ValueError, match="parameter must be one of"):
        sweep_specs(["a"], ["mse"], [0], "seed", [1])
