"""Coverage of the book's 95% interval for a [0, 1] metric against Student-t's (the methods page's table).

Seeds are simulated from Beta distributions of known mean; each method's interval is computed by
the library (``spae_core.statistics.mean_ci`` with and without the metric's range) and we count how
often it contains the true mean. Usage: ``python benchmarks/interval_coverage.py [--simulations N]``.
"""

import argparse

import numpy as np

from spae_core.metrics import UNIT_INTERVAL
from spae_core.statistics import mean_ci

# (a, b) of Beta distributions with mean 0.05 (a metric near 0, from tight to heavy-tailed) and 0.5.
NEAR_ZERO = [(5, 95), (1, 19), (0.25, 4.75), (0.1, 1.9)]
MIDDLE = [(5, 5), (1, 1), (0.5, 0.5)]
SEEDS = (3, 5, 10)


def coverage(a: float, b: float, n: int, simulations: int, value_range, rng) -> float:
    """Share of ``simulations`` sets of ``n`` seeds whose interval contains the Beta(a, b) mean."""
    truth = a / (a + b)
    hits = 0
    for values in rng.beta(a, b, size=(simulations, n)):
        _, low, high, _ = mean_ci(values, value_range=value_range)
        hits += low <= truth <= high
    return hits / simulations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=10_000)
    simulations = parser.parse_args().simulations
    print(f"coverage of the mean, {simulations:,} simulated sets of seeds: ours (Student-t)")
    for a, b in NEAR_ZERO + MIDDLE:
        cells = []
        for n in SEEDS:
            rng = np.random.default_rng(0)  # the same seeds for both methods: a paired comparison
            ours = coverage(a, b, n, simulations, UNIT_INTERVAL, rng)
            rng = np.random.default_rng(0)
            student = coverage(a, b, n, simulations, None, rng)
            cells.append(f"{n} seeds {ours:.3f} ({student:.3f})")
        print(f"Beta({a:g}, {b:g}), mean {a / (a + b):g}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
