"""Lint of the publishing workflow (.github/workflows/book.yml): it parses, runs only Makefile
targets that exist, pins every action it uses to a version, and may deploy to GitHub Pages."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
# A version tag (v4, v4.2.2) or a full commit SHA; never a branch such as @main.
# make's options whose value is the next word (e.g. `make -o .venv/.installed-stamp book`).
OPTIONS_WITH_VALUE = {"-o", "-f", "-C", "-I", "-W", "--old-file", "--file", "--directory", "--include-dir", "--what-if"}
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")


def makefile_targets(makefile: Path) -> set[str]:
    """Targets defined in ``makefile``: names before a single ``:`` at the start of a rule line
    (variable assignments such as ``X := y`` or ``X ?= y`` excluded)."""
    targets = set()
    for line in makefile.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.%/$()-][^:=#\s]*(?:\s+[^:=#\s]+)*)\s*:(?![:=])", line)
        if match and not line.startswith(("\t", " ")):
            targets.update(match.group(1).split())
    return targets


def make_targets_run(command: str) -> list[str]:
    """The targets of every ``make`` call in a shell ``command`` (options and VAR=value skipped)."""
    targets = []
    for line in command.splitlines():
        words = shlex.split(line, comments=True)
        for start, word in enumerate(words):
            if word != "make":
                continue
            arguments = iter(words[start + 1:])
            for argument in arguments:
                if argument in {"&&", "||", ";", "|"}:
                    break
                if argument in OPTIONS_WITH_VALUE:
                    next(arguments, None)
                elif not argument.startswith("-") and "=" not in argument:
                    targets.append(argument)
    return targets


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_makefile_targets_finds_rules_and_skips_assignments(tmp_path):
    makefile = tmp_path / "Makefile"
    makefile.write_text("X := 1\nY ?= 2\n.PHONY: a b\na b: c\n\techo a\nc:\n\ttrue\nz::\n\ttrue\n")
    assert makefile_targets(makefile) == {".PHONY", "a", "b", "c"}


def test_make_targets_run_skips_options_and_variables():
    command = 'make -o stamp book PRESET=ci BASE_URL="https://x.github.io/spae/" && make test\necho make'
    assert make_targets_run(command) == ["book", "test"]


def test_workflow_parses_and_runs_on_push_to_main_and_by_hand(workflow):
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    triggers = workflow.get("on", workflow.get(True))
    assert triggers["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in triggers


def test_every_make_target_the_workflow_runs_exists(workflow):
    run = [target for step in steps(workflow) if "run" in step for target in make_targets_run(step["run"])]
    assert "book" in run
    missing = sorted(set(run) - makefile_targets(ROOT / "Makefile"))
    assert not missing, f"the workflow runs make targets the Makefile lacks: {missing}"


def test_the_workflow_sets_the_sites_base_url(workflow):
    runs = " ".join(step.get("run", "") for step in steps(workflow))
    assert "BASE_URL=" in runs
    assert re.search(r"^BASE_URL \?=", (ROOT / "Makefile").read_text(), re.MULTILINE)


def test_every_action_is_pinned_to_a_version(workflow):
    used = [step["uses"] for step in steps(workflow) if "uses" in step]
    assert used
    unpinned = [action for action in used if not PINNED.match(action)]
    assert not unpinned, f"actions not pinned to a version tag or commit: {unpinned}"


def test_the_book_is_uploaded_and_deployed_with_pages_permissions(workflow):
    jobs = workflow["jobs"]
    uploads = [step for job in jobs.values() for step in job["steps"]
               if step.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert [step["with"]["path"] for step in uploads] == ["_build/html"]
    deploying = [job for job in jobs.values()
                 if any(step.get("uses", "").startswith("actions/deploy-pages@") for step in job["steps"])]
    assert len(deploying) == 1
    permissions = {**workflow.get("permissions", {}), **deploying[0].get("permissions", {})}
    assert permissions.get("pages") == "write" and permissions.get("id-token") == "write"
    assert deploying[0]["environment"]["name"] == "github-pages"
