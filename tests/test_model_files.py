"""SparseAutoencoder model files: a checksum over weights and configuration, checked on load."""

import hashlib

import numpy as np
import pytest
import torch

from spae_core import SparseAutoencoder

SMALL = dict(max_epochs=2, batch_size=16, latent_dim=4, hidden_dims=(8,), device="cpu")


@pytest.fixture
def saved(binary_data, tmp_path):
    """A fitted ``wbce`` model (it has a loss buffer, ``alpha``) saved to a file; (model, path)."""
    X, _ = binary_data
    ae = SparseAutoencoder(loss="wbce", **SMALL).fit(X)
    path = tmp_path / "ae.pt"
    ae.save(path)
    return ae, path


def _edit(path, change):
    """Rewrite the file as a user editing it would: load the dict, change it, save it again."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    change(state)
    torch.save(state, path)


def _flip_two_bytes_inside(path, tensor: torch.Tensor) -> None:
    raw = path.read_bytes()
    weights = tensor.detach().cpu().contiguous().numpy().tobytes()
    start = raw.find(weights)
    assert start >= 0 and raw.find(weights, start + 1) < 0, "the weight's bytes must appear once in the file"
    middle = start + len(weights) // 2
    corrupted = bytearray(raw)
    corrupted[middle] ^= 0xFF
    corrupted[middle + 5] ^= 0x0F
    path.write_bytes(bytes(corrupted))


def test_round_trip_still_loads_and_keeps_predictions(binary_data, saved):
    X, _ = binary_data
    ae, path = saved
    loaded = SparseAutoencoder.load(path, device="cpu")
    np.testing.assert_array_equal(loaded.predict_proba(X), ae.predict_proba(X))


def test_checksum_is_sha256_hex_in_the_file(saved):
    _, path = saved
    state = torch.load(path, map_location="cpu", weights_only=True)
    digest = state["sha256"]
    assert isinstance(digest, str) and len(digest) == len(hashlib.sha256().hexdigest())
    int(digest, 16)


def test_two_flipped_bytes_inside_a_weight_are_refused(saved):
    ae, path = saved
    _flip_two_bytes_inside(path, ae.model_.state_dict()["encoder.0.0.weight"])
    with pytest.raises(ValueError, match=r"(?s)ae\.pt.*changed or corrupted"):
        SparseAutoencoder.load(path, device="cpu")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda s: s["params"].update(loss="bce"), id="loss"),
        pytest.param(lambda s: s["params"].update(latent_dim=5), id="latent_dim"),
        pytest.param(lambda s: s.update(n_features_in=s["n_features_in"] + 1), id="n_features_in"),
        pytest.param(lambda s: s["params"].update(hidden_dims=(9,)), id="hidden_dims"),
        pytest.param(lambda s: s["loss_buffers"]["alpha"].mul_(2), id="loss_weights"),
        pytest.param(lambda s: s["model"]["decoder.1.bias"].add_(1e-3), id="decoder_bias"),
    ],
)
def test_an_edited_file_is_refused(saved, change):
    _, path = saved
    _edit(path, change)
    with pytest.raises(ValueError, match=r"(?s)ae\.pt.*changed or corrupted since it was saved"):
        SparseAutoencoder.load(path, device="cpu")


def test_a_file_that_is_not_a_model_is_refused_naming_it(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_bytes(b"not a torch file at all")
    with pytest.raises(ValueError, match=r"notes\.pt"):
        SparseAutoencoder.load(path, device="cpu")


def test_a_file_without_checksum_is_refused_with_how_to_resave(saved):
    _, path = saved
    _edit(path, lambda s: s.pop("sha256", None))  # what the previous version wrote
    with pytest.raises(ValueError, match=r"(?s)ae\.pt.*no checksum.*verify=False"):
        SparseAutoencoder.load(path, device="cpu")


def test_verify_false_loads_a_file_without_checksum_with_a_warning(binary_data, saved):
    X, _ = binary_data
    ae, path = saved
    _edit(path, lambda s: s.pop("sha256", None))
    with pytest.warns(UserWarning, match="not verified"):
        loaded = SparseAutoencoder.load(path, device="cpu", verify=False)
    np.testing.assert_array_equal(loaded.predict_proba(X), ae.predict_proba(X))
    loaded.save(path)  # re-saving writes a checksum: the file now loads normally
    SparseAutoencoder.load(path, device="cpu")


@pytest.mark.parametrize(
    "change,named",
    [
        (lambda s: s["params"].update(latent_dim=5), "latent_dim=5"),
        (lambda s: s.update(n_features_in=s["n_features_in"] + 1), "n_features_in=41"),
    ],
    ids=["latent_dim", "n_features_in"],
)
def test_shapes_are_checked_before_torch_sees_them(saved, change, named):
    _, path = saved
    _edit(path, change)
    with pytest.warns(UserWarning, match="not verified"), pytest.raises(ValueError) as error:
        SparseAutoencoder.load(path, device="cpu", verify=False)
    message = str(error.value)
    assert "size mismatch" not in message
    assert "ae.pt" in message and named in message and "shape" in message
