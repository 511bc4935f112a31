"""The multinomial likelihood of Mult-DAE/Mult-VAE (Liang et al. 2018), per sample."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import ReconstructionLoss

__all__ = ["MultinomialLoss"]


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
