"""Negative binomial and zero-inflated negative binomial likelihoods of counts (scVI's
parameterisation), with the dispersion and the dropout rate as learnable parameters of the loss."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._functional import _log_softplus
from .base import CountLoss

__all__ = ["NegativeBinomialLoss", "ZINBLoss"]


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
