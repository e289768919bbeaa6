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

Maps that are not contiguous in memory (a channel split's slice at batch > 1; layernorm's result, permuted
back to N×C×H×W as torchvision's ``LayerNorm2d`` does, and what elementwise operations, convolutions, pools
and merges make of it) are drawn too: convcalc carries each map's strides (``convcalc/kinds/layout.py``), so
the copies PyTorch makes of them (``torch.flatten``'s where no view exists, ``channel_shuffle``'s
``.contiguous()``, ``F.group_norm``'s contiguous input, ``F.linear``'s rows of a sequence) are counted where
they are made. :data:`NON_CONTIGUOUS` pins each copying kind after each such source by hand, with its exact
figures (the three that were strict xfails first: channel_shuffle and groupnorm on a split's slice, flatten
of a layernorm).

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
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=False,
              phases=(Phase.explicit, Phase.generate),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(specs(neutral=True))
    def run(gen: GeneratedSpec) -> None:
        for g, net in models(gen.text):
            check(g, net, f"random spec\n{gen.text}\nmodel {g.name!r}")

    run()


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


#: spec → (what PyTorch does, the exact (saved, peak) bytes at batch 2): maps that are not contiguous, and each
#: kind that copies one (or, exactly as often, does not), the copy saved by a conv or linear after it and the
#: original by another (so that a copy too many or too few shows in the saved bytes)
NON_CONTIGUOUS: dict[str, tuple[str, str, tuple[int, int]]] = {
    "channel_shuffle-of-a-split": ("""
input: {channels: 8, size: 4}
layers:
  - conv: {out: 8, kernel: 1}
  - branches:
      split: true
      paths:
        - [channel_shuffle: {groups: 1}, conv: {out: 4, kernel: 1}]
        - [conv: {out: 4, kernel: 1}]
""", "torchvision's channel_shuffle makes the slice contiguous (a copy) even with 1 group: the conv saves the "
     "copy beside the whole map the other path's conv saves", (2560, 2048)),
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
""", "layernorm's result is channels last: torch.flatten copies it, the linear saves the copy, the conv the "
     "original", (17408, 9216)),
    "groupnorm-of-a-split": ("""
input: {channels: 8, size: 4}
layers:
  - conv: {out: 8, kernel: 1}
  - branches: {split: true, paths: [[groupnorm: {groups: 1}], [bn]]}
""", "F.group_norm normalises (and saves) a contiguous copy of the slice, allocated at inference too; the map is "
     "saved by the bn", (2640, 2064)),
    "split-flatten": ("""
input: {channels: 8, size: 4}
layers:
  - conv: {out: 8, kernel: 1}
  - branches:
      split: true
      paths:
        - [flatten, linear: {out: 3}]
        - [global_avgpool, flatten, linear: {out: 3}]
""", "a channel slice's C, H and W merge: torch.flatten is a view, the linear saves the map itself", (2080, 2048)),
    "split-shuffle-C": ("""
input: {channels: 8, size: 4}
layers:
  - conv: {out: 8, kernel: 1}
  - branches:
      split: [2, 6]
      paths:
        - [channel_shuffle: {groups: 2}, conv: {out: 2, kernel: 1}]
        - [channel_shuffle: {groups: 2}, conv: {out: 2, kernel: 1}]
""", "C groups on a slice: a copy (as any other number of groups)", (2048, 2048)),
    "split-relu-groupnorm": ("""
input: {channels: 8, size: 4}
layers:
  - conv: {out: 8, kernel: 1}
  - branches:
      split: true
      paths:
        - [relu, groupnorm: {groups: 2}]
        - [groupnorm: {groups: 4}, channel_shuffle: {groups: 4}]
""", "an elementwise op makes a slice contiguous (TensorIterator: the slice is not dense), so that groupnorm "
     "copies nothing; the other path's copies", (2144, 2080)),
    "split-tokens-linear": ("""
convcalc: 2
input: {channels: 8, size: 4}
layers:
  - conv: {out: 8, kernel: 1}
  - branches:
      split: true
      paths:
        - [tokens, linear: {out: 4}, to_map: {height: 4, width: 4}]
        - [conv: {out: 4, kernel: 1}]
""", "a slice's tokens are a view, not contiguous as N×T×C: F.linear folds them into rows by a copy, which it "
     "saves", (2560, 2048)),
    "tokens-linear": ("""
convcalc: 2
input: {channels: 6, size: 4}
layers:
  - conv: {out: 6, kernel: 1, name: C}
  - tokens
  - linear: {out: 5}
  - layernorm
  - linear: {out: 3, bias: false, name: A}
  - conv: {from: C, out: 2, kernel: 1, name: B}
outputs: [A, B]
""", "the tokens of a contiguous map: F.linear copies them into rows (and saves the copy); after layernorm the "
     "tokens are contiguous rows", (3840, 2304)),
    "layernorm-tokens-linear": ("""
convcalc: 2
input: {channels: 6, size: 4}
layers:
  - conv: {out: 6, kernel: 1}
  - layernorm: {name: N}
  - tokens
  - linear: {out: 5, name: A}
  - conv: {from: N, out: 2, kernel: 1, name: B}
outputs: [A, B]
""", "the tokens of a channels-last map are contiguous rows: no copy, the linear saves layernorm's result",
        (2560, 1792)),
    "layernorm-copies": ("""
convcalc: 2
input: {channels: 6, size: 5}
layers:
  - conv: {out: 6, kernel: 1}
  - layernorm: {name: N}
  - channel_shuffle: {groups: 1, name: S1}
  - conv: {from: N, out: 4, kernel: 1, name: A}
  - channel_shuffle: {from: N, groups: 6, name: S6}
  - groupnorm: {from: N, groups: 3, name: G}
  - flatten: {from: G, name: F}
  - linear: {out: 2, name: L}
outputs: [S1, A, S6, L]
""", "channel_shuffle with 1 and C groups copies a channels-last map; groupnorm takes it as it is (contiguous "
     "channels last) and keeps it so, which flatten then copies", (5248, 5648)),
    "layernorm-elementwise-flatten": ("""
input: {channels: 4, size: 6}
layers:
  - conv: {out: 4, kernel: 3, padding: 1}
  - layernorm
  - gelu
  - scale: {value: 2}
  - layer_scale
  - dropout: {p: 0.5}
  - drop_path: {p: 0.2}
  - prelu: {per_channel: true}
  - sigmoid
  - flatten
  - linear: {out: 3}
""", "elementwise ops keep channels last (TensorIterator on a dense input), so flatten copies", (9800, 2880)),
    "layernorm-softmax-flatten": ("""
input: {channels: 4, size: 3}
layers:
  - conv: {out: 4, kernel: 1}
  - layernorm
  - softmax
  - flatten
  - linear: {out: 3}
""", "softmax's result is contiguous whatever its input: flatten is a view", (1008, 720)),
    "layernorm-conv-pool": ("""
convcalc: 2
input: {channels: 4, size: 8}
layers:
  - conv: {out: 4, kernel: 1}
  - layernorm
  - conv: {out: 8, kernel: 3, padding: 1, name: X}
  - channel_shuffle: {groups: 1}
  - conv: {out: 2, kernel: 1, name: A}
  - bn: {from: X, name: Y}
  - maxpool: {kernel: 2, name: P}
  - channel_shuffle: {groups: 8}
  - conv: {out: 2, kernel: 1, name: B}
  - upsample: {from: P, scale: 2, name: U}
  - flatten
  - linear: {out: 3, name: L}
  - dwconv: {from: U, kernel: 3, padding: 1, name: D}
  - avgpool: {kernel: 2}
  - pixel_shuffle: {factor: 2}
  - groupnorm: {groups: 1, name: G}
  - adaptive_avgpool: {size: 3}
  - channel_shuffle: {groups: 2}
  - conv: {out: 2, kernel: 1, name: E}
outputs: [A, B, L, D, G, E]
""", "convs, batch norm, pools, upsampling and pixel shuffles keep channels last (the input's suggested format): "
     "each copying kind after them copies", (37152, 9496)),
    "merges": ("""
convcalc: 2
input: {channels: 4, size: 4}
layers:
  - conv: {out: 4, kernel: 1, name: C}
  - layernorm: {name: N}
  - add: {from: [N, C], name: A1}
  - flatten
  - linear: {out: 2, name: F1}
  - conv: {from: A1, out: 2, kernel: 1, name: G1}
  - add: {from: [C, N], name: A2}
  - flatten
  - linear: {out: 2, name: F2}
  - conv: {from: A2, out: 2, kernel: 1, name: G2}
  - concat: {from: [N, A1], name: K1}
  - channel_shuffle: {groups: 1}
  - conv: {out: 2, kernel: 1, name: S1}
  - conv: {from: K1, out: 2, kernel: 1, name: T1}
  - concat: {from: [N, C], name: K2}
  - channel_shuffle: {groups: 8}
  - conv: {out: 2, kernel: 1, name: S2}
  - conv: {from: K2, out: 2, kernel: 1, name: T2}
outputs: [F1, G1, F2, G2, S1, T1, S2, T2]
""", "an add takes its first input's layout (channels last + contiguous: channels last, copied by flatten; "
     "contiguous + channels last: contiguous, a view); a concat is channels last only when all its inputs are",
        (5888, 3872)),
    "layernorm-1x1": ("""
convcalc: 2
input: {channels: 4, size: 4}
layers:
  - conv: {out: 4, kernel: 1}
  - layernorm
  - global_avgpool
  - conv: {out: 4, kernel: 1}
  - upsample: {scale: 3, name: U}
  - flatten
  - linear: {out: 3, name: L}
  - conv: {from: U, out: 2, kernel: 1, name: B}
outputs: [L, B]
""", "a 1×1 map is contiguous in both formats, but keeps channels-last strides that the upsampling after the "
     "conv follows: flatten copies", (1888, 1280)),
    "residual-se": ("""
input: {channels: 4, size: 4}
layers:
  - conv: {out: 4, kernel: 1}
  - layernorm
  - residual:
      body: [dwconv: {kernel: 3, padding: 1}, se: {reduction: 2}]
  - relu
  - channel_shuffle: {groups: 4}
  - groupnorm: {groups: 2}
  - flatten
  - linear: {out: 2}
""", "a residual of channels-last maps (the dwconv, SE's x · gate, the add) stays channels last: channel_shuffle "
     "with C groups copies it; groupnorm and flatten then take the contiguous copy as it is", (3952, 1568)),
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


@pytest.mark.parametrize("name", list(NON_CONTIGUOUS))
def test_non_contiguous_maps_memory_matches_the_neutral_reading(name: str) -> None:
    text, _, expected = NON_CONTIGUOUS[name]
    check_text(text, f"spec {name!r}")
    for g, _net in models(text):
        m = memory_of(g, MemoryOptions())
        assert (m.train_activation_bytes, m.inference_peak_bytes) == expected, name
