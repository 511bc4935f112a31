"""Training throughput of the dense-batch and sparse-input paths, as a share of this machine's GEMM rate.

For each width d, binary data of density 0.02 are trained for one epoch with batch size 256 through
the real training loop (spae_core.train.train), once per input path, alternating the paths and
keeping the best of several repeats, since these machines are shared and noisy. Throughput is
reported in samples/s and as model FLOPs per sample x samples/s divided by the float32
matrix-multiply rate measured in the same run.

Two more rows, run in the same repeats: "sparse, torch kernels" is the sparse path with the
library's fast kernels swapped back for torch's generic ones (``torch.sparse.mm`` for the sparse
layer, ``F.binary_cross_entropy_with_logits`` on a densified target), the implementation before
them, so their ratio is the speed-up they bring; "plain" is a bare PyTorch loop over a
pre-densified tensor with the same model, loss and optimiser, the reference for the cost of the
training loop's own data pipeline and checks.

The GEMM rate is measured before every repeat and once more after the last. "of GEMM" divides the
best throughput by the best GEMM rate seen in the whole run, the conservative choice: the shared
machine's speed drifts by up to 2x within minutes, so a fast moment of the GEMM can meet a slow
one of the training. "adjacent" divides each repeat by the better of the GEMM rates measured just
before and just after it (the same state of the machine) and shows the best repeat. The GEMM
rates' spread is printed too.

Model FLOPs follow the usual convention of 6 per weight per sample (2 forward, 4 backward) for the
dense network; the sparse path does less arithmetic for the same model, so its share can exceed
what a dense loop could reach.

`make bench` runs it with the Makefile's environment (threads, and the glibc settings that reuse
freed memory; the header line prints them).

    python benchmarks/bench_training.py            # d = 1,000, 5,000, 17,770
    python benchmarks/bench_training.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import numpy as np
import scipy.sparse as sp
import torch

import spae_core.model
from spae_core.losses import BCELoss, get_loss
from spae_core.train import TrainConfig, seeded_model, train


def gemm_flops_per_second(size: int = 2048, repeats: int = 10) -> float:
    """Best-of-3 float32 GEMM rate of this machine, in FLOP/s (measured again around each width:
    the shared machine's rate drifts, and the best one seen is the honest denominator)."""
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - started))
    return best


def random_binary(n: int, d: int, density: float, seed: int) -> sp.csr_array:
    X = sp.random_array((n, d), density=density, format="csr", dtype=np.float32, rng=np.random.default_rng(seed))
    X.data[:] = 1.0
    return X


def epoch_throughput(X: sp.csr_array, input_path: str, batch_size: int) -> float:
    """Samples per second of one training epoch (BCE loss, fresh model)."""
    model = seeded_model(X.shape[1], seed=0)
    config = TrainConfig(max_epochs=1, batch_size=batch_size, input_path=input_path)
    result = train(model, get_loss("bce"), X, None, config, device="cpu", progress=False)
    return X.shape[0] / result.history[0]["seconds"]


@contextlib.contextmanager
def torch_kernels():
    """Swap the library's fast sparse product and BCE routes for torch's generic ones."""
    saved = spae_core.model._csr_times_dense, BCELoss._reduced, BCELoss.accepts_sparse_target
    spae_core.model._csr_times_dense = torch.sparse.mm
    BCELoss._reduced = lambda self, logits, target: self.unreduced(logits, target).mean()
    BCELoss.accepts_sparse_target = False
    try:
        yield
    finally:
        spae_core.model._csr_times_dense, BCELoss._reduced, BCELoss.accepts_sparse_target = saved


def plain_loop_throughput(X: sp.csr_array, batch_size: int) -> float:
    """Samples per second of a plain PyTorch loop: same model, loss and optimiser, on a tensor
    densified before timing and sliced in order, with no data pipeline, checks or bookkeeping.
    The reference for what the training loop's own overhead costs."""
    dense = torch.from_numpy(X.toarray())
    model = seeded_model(X.shape[1], seed=0)
    loss = get_loss("bce", check_target=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    model.train()
    started = time.perf_counter()
    for start in range(0, dense.shape[0] - batch_size + 1, batch_size):
        batch = dense[start : start + batch_size]
        value = loss(model(batch), batch)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
    return (dense.shape[0] // batch_size) * batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[1000, 5000, 17770])
    parser.add_argument("--density", type=float, default=0.02)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=24, help="batches per timed epoch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="d = 1,000 only, one repeat")
    args = parser.parse_args()
    if args.quick:
        args.widths, args.repeats, args.batches = [1000], 1, 8

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    malloc = {k: os.environ.get(k, "unset") for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, best of {args.repeats} repeats; {malloc}")
    print(f"{'d':>7} {'path':>22} {'samples/s':>10} {'GFLOP/s':>8} {'of GEMM':>8} {'adjacent':>9}")
    gemm_rates = []
    paths = ("dense", "sparse", "sparse, torch kernels", "plain")
    for d in args.widths:
        X = random_binary(args.batch_size * args.batches, d, args.density, seed=d)
        flops = seeded_model(d, 0).flops_per_sample()
        epoch_throughput(X[: 2 * args.batch_size], "sparse", args.batch_size)  # warm-up
        rates = {path: [] for path in paths}
        around = [gemm_flops_per_second()]  # the GEMM rate before each repeat and after the last
        for _ in range(args.repeats):
            for path in ("dense", "sparse"):
                rates[path].append(epoch_throughput(X, path, args.batch_size))
            with torch_kernels():
                rates["sparse, torch kernels"].append(epoch_throughput(X, "sparse", args.batch_size))
            rates["plain"].append(plain_loop_throughput(X, args.batch_size))
            around.append(gemm_flops_per_second())
        gemm_rates += around
        gemm = max(gemm_rates)
        # "adjacent": each repeat against the better of the two GEMM rates measured right before
        # and after it, i.e. in the same state of the machine; the best repeat is shown.
        adjacent = [max(a, b) for a, b in zip(around, around[1:])]
        for path in paths:
            best = max(rates[path])
            best_adjacent = max(rate / rate_gemm for rate, rate_gemm in zip(rates[path], adjacent))
            print(f"{d:>7} {path:>22} {best:>10.0f} {best * flops / 1e9:>8.1f} {best * flops / gemm:>8.1%} "
                  f"{best_adjacent * flops:>9.1%}")
        best = {path: max(rates[path]) for path in paths}
        print(f"{d:>7} sparse/dense: {best['sparse'] / best['dense']:.2f}; sparse / sparse with torch kernels: "
              f"{best['sparse'] / best['sparse, torch kernels']:.2f}; float32 GEMM: best {gemm / 1e9:.1f}, "
              f"median {np.median(gemm_rates) / 1e9:.1f}, worst {min(gemm_rates) / 1e9:.1f} GFLOP/s so far")


if __name__ == "__main__":
    main()
