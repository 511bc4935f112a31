"""Benchmark the fast metrics of spae_core.metrics against straightforward references.

Each fast implementation runs next to its reference in the same process, on the same data, and
the script prints the ratio of their wall times and the largest difference of their values.
Trustworthiness runs each implementation in a fresh subprocess (Linux) and reads the peak resident
memory of the call itself from /proc.

    python benchmarks/bench_metrics.py            # full run, several minutes on 2 cores
    python benchmarks/bench_metrics.py --quick    # smoke run, seconds

Machines are shared and noisy: compare the ratios within one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.manifold import trustworthiness as sklearn_trustworthiness
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference_metrics import per_pair_contingency, per_pair_sdmetrics_style  # noqa: E402

from spae_core import metrics  # noqa: E402

SIZES = {
    "full": {
        "contingency_n": 2_000,
        "contingency_compared": [100, 200],
        "contingency_alone": [1_000, 5_000],
        "trust_compared": [2_000, 5_000, 10_000],
        "trust_alone": [50_000],
        "ap": (5_000, 5_000),
    },
    "quick": {
        "contingency_n": 300,
        "contingency_compared": [20, 30],
        "contingency_alone": [200],
        "trust_compared": [500, 1_000],
        "trust_alone": [3_000],
        "ap": (500, 300),
    },
}
TRUST_FEATURES, TRUST_DENSITY, TRUST_COMPONENTS = 1_000, 0.02, 16


def timed(function, repeat=1):
    """(best wall time in seconds over ``repeat`` runs, result of the last run)."""
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def binary_data(rng, n, d, density):
    """0/1 data and a reconstruction whose scores overlap between positives and negatives."""
    X = (rng.random((n, d)) < density).astype(np.int8)
    P = 0.4 * X + 0.6 * rng.random((n, d))
    return X, P


# --------------------------------------------------------------------------------------------
# Contingency score
# --------------------------------------------------------------------------------------------


def bench_contingency(sizes, rng):
    n = sizes["contingency_n"]
    print(f"\n== Contingency score, n = {n:,}, density 0.05 ==")
    for d in sizes["contingency_compared"]:
        R, P = binary_data(rng, n, d, 0.05)
        fast_time, fast = timed(
            lambda: metrics.contingency_score(R, P, return_pair_scores=True), repeat=5
        )
        numpy_time, numpy_scores = timed(lambda: per_pair_contingency(R, P))
        pandas_time, pandas_scores = timed(lambda: per_pair_sdmetrics_style(R, P))
        difference = max(
            np.nanmax(np.abs(fast.pair_scores - numpy_scores)),
            np.nanmax(np.abs(fast.pair_scores - pandas_scores)),
        )
        same_pairs = np.array_equal(np.isnan(fast.pair_scores), np.isnan(numpy_scores))
        print(
            f"d = {d:>6,}: vectorised {fast_time * 1e3:8.1f} ms | per-pair NumPy "
            f"{numpy_time:7.2f} s ({numpy_time / fast_time:7,.0f}x) | per-pair SDMetrics-style "
            f"pandas {pandas_time:7.2f} s ({pandas_time / fast_time:8,.0f}x) | max |diff| "
            f"{difference:.1e}, same defined pairs: {same_pairs}, score {fast.score:.6f}"
        )
    for d in sizes["contingency_alone"]:
        R, P = binary_data(rng, n, d, 0.05)
        R_sparse = sp.csr_matrix(R)
        fast_time, fast = timed(lambda: metrics.contingency_score(R_sparse, P))
        print(
            f"d = {d:>6,}: vectorised alone {fast_time:7.2f} s for {d * (d - 1) // 2:,} pairs, "
            f"score {fast.score:.6f}"
        )


# --------------------------------------------------------------------------------------------
# Trustworthiness (each run in its own process for an honest peak RSS)
# --------------------------------------------------------------------------------------------


def write_trust_data(directory: Path, n: int, seed: int) -> Path:
    """Sparse 0/1 X and a noisy linear embedding of it, saved for the worker processes."""
    rng = np.random.default_rng(seed)
    X = sp.random(
        n, TRUST_FEATURES, density=TRUST_DENSITY, format="csr", random_state=rng, dtype=np.float64
    )
    X.data[:] = 1.0
    E = X @ rng.normal(size=(TRUST_FEATURES, TRUST_COMPONENTS))
    E += 0.5 * rng.normal(size=E.shape)
    path = directory / f"trust_{n}"
    sp.save_npz(path.with_suffix(".X.npz"), X)
    np.save(path.with_suffix(".E.npy"), E)
    return path


def resident_kib(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process from /proc, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def trust_worker(implementation: str, path: Path):
    """Time one implementation on saved data and measure its peak RSS during the call.

    Writing 5 to /proc/self/clear_refs resets the peak (VmHWM) to the current RSS, so the peak
    read afterwards belongs to the call, not to imports or loading the data.
    """
    X = sp.load_npz(path.with_suffix(".X.npz"))
    E = np.load(path.with_suffix(".E.npy"))
    Path("/proc/self/clear_refs").write_text("5")
    baseline = resident_kib("VmRSS")
    if implementation == "ours":
        seconds, value = timed(lambda: metrics.trustworthiness(X, E, 15, device="numpy"))
    else:
        seconds, value = timed(lambda: sklearn_trustworthiness(X, E, n_neighbors=15))
    peak = max(resident_kib("VmHWM"), baseline)
    run = {"seconds": seconds, "value": value, "baseline_kb": baseline, "peak_kb": peak}
    print(json.dumps(run))


def run_trust_worker(implementation: str, path: Path):
    completed = subprocess.run(
        [sys.executable, __file__, "--trust-worker", implementation, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def describe(run):
    return (
        f"{run['seconds']:7.2f} s, peak RSS {run['peak_kb'] / 2**20:5.2f} GiB "
        f"(+{(run['peak_kb'] - run['baseline_kb']) / 2**20:5.2f} GiB over the process before "
        f"the call)"
    )


def bench_trustworthiness(sizes, seed):
    print(
        f"\n== Trustworthiness, k = 15, sparse 0/1 X with {TRUST_FEATURES:,} features at density "
        f"{TRUST_DENSITY}, {TRUST_COMPONENTS}-d embedding, ours on the CPU (NumPy), each run in "
        f"a fresh process =="
    )
    with tempfile.TemporaryDirectory() as directory:
        for n in sizes["trust_compared"]:
            path = write_trust_data(Path(directory), n, seed)
            ours = run_trust_worker("ours", path)
            reference = run_trust_worker("sklearn", path)
            print(
                f"n = {n:>6,}: ours {describe(ours)} | sklearn {describe(reference)} | ours "
                f"{reference['seconds'] / ours['seconds']:4.1f}x faster | T ours "
                f"{ours['value']:.6f}, sklearn {reference['value']:.6f} (sklearn sorts ties "
                f"unstably: |diff| {abs(ours['value'] - reference['value']):.1e})"
            )
        for n in sizes["trust_alone"]:
            ours = run_trust_worker("ours", write_trust_data(Path(directory), n, seed))
            sklearn_bytes = 24 * n * n  # distances, argsort and inverse index, 8 bytes each
            print(
                f"n = {n:>6,}: ours {describe(ours)} | T {ours['value']:.6f} | sklearn not "
                f"run: it would need ~{sklearn_bytes / 2**30:,.1f} GiB"
            )


# --------------------------------------------------------------------------------------------
# Average precision
# --------------------------------------------------------------------------------------------


def bench_average_precision(sizes, rng):
    n, d = sizes["ap"]
    print(f"\n== Average precision, n = {n:,}, d = {d:,}, density 0.02 ==")
    X, P = binary_data(rng, n, d, 0.02)
    X_sparse = sp.csr_matrix(X)
    fast_time, fast = timed(lambda: metrics.average_precision(X_sparse, P))

    def per_column_loop():
        return np.array(
            [
                average_precision_score(X[:, j], P[:, j]) if X[:, j].any() else np.nan
                for j in range(d)
            ]
        )

    loop_time, loop = timed(per_column_loop)
    difference = np.nanmax(np.abs(fast.per_feature - loop))
    print(
        f"ours {fast_time:6.2f} s | sklearn per-column loop {loop_time:6.2f} s "
        f"({loop_time / fast_time:5.1f}x) | max |diff| {difference:.1e} | macro AP "
        f"{fast.score:.6f} over {fast.n_features_used:,} features, {fast.n_skipped} skipped"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument(
        "--only",
        choices=["contingency", "trustworthiness", "average_precision"],
        action="append",
        help="run only these benchmarks (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trust-worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trust_worker:
        trust_worker(args.trust_worker[0], Path(args.trust_worker[1]))
        return
    sizes = SIZES["quick" if args.quick else "full"]
    selected = args.only or ["contingency", "trustworthiness", "average_precision"]
    print(
        f"spae metrics benchmark ({'quick' if args.quick else 'full'}), {os.cpu_count()} CPUs, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, numpy {np.__version__}"
    )
    rng = np.random.default_rng(args.seed)
    if "contingency" in selected:
        bench_contingency(sizes, rng)
    if "trustworthiness" in selected:
        bench_trustworthiness(sizes, args.seed)
    if "average_precision" in selected:
        bench_average_precision(sizes, rng)


if __name__ == "__main__":
    main()
