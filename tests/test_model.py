"""The Appendix B autoencoder: layout, initialisation, and the sparse input path."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch import nn

from spae_core.model import Autoencoder, SparseBatch, SparseInputLinear
from spae_core.train import seeded_model

from float_bounds import assert_within_dot_product_bound


def test_architecture_is_appendix_b():
    model = Autoencoder(120)
    linears = [m for m in model.modules() if isinstance(m, (nn.Linear, SparseInputLinear))]
    sizes = [(m.in_features, m.out_features) for m in linears]
    assert sizes == [(120, 200), (200, 50), (50, 200), (200, 120)]
    norms = [m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    assert norms == [200, 50, 200]  # between layers, not on the output
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 3
    assert not isinstance(model.decoder[-1], nn.Sequential)  # the output layer emits logits


def test_sizes_are_configurable_and_validated():
    model = Autoencoder(30, hidden_dims=(64, 32), latent_dim=8)
    x = torch.rand(5, 30)
    assert model.encode(x).shape == (5, 8)
    assert model(x).shape == (5, 30)
    with pytest.raises(ValueError, match="positive integers"):
        Autoencoder(30, latent_dim=0)


def test_xavier_uniform_initialisation():
    model = seeded_model(500, seed=0)
    for module in model.modules():
        if isinstance(module, (nn.Linear, SparseInputLinear)):
            bound = math.sqrt(6 / (module.in_features + module.out_features))
            w = module.weight.detach()
            assert w.abs().max() <= bound
            assert w.abs().max() > 0.95 * bound  # actually spread over the whole range
            assert torch.count_nonzero(module.bias) == 0


def test_embedding_is_bottleneck_after_batchnorm_and_relu():
    model = seeded_model(40, seed=1).eval()
    x = (torch.rand(8, 40) < 0.2).float()
    z = model.encode(x)
    assert z.shape == (8, 50) and (z >= 0).all()
    torch.testing.assert_close(model.decode(z), model(x))


def test_same_seed_same_weights_different_seed_different():
    a, b, c = seeded_model(30, 3), seeded_model(30, 3), seeded_model(30, 4)
    for (_, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.encoder[0][0].weight, c.encoder[0][0].weight)


def test_seeded_model_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    seeded_model(10, seed=0)
    torch.testing.assert_close(torch.rand(3), expected)


def test_sparse_batch_round_trip():
    rng = np.random.default_rng(0)
    dense = (rng.random((7, 13)) < 0.3).astype(np.float32)
    batch = SparseBatch.from_scipy(sp.csr_array(dense))
    assert batch.shape == (7, 13)
    np.testing.assert_array_equal(batch.to_dense().numpy(), dense)
    np.testing.assert_array_equal(batch.transpose.to_dense().numpy(), dense.T)


def test_sparse_path_matches_dense_path_values_and_gradients():
    rng = np.random.default_rng(1)
    dense = (rng.random((16, 60)) < 0.05).astype(np.float32)
    dense[0] = 0.0  # an empty row must work too
    model_sparse, model_dense = seeded_model(60, 5), seeded_model(60, 5)
    out_sparse = model_sparse(SparseBatch.from_scipy(sp.csr_array(dense)))
    out_dense = model_dense(torch.from_numpy(dense))
    torch.testing.assert_close(out_sparse, out_dense, rtol=1e-5, atol=1e-6)
    out_sparse.square().sum().backward()
    out_dense.square().sum().backward()
    for (name, p_sparse), p_dense in zip(model_sparse.named_parameters(), model_dense.parameters()):
        torch.testing.assert_close(p_sparse.grad, p_dense.grad, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("seed", range(4))
def test_sparse_products_agree_with_torch_sparse_mm_within_float32_rounding(seed):
    """The sparse layer's ``A @ W`` and weight gradient ``A.T @ G`` against ``torch.sparse.mm``.

    Both accumulate each output entry as a float32 dot product over the non-zeros of one row of
    ``A`` (forward) or of ``A.T`` (backward), but in CPU-dependent ways: on AVX-512 here they
    give the same bits, while on AVX2 FBGEMM's fused multiply-add and MKL's multiply-then-add
    differ in a third of the entries. What holds everywhere is the bound of
    :mod:`float_bounds`: an entry summing ``n`` products is within
    ``gamma_n sum_k |a_k w_k|`` (``gamma_n = n u / (1 - n u)``, ``u = 2**-24``) of the exact
    sum, so each implementation is checked against a float64 reference (scipy, sequential) at
    that bound, and the two are then within twice of it of each other. ``n`` is the row's
    number of non-zeros: ~21 in the forward and ~2 in the backward here, i.e. bounds of
    ~1.3e-6 and ~1.2e-7 relative to ``sum |a w|``, far below a wrong index or scale.
    """
    rng = np.random.default_rng(seed)
    rows = sp.random_array((64, 700), density=0.03, format="csr", rng=rng, dtype=np.float32)
    rows.data[:] = rng.integers(1, 6, rows.nnz)  # counts too, not only 0/1
    rows = sp.csr_array(rows.toarray() * (rng.random((64, 1)) < 0.9))  # and some empty rows
    batch = SparseBatch.from_scipy(rows)
    weight = torch.randn(700, 200, generator=torch.Generator().manual_seed(seed)).requires_grad_()
    grad = torch.randn(64, 200, generator=torch.Generator().manual_seed(seed + 100))
    layer = SparseInputLinear(700, 200)
    layer.weight = nn.Parameter(weight.detach().clone())
    layer.bias = nn.Parameter(torch.zeros(200))
    out = layer(batch)
    out.backward(grad)

    A = sp.csr_array(rows, dtype=np.float64)
    W, G = weight.detach().double().numpy(), grad.double().numpy()
    cases = {
        # name: (ours, torch.sparse.mm's, float64 product, n per output row, sum |a w|)
        "forward A @ W": (out.detach(), torch.sparse.mm(batch.matrix, weight.detach()),
                          A @ W, np.diff(A.indptr)[:, None], abs(A) @ np.abs(W)),
        "backward A.T @ G": (layer.weight.grad, torch.sparse.mm(batch.transpose, grad),
                             A.T @ G, np.diff(A.T.tocsr().indptr)[:, None], abs(A).T @ np.abs(G)),
    }
    for name, (ours, torch_mm, reference, n_terms, abs_sum) in cases.items():
        assert_within_dot_product_bound(ours.numpy(), reference, n_terms, abs_sum, f"ours, {name}")
        assert_within_dot_product_bound(torch_mm.numpy(), reference, n_terms, abs_sum, f"torch.sparse.mm, {name}")


@pytest.mark.parametrize("n_features", [37, 1000, 5000])
def test_output_layer_equals_nn_linear(n_features):
    """The decoder's last layer (``mm`` then the bias added in place) against ``nn.Linear`` (``addmm``).

    The values come from two different BLAS calls, ``mm`` followed by ``+ b`` and ``addmm``,
    which starts from ``b``; whether they round alike depends on the BLAS and the CPU. Each entry
    is a dot product of ``n = in_features + 1`` terms (the bias as one of them), so both are
    within ``gamma_n (|b| + sum |x w|)`` of a float64 reference (:mod:`float_bounds`).
    The gradients are the same computation on both sides (autograd's backward of ``mm`` and of
    ``addmm`` are the same products of the same tensors, and the bias gradient the same column
    sum), so they must be the same bits on any CPU.
    """
    model = seeded_model(n_features, 3)
    ours = model.decoder[-1]
    g = torch.Generator().manual_seed(n_features)
    with torch.no_grad():
        ours.bias.copy_(torch.randn(ours.out_features, generator=g))  # zero at initialisation; not here
    reference = nn.Linear(ours.in_features, ours.out_features)
    reference.load_state_dict(ours.state_dict())
    x_ours = torch.relu(torch.randn(256, ours.in_features, generator=g)).requires_grad_()
    x_ref = x_ours.detach().clone().requires_grad_()
    out_ours, out_ref = ours(x_ours), reference(x_ref)
    x64, w64, b64 = (t.detach().double().numpy() for t in (x_ours, ours.weight, ours.bias))
    expected = x64 @ w64.T + b64
    abs_sum = np.abs(x64) @ np.abs(w64).T + np.abs(b64)
    for name, out in (("ours", out_ours), ("nn.Linear", out_ref)):
        assert_within_dot_product_bound(out.detach().numpy(), expected, ours.in_features + 1, abs_sum, name)
    upstream = torch.randn(out_ours.shape, generator=g)
    out_ours.backward(upstream)
    out_ref.backward(upstream)
    assert torch.equal(x_ours.grad, x_ref.grad)
    assert torch.equal(ours.weight.grad, reference.weight.grad)
    assert torch.equal(ours.bias.grad, reference.bias.grad)


def test_flops_per_sample_formula():
    model = Autoencoder(1000)
    macs = 1000 * 200 + 200 * 50 + 50 * 200 + 200 * 1000
    assert model.flops_per_sample() == 6 * macs


def test_batch_without_transpose_runs_forward_but_refuses_backward():
    dense = np.eye(4, 6, dtype=np.float32)
    batch = SparseBatch.from_scipy(sp.csr_array(dense), with_transpose=False)
    assert batch.transpose is None
    model = seeded_model(6, 0)
    with pytest.raises(RuntimeError, match="without its transpose"):
        model(batch).sum().backward()
