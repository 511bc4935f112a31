"""Where and with what a run was computed: the machine, its kernels, the package versions.

Float results depend on more than the code: on the CPU's vector width (torch picks kernels by CPU
capability), on MKL's and OpenBLAS's code paths, on the thread count. Every stored run carries
this provenance, so a reader can see what produced a published number, and a reproduction on
another machine can say how its machine differed.
"""

from __future__ import annotations

import datetime
import os
import platform

import numpy as np

from . import __version__

__all__ = ["KERNEL_SWITCHES", "cpu_model", "machine_provenance", "package_versions"]

#: Environment variables that make this machine compute the way other CPUs do (see the README):
#: torch's kernel choice, MKL's GEMM code path, OpenBLAS's core type.
KERNEL_SWITCHES = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "OPENBLAS_CORETYPE")


def package_versions() -> dict:
    """Versions of the packages a run depends on, recorded with every run."""
    import pandas as pd
    import scipy
    import sklearn
    import torch

    return {"spae": __version__, "torch": torch.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__, "pandas": pd.__version__, "python": platform.python_version()}


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``sysctl`` on macOS), or the platform's guess."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        import subprocess

        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                  timeout=5).stdout.strip() or platform.processor()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()


def _blas_libraries() -> list[str]:
    """The BLAS/OpenMP libraries loaded in this process, as 'api version (architecture, threads)'."""
    from threadpoolctl import threadpool_info

    described = []
    for info in threadpool_info():
        if info.get("user_api") != "blas":
            continue
        text = f"{info.get('internal_api')} {info.get('version') or '?'}"
        if info.get("architecture"):
            text += f" ({info['architecture']})"
        described.append(text)
    return sorted(set(described))


def _mkl_version() -> str | None:
    import torch

    if not torch.backends.mkl.is_available():
        return None
    for line in torch.__config__.show().splitlines():
        if "Math Kernel Library Version" in line:
            return line.split("Version", 1)[1].strip().split(" ")[0]
    return "available"


def machine_provenance() -> dict:
    """The machine, kernels, versions and threads of this process, and the date (UTC).

    Returns
    -------
    dict
        ``cpu``, ``machine`` (architecture), ``os``, ``cpu_capability`` (the vector kernels torch
        uses: ``DEFAULT``, ``AVX2``, ``AVX512``, ...), ``mkl`` (torch's MKL version, or None
        where torch has none, as on ARM), ``blas`` (the BLAS libraries numpy/scipy loaded, with
        their kernel architecture), ``kernel_switches`` (those of :data:`KERNEL_SWITCHES` set in
        the environment), ``torch_threads``, ``cpu_count``, ``versions``
        (:func:`package_versions`) and ``date``.
    """
    import torch

    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkl": _mkl_version(),
        "blas": _blas_libraries(),
        "kernel_switches": {name: os.environ[name] for name in KERNEL_SWITCHES if os.environ.get(name)},
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "versions": package_versions(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
    }
