"""What would the `paper` preset cost on this machine? Train a sample of its runs and extrapolate.

The `paper` preset (spae_core/presets/paper.yaml: Adam at 1e-6, up to 1,000 epochs, patience 10,
10 seeds, every dataset at full size) has never been run whole here. This trains, into the
preset's own store (``results/paper/``, so a later ``make book PRESET=paper`` reuses them), one
run per dataset of its main grid (a loss drawn with a fixed seed, model seed 0), and prints per
run the epochs, whether early stopping fired and the seconds per epoch; then the main grid's cost
per dataset, extrapolated from the sampled run's length and, as an upper bound, from the full
``max_epochs`` (at 1e-6 some losses use every epoch).

    .venv/bin/python benchmarks/paper_preset_cost.py [--per-dataset 1]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-dataset", type=int, default=1)
    parser.add_argument("--datasets", nargs="*", default=None)
    args = parser.parse_args()
    os.environ.setdefault("SPAE_ROOT", str(ROOT))
    from spae_core.experiments import grid_specs, run_grid
    from spae_core.presets import load_preset

    paper = load_preset("paper")
    unknown = sorted(set(args.datasets or ()) - set(paper.datasets))
    if unknown:
        parser.error(f"not datasets of the paper preset: {unknown}; choose from {paper.datasets}")
    rng = np.random.default_rng(0)
    chosen = []
    # Drawn over the whole list, then filtered, so --datasets picks the same runs as a full call.
    for dataset in paper.datasets:
        losses = rng.choice(paper.losses, size=args.per_dataset, replace=False)
        if not args.datasets or dataset in args.datasets:
            chosen += grid_specs([dataset], [str(l) for l in losses], [0], **paper.settings)
    records = run_grid(chosen, paper.store, threads_per_run=2, progress=True)
    runs_per_dataset = len(paper.losses) * len(paper.seeds)
    max_epochs = paper.max_epochs
    # Epochs vary by loss: at 1e-6 some stop after ~10, others improve a little every epoch and use
    # all of max_epochs, so the sampled run's length is a guide and max_epochs the upper bound.
    print(f"{'dataset':>24} {'loss':>12} {'epochs':>6} {'stopped':>7} {'s/epoch':>8}  "
          f"{runs_per_dataset} runs: as sampled / all at {max_epochs} epochs")
    totals = [0.0, 0.0]
    for row in records.itertuples(index=False):
        per_epoch = row.train_seconds / row.epochs
        estimates = (per_epoch * row.epochs * runs_per_dataset, per_epoch * max_epochs * runs_per_dataset)
        totals = [t + e for t, e in zip(totals, estimates)]
        print(f"{row.dataset:>24} {row.loss:>12} {row.epochs:>6} {str(bool(row.stopped_early)):>7} {per_epoch:8.2f}  "
              f"~{estimates[0] / 3600:.1f} h / ~{estimates[1] / 3600:.1f} h")
    print(f"main grid: ~{totals[0] / 3600:.1f} h as sampled, up to ~{totals[1] / 3600:.1f} h, one run at a time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
