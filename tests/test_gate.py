"""`convcalc check` as a gate that cannot pass by mistake (issue 10): budgets files found from a single
file as from its directory, where the search stops, warnings only where a whole directory was checked,
non-spec YAML skipped, `--exclude`, the pre-commit hook run as pre-commit runs it, the budgets-file schema."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from convcalc.cli import app
from tests.conftest import invoke

ROOT = Path(__file__).resolve().parent.parent
NET = "input: {channels: 1, size: 4}\ndefaults: {bias: false}\nlayers:\n  - conv: {out: 10, kernel: 1}\n"  # 10 params


def run(cwd: Path, *args: str) -> Any:
    return invoke(list(args), cwd)


def limits(result: Any) -> dict[str, list[tuple[int, str]]]:
    """file → [(max_params limit, origin)] from `check --format json`."""
    data = json.loads(result.stdout)
    return {s["file"]: [(b["limit"], b["origin"]) for m in s["models"] for b in m["budgets"]] for s in data["specs"]}


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_single_file_gets_the_budgets_of_its_folder_and_the_folders_above(tmp_path: Path) -> None:
    tree(tmp_path, {".git/HEAD": "", "specs/budgets.yaml": "budgets:\n  '**/*.yaml': {max_params: 9}\n",
                    "specs/vision/budgets.yaml": "budgets:\n  'net.yaml': {max_params: 50}\n",
                    "specs/vision/net.yaml": NET})
    for target in ("specs/vision/net.yaml", "specs/vision", "specs"):
        result = run(tmp_path, "check", target, "--format", "json")
        assert result.exit_code == 1, (target, result.output)
        # the nearest file's 50 and the parent's 9: every limit must hold, the strictest applies
        assert limits(result) == {"specs/vision/net.yaml": [(9, "specs/budgets.yaml:2")]}, target
    assert run(tmp_path, "check", "specs/vision/net.yaml", "--no-discover").exit_code == 0  # no budget at all
    # from another directory, the paths are shown as given
    result = run(tmp_path / "specs", "check", "vision/net.yaml", "--format", "json")
    assert limits(result) == {"vision/net.yaml": [(9, "budgets.yaml:2")]}


def test_the_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    tree(tmp_path, {"budgets.yaml": "budgets:\n  '**/*.yaml': {max_params: 1}\n",  # above the repository
                    "repo/.git/HEAD": "", "repo/specs/net.yaml": NET})
    result = run(tmp_path / "repo", "check", "specs/net.yaml", "--format", "json")
    assert result.exit_code == 0 and limits(result) == {"specs/net.yaml": []}
    # outside any repository: up to the current directory when the spec is below it, no further
    tree(tmp_path, {"plain/budgets.yaml": "budgets:\n  '**/*.yaml': {max_params: 5}\n", "plain/a/b/net.yaml": NET})
    result = run(tmp_path / "plain", "check", "a/b/net.yaml", "--format", "json")
    assert result.exit_code == 1 and limits(result) == {"a/b/net.yaml": [(5, "budgets.yaml:2")]}
    result = run(tmp_path / "plain" / "a", "check", "b/net.yaml", "--format", "json")
    assert result.exit_code == 0 and limits(result) == {"b/net.yaml": []}


def test_a_found_budgets_file_governs_only_the_specs_below_it(tmp_path: Path) -> None:
    tree(tmp_path, {".git/HEAD": "", "a/budgets.yaml": "budgets:\n  '*.yaml': {max_params: 1}\n",
                    "a/net.yaml": NET, "b/net.yaml": NET})
    result = run(tmp_path, "check", "a", "b", "--format", "json")
    assert limits(result) == {"a/net.yaml": [(1, "a/budgets.yaml:2")], "b/net.yaml": []}
    # named with --budgets, it governs every spec its patterns match
    result = run(tmp_path, "check", "b/net.yaml", "--budgets", "a/budgets.yaml", "--format", "json")
    assert limits(result) == {"b/net.yaml": [(1, "a/budgets.yaml:2")]}


def test_unmatched_patterns_warn_only_when_a_directory_was_checked(tmp_path: Path) -> None:
    tree(tmp_path, {".git/HEAD": "", "specs/net.yaml": NET, "specs/other.yaml": NET,
                    "specs/budgets.yaml": "budgets:\n  net.yaml: {max_params: 100}\n  gone.yaml: {max_params: 1}\n"})
    single = run(tmp_path, "check", "specs/net.yaml")
    assert single.exit_code == 0 and "warning" not in single.stderr
    several = run(tmp_path, "check", "specs/net.yaml", "specs/other.yaml")
    assert several.exit_code == 0 and "warning" not in several.stderr
    whole = run(tmp_path, "check", "specs")
    assert whole.exit_code == 0
    assert whole.stderr == ("warning: specs/budgets.yaml:3:14: budgets.gone.yaml: the pattern matches no checked spec\n"
                            "  hint: patterns are relative to the budgets file's directory\n")


def test_non_spec_yaml_in_a_directory_is_skipped_and_listed(tmp_path: Path) -> None:
    tree(tmp_path, {".git/HEAD": "", "specs/net.yaml": NET,
                    "specs/data/coco.yaml": "path: ../datasets/coco\ntrain: images/train2017\nnames: {0: person}\n",
                    "specs/train.yaml": "- epochs: 300\n", "specs/empty.yaml": "",
                    "specs/typo.yaml": "input: {channels: 1, size: 4}\nlayer: []\n"})  # a spec with a mistake
    result = run(tmp_path, "check", "specs", "--format", "json")
    assert result.exit_code == 2  # the broken spec is still an error: only files with no spec key are skipped
    data = json.loads(result.stdout)
    assert [s["file"] for s in data["specs"]] == ["specs/net.yaml", "specs/typo.yaml"]
    assert data["skipped"] == [
        {"file": "specs/empty.yaml", "reason": "empty"},
        {"file": "specs/train.yaml", "reason": "a YAML list, not a mapping"},
        {"file": "specs/data/coco.yaml", "reason": "no `input:`, `layers:`, `alternatives:` or `blocks:` key"}]
    assert data["summary"]["skipped"] == 3
    assert "skipped specs/data/coco.yaml: not a convcalc spec (no `input:`" in result.stderr
    assert "--exclude GLOB leaves files out" in result.stderr
    # --exclude: a directory anywhere, a file name, a path
    result = run(tmp_path, "check", "specs", "-x", "data/", "-x", "*.yml", "--exclude", "specs/t*.yaml",
                 "--exclude", "empty.yaml", "--format", "json")
    data = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert [s["file"] for s in data["specs"]] == ["specs/net.yaml"] and data["skipped"] == []
    # a file named on the command line is always taken as a spec
    assert run(tmp_path, "check", "specs/data/coco.yaml").exit_code == 2


def test_a_budgets_file_with_another_name_found_in_a_directory_warns(tmp_path: Path) -> None:
    tree(tmp_path, {".git/HEAD": "", "specs/net.yaml": NET, "specs/limits.yaml": "budgets:\n  net.yaml: {max_params: 5}\n"})
    result = run(tmp_path, "check", "specs")
    assert result.exit_code == 1
    assert ("warning: specs/limits.yaml:1:1: budgets: a budgets file found in a checked directory: a check of a single spec "
            "(as pre-commit runs) does not look for it\n  hint: name it budgets.yaml, or pass it with --budgets\n"
            ) in result.stderr


def test_rf_at_suggests_the_full_name(tmp_path: Path) -> None:
    tree(tmp_path, {".git/HEAD": "", "net.yaml": "input: {channels: 1, size: 16}\nlayers:\n"
                    "  - sequence: {name: fpn3, body: [conv: {out: 2, kernel: 3, name: P4}]}\n"})
    result = run(tmp_path, "check", "net.yaml", "--rf-at", "P4", "--min-rf", "3")
    assert result.exit_code == 2
    assert "--rf-at: model 'net' has no layer or block named 'P4'\n  hint: did you mean 'fpn3/P4'? (names are full " \
           "paths)" in result.stderr
    assert run(tmp_path, "check", "net.yaml", "--rf-at", "fpn3/P4", "--min-rf", "3").exit_code == 0


def test_budgets_file_schema_covers_the_bundled_files() -> None:
    schema = json.loads(CliRunner().invoke(app, ["schema", "--budgets"]).stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    for f in (ROOT / "specs" / "budgets.yaml", ROOT / "tests" / "fixtures" / "check" / "limits.yaml"):
        jsonschema.validate(yaml.safe_load(f.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"budgets": {"a.yaml": {"max_param": "5M"}}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"budget": {}}, schema)


# --- the pre-commit hook, run the way pre-commit runs it ----------------------------------------------------------


def hook_command(files: list[str]) -> list[str]:
    """The hook's entry plus its args and the file names, as pre-commit builds the command line."""
    hook = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())[0]
    assert hook["id"] == "convcalc-check" and hook["language"] == "python"
    entry = shlex.split(hook["entry"])
    assert entry[0] == "convcalc"
    return [sys.executable, "-m", "convcalc", *entry[1:], *hook.get("args", []), *files]


def test_the_pre_commit_hook_fails_a_commit_over_its_folders_budget(tmp_path: Path) -> None:
    import re

    hook = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())[0]
    files_re = re.compile(hook["files"])
    tree(tmp_path, {".git/HEAD": "", "specs/budgets.yaml": "budgets:\n  'small/*.yaml': {max_params: 9}\n",
                    "specs/small/net.yaml": NET, "specs/small/ok.yaml": NET.replace("out: 10", "out: 5"),
                    "specs/big.yaml": NET})
    staged = ["specs/small/net.yaml", "specs/small/ok.yaml", "specs/big.yaml", "README.md"]
    selected = [f for f in staged if files_re.search(f)]
    assert selected == staged[:3]

    def hook_run(files: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(hook_command(files), cwd=tmp_path, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "COLUMNS": "200"})

    one = hook_run(["specs/small/net.yaml"])  # one file at a time
    assert one.returncode == 1, one.stdout + one.stderr
    assert "max_params" in one.stdout and "FAIL" in one.stdout
    assert hook_run(["specs/small/ok.yaml"]).returncode == 0
    assert hook_run(["specs/big.yaml"]).returncode == 0  # no pattern governs it
    several = hook_run(selected)  # several files at once
    assert several.returncode == 1 and "specs/small/net.yaml" in several.stdout
