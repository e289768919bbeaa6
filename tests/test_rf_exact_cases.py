"""Named regression specs of exact receptive fields (issue 12), each proved like the random ones.

Every spec goes through :func:`tests.test_rf_exact.check_model` first (every unit of every node, local and
full field, against the neutral build's linear probe: border-free units exactly, the others by
containment, rf's size / smallest / period), then each test asserts the integers convcalc reports, worked
out by hand in its docstring, and that the measurement gives the same.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from convcalc import analyze_text
from convcalc.graph import Graph, Node
from convcalc.metrics.channels import support
from convcalc.metrics.support import unit
from tests.conftest import import_torch
from tests.test_rf_exact import Tally, Windows, border_free, check_model, graphs_and_nets, measured

torch = import_torch()

from tests.neutral.probe import Probe, forward_sums, probe_module  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]


@dataclass
class Case:
    g: Graph
    net: Any
    masks: list[Any]
    tally: Tally

    def node(self, name: str) -> Node:
        (n,) = [n for n in self.g.nodes if n.name == name]
        return n

    def windows(self, name: str, ax: int, at: int | None = None) -> list[tuple[int, int] | None]:
        """convcalc's window of every unit along axis ``ax`` (full field), on unit ``at`` of the other axis
        (default: its middle)."""
        n = self.node(name)
        s = support(n.windows_full)
        length, other = (n.shape.h, n.shape.w) if ax == 0 else (n.shape.w, n.shape.h)
        at = other // 2 if at is None else at
        out: list[tuple[int, int] | None] = []
        for u in range(length):
            e = unit(s, u, at) if ax == 0 else unit(s, at, u)
            out.append(None if e is None else (e[ax].lo, e[ax].hi))
        return out

    def got(self, name: str) -> Windows:
        return measured(self.masks[self.node(name).index])

    def free(self, name: str) -> Any:
        """The border-free units (h, w) of a node (full field)."""
        bh, bw = border_free(self.g, False)[self.node(name).index]
        return torch.tensor(bh)[:, None] & torch.tensor(bw)[None, :]

    def rf(self, name: str) -> list[tuple[int, int, int | None, Fraction]]:
        """(size, smallest, period, jump) per axis (full field)."""
        return [(r.size, r.smallest, r.period, Fraction(r.jump)) for r in self.node(name).rf_full]

    def measured_along(self, name: str, ax: int, at: int | None = None) -> list[tuple[int, int] | None]:
        """The measured window of every unit along axis ``ax`` on unit ``at`` of the other axis (default: its
        middle), where it is border-free (None elsewhere and where nothing reaches it)."""
        n, got, bf = self.node(name), self.got(name), self.free(name)
        length, other = (n.shape.h, n.shape.w) if ax == 0 else (n.shape.w, n.shape.h)
        at = other // 2 if at is None else at
        out: list[tuple[int, int] | None] = []
        for u in range(length):
            i = (u, at) if ax == 0 else (at, u)
            ok = bool(bf[i]) and bool(got.any[i])
            out.append((int(got.lo[ax][i]), int(got.hi[ax][i])) if ok else None)
        return out


def proved(text: str, model: int = 0) -> Case:
    """The spec's model, checked on every unit of every node (tests/test_rf_exact.py)."""
    g, net = graphs_and_nets(text)[model]
    tally = Tally()
    masks = check_model(g, net, tally)
    return Case(g, net, masks, tally)


def spec(size: int | str, *layers: str, channels: int = 1) -> str:
    h, w = (size, size) if isinstance(size, int) else (int(v) for v in size.split("x"))
    body = "".join(f"- {layer}\n" for layer in layers)
    return f"convcalc: 2\ninput: {{channels: {channels}, height: {h}, width: {w}}}\nlayers:\n{body}"


def agree(case: Case, name: str, want: Sequence[tuple[int, int] | None], at: int | None = None) -> None:
    """convcalc's windows along both axes (on unit ``at`` of the other) are ``want`` (unbounded), and so are
    the measured ones wherever the unit is border-free; some unit must be."""
    for ax in (0, 1):
        assert case.windows(name, ax, at) == list(want), (name, ax)
        got = case.measured_along(name, ax, at)
        assert any(g is not None for g in got), f"{name}: no border-free unit"
        assert all(g is None or g == w for g, w in zip(got, want, strict=True)), (name, ax, got)


# ---------------------------------------------------------------- (a) – (f)


def test_a_strided_conv_then_transposed_conv_reads_three_everywhere() -> None:
    """3×3 stride-2 conv (padding 1) then a 2×2 stride-2 transposed conv: unit u reads conv unit ⌊u/2⌋,
    which reads 2⌊u/2⌋ − 1 … 2⌊u/2⌋ + 1, so every unit reads exactly 3 (period 2, jump 1)."""
    c = proved(spec(12, "conv: {out: 2, kernel: 3, stride: 2, padding: 1}", "deconv: {out: 2, kernel: 2, stride: 2}"))
    assert c.rf("deconv1") == [(3, 3, 2, Fraction(1))] * 2
    agree(c, "deconv1", [(2 * (u // 2) - 1, 2 * (u // 2) + 1) for u in range(12)])
    assert c.tally.units > 0


def test_b_transposed_conv_windows_are_whole_pixels() -> None:
    """A transposed conv alone: kernel 2, stride 2 reads pixel ⌊u/2⌋ (size 1, not 1.5); kernel 4, stride 2,
    padding 1 reads v with 2v + t − 1 = u, t < 4: ⌊(u + 1)/2⌋ − 1 and ⌊(u + 1)/2⌋ (size 2)."""
    c = proved(spec(6, "deconv: {out: 1, kernel: 2, stride: 2}"))
    assert c.rf("deconv1") == [(1, 1, 2, Fraction(1, 2))] * 2
    agree(c, "deconv1", [(u // 2, u // 2) for u in range(12)])
    c = proved(spec(6, "deconv: {out: 1, kernel: 4, stride: 2, padding: 1}"))
    assert c.rf("deconv1") == [(2, 2, 2, Fraction(1, 2))] * 2
    agree(c, "deconv1", [((u + 1) // 2 - 1, (u + 1) // 2) for u in range(12)])


def test_c_nearest_upsampling_then_a_conv() -> None:
    """Nearest ×2 then a kernel-2 conv: unit u reads upsampled u, u + 1, i.e. pixels ⌊u/2⌋ … ⌊(u + 1)/2⌋:
    1 pixel at even units, 2 at odd ones. ×2 then a stride-2 conv misses no pixel: kernel 1 reads pixel u,
    kernel 3 with padding 1 pixels u − 1 … u, and every pixel reaches some unit."""
    c = proved(spec(6, "upsample: {scale: 2}", "conv: {out: 1, kernel: 2}"))
    assert c.rf("conv1") == [(2, 1, 2, Fraction(1, 2))] * 2
    agree(c, "conv1", [(u // 2, (u + 1) // 2) for u in range(11)])
    for kernel, want in ((1, [(u, u) for u in range(6)]), (3, [(u - 1, u) for u in range(6)])):
        c = proved(spec(6, "upsample: {scale: 2}", f"conv: {{out: 1, kernel: {kernel}, stride: 2, "
                                                      f"padding: {kernel // 2}}}"))
        assert c.rf("conv1") == [(kernel // 2 + 1, kernel // 2 + 1, 1, Fraction(1))] * 2
        agree(c, "conv1", want)
        assert bool(c.masks[c.node("conv1").index].any(3).any(2).all()), "a pixel reaches no unit"


def test_d_adaptive_pooling_that_does_not_divide_then_global() -> None:
    """Adaptive average pooling 10 → 4: unit k reads [⌊10k/4⌋, ⌈10(k + 1)/4⌉): 0–2, 2–4, 5–7, 7–9 (3 each,
    period 2 of shift 5); the global pool after it depends on all 10 pixels."""
    c = proved(spec(10, "adaptive_avgpool: {size: 4}", "global_avgpool"))
    assert c.rf("adaptive_avgpool1") == [(3, 3, 2, Fraction(5, 2))] * 2
    agree(c, "adaptive_avgpool1", [(0, 2), (2, 4), (5, 7), (7, 9)])
    assert [r[0] for r in c.rf("global_avgpool1")] == [10, 10]
    agree(c, "global_avgpool1", [(0, 9)])


def test_e_a_split_of_a_concat_of_unequal_branches_keeps_its_own_window() -> None:
    """Branches of RF 9 (two 5×5 convs) and 5 (one) concatenated, then split back into their channels: each
    part has its branch's window (u − 4 … u + 4 and u − 2 … u + 2), not the union's, and so has a layer after
    the part; the concat of the parts again the union."""
    c = proved(spec(16, "branches: {merge: concat, paths: [[conv: {out: 2, kernel: 5, padding: 2}, "
                        "conv: {out: 2, kernel: 5, padding: 2}], [conv: {out: 3, kernel: 5, padding: 2}]]}",
                    "branches: {split: [2, 3], paths: [[], [conv: {name: After, out: 1, kernel: 1}]]}"))
    wide, narrow = [(u - 4, u + 4) for u in range(16)], [(u - 2, u + 2) for u in range(16)]
    splits = [n.name for n in c.g.nodes if n.kind == "split"]
    assert len(splits) == 2
    for name, want in ((splits[0], wide), (splits[1], narrow), ("After", narrow)):
        assert c.rf(name) == [(want[0][1] - want[0][0] + 1,) * 2 + (1, Fraction(1))] * 2, name
        agree(c, name, want)
    agree(c, c.g.nodes[-1].name, wide)


@pytest.mark.parametrize("gate", ["se", "pool-mul"])
def test_f_a_global_path_after_a_right_shifted_transposed_conv(gate: str) -> None:
    """A transposed conv with padding ≥ kernel (kernel 2, padding 2, stride 1 on 12 pixels: 9 units) shifts
    its windows right: unit u reads u + 1, u + 2, so pixels 0 and 11 reach no unit. A global path after it (an
    SE, or a global pool, 1×1 conv, sigmoid and ``mul``) sees exactly what the map sees: pixels 1 … 10 for
    every unit (full field; local: u + 1 … u + 2). Every unit is border-free."""
    gated = ["se: {width: 2}"] if gate == "se" else [
        "global_avgpool", "pwconv: {out: 2}", "sigmoid", "mul: {from: [D, previous]}"]
    c = proved(spec(12, "deconv: {name: D, out: 2, kernel: 2, padding: 2}", *gated))
    last = c.g.nodes[-1]
    assert [r[:2] for r in c.rf(last.name)] == [(10, 10)] * 2
    agree(c, last.name, [(1, 10)] * 9)
    assert [(r.size, r.period) for r in last.rf] == [(2, 1)] * 2
    assert bool(c.free(last.name).all())


def test_f_a_global_path_before_a_right_shifted_transposed_conv_keeps_pixel_0() -> None:
    """An SE on the input, then the right-shifted transposed conv: every unit reads SE units u + 1, u + 2,
    whose global path sees every pixel, pixel 0 included: 0 … 11 for every unit (full field)."""
    c = proved(spec(12, "se: {width: 1}", "deconv: {name: D, out: 1, kernel: 2, padding: 2}"))
    assert [r[:2] for r in c.rf("D")] == [(12, 12)] * 2
    agree(c, "D", [(0, 11)] * 9)


def test_f_units_that_read_nothing_locally_read_the_global_path() -> None:
    """Kernel 1, stride 2, padding 1 on 8 pixels (13 units): odd units read pixel (u + 1)/2, even ones
    nothing; an SE after it gives every unit the pixels the map reads, 1 … 6 (full field), while the even
    units still read nothing locally."""
    c = proved(spec(8, "deconv: {name: D, out: 2, kernel: 1, stride: 2, padding: 1}", "se: {name: G, width: 1}"))
    agree(c, "D", [None if u % 2 == 0 else ((u + 1) // 2,) * 2 for u in range(13)], at=1)
    assert c.windows("D", 0, at=2) == [None] * 13  # a column that reads nothing
    agree(c, "G", [(1, 6)] * 13)
    assert [(r.size, r.smallest) for r in c.node("G").rf] == [(1, 1)] * 2


# ---------------------------------------------------------------- (g) U-Nets


def double(name: str, out: int) -> list[str]:
    return [f"conv: {{out: {out}, kernel: 3, padding: 1}}", "bn", "relu",
            f"conv: {{name: {name}, out: {out}, kernel: 3, padding: 1}}", "bn", "relu"]


def unet(up: str, size: int) -> str:
    """A two-level U-Net in the style of milesial's (double 3×3 convs, 2×2 max pools, ``concat [skip, up]``),
    upsampling by a 2×2 stride-2 transposed conv or bilinearly (align_corners false or true)."""
    layers = [*double("inc", 1), "maxpool: {kernel: 2}", *double("down1", 2), "maxpool: {kernel: 2}",
              *double("down2", 4)]
    for skip, c in (("down1", 2), ("inc", 1)):
        layers.append(f"deconv: {{out: {c}, kernel: 2, stride: 2}}" if up == "deconv" else
                      f"upsample: {{scale: 2, mode: bilinear, align_corners: {str(up == 'corners').lower()}}}")
        layers += [f"concat: {{from: [{skip}, previous]}}", *double(f"up_{skip}", c)]
    return spec(size, *layers, "conv: {name: outc, out: 2, kernel: 1}")


@pytest.mark.parametrize(("up", "rf"), [("deconv", (44, 44, 4)), ("bilinear", (52, 48, 4)),
                                        ("corners", (52, 44, None))])
def test_g_small_unets(up: str, rf: tuple[int, int, int | None]) -> None:
    """The logits of a two-level U-Net on 56 × 56: convcalc's (size, smallest, period) per axis, and the
    measured largest and smallest windows over the border-free units: 44 for every unit with transposed
    convs; 48 to 52 with bilinear upsampling (the 2-tap interpolation widens alternate units; period 4);
    align_corners true samples at u·(i − 1)/(o − 1), whose windows drift across the map (no period): the
    smallest window, 44, is at a border unit, and the border-free ones span 48 to 52."""
    c = proved(unet(up, 56))
    assert [(r[0], r[1], r[2]) for r in c.rf("outc")] == [rf] * 2
    got, bf = c.got("outc"), c.free("outc")
    for ax in (0, 1):
        ext = got.extent(ax)[bf]
        assert (int(ext.max()), int(ext.min())) == (rf[0], 48 if up != "deconv" else rf[1]), (ax, ext.tolist())


# ---------------------------------------------------------------- (h) skip alignment


def skip_merge(mode: str) -> str:
    return spec(16, "conv: {name: S, out: 2, kernel: 3, padding: 1}", "maxpool: {kernel: 2}",
                "conv: {out: 2, kernel: 3, padding: 1}", f"upsample: {{name: Up, scale: 2, mode: {mode}}}",
                "add: {name: Merge, from: [S, previous]}")


def centres(case: Case, name: str) -> Any:
    """The measured centre of mass, rows and columns (h, w each), of each unit's gradient."""
    jac = forward_sums(Probe(case.net))[case.node(name).index]  # (H, W, h, w)
    mass = jac.sum((0, 1))
    rows = (jac.sum(1) * torch.arange(jac.shape[0], dtype=jac.dtype)[:, None, None]).sum(0) / mass
    cols = (jac.sum(0) * torch.arange(jac.shape[1], dtype=jac.dtype)[:, None, None]).sum(0) / mass
    return rows, cols


def test_h_bilinear_skip_merges_are_aligned_and_nearest_ones_are_not() -> None:
    """A skip at full resolution added to a map pooled 2×2 (centre 2v + 1/2) and upsampled ×2: bilinear
    (align_corners false) samples (u + 1/2)/2 − 1/2, whose centre 2x + 1/2 = u is the skip's: no note, and the
    measured centre of mass of the upsampled units is the skip's at every border-free unit. Nearest reads
    ⌊u/2⌋, centre u ± 1/2: a note of 1/2 px."""
    for mode in ("nearest", "bilinear"):
        (r,) = analyze_text(skip_merge(mode), "skip.yaml")
        notes = [note for row in r.layers if row.name == "Merge" for note in row.notes if "misaligned" in note]
        assert (notes != []) == (mode == "nearest"), notes
        assert all("1/2 px" in note for note in notes), notes
    c = proved(skip_merge("bilinear"))
    free = c.free("Up")
    up, skip = centres(c, "Up"), centres(c, "S")
    for ax in (0, 1):
        assert torch.allclose(up[ax][free], skip[ax][free], rtol=0, atol=1e-9), ax
        s = support(c.node("Up").windows)
        want = [float(e[ax].centre) for e in (unit(s, *map(int, at)) for at in free.nonzero()) if e is not None]
        assert torch.allclose(up[ax][free], torch.tensor(want, dtype=torch.float64), rtol=0, atol=1e-9)


# ---------------------------------------------------------------- the probe's stand-ins


def test_the_probe_pools_over_the_max_pools_windows() -> None:
    """A max pool's output at a unit is 1 on a one-hot input exactly where the pixel is in the unit's window
    (the others are 0, padding −inf): the probe's mean over the window (WindowMean; the adaptive and global
    max pools: average pools of the same size) is non-zero on exactly those, with strides, padding, dilation
    and ceil_mode's overhang."""
    h, w = 7, 6
    x = torch.eye(h * w, dtype=torch.float64).reshape(h * w, 1, h, w)
    pools: list[Any] = [torch.nn.AdaptiveMaxPool2d((3, 4)), torch.nn.AdaptiveMaxPool2d(1)]
    for k, s, p, d, ceil in itertools.product((1, 2, 3), (1, 2, 3), (0, 1), (1, 2), (False, True)):
        if p <= k // 2 and d * (k - 1) + 1 <= min(h, w) + 2 * p:
            pools.append(torch.nn.MaxPool2d(k, s, p, d, ceil_mode=ceil))
    for pool in pools:
        want = pool(x) == 1
        kind = "maxpool" if isinstance(pool, torch.nn.MaxPool2d) else "adaptive_maxpool"
        stand_in = probe_module(kind, pool, (h, w), (want.shape[2], want.shape[3]), "full")
        assert torch.equal(stand_in(x) != 0, want), pool


def test_the_probe_imports_nothing_of_convcalc() -> None:
    code = "import sys, tests.neutral.probe\nassert not [m for m in sys.modules if m.startswith('convcalc')]\n"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)


# ---------------------------------------------------------------- findings of this suite (fixed)


def test_align_corners_to_a_single_unit_merges_with_its_input() -> None:
    """Bilinear with align_corners on a map of height 1 (1 → 1) reads pixel 0, as the map itself does; convcalc
    gave it jump 0 and refused the ``add`` with the map ('merges different effective strides')."""
    c = proved(spec("1x4", "relu: {name: A}", "upsample: {scale: 1, mode: bilinear, align_corners: true}",
                    "add: {name: M, from: [A, previous]}"))
    assert c.windows("M", 0) == [(0, 0)] and c.windows("M", 1, at=0) == [(u, u) for u in range(4)]
    assert c.measured_along("M", 1, at=0) == [(u, u) for u in range(4)]


def test_bilinear_by_a_real_factor_that_keeps_an_axis_copies_it() -> None:
    """Bilinear ×1.25 on 2 rows gives 2 rows, and PyTorch copies them (row u reads row u: its kernel uses the
    factor only where the size changes); convcalc sampled row 1 at 1.5/1.25 − 1/2 = 0.7 and read rows 0–1."""
    c = proved(spec("2x4", "upsample: {name: Up, scale: [1.25, 2], mode: bilinear}"))
    assert c.windows("Up", 0, at=3) == [(0, 0), (1, 1)] == c.measured_along("Up", 0, at=3)


def test_align_corners_from_a_single_row_changes_the_stride() -> None:
    """One row upsampled ×2 with align_corners (both rows read row 0: (i − 1)/(o − 1) = 0, effective stride 0),
    then a stride-2 conv back to one row: the shape is kept but the effective stride changed (1 → 0), and
    convcalc's documented rule builds the projection then, as for a strided body on a 1×1 map (torchvision
    builds it there: tests/test_spec.py). The windows are still proved without it (the neutral builder
    projects only where the shape changes)."""
    (r,) = analyze_text(spec("1x4", "residual: {body: [upsample: {scale: [2, 1], mode: bilinear, "
                                    "align_corners: true}, conv: {out: 1, kernel: 1, stride: [2, 1]}], "
                                    "projection: [pwconv: {name: down, out: 1}]}"), "one.yaml")
    assert [x.type for x in r.layers] == ["upsample", "conv", "pwconv", "add"]
    proved(spec("1x4", "residual: {body: [upsample: {scale: [2, 1], mode: bilinear, align_corners: true}, "
                       "conv: {out: 1, kernel: 1, stride: [2, 1]}]}"))


def test_a_one_row_merge_has_no_spacing_note() -> None:
    """The add after the block above merges the input (jump 1) and the one-row resize (jump 0) on an axis of
    one unit, whose single window is pixel 0 in both: nothing is unevenly spaced (convcalc noted the windows
    as 'not evenly spaced ... never repeating')."""
    text = spec("1x4", "residual: {body: [upsample: {scale: [2, 1], mode: bilinear, align_corners: true}, "
                       "conv: {out: 1, kernel: 1, stride: [2, 1]}]}")
    (r,) = analyze_text(text, "one.yaml")
    assert not [note for row in r.layers for note in row.notes if "evenly spaced" in note]
    proved(text)
