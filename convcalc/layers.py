"""Layer kinds, their arguments, and the typed values the arithmetic works on.

Every spatial value is an ``(h, w)`` pair. Argument parsers turn spec values into typed values and
raise :class:`ArgError` (expected vs found) otherwise; booleans are never accepted as integers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

Pair = tuple[int, int]
#: Explicit padding per axis: ((top, bottom), (left, right)), or TensorFlow's resolution-dependent SAME.
Padding = tuple[Pair, Pair] | Literal["same"]


class Shape(NamedTuple):
    """A feature map: channels, height, width (per sample)."""

    c: int
    h: int
    w: int

    def __str__(self) -> str:
        return f"{self.c}×{self.h}×{self.w}"


class ArgError(ValueError):
    """A spec value does not have the expected form."""

    def __init__(self, expected: str, found: object, hint: str = "") -> None:
        self.expected = expected
        self.found = found
        self.hint = hint
        super().__init__(f"expected {expected}, found {describe(found)}")


def describe(value: object) -> str:
    """How a found value is shown in an error message."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f"string {value!r}" if len(value) <= 60 else f"string {value[:50]!r}… ({len(value)} characters)"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# ---------------------------------------------------------------- argument parsers


def _int(v: object, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        hint = "YAML reads yes/no/true/false as booleans" if isinstance(v, bool) else ""
        if isinstance(v, float) and v.is_integer():
            hint = f"write {int(v)} (an integer, without the decimal point)"
        raise ArgError(f"an integer >= {minimum}", v, hint)
    if v < minimum:
        raise ArgError(f"an integer >= {minimum}", v)
    return v


def positive(v: object) -> int:
    return _int(v, 1)


def non_negative(v: object) -> int:
    return _int(v, 0)


def _pair(v: object, minimum: int) -> Pair:
    if isinstance(v, list):
        if len(v) != 2:
            raise ArgError(f"an integer >= {minimum} or [h, w]", v)
        return (_int(v[0], minimum), _int(v[1], minimum))
    try:
        n = _int(v, minimum)
    except ArgError as exc:
        raise ArgError(f"an integer >= {minimum} or [h, w]", v, exc.hint) from None
    return (n, n)


def pos_pair(v: object) -> Pair:
    return _pair(v, 1)


def nonneg_pair(v: object) -> Pair:
    return _pair(v, 0)


def padding(v: object) -> Padding:
    if v == "same":
        return "same"
    if v == "valid":
        return ((0, 0), (0, 0))
    expected = "an integer >= 0, [h, w], [[top, bottom], [left, right]], 'same' or 'valid'"
    if isinstance(v, list) and len(v) == 2 and all(isinstance(x, list) for x in v):
        try:
            a, b = nonneg_pair(v[0]), nonneg_pair(v[1])
        except ArgError:
            raise ArgError(expected, v) from None
        return (a, b)
    if isinstance(v, str):
        close = [o for o in ("same", "valid") if o.startswith(v.lower()[:2]) or v.lower().startswith(o[:2])]
        raise ArgError(expected, v, f"did you mean {close[0]!r}?" if close and v else "")
    try:
        h, w = nonneg_pair(v)
    except ArgError as exc:
        raise ArgError(expected, v, exc.hint) from None
    return ((h, h), (w, w))


def boolean(v: object) -> bool:
    if not isinstance(v, bool):
        raise ArgError("true or false", v)
    return v


def number(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ArgError("a number", v)
    return float(v)


def probability(v: object) -> float:
    p = number(v)
    if not 0 <= p <= 1:
        raise ArgError("a probability between 0 and 1", v)
    return p


def choice(*options: str) -> Callable[[object], str]:
    def parse(v: object) -> str:
        if v not in options:
            raise ArgError("one of " + ", ".join(options), v)
        return str(v)

    parse.options = options  # type: ignore[attr-defined]
    return parse


def one_of(*values: int) -> Callable[[object], int]:
    def parse(v: object) -> int:
        if isinstance(v, bool) or v not in values:
            raise ArgError("one of " + ", ".join(map(str, values)), v)
        return int(v)

    parse.values = values  # type: ignore[attr-defined]
    return parse


#: The JSON Schema fragment of each parser, for ``convcalc schema``.
_INT_SCHEMA: dict[str, Any] = {"type": "integer"}
_PAIR = {"oneOf": [_INT_SCHEMA, {"type": "array", "items": _INT_SCHEMA, "minItems": 2, "maxItems": 2}]}
_EXPR = {"type": "string", "pattern": r"^\$"}


def parser_schema(p: Callable[[object], Any]) -> dict[str, Any]:
    """JSON Schema of the values a parser accepts (template expressions ``$x`` always allowed)."""
    if p is positive:
        s: dict[str, Any] = {"type": "integer", "minimum": 1}
    elif p is non_negative:
        s = {"type": "integer", "minimum": 0}
    elif p in (pos_pair, nonneg_pair):
        s = _PAIR
    elif p is padding:
        s = {"oneOf": [_PAIR, {"enum": ["same", "valid"]},
                       {"type": "array", "minItems": 2, "maxItems": 2, "items": _PAIR}]}
    elif p is boolean:
        s = {"type": "boolean"}
    elif p is probability:
        s = {"type": "number", "minimum": 0, "maximum": 1}
    elif p is number:
        s = {"type": "number"}
    elif hasattr(p, "options"):
        s = {"enum": list(p.options)}
    elif hasattr(p, "values"):
        s = {"enum": list(p.values)}
    else:  # pragma: no cover - every parser is listed above
        s = {}
    return {"anyOf": [s, _EXPR]}


# ---------------------------------------------------------------- typed arguments per family


@dataclass(frozen=True, slots=True)
class ConvArgs:
    """conv, dwconv, pwconv, separable, deconv, deform."""

    out: int | None = None
    kernel: Pair = (1, 1)
    stride: Pair = (1, 1)
    padding: Padding = ((0, 0), (0, 0))
    dilation: Pair = (1, 1)
    groups: int = 1
    bias: bool = True
    output_padding: Pair = (0, 0)
    multiplier: int = 1
    offset_groups: int = 1
    version: int = 1


@dataclass(frozen=True, slots=True)
class PoolArgs:
    kernel: Pair = (1, 1)
    stride: Pair | None = None
    padding: Padding = ((0, 0), (0, 0))
    dilation: Pair = (1, 1)
    ceil_mode: bool = False
    count_include_pad: bool = True


@dataclass(frozen=True, slots=True)
class SizeArgs:
    """adaptive_avgpool (size) and upsample (scale, mode)."""

    size: Pair = (1, 1)
    scale: Pair = (1, 1)
    mode: str = "nearest"


@dataclass(frozen=True, slots=True)
class LinearArgs:
    out: int = 1
    bias: bool = True


@dataclass(frozen=True, slots=True)
class SEArgs:
    reduction: int | None = None
    width: int | None = None
    activation: str = "relu"
    gate: str = "sigmoid"


@dataclass(frozen=True, slots=True)
class NoArgs:
    """Layers without arguments (activations, bn, flatten, identity); ``groups`` for channel_shuffle."""

    groups: int = 1
    p: float = 0.5
    scale: bool = True
    center: bool = True


Args = ConvArgs | PoolArgs | SizeArgs | LinearArgs | SEArgs | NoArgs
Parser = Callable[[object], Any]


@dataclass(frozen=True)
class KindSpec:
    """What a layer kind accepts: its argument parsers, required names and typed container."""

    name: str
    args: type[Args]
    params: dict[str, Parser]
    required: tuple[str, ...] = ()
    doc: str = ""
    #: the default of ``bias`` comes from the spec's ``defaults.bias`` for conv-like layers
    conv_like: bool = False
    pool_like: bool = False


_CONV_COMMON: dict[str, Parser] = {
    "kernel": pos_pair, "stride": pos_pair, "padding": padding, "dilation": pos_pair, "bias": boolean,
}
ACTIVATIONS = ("relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "hardswish", "hardsigmoid")


def _kinds() -> dict[str, KindSpec]:
    k: dict[str, KindSpec] = {}

    def add(spec: KindSpec) -> None:
        k[spec.name] = spec

    add(KindSpec("conv", ConvArgs, {"out": positive, **_CONV_COMMON, "groups": positive},
                 ("out", "kernel"), "convolution", conv_like=True))
    add(KindSpec("dwconv", ConvArgs, {**_CONV_COMMON, "multiplier": positive},
                 ("kernel",), "depthwise convolution (groups = in channels)", conv_like=True))
    add(KindSpec("pwconv", ConvArgs, {"out": positive, "stride": pos_pair, "groups": positive, "bias": boolean},
                 ("out",), "pointwise 1×1 convolution", conv_like=True))
    add(KindSpec("separable", ConvArgs, {"out": positive, **_CONV_COMMON},
                 ("out", "kernel"), "depthwise k×k then pointwise 1×1", conv_like=True))
    add(KindSpec("deconv", ConvArgs, {"out": positive, **_CONV_COMMON, "groups": positive,
                                      "output_padding": nonneg_pair},
                 ("out", "kernel"), "transposed convolution", conv_like=True))
    add(KindSpec("deform", ConvArgs, {"out": positive, **_CONV_COMMON, "groups": positive,
                                      "offset_groups": positive, "version": one_of(1, 2)},
                 ("out", "kernel"), "deformable convolution (v1 or v2)", conv_like=True))
    add(KindSpec("maxpool", PoolArgs, {"kernel": pos_pair, "stride": pos_pair, "padding": padding,
                                       "dilation": pos_pair, "ceil_mode": boolean},
                 ("kernel",), "max pooling", pool_like=True))
    add(KindSpec("avgpool", PoolArgs, {"kernel": pos_pair, "stride": pos_pair, "padding": padding,
                                       "ceil_mode": boolean, "count_include_pad": boolean},
                 ("kernel",), "average pooling", pool_like=True))
    add(KindSpec("global_avgpool", NoArgs, {}, (), "global average pooling"))
    add(KindSpec("global_maxpool", NoArgs, {}, (), "global max pooling"))
    add(KindSpec("adaptive_avgpool", SizeArgs, {"size": pos_pair}, ("size",), "adaptive average pooling"))
    add(KindSpec("bn", NoArgs, {"scale": boolean, "center": boolean}, (),
                 "batch normalisation (scale: learn γ, center: learn β)"))
    for a in ACTIVATIONS:
        add(KindSpec(a, NoArgs, {}, (), f"{a} activation"))
    add(KindSpec("linear", LinearArgs, {"out": positive, "bias": boolean}, ("out",), "fully connected"))
    add(KindSpec("flatten", NoArgs, {}, (), "C×H×W → (C·H·W)×1×1"))
    add(KindSpec("dropout", NoArgs, {"p": probability}, (), "dropout (identity at inference)"))
    add(KindSpec("identity", NoArgs, {}, (), "identity"))
    add(KindSpec("channel_shuffle", NoArgs, {"groups": positive}, ("groups",), "channel shuffle (permutation)"))
    add(KindSpec("se", SEArgs, {"reduction": positive, "width": positive,
                                "activation": choice(*ACTIVATIONS), "gate": choice("sigmoid", "hardsigmoid")},
                 (), "squeeze-and-excitation"))
    add(KindSpec("upsample", SizeArgs, {"scale": pos_pair, "mode": choice("nearest", "bilinear")},
                 ("scale",), "upsampling"))
    return k


#: Every layer kind convcalc knows, by name.
KINDS: dict[str, KindSpec] = _kinds()

#: Layer kinds with learnable weights (counted as "weight layers" in depth).
WEIGHT_KINDS = frozenset({"conv", "dwconv", "pwconv", "separable", "deconv", "deform", "linear"})

#: The groups the kinds are listed in (an unknown kind's hint), in this order; see :func:`kind_group`.
GROUPS = ("conv", "pool", "norm", "activation", "other")


def kind_group(kind: str) -> str:
    """The group of a layer kind, derived from the registry, so that a new kind always lands in one."""
    spec = KINDS[kind]
    if spec.conv_like:
        return "conv"
    if spec.pool_like or kind.endswith("pool"):
        return "pool"
    if kind == "bn" or kind.endswith("norm"):
        return "norm"
    return "activation" if kind in ACTIVATIONS else "other"


def kinds_by_group() -> dict[str, list[str]]:
    """Every kind under its group (registry order within a group), groups in :data:`GROUPS` order."""
    out: dict[str, list[str]] = {g: [] for g in GROUPS}
    for kind in KINDS:
        out[kind_group(kind)].append(kind)
    return out


@dataclass(frozen=True, slots=True)
class Layer:
    """One concrete layer: its kind, full name and typed arguments."""

    kind: str
    name: str
    args: Args = field(default_factory=NoArgs)
