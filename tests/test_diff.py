"""`convcalc diff`: per-layer and total deltas matched by name, --fail-above, and every output format."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from convcalc.ci.diff import Delta, Growth, diff
from convcalc.cli import app

ROOT = Path(__file__).resolve().parent.parent
BASE = "tests/fixtures/diff/base.yaml"
HEAD = "tests/fixtures/diff/head.yaml"
GITHUB_LINE = re.compile(r"^::(error|warning|notice)( [a-z]+=[^,:]*(,[a-z]+=[^,:]*)*)?::.+$")


def run(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, ["diff", *args], input=stdin)


def net(out: int) -> str:
    """A 1×1 conv from 1 channel on a 1×1 input: ``out`` params and ``out`` MACs, 2·out FLOPs."""
    return (f"name: net\ninput: {{channels: 1, size: 1}}\ndefaults: {{bias: false}}\n"
            f"layers:\n  - conv: {{out: {out}, kernel: 1}}\n")


def test_layers_matched_by_name_with_added_and_removed() -> None:
    r = diff(str(ROOT / BASE), str(ROOT / HEAD))
    [m] = r.models
    assert (m.name, m.status) == ("net", "changed")
    assert [(x.name, x.status) for x in m.layers] == [
        ("stem", "same"), ("relu1", "same"), ("mid", "changed"), ("extra", "added"), ("gone", "removed"),
        ("global_avgpool1", "changed"), ("flatten1", "changed"), ("fc", "changed")]
    by = {x.name: x for x in m.layers}
    assert (by["mid"].delta("params").base, by["mid"].delta("params").head) == (16 * 16 * 9, 16 * 32 * 25)
    assert by["mid"].delta("macs").change == 16 * 32 * 25 * 16 * 16 - 16 * 16 * 9 * 16 * 16
    assert (by["extra"].delta("params").head, by["extra"].delta("params").change) == (32 * 32 * 9, None)
    assert (by["gone"].delta("macs").base, by["gone"].delta("macs").head) == (16 * 16 * 256, None)
    assert by["fc"].delta("params").change == (32 * 10 + 10) - (16 * 10 + 10)
    b, h = by["mid"].rf()
    assert b is not None and h is not None and (b.size, h.size) == ((5, 5), (7, 7))
    assert m.total("params") == Delta(3162, 22778)
    assert m.total("macs") == Delta(1_097_888, 6_078_784)
    assert m.total("params").percent == Fraction(19616 * 100, 3162)


def test_fail_above_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(net(100))
    (tmp_path / "b.yaml").write_text(net(105))  # params, MACs and FLOPs all grow by exactly 5%
    a, b = str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")
    assert run(a, b).exit_code == 0  # no limit: never fails
    assert run(a, b, "--fail-above", "5%").exit_code == 0  # "more than 5%": exactly 5% passes
    assert run(a, b, "--fail-above", "5").exit_code == 0
    assert run(a, b, "--fail-above", "4.99%").exit_code == 1
    assert run(b, a, "--fail-above", "0%").exit_code == 0  # shrinking never fails
    assert run(a, b, "--fail-above", "five").exit_code == 2
    assert run(a, "missing.yaml").exit_code == 2
    result = run(BASE, HEAD, "--fail-above", "5%")
    assert result.exit_code == 1
    assert "net: params grew by 620.4% (3,162 → 22,778), more than the 5% allowed" in result.stdout


def test_growth_from_zero_exceeds() -> None:
    assert Growth("m", "params", Delta(0, 1), Fraction(1000)).exceeded
    assert not Growth("m", "params", Delta(0, 0), Fraction(0)).exceeded
    assert not Growth("m", "params", Delta(10, 9), Fraction(0)).exceeded


def test_json_exact() -> None:
    result = run(BASE, HEAD, "--format", "json", "--fail-above", "500")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["schema_version"], data["command"], data["fail_above_percent"], data["exit_code"]) == \
        (2, "diff", 500, 1)
    [m] = data["models"]
    assert m["totals"]["params"] == {"base": 3162, "head": 22778, "delta": 19616, "percent": 620.3669}
    assert m["totals"]["macs"] == {"base": 1_097_888, "head": 6_078_784, "delta": 4_980_896, "percent": 453.6798}
    assert (m["base"]["rf"], m["head"]["rf"]) == ([35, 35], [41, 41])
    layers = {x["name"]: x for x in m["layers"]}
    assert layers["extra"]["status"] == "added" and layers["extra"]["base"] is None
    assert layers["extra"]["params"] == {"base": None, "head": 9216, "delta": None, "percent": None}
    assert layers["gone"]["head"] is None and layers["gone"]["base"] == {"rf": [5, 5], "stride": [2, 2]}
    assert [(g["metric"], g["base"], g["head"]) for g in data["exceeded"]] == [("params", 3162, 22778)]


def test_csv() -> None:
    rows = list(csv.DictReader(io.StringIO(run(BASE, HEAD, "--format", "csv").stdout)))
    mid = next(r for r in rows if r["layer"] == "mid")
    assert (mid["base_params"], mid["head_params"], mid["delta_params"]) == ("2304", "12800", "10496")
    assert (mid["base_rf_h"], mid["head_rf_h"]) == ("5", "7")
    total = rows[-1]
    assert (total["row"], total["base_macs"], total["head_macs"], total["delta_macs"]) == \
        ("total", "1097888", "6078784", "4980896")


def test_table_and_markdown_show_changed_layers() -> None:
    table = run(BASE, HEAD)
    assert table.exit_code == 0
    assert "extra" in table.stdout and "gone" in table.stdout and "removed" in table.stdout
    assert "stem" not in table.stdout and "2 unchanged layer(s) not shown" in table.stdout
    assert "stem" in run(BASE, HEAD, "--all").stdout
    md = run(BASE, HEAD, "--format", "markdown", "--fail-above", "5%").stdout
    assert md.startswith("## convcalc diff: `tests/fixtures/diff/base.yaml` → `tests/fixtures/diff/head.yaml`")
    assert "❌ **3 total(s) grew by more than 5%**" in md
    assert "| params | 3,162 | 22,778 | +19,616 | +620.4% |" in md
    assert "| `extra` | added | conv | 9,216 |  | 2,359,296 |  | 11×11 |" in md


def test_github_and_junit() -> None:
    result = run(BASE, HEAD, "--format", "github", "--fail-above", "500%")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert all(GITHUB_LINE.match(line) for line in lines), lines
    # at the head spec's model (the document's first key, after the comments)
    assert lines[0].startswith("::error file=tests/fixtures/diff/head.yaml,line=7,col=1,"
                               "title=convcalc diff%3A params grew::net: params grew by 620.4%25")
    root = ET.fromstring(run(BASE, HEAD, "--format", "junit", "--fail-above", "500%").stdout)
    assert (root.get("tests"), root.get("failures")) == ("3", "1")
    failed = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
    assert failed == ["net: params growth"]


def test_stdin_base(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(net(110))
    result = run("-", str(tmp_path / "b.yaml"), "--format", "json", "--fail-above", "5%", stdin=net(100))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["base"] == "<stdin>" and data["models"][0]["totals"]["params"]["delta"] == 10


def test_alternatives_matched_by_name_or_order(tmp_path: Path) -> None:
    r = diff(str(ROOT / "specs/seed/stack-5x5.yaml"), str(ROOT / "specs/seed/stack-7x7.yaml"))
    # no alternative name in common and as many alternatives: paired in order
    assert [(m.name, m.total("params").base, m.total("params").head) for m in r.models] == [
        ("one 5x5 → one 7x7", 2500, 4900), ("two 3x3 → three 3x3", 1800, 2700)]
    alt = "input: {channels: 1, size: 1}\nalternatives:\n" + "".join(
        f"  - name: {n}\n    layers: [conv: {{out: {o}, kernel: 1, bias: false}}]\n" for n, o in (("a", 1), ("b", 2)))
    alt2 = alt.replace("name: b", "name: c")
    (tmp_path / "x.yaml").write_text(alt)
    (tmp_path / "y.yaml").write_text(alt2)
    r = diff(str(tmp_path / "x.yaml"), str(tmp_path / "y.yaml"))
    assert [(m.name, m.status) for m in r.models] == [("a", "same"), ("c", "added"), ("b", "removed")]


def test_zoo_models() -> None:
    r = diff("resnet50", "wide_resnet50_2", Fraction(5))
    [m] = r.models
    assert m.total("params") == Delta(25_557_032, 68_883_240)  # torchvision's counts
    assert {g.metric for g in r.exceeded} == {"params", "macs", "flops"}
    assert r.exit_code == 1
