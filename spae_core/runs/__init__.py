"""The experiment grid in three modules, bottom to top.

- :mod:`spae_core.runs.spec`: what a run is (:class:`~spae_core.runs.spec.RunSpec`, its key and
  name, the grids of specs, the rows a run keeps).
- :mod:`spae_core.runs.store`: where runs live on disk (atomic writes, reading records, specs,
  histories and distributions back, the stale-record and training-off checks).
- :mod:`spae_core.runs.runner`: training and evaluating runs (one, a joblib grid, a retrain of
  stored runs).

:mod:`spae_core.experiments` re-exports their public names; the spec and the store never import
the runner.
"""
