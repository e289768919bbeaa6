"""The command line: formats, exit codes, stdout/stderr separation, --version, python -m convcalc."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from convcalc import __version__
from convcalc.cli import app
from convcalc.outputs.render import SCHEMA_VERSION
from tests.conftest import ROOT

SEED = str(ROOT / "specs" / "seed")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_issue_done_when_example() -> None:
    code, out, err = run("compare", f"{SEED}/stack-5x5.yaml", "--format", "json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["schema_version"] == SCHEMA_VERSION == 2
    assert [a["params"] for a in doc["alternatives"]] == [2500, 1800]
    assert [a["rf"] for a in doc["alternatives"]] == [[5, 5], [5, 5]]


def test_json_minimal_keys() -> None:
    code, out, _ = run("show", f"{SEED}/grouped.yaml", "--format", "json")
    doc = json.loads(out)
    alt = doc["models"][1]
    for key in ("name", "params", "macs", "flops", "output_shape", "rf", "layers"):
        assert key in alt
    layer = alt["layers"][0]
    for key in ("name", "type", "output_shape", "params", "macs", "rf", "stride", "padding"):
        assert key in layer
    assert layer["params"] == 600 and layer["output_shape"] == [6, 1, 1]
    code, out, _ = run("rf", f"{ROOT}/specs/rf/vgg.yaml", "--format", "json")
    doc = json.loads(out)
    [model] = doc["models"]
    assert doc["schema_version"] == SCHEMA_VERSION and model["name"]
    assert isinstance(model["layers"], list) and isinstance(model["blocks"], list)


def test_csv_is_exact_and_parseable() -> None:
    code, out, _ = run("compare", f"{SEED}/depthwise-separable.yaml", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["params"]) for r in rows[:2]] == [2359296, 266752]
    assert [int(r["macs"]) for r in rows[:2]] == [462422016, 52283392]
    code, out, _ = run("show", f"{SEED}/asymmetric.yaml", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["macs"]) for r in rows] == [81, 45, 27]
    code, out, _ = run("rf", f"{SEED}/stack-7x7.yaml", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[-1]["rf_h"] == "7" and rows[-1]["rf_w"] == "7"


def test_markdown_and_table_and_exact() -> None:
    code, out, _ = run("compare", f"{SEED}/same-channels.yaml", "--format", "markdown", "--exact")
    assert code == 0
    assert "| two 3x3 | 73,728 | 0.72× |" in out
    code, out, _ = run("show", f"{SEED}/same-channels.yaml")
    assert code == 0 and "73.7K" in out
    code, out, _ = run("show", f"{SEED}/same-channels.yaml", "--exact")
    assert "73,728" in out


def test_bad_spec_exit_2_stderr_only(tmp_path: pytest.TempPathFactory) -> None:
    bad = tmp_path / "bad.yaml"  # type: ignore[operator]
    bad.write_text("input: {channels: 1, size: 4}\nlayers:\n  - conv: {out: 1, kernel: 9}\n")
    code, out, err = run("show", str(bad), "--format", "json")
    assert code == 2
    assert out == ""
    assert err.startswith(f"{bad}:3:11: layers[0].conv: layer 'conv1' (conv) on input 1×4×4: kernel extent 9")
    assert "Traceback" not in err


def test_missing_file_and_unknown_zoo_name() -> None:
    code, out, err = run("show", "resnet5")
    assert code == 2 and out == ""
    assert "no such file, and no zoo model of that name" in err and "did you mean 'resnet50'?" in err
    code, out, err = run("show", "nowhere/x.yaml")
    assert code == 2 and "nowhere/x.yaml:1:1: (document): no such file" in err


def test_usage_error_exit_2() -> None:
    code, _, _ = run("show", f"{SEED}/grouped.yaml", "--format", "xml")
    assert code == 2


def test_version_and_help() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out == f"convcalc {__version__}\n"
    code, out, _ = run("--help")
    assert code == 0
    for command in ("show", "compare", "rf", "zoo", "schema"):
        assert command in out


def test_python_dash_m() -> None:
    p = subprocess.run([sys.executable, "-m", "convcalc", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0 and p.stdout == f"convcalc {__version__}\n"


def test_zoo_by_name_and_listing() -> None:
    code, out, _ = run("compare", "resnet50", "mobilenet_v2", "--format", "json")
    doc = json.loads(out)
    assert [a["params"] for a in doc["alternatives"]] == [25557032, 3504872]
    code, out, _ = run("zoo", "--format", "csv")
    from convcalc.lang.sources import zoo_names

    assert len(out.strip().splitlines()) == 1 + len(zoo_names()) and len(zoo_names()) >= 31


def test_schema_command_prints_json_schema() -> None:
    code, out, _ = run("schema")
    doc = json.loads(out)
    assert doc["$schema"].startswith("https://json-schema.org/")


def test_import_does_not_import_typer_or_rich() -> None:
    code = "import convcalc, sys; convcalc.analyze_file('specs/seed/stem.yaml'); " \
           "print(sorted(m for m in ('typer', 'rich', 'torch', 'click') if m in sys.modules))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.stdout.strip() == "[]", p.stderr
