"""Reconstruction losses for autoencoders on sparse binary and count data (Section 3 of the paper).

Every loss is an :class:`torch.nn.Module` whose ``forward(logits, target)`` takes the network's
**logits** ``z`` and a binary target ``x`` of the same shape. The reconstruction probability is
``x_hat = sigmoid(z)``; it is never formed where a logarithm of it is needed, because
``log(sigmoid(z))`` computed as ``logsigmoid(z)`` stays finite for logits of any size, whereas
``log(sigmoid(100.))`` in float32 is ``log(1.0) = 0`` and ``log(1 - sigmoid(100.)) = -inf``.

``reduction`` follows PyTorch: ``"mean"`` averages the per-entry loss over all entries (the paper's
``1/d sum_j`` averaged over the batch), ``"sum"`` adds it up, ``"none"`` returns it unreduced. Dice and
the multinomial likelihood are defined per sample, not per entry; their ``"none"`` returns one value
per sample (see each class).

Build a loss by name with :func:`get_loss`; compute the per-feature positive weights of the weighted
losses with :func:`positive_weights` from the training split only.

BCE and weighted BCE also take the target as a torch sparse CSR tensor that stores the 1s
(``reduction`` ``"mean"`` or ``"sum"``; see :attr:`ReconstructionLoss.accepts_sparse_target`), and
reduce along a faster route than torch's per-entry kernel; both give torch's gradient bit for bit,
so a model trains to the same weights whichever route it takes. That holds on every CPU: the
backward is torch's own elementwise formula, operation for operation, on ``sigmoid`` of the same
tensor, and elementwise additions and multiplications are correctly rounded IEEE operations
wherever they run. Only the loss value is summed in another order, and agrees with torch's to
float32 rounding.

**Count losses** (:data:`COUNT_LOSSES`; the paper's "future work", and the forum user of
``001``) take the same unconstrained network outputs ``z`` and a target of non-negative integer
counts. Their mean is ``mu = softplus(z)``: it grows linearly rather than exponentially, so no
float32 output overflows, and the gradient of every count loss with respect to ``z`` stays
bounded by ``max(1, x)`` (with the canonical ``exp`` link it is ``mu - x``, unbounded). Where
``log(mu)`` is needed it is computed from ``z`` directly (``log(softplus(z)) ~ z`` for very
negative ``z``), so a mean that underflows to 0 still has a finite log-likelihood. Every count
likelihood is a full negative log-likelihood (``lgamma(x + 1)`` included), so its values are nats
per entry and agree with ``scipy.stats``; ``"count_mse"``, squared error on the counts, is the
non-likelihood baseline. For a count loss :meth:`ReconstructionLoss.mean` is the
expected count and :meth:`ReconstructionLoss.probabilities` is the probability that an entry is
non-zero, which lets the binary metrics score a count model.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from .validation import check_binary_matrix, check_count_matrix

__all__ = [
    "BINARY_LOSSES",
    "COUNT_LOSSES",
    "DEFAULT_BETA",
    "PER_FEATURE_PARAMETER_LOSSES",
    "WEIGHTED_LOSSES",
    "BCELoss",
    "CountLoss",
    "CountMSELoss",
    "FocalPoissonLoss",
    "NegativeBinomialLoss",
    "PoissonLoss",
    "WeightedPoissonLoss",
    "ZINBLoss",
    "DiceLoss",
    "FocalLoss",
    "MSELoss",
    "MultinomialLoss",
    "ReconstructionLoss",
    "WeightedBCELoss",
    "WeightedMSELoss",
    "expected_loss",
    "get_loss",
    "is_count_loss",
    "loss_names",
    "positive_weights",
]

_REDUCTIONS = ("mean", "sum", "none")

#: Default ``beta`` of ``alpha_j = beta + log(1/p_j)``. The paper requires only ``beta > 1``; see
#: :func:`positive_weights` for why we take 2.
DEFAULT_BETA = 2.0


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}.")
    return reduction


def _check_binary_target(logits: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if target.layout == torch.sparse_csr:
        _check_sparse_binary_target(logits, target, name)
        return
    if target.layout != torch.strided:
        raise ValueError(f"{name}: the target has layout {target.layout}; pass a dense tensor or a sparse CSR one.")
    if logits.shape != target.shape:
        raise ValueError(
            f"{name}: logits have shape {tuple(logits.shape)} but the target has shape "
            f"{tuple(target.shape)}; they must match entry for entry."
        )
    if not torch.is_floating_point(target):
        raise ValueError(
            f"{name}: the target has dtype {target.dtype}; pass a floating-point tensor of 0s and 1s "
            "(e.g. target.float())."
        )
    bad = ~((target == 0) | (target == 1))
    n_bad = int(bad.sum())
    if n_bad:
        first = tuple(int(i) for i in bad.nonzero()[0].tolist())
        raise ValueError(
            f"{name}: the target has {n_bad} entries that are not 0 or 1 (first at index {first}, "
            f"value {target[first].item()!r}); this loss needs binary targets. Binarise the data "
            "first, or use a count loss for counts."
        )


def _check_sparse_binary_target(logits: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if logits.ndim != 2 or tuple(logits.shape) != tuple(target.shape):
        raise ValueError(
            f"{name}: logits have shape {tuple(logits.shape)} but the sparse target has shape "
            f"{tuple(target.shape)}; they must match entry for entry."
        )
    if target.dtype != logits.dtype:
        raise ValueError(f"{name}: the sparse target has dtype {target.dtype} but the logits {logits.dtype}; "
                         "they must match.")
    # A stored entry is a positive: a stored 0 would be counted as a 1, so none may be stored.
    n_bad = int((target.values() != 1).sum())
    if n_bad:
        raise ValueError(
            f"{name}: the sparse target stores {n_bad} values other than 1; a sparse binary target "
            "stores only its 1s. Drop stored zeros (scipy: X.eliminate_zeros()) or binarise the data."
        )


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


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


def _as_weight_tensor(alpha, name: str) -> torch.Tensor:
    """Positive weights as a float32 tensor: a scalar or one value per feature."""
    if isinstance(alpha, torch.Tensor):
        weights = alpha.detach().to(torch.float32)
    else:
        weights = torch.as_tensor(np.asarray(alpha, dtype=np.float64), dtype=torch.float32)
    if weights.ndim > 1:
        raise ValueError(f"{name}: alpha must be a scalar or a 1-D vector of per-feature weights, got shape {tuple(weights.shape)}.")
    if not bool(torch.isfinite(weights).all()):
        raise ValueError(f"{name}: alpha contains NaN or infinite values; compute it with positive_weights(X_train).")
    if bool((weights <= 0).any()):
        raise ValueError(f"{name}: alpha must be strictly positive, got a minimum of {weights.min().item():.4g}.")
    return weights


class ReconstructionLoss(nn.Module):
    """Base class: validates inputs, computes the unreduced loss, reduces.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}
    check_target : bool, default=True
        Check on every call that the target is binary and shaped like the logits. The training
        loop validates the whole matrix once and switches this off, since checking each batch
        again costs a full pass over it.
    """

    #: What the target holds: ``"binary"`` (0/1) or ``"counts"`` (non-negative integers).
    target_kind = "binary"
    #: Whether ``forward`` also takes the target as a torch sparse CSR tensor of its 1s (with
    #: reduction ``"mean"`` or ``"sum"``), which spares the training loop densifying each batch.
    accepts_sparse_target = False

    def __init__(self, reduction: str = "mean", check_target: bool = True):
        super().__init__()
        self.reduction = _check_reduction(reduction)
        self.check_target = check_target

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.layout == torch.sparse_csr and not self.accepts_sparse_target:
            raise ValueError(f"{type(self).__name__} needs a dense target; pass target.to_dense().")
        if self.check_target:
            _check_binary_target(logits, target, type(self).__name__)
        return self._reduced(logits, target)

    def _reduced(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss under ``self.reduction``; a subclass may override it with a faster route to
        the same value."""
        return _reduce(self.unreduced(logits, target), self.reduction)

    def unreduced(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Reconstruction probabilities from logits (the inverse link of this loss)."""
        return torch.sigmoid(logits)

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        """Expected value of an entry given the network's outputs.

        For a binary loss the mean of a 0/1 entry is its probability, so this equals
        :meth:`probabilities`; count losses return expected counts.
        """
        return self.probabilities(logits)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(ReconstructionLoss):
    """Squared error between the target and ``sigmoid(logits)`` (Eq. 3, per entry)."""

    def unreduced(self, logits, target):
        return (torch.sigmoid(logits) - target) ** 2


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


class WeightedMSELoss(ReconstructionLoss):
    """Weighted MSE (Eq. 5): ``alpha_j x_j (1 - x_hat_j)^2 + (1 - x_j) x_hat_j^2``.

    Equivalently ``w_ij (x_ij - x_hat_ij)^2`` with ``w_ij = 1 + (alpha_j - 1) x_ij``.

    Eq. 5 as printed omits ``x_j`` from the positive term: ``alpha (1 - x_hat_j)^2 + (1 - x_j)
    x_hat_j^2``. Then every zero entry also pays ``alpha (1 - x_hat_j)^2`` and the minimiser of a
    zero entry is ``x_hat = alpha / (1 + alpha) > 0.5``: the loss pushes every output towards 1.
    ``as_printed=True`` gives that form, so the erratum's effect can be shown; it is not a loss to
    train with.

    Parameters
    ----------
    alpha : float or array-like of shape (n_features,)
        Weight of the positive term, per feature; compute it with :func:`positive_weights`.
    as_printed : bool, default=False
        Use Eq. 5 exactly as printed in the paper (without ``x_j`` in the positive term).
    """

    def __init__(self, alpha, reduction: str = "mean", as_printed: bool = False, check_target: bool = True):
        super().__init__(reduction, check_target)
        self.register_buffer("alpha", _as_weight_tensor(alpha, type(self).__name__))
        self.as_printed = bool(as_printed)

    def unreduced(self, logits, target):
        x_hat = torch.sigmoid(logits)
        positive = target if not self.as_printed else torch.ones_like(target)
        return self.alpha.to(logits.dtype) * positive * (1 - x_hat) ** 2 + (1 - target) * x_hat**2

    def extra_repr(self):
        return f"alpha shape={tuple(self.alpha.shape)}, as_printed={self.as_printed}, reduction={self.reduction!r}"


class FocalLoss(ReconstructionLoss):
    """Focal loss (Eq. 7; Lin et al. 2017), torchvision's ``sigmoid_focal_loss`` convention.

    ``FL = a_t (1 - p_t)^gamma BCE(z, x)`` with ``p_t = x_hat`` where ``x = 1`` and ``1 - x_hat``
    where ``x = 0``, and ``a_t = alpha`` for positives, ``1 - alpha`` for negatives.

    ``(1 - p_t)^gamma`` is computed as ``exp(gamma * logsigmoid(-z_t))`` with ``z_t = z`` for
    positives and ``-z`` for negatives. It is the same number, but its gradient stays finite for
    ``gamma < 1`` when ``p_t`` rounds to 1, where the plain power's derivative is infinite.

    Parameters
    ----------
    alpha : float in [0, 1], default=0.75
        Weight of positives (Appendix B; torchvision's default is 0.25). A negative ``alpha``
        disables the class weighting, as in torchvision.
    gamma : float >= 0, default=2
        Focusing parameter (Appendix B).
    """

    def __init__(self, alpha: float = 0.75, gamma: float = 2.0, reduction: str = "mean", check_target: bool = True):
        super().__init__(reduction, check_target)
        if alpha > 1:
            raise ValueError(f"FocalLoss: alpha must be in [0, 1] (or negative to disable weighting), got {alpha}.")
        if gamma < 0:
            raise ValueError(f"FocalLoss: gamma must be >= 0, got {gamma}.")
        self.alpha = float(alpha)
        self.gamma = float(gamma)

    def unreduced(self, logits, target):
        ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        signed_logits = logits * (2 * target - 1)
        loss = torch.exp(self.gamma * F.logsigmoid(-signed_logits)) * ce
        if self.alpha >= 0:
            loss = (self.alpha * target + (1 - self.alpha) * (1 - target)) * loss
        return loss

    def extra_repr(self):
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}"


class DiceLoss(ReconstructionLoss):
    """Soft Dice loss (Eq. 8; Sudre et al. 2017).

    ``1 - (2 sum_j x_j x_hat_j + eps) / (sum_j x_j + sum_j x_hat_j + eps)``.

    Parameters
    ----------
    eps : float, default=1e-5
        Smoothing in numerator and denominator, MONAI's ``DiceLoss`` default. The paper names an
        ``eps`` without a value. With a small ``eps`` a sample whose target row is all zeros has a
        loss near 1 unless its reconstruction sums to ~0, so such rows push every output to 0.
    batch : bool, default=False
        ``False``: one Dice score per sample (Eq. 8 as printed; MONAI's default), and
        ``reduction`` acts over samples, ``"none"`` returning shape ``(n_samples,)``.
        ``True``: the sums run over the whole batch (segmentation_models_pytorch's convention),
        giving one value; ``reduction`` then has nothing to reduce and ``"none"`` returns a
        0-d tensor.
    """

    def __init__(self, eps: float = 1e-5, batch: bool = False, reduction: str = "mean", check_target: bool = True):
        super().__init__(reduction, check_target)
        if eps < 0:
            raise ValueError(f"DiceLoss: eps must be >= 0, got {eps}.")
        self.eps = float(eps)
        self.batch = bool(batch)

    def unreduced(self, logits, target):
        x_hat = torch.sigmoid(logits)
        dims = tuple(range(logits.ndim)) if self.batch else tuple(range(1, logits.ndim))
        overlap = (target * x_hat).sum(dim=dims)
        total = target.sum(dim=dims) + x_hat.sum(dim=dims)
        return 1 - (2 * overlap + self.eps) / (total + self.eps)

    def extra_repr(self):
        return f"eps={self.eps}, batch={self.batch}, reduction={self.reduction!r}"


class MultinomialLoss(ReconstructionLoss):
    """Multinomial likelihood of Mult-DAE/Mult-VAE (Liang et al. 2018): ``-sum_j x_j log softmax(z)_j``.

    Defined per sample (a sum over features), as in Liang et al.; ``"mean"`` averages over
    samples and ``"none"`` returns shape ``(n_samples,)``. Its inverse link is the softmax over
    features, so :meth:`probabilities` returns a distribution over features per row (summing to
    1), not per-entry probabilities: thresholding it at 0.5 is not meaningful.
    """

    def unreduced(self, logits, target):
        if logits.ndim < 2:
            raise ValueError("MultinomialLoss: logits must have shape (n_samples, n_features).")
        return -(target * F.log_softmax(logits, dim=-1)).sum(dim=-1)

    def probabilities(self, logits):
        return torch.softmax(logits, dim=-1)


# --------------------------------------------------------------------------------------------
# Count losses
# --------------------------------------------------------------------------------------------

# Below this output, softplus(z) = log1p(exp(z)) equals exp(z) to float64 precision (the next term
# of the series is exp(2z)/2, relative size 1e-16 at z = -37), so log(softplus(z)) is z itself.
_LOG_SOFTPLUS_LINEAR_BELOW = -37.0

# Below this mean, log(1 - exp(-mu)) = log(mu) - mu/2 + O(mu^2) to float64 precision, and
# expm1 would be asked for the log of a number that float32 cannot resolve.
_LOG1MEXP_SERIES_BELOW = 1e-6


def _log_softplus(z: torch.Tensor) -> torch.Tensor:
    """``log(softplus(z))``, finite with a finite gradient for every finite ``z``."""
    linear = z < _LOG_SOFTPLUS_LINEAR_BELOW
    # The branch not taken is evaluated at a harmless point: torch.where passes a zero gradient
    # to it, and 0 * inf from a log(0) there would still make the gradient NaN.
    safe = torch.where(linear, torch.zeros_like(z), z)
    return torch.where(linear, z, torch.log(F.softplus(safe)))


def _log1mexp_neg(mu: torch.Tensor, log_mu: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(-mu))`` for ``mu >= 0``, from ``mu`` and a stable ``log(mu)``."""
    small = mu < _LOG1MEXP_SERIES_BELOW
    safe = torch.where(small, torch.ones_like(mu), mu)
    return torch.where(small, log_mu - mu / 2, torch.log(-torch.expm1(-safe)))


def _check_count_target(logits: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if logits.shape != target.shape:
        raise ValueError(
            f"{name}: outputs have shape {tuple(logits.shape)} but the target has shape "
            f"{tuple(target.shape)}; they must match entry for entry."
        )
    if not torch.is_floating_point(target):
        raise ValueError(
            f"{name}: the target has dtype {target.dtype}; pass a floating-point tensor of counts "
            "(e.g. target.float())."
        )
    bad = ~(torch.isfinite(target) & (target >= 0) & (target == torch.round(target)))
    n_bad = int(bad.sum())
    if n_bad:
        first = tuple(int(i) for i in bad.nonzero()[0].tolist())
        raise ValueError(
            f"{name}: the target has {n_bad} entries that are not non-negative integers (first at "
            f"index {first}, value {target[first].item()!r}); this loss needs counts."
        )


class CountLoss(ReconstructionLoss):
    """Base class of the count losses: the target holds non-negative integer counts.

    The mean of an entry is ``mu = softplus(z)`` (see the module docstring for why not ``exp``).
    Subclasses implement :meth:`unreduced` (the negative log-likelihood per entry) and, where the
    distribution is not parameterised by ``mu`` alone, :meth:`mean` and :meth:`log_prob_zero`.
    """

    target_kind = "counts"

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.layout != torch.strided:
            raise ValueError(f"{type(self).__name__} needs a dense target; pass target.to_dense().")
        if self.check_target:
            _check_count_target(logits, target, type(self).__name__)
        return _reduce(self.unreduced(logits, target), self.reduction)

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        """Expected count of each entry, ``softplus(z)``."""
        return F.softplus(logits)

    def log_prob_zero(self, logits: torch.Tensor) -> torch.Tensor:
        """``log P(x = 0)`` of each entry; Poisson: ``-mu``."""
        return -F.softplus(logits)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Probability that each entry is non-zero, ``1 - P(x = 0)``.

        Not a reconstruction of the counts (use :meth:`mean`), but the natural input of the
        binary metrics (average precision, thresholded contingency) for a count model.
        """
        # log P(0) <= 0 exactly, but ZINB's difference of two softplus terms rounds to a few ulp
        # above 0 where P(0) is 1 to float precision; those would be "probabilities" of -1e-8.
        return -torch.expm1(torch.clamp(self.log_prob_zero(logits), max=0.0))


def _poisson_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mu - x log(mu) + lgamma(x + 1)`` with ``mu = softplus(z)``."""
    return F.softplus(logits) - target * _log_softplus(logits) + torch.lgamma(target + 1)


class CountMSELoss(CountLoss):
    """Squared error on the counts: ``(mu - x)^2`` with ``mu = softplus(z)``.

    The baseline of the forum user in ``001``, who trained with MSE on count vectors through a
    ReLU output. The binary ``"mse"`` cannot play that part: it squares the error of
    ``sigmoid(z)``, which never exceeds 1, and rejects counts. Here the output is the same
    ``softplus`` mean as every other count loss (a smooth ReLU), so a comparison with the count
    likelihoods changes the loss and nothing else. Each entry's term is minimal at ``mu = x``.

    Squared error is not a likelihood of counts and gives no probability of a zero. Its
    :meth:`probabilities` are the Poisson ones at the same mean, ``1 - exp(-mu)``: an increasing
    function of ``mu``, so the rank-based average precision scores the ranking of the means; the
    value itself carries no claim about the distribution of the counts.
    """

    def unreduced(self, logits, target):
        return (F.softplus(logits) - target) ** 2


class PoissonLoss(CountLoss):
    """Poisson negative log-likelihood: ``mu - x log(mu) + log(x!)``, ``mu = softplus(z)``.

    Minimal at ``mu = x`` for every entry (at ``mu -> 0`` for a zero, where it tends to 0).
    Same value as ``-scipy.stats.poisson.logpmf(x, mu)``; ``torch.nn.PoissonNLLLoss`` with
    ``log_input=False`` differs by the constant ``log(x!)`` (it adds ``eps`` to ``mu`` instead
    of computing ``log(mu)`` from ``z``).
    """

    def unreduced(self, logits, target):
        return _poisson_nll(logits, target)


class WeightedPoissonLoss(CountLoss):
    """Poisson NLL with the non-zero entries weighted: the WBCE idea (Eq. 6) carried to counts.

    ``w_ij * PoissonNLL(x_ij, mu_ij)`` with ``w_ij = alpha_j`` where ``x_ij > 0`` and 1 where
    ``x_ij = 0``. Each entry's term is still minimal at ``mu = x``, so the weighting changes
    which errors the network spends its capacity on, not where the optimum of an entry lies.

    Parameters
    ----------
    alpha : float or array-like of shape (n_features,)
        Weight of the non-zero entries, per feature; compute it with
        ``positive_weights(X_train, counts=True)`` (the binary rule applied to ``x > 0``).
    """

    def __init__(self, alpha, reduction: str = "mean", check_target: bool = True):
        super().__init__(reduction, check_target)
        self.register_buffer("alpha", _as_weight_tensor(alpha, type(self).__name__))

    def unreduced(self, logits, target):
        weight = torch.where(target > 0, self.alpha.to(logits.dtype), torch.ones_like(target))
        return weight * _poisson_nll(logits, target)

    def extra_repr(self):
        return f"alpha shape={tuple(self.alpha.shape)}, reduction={self.reduction!r}"


class FocalPoissonLoss(CountLoss):
    """Poisson NLL with the easy zeros down-weighted: the focal idea (Eq. 7) carried to counts.

    For a zero target the Poisson NLL is ``mu = -log P(x = 0)``; the focal factor of Lin et al.
    (2017), ``(1 - p_t)^gamma`` with ``p_t = P(x = 0) = exp(-mu)``, scales it down where the model
    already predicts the zero confidently::

        l = (1 - exp(-mu))^gamma * mu              if x = 0
        l = mu - x log(mu) + log(x!)               if x > 0

    Non-zero entries keep the plain Poisson NLL: their ``p_t = P(x)`` is small for any count
    above a few, so the focal factor would hardly change them, and leaving them alone keeps the
    minimum of each entry at ``mu = x``. ``gamma = 0`` is :class:`PoissonLoss`. The zero term is
    computed as ``exp(gamma log(1 - exp(-mu)) + log(mu))``, which keeps its gradient finite when
    ``mu`` underflows to 0, also for ``gamma < 1``.

    Parameters
    ----------
    gamma : float >= 0, default=2
        Focusing parameter (the paper's focal loss uses 2).
    """

    def __init__(self, gamma: float = 2.0, reduction: str = "mean", check_target: bool = True):
        super().__init__(reduction, check_target)
        if not np.isfinite(gamma) or gamma < 0:
            raise ValueError(f"FocalPoissonLoss: gamma must be a finite number >= 0, got {gamma}.")
        self.gamma = float(gamma)

    def unreduced(self, logits, target):
        mu = F.softplus(logits)
        log_mu = _log_softplus(logits)
        zero_term = torch.exp(self.gamma * _log1mexp_neg(mu, log_mu) + log_mu)
        positive_term = mu - target * log_mu + torch.lgamma(target + 1)
        return torch.where(target > 0, positive_term, zero_term)

    def extra_repr(self):
        return f"gamma={self.gamma}, reduction={self.reduction!r}"


def _feature_parameter(value: float, n_features: int | None, name: str) -> nn.Parameter:
    if n_features is None:
        return nn.Parameter(torch.tensor(value, dtype=torch.float32))
    if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) or n_features < 1:
        raise ValueError(f"{name}: n_features must be a positive integer or None (one shared value), got {n_features!r}.")
    return nn.Parameter(torch.full((int(n_features),), value, dtype=torch.float32))


def _lgamma_ratio(target: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """``lgamma(x + theta) - lgamma(theta)``, in float64 where the device has it.

    Both terms grow like ``theta log(theta)``: at ``theta = 1e6`` they are ~1.3e7, where float32
    resolves steps of 1, while their difference is ``x log(theta)`` plus a little. float64 keeps
    ~9 more digits; Apple's MPS has no float64 and keeps float32's.
    """
    if target.device.type == "mps":
        return torch.lgamma(target + theta) - torch.lgamma(theta)
    theta64 = theta.to(torch.float64)
    return (torch.lgamma(target.to(torch.float64) + theta64) - torch.lgamma(theta64)).to(target.dtype)


def _nb_log_terms(logits, target, log_theta):
    """``log NB(0; mu, theta)`` and ``log NB(x; mu, theta)``, shared by NB and ZINB.

    ``log(theta / (theta + mu)) = -softplus(log(mu) - log(theta))`` and
    ``log(mu / (theta + mu)) = -softplus(log(theta) - log(mu))``: written this way neither is
    the difference of two nearly equal logarithms when ``theta`` is much larger than ``mu`` (or
    the reverse), and ``log(mu)`` comes from the outputs directly, so a mean that underflows
    to 0 still has a finite likelihood.
    """
    log_theta = log_theta.to(logits.dtype)
    theta = torch.exp(log_theta)
    log_mu = _log_softplus(logits)
    log_p0 = -theta * F.softplus(log_mu - log_theta)
    log_nb = (
        log_p0
        - target * F.softplus(log_theta - log_mu)
        + _lgamma_ratio(target, theta)
        - torch.lgamma(target + 1)
    )
    return log_p0, log_nb


class NegativeBinomialLoss(CountLoss):
    """Negative binomial NLL, mean ``mu = softplus(z)`` and inverse dispersion ``theta``.

    ``P(x) = Gamma(x + theta) / (Gamma(theta) x!) (theta / (theta + mu))^theta (mu / (theta + mu))^x``,
    variance ``mu + mu^2 / theta`` (scVI's ``log_nb_positive`` parameterisation; in scipy's
    ``nbinom(n, p)``, ``n = theta`` and ``p = theta / (theta + mu)``). ``theta -> infinity`` is
    the Poisson distribution.

    ``theta`` belongs to the loss: it is stored as the learnable parameter ``log_theta``, one per
    feature (scVI's ``dispersion="gene"``) or one shared by all features, and is trained with the
    network's weights (the training loop hands the loss's parameters to the optimiser, and the
    estimator saves and loads them). One dispersion per feature rather than per entry keeps the
    decoder's output ``d``-dimensional, like every other loss's, so that the embeddings of
    different losses come from the same architecture.

    Parameters
    ----------
    n_features : int or None, default=None
        Number of features for a per-feature ``theta``; None for a single shared ``theta``.
    theta_init : float > 0, default=1.0
        Initial inverse dispersion (variance ``mu + mu^2``: a moderately over-dispersed start).
    """

    def __init__(self, n_features: int | None = None, theta_init: float = 1.0, reduction: str = "mean",
                 check_target: bool = True):
        super().__init__(reduction, check_target)
        if not np.isfinite(theta_init) or theta_init <= 0:
            raise ValueError(f"{type(self).__name__}: theta_init must be a finite number > 0, got {theta_init}.")
        self.n_features = None if n_features is None else int(n_features)
        self.log_theta = _feature_parameter(math.log(theta_init), n_features, type(self).__name__)

    @property
    def theta(self) -> torch.Tensor:
        """The inverse dispersion, ``exp(log_theta)``."""
        return torch.exp(self.log_theta)

    def unreduced(self, logits, target):
        return -_nb_log_terms(logits, target, self.log_theta)[1]

    def log_prob_zero(self, logits):
        return _nb_log_terms(logits, torch.zeros_like(logits), self.log_theta)[0]

    def extra_repr(self):
        return f"n_features={self.n_features}, reduction={self.reduction!r}"


class ZINBLoss(NegativeBinomialLoss):
    """Zero-inflated negative binomial NLL (scVI's ``log_zinb_positive``; DCA).

    With dropout probability ``pi = sigmoid(l)`` (``l`` the dropout logit)::

        P(0) = pi + (1 - pi) NB(0),   P(x > 0) = (1 - pi) NB(x)

    computed as in scVI, in log space from the logit: ``log P(0) = softplus(-l + log NB(0)) -
    softplus(-l)`` and ``log P(x) = -softplus(l) + log NB(x)``, so neither ``pi`` nor ``NB(0)``
    is ever formed and both cases stay finite for any outputs. The mean is ``(1 - pi) mu``.

    The dropout logit is a learnable parameter of the loss, per feature or shared, like
    ``theta``; DCA predicts it per entry from an extra decoder head instead. Per entry, a zero
    can be explained by the dropout or by a small ``mu`` alike, and the extra head would make
    this loss's decoder twice as wide as every other loss's; a per-feature rate keeps the
    architecture common to all losses.

    Parameters
    ----------
    n_features : int or None, default=None
    theta_init : float > 0, default=1.0
    dropout_init : float in (0, 1), default=0.1
        Initial ``pi``: a small inflation, so training starts near the plain NB and raises it
        only where the data have more zeros than the NB explains.
    """

    def __init__(self, n_features: int | None = None, theta_init: float = 1.0, dropout_init: float = 0.1,
                 reduction: str = "mean", check_target: bool = True):
        super().__init__(n_features, theta_init, reduction, check_target)
        if not 0 < dropout_init < 1:
            raise ValueError(f"ZINBLoss: dropout_init must be in (0, 1), got {dropout_init}.")
        self.dropout_logit = _feature_parameter(math.log(dropout_init / (1 - dropout_init)), n_features, "ZINBLoss")

    @property
    def dropout(self) -> torch.Tensor:
        """The zero-inflation probability ``pi = sigmoid(dropout_logit)``."""
        return torch.sigmoid(self.dropout_logit)

    def _log_probs(self, logits, target):
        dropout_logit = self.dropout_logit.to(logits.dtype)
        log_p0, log_nb = _nb_log_terms(logits, target, self.log_theta)
        log_zero = F.softplus(-dropout_logit + log_p0) - F.softplus(-dropout_logit)
        log_positive = -F.softplus(dropout_logit) + log_nb
        return log_zero, log_positive

    def unreduced(self, logits, target):
        log_zero, log_positive = self._log_probs(logits, target)
        return -torch.where(target > 0, log_positive, log_zero)

    def log_prob_zero(self, logits):
        return self._log_probs(logits, torch.zeros_like(logits))[0]

    def mean(self, logits):
        """Expected count ``(1 - pi) mu``."""
        return torch.sigmoid(-self.dropout_logit.to(logits.dtype)) * F.softplus(logits)


_LOSSES: dict[str, Callable[..., ReconstructionLoss]] = {
    "mse": MSELoss,
    "bce": BCELoss,
    "wmse": WeightedMSELoss,
    "wbce": WeightedBCELoss,
    "focal": FocalLoss,
    "dice": DiceLoss,
    "multinomial": MultinomialLoss,
    "poisson": PoissonLoss,
    "nb": NegativeBinomialLoss,
    "zinb": ZINBLoss,
    "wpoisson": WeightedPoissonLoss,
    "focal_poisson": FocalPoissonLoss,
    "count_mse": CountMSELoss,
}

#: Losses that need per-feature positive weights ``alpha``.
WEIGHTED_LOSSES = ("wmse", "wbce", "wpoisson")

#: Losses of 0/1 data: the paper's six and the multinomial peer.
BINARY_LOSSES = ("mse", "bce", "wmse", "wbce", "focal", "dice", "multinomial")

#: Losses of non-negative integer counts: the five likelihoods, then squared error on the counts
#: (the baseline of source ``001``).
COUNT_LOSSES = ("poisson", "nb", "zinb", "wpoisson", "focal_poisson", "count_mse")

#: Count losses that own per-feature parameters and need ``n_features`` to have one per feature.
PER_FEATURE_PARAMETER_LOSSES = ("nb", "zinb")


def loss_names() -> tuple[str, ...]:
    """Names accepted by :func:`get_loss`: the binary losses in the paper's order plus the
    multinomial peer (:data:`BINARY_LOSSES`), then the count losses (:data:`COUNT_LOSSES`)."""
    return tuple(_LOSSES)


def is_count_loss(loss) -> bool:
    """Whether ``loss`` (a name or a loss module) takes count targets rather than 0/1 targets."""
    if isinstance(loss, ReconstructionLoss):
        return loss.target_kind == "counts"
    key = str(loss).lower()
    if key not in _LOSSES:
        raise ValueError(f"Unknown loss {loss!r}; choose one of {', '.join(_LOSSES)}.")
    return key in COUNT_LOSSES


def get_loss(name: str, **params) -> ReconstructionLoss:
    """Build a reconstruction loss by name.

    Parameters
    ----------
    name : {"mse", "bce", "wmse", "wbce", "focal", "dice", "multinomial", "poisson", "nb", "zinb", \
"wpoisson", "focal_poisson", "count_mse"}
    **params
        Keyword arguments of the loss class, e.g. ``alpha=positive_weights(X_train)`` for
        ``"wbce"``/``"wmse"`` (``positive_weights(X_train, counts=True)`` for ``"wpoisson"``),
        ``gamma=2`` for ``"focal"``, ``n_features=d`` for a per-feature dispersion of
        ``"nb"``/``"zinb"``, ``reduction="sum"``.

    Examples
    --------
    >>> import numpy as np
    >>> X_train = np.array([[1, 0, 0], [0, 0, 1], [1, 0, 0]])
    >>> loss = get_loss("wbce", alpha=positive_weights(X_train))

    Count losses, for non-negative integer targets:

    >>> counts = np.array([[3, 0, 0], [0, 0, 1], [2, 0, 0]])
    >>> zinb = get_loss("zinb", n_features=3)  # a dispersion and a dropout logit per feature
    >>> wpoisson = get_loss("wpoisson", alpha=positive_weights(counts, counts=True))
    """
    key = str(name).lower()
    if key not in _LOSSES:
        raise ValueError(f"Unknown loss {name!r}; choose one of {', '.join(_LOSSES)}.")
    if key in WEIGHTED_LOSSES and "alpha" not in params:
        raise ValueError(
            f"Loss {key!r} needs per-feature positive weights: get_loss({key!r}, "
            f"alpha=positive_weights(X_train{', counts=True' if key in COUNT_LOSSES else ''})), "
            "computed from the training split only."
        )
    try:
        return _LOSSES[key](**params)
    except TypeError as err:
        raise ValueError(f"Bad parameters for loss {key!r}: {err}") from None


def positive_weights(X_train, beta: float = DEFAULT_BETA, *, counts: bool = False) -> np.ndarray:
    """Per-feature positive weights ``alpha_j = beta + log(1 / p_j)`` of the weighted losses.

    ``p_j`` is estimated from the training split with add-one (Laplace) smoothing,
    ``p_j = (n_j + 1) / (n + 2)``, where ``n_j`` counts the positives of feature ``j`` among ``n``
    training samples. Unsmoothed, a feature never seen in training has ``p_j = 0`` and an
    infinite weight (a defect of the paper's definition); smoothed, its weight is
    ``beta + log(n + 2)``, the largest of any feature but finite.

    Parameters
    ----------
    X_train : array-like or scipy sparse matrix of shape (n_samples, n_features)
        Binary training data. Never pass validation or test data: the weights are part of the
        model.
    beta : float, default=2.0
        Floor of the weight. The paper requires ``beta > 1`` and gives no value. Any ``beta > 1``
        makes every positive weigh more than a negative, whatever its frequency; we take 2, the
        smallest integer that satisfies the constraint, so that the feature's rarity
        (``log(1/p_j)``: 3.5 at ``p_j = 0.03``, 6.9 at ``p_j = 0.001``) dominates the weight.
    counts : bool, default=False
        ``X_train`` holds non-negative integer counts (for ``"wpoisson"``); ``n_j`` then counts
        the non-zero entries of feature ``j``, the binary rule applied to ``x > 0``.

    Returns
    -------
    alpha : ndarray of shape (n_features,), float64
    """
    if not np.isfinite(beta) or beta <= 1:
        raise ValueError(f"beta must be a finite number > 1 (the paper's constraint), got {beta}.")
    if counts:
        X = check_count_matrix(X_train, "X_train")
        positives = np.bincount(X.indices, minlength=X.shape[1]).astype(np.float64)
    else:
        X = check_binary_matrix(X_train, "X_train")
        positives = np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
    rates = (positives + 1.0) / (X.shape[0] + 2.0)
    return beta + np.log(1.0 / rates)


def expected_loss(
    name: str,
    target_sparsity: float,
    recon_sparsity,
    *,
    low: float = 0.01,
    high: float = 0.99,
    beta: float = DEFAULT_BETA,
    **loss_params,
) -> np.ndarray:
    """Expected loss against a sparse target of a reconstruction of given sparsity (Figure 1).

    The paper's Figure 1 scores a random reconstruction against a target of sparsity
    ``s(x) = 0.999`` as the reconstruction's sparsity ``s(x_hat)`` grows. We make that
    reconstruction precise: entries are independent of the target (the reconstruction knows
    nothing about where the positives are), each ``high`` with probability ``1 - s(x_hat)`` and
    ``low`` otherwise (``low``/``high`` keep the logarithms finite). The target's entries are 1
    with probability ``p = 1 - s(x)``. For an entry-wise loss ``l`` the expected per-entry loss is
    then exact::

        E = p [q l(1, high) + (1-q) l(1, low)] + (1-p) [q l(0, high) + (1-q) l(0, low)],
        q = 1 - s(x_hat)

    with ``l`` evaluated by the loss module itself. The weighted losses use the single-feature
    weight ``alpha = beta + log(1/p)``. Dice is not entry-wise; for it we return the limit of
    Eq. 8 as ``d -> infinity`` (sums replaced by their expectations, ``eps`` negligible):
    ``1 - 2 p m1 / (p + m)`` with ``m = q high + (1-q) low`` and ``m1 = m`` (independence).

    Parameters
    ----------
    name : {"mse", "bce", "wmse", "wbce", "focal", "dice"}
    target_sparsity : float in (0, 1)
    recon_sparsity : float or array-like of floats in [0, 1]
    low, high : float
        The two reconstruction values, ``0 < low < high < 1``.
    beta : float
        ``beta`` of the weighted losses.
    **loss_params
        Passed to the loss (e.g. ``gamma`` for focal, ``as_printed=True`` for WMSE).

    Returns
    -------
    ndarray of the same shape as ``recon_sparsity``
    """
    key = str(name).lower()
    if not 0 < target_sparsity < 1:
        raise ValueError(f"target_sparsity must be in (0, 1), got {target_sparsity}.")
    if not 0 < low < high < 1:
        raise ValueError(f"Need 0 < low < high < 1, got low={low}, high={high}.")
    s_hat = np.asarray(recon_sparsity, dtype=np.float64)
    if np.any((s_hat < 0) | (s_hat > 1)) or not np.all(np.isfinite(s_hat)):
        raise ValueError("recon_sparsity must lie in [0, 1].")
    p = 1.0 - target_sparsity
    q = 1.0 - s_hat
    if key == "dice":
        m = q * high + (1 - q) * low
        return 1.0 - 2.0 * p * m / (p + m)
    if key == "multinomial":
        raise ValueError("expected_loss: the multinomial likelihood is not entry-wise; it has no per-entry expectation.")
    if key in COUNT_LOSSES:
        raise ValueError(f"expected_loss: {key!r} is a count loss; Figure 1's expectation is over 0/1 targets and "
                         f"reconstruction probabilities, so it covers only {', '.join(BINARY_LOSSES[:-1])}.")
    if key in WEIGHTED_LOSSES:
        loss_params.setdefault("alpha", beta + math.log(1.0 / p))
    loss = get_loss(key, reduction="none", **loss_params)
    values = torch.tensor([low, high], dtype=torch.float64)
    logits = torch.log(values) - torch.log1p(-values)
    with torch.no_grad():
        on_pos = loss(logits, torch.ones(2, dtype=torch.float64)).numpy()
        on_neg = loss(logits, torch.zeros(2, dtype=torch.float64)).numpy()
    l1_low, l1_high = on_pos
    l0_low, l0_high = on_neg
    return p * (q * l1_high + (1 - q) * l1_low) + (1 - p) * (q * l0_high + (1 - q) * l0_low)
