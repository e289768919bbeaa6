"""The token and attention kinds against PyTorch: random specs (``tests/strategies_attention.py``) and worked
cases.

The reference is the neutral build (``tests/neutral/builder.py`` with ``tests/neutral/attention.py``): plain
``torch.nn`` written from the spec format and from the reference implementations (``nn.MultiheadAttention``
itself for global attention where it applies; torchvision's Swin v1/v2 window attention, padding, cyclic
shift, mask, relative position table and MLP, cosine attention and patch merging; MaxViT's grid; Ultralytics'
``Attention`` of C2PSA), importing nothing of convcalc. On each random spec:

* counts and shapes (``EXAMPLES`` specs): convcalc's parameters and buffers equal the neutral module's; node
  k of the analysis is step k of the builder's program with the same kind, output shape and inputs (so every
  layer's shape is compared); the MACs equal ``FlopCounterMode``'s count // 2 with PyTorch's math backend of
  scaled_dot_product_attention and grad enabled (``nn.MultiheadAttention``'s inference fast path is one
  fused kernel FlopCounterMode does not count);
* the same against convcalc's own exporter (``to_torch``), node by node: parameters, buffers, shapes and
  MACs. That is consistency only (both are convcalc's reading), the neutral build is the check;
* receptive fields (``RF_EXAMPLES`` smaller specs): the neutral build in float64 with random positive weights
  and a positive input, differentiated in forward mode from every input pixel at once (one tangent per
  pixel, random positive over its channels): a unit reaches a pixel when some channel's tangent is not
  zero (the same Jacobian as back-propagating from each unit: ``test_forward_measurement_is_back_propagation``).
  Masked attention is −∞ in the neutral build, so nothing masked leaks. Per node, every unit:

  1. *per layer, as sets*: the pixels reaching a unit are exactly the union of the pixels reaching the input
     units that convcalc's reads of the kind (``KINDS[kind].rf``: tiles, shifted tiles, grids, the token
     flattening and its inverse, …) say it reads inside the input (a read outside is padding: it reads
     nothing). This proves each kind's rule on every unit, borders, padding, shifts and holes included;
  2. *through the network, as windows* (``convcalc.metrics.support.unit`` of ``channels.support``, as
     ``test_rf_exact.py``): the measured rows and columns lie in convcalc's window clipped to the input, and
     equal it at the border-free units (whose every read, down to the input, lies inside the map);
  3. a unit of global attention (no window) or of psa_attention reaches every pixel its input map reaches
     (the whole input, padded where the stem pads) and convcalc's window is the hull of the input map's.

  Where convcalc's windows are an outer bound (terms that repeat only after MAX_PERIOD units: a sequence's
  period h·w composed with window attention's 2p), rf must not say exact and 2 is containment only.

The worked cases state what each proves (Swin's wrapped region, a window larger than the map, a grid's holes,
padding, a ViT's class token, windows along a sequence across rows, patch merging at odd sizes); with shared
weights the exporter's attention computes the neutral build's values, and the neutral build's own global
attention computes ``nn.MultiheadAttention``'s.

Seeded (``derandomize``); ``CONVCALC_ATTENTION_EXAMPLES`` and ``CONVCALC_ATTENTION_RF_EXAMPLES`` set the
number of examples, ``CONVCALC_FUZZ_RANDOM=1`` draws a fresh seed. Skipped without torch unless
CONVCALC_REQUIRE_TORCH=1 (CI).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings

from convcalc import Report, analyze_text
from convcalc.graph import Graph, Node, build_graph
from convcalc.kinds import KINDS
from convcalc.kinds.reads import POINT, Reads, parts_of
from convcalc.lang.spec import parse_spec
from convcalc.lang.yaml_source import load_text
from convcalc.metrics.channels import support
from convcalc.metrics.support import unit
from convcalc.metrics.windows import Term
from tests.conftest import import_torch
from tests.strategies_attention import FEATURES, AttentionSpec, attention_specs

torch = import_torch()

import torch.autograd.forward_ad as fwad  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from convcalc.torch_export import to_torch  # noqa: E402
from tests.neutral.attention import GroupAttention, TorchMHA  # noqa: E402
from tests.neutral.builder import NeutralNet, build  # noqa: E402
from tests.test_neutral_crosscheck import check_structure  # noqa: E402
from tests.test_rf_exact import Windows, expected, measured  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]
EXAMPLES = int(os.environ.get("CONVCALC_ATTENTION_EXAMPLES", "150"))
RF_EXAMPLES = int(os.environ.get("CONVCALC_ATTENTION_RF_EXAMPLES", "100"))
RANDOM = bool(os.environ.get("CONVCALC_FUZZ_RANDOM"))
NEW_KINDS = {"tokens", "class_token", "pos_embed", "select_token", "to_map", "attention", "patch_merging",
             "psa_attention", "linear"}


def random_run(n: int) -> settings:
    # no shrinking: a failure prints its (full) spec at once
    return settings(max_examples=n, derandomize=not RANDOM, deadline=None, database=None, print_blob=False,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def graph_of(text: str) -> Graph:
    spec = parse_spec(load_text(text, "attention.yaml"))
    (model,) = spec.models
    g = build_graph(spec, model)
    assert g is not None
    return g


def neutral_of(text: str) -> NeutralNet:
    (net,) = build(yaml.safe_load(text))
    return net


def counted(net: Any, x: Any) -> tuple[Any, FlopCounterMode]:
    """The module's output and its FlopCounterMode (math SDPA backend, grad enabled: see the docstring)."""
    with torch.enable_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc:
        out = net(x)
    return out, fc


def param_count(m: Any) -> int:
    return sum(p.numel() for p in m.parameters())


def buffer_count(m: Any) -> int:
    return sum(b.numel() for n, b in m.named_buffers() if not n.endswith("num_batches_tracked"))


# ---------------------------------------------------------------- counts and shapes


def check_neutral(r: Report, net: NeutralNet, gen: AttentionSpec | None = None) -> None:
    """Params, buffers, every node's kind/shape/inputs, MACs and the output shape: convcalc = the neutral build."""
    assert len(r.layers) == len(net.ops), f"{len(r.layers)} nodes (convcalc) vs {len(net.ops)} (neutral)"
    check_structure(r, net)
    assert r.params == param_count(net), f"params {r.params} (convcalc) vs {param_count(net)} (neutral)"
    assert r.total.buffers == buffer_count(net), f"buffers {r.total.buffers} (convcalc) vs {buffer_count(net)}"
    (out,), fc = counted(net, torch.randn(1, *net.input_shape))
    flops = fc.get_total_flops()
    assert flops % 2 == 0
    if r.macs != flops // 2:
        counts = fc.get_flop_counts()
        mods = {op.module: k + 1 for k, op in enumerate(net.ops) if op.kind == "module"}
        diff = {}
        for m, k in mods.items():
            theirs, row = sum(counts.get(f"NeutralNet.mods.{m}", {}).values()) // 2, r.layers[k - 1]
            if theirs != row.cost.macs:
                diff[f"node {k} {row.name} ({row.type})"] = (row.cost.macs, theirs)
        raise AssertionError(f"MACs {r.macs} (convcalc) vs {flops // 2} (neutral); differing nodes "
                             f"(convcalc, neutral): {diff}")
    assert tuple(out.shape[1:]) == tuple(r.output_shape)
    if gen is not None:
        assert tuple(out.shape[1:]) == gen.output, f"output {tuple(out.shape[1:])} (neutral), {gen.output} (generator)"


def check_exporter(g: Graph) -> None:
    """convcalc's exporter, node by node: params, buffers, shapes, MACs (consistency, not correctness)."""
    net = to_torch(g).eval()
    assert param_count(net) == sum(n.cost.params for n in g.nodes)
    assert buffer_count(net) == sum(n.cost.buffers for n in g.nodes)
    with torch.enable_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc:
        values = net.forward_all(torch.randn(1, *g.input))
    counts = fc.get_flop_counts()
    for node in g.nodes:
        where = f"{g.name}: node {node.index} {node.name} ({node.kind})"
        assert tuple(values[node.index].shape[1:]) == tuple(node.shape), where
        if node.layer is None:
            continue
        m = net.layers[str(node.index)]
        assert param_count(m) == node.cost.params, where
        assert buffer_count(m) == node.cost.buffers, where
        assert sum(counts.get(f"ConvcalcNet.layers.{node.index}", {}).values()) == 2 * node.cost.macs, where
    assert fc.get_total_flops() == 2 * sum(n.cost.macs for n in g.nodes)


def test_random_attention_specs_match_a_neutral_build() -> None:
    seen: set[str] = set()
    kinds: Counter[str] = Counter()
    mha = [0]

    @random_run(EXAMPLES)
    @given(attention_specs())
    def run(gen: AttentionSpec) -> None:
        (r,) = analyze_text(gen.text, "attention.yaml")
        net = neutral_of(gen.text)
        check_neutral(r, net, gen)
        seen.update(gen.features)
        kinds.update(row.type for row in r.layers)
        mha[0] += sum(isinstance(m, TorchMHA) for m in net.mods)

    run()
    print(f"{EXAMPLES} specs; kinds {dict(kinds)}; nn.MultiheadAttention layers {mha[0]}")
    if EXAMPLES >= 100:
        assert FEATURES <= seen, FEATURES - seen
        assert NEW_KINDS <= set(kinds), NEW_KINDS - set(kinds)
        assert mha[0] >= 20


def test_random_attention_specs_match_convcalcs_exporter() -> None:
    @random_run(EXAMPLES)
    @given(attention_specs())
    def run(gen: AttentionSpec) -> None:
        check_exporter(graph_of(gen.text))

    run()


# ---------------------------------------------------------------- receptive fields


def randomised(net: NeutralNet, seed: int = 0) -> NeutralNet:
    """float64 with random positive parameters (no path cancels; BatchNorm's running statistics stay 0 and 1):
    a weight matrix or kernel uniform in [0.5, 1.5)/fan-in, so that values stay near 1 and no softmax
    saturates (logits thousands apart give weights of exactly 0 in float64, which would hide real reads);
    anything else uniform in [0.1, 1)."""
    gen = torch.Generator().manual_seed(seed)
    net = net.double()
    with torch.no_grad():
        for p in net.parameters():
            r = torch.rand(p.shape, generator=gen, dtype=torch.float64)
            p.copy_((r + 0.5) / p[0].numel() if p.dim() > 1 and p.shape[0] > 1 else r * 0.9 + 0.1)
    return net


def reached(net: NeutralNet, chunk: int = 48) -> list[Any]:
    """Per value k: a bool tensor (h, w, H·W), whether input pixel p (row-major) reaches unit (uh, uw): forward
    mode from every pixel (one tangent per pixel, random positive over the input channels) on a positive
    input; a unit is reached when the tangent of any of its channels is not zero."""
    c, h, w = net.input_shape
    gen = torch.Generator().manual_seed(1)
    x0 = torch.rand(1, c, h, w, generator=gen, dtype=torch.float64) + 0.5
    parts: list[list[Any]] = [[] for _ in net.shapes]
    for start in range(0, h * w, chunk):
        pix = torch.arange(start, min(h * w, start + chunk))
        tangent = torch.zeros(len(pix), c, h * w, dtype=torch.float64)
        tangent[torch.arange(len(pix)), :, pix] = torch.rand(len(pix), c, generator=gen, dtype=torch.float64) + 0.5
        with torch.enable_grad(), sdpa_kernel(SDPBackend.MATH), fwad.dual_level():  # (no MHA fast path)
            values = net._run(fwad.make_dual(x0.expand(len(pix), c, h, w).clone(), tangent.reshape(len(pix), c, h, w)))
            for k, v in enumerate(values):
                assert v is not None
                primal, t = fwad.unpack_dual(v)
                assert t is not None or k > 0, "no tangent"
                if t is None:  # does not depend on the input at all (learned tokens only)
                    t = torch.zeros_like(primal)
                assert not bool(t.isnan().any() or primal.isnan().any()), f"NaN in value {k}"
                parts[k].append((t != 0).any(1))  # (pixels, uh, uw)
    return [torch.cat(p).permute(1, 2, 0) for p in parts]


def axis_reads(r: Any, n_out: int, n_in: int) -> tuple[Any, Any, Any]:
    """One axis of a kind's reads: (A, outside, present): A[u, i] unit u reads input unit i (inside the
    input), outside[u] it reads a unit outside, present[u] it reads any."""
    assert isinstance(r, Reads), r
    a = torch.zeros(n_out, n_in, dtype=torch.bool)
    outside = torch.zeros(n_out, dtype=torch.bool)
    present = torch.zeros(n_out, dtype=torch.bool)
    for u in range(n_out):
        q, phi = divmod(u, r.period)
        for run in r.phases[phi]:
            present[u] = True
            for t in range(run.n):
                i = q * r.shift + run.first + t * run.step
                if 0 <= i < n_in:
                    a[u, i] = True
                else:
                    outside[u] = True
    return a, outside, present


def layer_reads(g: Graph, node: Node, i: int) -> list[tuple[tuple[Any, Any, Any], tuple[Any, Any, Any]]]:
    """The node's reads of its input i, per part (a union of products: see ReadsUnion), per axis: a layer's
    are its kind's; a merge reads its own position of each input (of the same shape here)."""
    src = g.nodes[i].shape
    rd = KINDS[node.layer.kind].rf(node.layer, src) if node.layer is not None else (POINT, POINT)
    return [(axis_reads(p[0], node.shape.h, src.h), axis_reads(p[1], node.shape.w, src.w)) for p in parts_of(rd)]


def predicted(parts: list[Any], sets_in: Any) -> Any:
    """(h, w, P): the union of the input units' pixel sets (sets_in (h_in, w_in, P)) over what each unit reads."""
    acc = None
    for (ah, _, _), (aw, _, _) in parts:
        got = torch.einsum("ai,bj,ijp->abp", ah.double(), aw.double(), sets_in.double()) > 0
        acc = got if acc is None else acc | got
    return acc


def free_of(parts: list[Any], free_in: Any) -> Any:
    """(h, w): units whose every read lies inside the input and is itself border-free."""
    bad_in = (~free_in).double()
    free = None
    for (ah, oh, ph), (aw, ow, pw) in parts:
        here = ph[:, None] & pw[None, :]
        bad = here & (oh[:, None] | ow[None, :] | (ah.double() @ bad_in @ aw.double().T > 0))
        free = ~bad if free is None else free & ~bad
    return free


def _pixels(s: Any, w: int) -> list[tuple[int, int]]:
    return [(int(p) // w, int(p) % w) for p in s.nonzero().flatten()][:12]


def exact_support(sup: Any) -> bool:
    """Whether every term is exact (not an outer bound: windows that repeat only after MAX_PERIOD units)."""
    return all(isinstance(part[ax], Term) for part in sup for ax in (0, 1))


def check_layer_sets(g: Graph, node: Node, sets: list[Any], free: list[Any]) -> Any:
    """Assertion 1 of the module docstring; returns the node's border-free units (h, w)."""
    fr = pred = None
    for i in node.inputs:  # a merge: each input at the same position
        parts = layer_reads(g, node, i)
        p, f = predicted(parts, sets[i]), free_of(parts, free[i])
        pred = p if pred is None else pred | p
        fr = f if fr is None else fr & f
    assert pred is not None and fr is not None
    got, iw = sets[node.index], g.input.w
    bad = (pred != got).any(2)
    if bool(bad.any()):
        uh, uw = (int(v) for v in bad.nonzero()[0])
        raise AssertionError(f"node {node.index} {node.name!r} ({node.kind}), unit ({uh}, {uw}): the pixels reaching "
                             f"it are not those reaching the input units convcalc's reads name: only measured "
                             f"{_pixels(got[uh, uw] & ~pred[uh, uw], iw)}, only convcalc "
                             f"{_pixels(pred[uh, uw] & ~got[uh, uw], iw)} (at most 12 each)")
    return fr


def check_node_windows(g: Graph, node: Node, got_sets: Any, fr: Any) -> int:
    """Assertion 2; returns the number of units compared exactly (0 where convcalc gives an outer bound)."""
    h, w, ih, iw = node.shape.h, node.shape.w, g.input.h, g.input.w
    where = f"node {node.index} {node.name!r} ({node.kind})"
    sup = support(node.windows_full)
    exact = exact_support(sup)
    if not exact:
        assert not all(r.exact for r in node.rf_full), f"{where}: an outer bound, but rf says exact"
    exp: Windows = expected(sup, h, w)
    got: Windows = measured(got_sets.reshape(h, w, ih, iw).permute(2, 3, 0, 1))
    for uh, uw in [(0, 0), (h - 1, w - 1), (h // 2, w // 3)]:  # the API itself, on a few units
        assert (unit(sup, uh, uw) is None) == (not bool(exp.any[uh, uw])), where

    def fail(mask: Any, what: str) -> None:
        if bool(mask.any()):
            uh, uw = (int(v) for v in mask.nonzero()[0])
            win = " × ".join(f"[{int(exp.lo[ax][uh, uw])}, {int(exp.hi[ax][uh, uw])}]" for ax in (0, 1))
            raise AssertionError(f"{where}, unit ({uh}, {uw}) {'border-free' if fr[uh, uw] else 'at a border'}: "
                                 f"{what}: measured pixels {_pixels(got_sets[uh, uw], iw)} (at most 12), "
                                 f"convcalc {win} (input {ih}×{iw})")

    fail(got.any & ~exp.any, "reaches pixels where convcalc reads nothing")
    if exact:
        fail(fr & exp.any & ~got.any, "reaches no pixel where convcalc reads some")
    for ax, n in ((0, ih), (1, iw)):
        inside = (got.lo[ax] >= exp.lo[ax].clamp(min=0)) & (got.hi[ax] <= exp.hi[ax].clamp(max=n - 1))
        fail(got.any & ~inside, f"axis {'hw'[ax]}: outside convcalc's window")
        if exact:
            same = (got.lo[ax] == exp.lo[ax]) & (got.hi[ax] == exp.hi[ax])
            fail(fr & got.any & ~same, f"axis {'hw'[ax]}: not convcalc's window")
    return int((fr & got.any).sum()) if exact else 0


def check_global(g: Graph, node: Node, sets: list[Any]) -> bool:
    """Assertion 3 (global attention, psa_attention); False where convcalc's windows are outer bounds."""
    src = g.nodes[node.inputs[0]]
    where = f"node {node.index} {node.name!r} ({node.kind})"
    assert bool((sets[node.index] == sets[src.index].any(0).any(0)).all()), \
        f"{where}: a unit does not reach every pixel its input map reaches"
    sup, src_sup = support(node.windows_full), support(src.windows_full)
    if not (exact_support(sup) and exact_support(src_sup)):
        return False
    exp, sexp = expected(sup, node.shape.h, node.shape.w), expected(src_sup, src.shape.h, src.shape.w)
    for ax in (0, 1):
        lo, hi = sexp.lo[ax][sexp.any].min(), sexp.hi[ax][sexp.any].max()
        assert bool((exp.lo[ax] == lo).all() and (exp.hi[ax] == hi).all()), \
            f"{where}: axis {'hw'[ax]}: convcalc's windows are not the hull [{int(lo)}, {int(hi)}] of its input's"
    return True


def check_receptive_fields(g: Graph, net: NeutralNet) -> Counter[str]:
    """Assertions 1 to 3 of the module docstring on every node; returns what was compared."""
    assert [tuple(n.shape) for n in g.nodes] == net.shapes, "the builder's program is not the graph"
    sets = reached(randomised(net))
    free: list[Any] = [torch.ones(g.input.h, g.input.w, dtype=torch.bool)]
    tally: Counter[str] = Counter()
    for node in g.nodes[1:]:
        fr = check_layer_sets(g, node, sets, free)
        free.append(fr)
        tally["units"] += node.shape.h * node.shape.w
        tally["exact units"] += check_node_windows(g, node, sets[node.index], fr)
        tally["outer bounds"] += not exact_support(support(node.windows_full))
        a: Any = node.layer.args if node.layer is not None else None
        if node.kind == "psa_attention" or node.kind == "attention" and a.window is None:
            tally["global"] += 1
            tally["global hulls"] += check_global(g, node, sets)
    return tally


def test_random_attention_specs_have_exact_receptive_fields() -> None:
    tally = Counter[str]()

    @random_run(RF_EXAMPLES)
    @given(attention_specs(rf=True))
    def run(gen: AttentionSpec) -> None:
        g = graph_of(gen.text)
        tally.update(check_receptive_fields(g, neutral_of(gen.text)))
        tally["local specs"] += gen.local
        tally.update(n.kind for n in g.nodes if n.kind in NEW_KINDS)

    run()
    print(f"{RF_EXAMPLES} specs: {dict(tally)}")
    if RF_EXAMPLES >= 50:
        assert tally["exact units"] > 5000 and tally["local specs"] >= RF_EXAMPLES // 3, tally


def test_forward_measurement_is_back_propagation() -> None:
    """The pixels reaching a unit in forward mode (all pixels at once, :func:`reached`) are those where
    back-propagating from the unit (a random positive sum of its channels) gives a non-zero input gradient:
    up to 64 units spread over the nodes of each of 10 random specs."""

    @random_run(min(RF_EXAMPLES, 10))
    @given(attention_specs(rf=True))
    def run(gen: AttentionSpec) -> None:
        net = randomised(neutral_of(gen.text))
        sets = reached(net)
        units = [(k, uh, uw) for k, (_, h, w) in enumerate(net.shapes) for uh in range(h) for uw in range(w)]
        units = units[::len(units) // 64 + 1]
        c, h, w = net.input_shape
        gen_ = torch.Generator().manual_seed(1)
        x0 = torch.rand(1, c, h, w, generator=gen_, dtype=torch.float64) + 0.5  # reached's input
        x = x0.expand(len(units), c, h, w).clone().requires_grad_(True)
        with sdpa_kernel(SDPBackend.MATH):
            values = net._run(x)
        total = x.new_zeros(())
        for j, (k, uh, uw) in enumerate(units):
            v = values[k]
            assert v is not None
            total = total + (v[j, :, uh, uw] * (torch.rand(v.shape[1], dtype=torch.float64) + 0.5)).sum()
        (grad,) = torch.autograd.grad(total, x, allow_unused=True)
        for j, (k, uh, uw) in enumerate(units):
            back = (grad[j] != 0).any(0).flatten() if grad is not None else torch.zeros(h * w, dtype=torch.bool)
            assert torch.equal(back, sets[k][uh, uw]), f"value {k} unit ({uh}, {uw})"

    run()


# ---------------------------------------------------------------- worked cases


def one_layer(text: str) -> tuple[Graph, NeutralNet, list[Any]]:
    g, net = graph_of(text), neutral_of(text)
    check_neutral(analyze_text(text, "case.yaml")[0], net)
    check_receptive_fields(g, net)
    return g, net, reached(randomised(net))


def pixel_set(s: Any, w: int) -> set[tuple[int, int]]:
    return {(int(p) // w, int(p) % w) for p in s.nonzero().flatten()}


def window_of(g: Graph, k: int, uh: int, uw: int) -> list[tuple[int, int]]:
    """convcalc's window of unit (uh, uw) of node k, per axis, clipped to the input (a read outside it is a
    padding unit, which reads nothing)."""
    win = unit(support(g.nodes[k].windows_full), uh, uw)
    assert win is not None
    return [(max(int(e.lo), 0), min(int(e.hi), n - 1)) for e, n in zip(win, (g.input.h, g.input.w), strict=True)]


def box(rows: range, cols: range) -> set[tuple[int, int]]:
    return {(y, x) for y in rows for x in cols}


def test_swin_shift_reads_the_wrapped_region_alone() -> None:
    """Swin's shift 3 with window 7 on 14×14 (torchvision: roll by −3, windows, mask, roll back): unit (0, 0)
    is in the region the roll wrapped round to the last window, masked from the rest of that window, so it
    reads rows 0..2 × columns 0..2 only (convcalc: its window [0, 2] on both axes); unit (13, 13)
    reads 10..13 × 10..13 (the last window's own part); unit (5, 5) the shifted tile 3..9 × 3..9."""
    g, _, sets = one_layer("input: {channels: 4, size: 14}\nlayers:\n  - attention: {heads: 2, window: 7, shift: 3}\n")
    s = sets[1].reshape(14, 14, -1)
    assert pixel_set(s[0, 0], 14) == box(range(3), range(3))
    assert pixel_set(s[13, 13], 14) == box(range(10, 14), range(10, 14))
    assert pixel_set(s[5, 5], 14) == box(range(3, 10), range(3, 10))
    assert window_of(g, 1, 0, 0) == [(0, 2), (0, 2)]
    assert window_of(g, 1, 13, 13) == [(10, 13), (10, 13)]
    assert window_of(g, 1, 5, 5) == [(3, 9), (3, 9)]


def test_window_larger_than_the_map_is_one_padded_window() -> None:
    """A window of 7 (shifted by 3) on a 5×5 map: padded to 7×7, one window, and no shift (the window covers
    the padded map: torchvision's rule), so every unit reads all 25 pixels. The projections run on all 49
    tokens, padding too: MACs = 49·8·24 (qkv) + 2·2·49²·4 (QKᵀ, AV) + 49·8·8 (projection) = 50960."""
    g, _, sets = one_layer("input: {channels: 8, size: 5}\nlayers:\n  - attention: {heads: 2, window: 7, shift: 3}\n")
    assert bool(sets[1].all())
    assert g.nodes[1].cost.macs == 49 * 8 * 24 + 2 * 2 * 49 * 49 * 4 + 49 * 8 * 8 == 50960
    assert window_of(g, 1, 4, 4) == [(0, 4), (0, 4)]


def test_grid_attention_reads_its_grid_group() -> None:
    """Grid attention (MaxViT) of 2×2 on 8×8: groups of 2×2 tokens 4 apart, so unit (0, 0) reads rows {0, 4} ×
    columns {0, 4} (its window [0, 4] has holes), unit (5, 6) rows {1, 5} × columns {2, 6}."""
    g, _, sets = one_layer("input: {channels: 2, size: 8}\nlayers:\n"
                           "  - attention: {heads: 1, window: 2, partition: grid, position: table}\n")
    s = sets[1].reshape(8, 8, -1)
    assert pixel_set(s[0, 0], 8) == {(0, 0), (0, 4), (4, 0), (4, 4)}
    assert pixel_set(s[5, 6], 8) == {(1, 2), (1, 6), (5, 2), (5, 6)}
    assert window_of(g, 1, 0, 0) == [(0, 4), (0, 4)]


def test_windows_that_do_not_divide_the_map_are_padded() -> None:
    """Windows of 4×3 on 10×7 (pad: true): padded to 12×9, 3·3 windows; unit (9, 6) is in the last window, of
    which rows 8..9 and column 6 are the map's. MACs count the 108 padded tokens."""
    g, _, sets = one_layer("input: {channels: 4, height: 10, width: 7}\nlayers:\n"
                           "  - attention: {heads: 2, window: [4, 3], pad: true, qkv_bias: false}\n")
    s = sets[1].reshape(10, 7, -1)
    assert pixel_set(s[9, 6], 7) == box(range(8, 10), range(6, 7))
    assert pixel_set(s[0, 0], 7) == box(range(4), range(3))
    assert g.nodes[1].cost.macs == 108 * 4 * 12 + 2 * 9 * 2 * 12 * 12 * 2 + 108 * 4 * 4


def test_vit_class_token_reads_the_whole_padded_input() -> None:
    """A ViT: a 3×3 conv with padding 1, tokens, a class token, global attention (nn.MultiheadAttention in the
    neutral build), select_token 0: the class token reads every pixel of the 6×5 input, and convcalc's window
    is the whole input padded by the conv, [−1, 6] × [−1, 5]. Before the attention, the class token reads
    nothing."""
    g, net, sets = one_layer("input: {channels: 3, height: 6, width: 5}\nlayers:\n"
                             "  - conv: {out: 8, kernel: 3, padding: 1}\n  - tokens\n  - class_token\n"
                             "  - residual: {body: [layernorm: {}, attention: {heads: 2}]}\n"
                             "  - select_token: {token: 0}\n  - linear: {out: 3}\n")
    assert any(isinstance(m, TorchMHA) for m in net.mods)
    assert not bool(sets[3][0, 0].any())  # the learned token, before attention
    select = next(n.index for n in g.nodes if n.kind == "select_token")
    assert bool(sets[select].all())
    for k in (select, select + 1):
        win = unit(support(g.nodes[k].windows_full), 0, 0)
        assert win is not None and [(e.lo, e.hi) for e in win] == [(-1, 6), (-1, 5)]


def test_sequence_windows_cross_rows_through_tokens_and_to_map() -> None:
    """tokens on 4×4, windows of 5 tokens along the sequence, to_map back: unit (1, 0) is token 4, in the window
    of tokens 0..4, so it reads row 0 and pixel (1, 0) (convcalc's window: rows [0, 1] × columns [0, 3]);
    unit (1, 1), token 5, reads tokens 5..9: (1, 1..3) and (2, 0..1)."""
    g, _, sets = one_layer("input: {channels: 2, size: 4}\nlayers:\n  - tokens\n"
                           "  - attention: {heads: 1, window: [1, 5]}\n  - to_map: {height: 4, width: 4}\n")
    s = sets[3].reshape(4, 4, -1)
    assert pixel_set(s[1, 0], 4) == box(range(1), range(4)) | {(1, 0)}
    assert pixel_set(s[1, 1], 4) == {(1, 1), (1, 2), (1, 3), (2, 0), (2, 1)}
    assert window_of(g, 3, 1, 0) == [(0, 1), (0, 3)]


def test_patch_merging_at_odd_sizes_and_psa() -> None:
    """patch_merging on 5×5 pads to 6×6: unit (2, 2) reads pixel (4, 4) alone (convcalc: [4, 5] × [4, 5], the
    padding unit outside: clipped, [4, 4]). Then psa_attention over the 3×3 map: every unit reads all 25
    pixels."""
    g, _, sets = one_layer("input: {channels: 4, size: 5}\nlayers:\n  - patch_merging: {norm: after, out: 6}\n"
                           "  - psa_attention: {heads: 2, attn_ratio: 0.5}\n")
    assert pixel_set(sets[1].reshape(3, 3, -1)[2, 2], 5) == {(4, 4)}
    assert window_of(g, 1, 2, 2) == [(4, 4), (4, 4)]
    assert bool(sets[2].all())


def test_plain_global_attention_is_multihead_attention() -> None:
    """The neutral build's own attention (GroupAttention, no window) computes what nn.MultiheadAttention does
    with the same weights, so the two readings of global attention agree in values, not only in counts."""
    torch.manual_seed(0)
    ours = GroupAttention((6, 3, 4), 2, 3, 6, True, True, None, (0, 0), False, "none", False).double()
    mha = TorchMHA(6, 2, True).double()
    with torch.no_grad():
        mha.mha.in_proj_weight.copy_(ours.qkv.weight)
        mha.mha.in_proj_bias.copy_(ours.qkv.bias)
        mha.mha.out_proj.weight.copy_(ours.proj.weight)
        mha.mha.out_proj.bias.copy_(ours.proj.bias)
        x = torch.randn(2, 6, 3, 4, dtype=torch.float64)
        torch.testing.assert_close(ours(x), mha(x))


@pytest.mark.parametrize("args", [
    "heads: 2, window: 7, shift: 3, position: table",
    "heads: 2, head_dim: 3, window: [4, 5], shift: [1, 2], position: mlp, cosine: true, qkv_bias: false",
    "heads: 3, window: [2, 7], partition: grid, position: table, out: 5",
    "heads: 1, window: [9, 3], shift: [0, 1], proj_bias: false",
    "heads: 2, position: table",
])
def test_exporter_computes_what_the_neutral_build_does(args: str) -> None:
    """With the same weights, convcalc's exporter and the neutral build give the same values (the mask is
    −∞ in both), on windows, shifts, grids, position tables and MLPs, cosine attention."""
    text = f"input: {{channels: 6, size: 14}}\nlayers:\n  - attention: {{{args}}}\n"
    g, net = graph_of(text), neutral_of(text)
    ours, theirs = net.mods[0].double(), to_torch(g).double().layers["1"]
    with torch.no_grad():
        for (n1, p1), (n2, p2) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
            assert p1.shape == p2.shape, (n1, n2)
            p1.copy_(torch.randn(p1.shape, dtype=torch.float64))
            p2.copy_(p1)
        x = torch.randn(2, 6, 14, 14, dtype=torch.float64)
        torch.testing.assert_close(theirs(x), ours(x))


# ---------------------------------------------------------------- findings (convcalc, open)

#: Three round trips map → tokens → the same map on 12×4 (each is the identity).
ROUND_TRIPS = """input: {channels: 4, height: 12, width: 4}
layers:
  - tokens
  - to_map: {height: 12, width: 4}
  - tokens
  - to_map: {height: 12, width: 4}
  - tokens
  - to_map: {height: 12, width: 4}
  - conv: {out: 4, kernel: 3, padding: 1}
"""


def test_tokens_round_trips_keep_one_part_per_row_and_the_stride() -> None:
    """A map flattened into tokens and back is the same map to the receptive field: one support part per row
    after three round trips as after one (the parts of rows that a to_map row does not take are dropped, so
    they do not multiply by the rows at each round trip), stride 1, and the conv after it reads its 3×3
    window at every interior unit."""
    from convcalc.graph import build_graph
    from convcalc.lang.spec import parse_spec
    from convcalc.lang.yaml_source import load_text
    from convcalc.metrics.channels import support as support_of
    from convcalc.metrics.support import unit

    spec = parse_spec(load_text(ROUND_TRIPS, "trips.yaml"))
    graph = build_graph(spec, spec.models[0])
    assert graph is not None
    back, conv = graph.nodes[-2], graph.nodes[-1]
    assert len(support_of(back.windows)) == 12
    assert [(r.size, r.jump) for r in back.rf] == [(1, 1), (1, 1)]
    s = support_of(conv.windows)
    for uh in range(1, 11):
        for uw in range(1, 3):
            e = unit(s, uh, uw)
            assert e is not None and (e[0].lo, e[0].hi, e[1].lo, e[1].hi) == (uh - 1, uh + 1, uw - 1, uw + 1)
