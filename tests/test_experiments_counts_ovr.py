"""The grid on count datasets (count losses, the count metrics) and with the OVR regulariser."""

import hashlib
import json

import numpy as np
import pytest

from spae_core.datasets import load_counts
from spae_core.experiments import RunSpec, grid_specs, run_grid, run_one, subsample_rows, sweep_specs
from spae_core.losses import DEFAULT_BETA
from spae_core.metrics import code_sparsity, count_reconstruction

TINY = dict(max_rows=200, max_epochs=2, batch_size=64, latent_dim=8, hidden_dims=(16,))
CODE_FIELDS = ("code_hoyer", "code_treves_rolls", "code_near_zero", "code_dead_units", "code_silent")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("dataset-cache")


def _key_before_ovr_fields(dataset, loss, seed):
    """The key formula as it stood before the OVR fields, written out with every pre-existing default."""
    fields = {"dataset": dataset, "loss": loss, "seed": seed, "split_seed": 0, "max_rows": None, "loss_params": {},
              "beta": DEFAULT_BETA, "learning_rate": 1e-3, "batch_size": 256, "max_epochs": 200, "patience": 10,
              "latent_dim": 50, "hidden_dims": [200]}
    payload = json.dumps({"store_version": 1, **fields}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def test_new_fields_at_their_defaults_keep_every_existing_key():
    assert RunSpec("thyroid", "mse", 0).key == _key_before_ovr_fields("thyroid", "mse", 0)
    assert RunSpec("movielens_097", "focal", 3).key == _key_before_ovr_fields("movielens_097", "focal", 3)
    # An int and a float of the same value are one run.
    assert RunSpec("thyroid", "mse", 0, ovr_lambda=0).key == RunSpec("thyroid", "mse", 0).key
    keys = {RunSpec("thyroid", "mse", 0).key, RunSpec("thyroid", "mse", 0, ovr_lambda=0.1).key,
            RunSpec("thyroid", "mse", 0, ovr_lambda=0.1, ovr_activity=2.0).key,
            RunSpec("thyroid", "mse", 0, ovr_activity=2.0).key}
    assert len(keys) == 4
    assert RunSpec("thyroid", "mse", 0, ovr_lambda=0.1).as_dict()["ovr_lambda"] == 0.1


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf"), "0.1", True])
def test_ovr_fields_are_validated(value):
    with pytest.raises(ValueError, match="ovr_lambda"):
        RunSpec("thyroid", "mse", 0, ovr_lambda=value)


def test_count_dataset_with_a_binary_loss_is_refused_before_training(tmp_path):
    with pytest.raises(ValueError, match="count dataset.*count_mse"):
        run_grid([RunSpec("movielens_ratings", "mse", 0, **TINY)], tmp_path, progress=False)
    assert not (tmp_path / "runs").exists()


def test_count_run_records_the_count_metrics_of_its_test_rows(tmp_path, cache_dir):
    from spae_core import SparseAutoencoder

    spec = RunSpec("movielens_ratings", "poisson", 0, **TINY)
    record = run_one(spec, tmp_path, cache_dir=cache_dir)
    assert record["data_kind"] == "counts" and record["n_samples"] == 200 and record["epochs"] == 2
    # Recompute from the stored model and the same split, through the metric functions directly.
    dataset = subsample_rows(load_counts("movielens_ratings", cache_dir=cache_dir), 200, 0)
    test = dataset.split(seed=0, stratify="auto").test  # the runner's split
    model = SparseAutoencoder.load(tmp_path / "runs" / spec.run_name / "model.pt")
    expected = count_reconstruction(test.X, model.predict_mean(test.X))
    assert record["nonzero_exact"] == pytest.approx(expected.nonzero_exact)
    assert record["zero_kept"] == pytest.approx(expected.zero_kept)
    assert record["mae_nonzero"] == pytest.approx(expected.mae_nonzero)
    assert record["n_nonzero_test"] + record["n_zero_test"] == test.X.shape[0] * test.X.shape[1]
    assert record["n_nonzero_test"] == test.X.nnz
    codes = code_sparsity(model.transform(test.X))
    assert record["code_hoyer"] == pytest.approx(codes.population_sparsity)
    assert record["code_near_zero"] == pytest.approx(codes.fraction_near_zero)
    assert 0 <= record["ap_macro"] <= 1 and 0 <= record["ap_micro"] <= 1
    assert "trustworthiness" not in record


def test_count_mse_baseline_runs_on_counts(tmp_path, cache_dir):
    records = run_grid(grid_specs(["movielens_ratings"], ["count_mse", "nb"], [0], **TINY), tmp_path,
                       cache_dir=cache_dir, progress=False)
    assert records["loss"].tolist() == ["count_mse", "nb"]
    assert records[["nonzero_exact", "zero_kept", "mae_nonzero"]].notna().all().all()


def test_binary_runs_record_code_sparsity_and_ovr_changes_the_run(tmp_path, cache_dir):
    specs = sweep_specs(["thyroid"], ["bce"], [0], "ovr_lambda", [0.0, 1.0], **{**TINY, "max_rows": 300})
    records = run_grid(specs, tmp_path, cache_dir=cache_dir, progress=False)
    assert records["ovr_lambda"].tolist() == [0.0, 1.0] and (records["data_kind"] == "binary").all()
    for field in CODE_FIELDS:
        assert records[field].notna().all()
    assert records["code_hoyer"].between(0, 1).all()
    # The regulariser enters training: same seed, different weights, different codes.
    assert records.loc[0, "best_val_loss"] != records.loc[1, "best_val_loss"]
    assert records.loc[0, "code_hoyer"] != records.loc[1, "code_hoyer"]


def test_evaluate_counts_on_a_perfect_reconstruction():
    from spae_core.datasets import make_sparse_counts
    from spae_core.evaluation import evaluate_counts

    X, _ = make_sparse_counts(60, 12, 0.8, n_clusters=2, random_state=0)
    dense = X.toarray() if hasattr(X, "toarray") else np.asarray(X)

    class Exact:
        def predict_mean(self, X):
            return X.toarray() if hasattr(X, "toarray") else np.asarray(X)

        def predict_proba(self, X):
            return (self.predict_mean(X) > 0).astype(float)

        def transform(self, X):
            return np.eye(4)[np.arange(X.shape[0]) % 4]

    class Split:
        test = type("Part", (), {"X": X})()

    record = evaluate_counts(Exact(), Split())
    assert record["nonzero_exact"] == 1.0 and record["zero_kept"] == 1.0 and record["mae_nonzero"] == 0.0
    assert record["n_nonzero_test"] == int((dense > 0).sum())
    assert record["ap_micro"] == 1.0
    # One active unit of four per code: Hoyer 1, three quarters of the activations zero.
    assert record["code_hoyer"] == 1.0 and record["code_near_zero"] == 0.75 and record["code_dead_units"] == 0.0
