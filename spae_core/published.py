"""Published results: the JSON of a preset's runs, committed, so a fresh clone renders them untrained.

A results store (:mod:`spae_core.experiments`) holds each run's weights (``model.pt``) beside its
JSON. A *published* store is the same tree with the JSON alone (``spec.json``, ``record.json``,
``history.json``, ``distribution.json`` per run, and the baselines' records): small enough to
commit, and enough to render every figure and table of the book. ``make book`` seeds the local
store from ``published/<preset>/`` before executing the notebooks, so only runs missing from
both are trained; ``make publish`` writes the local store back after a build that trained.

The kernel checks of a preset (:mod:`spae_core.kernel_checks`: its main grid retrained with other
kernels, ``kernel_checks/<label>/runs/<run>/record.json``) travel with it both ways.

A published record computed by other metrics than the code's
(:data:`spae_core.evaluation.METRICS_VERSION`) cannot be re-evaluated without its weights: the
grid then stops and names it (:class:`spae_core.experiments.StaleRecordsError`).

Run as ``python -m spae_core.published {seed,export} SOURCE DEST``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd

__all__ = ["RUN_FILES", "export_store", "provenance_table", "seed_store"]

#: The files of a run that are published; the weights stay local.
RUN_FILES = ("spec.json", "record.json", "history.json", "distribution.json")


def _finished_runs(store: Path) -> list[Path]:
    return sorted(p.parent for p in Path(store).glob("runs/*/record.json"))


def _check_complete(run: Path, remedy: str) -> None:
    missing = [name for name in RUN_FILES if not (run / name).exists()]
    if missing:
        raise FileNotFoundError(f"run {run} lacks {missing}; {remedy}")


def seed_store(published, store, *, exclude=()) -> int:
    """Copy the published runs and baselines that ``store`` lacks into it; return how many runs.

    A run already in ``store`` (with its weights or not) is left as it is: local results win.
    ``exclude`` names runs (``run_name``) not to copy, e.g. those a reproduction retrains.
    """
    published, store = Path(published), Path(store)
    if not published.is_dir():
        raise FileNotFoundError(f"no published results at {published}: run `make publish` to create them.")
    excluded = set(exclude)
    copied = 0
    for run in _finished_runs(published):
        target = store / "runs" / run.name
        if run.name in excluded or (target / "record.json").exists():
            continue
        _check_complete(run, "re-export it with `make publish`.")
        target.mkdir(parents=True, exist_ok=True)
        # record.json last: a store treats a run as finished once its record exists.
        for name in sorted(RUN_FILES, key=lambda n: n == "record.json"):
            shutil.copyfile(run / name, target / name)
        copied += 1
    for path in sorted((published / "baselines").glob("*.json")) + _check_records(published):
        target = store / path.relative_to(published)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return copied


def _check_records(store: Path) -> list[Path]:
    """The records of the kernel checks in ``store`` (:mod:`spae_core.kernel_checks`): published with the runs."""
    return sorted(Path(store).glob("kernel_checks/*/runs/*/record.json"))


def export_store(store, published) -> int:
    """Replace ``published`` by the JSON of every finished run and baseline in ``store``; return the run count.

    Written beside ``published`` and swapped in at the end, so an interrupted export leaves the
    previous published results whole. Kernel checks the store lacks are kept from the previous
    publication (a preset retrained from scratch does not discard them).
    """
    store, published = Path(store), Path(published)
    runs = _finished_runs(store)
    if not runs:
        raise FileNotFoundError(f"no finished runs in {store}: build the book first (`make book PRESET=...`).")
    published.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=published.parent, prefix=f".{published.name}."))
    try:
        for run in runs:
            _check_complete(run, "it did not finish: re-run the build.")
            (staging / "runs" / run.name).mkdir(parents=True)
            for name in RUN_FILES:
                shutil.copyfile(run / name, staging / "runs" / run.name / name)
        for path in sorted((store / "baselines").glob("*.json")) + _check_records(store):
            (staging / path.relative_to(store)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, staging / path.relative_to(store))
        # A store retrained from scratch has no kernel checks: keep the published ones, not lose them.
        for path in _check_records(published):
            if not (staging / path.relative_to(published)).exists():
                (staging / path.relative_to(published)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, staging / path.relative_to(published))
        if published.exists():
            shutil.rmtree(published)
        staging.rename(published)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return len(runs)


def provenance_table(records: pd.DataFrame) -> pd.DataFrame:
    """One row per machine, kernel set and package versions that computed ``records``, with run counts.

    Parameters
    ----------
    records : DataFrame
        Run records with a ``provenance`` column (JSON, see
        :func:`spae_core.provenance.machine_provenance`).

    Returns
    -------
    DataFrame
        ``cpu``, ``kernels`` (torch's CPU capability, MKL, the BLAS behind numpy, any kernel
        switches), ``versions``, ``threads``, ``dates`` (first to last) and ``runs``, sorted by
        the number of runs, most first.
    """
    if "provenance" not in records.columns or records["provenance"].isna().any():
        missing = int(records["provenance"].isna().sum()) if "provenance" in records.columns else len(records)
        raise ValueError(f"{missing} record(s) carry no provenance: they predate it; retrain them (`make publish`).")
    rows = []
    for text in records["provenance"]:
        p = json.loads(text)
        kernels = [f"torch {p['cpu_capability']}", f"MKL {p['mkl']}" if p["mkl"] else "no MKL", *p["blas"]]
        kernels += [f"{k}={v}" for k, v in sorted(p["kernel_switches"].items())]
        versions = ", ".join(f"{k} {p['versions'][k]}" for k in ("torch", "numpy", "scipy", "scikit-learn", "python"))
        rows.append({"cpu": f"{p['cpu']} ({p['machine']}, {p['cpu_count']} CPUs)", "kernels": "; ".join(kernels),
                     "versions": versions, "threads": p["torch_threads"], "date": p["date"]})
    frame = pd.DataFrame(rows)
    keys = ["cpu", "kernels", "versions", "threads"]
    table = frame.groupby(keys, sort=True).agg(first=("date", "min"), last=("date", "max"), runs=("date", "size"))
    table = table.reset_index()
    table["dates"] = [f if f == l else f"{f} to {l}" for f, l in zip(table["first"], table["last"])]
    table = table.sort_values(["runs", *keys], ascending=[False, True, True, True, True], kind="mergesort")
    return table[[*keys, "dates", "runs"]].reset_index(drop=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spae_core.published", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    seed = sub.add_parser("seed", help="copy published runs missing from a store into it")
    seed.add_argument("published")
    seed.add_argument("store")
    export = sub.add_parser("export", help="replace the published runs by a store's JSON")
    export.add_argument("store")
    export.add_argument("published")
    args = parser.parse_args(argv)
    try:
        if args.command == "seed":
            count = seed_store(args.published, args.store)
            print(f"seeded {count} published run(s) from {args.published} into {args.store}")
        else:
            count = export_store(args.store, args.published)
            print(f"published {count} run(s) from {args.store} to {args.published}")
    except FileNotFoundError as error:
        print(f"{parser.prog} {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
