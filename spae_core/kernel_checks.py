"""Kernel checks: the published main grid retrained with other kernels, and the verdicts that move.

Another CPU computes the same run with other kernels (vector width, fused multiply-add, BLAS code
path), and training is chaotic: after hundreds of epochs the retrained run ends elsewhere, by about
as much as another seed would. A Figure 6 or claim verdict that changes when the grid is retrained
on other kernels is not a finding of the paper's losses but of the machine: it is *fragile*.

A *kernel check* is the preset's main grid (the runs Figure 6 and the claims read) retrained
under kernel switches (:data:`spae_core.provenance.KERNEL_SWITCHES`: torch's CPU capability,
MKL's code path, OpenBLAS's core type; they make one machine compute as other CPUs do) or on
another machine. Its run records (``record.json`` only) are published beside the preset's own,
under ``kernel_checks/<label>/runs/<run_name>/``, and the book compares every verdict
(:func:`fragile_verdicts`), marks the fragile ones where they are shown (:func:`with_kernel_checks`)
and estimates how many seeds would settle them (:func:`seeds_to_settle`).

Run as ``python -m spae_core.kernel_checks retrain PUBLISHED PRESET STORE`` (under the switches;
``make kernel-check``), then ``python -m spae_core.kernel_checks add STORE PUBLISHED``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .claims import claim_units
from .evaluation import METRICS_VERSION
from .experiments import load_records, retrain_stored
from .paper import CLAIMS, FIGURE6_METRICS, PAPER_LOSSES
from .presets import Preset, load_preset
from .reproduction import verdict_changes
from .statistics import paired_best, seeds_for_power
from .verdicts import UNTESTABLE

__all__ = ["CHECKS_DIR", "add_check", "check_label", "checks_table", "count_fragile", "fragile_verdicts", "load_checks", "main_grid_runs",
           "seeds_to_settle", "settling_summary", "with_kernel_checks"]

#: Where a store (or a published store) keeps its kernel checks.
CHECKS_DIR = "kernel_checks"

#: Claims decided by other verdicts or by no paired comparison: :func:`seeds_to_settle` points to their inputs.
_DERIVED_CLAIMS = {"figure6_winners": "follows the Figure 6 cells (more seeds there)",
                   "contingency_highest_on_imdb": "compares datasets, not paired losses"}


#: How a kernel check names each switch (the environment variables of
#: :data:`spae_core.provenance.KERNEL_SWITCHES`) in its label.
_SWITCH_NAMES = {"ATEN_CPU_CAPABILITY": "torch", "MKL_CBWR": "MKL", "OPENBLAS_CORETYPE": "OpenBLAS"}


def check_label(records: pd.DataFrame) -> str:
    """What computed a kernel check's ``records`` differently: its kernel switches, or else its machine.

    E.g. ``"torch avx2, MKL COMPATIBLE, OpenBLAS Haswell"`` for runs made under
    ``ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE OPENBLAS_CORETYPE=Haswell``, or
    ``"AMD EPYC 7B13, torch AVX2"`` for runs made on another machine without switches
    (:func:`checks_table` shows both in full).

    Raises
    ------
    ValueError
        If the records were computed by more than one kernel set, or carry no provenance.
    """
    if "provenance" not in records.columns or records["provenance"].isna().any():
        raise ValueError("kernel-check records must carry their provenance; retrain them with this version of spae.")
    labels = set()
    for text, device in zip(records["provenance"], records.get("device", pd.Series("cpu", index=records.index))):
        p = json.loads(text)
        switches = ", ".join(f"{_SWITCH_NAMES.get(k, k)} {v}" for k, v in sorted(p["kernel_switches"].items()))
        machine = f"{p['cpu']}, torch {p['cpu_capability']}" + ("" if device == "cpu" else f", {device}")
        labels.add(switches or machine)
    if len(labels) != 1:
        raise ValueError(f"a kernel check must come from one kernel set, these records come from {len(labels)}: "
                         f"{sorted(labels)}; retrain them in one go.")
    return labels.pop()


def checks_table(checks: dict) -> pd.DataFrame:
    """One row per kernel check: its label, the machine and kernels that computed it in full, and its run count."""
    from .published import provenance_table

    frames = [provenance_table(records).assign(check=label) for label, records in checks.items()]
    columns = ["check", "cpu", "kernels", "versions", "threads", "dates", "runs"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def _slug(label: str) -> str:
    """A directory name for a check's label."""
    return re.sub(r"[^A-Za-z0-9.=+-]+", "_", label).strip("_")


def main_grid_runs(preset: str | Preset) -> list[str]:
    """The run names of a preset's main grid (:meth:`spae_core.presets.Preset.main_specs`)."""
    return [spec.run_name for spec in load_preset(preset).main_specs()]


def add_check(retrained, published) -> tuple[str, int]:
    """Publish the records of ``retrained`` (a store) as a kernel check of ``published``; return its label and size.

    Every retrained run must have a published twin (same ``run_name``) and the check must come
    from other kernels than the published runs. An existing check with the same label is replaced.
    """
    retrained, published = Path(retrained), Path(published)
    records = load_records(retrained)
    if records.empty:
        raise FileNotFoundError(f"no finished runs in {retrained}: retrain them first (`make kernel-check`).")
    own = load_records(published)
    orphans = sorted(set(records["run_name"]) - set(own["run_name"]))
    if orphans:
        raise ValueError(f"{len(orphans)} run(s) of {retrained} are not published in {published}, e.g. {orphans[0]}: "
                         "a kernel check retrains published runs only.")
    label = check_label(records)
    if label == check_label(own.set_index("run_name").loc[records["run_name"]].reset_index()):
        raise ValueError(f"the runs in {retrained} were computed by the same kernels as the published ones ({label}): "
                         "set a kernel switch (see the README) or retrain on another machine.")
    target = published / CHECKS_DIR / _slug(label)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        for name in records["run_name"]:
            (staging / "runs" / name).mkdir(parents=True)
            shutil.copyfile(retrained / "runs" / name / "record.json", staging / "runs" / name / "record.json")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return label, len(records)


def load_checks(store) -> dict[str, pd.DataFrame]:
    """Every kernel check in ``store`` (or in a published store): label -> its run records."""
    checks = {}
    for path in sorted(Path(store).glob(f"{CHECKS_DIR}/*")):
        records = load_records(path)
        if records.empty:
            continue
        stale = records.loc[records.get("metrics_version", pd.Series(None, index=records.index)) != METRICS_VERSION,
                            "run_name"]
        if len(stale):
            raise ValueError(f"the kernel check in {path} holds {len(stale)} record(s) computed by other metric code "
                             f"than this version's (METRICS_VERSION {METRICS_VERSION}), e.g. {stale.iloc[0]}: "
                             "re-run `make kernel-check` with its switches.")
        checks[check_label(records)] = records
    return checks


def _covering(records: pd.DataFrame, check: pd.DataFrame, label: str) -> pd.DataFrame:
    """The check's twins of ``records``, in their order; an error naming what the check lacks."""
    missing = sorted(set(records["run_name"]) - set(check["run_name"]))
    if missing:
        raise ValueError(f"the kernel check {label!r} lacks {len(missing)} of these runs, e.g. {missing[0]}: "
                         "retrain the preset's main grid under its switches (`make kernel-check`).")
    return check.set_index("run_name").loc[records["run_name"]].reset_index()


def fragile_verdicts(records: pd.DataFrame, checks: dict) -> pd.DataFrame:
    """Every Figure 6 and claim verdict of ``records`` beside the same verdict from each kernel check.

    Parameters
    ----------
    records : DataFrame
        The main grid's run records, as published.
    checks : dict of label -> DataFrame
        :func:`load_checks`; each must hold a twin of every run in ``records``.

    Returns
    -------
    DataFrame
        ``kind`` (``Figure 6`` or ``claim``), ``item``, ``published``, one column per check (its
        verdict), and ``fragile``: the verdict differs under at least one check. Without checks,
        ``fragile`` is False throughout (nothing was measured) and :func:`with_kernel_checks` says so.
    """
    compared = {label: verdict_changes(records, _covering(records, check, label)) for label, check in checks.items()}
    # The published verdicts come with every comparison; without a check they are computed alone.
    first = next(iter(compared.values())) if compared else verdict_changes(records, records)
    base = first[["kind", "item", "published"]].copy()
    base["fragile"] = False
    for label, changes in compared.items():
        if not changes[["kind", "item"]].equals(base[["kind", "item"]]):
            raise ValueError(f"the kernel check {label!r} gives other Figure 6 cells or claims than the published runs.")
        base[label] = changes["reproduced"].to_numpy()
        base["fragile"] |= ~changes["same"].to_numpy(dtype=bool)
    return base


def count_fragile(fragility: pd.DataFrame, kind: str | None = None) -> int:
    """How many verdicts of :func:`fragile_verdicts` are fragile: all, or those of one ``kind`` (``Figure 6``, ``claim``)."""
    if kind is not None and kind not in ("Figure 6", "claim"):
        raise ValueError(f"kind must be 'Figure 6' or 'claim', got {kind!r}.")
    rows = fragility if kind is None else fragility[fragility["kind"] == kind]
    return int(rows["fragile"].sum())


def with_kernel_checks(table: pd.DataFrame, fragility: pd.DataFrame, kind: str) -> pd.DataFrame:
    """``table`` (Figure 6 or the claims) with a column ``under other kernels``: *same*, or *FRAGILE* and the other value.

    ``kind`` is ``"Figure 6"`` (rows keyed by ``dataset`` and ``metric``) or ``"claim"`` (by ``claim``).
    """
    if kind not in ("Figure 6", "claim"):
        raise ValueError(f"kind must be 'Figure 6' or 'claim', got {kind!r}.")
    rows = fragility[fragility["kind"] == kind].set_index("item")
    labels = [c for c in fragility.columns if c not in ("kind", "item", "published", "fragile")]
    items = (table["dataset"] + " / " + table["metric"]) if kind == "Figure 6" else table["claim"]

    def mark(item):
        if not labels:
            return "not checked (no kernel check in this store)"
        row = rows.loc[item]
        if not row["fragile"]:
            return f"same ({len(labels)} check{'s' if len(labels) > 1 else ''})"
        return "FRAGILE: " + "; ".join(f"{row[label]} under {label}" for label in labels if row[label] != row["published"])

    return table.assign(**{"under other kernels": [mark(item) for item in items]})


def _per_seed_cost(records: pd.DataFrame, dataset: str) -> float:
    """Seconds of training one more seed of the paper's losses on ``dataset`` costs, one run at a time."""
    runs = records[(records["dataset"] == dataset) & records["loss"].isin(PAPER_LOSSES)]
    return float(runs.groupby("loss")["run_seconds"].mean().sum())


def _pair_differences(frames, dataset: str, column: str, a: str, b: str) -> np.ndarray:
    """Per-seed ``a - b`` on ``dataset``, pooled over the published runs and the check's."""
    values = []
    for frame in frames:
        wide = frame[frame["dataset"] == dataset].pivot_table(index="seed", columns="loss", values=column)
        if a in wide and b in wide:
            d = (wide[a] - wide[b]).to_numpy(dtype=float)
            values.append(d[np.isfinite(d)])
    return np.concatenate(values) if values else np.array([])


def _deciding_pairs(records, check, kind: str, item: str, alpha: float):
    """The paired comparisons whose outcome moved, with their dataset, metric column and test size.

    Figure 6: the two bests when they differ, else the losses tied with the best on one side only
    (Holm's first step bounds their level by ``alpha / (k - 1)``). A claim: the units whose
    outcome moved, with each side's family representatives (level ``alpha / testable units``). Returns (dataset, column, a, b, level) tuples.
    """
    if kind == "Figure 6":
        dataset, label = item.split(" / ")
        column = FIGURE6_METRICS[label]
        # Figure 6 compares the paper's six losses only (spae_core.tables.figure6_table).
        cells = [frame[(frame["dataset"] == dataset) & frame["loss"].isin(PAPER_LOSSES)] for frame in (records, check)]
        sides = [paired_best(cell, column, alpha=alpha).iloc[0] for cell in cells]
        k = cells[0].loc[cells[0][column].notna(), "loss"].nunique()
        if sides[0]["best"] is None or sides[1]["best"] is None:
            return []
        if sides[0]["best"] != sides[1]["best"]:
            others = [(sides[0]["best"], sides[1]["best"])]
        else:
            others = [(sides[0]["best"], o) for o in sorted(set(sides[0]["tied"]) ^ set(sides[1]["tied"]))]
        return [(dataset, column, a, b, alpha / max(k - 1, 1)) for a, b in others]
    claim = next(c for c in CLAIMS if c.key == item)
    units = [claim_units(frame, claim, alpha) for frame in (records, check)]
    merged = units[0].merge(units[1], on=["dataset", "metric"], suffixes=("", "_check"))
    moved = merged[merged["outcome"] != merged["outcome_check"]]
    # Each side may pick other family representatives: both sides' comparisons are priced.
    pairs = {(r.dataset, r.metric, a, b) for r in moved.itertuples()
             for a, b in ((r.best_a, r.best_b), (r.best_a_check, r.best_b_check))}
    # Holm's family is the claim's testable units (spae_core.claims.claim_units).
    testable = int((units[0]["outcome"] != UNTESTABLE).sum())
    return [(*pair, alpha / max(testable, 1)) for pair in sorted(pairs)]


def seeds_to_settle(records: pd.DataFrame, checks: dict, fragility: pd.DataFrame, alpha: float = 0.05,
                    power: float = 0.8, n_jobs: int = 2, max_seeds: int = 1000) -> pd.DataFrame:
    """For each fragile verdict: how many seeds its deciding comparisons would need, and what they would cost.

    A verdict flips when a paired comparison sits near its significance threshold. For each
    comparison whose outcome moved (see :func:`_deciding_pairs`), the per-seed differences of the
    published runs and of the check are pooled (the best estimate of the true difference and its
    seed-to-seed spread we have) and :func:`spae_core.statistics.seeds_for_power` gives the
    seeds a paired t-test at that comparison's level needs to detect the pooled mean difference
    with probability ``power``. A difference near zero needs more than ``max_seeds``: the losses
    are tied at this precision and no affordable number of seeds settles the verdict.

    The cost is that of training the extra seeds of the paper's six losses on the dataset (each
    cell and claim unit compares them all), from the published runs' ``run_seconds``, ``n_jobs``
    runs at a time.

    Returns
    -------
    DataFrame
        One row per fragile verdict and check where it moved: ``kind``, ``item``, ``check``,
        ``comparison``, ``difference`` (pooled mean), ``sd``, ``seeds_needed`` (NaN when not a
        paired question, with ``note`` saying why; ``max_seeds + 1`` meaning more than
        ``max_seeds``), ``extra_seeds``, ``hours`` (wall-clock on ``n_jobs`` cores), ``note``.
    """
    seeds_now = int(records.groupby(["dataset", "loss"])["seed"].nunique().min())
    rows = []
    for _, row in fragility[fragility["fragile"]].iterrows():
        item, kind = row["item"], row["kind"]
        for label, check in checks.items():
            if row[label] == row["published"]:
                continue
            check = _covering(records, check, label)
            base = {"kind": kind, "item": item, "check": label, "dataset": item.split(" / ")[0] if kind == "Figure 6" else None}
            if kind == "claim" and item in _DERIVED_CLAIMS:
                rows.append({**base, "note": _DERIVED_CLAIMS[item]})
                continue
            pairs = _deciding_pairs(records, check, kind, item, alpha)
            if not pairs:
                rows.append({**base, "note": "the metric is undefined for a best loss on one side: not a matter of seeds"})
            for dataset, column, a, b, level in pairs:
                d = _pair_differences((records, check), dataset, column, a, b)
                if d.size < 2:
                    rows.append({**base, "dataset": dataset, "note": f"{column} is defined for both {a} and {b} in "
                                 f"{d.size} seed(s) only: not a matter of seeds"})
                    continue
                needed = seeds_for_power(d, level, power=power, max_seeds=max_seeds)
                extra = max(needed - seeds_now, 0) if needed <= max_seeds else np.nan
                rows.append({**base, "dataset": dataset, "comparison": f"{dataset} {column}: {a} - {b}",
                             "difference": float(d.mean()),
                             "sd": float(d.std(ddof=1)), "seeds_needed": needed, "extra_seeds": extra,
                             "hours": extra * _per_seed_cost(records, dataset) / n_jobs / 3600,
                             "note": f"more than {max_seeds} seeds: tied at this precision" if needed > max_seeds else ""})
    columns = ["kind", "item", "check", "dataset", "comparison", "difference", "sd", "seeds_needed", "extra_seeds",
               "hours", "note"]
    return pd.DataFrame(rows, columns=columns)


def _s(count) -> str:
    return "" if count == 1 else "s"


def settling_summary(settle: pd.DataFrame) -> str:
    """One line from :func:`seeds_to_settle`: how many fragile verdicts more seeds would settle, and at what cost.

    A verdict settles when every comparison that moved has a finite seed count; a dataset's extra
    seeds serve all its verdicts at once, so the cost is the largest per dataset, summed over datasets.
    """
    priced = settle.dropna(subset=["comparison"])
    if priced.empty:
        return "no fragile verdict rests on a paired comparison: nothing for more seeds to settle"
    per_verdict = priced.groupby(["kind", "item"], sort=False)["extra_seeds"].apply(lambda s: s.notna().all())
    settled = priced[priced.groupby(["kind", "item"], sort=False)["extra_seeds"].transform(lambda s: s.notna().all())]
    cost = settled.groupby("dataset")[["extra_seeds", "hours"]].max()
    line = f"{int(per_verdict.sum())} of {len(per_verdict)} fragile verdicts resting on paired comparisons would settle"
    if len(cost):
        line += (f" with {', '.join(f'{int(n)} more seed{_s(n)} on {d}' for d, n in cost['extra_seeds'].items())}"
                 f" (about {cost['hours'].sum():.1f} hours of training)")
    unsettled = len(per_verdict) - int(per_verdict.sum())
    if unsettled:
        line += f"; {unsettled} would not: the losses they compare are tied at this precision"
    return line


def retrain_main_grid(published, preset: str | Preset, store, n_jobs: int = 2) -> int:
    """Retrain the main grid of ``preset`` from ``published`` into ``store`` under this process's kernels."""
    names = main_grid_runs(preset)
    published_names = set(load_records(published)["run_name"])
    missing = sorted(set(names) - published_names)
    if missing:
        raise ValueError(f"{len(missing)} main-grid run(s) are not published in {published}, e.g. {missing[0]}: "
                         "`make publish` first.")
    retrain_stored(published, store, names, progress=True, n_jobs=n_jobs)
    return len(names)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spae_core.kernel_checks", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    retrain = commands.add_parser("retrain", help="retrain the preset's main grid under this environment's kernels")
    retrain.add_argument("published")
    retrain.add_argument("preset", help="the preset's name (spae_core/presets/<name>.yaml)")
    retrain.add_argument("store")
    add = commands.add_parser("add", help="publish a retrained store as a kernel check")
    add.add_argument("store")
    add.add_argument("published")
    args = parser.parse_args(argv)
    try:
        if args.command == "retrain":
            preset = load_preset(args.preset)
            count = retrain_main_grid(args.published, preset, args.store, n_jobs=preset.n_jobs)
            print(f"retrained {count} runs into {args.store}")
        else:
            label, count = add_check(args.store, args.published)
            print(f"published {count} runs as the kernel check {label!r} in {args.published}/{CHECKS_DIR}")
    except (OSError, ValueError) as error:
        print(f"{parser.prog} {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
