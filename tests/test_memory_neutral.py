"""convcalc's memory pass against PyTorch's own memory of the neutral reading of the same spec data
(``tests/neutral/builder.py``: plain ``torch.nn``, sharing no code with convcalc's exporter).

``tests/test_memory_crosscheck.py`` measures convcalc's own exporter, which proves only that the memory rules
and the exporter agree; here the module is the neutral builder's, so a memory rule that is wrong about what
PyTorch allocates or saves for a kind (or a combination of kinds and blocks) cannot pass by being made twice.
For every model of random ``specs(neutral=True)`` at batch 2 (batch norm cannot train at batch 1 on a 1×1
map), ``memory_of(graph, MemoryOptions())`` must equal, as measured by ``tests/memory_measure.py``:

* ``train_activation_bytes``: the storages autograd saves in a training forward (``saved_bytes``);
* ``inference_peak_bytes``: the peak of live storages over an inference forward (``inference_peak``); the
  neutral module returns every declared output (``NeutralNet.forward``: a tuple in ``outputs:`` order).

``tests/strategies.py`` draws none of the ``inplace`` keys, so hand-written specs cover them: ``inplace:
true`` on each activation that has it and on dropout, ``defaults: {inplace: true}``, and an add written
into its first input on a residual, on branches merged by add and on an ``add:`` item.

Left out of the random check, each explicitly (see :func:`excluded`), where convcalc's memory rule and
standard PyTorch differ (findings, pinned by the strict xfails at the end):

* ``flatten`` and ``channel_shuffle`` with 1 or C groups on a map that is not contiguous (a channel split's
  slice; layernorm's result, permuted back to N×C×H×W as torchvision's ``LayerNorm2d`` does, and what is
  computed from it): convcalc's rule is a view, PyTorch's ``torch.flatten`` and torchvision's
  ``channel_shuffle`` (``.contiguous()``) copy the map;
* ``groupnorm`` on such a map (a channel slice): ``F.group_norm`` runs ``native_group_norm`` on
  ``input.contiguous(memory_format)``, a copy it saves (and allocates at inference), not the input.

Seeded (``derandomize=True``); ``CONVCALC_MEMORY_NEUTRAL_EXAMPLES`` sets the number of random examples
(default 400: about 30 s with one torch thread). On a failure the message lists, per module of the neutral
net, the bytes it saved beside convcalc's rows.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings

from tests.conftest import import_torch
from tests.strategies import GeneratedSpec, specs

torch = import_torch()

from convcalc.graph import Graph  # noqa: E402
from convcalc.lang.yaml_source import load_text  # noqa: E402
from convcalc.metrics.analysis import graphs_of  # noqa: E402
from convcalc.metrics.memory import MemoryOptions, memory_of  # noqa: E402
from tests.memory_measure import inference_peak, saved_bytes  # noqa: E402
from tests.neutral.builder import NeutralNet, build  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]
EXAMPLES = int(os.environ.get("CONVCALC_MEMORY_NEUTRAL_EXAMPLES", "400"))
BATCH = 2


def saved_by_module(net: NeutralNet, x: Any) -> list[tuple[str, int]]:
    """(kind, bytes first saved while it ran) for each module of the net's program, in order, as
    ``saved_bytes`` counts them (each storage once, parameters excluded; what a merge saves counts under the
    module before it); for failure messages."""
    net.train()
    params = {p.untyped_storage().data_ptr() for p in net.parameters()}
    seen: set[int] = set()
    rows: list[tuple[str, int]] = []

    def pack(t: Any) -> Any:
        st = t.untyped_storage()
        p = st.data_ptr()
        if p not in params and p not in seen:
            seen.add(p)
            rows[-1] = (rows[-1][0], rows[-1][1] + st.nbytes())
        return t

    hooks = []
    for k, m in enumerate(net.mods):
        def pre(_m: Any, _i: Any, k: int = k) -> None:
            rows.append((net.info.kinds[k], 0))
        hooks.append(m.register_forward_pre_hook(pre))
    rows.append(("(before)", 0))
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            net(x)
    finally:
        for h in hooks:
            h.remove()
    return rows


def excluded(graph: Graph, net: NeutralNet, x: Any) -> str | None:
    """Why a model is left out of the random check (a known difference, see the module docstring), or None.

    * a ``flatten``, or a ``channel_shuffle`` with 1 or C groups, that copies its input (found by running the
      net): convcalc's rule is a view, which PyTorch makes only of a contiguous map;
    * a ``groupnorm`` on a map that is not contiguous (a channel split's slice): ``F.group_norm`` normalises
      (and saves) a contiguous copy, convcalc's rule saves the input itself."""
    copies: list[str] = []
    hooks = []
    for k, mod in enumerate(net.mods):
        kind = net.info.kinds[k]
        if kind == "groupnorm":
            def pre(m: Any, i: Any) -> None:
                (t,) = i
                if not (t.is_contiguous() or t.is_contiguous(memory_format=torch.channels_last)):
                    copies.append("groupnorm")
            hooks.append(mod.register_forward_pre_hook(pre))
        if kind in ("flatten", "channel_shuffle"):
            def hook(m: Any, i: Any, o: Any, kind: str = kind) -> None:
                (t,) = i
                if kind == "channel_shuffle" and m.groups not in (1, t.shape[1]):
                    return
                if o.untyped_storage().data_ptr() != t.untyped_storage().data_ptr():
                    copies.append(kind)
            hooks.append(mod.register_forward_hook(hook))
    try:
        net.eval()
        with torch.no_grad():
            net(x.clone())
    finally:
        for h in hooks:
            h.remove()
    return f"{copies[0]} copying a non-contiguous map" if copies else None


def check(graph: Graph, net: NeutralNet, where: str) -> None:
    graph.batch = BATCH
    m = memory_of(graph, MemoryOptions())
    torch.manual_seed(0)
    x = torch.randn(BATCH, *graph.input)
    saved = saved_bytes(net, x)
    # a model that runs no operation at inference (its layers repeated 0 times, or training only):
    # memory_measure's peak over no operation is 0, while the input is live all along (the definition)
    peak = inference_peak(net, x) or x.untyped_storage().nbytes()
    if m.train_activation_bytes != saved:
        ours = [(r.type, r.saved_bytes) for r in m.layers if r.saved_bytes]
        theirs = [r for r in saved_by_module(net, x) if r[1]]
        raise AssertionError(f"{where}: saved {m.train_activation_bytes} (convcalc) vs {saved} (neutral); "
                             f"convcalc by layer {ours}; neutral by module {theirs}")
    assert m.inference_peak_bytes == peak, \
        f"{where}: inference peak {m.inference_peak_bytes} (convcalc, at {m.peak_layer}) vs {peak} (neutral)"


def models(text: str) -> list[tuple[Graph, NeutralNet]]:
    graphs = graphs_of(load_text(text, "random.yaml"))
    nets = build(yaml.safe_load(text))
    assert len(graphs) == len(nets)
    for g in graphs:
        g.batch = BATCH
    return list(zip(graphs, nets, strict=True))


def check_text(text: str, where: str) -> None:
    for g, net in models(text):
        check(g, net, f"{where} model {g.name!r}")


def test_random_specs_memory_matches_the_neutral_reading() -> None:
    counts = {"checked": 0, "excluded": 0}

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=False,
              phases=(Phase.explicit, Phase.generate),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(specs(neutral=True))
    def run(gen: GeneratedSpec) -> None:
        for g, net in models(gen.text):
            torch.manual_seed(0)
            if excluded(g, net, torch.randn(BATCH, *g.input)) is not None:
                counts["excluded"] += 1
                continue
            counts["checked"] += 1
            check(g, net, f"random spec\n{gen.text}\nmodel {g.name!r}")

    run()
    # the exclusions must stay exceptions (else the check would prove little)
    assert counts["checked"] >= 2 * counts["excluded"], counts


#: hand-written specs for the ``inplace`` keys (tests/strategies.py draws none of them)
IN_PLACE_SPECS = {
    "activations": """
input: {channels: 3, size: 6}
layers:
  - conv: {out: 4, kernel: 3, padding: 1}
  - relu: {inplace: true}
  - conv: {out: 4, kernel: 1}
  - relu6: {inplace: true}
  - conv: {out: 4, kernel: 1}
  - leaky_relu: {inplace: true, slope: 0.2}
  - conv: {out: 4, kernel: 1}
  - silu: {inplace: true}
  - conv: {out: 4, kernel: 1}
  - hardswish: {inplace: true}
  - conv: {out: 4, kernel: 1}
  - hardsigmoid: {inplace: true}
  - conv: {out: 4, kernel: 1}
  - mish: {inplace: true}
  - conv: {out: 4, kernel: 1}
  - elu: {inplace: true, alpha: 0.5}
  - conv: {out: 4, kernel: 1}
  - dropout: {p: 0.2, inplace: true}
  - conv: {out: 4, kernel: 1}
  - relu: {inplace: false}
""",
    "dropout": """
input: {channels: 3, size: 5}
layers:
  - conv: {out: 6, kernel: 3, padding: 1, bias: false}
  - bn
  - dropout: {p: 0.5, inplace: true}
  - relu: {inplace: true}
  - conv: {out: 6, kernel: 1}
  - relu
  - dropout: {p: 0.3, inplace: true}
  - conv: {out: 6, kernel: 1}
  - global_avgpool
  - flatten
  - dropout: {p: 0.2, inplace: true}
  - linear: {out: 3}
""",
    "at-the-peak": """
convcalc: 2
input: {channels: 8, size: 16}
layers:
  - relu6: {inplace: true}
  - silu: {inplace: true}
  - residual:
      inplace: true
      body: [dwconv: {kernel: 3, padding: 1}]
  - elu: {inplace: true}
  - dwconv: {name: A, kernel: 3, padding: 1}
  - hardswish: {name: B, inplace: true}
  - dwconv: {kernel: 1}
  - add: {from: [previous, B], inplace: true}
  - branches:
      merge: add
      inplace: true
      paths: [[dwconv: {kernel: 1}], []]
  - maxpool: {kernel: 4}
  - conv: {out: 4, kernel: 1}
""",
    "defaults": """
defaults: {bias: false, inplace: true}
input: {channels: 3, size: 8}
layers:
  - conv: {out: 8, kernel: 3, padding: 1}
  - bn
  - relu
  - conv: {out: 8, kernel: 3, stride: 2, padding: 1}
  - bn
  - silu
  - conv: {out: 8, kernel: 1}
  - relu6: {inplace: false}
  - conv: {out: 8, kernel: 1}
  - hardswish
  - conv: {out: 8, kernel: 1}
  - gelu
  - conv: {out: 8, kernel: 1}
  - elu
""",
    "residual": """
input: {channels: 4, size: 8}
layers:
  - conv: {out: 8, kernel: 3, padding: 1, bias: false}
  - bn
  - relu: {inplace: true}
  - residual:
      inplace: true
      body:
        - conv: {out: 8, kernel: 3, padding: 1, bias: false}
        - bn
        - relu: {inplace: true}
        - conv: {out: 8, kernel: 3, padding: 1, bias: false}
        - bn
  - relu: {inplace: true}
  - residual:
      inplace: true
      body:
        - conv: {out: 16, kernel: 3, stride: 2, padding: 1, bias: false}
        - bn
      projection:
        - conv: {out: 16, kernel: 1, stride: 2, bias: false}
        - bn
  - relu: {inplace: true}
  - residual:
      inplace: true
      body: [conv: {out: 16, kernel: 1}]
      shortcut: [conv: {out: 16, kernel: 1}]
  - residual:
      inplace: false
      body: [conv: {out: 16, kernel: 1}, relu: {inplace: true}]
""",
    "branches-and-add": """
convcalc: 2
input: {channels: 4, size: 8}
layers:
  - conv: {name: Stem, out: 8, kernel: 3, padding: 1}
  - relu: {inplace: true}
  - branches:
      merge: add
      inplace: true
      paths:
        - [conv: {out: 8, kernel: 3, padding: 1}]
        - [conv: {out: 8, kernel: 1}, bn]
        - [dwconv: {kernel: 3, padding: 1}]
  - conv: {name: A, out: 8, kernel: 1}
  - conv: {name: B, out: 8, kernel: 3, padding: 1}
  - add: {from: [previous, A], inplace: true}
  - conv: {name: C, out: 8, kernel: 1}
  - add: {name: D, from: [C, Stem, A], inplace: true}
  - branches:
      merge: add
      inplace: true
      paths:
        - [conv: {out: 8, kernel: 1}, sigmoid]
        - []
  - relu: {inplace: true}
  - conv: {name: Head, out: 4, kernel: 1}
outputs: [Head, D]
""",
}


@pytest.mark.parametrize("name", list(IN_PLACE_SPECS))
def test_in_place_specs_memory_matches_the_neutral_reading(name: str) -> None:
    check_text(IN_PLACE_SPECS[name], f"spec {name!r}")
    # and both readings ran the same layers and merges in place (the neutral modules with inplace=True and
    # its adds into their first input; convcalc's layers with inplace set and its in-place merge nodes)
    for g, net in models(IN_PLACE_SPECS[name]):
        theirs = sum(1 for n in g.nodes if (n.layer is not None and getattr(n.layer.args, "inplace", False))
                     or (n.layer is None and n.inplace))
        ours = sum(1 for m in net.mods if getattr(m, "inplace", False)) + sum(1 for op in net.ops if op.inplace)
        assert ours == theirs > 0, f"spec {name!r}: {ours} steps in place (neutral) vs {theirs} (convcalc)"


#: spec → (why convcalc's memory rule and PyTorch differ). Each is a finding about convcalc's rules, pinned
#: here as a strict xfail so that it shows when the rule (or the neutral reading) changes.
DIFFERENCES = {
    "channel_shuffle-of-a-split": ("""
input: {channels: 8, size: 4}
layers:
  - conv: {out: 8, kernel: 1}
  - branches:
      split: true
      paths:
        - [channel_shuffle: {groups: 1}, conv: {out: 4, kernel: 1}]
        - [conv: {out: 4, kernel: 1}]
""", "convcalc's rule: a view with 1 (or C) groups; torchvision's channel_shuffle on a channel slice copies it "
     "(.contiguous()), which the conv saves beside the whole map the other path's conv saves: 2048 vs 2560"),
    "flatten-of-a-layernorm": ("""
convcalc: 2
input: {channels: 8, size: 8}
layers:
  - conv: {out: 8, kernel: 1}
  - layernorm: {name: N}
  - flatten
  - linear: {out: 4, name: A}
  - conv: {from: N, out: 2, kernel: 1, name: B}
outputs: [A, B]
""", "convcalc's rule: flatten is a view; on layernorm's result (permuted back from N×H×W×C, not contiguous) "
     "torch.flatten copies, and the linear saves the copy while the conv saves the original: 13312 vs 17408"),
    "groupnorm-of-a-split": ("""
input: {channels: 8, size: 4}
layers:
  - conv: {out: 8, kernel: 1}
  - branches: {split: true, paths: [[groupnorm: {groups: 1}], [bn]]}
""", "convcalc's rule: groupnorm saves its input (here the slice, so the whole map); F.group_norm saves a "
     "contiguous copy of the slice (and allocates it at inference), the map being saved by the bn: saved 2128 "
     "vs 2640, peak 2048 vs 2064"),
}


def test_global_max_pool_saves_and_returns_its_indices() -> None:
    """``nn.AdaptiveMaxPool2d(1)``: the input and N·C int64 indices saved; the indices returned at inference
    (once convcalc modelled ``amax``, which saves its N·C result instead: 1536 against 2048 bytes saved)."""
    check_text("""
input: {channels: 64, size: 1}
layers:
  - conv: {out: 64, kernel: 1}
  - global_maxpool
""", "global_maxpool")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, raises=AssertionError,
                                                                          reason=why))
                                  for n, (_, why) in DIFFERENCES.items()])
def test_known_differences_from_pytorch(name: str) -> None:
    check_text(DIFFERENCES[name][0], f"spec {name!r}")
