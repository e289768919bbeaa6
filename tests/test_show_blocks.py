"""`show --depth N`: costs per block at one nesting depth, each layer counted once; named blocks carry costs."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from convcalc import Report, analyze_document
from convcalc.cli import app
from convcalc.kinds.core import ZERO, Cost
from convcalc.lang.sources import open_source, zoo_names
from convcalc.metrics.blocks import DepthRow, at_depth
from convcalc.outputs.render import BUCKETS
from tests.conftest import ROOT


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def zoo(name: str) -> Report:
    [r] = analyze_document(open_source(name))
    return r


def test_resnet50_depth_1_is_the_stages_and_the_top_level_layers() -> None:
    r = zoo("resnet50")
    rows = at_depth(r, 1)
    assert [(x.name, x.type, x.layers) for x in rows] == [
        ("conv1", "conv", 1), ("bn1", "bn", 1), ("relu", "relu", 1), ("maxpool", "maxpool", 1),
        ("layer1", "repeat", 32), ("layer2", "repeat", 42), ("layer3", "repeat", 62), ("layer4", "repeat", 32),
        ("avgpool", "adaptive_avgpool", 1), ("flatten1", "flatten", 1), ("fc", "linear", 1)]
    by = {x.name: x for x in rows}
    assert by["layer3"].cost.params == 7_098_368 and by["fc"].cost.params == 2_049_000
    assert sum(x.cost.macs for x in rows) == r.macs == 4_089_184_256
    assert sum(x.cost.params for x in rows) == r.params == 25_557_032
    assert sum(x.activations for x in rows) == r.activations
    assert [x.name for x in at_depth(r, 2)][4:8] == ["layer1/0", "layer1/1", "layer1/2", "layer2/0"]


def total(rows: list[DepthRow]) -> tuple[Cost, int]:
    cost, act = ZERO, 0
    for row in rows:
        cost, act = cost + row.cost, act + row.activations
    return cost, act


@pytest.mark.parametrize("name", zoo_names())
def test_rows_sum_to_the_totals_at_every_depth(name: str) -> None:
    """Every layer lands in exactly one row (inception_v3's training-only aux head: its params only)."""
    r = zoo(name)
    deepest = max(x.name.count("/") for x in r.layers) + 1
    for depth in range(1, deepest + 2):
        rows = at_depth(r, depth)
        assert sum(x.layers for x in rows) == len(r.layers)
        assert total(rows) == (r.total, r.activations), depth
    assert len(at_depth(r, deepest)) == len(r.layers)


def test_named_blocks_carry_the_sum_of_their_layers() -> None:
    r = zoo("resnet50")
    depth2 = {x.name: x for x in at_depth(r, 2)}
    depth1 = {x.name: x for x in at_depth(r, 1)}
    for b in r.blocks:
        inside = [x for x in r.layers if x.name.startswith(b.name + "/")]
        cost = ZERO
        for x in inside:
            cost = cost + x.cost
        assert (b.cost, b.activations) == (cost, sum(x.activations for x in inside)), b.name
        row = depth1.get(b.name) or depth2.get(b.name)
        if row is not None:
            assert (row.cost, row.activations) == (b.cost, b.activations)
    assert {b.name: b.cost.macs for b in r.blocks}["layer1"] == 667_942_912


def test_a_block_named_like_its_merge_holds_the_merge() -> None:
    """A `branches` block's merge node has the block's own name; it is one of the block's layers."""
    for r in analyze_document(open_source(str(ROOT / "specs" / "seed" / "inception.yaml"))):
        [b] = r.blocks
        assert b.name == b.output == "inception_3a"
        assert (b.cost, b.activations) == (r.total, r.activations)
        [row] = at_depth(r, 1)
        assert (row.name, row.type, row.layers) == ("inception_3a", "branches", len(r.layers))


def test_training_only_layers_count_as_in_the_total() -> None:
    r = zoo("inception_v3")
    assert r.training_only.macs > 0
    aux = [b for b in r.blocks if any(x.training_only and x.name.startswith(b.name + "/") for x in r.layers)]
    assert aux
    for b in aux:
        assert b.cost.macs < sum(x.cost.macs for x in r.layers if x.name.startswith(b.name + "/"))


def test_show_depth_table_json_csv_markdown() -> None:
    r = zoo("resnet50")
    code, out, err = run("show", "resnet50", "--depth", "1")
    assert code == 0 and err == ""
    assert "resnet50 (depth 1)" in out and "layer3" in out and "35.8%" in out and "layer1/0" not in out
    code, out, _ = run("show", "resnet50", "--depth", "2", "-f", "markdown", "--exact")
    assert code == 0 and "| layer1/0 | bottleneck | 12 | 75,008 | 231,211,008 | 6,021,120 | 5.7% |" in out
    code, out, _ = run("show", "resnet50", "--depth", "1", "-f", "json")
    [m] = json.loads(out)["models"]
    assert m["depth"] == 1 and len(m["layers"]) == len(r.layers)
    for key in (*BUCKETS, "flops", "activations"):
        assert sum(x[key] for x in m["depth_blocks"]) == m[key], key
    assert m["depth_blocks"][4] == {"name": "layer1", "type": "repeat", "layers": 32, **{
        k: getattr(at_depth(r, 1)[4].cost, k) for k in BUCKETS}, "flops": at_depth(r, 1)[4].cost.flops,
        "activations": 14_852_096}
    code, out, _ = run("show", "resnet50", "--depth", "3", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sum(int(x["macs"]) for x in rows) == r.macs and {x["model"] for x in rows} == {"resnet50"}


def test_json_blocks_carry_costs() -> None:
    code, out, _ = run("show", "resnet50", "-f", "json")
    blocks = {b["name"]: b for b in json.loads(out)["models"][0]["blocks"]}
    assert blocks["layer1"]["macs"] == 667_942_912 and blocks["layer1"]["activations"] == 14_852_096
    for key in ("params", "macs", "flops", "activations", "output", "rf"):
        assert key in blocks["layer4/2"], key


@pytest.mark.parametrize("value", ["0", "-1", "x", "1.5", "²"])
def test_bad_depth_is_a_usage_error(value: str) -> None:
    code, out, err = run("show", "resnet50", f"--depth={value}")
    assert code == 2 and out == "" and "--depth" in err and "whole number" in err
    with pytest.raises(ValueError):
        at_depth(zoo("resnet18"), 0)
