"""One JSON shape for show and rf, --alternative, compare labels for models sharing a name, the zoo list,
and rf --map on every name the rf table lists (issue 10)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convcalc import analyze_document, analyze_file, compare
from convcalc.cli import app
from convcalc.errors import UsageError
from convcalc.lang.sources import open_source, zoo_names
from convcalc.metrics.analysis import display_names, graphs_of
from convcalc.metrics.footprint import footprint, footprints, lacking
from convcalc.outputs.render import SCHEMA_VERSION, compare_csv, comparison_json
from convcalc.outputs.views import compare_table, rf_table
from tests.conftest import ROOT

SEED = ROOT / "specs" / "seed"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", ["show", "rf"])
def test_show_and_rf_json_have_one_shape(command: str) -> None:
    assert SCHEMA_VERSION == 2
    code, out, _ = run(command, "resnet18", "-f", "json")
    one = json.loads(out)
    assert code == 0 and list(one) == ["schema_version", "models"] and one["schema_version"] == SCHEMA_VERSION
    assert [m["name"] for m in one["models"]] == ["resnet18"]
    code, out, _ = run(command, str(SEED / "dilated.yaml"), "-f", "json")
    several = json.loads(out)
    assert list(several) == ["schema_version", "models"]
    assert [m["name"] for m in several["models"]] == [r.name for r in analyze_file(SEED / "dilated.yaml")]
    assert list(several["models"][0]) == list(one["models"][0])  # the same keys, in the same order


def test_alternative_picks_one() -> None:
    code, out, _ = run("show", str(SEED / "dilated.yaml"), "--alternative", "5x5", "-f", "json")
    assert code == 0 and [m["name"] for m in json.loads(out)["models"]] == ["5x5"]
    code, out, _ = run("rf", str(SEED / "dilated.yaml"), "--alternative=3x3 dilation 2", "-f", "csv")
    assert code == 0 and {r["model"] for r in csv.DictReader(io.StringIO(out))} == {"3x3 dilation 2"}
    code, out, _ = run("show", str(SEED / "stack-5x5.yaml"), "--alternative", "two 3x3")
    assert code == 0 and "two 3x3" in out and "one 5x5" not in out
    code, out, _ = run("show", "resnet18", "--alternative", "resnet18", "--depth", "1", "-f", "markdown")
    assert code == 0 and "| layer4 | repeat |" in out


def test_alternative_not_there_lists_the_names() -> None:
    code, out, err = run("show", str(SEED / "dilated.yaml"), "--alternative", "5x")
    assert code == 2 and out == ""
    assert err == ("--alternative: no alternative named '5x'\n  hint: did you mean '5x5'? The alternatives: '3x3', "
                   "'3x3 dilation 2', '5x5', '3x3 dilation 2 x3 (gridded)', '3x3 dilation 1,2,5 (hybrid)'\n")
    code, out, err = run("rf", "resnet18", "--alternative", "zzz", "--map", "conv1")
    assert code == 2 and out == "" and "no alternative named 'zzz'" in err and "'resnet18'" in err


def _same_name(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "a").mkdir()
    one = tmp_path / "a" / "small.yaml"
    two = tmp_path / "large.yaml"
    one.write_text("name: net\ninput: {channels: 3, size: 8}\nlayers:\n  - conv: {out: 4, kernel: 3}\n")
    two.write_text("name: net\ninput: {channels: 3, size: 8}\nlayers:\n  - conv: {out: 8, kernel: 3}\n")
    return str(one), str(two)


def test_compare_tells_apart_models_sharing_a_name(tmp_path: Path) -> None:
    one, two = _same_name(tmp_path)
    code, out, err = run("compare", one, two, "-f", "json")
    doc = json.loads(out)
    assert code == 0 and err == ""
    assert [(a["name"], a["label"], a["file"]) for a in doc["alternatives"]] == [
        ("net", "net (small)", one), ("net", "net (large)", two)]
    assert doc["baseline"] == "net (small)" and doc["schema_version"] == SCHEMA_VERSION
    code, out, _ = run("compare", one, two, "-f", "csv")
    assert [r["name"] for r in csv.DictReader(io.StringIO(out))] == ["net (small)", "net (large)"]
    code, out, _ = run("compare", one, two, "-f", "markdown")
    assert "| net (small) |" in out and "| net (large) |" in out and "ratios against 'net (small)'" in out
    code, out, _ = run("compare", one, two)
    assert "net (small)" in out and "net (large)" in out


def test_display_names_qualify_only_what_is_ambiguous(tmp_path: Path) -> None:
    one, two = _same_name(tmp_path)
    (tmp_path / "b").mkdir()
    three = tmp_path / "b" / "small.yaml"
    three.write_text(Path(one).read_text())
    reports = [*analyze_file(one), *analyze_file(two), *analyze_file(three), *analyze_document(open_source("resnet18"))]
    assert display_names(reports) == [f"net ({one})", "net (large)", f"net ({three})", "resnet18"]
    same = [*analyze_document(open_source("resnet18")), *analyze_document(open_source("resnet18"))]
    c = compare(same)
    assert c.labels == ("resnet18 #1", "resnet18 #2")
    assert [row[0] for row in compare_table(c).rows] == ["resnet18 #1", "resnet18 #2"]
    assert json.loads(comparison_json(c))["baseline"] == "resnet18 #1"
    assert compare_csv(c).splitlines()[2].startswith("resnet18 #2,")
    assert compare(analyze_file(SEED / "stack-5x5.yaml")).labels == ("one 5x5", "two 3x3")


def test_zoo_json_and_csv_list_the_models() -> None:
    code, out, _ = run("zoo", "-f", "json")
    doc = json.loads(out)
    assert code == 0 and list(doc) == ["schema_version", "models"]
    assert [m["name"] for m in doc["models"]] == zoo_names()
    r50 = next(m for m in doc["models"] if m["name"] == "resnet50")
    assert list(r50) == ["name", "input_shape", "params", "macs", "flops", "description"]
    assert (r50["input_shape"], r50["params"], r50["macs"], r50["flops"]) == \
        ([3, 224, 224], 25_557_032, 4_089_184_256, 8_206_217_192)
    code, out, _ = run("zoo", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(zoo_names())
    assert out.splitlines()[0] == "name,in_c,in_h,in_w,params,macs,flops,description"
    assert {k: rows[[r["name"] for r in rows].index("resnet50")][k] for k in ("in_h", "params", "flops")} == \
        {"in_h": "224", "params": "25557032", "flops": "8206217192"}


def test_map_takes_every_name_of_the_rf_table() -> None:
    for source in (str(SEED / "inception.yaml"), "resnet18"):
        for g, r in zip(graphs_of(open_source(source)), analyze_document(open_source(source)), strict=True):
            names = [row[0] for row in rf_table(r).rows]
            if source == "resnet18":  # the block rows, and a few layers (every layer would be slow)
                names = [n for n in names if n.startswith("[")] + names[:3]
            assert any(n.startswith("[") for n in names) or source != "resnet18"
            for name in names:
                fp = footprint(g, name)
                assert fp.block == (name[1:-1] if name.startswith("[") else ""), name


def test_map_of_a_block_says_which_node_it_uses() -> None:
    code, out, err = run("rf", "resnet50", "--map", "layer1")
    assert code == 0 and err == ""
    assert out.splitlines()[1] == "  block 'layer1' → its output node 'layer1/2/relu3'"
    assert out.splitlines()[2:] == run("rf", "resnet50", "--map", "layer1/2/relu3")[1].splitlines()[1:]
    code, out, _ = run("rf", "resnet50", "--map", "[layer2/0]", "-f", "json")
    [fp] = json.loads(out)["footprints"]
    assert (fp["layer"], fp["block"]) == ("layer2/0/relu3", "layer2/0")
    code, out, _ = run("rf", "resnet50", "--map", "layer2/0/relu3", "-f", "json")
    assert json.loads(out)["footprints"][0]["block"] is None


def test_map_names_the_alternatives_without_the_layer() -> None:
    code, out, err = run("rf", str(SEED / "dilated.yaml"), "--map", "conv3")
    assert code == 0 and out.startswith("3x3 dilation 1,2,5 (hybrid): footprint")
    assert err == ("rf --map: 4 of 5 alternatives have no layer or named block 'conv3', left out: '3x3', "
                   "'3x3 dilation 2', '5x5', '3x3 dilation 2 x3 (gridded)'\n")
    code, out, err = run("rf", str(SEED / "dilated.yaml"), "--map", "conv1", "-f", "json")
    assert code == 0 and len(json.loads(out)["footprints"]) == 4 and "'3x3 dilation 2 x3 (gridded)'\n" in err
    code, out, err = run("rf", str(SEED / "stack-5x5.yaml"), "--map", "conv1", "-f", "csv")
    assert code == 0 and err == "" and {r["model"] for r in csv.DictReader(io.StringIO(out))} == {"one 5x5", "two 3x3"}
    code, out, err = run("rf", str(SEED / "dilated.yaml"), "--map", "conv3", "--alternative", "5x5")
    assert code == 2 and out == "" and "no layer or named block 'conv3'" in err
    graphs = graphs_of(open_source(str(SEED / "inception.yaml")))
    assert lacking(graphs, "nope") == [g.name for g in graphs]
    with pytest.raises(UsageError):
        footprints(graphs, "nope")
