"""Poisson likelihoods of counts: the plain NLL, and the weighted (Eq. 6) and focal (Eq. 7)
ideas carried to counts."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ._functional import _as_weight_tensor, _log1mexp_neg, _log_softplus
from .base import CountLoss

__all__ = ["FocalPoissonLoss", "PoissonLoss", "WeightedPoissonLoss"]


def _poisson_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mu - x log(mu) + lgamma(x + 1)`` with ``mu = softplus(z)``."""
    return F.softplus(logits) - target * _log_softplus(logits) + torch.lgamma(target + 1)


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
