"""The docs cannot rot: README examples are re-run, every command is documented, every spec validates."""

from __future__ import annotations

import csv
import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from convcalc.cli import app
from convcalc.outputs.schema import spec_schema
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
ALL_SPECS = sorted(p for p in [*ROOT.glob("specs/**/*.yaml"), *ROOT.glob("convcalc/zoo/*.yaml")]
                   if p.name != "budgets.yaml")


def console_examples() -> list[tuple[str, str]]:
    """(command, expected output) for every ```console block of the README."""
    out = []
    for block in re.findall(r"```console\n(.*?)```", README, re.S):
        lines = block.splitlines()
        assert lines[0].startswith("$ convcalc ")
        out.append((lines[0][2:], "\n".join(lines[1:])))
    return out


@pytest.mark.parametrize("command,expected", console_examples())
def test_readme_examples_are_real_output(command: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, shlex.split(command)[1:])
    actual = result.stdout + result.stderr

    def norm(s: str) -> list[str]:
        return [line.rstrip() for line in s.strip("\n").splitlines()]

    assert norm(actual) == norm(expected)


def test_quickstart_is_exactly_two_commands() -> None:
    block = README.split("<!-- quickstart:start -->")[1].split("<!-- quickstart:end -->")[0]
    commands = [line for line in block.splitlines() if line.startswith("python ")]
    assert len(commands) == 2
    assert "compare specs/seed/" in commands[0]
    assert "[test]" in commands[1] and "pytest" in commands[1]


def test_every_command_is_documented() -> None:
    import typer.main

    group = typer.main.get_command(app)
    for name in group.commands:  # type: ignore[attr-defined]
        assert f"`convcalc {name}" in README, name


def test_readme_zoo_table_matches_the_reference_and_the_tool() -> None:
    ref = {r["model"]: r for r in csv.DictReader((ROOT / "tests" / "data" / "torchvision-zoo.csv").open())}
    table = README.split("<!-- zoo-table:start -->")[1].split("<!-- zoo-table:end -->")[0]
    rows = [r for r in table.splitlines() if r.startswith("| `")]
    assert len(rows) == len(ref) == 16
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        name = cells[0].strip("`")
        assert int(cells[2].replace(",", "")) == int(ref[name]["params"])
        assert int(cells[3].replace(",", "")) == int(ref[name]["macs"])
        assert cells[4] == ref[name]["torchvision_gflops_label"]


def test_readme_family_table_matches_the_reference_and_the_tool() -> None:
    from convcalc.lang.sources import zoo_document, zoo_names
    from convcalc.metrics.analysis import analyze_document

    ref: dict[str, dict[str, str]] = {}
    for r in csv.DictReader((ROOT / "tests" / "data" / "torchvision-modern.csv").open()):
        if r["input_h"] == r["input_w"] and r["input_h"] != "160" and not r["model"].startswith("mobilenet_v2_w"):
            ref.setdefault(r["model"], r)  # a model's first row: its default weights' size
    table = README.split("<!-- zoo2-table:start -->")[1].split("<!-- zoo2-table:end -->")[0]
    rows = [r for r in table.splitlines() if r.startswith("| `")]
    old = {r["model"] for r in csv.DictReader((ROOT / "tests" / "data" / "torchvision-zoo.csv").open())}
    yolo = {n for n in zoo_names() if n.startswith("yolo")}  # (their table is YOLO's, tests/test_ultralytics.py)
    assert sorted(r.split("`")[1] for r in rows) == sorted(set(zoo_names()) - old - yolo)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        name = cells[0].strip("`")
        (report,) = analyze_document(zoo_document(name))
        assert int(cells[2].replace(",", "")) == report.params == int(ref[name]["params"]), name
        assert int(cells[3].replace(",", "")) == report.macs, name
        assert any(int(r["macs"]) == report.macs for r in csv.DictReader(
            (ROOT / "tests" / "data" / "torchvision-modern.csv").open()) if r["model"] == name), name


@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bundled_spec_validates_against_the_schema(path: Path) -> None:
    import yaml

    jsonschema.validate(yaml.safe_load(path.read_text()), spec_schema())


def test_schema_rejects_unknown_keys() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"input": {"channels": 1, "size": 4}, "layers": ["relu"], "bogus": 1}, spec_schema())


def test_changelog_has_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text


def test_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(spec_schema())
    assert json.loads(json.dumps(spec_schema())) == spec_schema()


def test_the_readme_test_command_installs_no_framework() -> None:
    """The default test install is light (issue 10): torch is only in the crosscheck extra, pinned to the
    version the README names, and the torch extra brings NumPy."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert not [r for r in extras["test"] if re.match(r"(torch|torchvision|nvidia|triton)\b", r)]
    pins = [r for r in extras["crosscheck"] if r.startswith("torch")]
    assert pins == ["torch==2.13.0"]
    assert "python -m pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in README
    assert any(r.startswith("numpy") for r in extras["torch"])
