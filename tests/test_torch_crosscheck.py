"""convcalc against PyTorch: every bundled spec and 200 random specs, exported with ``to_torch``.

For each model: the parameter and buffer counts equal the module's (``num_batches_tracked`` aside); every
node's output shape equals the tensor's; the MACs equal ``FlopCounterMode``'s count // 2 per node, for the
ops it counts (convolutions, transposed too, on the input side like convcalc; linear; SE's 1×1 convs);
and the receptive field equals the one measured by back-propagating from one output unit through a
monotone linear surrogate of the network (``rf_probe``: positive weights, zero biases, activations as
identities, max pools as sums over the same windows).

Receptive fields (``windows_full``; with the SE gates detached, also the local ``windows``) are compared on
the unit whose exact window (``convcalc.metrics.support.unit``) is most inside the input: a window inside
the input on both axes must equal the measured extent (min/max of the non-zero gradient; gridded dilation
leaves holes inside, never at the ends), and in any case the measured extent must lie in the window clipped
to the input, with no slack, also after transposed convs, upsampling, adaptive pools and splits. (Every
unit of small maps is measured in ``test_rf_exact.py``, against a neutral PyTorch build.)

Spec format 2: the random specs also draw every new kind and DAG groups (``from:`` references across named
blocks, ``add``/``concat``/``mul`` merges of references, gates broadcast over a merge, several ``outputs:``;
see ``tests/strategies.py``): each declared output must come out of ``forward_outputs`` by name, and no node
may be dead. A groupnorm is probed as x + its group's mean (rf_probe makes it an identity), so its full
field is measured too; the local field (gates detached) is compared where it differs from the full one,
after an SE, a groupnorm or a C×1×1 operand broadcast over an ``add`` or ``mul``. A pixel_unshuffle's
channels each read one pixel of its window, so a pixel_shuffle after it is compared by containment.

Big specs (zoo, TF-slim) run once at full size (batch 1, no grad) for counts, shapes and MACs; their
receptive fields are probed on a few nodes at the smallest of ``PROBE_SIZES`` at which they build.

torch is not part of the ``test`` extra: without it this module is skipped, with the reason and the
install command. CI installs the ``crosscheck`` extra and sets CONVCALC_REQUIRE_TORCH=1, so that a
missing torch there is a failure, never a silent skip.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from convcalc import analyze_document
from convcalc.graph import Graph, Node, build_graph
from convcalc.kinds import KINDS
from convcalc.kinds.conv import ConvArgs
from convcalc.kinds.reshape import UpsampleArgs as SizeArgs
from convcalc.lang.spec import parse_spec
from convcalc.lang.yaml_source import Document, load_file, load_text
from convcalc.metrics.channels import support
from convcalc.metrics.support import unit
from tests.conftest import import_torch
from tests.strategies import GeneratedSpec, specs

torch = import_torch()

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from convcalc.kinds.torch_modules import CroppedTransposed as _CroppedTransposed  # noqa: E402
from convcalc.torch_export import ConvcalcNet, to_torch  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]
ROOT = Path(__file__).resolve().parent.parent
#: The YOLO zoo's m, l and x are its n and s with wider and deeper scales (the same modules and code paths, 4-20x
#: the export's run time); their figures are checked against Ultralytics' in tests/test_ultralytics.py.
YOLO_SCALED = frozenset(f"yolo{v}{s}{t}.yaml" for v in ("v8", "11") for s in "mlx" for t in ("", "-cls"))
BUNDLED = sorted([*ROOT.glob("specs/seed/*.yaml"), *ROOT.glob("specs/rf/*.yaml"),
                  *(p for p in ROOT.glob("convcalc/zoo/*.yaml") if p.name not in YOLO_SCALED)])

#: Kinds whose MACs FlopCounterMode counts exactly as convcalc does.
COUNTED = frozenset({"conv", "dwconv", "pwconv", "separable", "deconv", "linear", "se", "attention", "patch_merging",
                     "psa_attention", "dfl"})
#: Specs larger than this (input H·W) get their receptive fields probed on a smaller input.
PROBE_AREA = 48 * 48
PROBE_SIZES = (65, 97, 129, 161, 193)
#: Nodes probed per model on big specs (evenly spread, always including the last spatial one).
PROBE_NODES = 6



# ---------------------------------------------------------------- loading


def graphs_of(doc: Document) -> list[Graph]:
    spec = parse_spec(doc)
    graphs = [build_graph(spec, m) for m in spec.models]
    assert all(g is not None for g in graphs)
    return [g for g in graphs if g is not None]


def resized(path: Path, size: int) -> list[Graph] | None:
    """The models of a spec with every input set to size × size (None if it does not build)."""
    from convcalc.errors import SpecError

    doc = load_file(path)
    data = doc.data

    def fix(inp: Any) -> None:
        if isinstance(inp, dict):
            for key in ("size", "height", "width"):
                inp.pop(key, None)
            inp.update(height=size, width=size)

    fix(data.get("input"))
    for alt in data.get("alternatives") or []:
        fix(alt.get("input"))
    try:
        return graphs_of(doc)
    except SpecError:
        return None


# ---------------------------------------------------------------- the checks


def check_counts(net: ConvcalcNet, g: Graph, report_params: int, report_buffers: int) -> None:
    params = sum(p.numel() for p in net.parameters())
    buffers = sum(b.numel() for name, b in net.named_buffers() if not name.endswith("num_batches_tracked"))
    assert params == sum(n.cost.params for n in g.nodes) == report_params, g.name
    assert buffers == sum(n.cost.buffers for n in g.nodes) == report_buffers, g.name
    for node in g.layers:  # per layer too
        if node.layer is not None:
            m = net.layers[str(node.index)]
            assert sum(p.numel() for p in m.parameters()) == node.cost.params, node.name
            assert sum(b.numel() for name, b in m.named_buffers()
                       if not name.endswith("num_batches_tracked")) == node.cost.buffers, node.name


def check_shapes(values: dict[int, Any], g: Graph, batch: int, training: bool) -> None:
    for node in g.nodes:
        if node.training_only and not training:
            assert node.index not in values, f"{node.name} (training only) ran in eval mode"
            continue
        assert tuple(values[node.index].shape) == (batch, *node.shape), f"{g.name}: {node.name} ({node.kind})"


def deform_sampling_macs(node: Node, g: Graph) -> int:
    """The bilinear sampling convcalc counts in a deformable conv (4·O·K·C_in), which FlopCounterMode does not
    see (gathers; the offset conv and the main conv on the samples are convolutions it counts)."""
    a = node.layer.args if node.layer is not None else None
    assert isinstance(a, ConvArgs)
    cin = g.nodes[node.inputs[0]].shape.c
    return 4 * node.shape.h * node.shape.w * a.kernel[0] * a.kernel[1] * cin


def check_macs(fc: FlopCounterMode, g: Graph) -> None:
    counts = fc.get_flop_counts()
    per_node = 0
    for node in g.layers:
        if node.training_only:
            continue
        flops = sum(counts.get(f"ConvcalcNet.layers.{node.index}", {}).values())
        per_node += flops
        where = f"{g.name}: {node.name} ({node.kind})"
        if node.kind in COUNTED:
            assert flops == 2 * node.cost.macs, where
        elif node.kind == "deform":
            assert flops == 2 * (node.cost.macs - deform_sampling_macs(node, g)), where
        elif node.kind == "upsample":
            a = node.layer.args if node.layer is not None else None
            assert isinstance(a, SizeArgs)
            assert flops == 0 and node.cost.macs == (4 * node.shape.c * node.shape.h * node.shape.w
                                                     if a.mode == "bilinear" else 0), where
        else:
            assert flops == 0 and node.cost.macs == 0, where
    assert fc.get_total_flops() == per_node, f"{g.name}: flops outside the layer modules"
    if not any(n.kind in ("deform", "upsample") for n in g.layers):
        assert fc.get_total_flops() == 2 * sum(n.cost.macs for n in g.layers if not n.training_only)


def run_eval(g: Graph, report_params: int, report_buffers: int) -> None:
    """One pass in eval mode: counts, every node's shape, MACs, the declared outputs."""
    net = to_torch(g).eval()
    check_counts(net, g, report_params, report_buffers)
    x = torch.randn(1, *g.input)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        values = net.forward_all(x)
    check_shapes(values, g, 1, training=False)
    check_macs(fc, g)
    with torch.no_grad():  # (a max pool whose dilated window sees only padding gives −inf, hence NaN later)
        torch.testing.assert_close(net(x), values[g.output], rtol=0, atol=0, equal_nan=True)
        outs = net.forward_outputs(x)
    assert list(outs) == list(dict.fromkeys(o.name for o in g.outputs)), g.name
    for o in g.outputs:
        torch.testing.assert_close(outs[o.name], values[o.node], rtol=0, atol=0, equal_nan=True)


def run_train(g: Graph) -> None:
    """Training mode (batch 2, so batch norm works on 1×1 maps): training-only nodes run too."""
    net = to_torch(g).train()
    with torch.no_grad():
        values = net.forward_all(torch.randn(2, *g.input))
    check_shapes(values, g, 2, training=True)


# ---------------------------------------------------------------- receptive fields


class GroupMeanProbe(torch.nn.Module):
    """groupnorm in the probe: x + the mean of x over its group (the group's channels and all positions), a
    monotone stand-in with the statistics' reach (rf_probe makes groupnorm an identity: the local field only).
    ``local``: the mean of a detached x (the same values, gradients only through the local path)."""

    def __init__(self, groups: int, local: bool) -> None:
        super().__init__()
        self.groups, self.local = groups, local

    def forward(self, x: Any) -> Any:
        n, c, h, w = x.shape
        m = (x.detach() if self.local else x).reshape(n, self.groups, -1).mean(2, keepdim=True)
        return x + m.expand(n, self.groups, c // self.groups * h * w).reshape(n, c, h, w)


def probe(g: Graph, dtype: Any = torch.float64, local: bool = False) -> ConvcalcNet:
    """The probe with weights 1/fan-in (values stay near 1, so float32 is enough for the big specs: the
    smallest gradient at a window end is about (1/k)^depth per axis). ``local``: SE gates (and operands
    broadcast over a merge) detached. groupnorm becomes :class:`GroupMeanProbe`."""
    net = to_torch(g, rf_probe=True, local=local).to(dtype).eval()
    for node in g.nodes:
        if node.kind == "groupnorm" and node.layer is not None:
            net.layers[str(node.index)] = GroupMeanProbe(node.layer.args.groups, local)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() > 1:
                p.fill_(1.0 / p[0].numel())
            elif name.endswith("bias"):
                p.zero_()
            else:
                p.fill_(1.0)
    return net


def gate_inputs(g: Graph, node: Node) -> set[int]:
    """The inputs of an add or mul broadcast over it from C×1×1 (gates: in the full field only)."""
    if node.kind not in ("add", "mul"):
        return set()
    return {i for i in node.inputs if g.nodes[i].shape.h * g.nodes[i].shape.w == 1 < node.shape.h * node.shape.w}


def has_gates(g: Graph, nodes: list[Node]) -> bool:
    """Whether the local field differs from the full one somewhere: an SE, a groupnorm, a broadcast gate."""
    return any(n.kind in ("se", "groupnorm") or gate_inputs(g, n) for n in nodes)


def check_rf(net: ConvcalcNet, g: Graph, nodes: list[Node], local: bool = False) -> int:
    """Measure each node's receptive field by back-propagation; returns how many axes were compared exactly.
    ``local``: the net's SE gates are detached, compare with convcalc's local ``windows`` (else the full ones).

    The unit measured is the one whose exact window is most inside the input. One pass for all nodes: sample k
    of a batch is back-propagated from node k only (the probe has no cross-sample op), so one backward gives
    every node's input gradient."""
    if not nodes:
        return 0
    lengths = (g.input.h, g.input.w)
    units: list[tuple[int, int]] = []
    for node in nodes:
        sup = support(node.windows if local else node.windows_full)
        best: tuple[int, int] | None = None
        score = None
        for uh in range(node.shape.h):
            for uw in range(node.shape.w):
                win = unit(sup, uh, uw)
                if win is None:
                    continue
                inside = min(min(e.lo, n - 1 - e.hi) for e, n in zip(win, lengths, strict=True))
                if score is None or inside > score:
                    best, score = (uh, uw), inside
        units.append(best or (0, 0))
    dtype = next(iter(net.parameters()), torch.ones(())).dtype
    x = torch.ones(len(nodes), *g.input, dtype=dtype, requires_grad=True)
    values = net.forward_all(x)
    total = sum(values[n.index][k, :, u[0], u[1]].sum() for k, (n, u) in enumerate(zip(nodes, units, strict=True)))
    assert isinstance(total, torch.Tensor)
    (grad,) = torch.autograd.grad(total, x, allow_unused=True)
    reached = (grad != 0).any(1) if grad is not None else torch.zeros(len(nodes), *lengths, dtype=torch.bool)
    return sum(_compare(g, node, u, reached[k], local) for k, (node, u) in enumerate(zip(nodes, units, strict=True)))


def _compare(g: Graph, node: Node, units: tuple[int, int], mask: Any, local: bool) -> int:
    """The measured extent lies in convcalc's exact window of the unit (clipped to the input), and equals it
    where the window lies inside the input on both axes (no slack anywhere)."""
    lengths = (g.input.h, g.input.w)
    win = unit(support(node.windows if local else node.windows_full), *units)
    where = f"{g.name}: {node.name} ({node.kind}) unit {units}"
    if win is None:
        assert not mask.any(), f"{where}: convcalc says it reads no input pixel, the gradient reaches some"
        return 0
    windows = [(e.lo, e.hi) for e in win]
    if not mask.any():
        # nothing reached: only if some axis's window leaves the input (padding only, or holes)
        assert any(lo < 0 or hi > n - 1 for (lo, hi), n in zip(windows, lengths, strict=True)), \
            f"{where}: no input pixel reaches it, convcalc says {windows}"
        return 0
    # a path whose window leaves the input on one axis may read only padding there (dilation holes) and
    # then adds nothing on the other axis either: exact ends only when both windows lie in the input
    inside = all(lo >= 0 and hi <= n - 1 for (lo, hi), n in zip(windows, lengths, strict=True))
    exact_axes = 0
    for ax, ((lo, hi), n) in enumerate(zip(windows, lengths, strict=True)):
        hit = mask.any(1 - ax).nonzero()
        m, big_m = int(hit.min()), int(hit.max())
        msg = f"{where} axis {'hw'[ax]}: measured [{m}, {big_m}], convcalc window [{lo}, {hi}] of {n}"
        assert max(lo, 0) <= m and big_m <= min(hi, n - 1), msg
        if inside:
            assert (m, big_m) == (lo, hi), msg
            exact_axes += 1
    return exact_axes


def spread(nodes: list[Node], k: int) -> list[Node]:
    """Up to k nodes evenly spread, the last one always included."""
    if len(nodes) <= k:
        return nodes
    step = Fraction(len(nodes) - 1, k - 1)
    return [nodes[int(j * step)] for j in range(k)]


def spatial(g: Graph) -> list[Node]:
    return [n for n in g.layers if not n.training_only and (n.shape.h > 1 or n.shape.w > 1)]


# ---------------------------------------------------------------- tests


def test_importing_convcalc_does_not_import_torch() -> None:
    code = ("import sys, convcalc, convcalc.metrics.analysis, convcalc.graph, convcalc.outputs.views, "
            "convcalc.outputs.render\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("version", [1, 2])
def test_deform_reference_with_zero_offsets_is_a_conv(version: int) -> None:
    """With the offset conv at zero, deformable conv v1 is the plain conv with the same weights (v2: times
    sigmoid(0) = 1/2), on a strided, dilated, asymmetrically padded, grouped example."""
    text = ("input: {channels: 4, height: 9, width: 8}\nlayers:\n"
            f"  - deform: {{out: 6, kernel: [3, 2], stride: [2, 1], dilation: [1, 2], groups: 2, "
            f"offset_groups: 2, version: {version}, padding: [[1, 2], [0, 1]]}}\n")
    (g,) = graphs_of(load_text(text, "deform.yaml"))
    net = to_torch(g).double()
    deform = net.layers["1"]
    for p in deform.offset.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64)
    padded = torch.nn.functional.pad(x, (0, 1, 1, 2))
    want = torch.nn.functional.conv2d(padded, deform.weight, deform.bias, (2, 1), 0, (1, 2), 2)
    if version == 2:
        want = torch.nn.functional.conv2d(padded, deform.weight / 2, deform.bias, (2, 1), 0, (1, 2), 2)
    got = net(x)
    assert got.shape == (2, *g.nodes[1].shape)
    torch.testing.assert_close(got, want)


def test_deform_reference_samples_bilinearly() -> None:
    """A constant offset of half a pixel down gives the mean of two neighbouring rows (zero outside)."""
    text = "input: {channels: 1, height: 4, width: 3}\nlayers:\n  - deform: {out: 1, kernel: 1, bias: false}\n"
    (g,) = graphs_of(load_text(text, "deform.yaml"))
    net = to_torch(g).double()
    deform = net.layers["1"]
    with torch.no_grad():
        deform.weight.fill_(1.0)
        deform.offset.weight.zero_()
        deform.offset.bias.copy_(torch.tensor([0.5, 0.0]))
    x = torch.arange(12, dtype=torch.float64).reshape(1, 1, 4, 3)
    below = torch.cat([x[:, :, 1:], torch.zeros(1, 1, 1, 3, dtype=torch.float64)], 2)
    torch.testing.assert_close(net(x), (x + below) / 2)


def test_pool_same_padding_is_tensorflows() -> None:
    """TF SAME: max pool ignores the padding, average pool divides by the taps inside the input."""
    text = ("input: {channels: 1, height: 4, width: 4}\nalternatives:\n"
            "  - {name: max, layers: [maxpool: {kernel: 3, stride: 2, padding: same}]}\n"
            "  - {name: avg, layers: [avgpool: {kernel: 3, stride: 2, padding: same}]}\n")
    gmax, gavg = graphs_of(load_text(text, "pool.yaml"))
    x = -torch.arange(1.0, 17.0).reshape(1, 1, 4, 4)  # all negative: a zero pad would win a max
    # SAME at 4 with k 3, s 2: pad 1 at the end only; windows rows/cols {0,1,2} and {2,3}
    assert to_torch(gmax)(x).flatten().tolist() == [-1.0, -3.0, -9.0, -11.0]
    assert to_torch(gavg)(x).flatten().tolist() == pytest.approx(
        [-6.0, -7.5, -12.0, -13.5])


@pytest.mark.parametrize("path", BUNDLED, ids=[f"{p.parent.name}/{p.name}" for p in BUNDLED])
def test_bundled_spec_matches_pytorch(path: Path) -> None:
    doc = load_file(path)
    reports = analyze_document(doc)
    graphs = graphs_of(load_file(path))
    big = any(g.input.h * g.input.w > PROBE_AREA for g in graphs)
    for g, r in zip(graphs, reports, strict=True):
        run_eval(g, r.params, r.total.buffers)
        if not big:
            if any(n.training_only for n in g.nodes):
                run_train(g)
            nodes = [n for n in g.layers if not n.training_only]
            check_rf(probe(g), g, nodes)
            if has_gates(g, nodes):
                check_rf(probe(g, local=True), g, nodes, local=True)
    if big:  # receptive fields (and training-only branches) on the smallest input that builds
        small = next((gs for gs in map(lambda size: resized(path, size), PROBE_SIZES) if gs is not None), None)
        for g in small or []:
            if any(n.training_only for n in g.nodes):
                run_train(g)
            check_rf(probe(g, torch.float32), g, spread(spatial(g), PROBE_NODES))
            if has_gates(g, g.nodes):
                check_rf(probe(g, torch.float32, local=True), g, spread(spatial(g), PROBE_NODES), local=True)
        if small is None:  # (Inception v3's auxiliary head needs 299): the last feature map at full size
            for g in graphs:
                check_rf(probe(g, torch.float32), g, spatial(g)[-1:])


BLOCK_FEATURES = {
    "residual-identity", "residual-projection", "residual-shortcut", "residual-when", "branches-concat",
    "branches-add", "split", "empty-path", "dense", "repeat", "repeat-$i", "side", "side-training-only",
    "sequence", "template", "$kind", "make_divisible", "if", "if-false", "alternatives", "same",
    "defaults-padding-same", "asymmetric-padding", "asymmetric-kernel", "dilation", "stride", "groups",
    "ceil_mode", "output_padding", "deform-v1", "deform-v2", "upsample-nearest", "upsample-bilinear", "up-down",
    # spec format 2
    "upsample-size", "upsample-real", "separable-multiplier", "dag", "from", "from-in-block", "from-suffix",
    "from-inside-later-block", "named-block-layer", "fork", "merge-add", "merge-concat", "merge-mul", "merge-refs",
    "gate-se", "gate-spatial", "gate-bias", "outputs", "several-outputs", "head-output",
}


def test_random_specs_match_pytorch() -> None:
    seen: set[str] = set()
    kinds: set[str] = set()
    exact = [0]

    # no shrinking: a failure prints its (full) spec at once instead of minutes later
    @settings(max_examples=200, derandomize=True, deadline=None, database=None, print_blob=False,
              phases=(Phase.explicit, Phase.generate),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(specs())
    def run(gen: GeneratedSpec) -> None:
        doc = load_text(gen.text, "random.yaml")
        reports = analyze_document(doc)
        graphs = graphs_of(load_text(gen.text, "random.yaml"))
        assert [tuple(g.nodes[g.output].shape) for g in graphs] == gen.outputs
        assert [[tuple(g.nodes[o.node].shape) for o in g.outputs] for g in graphs] == gen.all_outputs
        for g, r in zip(graphs, reports, strict=True):
            assert not g.dead, [g.nodes[i].name for i in g.dead]  # the generator merges or outputs every branch
            run_eval(g, r.params, r.total.buffers)
            if any(n.training_only for n in g.nodes):
                run_train(g)
            nodes = [n for n in g.layers if not n.training_only]
            exact[0] += check_rf(probe(g), g, nodes)
            if has_gates(g, nodes):  # the local field too (gates detached), where it differs from the full one
                differ = [n for n in nodes if n.rf != n.rf_full]
                exact[0] += check_rf(probe(g, local=True), g, differ, local=True)
            kinds.update(n.kind for n in g.nodes)
        seen.update(gen.features)

    run()
    # the attention group's kinds are drawn by tests/strategies_attention.py (test_attention_crosscheck.py)
    drawn = {k for k in KINDS if KINDS[k].group != "attention"}
    assert drawn | {"add", "concat", "mul", "split"} <= kinds, (drawn | {"mul"}) - kinds
    assert BLOCK_FEATURES <= seen, BLOCK_FEATURES - seen
    assert exact[0] > 500  # receptive-field windows compared exactly (both ends inside the input)


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
def test_general_pool_path_equals_pytorch_native(kind: str) -> None:
    """The padded general path (used for asymmetric and SAME padding) gives exactly PyTorch's pooling where
    PyTorch can express it: symmetric padding, ceil_mode, count_include_pad, dilation."""
    cases = 0
    for k, s, p, d, ceil, include in itertools.product((1, 2, 3), (1, 2, 3), (0, 1), (1, 2), (False, True),
                                                       (False, True)):
        if p > k // 2 or (kind == "avgpool" and (d > 1 or not include and p == 0)):
            continue
        extra = f", dilation: {d}" if kind == "maxpool" else f", count_include_pad: {str(include).lower()}"
        text = (f"input: {{channels: 2, height: 7, width: 6}}\nlayers:\n  - {kind}: {{kernel: {k}, stride: {s}, "
                f"padding: {p}, ceil_mode: {str(ceil).lower()}{extra}}}\n")
        try:
            (g,) = graphs_of(load_text(text, "pool.yaml"))
        except Exception:  # the kernel does not fit
            continue
        net = to_torch(g).double()
        pool = net.layers["1"]
        assert pool.native
        x = torch.randn(1, 2, 7, 6, dtype=torch.float64)
        native = net(x)
        pool.native = False
        torch.testing.assert_close(net(x), native, rtol=0, atol=1e-12, msg=text)
        cases += 1
    assert cases > 40


def test_asymmetric_transposed_crop_equals_pytorch_padding() -> None:
    """A transposed conv with padding (p, p) computed as the full output cropped per side equals PyTorch's
    padding p, with output_padding, stride, dilation and groups."""
    for k, s, p, op, d, g in itertools.product((1, 2, 3), (1, 2, 3), (0, 1, 2), (0, 1, 2), (1, 2), (1, 2)):
        if op >= max(s, d) or min((i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i in (4, 5)) < 1:
            continue
        native = torch.nn.ConvTranspose2d(2, 4, k, s, p, op, g, True, d).double()
        full = torch.nn.ConvTranspose2d(2, 4, k, s, 0, op, g, True, d).double()
        full.load_state_dict(native.state_dict())
        x = torch.randn(1, 2, 4, 5, dtype=torch.float64)
        want = native(x)
        got = _CroppedTransposed(full, ((p, p), (p, p)))(x)
        torch.testing.assert_close(got, want)


def test_channel_shuffle_is_torchs() -> None:
    (g,) = graphs_of(load_text("input: {channels: 12, size: 2}\nlayers: [channel_shuffle: {groups: 3}]\n", "s.yaml"))
    x = torch.randn(2, 12, 2, 2)
    assert torch.equal(to_torch(g)(x), torch.nn.ChannelShuffle(3)(x))


# ---------------------------------------------------------------- findings of the random specs (spec format 2)
# Each is a minimal spec of a disagreement the random cross-checks found (fixed; the generator avoided them).

TRAINING_ONLY_OUTPUT = """convcalc: 2
input: {channels: 1, size: 2}
layers:
  - side: {name: aux, training_only: true, body: [conv: {name: head, out: 1, kernel: 1}]}
  - relu: {name: main}
outputs: [main, aux/head]
"""
TRAINING_ONLY_MERGED = """convcalc: 2
input: {channels: 1, size: 2}
layers:
  - side: {name: aux, training_only: true, body: [conv: {name: head, out: 1, kernel: 1}]}
  - add: {from: [previous, aux/head]}
"""


@pytest.mark.parametrize("text", [TRAINING_ONLY_OUTPUT, TRAINING_ONLY_MERGED], ids=["output", "merged"])
def test_a_training_only_layer_feeding_an_output_is_refused_or_counted(text: str) -> None:
    from convcalc import ConvcalcError

    try:
        (r,) = analyze_document(load_text(text, "t.yaml"))
    except ConvcalcError:
        return  # refused: fine
    (g,) = graphs_of(load_text(text, "t.yaml"))
    assert r.macs == 4  # the 1×1 conv on 2×2 that an output needs
    outs = to_torch(g).eval().forward_outputs(torch.randn(1, 1, 2, 2))
    assert [tuple(t.shape[1:]) for t in outs.values()] == [tuple(o.shape) for o in r.outputs]


@pytest.mark.parametrize("how", ["size: 2", "scale: 0.25"])
def test_bilinear_downsampling_window_holds_the_pixels_read(how: str) -> None:
    text = f"convcalc: 2\ninput: {{channels: 1, size: 8}}\nlayers:\n  - upsample: {{{how}, mode: bilinear}}\n"
    (g,) = graphs_of(load_text(text, "up.yaml"))
    x = torch.ones(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    to_torch(g).double()(x)[0, 0, 0, 0].backward()
    assert x.grad is not None
    rows = (x.grad[0, 0] != 0).any(1).nonzero().flatten().tolist()
    rf = g.nodes[1].rf[0]
    assert rf.start <= min(rows) and max(rows) <= rf.start + rf.size - 1, (rows, rf)


def test_probe_stays_monotone_with_a_negative_scale() -> None:
    text = ("convcalc: 2\ninput: {channels: 1, size: 5}\nlayers:\n  - conv: {name: A, out: 1, kernel: 3, padding: 1}\n"
            "  - scale: {value: -1}\n  - add: {from: [previous, A]}\n")
    (g,) = graphs_of(load_text(text, "scale.yaml"))
    check_rf(probe(g), g, g.layers)
