"""The conda environment and the pip project pin the same versions, and torch is pinned exactly."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(requirements):
    pins = {}
    for requirement in requirements:
        name, sep, version = requirement.partition("==")
        assert sep, f"{requirement!r} is not pinned with =="
        pins[name.strip().lower()] = version.strip()
    return pins


def _pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return _pins(requirements)


def _environment_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict) and "pip" in item)
    return _pins(r for r in pip_section if not r.startswith("-e"))


def test_environment_yml_matches_pyproject():
    assert _environment_pins() == _pyproject_pins()


def test_torch_is_pinned_exactly():
    # An unpinned torch pulls a multi-GB CUDA build on machines without the local CPU wheel.
    assert _pyproject_pins()["torch"] == "2.13.0"


def test_environment_python_matches_requires_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11" and python == "python=3.11"


def test_the_readme_opens_with_the_command_line_and_a_cuda_install_of_the_pinned_torch():
    lines = (ROOT / "README.md").read_text().splitlines()
    first_screen = "\n".join(lines[:70])
    assert "spae compare" in first_screen and "spae fit" in first_screen
    torch_pin = _pyproject_pins()["torch"]
    cuda = [line for line in lines if "download.pytorch.org/whl/cu" in line]
    assert cuda, "the README says how to install a CUDA build of torch"
    assert all(f"torch=={torch_pin} " in line for line in cuda), "the CUDA install names the pinned torch version"


def test_the_spae_command_is_a_console_script_of_the_package():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"spae": "spae_core.cli:main"}
