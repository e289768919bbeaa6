"""convcalc's analysis against a neutral reading of the same spec data (``tests/neutral/builder.py``).

The builder reads the spec (the YAML as Python values) with its own interpretation of every kind and block
and of ``from:``, merges and ``outputs:``, in plain ``torch.nn``, sharing no code with convcalc's graph or
exporter. So unlike ``test_torch_crosscheck.py`` (convcalc's exporter against convcalc's analysis), a
misreading of the spec cannot pass here by being made twice. On random DAG specs
(``specs(neutral=True)``: every layer kind but ``deform``, references into and out of named blocks,
several outputs, broadcast gates) each model must agree on:

* parameters: the analysis's total = the module's parameter count; buffers likewise (``num_batches_tracked``
  aside);
* MACs: the analysis's total = ``FlopCounterMode``'s count / 2 + the bilinear interpolation the builder
  counts itself (4 per output element: FlopCounterMode sees no MACs in ``upsample_bilinear2d``);
* outputs: the shape of every declared output, in order, and the node it resolves to;
* names: every user-named layer, merge and block (full ``/``-joined name) exists in both, with one shape;
* structure: node k of the analysis (its layer rows, in order) is step k of the builder's program: the
  same kind, output shape and inputs. Both walk the spec in its order, so any misreading of ``from:``
  (which scope a name resolves in), of a block's wiring or of a kind's shape shows up at its own node.

Seeded (``derandomize=True``) like the other random tests; ``CONVCALC_NEUTRAL_EXAMPLES`` sets the number of
examples (CI: 300, about 15 s), ``CONVCALC_FUZZ_RANDOM=1`` draws a fresh seed. Skipped without torch unless
CONVCALC_REQUIRE_TORCH=1 (CI), where a missing torch is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings

from convcalc import Report, analyze_text
from convcalc.kinds import KINDS
from tests.conftest import import_torch
from tests.strategies import GeneratedSpec, specs

torch = import_torch()

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from tests.neutral.builder import NeutralNet, build  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]
EXAMPLES = int(os.environ.get("CONVCALC_NEUTRAL_EXAMPLES", "300"))
RANDOM = bool(os.environ.get("CONVCALC_FUZZ_RANDOM"))

#: Every feature of the neutral subset the examples must have drawn.
FEATURES = {
    "dag", "from", "from-in-block", "from-suffix", "from-inside-later-block", "named-block-layer", "fork",
    "merge-add", "merge-concat", "merge-mul", "merge-refs", "gate-se", "gate-spatial", "gate-bias", "outputs",
    "several-outputs", "head-output", "alternatives", "residual-identity", "residual-projection",
    "residual-shortcut", "residual-when", "branches-concat", "branches-add", "split", "empty-path", "repeat",
    "dense", "side", "side-training-only", "if", "if-false", "upsample-size", "upsample-real",
    "upsample-bilinear", "separable-multiplier", "up-down", "ceil_mode", "dilation", "groups", "output_padding",
    "shadowed-name",
}


def user_names(r: Report) -> dict[str, tuple[tuple[int, ...], str]]:
    """The analysis's user-given full names (the automatic ones are lower case: ``conv3``, ``input``) →
    (shape, the node they stand for)."""
    out: dict[str, tuple[tuple[int, ...], str]] = {}
    for row in r.layers:
        if row.name.rsplit("/", 1)[-1][:1].isupper():
            out[row.name] = (tuple(row.output_shape), row.name)
    for b in r.blocks:
        out[b.name] = (tuple(b.output_shape), b.output)
    return out


def per_kind(fc: FlopCounterMode, net: NeutralNet) -> dict[str, int]:
    """FlopCounterMode's MACs by the kind of the module they ran in."""
    sums: Counter[str] = Counter()
    for path, counts in fc.get_flop_counts().items():
        parts = path.split(".")
        if len(parts) == 3 and parts[1] == "mods":
            sums[net.info.kinds[int(parts[2])]] += sum(counts.values()) // 2
    return dict(sums)


def check_structure(r: Report, net: NeutralNet) -> None:
    """Node by node: (kind, output shape, input nodes) in the analysis and in the builder's program."""
    index = {"input": 0}
    for k, (row, op) in enumerate(zip(r.layers, net.ops, strict=True), 1):
        index[row.name] = k
        ours = (net.info.kinds[op.module] if op.kind == "module" else "split" if op.kind == "slice" else op.kind,
                net.shapes[k], op.inputs)
        theirs = (row.type, tuple(row.output_shape), tuple(index[i] for i in row.inputs))
        assert ours == theirs, f"model {r.name!r}: node {k} {row.name!r}: (kind, shape, inputs) {theirs} (convcalc) " \
                               f"vs {ours} (neutral); inputs are node numbers, 0 the input"


def check_model(r: Report, net: NeutralNet, shapes: list[tuple[int, int, int]]) -> None:
    where = f"model {r.name!r}"
    assert len(r.layers) == len(net.ops), f"{where}: {len(r.layers)} nodes (convcalc) vs {len(net.ops)} (neutral)"
    check_structure(r, net)
    params = sum(p.numel() for p in net.parameters())
    buffers = sum(b.numel() for n, b in net.named_buffers() if not n.endswith("num_batches_tracked"))
    assert r.params == params, f"{where}: params {r.params} (convcalc) vs {params} (neutral)"
    assert r.total.buffers == buffers, f"{where}: buffers {r.total.buffers} (convcalc) vs {buffers} (neutral)"
    x = torch.randn(1, *net.input_shape)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        outs = net(x)
    flops = fc.get_total_flops()
    assert flops % 2 == 0
    macs = flops // 2 + net.info.interpolation_macs
    if r.macs != macs:
        theirs: Counter[str] = Counter()
        for row in r.layers:
            if not row.training_only and not row.dead:
                theirs[row.type] += row.cost.macs
        raise AssertionError(f"{where}: MACs {r.macs} (convcalc) vs {macs} (neutral: FlopCounterMode {flops // 2} + "
                             f"interpolation {net.info.interpolation_macs}); convcalc by kind "
                             f"{ {k: v for k, v in theirs.items() if v} }, FlopCounterMode by kind {per_kind(fc, net)}")
    got = [tuple(o.shape[1:]) for o in outs]
    assert got == [tuple(o.shape) for o in r.outputs], f"{where}: output shapes (neutral {got})"
    assert got == shapes, f"{where}: output shapes (neutral {got}, generator {shapes})"
    names = user_names(r)
    ours = {n: net.shapes[v] for n, v in net.info.names.items()}
    assert set(ours) == set(names), f"{where}: names only in convcalc {sorted(set(names) - set(ours))}, only in " \
                                    f"the neutral reading {sorted(set(ours) - set(names))}"
    for n, shape in ours.items():
        assert names[n][0] == shape, f"{where}: {n!r} is {names[n][0]} (convcalc) vs {shape} (neutral)"
    if net.output_names:  # declared outputs: each resolves to the node convcalc outputs
        assert [names[n][1] for n in net.output_names] == [o.name for o in r.outputs], where


def test_random_dag_specs_match_a_neutral_reading() -> None:
    seen: set[str] = set()
    kinds: set[str] = set()

    # no shrinking: a failure prints its (full) spec at once
    @settings(max_examples=EXAMPLES, derandomize=not RANDOM, deadline=None, database=None, print_blob=False,
              phases=(Phase.explicit, Phase.generate),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(specs(neutral=True))
    def run(gen: GeneratedSpec) -> None:
        data: Any = yaml.safe_load(gen.text)
        reports = analyze_text(gen.text, "random.yaml")
        nets = build(data)
        assert len(nets) == len(reports) == len(gen.all_outputs)
        for r, net, shapes in zip(reports, nets, gen.all_outputs, strict=True):
            check_model(r, net, shapes)
            kinds.update(row.type for row in r.layers)
        seen.update(gen.features)

    run()
    if EXAMPLES >= 100:
        # the attention group's kinds are drawn by tests/strategies_attention.py (test_attention_crosscheck.py)
        drawn = {k for k in KINDS if k != "deform" and KINDS[k].group != "attention"}
        assert drawn | {"add", "concat", "mul", "split"} <= kinds, drawn - kinds
        assert FEATURES <= seen, FEATURES - seen


def test_neutral_builder_reads_a_hand_written_dag() -> None:
    """A fixed example of every DAG feature, with its numbers worked out by hand (so that the builder itself
    is checked against something other than convcalc)."""
    text = """
convcalc: 2
input: {channels: 4, size: 8}
layers:
  - conv: {name: Stem, out: 8, kernel: 3, padding: 1}
  - sequence:
      name: Enc
      body:
        - conv: {name: Down, out: 8, kernel: 3, stride: 2, padding: 1}
        - layernorm: {name: Ln}
  - global_avgpool
  - conv: {out: 2, kernel: 1}
  - relu
  - conv: {out: 8, kernel: 1}
  - sigmoid
  - mul: {name: Gated, from: [Enc, previous]}
  - upsample: {scale: 2, mode: bilinear}
  - concat: {name: Cat, from: [previous, Stem]}
  - groupnorm: {groups: 4, name: Head}
  - pixel_unshuffle: {factor: 2, from: Enc/Ln, name: P2}
outputs: [Head, P2, Gated]
"""
    (net,) = build(yaml.safe_load(text))
    (r,) = analyze_text(text, "dag.yaml")
    # stem 4·8·9 + 8; down 8·8·9 + 8; ln 2·8; SE convs 8·2 + 2 and 2·8 + 8; groupnorm 2·16
    assert sum(p.numel() for p in net.parameters()) == 296 + 584 + 16 + 18 + 24 + 32 == r.params
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        outs = net.forward_outputs(x)
    # stem 64·8·36; down 16·8·72; SE 16 + 16; bilinear 4·8·64
    assert fc.get_total_flops() // 2 + net.info.interpolation_macs == 18432 + 9216 + 32 + 2048 == r.macs
    assert [tuple(o.shape[1:]) for o in outs.values()] == [(16, 8, 8), (32, 2, 2), (8, 4, 4)]
    assert net.output_names == ["Head", "P2", "Gated"]
    assert set(net.info.names) == {"Stem", "Enc", "Enc/Down", "Enc/Ln", "Gated", "Cat", "Head", "P2"}
    check_model(r, net, [(16, 8, 8), (32, 2, 2), (8, 4, 4)])


def test_neutral_builder_reads_blocks() -> None:
    """Block semantics worked out by hand: a projection left out where the shape is kept and applied where it
    changes, a split with an empty path, dense and repeat iterations and their names."""
    text = """
input: {channels: 4, size: 6}
layers:
  - residual:
      name: R
      body: [conv: {out: 4, kernel: 3, padding: 1}]
      projection: [pwconv: {out: 4}]
  - residual:
      body: [conv: {out: 6, kernel: 1, bias: false}]
      projection: [pwconv: {out: 6, bias: false}]
  - branches: {split: [2, 4], paths: [[], [dwconv: {kernel: 3, padding: 1, bias: false}]]}
  - dense: {name: D, n: 2, body: [conv: {out: 2, kernel: 1, bias: false}]}
  - repeat: {name: Rep, n: 2, body: [relu: {name: A}]}
outputs: [Rep/1/A, R]
"""
    (net,) = build(yaml.safe_load(text))
    (r,) = analyze_text(text, "blocks.yaml")
    # R: 4·4·9 + 4 (no projection); 6·4 + 6·4; dwconv 4·9; dense 6·2 + 8·2
    assert sum(p.numel() for p in net.parameters()) == 148 + 48 + 36 + 28 == r.params
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        outs = net(torch.randn(1, 4, 6, 6))
    assert fc.get_total_flops() // 2 == 36 * (144 + 48 + 36 + 28) == r.macs
    assert [tuple(o.shape[1:]) for o in outs] == [(10, 6, 6), (4, 6, 6)]
    assert set(net.info.names) == {"R", "D", "Rep", "Rep/0/A", "Rep/1/A"}
    check_model(r, net, [(10, 6, 6), (4, 6, 6)])


def test_neutral_builder_imports_nothing_of_convcalc() -> None:
    code = "import sys, tests.neutral.builder\nassert not [m for m in sys.modules if m.startswith('convcalc')]\n"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)
