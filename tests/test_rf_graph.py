"""Receptive fields on real topologies: merges, alignment, SAME padding, global paths, footprints.

The first networks are ports of google-research/receptive_field's test networks
(receptive_field_computation_test.py), with their published expectations.
"""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from typer.testing import CliRunner

from convcalc import SpecError, analyze_text
from convcalc.cli import app
from convcalc.lang.yaml_source import load_text
from convcalc.metrics.analysis import graphs_of
from convcalc.metrics.footprint import footprint
from tests.conftest import one

NET1 = """
input: {channels: 1, size: 8}
defaults: {bias: false}
layers:
  - branches:
      name: output
      merge: add
      paths:
        - [conv: {out: 1, kernel: 1, stride: 4, name: L1}]
        - [conv: {out: 1, kernel: 3, stride: 2, padding: [[1, 0], [1, 0]], name: L2},
           conv: {out: 1, kernel: 1, stride: 2, name: L3}]
"""


def rf_of(r, name: str):  # type: ignore[no-untyped-def]
    rows = {x.name: x.rf for x in r.layers} | {b.name: b.rf for b in r.blocks}
    f = rows[name]
    return f.size, f.stride, f.padding


def test_google_network_1_aligned_two_branches() -> None:
    """Aligned two-branch net: RF 3, effective stride 4, effective padding 1."""
    r = one(NET1)
    assert rf_of(r, "output") == ((3, 3), (4, 4), (1, 1))
    assert r.notes == ()


def test_google_network_2_max_pools_behave_like_convs() -> None:
    r = one(NET1.replace("conv: {out: 1, kernel: 3, stride: 2,", "maxpool: {kernel: 3, stride: 2,")
            .replace("conv: {out: 1, kernel: 1, stride: 2, name: L3}", "maxpool: {kernel: 1, stride: 2, name: L3}"))
    assert rf_of(r, "output") == ((3, 3), (4, 4), (1, 1))


def test_google_network_3_different_jumps_is_an_error_naming_the_merge_and_branches() -> None:
    text = """
input: {channels: 1, size: 8}
layers:
  - branches:
      name: output
      merge: add
      paths:
        - [conv: {out: 1, kernel: 5, stride: 2, padding: [[2, 1], [2, 1]], name: L1}]
        - [conv: {out: 1, kernel: 3, name: L2}, conv: {out: 1, kernel: 3, name: L3}]
"""
    with pytest.raises(SpecError) as e:
        analyze_text(text, "net3.yaml")
    msg = str(e.value)
    assert "add 'output' merges different effective strides on the height axis: 'output/L1' jump 2, " \
           "'output/L3' jump 1" in msg


def test_google_network_4_same_padding_depends_on_resolution() -> None:
    """SAME padding: aligned at 9×9 (RF 3, stride 4, P 1); misaligned at 8×8, reported, not hidden."""
    net4 = NET1.replace("padding: [[1, 0], [1, 0]]", "padding: same")
    r9 = one(net4.replace("size: 8", "size: 9"))
    assert rf_of(r9, "output") == ((3, 3), (4, 4), (1, 1))
    assert r9.notes == ()
    r8 = one(net4)
    assert rf_of(r8, "output") == ((3, 3), (4, 4), (0, 0))
    assert r8.notes == (
        "output: misaligned on the height axis by 1 px: 'output/L1' centre 0, 'output/L3' centre 1",
        "output: misaligned on the width axis by 1 px: 'output/L1' centre 0, 'output/L3' centre 1",
    )


def test_google_network_5_non_square() -> None:
    """Kernels [3, 5] then [3, 1], stride 2: RF h 7, w 5 (google's x = width 5, y = height 7)."""
    r = one("input: {channels: 1, size: 17}\nlayers:\n  - conv: {out: 1, kernel: [3, 5], stride: 2}\n"
            "  - conv: {out: 1, kernel: [3, 1], stride: 2}\n  - relu\n")
    assert (r.rf.size, r.rf.stride, r.rf.padding) == ((7, 5), (4, 4), (0, 0))


def test_google_network_6_dropout_is_transparent() -> None:
    r = one(NET1.replace("name: L3}]", "name: L3}, dropout]"))
    assert rf_of(r, "output") == ((3, 3), (4, 4), (1, 1))


NET8 = NET1.replace("name: output", "name: add1") + """
  - relu
  - branches:
      name: output
      merge: add
      paths:
        - [conv: {out: 1, kernel: 1, stride: 2, name: L5}]
        - [conv: {out: 1, kernel: 3, stride: 2, padding: [[1, 0], [1, 0]], name: L6}]
"""


def test_google_network_8_intermediate_add() -> None:
    """Two merges of branches with different RFs: a naive DFS gets this wrong. RF 11, stride 8, P 5."""
    r = one(NET8.replace("size: 8", "size: 16"))
    assert rf_of(r, "output") == ((11, 11), (8, 8), (5, 5))


def test_google_network_9_same_padding_at_17() -> None:
    net9 = NET8.replace("size: 8", "size: 17").replace("padding: [[1, 0], [1, 0]]", "padding: same")
    net9 = net9.replace("kernel: 1, stride: 4, name: L1", "kernel: 1, stride: 4, padding: same, name: L1")
    r = one(net9)
    assert rf_of(r, "output") == ((11, 11), (8, 8), (5, 5))


def test_misaligned_note_in_every_format(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "mis.yaml"
    spec.write_text("input: {channels: 1, size: 8}\nlayers:\n  - branches: {name: m, merge: add, paths: "
                    "[[conv: {out: 1, kernel: 3, padding: [[2, 0], [2, 0]], name: a}], "
                    "[conv: {out: 1, kernel: 3, padding: 1, name: b}]]}\n")
    note = "misaligned on the height axis by 1 px: 'm/a' centre -1, 'm/b' centre 0"
    for fmt in ("table", "json", "csv", "markdown"):
        result = CliRunner().invoke(app, ["rf", str(spec), "--format", fmt])
        assert result.exit_code == 0
        assert note in result.stdout, fmt
    [doc] = json.loads(CliRunner().invoke(app, ["rf", str(spec), "--format", "json"]).stdout)["models"]
    assert doc["layers"][-1]["notes"][0] == note
    assert doc["rf"] == [4, 4] and doc["padding"] == [2, 2]


def test_residual_inception_dense_merges() -> None:
    inception = one("""
input: {channels: 8, size: 32}
layers:
  - branches:
      name: mixed
      paths:
        - [conv: {out: 4, kernel: 1}]
        - [conv: {out: 4, kernel: 1}, conv: {out: 4, kernel: 5, padding: 2}]
        - [conv: {out: 4, kernel: [1, 7], padding: [0, 3]}, conv: {out: 4, kernel: [7, 1], padding: [3, 0]}]
        - [maxpool: {kernel: 3, stride: 1, padding: 1}]
""")
    assert inception.rf.size == (7, 7) and inception.rf.padding == (3, 3)
    dense = one("input: {channels: 4, size: 16}\nlayers:\n  - dense: {n: 3, body: [conv: {out: 2, kernel: 3, "
                "padding: 1}]}\n")
    assert dense.rf.size == (7, 7)
    res = one("input: {channels: 4, size: 16}\nlayers:\n  - residual: {body: [conv: {out: 4, kernel: 3, "
              "stride: 2, padding: 1}], projection: [conv: {out: 4, kernel: 1, stride: 2}]}\n")
    assert (res.rf.size, res.rf.stride) == ((3, 3), (2, 2))


def test_se_gate_local_and_full_rf() -> None:
    r = one("input: {channels: 16, size: 20}\nlayers:\n  - conv: {out: 16, kernel: 3, padding: 1}\n"
            "  - se: {reduction: 4}\n  - conv: {out: 16, kernel: 3, padding: 1}\n")
    assert r.rf.size == (5, 5)
    # the gate pools the whole 20×20 map of the first conv (RF 3 each, jump 1): pixels −1 … 20, one window for
    # every unit; the second conv's unit 0 adds its local window −2 … 2: −2 … 20, 23 (unit 19: −1 … 21)
    assert r.rf_full.size == (23, 23) and r.rf_full.smallest == (22, 22)


def test_global_pool_and_linear_see_everything() -> None:
    r = one("input: {channels: 3, size: 32}\nlayers:\n  - conv: {out: 8, kernel: 3, stride: 2, padding: 1}\n"
            "  - global_avgpool\n  - flatten\n  - linear: {out: 10}\n")
    assert r.rf.size == (3 + (16 - 1) * 2, 33)


def test_transposed_conv_divides_the_jump() -> None:
    """deconv(k4, s2, p1) after conv(k3, s2, p1): unit u reads the conv units v with 2v = u + 1 − t, t < 4, so
    unit 0 reads v = −1, 0 (pixels −3 … 1) and unit 1 reads v = 0, 1 (pixels −1 … 3): 5 each, repeating every
    2 units (2 pixels on), not the 6 of the fractional bound [(u + 1 − 3)/2, (u + 1)/2]."""
    r = one("input: {channels: 1, size: 8}\nlayers:\n  - conv: {out: 1, kernel: 3, stride: 2, padding: 1}\n"
            "  - deconv: {out: 1, kernel: 4, stride: 2, padding: 1}\n")
    assert r.output_shape == (1, 8, 8)
    assert (r.rf.size, r.rf.smallest, r.rf.period, r.rf.stride, r.rf.padding) == \
        ((5, 5), (5, 5), (2, 2), (1, 1), (3, 3))


def test_transposed_conv_whose_units_read_nothing() -> None:
    """deconv(k1, s3, p1) on 2 units gives 2 units, u = 3v − 1: unit 2 would read v = 1, units 0 and 1 read no
    input at all: receptive field 0, and a note. deconv(k4, s2, p1) on 2 pixels: every unit reads 2 (not 5/2)."""
    r = one("input: {channels: 1, size: 6}\nlayers:\n  - conv: {out: 1, kernel: 1, stride: 3}\n"
            "  - deconv: {out: 1, kernel: 1, stride: 3, padding: 1}\n")
    assert r.rf.size == (0, 0) and r.rf.stride == (1, 1)
    assert r.layers[-1].notes == ("no unit of this layer reads any input pixel (a transposed conv whose taps miss "
                                  "every input): receptive field 0",)
    r2 = one("input: {channels: 1, size: 2}\nlayers:\n  - deconv: {out: 1, kernel: 4, stride: 2, padding: 1}\n")
    assert (r2.rf.size, r2.rf.smallest, r2.rf.period) == ((2, 2), (2, 2), (2, 2))


def test_adaptive_pool_that_does_not_divide_is_exact() -> None:
    """10 → 4: PyTorch's windows [0, 3), [2, 5), [5, 8), [7, 10): 3 pixels each, 2 units per 5 pixels; 10 → 3:
    [0, 4), [3, 7), [6, 10): 4 each; 10 → 6: [0, 2), [1, 4), [3, 5), [5, 7), [6, 9), [8, 10): 2 or 3."""
    r = one("input: {channels: 1, size: 10}\nlayers:\n  - adaptive_avgpool: {size: 4}\n")
    assert (r.rf.size, r.rf.smallest, r.rf.period, r.rf.stride) == ((3, 3), (3, 3), (2, 2), (Fraction(5, 2),) * 2)
    assert r.notes[0] == ("adaptive_avgpool1: the units' windows are not evenly spaced from here on (height: 3 px "
                          "each, repeating every 2 units)")
    r6 = one("input: {channels: 1, size: 10}\nlayers:\n  - adaptive_avgpool: {size: [6, 3]}\n")
    assert (r6.rf.size, r6.rf.smallest, r6.rf.period) == ((3, 4), (2, 4), (3, 3))
    assert one("input: {channels: 1, size: 12}\nlayers:\n  - adaptive_avgpool: {size: 4}\n").notes == ()


def test_upsampling_divides_the_jump_exactly() -> None:
    r = one("input: {channels: 1, size: 8}\nlayers:\n  - conv: {out: 1, kernel: 3, stride: 3}\n"
            "  - upsample: {scale: 2}\n")
    assert r.rf.stride == (Fraction(3, 2), Fraction(3, 2))
    assert r.rf.size == (3, 3)


def test_deformable_is_nominal_and_flagged() -> None:
    r = one("input: {channels: 4, size: 8}\nlayers:\n  - deform: {out: 4, kernel: 3, padding: 1}\n  - relu\n")
    assert r.rf.size == (3, 3)
    assert all(x.data_dependent for x in r.layers)


def test_gridded_footprint_has_holes_hybrid_has_none() -> None:
    graphs = graphs_of(load_text((__import__("pathlib").Path(__file__).parent.parent / "specs" / "seed"
                                  / "dilated.yaml").read_text(), "dilated.yaml"))
    gridded = footprint(graphs[3], "repeat1/2/conv1")
    assert gridded.axes[0].counts == (1, 0, 3, 0, 6, 0, 7, 0, 6, 0, 3, 0, 1)
    assert gridded.axes[0].holes == gridded.axes[1].holes == 6
    assert gridded.map is not None and gridded.map[1] == (0,) * 13
    assert gridded.map[6][6] == 7 * 7
    hybrid = footprint(graphs[4], "conv3")
    assert hybrid.axes[0].counts == (1, 1, 2, 1, 2, 2, 2, 2, 1, 2, 2, 2, 2, 1, 2, 1, 1)
    assert hybrid.axes[0].holes == 0 and hybrid.axes[0].paths == 27
    assert hybrid.erf(Fraction(1, 2)) == (9, 9)
    assert hybrid.erf(Fraction(95, 100)) == (17, 17)


def test_footprint_paths_add_over_branches() -> None:
    """Two paths to the centre pixel through a residual: the identity and the 3-tap conv."""
    graphs = graphs_of(load_text("input: {channels: 1, size: 8}\nlayers:\n  - residual: {name: r, body: "
                                 "[conv: {out: 1, kernel: 3, padding: 1}]}\n", "r.yaml"))
    fp = footprint(graphs[0], "r")
    assert fp.axes[0].counts == (1, 2, 1)
    assert fp.map == ((1, 1, 1), (1, 2, 1), (1, 1, 1))


def test_map_cli_json_and_unknown_layer() -> None:
    from tests.conftest import ROOT

    result = CliRunner().invoke(app, ["rf", str(ROOT / "specs/seed/dilated.yaml"), "--map", "repeat1/2/conv1",
                                      "--format", "json"])
    doc = json.loads(result.stdout)
    fp = doc["footprints"][0]
    assert fp["holes"] == [6, 6] and fp["counts"]["h"] == [1, 0, 3, 0, 6, 0, 7, 0, 6, 0, 3, 0, 1]
    assert fp["erf50"] == [5, 5] and fp["erf95"] == [13, 13]
    result = CliRunner().invoke(app, ["rf", str(ROOT / "specs/seed/dilated.yaml"), "--map", "conv9"])
    assert result.exit_code == 2 and "--map: no layer or named block 'conv9'" in result.stderr
    assert "did you mean 'conv3'?" in result.stderr


def test_footprint_on_a_real_network_is_fast_and_consistent() -> None:
    from convcalc.lang.sources import zoo_document

    g = graphs_of(zoo_document("resnet50"))[0]
    fp = footprint(g, "layer2/0/relu3")
    node = {n.name: n for n in g.nodes}["layer2/0/relu3"]
    assert len(fp.axes[0].counts) == node.rf[0].size
    assert fp.axes[0].counts[0] > 0 and fp.axes[0].counts[-1] > 0
