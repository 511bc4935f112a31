"""The One-vs-Rest regulariser: formulas against loops, disjoint supports, gradients, effect on codes."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from spae_core.regularisers import OVRRegulariser, activity_deficit, ovr_overlap


def _loop_overlap(H):
    """sum over ordered pairs i != j and units u of h_iu h_ju, over B (B - 1) k: the docstring's definition."""
    B, k = H.shape
    total = 0.0
    for i, j in itertools.permutations(range(B), 2):
        total += sum(H[i, u] * H[j, u] for u in range(k))
    return total / (B * (B - 1) * k)


def _loop_activity(H):
    B, k = H.shape
    return sum(max(0.0, 1 - sum(h * h for h in H[i]) / k) ** 2 for i in range(B)) / B


def test_overlap_and_activity_match_loops():
    rng = np.random.default_rng(0)
    H = np.maximum(rng.normal(size=(9, 6)), 0.0)
    codes = torch.from_numpy(H)
    assert ovr_overlap(codes).item() == pytest.approx(_loop_overlap(H), rel=1e-12)
    assert activity_deficit(codes).item() == pytest.approx(_loop_activity(H), rel=1e-12)
    penalty = OVRRegulariser(0.3, activity_weight=2.0)(codes).item()
    assert penalty == pytest.approx(0.3 * (_loop_overlap(H) + 2.0 * _loop_activity(H)), rel=1e-12)


def test_overlap_is_zero_for_disjoint_supports_and_positive_otherwise():
    disjoint = torch.tensor([[2.0, 0.0, 0.0, 0.0], [0.0, 1.5, 3.0, 0.0], [0.0, 0.0, 0.0, 0.7]])
    assert ovr_overlap(disjoint).item() == 0.0
    shared = disjoint.clone()
    shared[2, 1] = 0.5
    # One shared unit: the only non-zero products are h_1,1 h_2,1 (both orders): 2 * 1.5 * 0.5 / (3 * 2 * 4).
    assert ovr_overlap(shared).item() == pytest.approx(2 * 1.5 * 0.5 / 24)


def test_identical_codes_overlap_by_their_mean_square_and_collapse_is_penalised():
    h = torch.tensor([1.0, 2.0, 0.0, 3.0])
    assert ovr_overlap(h.repeat(5, 1)).item() == pytest.approx((h**2).mean().item())
    assert activity_deficit(torch.zeros(4, 3)).item() == 1.0
    assert activity_deficit(torch.full((4, 3), 1.0)).item() == 0.0


@settings(max_examples=40, deadline=None)
@given(B=st.integers(2, 7), k=st.integers(1, 6), seed=st.integers(0, 10_000), scale=st.floats(0.0, 100.0))
# Found by hypothesis on a clean clone: ||H^T 1||^2 - ||H||_F^2 rounded to -1.5e-13 here.
@example(B=2, k=3, seed=2, scale=41.0)
def test_property_matches_loop_nonnegative_finite_gradients(B, k, seed, scale):
    H = scale * np.maximum(np.random.default_rng(seed).normal(size=(B, k)), 0.0)
    assert ovr_overlap(torch.from_numpy(H)).item() >= 0
    codes = torch.from_numpy(H).requires_grad_()
    value = OVRRegulariser(1.0)(codes)
    assert value.item() == pytest.approx(_loop_overlap(H) + _loop_activity(H), rel=1e-9, abs=1e-12)
    assert value.item() >= 0
    value.backward()
    assert torch.isfinite(codes.grad).all()


def test_gradient_is_the_rest_of_the_batch():
    # d OVR / d h_iu = 2 sum_{j != i} h_ju / (B (B - 1) k): the post's "weighted mean of the rest".
    H = torch.rand(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).requires_grad_()
    ovr_overlap(H).backward()
    rest = H.detach().sum(0, keepdim=True) - H.detach()
    torch.testing.assert_close(H.grad, 2 * rest / (5 * 4 * 3))


@pytest.mark.parametrize(
    "codes,match",
    [
        (torch.ones(1, 3), "at least 2"),
        (torch.ones(3), "2-D"),
        (torch.tensor([[1.0, -0.5], [0.0, 1.0]]), "1 code entries are negative"),
        (torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), "NaN"),
        (torch.ones(2, 2, dtype=torch.long), "dtype"),
    ],
)
def test_bad_codes(codes, match):
    with pytest.raises(ValueError, match=match):
        ovr_overlap(codes)


@pytest.mark.parametrize("kwargs", [{"strength": -1.0}, {"strength": float("inf")}, {"strength": 1.0, "activity_weight": -0.1}])
def test_bad_strengths(kwargs):
    with pytest.raises(ValueError, match="finite number >= 0"):
        OVRRegulariser(**kwargs)
