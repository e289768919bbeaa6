"""Pooling windows follow PyTorch's ``pooling_output_shape`` exactly, ceil_mode and padding included.

PyTorch (aten/src/ATen/native/Pool.h): o = div_rtn(i + p_b + p_e − d·(k − 1) − 1 + (ceil_mode ? s − 1 : 0), s)
+ 1 with floor division, then with ceil_mode o − 1 when (o − 1)·s ≥ i + p_b; o < 1 is an error ("Output size
is too small"). With ceil_mode a window may overhang the end by up to s − 1, so a 3-wide max pool of stride 2
gives 1×1 on a 2×2 input, which convcalc once refused.

:data:`TORCH` was measured once with ``F.max_pool2d(torch.zeros(1, 1, i, i), k, s, p, d, ceil_mode)`` for i in
1..9 (0: PyTorch raised "Output size is too small"), with torch 2.14.1 and, identically, 2.13.0 (CPU);
``F.avg_pool2d`` gives the same sizes for d = 1. :func:`test_live_pytorch_equals_window_out_and_the_export`
measures it again where torch is installed, and checks the PyTorch export against it.
"""

from __future__ import annotations

import itertools

import pytest

from convcalc.errors import SpecError
from convcalc.kinds.core import Layer, LayerShapeError, Shape, k_eff, window_out
from convcalc.kinds.pool import PoolArgs, pool_shape
from tests.conftest import chain, import_torch

SIZES = range(1, 10)
#: (kernel, stride, padding, dilation) → (outputs for i = 1..9 without ceil_mode, with ceil_mode); 0 = refused
TORCH: dict[tuple[int, int, int, int], tuple[str, str]] = {
    (1, 1, 0, 1): ("1 2 3 4 5 6 7 8 9", "1 2 3 4 5 6 7 8 9"),
    (1, 1, 0, 2): ("1 2 3 4 5 6 7 8 9", "1 2 3 4 5 6 7 8 9"),
    (1, 2, 0, 1): ("1 1 2 2 3 3 4 4 5", "1 1 2 2 3 3 4 4 5"),
    (1, 2, 0, 2): ("1 1 2 2 3 3 4 4 5", "1 1 2 2 3 3 4 4 5"),
    (1, 3, 0, 1): ("1 1 1 2 2 2 3 3 3", "1 1 1 2 2 2 3 3 3"),
    (1, 3, 0, 2): ("1 1 1 2 2 2 3 3 3", "1 1 1 2 2 2 3 3 3"),
    (2, 1, 0, 1): ("0 1 2 3 4 5 6 7 8", "0 1 2 3 4 5 6 7 8"),
    (2, 1, 0, 2): ("0 0 1 2 3 4 5 6 7", "0 0 1 2 3 4 5 6 7"),
    (2, 2, 0, 1): ("0 1 1 2 2 3 3 4 4", "1 1 2 2 3 3 4 4 5"),
    (2, 2, 0, 2): ("0 0 1 1 2 2 3 3 4", "0 1 1 2 2 3 3 4 4"),
    (2, 3, 0, 1): ("0 1 1 1 2 2 2 3 3", "1 1 1 2 2 2 3 3 3"),
    (2, 3, 0, 2): ("0 0 1 1 1 2 2 2 3", "1 1 1 2 2 2 3 3 3"),
    (2, 1, 1, 1): ("2 3 4 5 6 7 8 9 10", "2 3 4 5 6 7 8 9 10"),
    (2, 1, 1, 2): ("1 2 3 4 5 6 7 8 9", "1 2 3 4 5 6 7 8 9"),
    (2, 2, 1, 1): ("1 2 2 3 3 4 4 5 5", "1 2 2 3 3 4 4 5 5"),
    (2, 2, 1, 2): ("1 1 2 2 3 3 4 4 5", "1 2 2 3 3 4 4 5 5"),
    (2, 3, 1, 1): ("1 1 2 2 2 3 3 3 4", "1 1 2 2 2 3 3 3 4"),
    (2, 3, 1, 2): ("1 1 1 2 2 2 3 3 3", "1 1 2 2 2 3 3 3 4"),
    (3, 1, 0, 1): ("0 0 1 2 3 4 5 6 7", "0 0 1 2 3 4 5 6 7"),
    (3, 1, 0, 2): ("0 0 0 0 1 2 3 4 5", "0 0 0 0 1 2 3 4 5"),
    (3, 2, 0, 1): ("0 0 1 1 2 2 3 3 4", "0 1 1 2 2 3 3 4 4"),
    (3, 2, 0, 2): ("0 0 0 0 1 1 2 2 3", "0 0 0 1 1 2 2 3 3"),
    (3, 3, 0, 1): ("0 0 1 1 1 2 2 2 3", "1 1 1 2 2 2 3 3 3"),
    (3, 3, 0, 2): ("0 0 0 0 1 1 1 2 2", "0 0 1 1 1 2 2 2 3"),
    (3, 1, 1, 1): ("1 2 3 4 5 6 7 8 9", "1 2 3 4 5 6 7 8 9"),
    (3, 1, 1, 2): ("0 0 1 2 3 4 5 6 7", "0 0 1 2 3 4 5 6 7"),
    (3, 2, 1, 1): ("1 1 2 2 3 3 4 4 5", "1 2 2 3 3 4 4 5 5"),
    (3, 2, 1, 2): ("0 0 1 1 2 2 3 3 4", "0 1 1 2 2 3 3 4 4"),
    (3, 3, 1, 1): ("1 1 1 2 2 2 3 3 3", "1 1 2 2 2 3 3 3 4"),
    (3, 3, 1, 2): ("0 0 1 1 1 2 2 2 3", "1 1 1 2 2 2 3 3 3"),
    (4, 1, 0, 1): ("0 0 0 1 2 3 4 5 6", "0 0 0 1 2 3 4 5 6"),
    (4, 1, 0, 2): ("0 0 0 0 0 0 1 2 3", "0 0 0 0 0 0 1 2 3"),
    (4, 2, 0, 1): ("0 0 0 1 1 2 2 3 3", "0 0 1 1 2 2 3 3 4"),
    (4, 2, 0, 2): ("0 0 0 0 0 0 1 1 2", "0 0 0 0 0 1 1 2 2"),
    (4, 3, 0, 1): ("0 0 0 1 1 1 2 2 2", "0 1 1 1 2 2 2 3 3"),
    (4, 3, 0, 2): ("0 0 0 0 0 0 1 1 1", "0 0 0 0 1 1 1 2 2"),
    (4, 1, 1, 1): ("0 1 2 3 4 5 6 7 8", "0 1 2 3 4 5 6 7 8"),
    (4, 1, 1, 2): ("0 0 0 0 1 2 3 4 5", "0 0 0 0 1 2 3 4 5"),
    (4, 2, 1, 1): ("0 1 1 2 2 3 3 4 4", "1 1 2 2 3 3 4 4 5"),
    (4, 2, 1, 2): ("0 0 0 0 1 1 2 2 3", "0 0 0 1 1 2 2 3 3"),
    (4, 3, 1, 1): ("0 1 1 1 2 2 2 3 3", "1 1 2 2 2 3 3 3 4"),
    (4, 3, 1, 2): ("0 0 0 0 1 1 1 2 2", "0 0 1 1 1 2 2 2 3"),
    (4, 1, 2, 1): ("2 3 4 5 6 7 8 9 10", "2 3 4 5 6 7 8 9 10"),
    (4, 1, 2, 2): ("0 0 1 2 3 4 5 6 7", "0 0 1 2 3 4 5 6 7"),
    (4, 2, 2, 1): ("1 2 2 3 3 4 4 5 5", "2 2 3 3 4 4 5 5 6"),
    (4, 2, 2, 2): ("0 0 1 1 2 2 3 3 4", "0 1 1 2 2 3 3 4 4"),
    (4, 3, 2, 1): ("1 1 2 2 2 3 3 3 4", "1 2 2 2 3 3 3 4 4"),
    (4, 3, 2, 2): ("0 0 1 1 1 2 2 2 3", "1 1 1 2 2 2 3 3 3"),
    (5, 1, 0, 1): ("0 0 0 0 1 2 3 4 5", "0 0 0 0 1 2 3 4 5"),
    (5, 1, 0, 2): ("0 0 0 0 0 0 0 0 1", "0 0 0 0 0 0 0 0 1"),
    (5, 2, 0, 1): ("0 0 0 0 1 1 2 2 3", "0 0 0 1 1 2 2 3 3"),
    (5, 2, 0, 2): ("0 0 0 0 0 0 0 0 1", "0 0 0 0 0 0 0 1 1"),
    (5, 3, 0, 1): ("0 0 0 0 1 1 1 2 2", "0 0 1 1 1 2 2 2 3"),
    (5, 3, 0, 2): ("0 0 0 0 0 0 0 0 1", "0 0 0 0 0 0 1 1 1"),
    (5, 1, 1, 1): ("0 0 1 2 3 4 5 6 7", "0 0 1 2 3 4 5 6 7"),
    (5, 1, 1, 2): ("0 0 0 0 0 0 1 2 3", "0 0 0 0 0 0 1 2 3"),
    (5, 2, 1, 1): ("0 0 1 1 2 2 3 3 4", "0 1 1 2 2 3 3 4 4"),
    (5, 2, 1, 2): ("0 0 0 0 0 0 1 1 2", "0 0 0 0 0 1 1 2 2"),
    (5, 3, 1, 1): ("0 0 1 1 1 2 2 2 3", "1 1 1 2 2 2 3 3 3"),
    (5, 3, 1, 2): ("0 0 0 0 0 0 1 1 1", "0 0 0 0 1 1 1 2 2"),
    (5, 1, 2, 1): ("1 2 3 4 5 6 7 8 9", "1 2 3 4 5 6 7 8 9"),
    (5, 1, 2, 2): ("0 0 0 0 1 2 3 4 5", "0 0 0 0 1 2 3 4 5"),
    (5, 2, 2, 1): ("1 1 2 2 3 3 4 4 5", "1 2 2 3 3 4 4 5 5"),
    (5, 2, 2, 2): ("0 0 0 0 1 1 2 2 3", "0 0 0 1 1 2 2 3 3"),
    (5, 3, 2, 1): ("1 1 1 2 2 2 3 3 3", "1 2 2 2 3 3 3 4 4"),
    (5, 3, 2, 2): ("0 0 0 0 1 1 1 2 2", "0 0 1 1 1 2 2 2 3"),
}


def expected(key: tuple[int, int, int, int], ceil: bool) -> list[int]:
    return [int(o) for o in TORCH[key][ceil].split()]


def test_the_table_covers_the_grid_and_the_overhang() -> None:
    """Every kernel 1..5, stride 1..3, padding 0..k // 2 and dilation 1..2; with ceil_mode PyTorch accepts
    kernels larger than the padded input (by up to s − 1), and both modes refuse some."""
    grid = {(k, s, p, d) for k in range(1, 6) for s in range(1, 4) for p in range(k // 2 + 1) for d in (1, 2)}
    assert set(TORCH) == grid and len(grid) == 66
    overhang = [(key, i) for key in TORCH for i in SIZES
                if expected(key, True)[i - 1] > 0 and k_eff(key[0], key[3]) > i + 2 * key[2]]
    assert len(overhang) == 43
    assert ((3, 2, 0, 1), 2) in overhang and expected((3, 2, 0, 1), True)[:3] == [0, 1, 1]
    assert sum(o == 0 for key in TORCH for o in expected(key, False)) == 153
    assert sum(o == 0 for key in TORCH for o in expected(key, True)) == 110


@pytest.mark.parametrize("ceil", [False, True], ids=["floor", "ceil"])
def test_window_out_equals_pytorch(ceil: bool) -> None:
    for (k, s, p, d), i in itertools.product(TORCH, SIZES):
        want = expected((k, s, p, d), ceil)[i - 1]
        if want == 0:
            with pytest.raises(LayerShapeError, match=f"kernel extent {k_eff(k, d)} is larger than the padded"):
                window_out(i, k_eff(k, d), s, p, p, 0, ceil)
        else:
            assert window_out(i, k_eff(k, d), s, p, p, 0, ceil) == want, (k, s, p, d, i)


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
@pytest.mark.parametrize("ceil", [False, True], ids=["floor", "ceil"])
def test_pool_shape_equals_pytorch(kind: str, ceil: bool) -> None:
    """pool_shape per axis: the height runs over the table, the width stays 9 (its size from the table)."""
    for (k, s, p, d), i in itertools.product(TORCH, SIZES):
        if kind == "avgpool" and d > 1:  # avg_pool2d has no dilation
            continue
        args = PoolArgs((k, k), (s, s), ((p, p), (p, p)), (d, d), ceil)
        want, width = expected((k, s, p, d), ceil)[i - 1], expected((k, s, p, d), ceil)[8]
        if want == 0:
            with pytest.raises(LayerShapeError, match="height axis"):
                pool_shape(Layer(kind, "p", args), Shape(3, i, 9))
        else:
            assert pool_shape(Layer(kind, "p", args), Shape(3, i, 9)) == (3, want, width), (k, s, p, d, i)


def test_a_ceil_mode_window_may_overhang_the_input() -> None:
    """The case of the issue: PyTorch's 1×1, and the figures that follow from it."""
    r = chain("4,2,2", "maxpool: {kernel: 3, stride: 2, ceil_mode: true}")
    assert r.output_shape == (4, 1, 1)
    assert r.total.cmps == 4 * 8  # one window of 3×3 taps per channel
    # ⌊(5 + 2 − 2 + 1)/2⌋ + 1 = 4, but the 4th window would start at 3·2 = 6 ≥ 5 + 1, in the end padding
    assert chain("1,5,5", "avgpool: {kernel: 2, stride: 2, padding: 1, ceil_mode: true}").output_shape == (1, 3, 3)
    # ⌊(6 + 2 − 2 + 1)/2⌋ + 1 = 4, and the 4th window starts at 6 < 6 + 1: kept
    assert chain("1,6,6", "avgpool: {kernel: 2, stride: 2, padding: 1, ceil_mode: true}").output_shape == (1, 4, 4)


OVERHANG = ", even with ceil_mode's overhang of up to 1"


@pytest.mark.parametrize(("layer", "inp", "message"), [
    ("maxpool: {kernel: 3, stride: 2, ceil_mode: true}", "1,1,1",
     "kernel extent 3 is larger than the padded input 1 on the height axis (input 1, padding 0+0)" + OVERHANG),
    ("maxpool: {kernel: 3, stride: 2}", "1,2,2",
     "kernel extent 3 is larger than the padded input 2 on the height axis (input 2, padding 0+0)"),
    # stride 1: no overhang to mention
    ("avgpool: {kernel: [1, 5], stride: 1, padding: [0, 1], ceil_mode: true}", "1,4,2",
     "kernel extent 5 is larger than the padded input 4 on the width axis (input 2, padding 1+1)"),
    ("conv: {out: 2, kernel: 3, stride: 2}", "1,2,2",
     "kernel extent 3 is larger than the padded input 2 on the height axis (input 2, padding 0+0)"),
])
def test_refusals_say_why(layer: str, inp: str, message: str) -> None:
    with pytest.raises(SpecError) as exc:
        chain(inp, layer)
    text = exc.value.render()
    assert f"{message}\n  hint: use a smaller kernel or dilation, more padding, or a larger input" in text


@pytest.mark.torch
def test_live_pytorch_equals_window_out_and_the_export() -> None:
    """PyTorch's max_pool2d/avg_pool2d over the grid equal the table; the exported module (native and the
    general padded path, also with asymmetric padding) gives convcalc's output shape and, where PyTorch can
    express the pool, PyTorch's values."""
    torch = import_torch()
    from torch.nn import functional as F

    from convcalc.graph import Graph, build_graph
    from convcalc.kinds.torch_modules import Pool
    from convcalc.lang.spec import parse_spec
    from convcalc.lang.yaml_source import load_text
    from convcalc.torch_export import to_torch

    def graph(kind: str, i: int, args: str) -> Graph:
        spec = parse_spec(load_text(f"input: {{channels: 2, height: {i}, width: {i}}}\nlayers:\n"
                                    f"  - {kind}: {{{args}}}\n", "pool.yaml"))
        g = build_graph(spec, spec.models[0])
        assert g is not None
        return g

    exported = 0
    for (k, s, p, d), i, ceil, kind in itertools.product(TORCH, SIZES, (False, True), ("maxpool", "avgpool")):
        if kind == "avgpool" and d > 1:
            continue
        x = torch.randn(1, 2, i, i, dtype=torch.float64)
        try:
            ref = (F.max_pool2d(x, k, s, p, d, ceil_mode=ceil) if kind == "maxpool"
                   else F.avg_pool2d(x, k, s, p, ceil_mode=ceil))
            torch_o = ref.shape[2]
        except RuntimeError as exc:
            assert "Output size is too small" in str(exc)
            torch_o = 0
        assert torch_o == expected((k, s, p, d), ceil)[i - 1], (kind, k, s, p, d, i, ceil)
        args = f"kernel: {k}, stride: {s}, padding: {p}, ceil_mode: {str(ceil).lower()}"
        args += f", dilation: {d}" if kind == "maxpool" else ""
        if torch_o == 0:
            with pytest.raises(SpecError):
                graph(kind, i, args)
            continue
        net = to_torch(graph(kind, i, args)).double()
        pool = net.layers["1"]
        assert isinstance(pool, Pool) and pool.native
        torch.testing.assert_close(net(x), ref, rtol=0, atol=1e-12)
        pool.native = False
        torch.testing.assert_close(net(x), ref, rtol=0, atol=1e-12)
        if k > 1:  # asymmetric padding: the general path only; convcalc's shape
            for pads in ("[[0, 1], [1, 0]]", "[[1, 0], [0, 1]]"):
                asym = args.replace(f"padding: {p}", f"padding: {pads}")
                try:
                    g = graph(kind, i, asym)
                except SpecError:
                    continue
                assert to_torch(g).double()(x).shape == (1, 2, *g.nodes[-1].shape[1:]), (kind, asym, i)
        exported += 1
    assert exported == 1457
