"""Calibrate the tolerance lane: how far do the ci runs move when the CPU's kernels change?

Retrains the runs of the tolerance lane (seed 0 of every configuration in the golden ci records,
``tests/golden/results/``) once per kernel setting, each in a fresh
process with the setting in its environment (these make this machine compute the way other CPUs
do, see ../shared/notes/toolchain.md), and compares every metric of every run with the golden
record. Writes ``tests/portability_tolerances.json``: per metric, the largest absolute deviation
seen under any setting, the setting that gave it, and the tolerance (``SAFETY`` times that; the
test raises a tolerance below 1e-6 of the metric's scale to that floor). Review the diff and commit it;
``tests/test_portability.py`` reads it.

    make calibrate            # ~15 min on 2 cores

Run it only on purpose (after a change to training or metrics that moves the golden records).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "results"
OUTPUT = ROOT / "tests" / "portability_tolerances.json"

#: Kernel settings that stand in for other CPUs: torch's kernels without AVX-512 and without any
#: vector extension, MKL's portable GEMM path, OpenBLAS's Haswell kernels in numpy/scipy; the
#: last combines the three that change most.
SETTINGS = {
    "ATEN_CPU_CAPABILITY=default": {"ATEN_CPU_CAPABILITY": "default"},
    "ATEN_CPU_CAPABILITY=avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "MKL_CBWR=COMPATIBLE": {"MKL_CBWR": "COMPATIBLE"},
    "ATEN_CPU_CAPABILITY=default + MKL_CBWR=COMPATIBLE + OPENBLAS_CORETYPE=Haswell":
        {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "OPENBLAS_CORETYPE": "Haswell"},
    "ATEN_CPU_CAPABILITY=avx2 + OPENBLAS_CORETYPE=Haswell": {"ATEN_CPU_CAPABILITY": "avx2", "OPENBLAS_CORETYPE": "Haswell"},
}

#: Tolerance = SAFETY x the largest deviation measured, so that CPUs a little further from this
#: one than the switches above still pass, while a real change of a metric does not.
SAFETY = 4.0


def retrain(store: Path) -> None:
    """Retrain the runs of the tolerance lane (seed 0 of every golden configuration) into ``store``, as the test does."""
    from spae_core.experiments import load_records, retrain_stored

    golden = load_records(GOLDEN)
    retrain_stored(GOLDEN, store, golden.loc[golden["seed"] == 0, "run_name"], progress=True)


def deviations(store: Path) -> dict:
    """Per metric: largest |retrained - golden| over runs, and how often definedness (NaN or not) changed."""
    from spae_core.experiments import load_records
    from spae_core.reproduction import run_differences

    differences = run_differences(load_records(GOLDEN), load_records(store))
    out = {}
    for metric, group in differences.groupby("metric", sort=True):
        both = group.dropna(subset=["published", "reproduced"])
        flips = int((group["published"].isna() ^ group["reproduced"].isna()).sum())
        out[metric] = {"max_abs": float(np.abs(both["difference"]).max()) if len(both) else 0.0,
                       "definedness_changed": flips, "runs": int(len(group))}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--retrain-into", help=argparse.SUPPRESS)  # the per-setting worker
    parser.add_argument("--work", default=str(ROOT / "results" / "calibration"))
    args = parser.parse_args()
    if args.retrain_into:
        retrain(Path(args.retrain_into))
        return 0
    work = Path(args.work)
    measured = {}
    for label, env in SETTINGS.items():
        store = work / label.replace(" ", "").replace("+", "_").replace("=", "-")
        print(f"== {label}", flush=True)
        subprocess.run([sys.executable, __file__, "--retrain-into", str(store)], check=True,
                       env={**os.environ, **env, "TQDM_DISABLE": "1"})
        measured[label] = deviations(store)
    metrics = sorted({m for per in measured.values() for m in per})
    table = {}
    for metric in metrics:
        worst_label = max(measured, key=lambda label: measured[label].get(metric, {}).get("max_abs", 0.0))
        worst = measured[worst_label].get(metric, {}).get("max_abs", 0.0)
        table[metric] = {
            "max_abs_deviation": worst, "worst_setting": worst_label,
            "definedness_changed": {label: measured[label][metric]["definedness_changed"] for label in measured
                                    if measured[label][metric]["definedness_changed"]},
            "tolerance": SAFETY * worst,
        }
    OUTPUT.write_text(json.dumps({
        "method": (f"Each golden ci run retrained under each setting; per metric the largest |retrained - golden| "
                   f"over runs and settings, times SAFETY = {SAFETY:g}."),
        "settings": list(SETTINGS), "safety": SAFETY,
        "date": datetime.date.today().isoformat(), "metrics": table,
    }, indent=1, sort_keys=False) + "\n")
    print(f"wrote {OUTPUT}")
    for metric, row in table.items():
        print(f"{metric:>36} {row['max_abs_deviation']:.3g} ({row['worst_setting']}) -> tolerance {row['tolerance']:.3g}"
              + (f"; definedness changed {row['definedness_changed']}" if row["definedness_changed"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
