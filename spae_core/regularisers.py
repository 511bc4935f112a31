"""The One-vs-Rest (OVR) regulariser of the bottleneck code (source ``003``: Konda & Bakaraju).

The post defines the OVR loss on ``H``, the matrix whose rows are the hidden representations of a
randomly drawn mini-batch, as a measure of how much the representations of different samples
overlap, adds a second term "encouraging non-zero activations" because all-zero codes minimise
the overlap trivially, and weights the regulariser by a hyper-parameter ``lambda``. Its equations
did not survive extraction; what survives is the update rule in words: it pushes unit ``k``'s
weights away from the mean of the *other* samples of the batch weighted by their activation
``h_kj``. That is the gradient of a sum of products of one sample's activations with the other
samples' activations, which fixes the form of the overlap up to normalisation. **Our reading**,
for a batch of ``B >= 2`` non-negative codes ``h_1, ..., h_B`` of ``k`` units (rows of ``H``)::

    OVR(H) = 1 / (B (B - 1) k) * sum_{i != j} sum_u h_iu h_ju
           = (||H^T 1||^2 - ||H||_F^2) / (B (B - 1) k)

    A(H)   = 1 / B * sum_i max(0, 1 - ||h_i||^2 / k)^2

    penalty(H) = lambda * (OVR(H) + mu * A(H))

* ``OVR`` is the mean, over ordered pairs of distinct samples and over units, of the product of
  their activations: the normalised overlap. For non-negative codes it is 0 exactly when no unit
  is active for two samples of the batch (disjoint supports), and its gradient with respect to
  ``h_iu`` is ``sum_{j != i} h_ju / (B (B - 1) k)``, the post's "rest of the batch". The column-
  sum identity gives it in ``O(B k)`` rather than over all ``B^2`` pairs; we evaluate it as
  ``2 sum_i h_i . (h_1 + ... + h_{i-1})`` (a running column sum), which is also ``O(B k)`` and,
  being a sum of non-negative terms, cannot round below 0 as the difference of norms can.
* ``A`` is the anti-collapse activity term: it is 0 while every code keeps a mean squared
  activation ``||h_i||^2 / k`` of at least 1 and grows quadratically to 1 as a code collapses
  to zero. Because ``OVR`` is quadratic in the codes, shrinking all of them would otherwise
  lower it for free; with the energy of each code held up by ``A``, the only way to lower
  ``OVR`` is for different samples to use different units, i.e. sparse codes.
* ``lambda`` (``ovr_lambda``) weighs the regulariser against the reconstruction loss; ``mu``
  (``ovr_activity``, default 1) weighs the activity term against the overlap. The post reports
  ``lambda`` between 1e-5 and 5e-4 for its un-normalised sum over a batch of 128 with 8192
  units; if that sum was the plain sum over pairs and units, our mean corresponds to a ``lambda``
  ``B (B - 1) k`` times larger.

In :func:`spae_core.train.train` the penalty is applied to the 50-d bottleneck code (after its
BatchNorm and ReLU, hence non-negative) of every training mini-batch and added to the
reconstruction loss; validation and early stopping use the reconstruction loss alone.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

__all__ = ["OVRRegulariser", "activity_deficit", "ovr_overlap"]


def _check_codes(codes: torch.Tensor, name: str) -> None:
    if not isinstance(codes, torch.Tensor) or codes.ndim != 2:
        shape = tuple(codes.shape) if isinstance(codes, torch.Tensor) else type(codes).__name__
        raise ValueError(f"{name}: codes must be a 2-D tensor (batch_size, n_units), got {shape}.")
    if codes.shape[0] < 2:
        raise ValueError(f"{name}: the overlap between samples needs a batch of at least 2 codes, got {codes.shape[0]}.")
    if codes.shape[1] < 1:
        raise ValueError(f"{name}: codes have no units (shape {tuple(codes.shape)}).")
    if not torch.is_floating_point(codes):
        raise ValueError(f"{name}: codes have dtype {codes.dtype}; pass floating-point codes.")
    if not bool(torch.isfinite(codes).all()):
        raise ValueError(f"{name}: codes contain NaN or infinite values.")
    n_negative = int((codes < 0).sum())
    if n_negative:
        raise ValueError(
            f"{name}: {n_negative} code entries are negative; the overlap is defined for non-negative "
            "codes (after a ReLU), where a zero product means a unit is silent for one of the samples."
        )


def ovr_overlap(codes: torch.Tensor, *, check: bool = True) -> torch.Tensor:
    """Normalised overlap of the codes of distinct samples, ``OVR(H)`` of the module docstring.

    Parameters
    ----------
    codes : torch.Tensor of shape (batch_size, n_units)
        Non-negative codes, one row per sample; ``batch_size >= 2``.
    check : bool, default=True
        Validate ``codes`` (the training loop, whose codes come out of a ReLU, switches it off).

    Returns
    -------
    torch.Tensor
        A 0-d tensor, ``>= 0`` for non-negative codes.
    """
    if check:
        _check_codes(codes, "ovr_overlap")
    n, k = codes.shape
    # sum_{i != j} h_i . h_j = 2 sum_i h_i . (h_1 + ... + h_{i-1}): a sum of non-negative terms, so
    # never below 0, unlike ||H^T 1||^2 - ||H||_F^2, whose difference can round to -1e-13.
    rows_before = codes.cumsum(dim=0) - codes
    cross = 2 * (codes * rows_before).sum()
    return cross / (n * (n - 1) * k)


def activity_deficit(codes: torch.Tensor, *, check: bool = True) -> torch.Tensor:
    """Anti-collapse term ``A(H) = mean_i max(0, 1 - ||h_i||^2 / k)^2`` of the module docstring.

    Parameters
    ----------
    codes : torch.Tensor of shape (batch_size, n_units)
    check : bool, default=True

    Returns
    -------
    torch.Tensor
        A 0-d tensor in [0, 1]: 0 when every code's mean squared activation is at least 1, 1 when
        every code is all zeros.
    """
    if check:
        _check_codes(codes, "activity_deficit")
    energy = codes.square().mean(dim=1)
    return torch.clamp(1 - energy, min=0).square().mean()


class OVRRegulariser(nn.Module):
    """``lambda * (OVR(H) + mu * A(H))`` on a batch of codes (see the module docstring).

    Parameters
    ----------
    strength : float >= 0
        ``lambda``. 0 switches the regulariser off (the training loop then never calls it).
    activity_weight : float >= 0, default=1.0
        ``mu``, the weight of the anti-collapse term relative to the overlap.
    check : bool, default=True
        Validate each batch of codes.
    """

    def __init__(self, strength: float, activity_weight: float = 1.0, *, check: bool = True):
        super().__init__()
        self.strength = _non_negative(strength, "strength (ovr_lambda)")
        self.activity_weight = _non_negative(activity_weight, "activity_weight (ovr_activity)")
        self.check = bool(check)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        if self.check:
            _check_codes(codes, type(self).__name__)
        overlap = ovr_overlap(codes, check=False)
        if self.activity_weight:
            overlap = overlap + self.activity_weight * activity_deficit(codes, check=False)
        return self.strength * overlap

    def extra_repr(self) -> str:
        return f"strength={self.strength}, activity_weight={self.activity_weight}"


def _non_negative(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (value >= 0) or value == float("inf"):
        raise ValueError(f"OVR regulariser: {name} must be a finite number >= 0, got {value!r}.")
    return float(value)
