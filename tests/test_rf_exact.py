"""convcalc's exact per-unit receptive fields against the supports measured on a neutral PyTorch build.

Each random spec (``specs(neutral=True, rf=True)``: transposed convs, nearest and bilinear upsampling with
and without align_corners, non-dividing adaptive pools, channel splits of concats of unequal branches, after
channel_shuffle, pixel_shuffle/unshuffle and flatten, SE and written-out gates, groupnorm, ...) is built by
``tests/neutral/builder.py`` (plain ``torch.nn`` from the spec data, no code of convcalc) and turned into the
linear positive probe of ``tests/neutral/probe.py``. For every unit of every node (node k of the analysis is
value k of the builder's program), the probe gives the input pixels that reach it (one forward pass of
one-hot pixels: the Jacobian that back-propagating from each unit would give, row by row; the last test
here checks the two agree); its window per axis is their min … max, over all of the node's channels and,
where its field has 2 to 8 channel runs, over each run's channels alone. Twice: with the global side paths
(``windows_full``, ``rf_full``) and without them (SE gates, groupnorm statistics, C×1×1 operands broadcast
over a merge left out: ``windows``, ``rf``).

convcalc's windows are on unbounded coordinates (a padding position is a unit like any other); the real,
zero-padded network agrees with them exactly at the *border-free* units: those whose every read (per axis,
by the kind's reads, ``KINDS[kind].rf``; a merge or split reads its own position; a broadcast gate unit 0;
an SE, a groupnorm or a global pool every unit of its input map) lies inside the input map and is itself
border-free, down to the input pixels. Per node, with no slack:

1. every border-free unit's measured window equals ``unit(support(field), uh, uw)`` on both axes, and a unit
   convcalc says reads nothing reaches no pixel (and the other way round);
2. every other unit's measured window lies inside convcalc's window clipped to the input (a unit convcalc says
   reads nothing reaches no pixel);
3. ``rf.size`` / ``rf.smallest`` are the largest / smallest of convcalc's own per-unit windows over the map, and
   the measured ones over the border-free units equal them wherever those units cover every phase (every
   residue of the periods of the support's terms on both axes); the measured windows repeat with ``rf.period``
   (unit u + P's window is unit u's shifted by P·jump) wherever both units are border-free.

``CONVCALC_RF_EXAMPLES`` sets the number of examples (CI: 500, about 45 s on one core), seeded like the
other random tests (``CONVCALC_FUZZ_RANDOM=1``: a fresh seed); at 500 the examples must have drawn enough of
each layer the issue names (``WANTED``). Skipped without torch unless CONVCALC_REQUIRE_TORCH=1 (CI).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from math import lcm
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings

from convcalc.graph import Graph, Node, build_graph
from convcalc.kinds import KINDS
from convcalc.kinds.reads import Reads
from convcalc.lang.spec import parse_spec
from convcalc.lang.yaml_source import load_text
from convcalc.metrics.channels import support
from convcalc.metrics.support import Support, unit
from convcalc.metrics.windows import Term
from tests.conftest import import_torch
from tests.strategies import GeneratedSpec, specs

torch = import_torch()

from tests.neutral.builder import NeutralNet, build  # noqa: E402
from tests.neutral.probe import Probe, backward_supports, channel_supports, forward_supports  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]
EXAMPLES = int(os.environ.get("CONVCALC_RF_EXAMPLES", "500"))
RANDOM = bool(os.environ.get("CONVCALC_FUZZ_RANDOM"))
BIG = 1 << 30


def graphs_of(text: str) -> list[Graph]:
    spec = parse_spec(load_text(text, "spec.yaml"))
    graphs = [build_graph(spec, m) for m in spec.models]
    return [g for g in graphs if g is not None]


# ---------------------------------------------------------------- border-free units


def _gate(g: Graph, node: Node, i: int) -> bool:
    """Input i of a merge is a C×1×1 operand broadcast over its larger map (a gate)."""
    s = g.nodes[i].shape
    return node.kind in ("add", "mul") and s.h * s.w == 1 < node.shape.h * node.shape.w


def _read_free(r: Any, n_out: int, free: list[bool]) -> list[bool]:
    """Per output unit: whether every input unit it reads (Reads: unit q·period + φ reads q·shift + the taps of
    phases[φ]) is inside the input and border-free."""
    if not isinstance(r, Reads):  # an outer bound (huge period): never compared exactly
        return [False] * n_out
    out = []
    for u in range(n_out):
        q, phi = divmod(u, r.period)
        ok = True
        for start, step, count, _ in r.phases[phi]:
            first = q * r.shift + start
            last = first + (count - 1) * step
            if first < 0 or last >= len(free) or not all(free[first:last + 1:step]):
                ok = False
                break
        out.append(ok)
    return out


def border_free(g: Graph, local: bool) -> list[tuple[list[bool], list[bool]]]:
    """Per node, per axis: whether each unit is border-free (see the module docstring). ``local``: the gates,
    SE and groupnorm statistics read nothing (the local field)."""
    out: list[tuple[list[bool], list[bool]]] = []
    for node in g.nodes:
        n = (node.shape.h, node.shape.w)
        if node.kind == "input":
            out.append(([True] * n[0], [True] * n[1]))
            continue
        ins = [out[i] for i in node.inputs]
        if node.layer is not None:
            kind = KINDS[node.layer.kind]
            reads = kind.rf(node.layer, g.nodes[node.inputs[0]].shape)
            axes = [_read_free(reads[ax], n[ax], ins[0][ax]) for ax in (0, 1)]
            if kind.global_gate and not local and not all(all(f) for f in ins[0]):
                axes = [[False] * n[0], [False] * n[1]]  # the SE's / groupnorm's global path reads it all
        elif node.kind == "split":
            axes = [list(ins[0][0]), list(ins[0][1])]
        else:
            axes = [[True] * n[0], [True] * n[1]]
            for i, f in zip(node.inputs, ins, strict=True):
                if _gate(g, node, i):
                    if not local and not (f[0][0] and f[1][0]):
                        axes = [[False] * n[0], [False] * n[1]]
                    continue
                for ax in (0, 1):
                    axes[ax] = [a and f[ax][u if len(f[ax]) == n[ax] else 0] for u, a in enumerate(axes[ax])]
        out.append((axes[0], axes[1]))
    return out


# ---------------------------------------------------------------- windows per unit


@dataclass
class Windows:
    """Per unit of a map (h × w tensors): whether it reads any pixel, and its window [lo, hi] per axis."""

    any: Any
    lo: tuple[Any, Any]
    hi: tuple[Any, Any]

    def extent(self, ax: int) -> Any:
        return self.hi[ax] - self.lo[ax] + 1


def measured(mask: Any) -> Windows:
    """From a probe mask (H, W, h, w): the rows and columns of the pixels reaching each unit."""
    rows, cols = mask.any(1), mask.any(0)  # (H, h, w), (W, h, w)
    los, his = [], []
    for m in (rows, cols):
        m8 = m.to(torch.uint8)
        los.append(m8.argmax(0))
        his.append(m.shape[0] - 1 - m8.flip(0).argmax(0))
    return Windows(rows.any(0), (los[0], los[1]), (his[0], his[1]))


def _axis(t: Any, n: int) -> tuple[Any, Any, Any]:
    """A term's windows for units 0 … n − 1: (present, lo, hi) tensors."""
    es = [t.at(u) for u in range(n)]
    return (torch.tensor([e is not None for e in es]), torch.tensor([e.lo if e else BIG for e in es]),
            torch.tensor([e.hi if e else -BIG for e in es]))


def expected(s: Support, h: int, w: int) -> Windows:
    """convcalc's windows of every unit: per part, the windows per axis where both axes have one."""
    anyp = torch.zeros(h, w, dtype=torch.bool)
    lo = [torch.full((h, w), BIG), torch.full((h, w), BIG)]
    hi = [torch.full((h, w), -BIG), torch.full((h, w), -BIG)]
    for th, tw in s:
        (ph, loh, hih), (pw, low, hiw) = _axis(th, h), _axis(tw, w)
        present = ph[:, None] & pw[None, :]
        anyp |= present
        for ax, (a, b) in enumerate(((loh[:, None], hih[:, None]), (low[None, :], hiw[None, :]))):
            lo[ax] = torch.where(present, torch.minimum(lo[ax], a), lo[ax])
            hi[ax] = torch.where(present, torch.maximum(hi[ax], b), hi[ax])
    return Windows(anyp, (lo[0], lo[1]), (hi[0], hi[1]))


# ---------------------------------------------------------------- the comparison


def _windows_at(win: Windows, uh: int, uw: int) -> str:
    if not bool(win.any[uh, uw]):
        return "nothing"
    return " × ".join(f"[{int(win.lo[ax][uh, uw])}, {int(win.hi[ax][uh, uw])}]" for ax in (0, 1))


@dataclass
class Tally:
    units: int = 0  # units compared exactly (border-free)
    nodes: int = 0  # nodes with at least one border-free unit
    summaries: int = 0  # axes whose measured smallest and largest windows were compared with rf
    periods: int = 0  # axes whose period was checked on at least one pair of units
    runs: int = 0  # channel runs of a node compared on their own


def runs(field: Any) -> list[tuple[int, int, Support]]:
    """The channel runs of a field that are compared on their own: (first, stop, support), when it has 2 to 8."""
    if not 2 <= len(field) <= 8:
        return []
    out, start = [], 0
    for n, sup in field:
        out.append((start, start + n, sup))
        start += n
    return out


def check_node(g: Graph, node: Node, masks: Any, free: tuple[list[bool], list[bool]], local: bool,
               tally: Tally) -> None:
    """One node: ``masks`` (H, W, G, h, w): group 0 all of its channels, then each of :func:`runs`."""
    field = node.windows if local else node.windows_full
    rf = node.rf if local else node.rf_full
    where = f"{g.name}: node {node.index} {node.name!r} ({node.kind}, {'local' if local else 'full'} field)"
    s = support(field)
    if not all(isinstance(p[ax], Term) for p in s for ax in (0, 1)):
        assert not all(r.exact for r in rf), f"{where}: an outer bound but rf says exact"
        return
    bf = torch.tensor(free[0])[:, None] & torch.tensor(free[1])[None, :]
    exp, got = check_windows(g, node, s, masks[:, :, 0], bf, where)
    if bool(bf.any()):
        tally.nodes += 1
        tally.units += int(bf.sum())
    check_summary(s, rf, exp, got, bf, where, tally)
    for j, (a, b, sup) in enumerate(runs(field), 1):
        if all(isinstance(p[ax], Term) for p in sup for ax in (0, 1)):
            check_windows(g, node, sup, masks[:, :, j], bf, f"{where}, channels {a} … {b - 1}")
            tally.runs += 1


def check_windows(g: Graph, node: Node, s: Support, mask: Any, bf: Any, where: str) -> tuple[Windows, Windows]:
    """Assertions 1 and 2 of the module docstring on every unit; returns (convcalc's, measured) windows."""
    h, w = node.shape.h, node.shape.w
    exp = expected(s, h, w)
    for uh, uw in [(0, 0), (h - 1, w - 1), (h // 2, w // 3)]:  # the API itself, on a few units
        e = unit(s, uh, uw)
        assert (e is None) == (not bool(exp.any[uh, uw])), where
        if e is not None:
            assert [(x.lo, x.hi) for x in e] == [(int(exp.lo[ax][uh, uw]), int(exp.hi[ax][uh, uw])) for ax in (0, 1)]
    got = measured(mask)
    lengths = (g.input.h, g.input.w)

    def fail(bad: Any, what: str) -> None:
        if bool(bad.any()):
            uh, uw = (int(v) for v in bad.nonzero()[0])
            raise AssertionError(f"{where}, unit ({uh}, {uw}) {'border-free' if bf[uh, uw] else 'at a border'}: "
                                 f"{what}: measured {_windows_at(got, uh, uw)}, convcalc {_windows_at(exp, uh, uw)} "
                                 f"(input {lengths[0]}×{lengths[1]})")

    fail(got.any & ~exp.any, "reaches pixels where convcalc reads nothing")
    fail(bf & exp.any & ~got.any, "reaches no pixel where convcalc reads some")
    for ax in (0, 1):
        inside = (got.lo[ax] >= exp.lo[ax].clamp(min=0)) & (got.hi[ax] <= exp.hi[ax].clamp(max=lengths[ax] - 1))
        fail(got.any & ~inside, f"axis {'hw'[ax]}: outside convcalc's window")
        same = (got.lo[ax] == exp.lo[ax]) & (got.hi[ax] == exp.hi[ax])
        fail(bf & got.any & ~same, f"axis {'hw'[ax]}: not convcalc's window")
    return exp, got


def check_summary(s: Support, rf: Any, exp: Windows, got: Windows, bf: Any, where: str, tally: Tally) -> None:
    """rf's size / smallest: convcalc's own windows' largest / smallest; the measured ones where the
    border-free units cover every phase; the period on pairs of border-free units."""
    h, w = exp.any.shape
    periods = [lcm(*(p[ax].period for p in s)) for ax in (0, 1)]
    covered = set()
    for uh, uw in bf.nonzero().tolist():
        covered.add((uh % periods[0], uw % periods[1]))
    full = len(covered) == periods[0] * periods[1]
    for ax in (0, 1):
        r = rf[ax]
        msg = f"{where} axis {'hw'[ax]}: rf {r}"
        ext = exp.extent(ax)[exp.any]
        assert (r.size, r.smallest) == ((int(ext.max()), int(ext.min())) if ext.numel() else (0, 0)), \
            f"{msg}: convcalc's own windows span {int(ext.min()) if ext.numel() else 0} … " \
            f"{int(ext.max()) if ext.numel() else 0}"
        seen = got.extent(ax)[bf & got.any]
        if seen.numel():
            assert r.smallest <= int(seen.min()) and int(seen.max()) <= r.size, f"{msg}: measured {seen.tolist()}"
        if full and r.period is not None:  # (None: terms of different jumps, the windows drift across the map)
            tally.summaries += 1
            assert (int(seen.max()), int(seen.min())) == (r.size, r.smallest) if seen.numel() else r.size == 0, \
                f"{msg}: the border-free units cover every phase, measured {int(seen.min())} … {int(seen.max())}"
        if r.period is None or r.period >= (h, w)[ax]:
            continue
        p, by = r.period, r.period * Fraction(r.jump)
        assert by.denominator == 1, msg
        sl = (slice(p, None), slice(None)) if ax == 0 else (slice(None), slice(p, None))
        sl0 = (slice(None, -p), slice(None)) if ax == 0 else (slice(None), slice(None, -p))
        pair = bf[sl] & bf[sl0]
        if not bool(pair.any()):
            continue
        tally.periods += 1
        assert bool((got.any[sl] == got.any[sl0])[pair].all()), f"{msg}: units {p} apart differ in reading anything"
        both = pair & got.any[sl]
        for ends in (got.lo, got.hi):
            assert bool((ends[ax][sl] == ends[ax][sl0] + int(by))[both].all()), \
                f"{msg}: the measured windows do not repeat after {p} units"


def check_model(g: Graph, net: NeutralNet, tally: Tally) -> list[Any]:
    """Every node of one model, local and full fields (the local probe only where they differ); returns the
    full field's masks (per node: (H, W, h, w), pixel reaches unit)."""
    assert [tuple(n.shape) for n in g.nodes] == net.shapes, f"{g.name}: the builder's program is not the graph"
    full: list[Any] = []
    for local in (False, True):
        if local and all(n.windows is n.windows_full for n in g.nodes):
            break
        ranges = {n.index: [(0, n.shape.c), *((a, b) for a, b, _ in runs(n.windows if local else n.windows_full))]
                  for n in g.nodes}
        masks = channel_supports(Probe(net, "drop" if local else "full"), ranges)
        full = full or [m[:, :, 0] for m in masks]
        free = border_free(g, local)
        for node in g.nodes:
            if local and node.windows is node.windows_full:
                continue
            check_node(g, node, masks[node.index], free[node.index], local, tally)
    return full


def graphs_and_nets(text: str) -> list[tuple[Graph, NeutralNet]]:
    graphs = graphs_of(text)
    nets = build(yaml.safe_load(text))
    assert len(graphs) == len(nets)
    return list(zip(graphs, nets, strict=True))


#: What 500 examples must have drawn (counted on the graphs): feature → at least this many nodes.
WANTED = {"deconv": 100, "upsample-nearest": 50, "upsample-bilinear": 50, "upsample-align-corners": 10,
          "adaptive-uneven": 30, "split-mixed": 50, "split-of-channel_shuffle": 10, "split-of-pixel_shuffle": 5,
          "split-after-concat": 20, "split-after-pixel_unshuffle": 5, "split-after-flatten": 5, "channel_shuffle": 30,
          "pixel_shuffle": 30, "pixel_unshuffle": 30, "flatten": 20, "se": 20, "groupnorm": 20, "gate": 20}


def features(g: Graph) -> Iterator[str]:
    for node in g.nodes:
        a: Any = node.layer.args if node.layer is not None else None
        src = g.nodes[node.inputs[0]].shape if node.inputs else node.shape
        if node.kind == "upsample":
            yield "upsample-align-corners" if a.align_corners else f"upsample-{a.mode}"
        elif node.kind.startswith("adaptive") and (src.h % node.shape.h or src.w % node.shape.w):
            yield "adaptive-uneven"
        elif node.kind == "split" and len({s for _, s in g.nodes[node.inputs[0]].windows}) > 1:
            yield "split-mixed"  # of a map whose channels have different windows
            src_node = g.nodes[node.inputs[0]]
            yield f"split-of-{src_node.kind}"
            while src_node.kind in ("channel_shuffle", "pixel_shuffle"):
                src_node = g.nodes[src_node.inputs[0]]
            yield f"split-after-{src_node.kind}"
        elif node.kind in ("add", "mul") and any(_gate(g, node, i) for i in node.inputs):
            yield "gate"
        else:
            yield node.kind


def test_random_specs_have_exact_receptive_fields() -> None:
    tally = Tally()
    drawn: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, derandomize=not RANDOM, deadline=None, database=None, print_blob=False,
              phases=(Phase.explicit, Phase.generate),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(specs(neutral=True, rf=True))
    def run(gen: GeneratedSpec) -> None:
        for g, net in graphs_and_nets(gen.text):
            check_model(g, net, tally)
            drawn.update(features(g))

    run()
    print(f"{EXAMPLES} examples: {tally}; drawn {dict(drawn)}")
    if EXAMPLES >= 500:
        assert not {k for k, n in WANTED.items() if drawn[k] < n}, {k: drawn[k] for k in WANTED}
        assert min(tally.units / 100, tally.summaries, tally.periods, tally.runs) > 1000, tally


def test_forward_measurement_is_back_propagation() -> None:
    """The probe is linear: the pixels reaching a unit in one forward pass of one-hot pixels are the pixels
    where back-propagating from the unit gives a non-zero gradient, and leaving the global side paths out
    (``drop``) is detaching them (``detach``): on up to 500 units (evenly spread over every node's) of each
    model of 25 random specs."""

    @settings(max_examples=min(EXAMPLES, 25), derandomize=not RANDOM, deadline=None, database=None,
              print_blob=False, phases=(Phase.explicit, Phase.generate),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(specs(neutral=True, rf=True))
    def run(gen: GeneratedSpec) -> None:
        for _, net in graphs_and_nets(gen.text):
            units = [(k, uh, uw) for k, (_, h, w) in enumerate(net.shapes) for uh in range(h) for uw in range(w)]
            units = units[::len(units) // 500 + 1]
            for forward, backward in (("full", "full"), ("drop", "detach")):
                masks = forward_supports(Probe(net, forward))
                grads = backward_supports(Probe(net, backward), units)
                for j, (k, uh, uw) in enumerate(units):
                    assert torch.equal(grads[j], masks[k][:, :, uh, uw]), f"value {k} unit ({uh}, {uw}) ({forward})"

    run()
