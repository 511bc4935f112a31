"""Rounding-error bounds for tests that compare two float implementations of the same product.

Different CPUs run different kernels for the same product (FBGEMM's fused multiply-add on AVX2,
MKL's multiply-then-add, 8- or 16-wide vector accumulators), so two implementations that agree bit
for bit on one machine may not on another. What holds on every machine is the classical bound
for a dot product of ``n`` terms evaluated in floating point in *any* order, with or without fused
multiply-adds (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., Eq. 3.5 and
Sec. 3.1)::

    |fl(sum_k a_k w_k) - sum_k a_k w_k| <= gamma_n sum_k |a_k w_k|,   gamma_n = n u / (1 - n u),

with unit roundoff ``u = 2**-24`` in float32. The tests compare each implementation with a float64
reference computed from the same float32 inputs: every product of two float32 numbers is exact in
float64, so the reference is itself within ``gamma_n(2**-53) sum |a_k w_k|`` of the exact sum,
and an implementation is accepted when it lies within ``gamma_n(2**-24) + 2 gamma_n(2**-53)``
times ``sum |a_k w_k|`` of the reference (the second term covers the reference's rounding and
that of the float64 ``sum |a_k w_k|`` itself). Two implementations that pass are then within
twice that of each other, on any CPU.
"""

import numpy as np

UNIT_ROUNDOFF = {np.float32: 2.0**-24, np.float64: 2.0**-53}


def gamma(n, dtype=np.float32):
    """``gamma_n = n u / (1 - n u)`` for the unit roundoff ``u`` of ``dtype``, elementwise in ``n``."""
    nu = np.asarray(n, dtype=np.float64) * UNIT_ROUNDOFF[np.dtype(dtype).type]
    if np.any(nu >= 1):
        raise ValueError("gamma_n needs n u < 1")
    return nu / (1 - nu)


def dot_product_bound(n_terms, abs_sum):
    """Largest ``|float32 result - float64 reference|`` any correct summation order can give.

    Parameters
    ----------
    n_terms : array_like of int
        Number of products summed into each entry (broadcast against ``abs_sum``).
    abs_sum : array_like of float64
        ``sum_k |a_k w_k|`` of each entry, computed in float64.

    Returns
    -------
    ndarray of float64
    """
    return (gamma(n_terms, np.float32) + 2 * gamma(n_terms, np.float64)) * np.asarray(abs_sum, dtype=np.float64)


def assert_within_dot_product_bound(actual, reference, n_terms, abs_sum, name=""):
    """Assert ``|actual - reference| <= dot_product_bound(n_terms, abs_sum)`` entry by entry.

    Parameters
    ----------
    actual : array_like
        The float32 result under test.
    reference : array_like of float64
        The float64 reference from the same float32 inputs.
    n_terms, abs_sum : array_like
        See :func:`dot_product_bound`.
    name : str
        Named in the failure message.
    """
    actual = np.asarray(actual, dtype=np.float64)
    error = np.abs(actual - reference)
    bound = dot_product_bound(n_terms, abs_sum)
    bad = error > bound
    if bad.any():
        worst = np.unravel_index(np.argmax(np.where(bad, error - bound, -np.inf)), error.shape)
        raise AssertionError(
            f"{name}: {int(bad.sum())} of {bad.size} entries outside the float32 dot-product bound; "
            f"worst at {worst}: |error| = {error[worst]:.3g} > bound {np.broadcast_to(bound, error.shape)[worst]:.3g}"
        )
