"""What would the `paper` preset cost on this machine? Train a sample of its runs and extrapolate.

The `paper` preset (notebooks/params/paper.yaml: Adam at 1e-6, up to 1,000 epochs, patience 10,
10 seeds, every dataset at full size) has never been run whole here. This trains, into the
preset's own store (``results/paper/``, so a later ``make book PRESET=paper`` reuses them), one
run per dataset of its main grid (a loss drawn with a fixed seed, model seed 0), and prints per
run the epochs, whether early stopping fired, and the seconds; then the main grid's cost per
dataset extrapolated as (mean seconds per epoch) x (epochs of the sampled run) x (runs of that
dataset), with the caveat that epochs vary by loss and seed.

    .venv/bin/python benchmarks/paper_preset_cost.py [--per-dataset 1]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-dataset", type=int, default=1)
    parser.add_argument("--datasets", nargs="*", default=None)
    args = parser.parse_args()
    os.environ.setdefault("SPAE_ROOT", str(ROOT))
    from spae_core.experiments import grid_specs, results_dir, run_grid

    params = yaml.safe_load((ROOT / "notebooks" / "params" / "paper.yaml").read_text())
    datasets = args.datasets or params["datasets"]
    settings = dict(max_rows=params["max_rows"], max_epochs=params["max_epochs"], patience=params["patience"],
                    learning_rate=params["learning_rate"], batch_size=params["batch_size"])
    rng = np.random.default_rng(0)
    chosen = []
    for dataset in datasets:
        losses = rng.choice(params["losses"], size=args.per_dataset, replace=False)
        chosen += grid_specs([dataset], [str(l) for l in losses], [0], **settings)
    records = run_grid(chosen, results_dir("paper"), threads_per_run=2, progress=True)
    runs_per_dataset = len(params["losses"]) * len(params["seeds"])
    total = 0.0
    print(f"{'dataset':>24} {'loss':>12} {'epochs':>6} {'stopped':>7} {'s/epoch':>8} {'s':>8}  grid of {runs_per_dataset} runs")
    for row in records.itertuples(index=False):
        per_epoch = row.train_seconds / row.epochs
        estimate = per_epoch * row.epochs * runs_per_dataset
        total += estimate
        print(f"{row.dataset:>24} {row.loss:>12} {row.epochs:>6} {str(bool(row.stopped_early)):>7} "
              f"{per_epoch:8.2f} {row.train_seconds:8.1f}  ~{estimate / 3600:.2f} h")
    print(f"main grid, extrapolated: ~{total / 3600:.1f} h of training at 2 threads, one run at a time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
