"""Training loop: determinism, early stopping, resumable checkpoints, input checks."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from spae_core.losses import get_loss, positive_weights
from spae_core.train import TrainConfig, seeded_model, select_device, train

FAST = dict(max_epochs=6, batch_size=32, patience=50)


def _split(X):
    return X[:240], X[240:]


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _interrupt_at(epoch):
    def callback(record):
        if record["epoch"] == epoch:
            raise KeyboardInterrupt

    return callback


def _run(X_train, X_val, loss="bce", seed=0, **config):
    model = seeded_model(X_train.shape[1], seed)
    result = train(model, get_loss(loss), X_train, X_val, TrainConfig(seed=seed, **{**FAST, **config}), progress=False)
    return model, result


def test_training_reduces_the_loss(binary_data):
    X_train, X_val = _split(binary_data[0])
    _, result = _run(X_train, X_val, max_epochs=10)
    assert result.history[-1]["train_loss"] < 0.7 * result.history[0]["train_loss"]
    assert [h["epoch"] for h in result.history] == list(range(1, 11))
    assert all(set(h) == {"epoch", "train_loss", "val_loss", "seconds"} for h in result.history)


@pytest.mark.parametrize("input_path", ["sparse", "dense"])
def test_same_seed_same_weights_and_losses(binary_data, input_path):
    X_train, X_val = _split(binary_data[0])
    model_a, result_a = _run(X_train, X_val, input_path=input_path)
    model_b, result_b = _run(X_train, X_val, input_path=input_path)
    _assert_same_weights(_weights(model_a), _weights(model_b))
    assert [h["train_loss"] for h in result_a.history] == [h["train_loss"] for h in result_b.history]
    _, result_c = _run(X_train, X_val, input_path=input_path, seed=1)
    assert result_c.history[-1]["train_loss"] != result_a.history[-1]["train_loss"]


def test_sparse_and_dense_paths_train_the_same_model(binary_data):
    X_train, X_val = _split(binary_data[0])
    _, sparse_result = _run(X_train, X_val, input_path="sparse")
    _, dense_result = _run(X_train, X_val, input_path="dense")
    np.testing.assert_allclose(
        [h["val_loss"] for h in sparse_result.history], [h["val_loss"] for h in dense_result.history], rtol=1e-4
    )


@pytest.mark.parametrize("loss_name", ["bce", "wbce"])
def test_fast_bce_routes_train_the_same_weights_as_torchs_kernel(binary_data, loss_name, monkeypatch):
    X_train, X_val = _split(binary_data[0])
    params = {"alpha": positive_weights(X_train)} if loss_name == "wbce" else {}
    fast = get_loss(loss_name, **params)
    model_fast = seeded_model(X_train.shape[1], 0)
    fast_result = train(model_fast, fast, X_train, X_val, TrainConfig(**FAST), progress=False)
    reference = get_loss(loss_name, **params)
    # The reference: a dense target, torch's per-entry kernel and a plain mean, the route before the
    # summed one and the sparse target.
    monkeypatch.setattr(type(reference), "_reduced", lambda self, z, x: self.unreduced(z, x).mean())
    monkeypatch.setattr(type(reference), "accepts_sparse_target", False)
    model_reference = seeded_model(X_train.shape[1], 0)
    reference_result = train(model_reference, reference, X_train, X_val, TrainConfig(**FAST), progress=False)
    _assert_same_weights(_weights(model_fast), _weights(model_reference))
    np.testing.assert_allclose([h["val_loss"] for h in fast_result.history],
                               [h["val_loss"] for h in reference_result.history], rtol=1e-5)


@pytest.mark.parametrize("dense_target", [True, False])
def test_batches_are_the_ordered_rows(binary_data, dense_target):
    from spae_core.train import iterate_batches

    X = binary_data[0][:101]  # 101 = 3 x 32 + 5 rows: a short last batch
    order = np.random.default_rng(7).permutation(X.shape[0])
    seen = []
    for batch, target in iterate_batches(X, 32, "cpu", order, with_transpose=True, dense_target=dense_target):
        dense = batch.to_dense().numpy()
        np.testing.assert_array_equal(batch.transpose.to_dense().numpy(), dense.T)
        np.testing.assert_array_equal(target.numpy() if dense_target else target.to_dense().numpy(), dense)
        seen.append(dense)
    assert [len(b) for b in seen] == [32, 32, 32, 5]
    np.testing.assert_array_equal(np.concatenate(seen), X[order].toarray())


def test_interrupted_run_resumes_to_identical_weights(binary_data, tmp_path):
    X_train, X_val = _split(binary_data[0])
    loss = get_loss("wbce", alpha=positive_weights(X_train))
    config = TrainConfig(**FAST)
    uninterrupted = seeded_model(X_train.shape[1], 0)
    train(uninterrupted, loss, X_train, X_val, config, progress=False)

    checkpoint = tmp_path / "run" / "checkpoint.pt"
    model = seeded_model(X_train.shape[1], 0)
    with pytest.raises(KeyboardInterrupt):
        train(model, loss, X_train, X_val, config, checkpoint=checkpoint, progress=False, on_epoch_end=_interrupt_at(3))
    assert checkpoint.exists()
    assert list(checkpoint.parent.iterdir()) == [checkpoint]  # no temporary file left behind

    # A fresh process would start from a freshly initialised model: use a different seed's to be sure.
    resumed = seeded_model(X_train.shape[1], 99)
    result = train(resumed, loss, X_train, X_val, config, checkpoint=checkpoint, progress=False)
    assert result.resumed_from_epoch == 3
    assert len(result.history) == FAST["max_epochs"]
    _assert_same_weights(_weights(uninterrupted), _weights(resumed))

    # A finished checkpoint returns at once with the same weights.
    again = seeded_model(X_train.shape[1], 7)
    result_again = train(again, loss, X_train, X_val, config, checkpoint=checkpoint, progress=False)
    assert result_again.resumed_from_epoch == FAST["max_epochs"]
    _assert_same_weights(_weights(uninterrupted), _weights(again))


def _finished_checkpoint(binary_data, tmp_path):
    """The data, config and checkpoint of a finished two-epoch BCE run."""
    X_train, X_val = _split(binary_data[0])
    config, checkpoint = TrainConfig(max_epochs=2), tmp_path / "ckpt.pt"
    train(seeded_model(X_train.shape[1], 0), get_loss("bce"), X_train, X_val, config, checkpoint=checkpoint,
          progress=False)
    return X_train, X_val, config, checkpoint


def test_checkpoint_loads_with_weights_only_and_holds_the_train_state(binary_data, tmp_path):
    from dataclasses import fields

    from spae_core.train import TrainState

    *_, checkpoint = _finished_checkpoint(binary_data, tmp_path)
    state = torch.load(checkpoint, weights_only=True)
    assert state["finished"] and len(state["history"]) == 2
    # The keys of checkpoints written before TrainState existed, in their order: TrainState's fields
    # (less the loss's, which only a loss with parameters of its own writes).
    assert list(state) == ["config", "model", "optimizer", "history", "best_epoch", "best_val", "best_state",
                           "epochs_without_improvement", "finished", "stopped_early"]
    assert list(state)[1:] == [f.name for f in fields(TrainState)][:-2]


def test_checkpoint_with_other_config_is_refused(binary_data, tmp_path):
    X_train, X_val, _, checkpoint = _finished_checkpoint(binary_data, tmp_path)
    with pytest.raises(ValueError, match="different config|written with config"):
        train(seeded_model(X_train.shape[1], 0), get_loss("bce"), X_train, X_val, TrainConfig(max_epochs=3),
              checkpoint=checkpoint, progress=False)


def test_checkpoint_lacking_fields_is_refused_clearly(binary_data, tmp_path):
    X_train, X_val, config, checkpoint = _finished_checkpoint(binary_data, tmp_path)
    saved = torch.load(checkpoint, weights_only=True)
    del saved["best_state"], saved["finished"]
    torch.save(saved, checkpoint)
    with pytest.raises(ValueError, match=r"lacks \['best_state', 'finished'\].*delete it"):
        train(seeded_model(X_train.shape[1], 0), get_loss("bce"), X_train, X_val, config, checkpoint=checkpoint,
              progress=False)


def test_early_stopping_restores_the_best_epoch(binary_data):
    X_train, X_val = _split(binary_data[0])
    # A high learning rate on few rows overfits fast, so the validation loss turns up.
    model, result = _run(X_train[:60], X_val, max_epochs=60, patience=3, learning_rate=3e-2, batch_size=16)
    val = [h["val_loss"] for h in result.history]
    assert result.stopped_early
    assert result.best_epoch == int(np.argmin(val)) + 1
    assert len(val) == result.best_epoch + 3
    # The model holds the best epoch's weights: the same as a run that simply stops there.
    replay, _ = _run(X_train[:60], X_val, max_epochs=result.best_epoch, patience=100, learning_rate=3e-2, batch_size=16)
    _assert_same_weights(_weights(model), _weights(replay))


def test_without_validation_trains_all_epochs(binary_data):
    X_train, _ = _split(binary_data[0])
    _, result = _run(X_train, None, max_epochs=3)
    assert len(result.history) == 3 and result.best_epoch == 3 and not result.stopped_early
    assert all(np.isnan(h["val_loss"]) for h in result.history)


def test_single_sample_last_batch_is_merged_not_dropped(binary_data):
    X = binary_data[0]
    # 33 rows with batch size 32: the last batch of one is merged; every row is trained on.
    _, result = _run(X[:33], None, max_epochs=1, batch_size=32)
    assert np.isfinite(result.history[0]["train_loss"])


def test_paper_preset():
    assert TrainConfig.paper().learning_rate == 1e-6
    assert TrainConfig.paper(batch_size=64).batch_size == 64


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"learning_rate": 0}, "learning_rate"),
        ({"batch_size": 1}, "batch_size"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"patience": 0}, "patience"),
        ({"input_path": "csr"}, "input_path"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_bad_data_gets_clear_errors(binary_data):
    X = binary_data[0].toarray()
    model = seeded_model(X.shape[1], 0)
    loss = get_loss("bce")
    bad = X.copy()
    bad[3, 4] = 0.5
    with pytest.raises(ValueError, match=r"X_train has 1 entries that are not 0 or 1 \(first at row 3, column 4"):
        train(model, loss, bad, progress=False)
    nan = X.copy()
    nan[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train(model, loss, nan, progress=False)
    with pytest.raises(ValueError, match="no positive entries"):
        train(model, loss, np.zeros_like(X), progress=False)
    with pytest.raises(ValueError, match="features"):
        train(model, loss, X[:, :-1], progress=False)
    with pytest.raises(ValueError, match="X_val has 39 features"):
        train(model, loss, X, X[:, :-1], progress=False)
    with pytest.raises(ValueError, match="at least 2"):
        train(model, loss, X[:1], progress=False)
    with pytest.raises(ValueError, match="per-feature weights"):
        train(model, get_loss("wbce", alpha=np.full(7, 2.0)), X, progress=False)
    with pytest.raises(ValueError, match="empty"):
        train(model, loss, sp.csr_array((0, X.shape[1])), progress=False)


def test_divergence_is_reported_not_hidden(binary_data):
    X_train, _ = _split(binary_data[0])
    with pytest.raises(FloatingPointError, match="learning rate"):
        _run(X_train, None, max_epochs=3, learning_rate=1e30)


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            select_device("cuda")
        assert select_device().type in ("cpu", "mps")


def test_checkpoint_interval_still_resumes_exactly(binary_data, tmp_path):
    X_train, X_val = _split(binary_data[0])
    config = TrainConfig(**FAST)
    uninterrupted = seeded_model(X_train.shape[1], 0)
    train(uninterrupted, get_loss("bce"), X_train, X_val, config, progress=False)

    # With an hour between checkpoints, an interruption in epoch 4 finds nothing written yet.
    sparse_checkpoint = tmp_path / "hourly.pt"
    with pytest.raises(KeyboardInterrupt):
        train(seeded_model(X_train.shape[1], 0), get_loss("bce"), X_train, X_val, config, checkpoint=sparse_checkpoint,
              checkpoint_every=3600, progress=False, on_epoch_end=_interrupt_at(4))
    assert not sparse_checkpoint.exists()

    # Resuming an every-epoch checkpoint with an hourly interval still writes the final epoch.
    checkpoint = tmp_path / "every.pt"
    with pytest.raises(KeyboardInterrupt):
        train(seeded_model(X_train.shape[1], 0), get_loss("bce"), X_train, X_val, config, checkpoint=checkpoint,
              progress=False, on_epoch_end=_interrupt_at(2))
    resumed = seeded_model(X_train.shape[1], 5)
    result = train(resumed, get_loss("bce"), X_train, X_val, config, checkpoint=checkpoint, checkpoint_every=3600,
                   progress=False)
    assert result.resumed_from_epoch == 2 and torch.load(checkpoint, weights_only=True)["finished"]
    _assert_same_weights(_weights(uninterrupted), _weights(resumed))


# --- the OVR option and losses with parameters of their own ---------------------------------------
def _reference_fit(X_train, X_val, loss, config):
    """The training loop as it was before the OVR option and count losses, for a bit-for-bit comparison.

    Sparse input path, fixed epoch count (no early stopping reached), best-by-validation weights.
    """
    from spae_core.train import iterate_batches

    model = seeded_model(X_train.shape[1], config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, fused=True)
    best_val, best_state = np.inf, None
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        order = np.random.default_rng([config.seed, epoch]).permutation(X_train.shape[0])
        for batch, target in iterate_batches(X_train, config.batch_size, "cpu", order, with_transpose=True):
            batch_loss = loss(model(batch), target)
            optimizer.zero_grad(set_to_none=True)
            batch_loss.backward()
            optimizer.step()
        model.eval()
        total = torch.zeros(())
        with torch.no_grad():
            for batch, target in iterate_batches(X_val, config.batch_size, "cpu"):
                total += loss(model(batch), target) * target.shape[0]
        val = float(total) / X_val.shape[0]
        if val < best_val:
            best_val, best_state = val, _weights(model)
    model.load_state_dict(best_state)
    return model


@pytest.mark.parametrize("loss", ["bce", "focal"])
def test_default_off_ovr_trains_bit_identically_to_the_plain_loop(binary_data, loss):
    X_train, X_val = _split(binary_data[0])
    config = TrainConfig(seed=3, input_path="sparse", **FAST)
    assert config.ovr_lambda == 0.0
    model = seeded_model(X_train.shape[1], 3)
    train(model, get_loss(loss), X_train, X_val, config, device="cpu", progress=False)
    _assert_same_weights(_weights(model), _weights(_reference_fit(X_train, X_val, get_loss(loss), config)))


def test_ovr_changes_training_and_records_its_penalty(binary_data):
    X_train, X_val = _split(binary_data[0])
    plain, _ = _run(X_train, X_val)
    regularised, result = _run(X_train, X_val, ovr_lambda=0.5)
    assert not torch.equal(plain.state_dict()["encoder.0.0.weight"], regularised.state_dict()["encoder.0.0.weight"])
    assert all(h["train_ovr_penalty"] > 0 for h in result.history)


def test_ovr_off_leaves_checkpoint_config_as_before(binary_data, tmp_path):
    X_train, X_val = _split(binary_data[0])
    path = tmp_path / "run.pt"
    model = seeded_model(X_train.shape[1], 0)
    train(model, get_loss("bce"), X_train, X_val, TrainConfig(**FAST), checkpoint=path, progress=False)
    saved = torch.load(path, weights_only=True)["config"]
    assert "ovr_lambda" not in saved and "loss" not in torch.load(path, weights_only=True)
    assert "ovr_lambda" in TrainConfig(ovr_lambda=0.1).record()


def test_count_loss_parameters_are_trained_and_handed_back(binary_data, tmp_path):
    rng = np.random.default_rng(0)
    X = sp.csr_array(binary_data[0].toarray() * rng.integers(1, 6, size=binary_data[0].shape))
    X_train, X_val = _split(X)
    loss = get_loss("zinb", n_features=X.shape[1])
    before = {k: v.clone() for k, v in loss.state_dict().items()}
    model = seeded_model(X.shape[1], 0)
    result = train(model, loss, X_train, X_val, TrainConfig(**FAST), progress=False, checkpoint=tmp_path / "c.pt")
    assert all(not torch.equal(before[k], v) for k, v in loss.state_dict().items())
    assert np.isfinite(result.history[-1]["train_loss"])
    # A finished checkpoint returns at once, with the same loss parameters.
    again = get_loss("zinb", n_features=X.shape[1])
    train(seeded_model(X.shape[1], 0), again, X_train, X_val, TrainConfig(**FAST), progress=False, checkpoint=tmp_path / "c.pt")
    for key, value in loss.state_dict().items():
        assert torch.equal(again.state_dict()[key], value)


def test_count_and_binary_losses_check_their_own_kind_of_data(binary_data):
    X_train, X_val = _split(binary_data[0])
    counts = X_train * 3
    with pytest.raises(ValueError, match="not 0 or 1"):
        train(seeded_model(X_train.shape[1], 0), get_loss("bce"), counts, X_val, TrainConfig(**FAST), progress=False)
    with pytest.raises(ValueError, match="whole numbers"):
        train(seeded_model(X_train.shape[1], 0), get_loss("poisson"), X_train * 0.5, X_val, TrainConfig(**FAST), progress=False)
    with pytest.raises(ValueError, match="n_features=40"):
        train(seeded_model(X_train.shape[1], 0), get_loss("nb", n_features=7), counts, X_val, TrainConfig(**FAST), progress=False)
    with pytest.raises(ValueError, match="ovr_lambda"):
        TrainConfig(ovr_lambda=-1.0)
