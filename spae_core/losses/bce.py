"""Binary cross-entropy (Eq. 4) and weighted BCE (Eq. 6), with a fast summed route that gives
torch's gradient bit for bit, for dense targets and for sparse CSR targets that store the 1s."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from ._functional import _as_weight_tensor
from .base import ReconstructionLoss

__all__ = ["BCELoss", "WeightedBCELoss"]

#: ``softplus`` returns its input above this; torch's default of 20 drops exp(-20) = 2e-9, visible in
#: float64. Past 40 the dropped exp(-40) is below float64 resolution, and exp(40) is still finite
#: in float32.
_SOFTPLUS_THRESHOLD = 40.0


class _SummedBCEWithLogits(torch.autograd.Function):
    """``sum`` over all entries of BCE on logits for a 0/1 target, optionally with ``pos_weight``.

    Equal to ``F.binary_cross_entropy_with_logits(z, x, pos_weight=w, reduction="none").sum()``
    up to float32 rounding of the value, and with the same gradient bit for bit (the backward
    repeats torch's own formula in torch's order), so training is unchanged. It is faster because
    its passes over the entries are cheap ones (the sign flip, one ``softplus``, a sum) where
    torch's kernel runs ``log_sigmoid`` with its buffer, the slowest of them, and because a
    ``mean`` no longer materialises an expanded ``grad / N`` tensor in the backward. For a 0/1
    target the per-entry loss is ``softplus(z)`` where ``x = 0`` and ``softplus(-z)`` where
    ``x = 1``, i.e. ``softplus((1 - 2x) z)``: the sign flip is exact, so no entry loses precision
    to cancellation. Torch's kernel does lose it for confident negatives (``z - log_sigmoid(z)``
    at ``z = -16`` is 0 in float32, not 1.1e-7), so this value is the more exact of the two.
    """

    @staticmethod
    def forward(ctx, logits, target, pos_weight):
        per_entry = F.softplus(target.mul(-2).add_(1).mul_(logits), threshold=_SOFTPLUS_THRESHOLD)
        total = per_entry.sum()
        if pos_weight is not None:
            # alpha_j x_j softplus(-z) = softplus(-z) + (alpha_j - 1) x_j softplus(-z).
            total = total + torch.dot(target.mul(pos_weight - 1).flatten(), per_entry.flatten())
        ctx.save_for_backward(logits, target, pos_weight)
        # The backward writes sigmoid(z) into this spent buffer rather than a fresh one (a plain
        # attribute: saved tensors may not be overwritten). Reusing it is ~1.5% of a training step.
        ctx.buffer = per_entry
        return total

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        logits, target, pos_weight = ctx.saved_tensors
        probabilities = torch.sigmoid(logits, out=ctx.buffer)
        if pos_weight is None:
            grad_logits = probabilities.sub_(target)
        else:
            weighted_target = pos_weight.mul(target)
            grad_logits = weighted_target.add(1).sub_(target).mul_(probabilities).sub_(weighted_target)
        return grad_logits.mul_(grad), None, None


class _SummedBCEWithLogitsSparseTarget(torch.autograd.Function):
    """:class:`_SummedBCEWithLogits` for a target given by the positions of its 1s.

    With ``x`` sparse, the per-entry loss is ``softplus(z)`` everywhere except at the positives,
    where it is ``softplus(-z)``: one ``softplus`` pass and a gather / scatter over the ``nnz``
    positives, with no dense target built at all. The gradient is torch's, bit for bit:
    ``sigmoid(z) - x`` is ``sigmoid(z)`` where ``x = 0`` and ``sigmoid(z) - 1`` at the positives,
    and with ``pos_weight`` the positives get torch's ``((w + 1) - 1) sigmoid(z) - w``.
    """

    @staticmethod
    def forward(ctx, logits, positives, cols, pos_weight):
        # positives: flat (row-major) indices of the 1s; take/put_ on them are ~2x faster than
        # indexing with a (rows, cols) pair.
        per_entry = F.softplus(logits, threshold=_SOFTPLUS_THRESHOLD)
        at_positives = F.softplus(-torch.take(logits, positives), threshold=_SOFTPLUS_THRESHOLD)
        per_entry.put_(positives, at_positives)
        total = per_entry.sum()
        if pos_weight is not None:
            total = total + torch.dot(pos_weight.expand(logits.shape[1])[cols] - 1, at_positives)
        ctx.save_for_backward(logits, positives, cols, pos_weight)
        ctx.buffer = per_entry  # reused by the backward, as in _SummedBCEWithLogits
        return total

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        logits, positives, cols, pos_weight = ctx.saved_tensors
        grad_logits = torch.sigmoid(logits, out=ctx.buffer)
        at_positives = torch.take(grad_logits, positives)
        if pos_weight is None:
            grad_logits.put_(positives, at_positives - 1)
        else:
            weight = pos_weight.expand(logits.shape[1])[cols]
            grad_logits.put_(positives, weight.add(1).sub_(1).mul_(at_positives).sub_(weight))
        return grad_logits.mul_(grad), None, None, None


def _reduce_bce(logits, target, pos_weight, reduction: str) -> torch.Tensor:
    if target.layout == torch.sparse_csr:
        if reduction == "none":
            raise ValueError("A sparse target needs reduction='mean' or 'sum'; for per-entry values pass "
                             "a dense target (target.to_dense()).")
        cols = target.col_indices()
        rows = torch.repeat_interleave(torch.arange(target.shape[0], device=target.device),
                                       target.crow_indices().diff())
        total = _SummedBCEWithLogitsSparseTarget.apply(logits, rows * target.shape[1] + cols, cols, pos_weight)
    elif reduction == "none":
        return F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight, reduction="none")
    else:
        total = _SummedBCEWithLogits.apply(logits, target, pos_weight)
    return total / logits.numel() if reduction == "mean" else total


class BCELoss(ReconstructionLoss):
    """Binary cross-entropy on logits (Eq. 4, per entry); ``BCEWithLogitsLoss`` semantics.

    With ``reduction="mean"`` or ``"sum"`` the target may also be a torch sparse CSR tensor that
    stores the 1s (:attr:`accepts_sparse_target`).
    """

    accepts_sparse_target = True

    def unreduced(self, logits, target):
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none")

    def _reduced(self, logits, target):
        return _reduce_bce(logits, target, None, self.reduction)


class WeightedBCELoss(ReconstructionLoss):
    """Weighted BCE (Eq. 6): ``-(alpha_j x_j log x_hat_j + (1 - x_j) log(1 - x_hat_j))``.

    Identical to ``torch.nn.BCEWithLogitsLoss(pos_weight=alpha)``.

    With ``reduction="mean"`` or ``"sum"`` the target may also be a torch sparse CSR tensor that
    stores the 1s (:attr:`accepts_sparse_target`).

    Parameters
    ----------
    alpha : float or array-like of shape (n_features,)
        Weight of the positive term, per feature; compute it with :func:`positive_weights`.
    """

    accepts_sparse_target = True

    def __init__(self, alpha, reduction: str = "mean", check_target: bool = True):
        super().__init__(reduction, check_target)
        self.register_buffer("alpha", _as_weight_tensor(alpha, type(self).__name__))

    def unreduced(self, logits, target):
        return F.binary_cross_entropy_with_logits(logits, target, pos_weight=self.alpha.to(logits.dtype), reduction="none")

    def _reduced(self, logits, target):
        return _reduce_bce(logits, target, self.alpha.to(logits.dtype), self.reduction)

    def extra_repr(self):
        return f"alpha shape={tuple(self.alpha.shape)}, reduction={self.reduction!r}"
