"""What every layer kind is made of: the types its rules work on, the shared geometry, and the registry.

A kind is declared once, in the module of its family (``conv.py``, ``pool.py``, …), as a :class:`Kind`:
its arguments (parsers, required names, typed container), and beside them its rules, one per
interpretation: ``shape`` (output shape), ``cost`` (exact integer cost buckets), ``rf`` (which input units
each output unit reads, per axis: :mod:`convcalc.kinds.reads`), ``channels`` (which input channels each
output channel reads), ``memory`` (its tensor operations: what each allocates and what autograd saves,
:mod:`convcalc.kinds.steps`) and ``torch`` (its PyTorch module, imported lazily). The metric passes read the rule
of their interpretation from :data:`KINDS`; ``tests/test_registry.py`` proves every kind has every rule.

Geometry per axis: k_eff = d·(k − 1) + 1; o = ⌊(i + p_begin + p_end − k_eff)/s⌋ + 1 (pools: PyTorch's
ceil_mode rule); TensorFlow SAME: o = ⌈i/s⌉, pad = max((o − 1)·s + k_eff − i, 0), p_begin = ⌊pad/2⌋.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, NamedTuple

from convcalc.kinds.reads import SAME, AxisReads, Channels, LayerReads, window
from convcalc.kinds.steps import MemoryFn
from convcalc.kinds.values import Padding, Pair

if TYPE_CHECKING:  # torch is an optional extra: only the PyTorch rules import it, when called
    from torch import nn

AXES = ("height", "width")


class Shape(NamedTuple):
    """A feature map: channels, height, width (per sample)."""

    c: int
    h: int
    w: int

    def __str__(self) -> str:
        return f"{self.c}×{self.h}×{self.w}"


class NoArgs(NamedTuple):
    """Layers without arguments of their own."""


class Layer(NamedTuple):
    """One concrete layer: its kind, full name and typed arguments."""

    kind: str
    name: str
    args: Any = NoArgs()


class LayerShapeError(ValueError):
    """A layer cannot take the shape it receives (the graph turns it into a located error)."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.hint = hint
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Cost:
    """Exact integer costs of one layer (or a sum of layers).

    ``macs`` are multiply-accumulates of dot-product work (conv, linear, interpolation); bias is not a MAC.
    Other work is counted per element: adds, muls, divs, cmps (comparisons) and special (transcendental).
    """

    params: int = 0
    buffers: int = 0
    macs: int = 0
    adds: int = 0
    muls: int = 0
    divs: int = 0
    cmps: int = 0
    special: int = 0

    @property
    def flops(self) -> int:
        """flops = 2·macs + adds + muls + divs (cmps and special are reported, not folded in)."""
        return 2 * self.macs + self.adds + self.muls + self.divs

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.params + other.params, self.buffers + other.buffers, self.macs + other.macs,
                    self.adds + other.adds, self.muls + other.muls, self.divs + other.divs,
                    self.cmps + other.cmps, self.special + other.special)

    def scaled(self, batch: int) -> Cost:
        """Work scales with the batch; params and buffers do not."""
        if batch == 1:
            return self
        return Cost(self.params, self.buffers, *(getattr(self, f.name) * batch for f in fields(Cost)[2:]))

    def without_work(self) -> Cost:
        """Only the parameters and buffers (a training-only branch is not in the inference pass)."""
        return Cost(params=self.params, buffers=self.buffers)


ZERO = Cost()


def total(costs: Iterable[Cost]) -> Cost:
    """The sum of costs, field by field (as ``+`` over them, ZERO for none; one Cost made, not one per term)."""
    p = b = m = a = u = d = c = s = 0
    for x in costs:
        p += x.params
        b += x.buffers
        m += x.macs
        a += x.adds
        u += x.muls
        d += x.divs
        c += x.cmps
        s += x.special
    return Cost(p, b, m, a, u, d, c, s)


def area(s: Shape) -> int:
    """H·W of a feature map."""
    return s.h * s.w


def size(s: Shape) -> int:
    """C·H·W: the elements of a feature map."""
    return s.c * s.h * s.w


# ---------------------------------------------------------------- geometry shared by window layers


def k_eff(k: int, d: int) -> int:
    """Effective kernel extent with dilation: d·(k − 1) + 1."""
    return d * (k - 1) + 1


def resolve_padding(pad: Padding, axis: int, i: int, ke: int, s: int) -> tuple[int, int]:
    """(p_begin, p_end) on one axis; SAME: pad = max((⌈i/s⌉ − 1)·s + k_eff − i, 0), p_begin = ⌊pad/2⌋."""
    if pad == "same":
        o = -(-i // s)
        total = max((o - 1) * s + ke - i, 0)
        return total // 2, total - total // 2
    return pad[axis]


def paddings(pad: Padding, inp: Shape, kernel: Pair, stride: Pair, dilation: Pair) -> tuple[Pair, Pair]:
    """(p_begin, p_end) on each axis of a window of ``kernel`` on ``inp`` (:func:`resolve_padding`)."""
    return (resolve_padding(pad, 0, inp.h, k_eff(kernel[0], dilation[0]), stride[0]),
            resolve_padding(pad, 1, inp.w, k_eff(kernel[1], dilation[1]), stride[1]))


def window_out(i: int, ke: int, s: int, pb: int, pe: int, axis: int, ceil_mode: bool = False) -> int:
    """PyTorch's ``pooling_output_shape``: o = ⌊(i + p_b + p_e − k_eff + (s − 1 if ceil_mode))/s⌋ + 1 (floor
    division, also of a negative span), then with ceil_mode o − 1 if the last window starts at or past
    i + p_b (in the end padding); o < 1 is refused. Without ceil_mode that is k_eff > i + p_b + p_e; with it
    a window may overhang the end by up to s − 1 (a 3-wide max pool of stride 2 on 2 pixels gives 1)."""
    span = i + pb + pe - ke
    o = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= i + pb:
        o -= 1
    if o < 1:
        overhang = f", even with ceil_mode's overhang of up to {s - 1}" if ceil_mode and s > 1 else ""
        raise LayerShapeError(
            f"kernel extent {ke} is larger than the padded input {i + pb + pe} on the {AXES[axis]} axis "
            f"(input {i}, padding {pb}+{pe}){overhang}",
            "use a smaller kernel or dilation, more padding, or a larger input")
    return o


def axis_out(k: int, s: int, d: int, pad: Padding, ax: int, i: int, ceil_mode: bool = False) -> int:
    """Output size of a sliding window on one axis (see :func:`window_out`)."""
    ke = k_eff(k, d)
    pb, pe = resolve_padding(pad, ax, i, ke, s)
    return window_out(i, ke, s, pb, pe, ax, ceil_mode)


def window_reads(kernel: Pair, stride: Pair, pad: Padding, dilation: Pair, inp: Shape) -> AxisReads:
    """The reads of a sliding window (conv or pool) on each axis: unit u reads u·s − p_begin + t·d, t < k."""
    (ph, _), (pw, _) = paddings(pad, inp, kernel, stride, dilation)
    return window(kernel[0], stride[0], ph, dilation[0]), window(kernel[1], stride[1], pw, dilation[1])


# ---------------------------------------------------------------- the registry

Parser = Callable[[object], Any]
ShapeFn = Callable[[Layer, Shape], Shape]
CostFn = Callable[[Layer, Shape, Shape], Cost]
RFFn = Callable[[Layer, Shape], LayerReads]
ChannelsFn = Callable[[Layer, Shape], Channels]
TorchFn = Callable[[Layer, Shape, Shape, bool], "nn.Module"]
#: A check of a kind's arguments together (e.g. "exactly one of"): (message, hint), or ("", "") when fine.
CheckFn = Callable[[Mapping[str, Any]], tuple[str, str]]

#: The groups the kinds are listed in (an unknown kind's hint), in this order.
GROUPS = ("conv", "pool", "norm", "activation", "attention", "other")


def same_channels(layer: Layer, inp: Shape) -> Channels:
    """Output channel c reads input channel c."""
    return SAME


def one_group(layer: Layer) -> int:
    """A global gate over all channels."""
    return 1


def unchecked(args: Mapping[str, Any]) -> tuple[str, str]:
    """No check across arguments."""
    return "", ""


class Kind(NamedTuple):
    """One layer kind: what it accepts and its rule for every interpretation."""

    name: str
    args: type
    params: dict[str, Parser]
    required: tuple[str, ...]
    doc: str
    group: str
    shape: ShapeFn
    cost: CostFn
    rf: RFFn
    torch: TorchFn
    check: CheckFn = unchecked
    #: the default of ``bias`` comes from the spec's ``defaults.bias`` for conv-like layers
    conv_like: bool = False
    #: the default of ``padding`` comes from the spec's ``defaults.padding`` (conv-like and pool-like)
    pool_like: bool = False
    #: has learnable weights (counted as a "weight layer" in depth)
    weights: bool = False
    #: its output depends on the whole input through a side path (full RF ≠ local RF), e.g. an SE gate
    global_gate: bool = False
    #: the real receptive field depends on the data (deformable conv)
    data_dependent: bool = False
    #: which input channels an output channel reads (default: its own)
    channels: ChannelsFn = same_channels
    #: a global gate's groups of channels (SE: 1, all channels; groupnorm: its groups)
    gate_groups: Callable[[Layer], int] = one_group
    #: mixes tokens (attention): a unit reads a window of tokens or all of them, not centred on itself, so a
    #: residual around it is not checked for alignment; returns its receptive-field note ("" for none)
    attends: Callable[[Layer, Shape], str] | None = None
    #: the memory rule: the layer's tensor operations, what each allocates and what autograd saves
    #: (:mod:`convcalc.kinds.steps`); every kind has one (``tests/test_registry.py``)
    memory: MemoryFn | None = None


#: Every layer kind convcalc knows, by name, in registration order (filled by the family modules).
KINDS: dict[str, Kind] = {}


def register(*kinds: Kind) -> None:
    """Add kinds to :data:`KINDS` (a name registered twice is a programming error)."""
    for k in kinds:
        assert k.name not in KINDS, f"layer kind {k.name!r} registered twice"
        assert k.group in GROUPS, f"layer kind {k.name!r}: unknown group {k.group!r}"
        KINDS[k.name] = k


def kinds_by_group() -> dict[str, list[str]]:
    """Every kind under its group (registry order within a group), groups in :data:`GROUPS` order."""
    out: dict[str, list[str]] = {g: [] for g in GROUPS}
    for name, kind in KINDS.items():
        out[kind.group].append(name)
    return out


def kind_group(kind: str) -> str:
    """The group of a layer kind."""
    return KINDS[kind].group
