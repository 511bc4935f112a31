"""The grid on a Dask cluster (joblib's Dask backend) gives the same runs as a serial grid.

``n_jobs`` parallel vs serial is tested in ``test_experiments.py``; this file adds only the Dask
path, through the unchanged ``run_grid`` (no scheduler of our own), and compares the stored
weights as well as the records.
"""

import json
import re

import joblib
import pandas as pd
import pytest
import torch

from spae_core import SparseAutoencoder
from spae_core.experiments import RunSpec, run_grid

distributed = pytest.importorskip("distributed")

TINY = dict(max_rows=300, max_epochs=2, batch_size=64, latent_dim=8, hidden_dims=(16,))
# Wall-clock fields differ between any two runs; everything else must be identical.
VOLATILE = ("seconds", "run_seconds", "train_seconds")


def _stable(frame):
    return frame[[c for c in frame.columns if not c.startswith(VOLATILE)]]


def _weights(results_dir, spec):
    return SparseAutoencoder.load(results_dir / "runs" / spec.run_name / "model.pt", device="cpu").model_.state_dict()


@pytest.fixture(scope="module")
def grids(tmp_path_factory):
    """The same tiny grid run serially and on a two-worker local Dask cluster."""
    root = tmp_path_factory.mktemp("scale-out")
    cache_dir = root / "dataset-cache"
    specs = [RunSpec("thyroid", loss, seed, **TINY) for loss in ("bce", "focal") for seed in (0, 1)]
    serial = run_grid(specs, root / "serial", n_jobs=1, threads_per_run=1, cache_dir=cache_dir, progress=False)
    # processes=True: each worker is its own process, as on a real cluster (the runs and their
    # arguments are pickled to the workers; the results store is a shared file system).
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        workers = set(client.scheduler_info()["workers"])
        with joblib.parallel_config(backend="dask"), distributed.get_task_stream(client) as tasks:
            on_dask = run_grid(specs, root / "dask", n_jobs=-1, threads_per_run=1, cache_dir=cache_dir, progress=False)
    return dict(root=root, specs=specs, serial=serial, dask=on_dask, workers=workers, tasks=tasks.data)


def test_dask_grid_equals_serial_grid(grids):
    specs, serial, on_dask = grids["specs"], grids["serial"], grids["dask"]
    # The runs really went to the cluster's two workers, not to a local fallback.
    run_tasks = [t for t in grids["tasks"] if "run_one" in t["key"]]
    # joblib may batch several calls into one task, named "batch_of_run_one_<calls>_calls-<hash>".
    assert sum(int(re.search(r"run_one_(\d+)_calls", t["key"]).group(1)) for t in run_tasks) == len(specs)
    assert len(grids["workers"]) == 2
    assert {t["worker"] for t in run_tasks} <= grids["workers"]

    assert on_dask["run_name"].tolist() == [s.run_name for s in specs]
    # "warnings" is compared in the next test.
    pd.testing.assert_frame_equal(_stable(serial).drop(columns="warnings"), _stable(on_dask).drop(columns="warnings"))
    for spec in specs:
        expected, actual = _weights(grids["root"] / "serial", spec), _weights(grids["root"] / "dask", spec)
        assert expected.keys() == actual.keys()
        for name in expected:
            assert torch.equal(expected[name], actual[name]), (spec.run_name, name)


def test_dask_runs_do_not_share_a_worker_process(grids):
    runs = sorted(((t["worker"], s["start"], s["stop"]) for t in grids["tasks"] if "run_one" in t["key"]
                   for s in t["startstops"] if s["action"] == "compute"))
    # Dask stamps a task's stop after its result is handed over and the next task's start before
    # that (tens of milliseconds here); two runs sharing a process overlap by whole seconds.
    overlapping = [(a, b) for a, b in zip(runs, runs[1:]) if a[0] == b[0] and b[1] < a[2] - 0.5]
    nested = [t["key"] for t in grids["tasks"] if "run_one" not in t["key"]]
    assert not overlapping and not nested
    serial = [json.loads(w) for w in grids["serial"]["warnings"]]
    assert [json.loads(w) for w in grids["dask"]["warnings"]] == serial
