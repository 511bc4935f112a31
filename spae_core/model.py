"""The autoencoder of the paper's Appendix B.

``d -> 200 -> 50 -> 200 -> d``: every hidden block is ``Linear -> BatchNorm1d -> ReLU``; the output
layer is a plain ``Linear`` whose outputs are **logits** (the sigmoid of Appendix B is applied by the
losses and by :meth:`Autoencoder.reconstruct`, where it is numerically safe). Linear weights use
Xavier-uniform initialisation and zero biases.

**The embedding** is the output of the bottleneck block: the 50-d tensor after its BatchNorm and
ReLU, exactly what the decoder receives. :meth:`Autoencoder.encode` returns it.

The first layer accepts a batch either as a dense tensor or as a :class:`SparseBatch` (torch CSR
tensors). A sparse batch is multiplied with sparse kernels, so the first layer's cost grows with the
number of non-zeros, not with ``d``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Autoencoder", "SparseBatch", "SparseInputLinear"]


@dataclass(frozen=True)
class SparseBatch:
    """A batch of rows of a sparse matrix, as two torch CSR tensors on one device.

    Attributes
    ----------
    matrix : torch sparse CSR tensor of shape (n_rows, n_features)
    transpose : torch sparse CSR tensor of shape (n_features, n_rows), or None
        The same batch transposed; the backward pass multiplies by it, and building it once from
        scipy is cheaper than having torch transpose a CSR tensor inside autograd. None for a
        batch that no gradient flows through (evaluation, the dense input path).
    """

    matrix: torch.Tensor
    transpose: torch.Tensor | None

    @classmethod
    def from_scipy(cls, rows, device=None, dtype=torch.float32, with_transpose: bool = True) -> "SparseBatch":
        """Build from a scipy sparse matrix (any format), moving it to ``device``."""
        csr = sp.csr_array(rows)
        transpose = _torch_csr(csr.T.tocsr(), device, dtype) if with_transpose else None
        return cls(_torch_csr(csr, device, dtype), transpose)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.matrix.shape)

    def to_dense(self) -> torch.Tensor:
        """The batch as a dense tensor on the same device."""
        # A scatter into zeros is 2-3x faster than torch's CSR to_dense on the CPU.
        crow, col = self.matrix.crow_indices(), self.matrix.col_indices()
        rows = torch.repeat_interleave(torch.arange(self.shape[0], device=crow.device), crow.diff())
        dense = torch.zeros(self.shape, dtype=self.matrix.dtype, device=crow.device)
        dense[rows, col] = self.matrix.values()
        return dense


def _torch_csr(csr: sp.csr_array, device, dtype) -> torch.Tensor:
    with warnings.catch_warnings():
        # torch warns once per process that CSR support is "beta"; the operations used here
        # (construction, to_dense, sparse @ dense) are covered by our tests.
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            torch.from_numpy(csr.indptr.astype(np.int64)),
            torch.from_numpy(csr.indices.astype(np.int64)),
            torch.from_numpy(csr.data).to(dtype),
            csr.shape,
            device=device,
            # scipy's canonical CSR already satisfies the invariants; re-checking costs a pass.
            check_invariants=False,
        )


def _csr_times_dense(csr: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
    """``csr @ dense`` for a torch CSR tensor, as a weighted ``embedding_bag`` over its rows.

    Row ``i`` of the product is ``sum_k values[k] * dense[col[k]]`` over that row's entries, which is
    exactly a bag sum. It agrees with ``torch.sparse.mm`` to float32 rounding on every CPU: each
    output entry is a float32 dot product over the ``n`` non-zeros of its row, and both are within
    ``gamma_n sum_k |values[k] dense[col[k], j]|`` of the exact sum (``gamma_n = n u / (1 - n u)``,
    ``u = 2**-24``; checked in the tests against a float64 product). They are the same bits on
    some CPUs (the AVX-512 Intel machine this was developed on) but not on others: on an
    AVX2-only AMD Zen 3, FBGEMM's fused multiply-add and MKL's multiply-then-add rounded a third of
    the tests' forward entries differently (by up to 1.1e-5), so a model trained with one of them
    may differ in its last bits from one trained with the other. On the CPU it is ~1.3x faster
    for the forward product and ~6x faster for the backward one (``X.T @ grad``, d x 256 @
    256 x 200 at density 0.02), where ``torch.sparse.mm`` spends most of its time outside the
    arithmetic.
    """
    return F.embedding_bag(csr.col_indices(), dense, csr.crow_indices()[:-1], mode="sum",
                           per_sample_weights=csr.values())


class _SparseDenseMatmul(torch.autograd.Function):
    """``A @ W`` for a constant sparse ``A``; the weight gradient is ``A.T @ grad``, also sparse x dense."""

    @staticmethod
    def forward(ctx, batch_matrix, batch_transpose, weight):
        ctx.batch_transpose = batch_transpose
        return _csr_times_dense(batch_matrix, weight)

    @staticmethod
    def backward(ctx, grad_out):
        if ctx.batch_transpose is None:
            raise RuntimeError("This SparseBatch was built without its transpose (with_transpose=False); "
                               "it cannot be trained on.")
        return None, None, _csr_times_dense(ctx.batch_transpose, grad_out)


class SparseInputLinear(nn.Module):
    """``x @ W + b`` for a dense tensor or a :class:`SparseBatch`.

    The weight is stored as ``(in_features, out_features)``, the transpose of ``nn.Linear``'s, so
    that both paths multiply by it without a copy. With a sparse batch the forward and backward
    products cost ``O(nnz x out_features)`` instead of ``O(n_rows x in_features x out_features)``.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Xavier-uniform is symmetric in fan-in and fan-out, so the transposed storage does not change it.
        nn.init.xavier_uniform_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x):
        if isinstance(x, SparseBatch):
            return _SparseDenseMatmul.apply(x.matrix, x.transpose, self.weight) + self.bias
        return torch.addmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class _OutputLinear(nn.Linear):
    """The decoder's last layer, ``x @ W.T + b`` with the bias added in place after the product.

    ``nn.Linear`` calls ``addmm``, which first copies the broadcast bias into a fresh
    ``batch x d`` output and then accumulates the product into it: at d = 5,000 that copy is a
    cold 5 MB write; skipping it made a training step 0.6% and 2.7% faster (medians of six paired
    runs, measured twice). The gradients are the same computation as ``nn.Linear``'s (autograd
    differentiates ``mm`` and ``addmm`` into the same products and the same column sum), so the
    same bits on any CPU. The values come from a different BLAS call, ``mm`` then ``+ b`` where
    ``addmm`` starts from ``b``, and agree with ``nn.Linear``'s to float32 rounding (each within
    ``gamma_n (|b| + sum |x w|)`` of the exact value, ``n = in_features + 1``; checked in the
    tests); whether they are also the same bits depends on the BLAS and the CPU.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2:
            return super().forward(x)
        return torch.mm(x, self.weight.t()).add_(self.bias)


def _block(layer: nn.Module, width: int) -> nn.Sequential:
    return nn.Sequential(layer, nn.BatchNorm1d(width), nn.ReLU())


class Autoencoder(nn.Module):
    """Fully connected autoencoder with batch normalisation (Appendix B).

    Parameters
    ----------
    n_features : int
        Input and output dimension ``d``.
    hidden_dims : sequence of int, default=(200,)
        Widths of the encoder's hidden layers; the decoder mirrors them.
    latent_dim : int, default=50
        Width of the bottleneck (the embedding).
    """

    def __init__(self, n_features: int, hidden_dims: Sequence[int] = (200,), latent_dim: int = 50):
        super().__init__()
        widths = [int(w) for w in hidden_dims]
        if n_features < 1 or latent_dim < 1 or any(w < 1 for w in widths):
            raise ValueError(
                f"Layer sizes must be positive integers, got n_features={n_features}, "
                f"hidden_dims={tuple(hidden_dims)}, latent_dim={latent_dim}."
            )
        self.n_features = int(n_features)
        self.hidden_dims = tuple(widths)
        self.latent_dim = int(latent_dim)

        encoder_widths = [*widths, self.latent_dim]
        first = SparseInputLinear(self.n_features, encoder_widths[0])
        encoder = [_block(first, encoder_widths[0])]
        encoder += [_block(nn.Linear(a, b), b) for a, b in zip(encoder_widths, encoder_widths[1:])]
        self.encoder = nn.Sequential(*encoder)

        decoder_widths = [self.latent_dim, *reversed(widths)]
        decoder = [_block(nn.Linear(a, b), b) for a, b in zip(decoder_widths, decoder_widths[1:])]
        decoder.append(_OutputLinear(decoder_widths[-1], self.n_features))
        self.decoder = nn.Sequential(*decoder)

        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def encode(self, x) -> torch.Tensor:
        """The embedding: the bottleneck block's output (after BatchNorm and ReLU)."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits of the reconstruction from embeddings."""
        return self.decoder(z)

    def forward(self, x) -> torch.Tensor:
        """Logits of the reconstruction of ``x`` (a dense tensor or a :class:`SparseBatch`)."""
        return self.decoder(self.encoder(x))

    def flops_per_sample(self) -> int:
        """Training FLOPs per sample of the dense path: 6 per weight (2 forward, 4 backward)."""
        widths = [self.n_features, *self.hidden_dims, self.latent_dim]
        macs = sum(a * b for a, b in zip(widths, widths[1:]))
        return 6 * 2 * macs
