"""Squared-error losses: MSE (Eq. 3) and weighted MSE (Eq. 5) of ``sigmoid(z)`` on 0/1 data, and
squared error of the mean ``softplus(z)`` on counts."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._functional import _as_weight_tensor
from .base import CountLoss, ReconstructionLoss

__all__ = ["CountMSELoss", "MSELoss", "WeightedMSELoss"]


class MSELoss(ReconstructionLoss):
    """Squared error between the target and ``sigmoid(logits)`` (Eq. 3, per entry)."""

    def unreduced(self, logits, target):
        return (torch.sigmoid(logits) - target) ** 2


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
