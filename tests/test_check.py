"""`convcalc check`: exact limits, budget precedence, exit codes 0/1/2 and every output format."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from convcalc.ci.budget import parse_value
from convcalc.ci.gate import check
from convcalc.outputs.ci_render import gh_command, gh_data, gh_property
from convcalc.units import UnitError, parse_bytes, parse_count, parse_pair, parse_percent
from tests.conftest import invoke

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "check"
GITHUB_LINE = re.compile(r"^::(error|warning|notice)( [a-z]+=[^,:]*(,[a-z]+=[^,:]*)*)?::.+$")


def run(*args: str, cwd: Path = ROOT) -> Any:
    return invoke(list(args), cwd)


def fx(name: str) -> str:
    return f"tests/fixtures/check/{name}"


def as_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = run("check", *args, "--format", "json")
    return result.exit_code, json.loads(result.stdout)


def budgets_of(data: dict[str, Any], file_end: str, model: str) -> dict[str, dict[str, Any]]:
    for spec in data["specs"]:
        if spec["file"].endswith(file_end):
            for m in spec["models"]:
                if m["name"] == model:
                    return {b["key"] + (f"[{b['axis']}]" if b["axis"] else ""): b for b in m["budgets"]}
    raise AssertionError(f"{file_end} / {model} not in the output")


# --- exact units ------------------------------------------------------------------------------------------------


def test_si_counts_are_exact() -> None:
    assert parse_count("1.5G") == 1_500_000_000
    assert parse_count("5M") == 5_000_000
    assert parse_count("600M") == 600_000_000
    assert parse_count("0.001G") == 1_000_000
    assert parse_count("1.2345M") == 1_234_500
    assert parse_count("5,000,000") == parse_count("5_000_000") == 5_000_000
    assert parse_count("2.5k") == 2_500
    assert parse_count("3T") == 3 * 10**12
    assert parse_count("1e-3K") == 1
    # a float would give 4.35 * 10**9 = 4349999999.999999: the parse is exact
    assert parse_count("4.35G") == 4_350_000_000


@pytest.mark.parametrize("text", ["1.2345K", "1.5", "0.5", "1e-4K", "-5M", "5Mi", "5MB", "abc", "", "1/3", "1e999K"])
def test_counts_rejected(text: str) -> None:
    with pytest.raises(UnitError):
        parse_count(text)


def test_count_rejection_says_why() -> None:
    with pytest.raises(UnitError) as e:
        parse_count("1.2345K")
    assert e.value.message == "'1.2345K' is 1234.5, not a whole number of units"
    with pytest.raises(UnitError) as e:
        parse_count("5MiB")
    assert "binary units (KiB, MiB) are for byte limits" in e.value.hint


def test_bytes_decimal_and_binary() -> None:
    assert parse_bytes("512MiB") == 536_870_912 == 512 * 2**20
    assert parse_bytes("1KiB") == 1024
    assert parse_bytes("1KB") == 1000
    assert parse_bytes("1K") == 1000
    assert parse_bytes("1.5GiB") == 1_610_612_736
    assert parse_bytes("64B") == 64
    assert parse_bytes("100") == 100
    assert parse_bytes("0.5KiB") == 512
    for bad in ("1.5B", "1Kb", "1KiBB", "0.1KiB"):
        with pytest.raises(UnitError):
            parse_bytes(bad)


def test_pairs_and_percentages() -> None:
    assert parse_pair("200") == (200, 200)
    assert parse_pair("200x100") == parse_pair("200×100") == parse_pair("200, 100") == (200, 100)
    assert parse_percent("5%") == parse_percent("5") == 5
    assert parse_percent("0.5%") == Fraction(1, 2)
    for bad in ("0", "2x", "axb"):
        with pytest.raises(UnitError):
            parse_pair(bad)
    with pytest.raises(UnitError):
        parse_percent("-1%")


def test_yaml_budget_values() -> None:
    assert parse_value("max_params", 5_000_000) == 5_000_000
    assert parse_value("max_params", "1.5G") == 1_500_000_000
    assert parse_value("max_params", 1.5e9) == 1_500_000_000  # an integral YAML float is accepted exactly
    assert parse_value("max_activation_bytes", "512MiB") == 536_870_912
    assert parse_value("min_rf", [200, 100]) == (200, 100)
    assert parse_value("min_rf", 200) == (200, 200)
    assert parse_value("rf_at", "layer4") == "layer4"
    for key, bad in (("max_params", True), ("max_params", 1.5), ("max_params", -1), ("min_rf", [200]),
                     ("min_rf", [0, 1]), ("min_rf", True), ("max_macs", None), ("max_macs", [1])):
        with pytest.raises(UnitError):
            parse_value(key, bad)


# --- exit codes -------------------------------------------------------------------------------------------------


def test_exit_0_within_budget() -> None:
    result = run("check", fx("within.yaml"))
    assert result.exit_code == 0, result.output
    assert "7 limits checked on 1 model in 1 spec: 0 exceeded, 7 within budget" in result.stdout


def test_exit_1_names_spec_metric_limit_actual_overshoot() -> None:
    code, data = as_json(fx("exceeds.yaml"))
    assert code == 1 and data["exit_code"] == 1
    b = budgets_of(data, "exceeds.yaml", "exceeds")
    assert (b["max_params"]["limit"], b["max_params"]["actual"], b["max_params"]["passed"]) == (2000, 2736, False)
    assert b["max_params"]["overshoot_percent"] == 36.8  # (2736 - 2000) / 2000
    assert (b["max_macs"]["limit"], b["max_macs"]["actual"]) == (1_000_000, 1_032_192)
    assert b["max_macs"]["overshoot_percent"] == 3.2192
    assert (b["max_flops"]["actual"], b["max_flops"]["passed"]) == (2 * 1_032_192, True)
    assert (b["max_activation_bytes"]["limit"], b["max_activation_bytes"]["actual"]) == (128 * 1024, 36_864 * 4)
    assert b["max_activation_bytes"]["overshoot_percent"] == 12.5
    assert (b["min_rf[h]"]["limit"], b["min_rf[h]"]["actual"], b["min_rf[h]"]["passed"]) == (7, 5, False)
    assert (b["min_rf[w]"]["limit"], b["min_rf[w]"]["actual"], b["min_rf[w]"]["passed"]) == (5, 5, True)
    model = data["specs"][0]["models"][0]
    assert (model["params"], model["macs"], model["activations"], model["activation_bytes"]) == \
        (2736, 1_032_192, 36_864, 147_456)
    assert (model["rf"], model["output_stride"]) == ([5, 5], [2, 2])
    table = run("check", fx("exceeds.yaml"))
    assert table.exit_code == 1 and "+36.8%" in table.stdout and "FAIL" in table.stdout


def test_exit_2_budget_mistakes_are_located_with_did_you_mean() -> None:
    result = run("check", fx("bad-budget.yaml"))
    assert result.exit_code == 2
    err = result.stderr
    assert "tests/fixtures/check/bad-budget.yaml:4:14: budget.max_parms: unknown budget key 'max_parms'" in err
    assert "did you mean 'max_params'?" in err
    assert "bad-budget.yaml:5:13: budget.max_macs: '1.2345K' is 1234.5, not a whole number of units" in err
    assert "bad-budget.yaml:6:11: budget.min_rf: expected [h, w] with two integers >= 1, found [0, 3]" in err


def test_spec_and_budget_errors_reported_together(tmp_path: Path) -> None:
    (tmp_path / "net.yaml").write_text("input: {channels: 1, size: 4}\nbudget: {max_macs: 10Q}\n"
                                       "layers:\n  - rleu\n")
    result = run("check", "net.yaml", cwd=tmp_path)
    assert result.exit_code == 2
    assert "net.yaml:2:20: budget.max_macs: unknown suffix 'Q' in '10Q'" in result.stderr
    assert "net.yaml:4:5: layers[0]: unknown layer kind 'rleu'" in result.stderr


def test_many_files_one_broken_hides_nothing() -> None:
    code, data = as_json(fx("within.yaml"), fx("broken.yaml"), fx("exceeds.yaml"), fx("unbudgeted.yaml"))
    assert code == 2
    statuses = {s["file"].rsplit("/", 1)[-1]: s["status"] for s in data["specs"]}
    assert statuses == {"within.yaml": "pass", "broken.yaml": "error", "exceeds.yaml": "fail",
                        "unbudgeted.yaml": "no_budget"}
    broken = next(s for s in data["specs"] if s["file"].endswith("broken.yaml"))
    assert broken["errors"][0]["line"] == 5 and "unknown layer kind 'rleu'" in broken["errors"][0]["message"]
    assert data["summary"] == {"specs": 4, "models": 3, "checks": 13, "passed": 9, "failed": 4, "errors": 1,
                               "skipped": 0,
                               "unbudgeted": 1}
    # the table still shows every result, and explains the broken file on stderr
    table = run("check", fx("within.yaml"), fx("broken.yaml"), fx("exceeds.yaml"))
    assert table.exit_code == 2
    assert "within.yaml" in table.stdout and "exceeds.yaml" in table.stdout and "ERROR" in table.stdout
    assert "broken.yaml:5:5: layers[1]: unknown layer kind 'rleu'" in table.stderr


def test_missing_file_and_empty_glob_are_errors_after_the_rest() -> None:
    code, data = as_json(fx("within.yaml"), "no/such.yaml", "tests/fixtures/check/*.nothing")
    assert code == 2
    assert [s["status"] for s in data["specs"]] == ["pass", "error", "error"]


def test_require_budget() -> None:
    assert run("check", fx("unbudgeted.yaml")).exit_code == 0
    result = run("check", fx("unbudgeted.yaml"), "--require-budget", "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["specs"][0]["models"][0]["status"] == "fail"


def test_bad_option_is_a_usage_error() -> None:
    result = run("check", fx("within.yaml"), "--max-params", "1.2345K")
    assert result.exit_code == 2
    assert "--max-params" in result.output and "1234.5" in result.output
    assert run("check", fx("within.yaml"), "--max-activation-bytes", "1Kb").exit_code == 2
    assert run("check", fx("within.yaml"), "--min-rf", "0").exit_code == 2
    assert run("check").exit_code == 2


# --- precedence -------------------------------------------------------------------------------------------------


def test_alternative_budget_overrides_top_level_key_by_key() -> None:
    code, data = as_json(fx("alternatives.yaml"))
    assert code == 0
    five = budgets_of(data, "alternatives.yaml", "one 5x5")
    three = budgets_of(data, "alternatives.yaml", "two 3x3")
    assert (five["max_params"]["limit"], five["max_params"]["actual"]) == (1600, 1600)  # its own budget
    assert (three["max_params"]["limit"], three["max_params"]["actual"]) == (1200, 1152)  # the top level
    assert five["min_rf[h]"]["limit"] == three["min_rf[h]"]["limit"] == 5  # top-level keys still apply
    assert five["max_params"]["location"]["line"] == 12
    assert three["max_params"]["location"]["line"] == 7


def test_the_strictest_limit_of_every_source_applies() -> None:
    # spec: 1600; budgets file: 1500 -> fails, limit from the budgets file, the spec's 1600 set aside
    code, data = as_json(fx("alternatives.yaml"), "--budgets", fx("limits.yaml"))
    assert code == 1
    b = budgets_of(data, "alternatives.yaml", "one 5x5")["max_params"]
    assert (b["limit"], b["actual"], b["source"], b["passed"]) == (1500, 1600, "budgets", False)
    assert b["location"]["file"].endswith("limits.yaml") and b["location"]["line"] == 8
    assert b["origin"] == "tests/fixtures/check/limits.yaml:8"
    assert [(a["limit"], a["source"], a["origin"]) for a in b["set_aside"]] == [(1600, "spec", "the spec (line 12)")]
    assert budgets_of(data, "alternatives.yaml", "one 5x5")["max_flops"]["limit"] == 10**9  # the "*.yaml" rule
    # a looser command-line limit cannot loosen the budgets file's: it is set aside, with a warning
    result = run("check", fx("alternatives.yaml"), "--budgets", fx("limits.yaml"), "--max-params", "2K",
                 "--format", "json")
    assert result.exit_code == 1
    b = budgets_of(json.loads(result.stdout), "alternatives.yaml", "one 5x5")["max_params"]
    assert (b["limit"], b["source"]) == (1500, "budgets")
    assert [(a["limit"], a["origin"]) for a in b["set_aside"]] == [(1600, "the spec (line 12)"), (2000, "--max-params")]
    assert ("warning: tests/fixtures/check/limits.yaml:8:29: max_params: --max-params 2,000 is looser than the 1,500 "
            "set here, so it does not apply\n  hint: every limit from every source must hold: the strictest one "
            "applies\n") in result.stderr
    # a stricter command-line limit applies over the spec's
    code, data = as_json(fx("within.yaml"), "--max-params", "2000")
    assert code == 1
    b = budgets_of(data, "within.yaml", "within")["max_params"]
    assert (b["limit"], b["source"], b["origin"]) == (2000, "cli", "--max-params")
    assert [(a["limit"], a["source"]) for a in b["set_aside"]] == [(10_000, "spec")]
    assert budgets_of(data, "within.yaml", "within")["max_macs"]["source"] == "spec"


def test_a_catch_all_pattern_cannot_loosen_a_spec_budget(tmp_path: Path) -> None:
    """The issue's case: `"*.yaml": {max_params: 30M}` beside a spec whose own budget is 2M, and the spec
    15% over its own budget: a single file (as pre-commit passes it) and the directory both fail."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "net.yaml").write_text(
        "input: {channels: 3, size: 8}\ndefaults: {bias: false}\nbudget: {max_params: 2M}\n"
        "layers:\n  - conv: {out: 12000, kernel: 8}\n")  # 3·8·8·12000 = 2,304,000 params
    (tmp_path / "specs" / "budgets.yaml").write_text("budgets:\n  '*.yaml': {max_params: 30M}\n")
    for target in ("specs/net.yaml", "specs"):
        result = run("check", target, "--format", "json", cwd=tmp_path)
        assert result.exit_code == 1, result.output
        b = budgets_of(json.loads(result.stdout), "net.yaml", "net")["max_params"]
        assert (b["limit"], b["actual"], b["source"], b["origin"]) == (2_000_000, 2_304_000, "spec", "the spec (line 3)")
        assert [(a["limit"], a["origin"]) for a in b["set_aside"]] == [(30_000_000, "specs/budgets.yaml:2")]


def test_budgets_file_patterns(tmp_path: Path) -> None:
    (tmp_path / "models" / "deep").mkdir(parents=True)
    spec = "input: {channels: 1, size: 4}\nlayers:\n  - conv: {out: 10, kernel: 1}\n"  # 20 params
    (tmp_path / "models" / "a.yaml").write_text(spec)
    (tmp_path / "models" / "deep" / "b.yaml").write_text(spec)
    (tmp_path / "budgets.yaml").write_text(
        "budgets:\n"
        "  'models/**/*.yaml': {max_params: 100}\n"
        "  'b.yaml': {max_params: 10}\n"          # no '/': any file of that name, later wins
        "  'other/*.yaml': {max_params: 1}\n")    # matches nothing: a warning
    result = run("check", "models", "--budgets", "budgets.yaml", "--format", "json", cwd=tmp_path)
    data = json.loads(result.stdout)
    assert result.exit_code == 1
    assert budgets_of(data, "a.yaml", "a")["max_params"]["limit"] == 100
    assert budgets_of(data, "b.yaml", "b")["max_params"]["limit"] == 10
    assert [w["line"] for w in data["warnings"]] == [4]
    assert "matches no checked spec" in data["warnings"][0]["message"]
    # with no files, the specs the budgets file names are checked
    result = run("check", "--budgets", "budgets.yaml", "--format", "json", cwd=tmp_path)
    assert [s["file"] for s in json.loads(result.stdout)["specs"]] == ["models/a.yaml", "models/deep/b.yaml"]


def test_budgets_file_mistakes_are_located(tmp_path: Path) -> None:
    (tmp_path / "net.yaml").write_text("input: {channels: 1, size: 4}\nlayers:\n  - conv: {out: 1, kernel: 1}\n")
    (tmp_path / "b.yaml").write_text("budgets:\n  net.yaml: {max_param: 5M, max_macs: 1.5}\n")
    result = run("check", "net.yaml", "--budgets", "b.yaml", cwd=tmp_path)
    assert result.exit_code == 2
    assert "b.yaml:2:25: budgets.net.yaml.max_param: unknown budget key 'max_param'" in result.stderr
    assert "did you mean 'max_params'?" in result.stderr
    assert "b.yaml:2:39: budgets.net.yaml.max_macs: 1.5 is not a whole number" in result.stderr
    assert run("check", "net.yaml", "--budgets", "missing.yaml", cwd=tmp_path).exit_code == 2


def test_budgets_file_found_in_a_directory_applies(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "net.yaml").write_text("input: {channels: 1, size: 4}\nlayers:\n"
                                                 "  - conv: {out: 10, kernel: 1}\n")
    (tmp_path / "specs" / "budgets.yaml").write_text("budgets:\n  '*.yaml': {max_params: 19}\n")
    result = run("check", "specs", "--format", "json", cwd=tmp_path)
    data = json.loads(result.stdout)
    assert result.exit_code == 1
    assert [s["file"] for s in data["specs"]] == ["specs/net.yaml"]  # the budgets file is not a spec
    assert budgets_of(data, "net.yaml", "net")["max_params"]["actual"] == 20


def test_rf_at_a_layer_or_block(tmp_path: Path) -> None:
    (tmp_path / "net.yaml").write_text(
        "input: {channels: 1, size: 16}\ndefaults: {bias: false}\nbudget: {min_rf: 5, max_output_stride: 2, "
        "rf_at: body}\nlayers:\n  - sequence: {name: body, body: [conv: {out: 2, kernel: 3}, "
        "conv: {out: 2, kernel: 3, stride: 2}]}\n  - global_avgpool\n")
    code, data = as_json(str(tmp_path / "net.yaml"))
    assert code == 0
    model = data["specs"][0]["models"][0]
    assert (model["rf_at"], model["rf"], model["output_stride"]) == ("body", [5, 5], [2, 2])
    result = run("check", str(tmp_path / "net.yaml"), "--rf-at", "bdy")
    assert result.exit_code == 2 and "no layer or block named 'bdy'" in result.stderr
    assert "did you mean 'body'?" in result.stderr


def test_zoo_names_and_globs() -> None:
    assert run("check", "resnet18", "--max-params", "11689512").exit_code == 0  # torchvision's exact count
    assert run("check", "resnet18", "--max-params", "11689511").exit_code == 1
    assert run("check", "resnet18", "--max-params", "11.7M").exit_code == 0
    code, data = as_json("tests/fixtures/check/w*.yaml")
    assert code == 0 and [s["file"] for s in data["specs"]] == [fx("within.yaml")]


def test_seed_specs_within_their_budgets_file() -> None:
    result = run("check", "specs/seed", "--budgets", "specs/budgets.yaml", "--format", "json")
    data = json.loads(result.stdout)
    assert result.exit_code == 0, result.stdout
    assert data["summary"]["failed"] == 0 and data["summary"]["unbudgeted"] == 0
    assert data["summary"]["specs"] == len(list((ROOT / "specs" / "seed").glob("*.yaml")))


def test_library_check_without_cli() -> None:
    r = check([str(FIX / "exceeds.yaml")])
    assert r.exit_code == 1
    [(spec, model)] = r.models
    assert [(o.label, o.limit, o.actual) for o in model.violations] == [
        ("max_params", 2000, 2736), ("max_macs", 1_000_000, 1_032_192),
        ("max_activation_bytes", 131_072, 147_456), ("min_rf[h]", 7, 5)]
    assert model.violations[0].overshoot == Fraction(736 * 100, 2000)


def test_library_imports_neither_typer_nor_rich() -> None:
    code = ("import sys, convcalc.ci.budget, convcalc.ci.diff, convcalc.outputs.ci_render, convcalc.ci.collect; "
            "assert 'typer' not in sys.modules and 'rich' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- formats ----------------------------------------------------------------------------------------------------


def test_github_workflow_commands() -> None:
    result = run("check", fx("exceeds.yaml"), fx("broken.yaml"), fx("within.yaml"), "--format", "github")
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines and all(GITHUB_LINE.match(line) for line in lines), lines
    params = next(line for line in lines if "max_params" in line)
    # points at the line of the exceeded budget key in the spec; ':' escaped in properties, '%' in the message
    assert params.startswith("::error file=tests/fixtures/check/exceeds.yaml,line=6,col=15,"
                             "title=convcalc check%3A max_params exceeded::")
    assert "params is 2,736, over max_params = 2,000 by 36.8%25" in params
    assert any(line.startswith("::error file=tests/fixtures/check/broken.yaml,line=5,col=5,") for line in lines)
    assert lines[-1].startswith("::error title=convcalc check::")


def test_github_points_at_budgets_file_or_spec_budget_line() -> None:
    lines = run("check", fx("alternatives.yaml"), "--budgets", fx("limits.yaml"), "-f", "github").stdout.splitlines()
    assert lines[0].startswith("::error file=tests/fixtures/check/limits.yaml,line=8,")
    # a command-line limit points at the model's budget: line in the spec
    lines = run("check", fx("alternatives.yaml"), "--max-params", "1000", "-f", "github").stdout.splitlines()
    assert lines[0].startswith("::error file=tests/fixtures/check/alternatives.yaml,line=12,")  # one 5x5's budget
    assert lines[1].startswith("::error file=tests/fixtures/check/alternatives.yaml,line=7,")  # the top budget
    lines = run("check", fx("unbudgeted.yaml"), "--max-params", "10", "-f", "github").stdout.splitlines()
    assert lines[0].startswith("::error file=tests/fixtures/check/unbudgeted.yaml,line=2,")  # no budget: the model
    assert all(GITHUB_LINE.match(line) for line in lines)


def test_github_escaping() -> None:
    assert gh_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert gh_property("C:\\a,b%") == "C%3A\\a%2Cb%25"
    line = gh_command("error", "a: b, c\nd", None, "t: 1, 2").rstrip("\n")
    assert line == "::error title=t%3A 1%2C 2::a: b, c%0Ad"
    assert GITHUB_LINE.match(line)


def test_junit_parses() -> None:
    result = run("check", fx("exceeds.yaml"), fx("broken.yaml"), fx("within.yaml"), fx("unbudgeted.yaml"),
                 "--format", "junit")
    assert result.exit_code == 2
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("15", "4", "1", "1")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    exceeds = suites[fx("exceeds.yaml")]
    failures = [c.get("name") for c in exceeds.iter("testcase") if c.find("failure") is not None]
    assert failures == ["exceeds: max_params", "exceeds: max_macs", "exceeds: max_activation_bytes",
                        "exceeds: min_rf[h]"]
    msg = exceeds.find("testcase/failure")
    assert msg is not None and "params is 2,736, over max_params = 2,000 by 36.8%" in (msg.get("message") or "")
    error = suites[fx("broken.yaml")].find("testcase/error")
    assert error is not None and "unknown layer kind 'rleu'" in (error.get("message") or "")
    assert suites[fx("within.yaml")].get("failures") == "0"


def test_junit_budgets_file_error_and_control_characters(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("budgets:\n  \"x\\x01.yaml\": {max_param: 1}\n")
    (tmp_path / "n.yaml").write_text("input: {channels: 1, size: 4}\nlayers:\n  - conv: {out: 1, kernel: 1}\n")
    result = run("check", "n.yaml", "--budgets", "b.yaml", "-f", "junit", cwd=tmp_path)
    assert result.exit_code == 2
    root = ET.fromstring(result.stdout)
    assert root.get("errors") == "1"


def test_markdown_report() -> None:
    result = run("check", fx("exceeds.yaml"), fx("within.yaml"), "--format", "markdown")
    assert result.exit_code == 1
    md = result.stdout
    assert md.startswith("## convcalc check\n")
    assert "❌ **budget exceeded**" in md
    assert "| `tests/fixtures/check/exceeds.yaml` | exceeds | max_params | 2,000 | 2,736 | +36.8% |" in md
    assert "<details><summary>All results" in md


def test_csv_rows() -> None:
    result = run("check", fx("exceeds.yaml"), fx("broken.yaml"), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[0]["status"] == "error" and rows[0]["file"].endswith("broken.yaml")
    params = next(r for r in rows if r["budget"] == "max_params")
    assert (params["limit"], params["actual"], params["status"], params["overshoot_percent"]) == \
        ("2000", "2736", "fail", "36.8")


def test_summary_file_is_appended(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("before\n")
    result = run("check", fx("within.yaml"), "--format", "github", "--summary", str(summary))
    assert result.exit_code == 0
    text = summary.read_text()
    assert text.startswith("before\n## convcalc check") and "✅ **all budgets hold**" in text


def test_budget_schema_accepts_the_fixtures_and_rejects_typos() -> None:
    import jsonschema
    import yaml

    from convcalc.ci.budget import budget_schema

    schema = budget_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for name in ("within.yaml", "exceeds.yaml", "alternatives.yaml"):
        data = yaml.safe_load((FIX / name).read_text())
        jsonschema.validate(data["budget"], schema)
    for budget in (yaml.safe_load((ROOT / "specs" / "budgets.yaml").read_text())["budgets"].values()):
        jsonschema.validate(budget, schema)
    for bad in ({"max_parms": 1}, {"max_params": "5Mi"}, {"min_rf": [1]}, {"max_activation_bytes": "1Kb"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_github_paths_relative_to_the_workspace(monkeypatch: pytest.MonkeyPatch) -> None:
    from convcalc.outputs.ci_render import workspace_path

    monkeypatch.setenv("GITHUB_WORKSPACE", str(ROOT))
    assert workspace_path(str(FIX / "exceeds.yaml")) == "tests/fixtures/check/exceeds.yaml"
    assert workspace_path("/elsewhere/x.yaml") == "/elsewhere/x.yaml"
    assert workspace_path("specs/x.yaml") == "specs/x.yaml"
    lines = run("check", str(FIX / "exceeds.yaml"), "-f", "github").stdout.splitlines()
    assert lines[0].startswith("::error file=tests/fixtures/check/exceeds.yaml,line=6,")


def test_a_spec_that_exhausts_the_stack_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    import convcalc.ci.gate as budget

    real = budget.analyze_models

    def explode(doc: Any, extra: Any = None, settings: Any = None) -> Any:
        if doc.file.endswith("exceeds.yaml"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(doc, extra, settings)

    monkeypatch.setattr(budget, "analyze_models", explode)
    r = check([str(FIX / "exceeds.yaml"), str(FIX / "within.yaml")])
    assert [s.status for s in r.specs] == ["error", "pass"] and r.exit_code == 2
    assert "too large or too deeply nested" in r.specs[0].error.render()  # type: ignore[union-attr]


def test_budgets_file_governs_zoo_models(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("budgets:\n  zoo:resnet50: {max_params: 25M}\n"
                                     "  zoo:resnet18: {max_params: 12M, min_rf: 400, rf_at: layer4}\n")
    code, data = as_json("--budgets", str(tmp_path / "b.yaml"))
    assert code == 1
    r50 = budgets_of(data, "zoo:resnet50.yaml", "resnet50")["max_params"]
    assert (r50["limit"], r50["actual"], r50["passed"]) == (25_000_000, 25_557_032, False)
    r18 = budgets_of(data, "zoo:resnet18.yaml", "resnet18")
    assert r18["max_params"]["passed"] and r18["min_rf[h]"]["actual"] == 435  # RF of resnet18's layer4
