"""The focal loss of 0/1 data (Eq. 7; Lin et al. 2017)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import ReconstructionLoss

__all__ = ["FocalLoss"]


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
