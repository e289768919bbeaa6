"""The GitHub Actions recipe in docs/ci.md (and README.md's CI section, once it is there) runs as written.

The recipe is the YAML between ``<!-- ci-recipe:start -->`` and ``<!-- ci-recipe:end -->``. Its ``run:``
steps are executed the way GitHub runs them (``bash --noprofile --norc -eo pipefail``) in the repository
root, with ``convcalc`` on PATH (this checkout) and ``pip`` replaced by a recorder, against the bundled
specs; ``$GITHUB_STEP_SUMMARY`` is a temporary file. So the recipe cannot rot.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- ci-recipe:start -->", "<!-- ci-recipe:end -->"
GITHUB_LINE = re.compile(r"^::(error|warning|notice)( [a-z]+=[^,:]*(,[a-z]+=[^,:]*)*)?::.+$")


def recipe(path: Path) -> dict[str, Any] | None:
    """The workflow between the markers of a Markdown file (None when the file has no markers)."""
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    if START not in text:
        return None
    block = text.split(START, 1)[1].split(END, 1)[0]
    fence = re.search(r"```ya?ml\n(.*?)```", block, re.S)
    assert fence, f"{path.name}: no ```yaml block between the ci-recipe markers"
    workflow = yaml.safe_load(fence.group(1))
    assert isinstance(workflow, dict)
    return workflow


def run_steps(workflow: dict[str, Any]) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


SOURCES = [ROOT / "docs" / "ci.md", ROOT / "README.md"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_recipe_is_a_workflow(source: Path) -> None:
    workflow = recipe(source)
    if workflow is None:
        if source.name == "README.md":
            pytest.skip("README.md has no CI recipe between the markers yet")
        pytest.fail(f"{source.name} has no CI recipe between {START} and {END}")
    assert workflow is not None
    assert workflow.get("jobs"), "a workflow needs jobs"
    for job in workflow["jobs"].values():
        assert "runs-on" in job and job["steps"]
        uses = [s.get("uses", "") for s in job["steps"]]
        assert any(u.startswith("actions/checkout@") for u in uses), "check out the repository first"
    script = "\n".join(run_steps(workflow))
    assert re.search(r"\bpip install \"convcalc @ git\+https://", script)
    assert re.search(r"\bconvcalc check specs/ .*--format github", script)
    assert "$GITHUB_STEP_SUMMARY" in script


@pytest.mark.skipif(shutil.which("bash") is None, reason="GitHub runs steps with bash")
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_recipe_runs(source: Path, tmp_path: Path) -> None:
    workflow = recipe(source)
    if workflow is None:
        pytest.skip(f"{source.name} has no CI recipe yet")
    assert workflow is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "convcalc").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m convcalc "$@"\n')
    (bin_dir / "pip").write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path / "pip.log"}"\n')
    for shim in bin_dir.iterdir():
        shim.chmod(0o755)
    summary = tmp_path / "summary.md"
    summary.touch()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"}
    outputs = []
    for script in run_steps(workflow):
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"step failed ({done.returncode}):\n{script}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    assert "install convcalc @ git+https://" in (tmp_path / "pip.log").read_text()
    annotations = [line for out in outputs for line in out.splitlines() if line.startswith("::")]
    assert annotations, "the check step writes workflow commands"
    assert all(GITHUB_LINE.match(line) for line in annotations), annotations
    assert not any(line.startswith("::error") for line in annotations), annotations
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## convcalc check") and "all budgets hold" in text
