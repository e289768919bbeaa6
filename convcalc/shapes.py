"""Output shapes, per axis, one handler per layer kind (see ``SHAPES``).

k_eff = d·(k − 1) + 1; o = ⌊(i + p_begin + p_end − k_eff)/s⌋ + 1 (pools: PyTorch's ceil_mode rule);
TensorFlow SAME: o = ⌈i/s⌉, pad = max((o − 1)·s + k_eff − i, 0), p_begin = ⌊pad/2⌋, rest at the end;
transposed: o = (i − 1)·s − p_begin − p_end + d·(k − 1) + output_padding + 1.
"""

from __future__ import annotations

from collections.abc import Callable

from convcalc.layers import ConvArgs, Layer, LinearArgs, NoArgs, Padding, PoolArgs, SEArgs, Shape, SizeArgs


class LayerShapeError(ValueError):
    """A layer cannot take the shape it receives (the graph turns it into a located error)."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.hint = hint
        super().__init__(message)


AXES = ("height", "width")


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


def window_out(i: int, ke: int, s: int, pb: int, pe: int, axis: int, ceil_mode: bool = False) -> int:
    """o = ⌊(i + p_b + p_e − k_eff)/s⌋ + 1, or with ceil_mode ⌈…⌉ + 1 minus a last window starting in the padding."""
    span = i + pb + pe - ke
    if span < 0:
        raise LayerShapeError(
            f"kernel extent {ke} is larger than the padded input {i + pb + pe} on the {AXES[axis]} axis "
            f"(input {i}, padding {pb}+{pe})",
            "use a smaller kernel or dilation, more padding, or a larger input")
    if ceil_mode:
        o = -(-span // s) + 1
        if (o - 1) * s >= i + pb:
            o -= 1
        return o
    return span // s + 1


def conv_channels(layer: Layer, inp: Shape) -> tuple[int, int, int]:
    """(C_in, C_out, groups) of a conv-like layer, with depthwise resolved against the input."""
    a = layer.args
    assert isinstance(a, ConvArgs)
    if layer.kind == "dwconv":
        return inp.c, inp.c * a.multiplier, inp.c
    assert a.out is not None
    return inp.c, a.out, a.groups


def _conv(layer: Layer, inp: Shape) -> Shape:
    a = layer.args
    assert isinstance(a, ConvArgs)
    cin, cout, g = conv_channels(layer, inp)
    if cin % g or cout % g:
        raise LayerShapeError(
            f"groups {g} must divide the input channels {cin} and the output channels {cout}",
            "choose groups that divide both channel counts")
    if layer.kind == "deform" and cin % a.offset_groups:
        raise LayerShapeError(f"offset_groups {a.offset_groups} must divide the input channels {cin}",
                              "torchvision's deform_conv2d requires it")
    if layer.kind == "deconv":
        if a.padding == "same":
            raise LayerShapeError("padding 'same' is not supported for deconv", "give explicit padding")
        dims = []
        for ax, i in enumerate((inp.h, inp.w)):
            pb, pe = a.padding[ax]
            op = a.output_padding[ax]
            if op >= max(a.stride[ax], a.dilation[ax]):
                raise LayerShapeError(
                    f"output_padding {op} must be smaller than the stride or the dilation on the {AXES[ax]} axis",
                    "output_padding only picks among the output sizes a stride allows (as in PyTorch)")
            o = (i - 1) * a.stride[ax] - pb - pe + a.dilation[ax] * (a.kernel[ax] - 1) + op + 1
            if o < 1:
                raise LayerShapeError(f"output size {o} on the {AXES[ax]} axis is less than 1",
                                      "reduce the padding")
            dims.append(o)
        return Shape(cout, dims[0], dims[1])
    h, w = (_axis_out(a.kernel[ax], a.stride[ax], a.dilation[ax], a.padding, ax, i)
            for ax, i in enumerate((inp.h, inp.w)))
    return Shape(cout, h, w)


def _axis_out(k: int, s: int, d: int, pad: Padding, ax: int, i: int, ceil_mode: bool = False) -> int:
    ke = k_eff(k, d)
    pb, pe = resolve_padding(pad, ax, i, ke, s)
    return window_out(i, ke, s, pb, pe, ax, ceil_mode)


def pool_stride(a: PoolArgs) -> tuple[int, int]:
    """A pool's stride defaults to its kernel."""
    return a.stride if a.stride is not None else a.kernel


def _pool(layer: Layer, inp: Shape) -> Shape:
    a = layer.args
    assert isinstance(a, PoolArgs)
    s = pool_stride(a)
    if a.padding != "same":
        for ax in (0, 1):
            if max(a.padding[ax]) * 2 > a.kernel[ax]:
                raise LayerShapeError(
                    f"pool padding {max(a.padding[ax])} is more than half the kernel on the {AXES[ax]} axis",
                    "PyTorch requires padding <= kernel // 2 for pooling")
    h, w = (_axis_out(a.kernel[ax], s[ax], a.dilation[ax], a.padding, ax, i, a.ceil_mode)
            for ax, i in enumerate((inp.h, inp.w)))
    return Shape(inp.c, h, w)


def _global(layer: Layer, inp: Shape) -> Shape:
    return Shape(inp.c, 1, 1)


def _adaptive(layer: Layer, inp: Shape) -> Shape:
    a = layer.args
    assert isinstance(a, SizeArgs)
    return Shape(inp.c, a.size[0], a.size[1])


def _same(layer: Layer, inp: Shape) -> Shape:
    return inp


def _linear(layer: Layer, inp: Shape) -> Shape:
    a = layer.args
    assert isinstance(a, LinearArgs)
    if inp.h != 1 or inp.w != 1:
        raise LayerShapeError(f"linear needs a C×1×1 input, found {inp}",
                              "add `flatten` or `global_avgpool` before it")
    return Shape(a.out, 1, 1)


def _flatten(layer: Layer, inp: Shape) -> Shape:
    return Shape(inp.c * inp.h * inp.w, 1, 1)


def _shuffle(layer: Layer, inp: Shape) -> Shape:
    a = layer.args
    assert isinstance(a, NoArgs)
    if inp.c % a.groups:
        raise LayerShapeError(f"channel_shuffle groups {a.groups} must divide the channels {inp.c}")
    return inp


def se_width(layer: Layer, c: int) -> int:
    """Squeeze width: ``width``, or C // reduction (at least 1)."""
    a = layer.args
    assert isinstance(a, SEArgs)
    if a.width is not None:
        return a.width
    return max(1, c // (a.reduction or 16))


def _upsample(layer: Layer, inp: Shape) -> Shape:
    a = layer.args
    assert isinstance(a, SizeArgs)
    return Shape(inp.c, inp.h * a.scale[0], inp.w * a.scale[1])


ShapeFn = Callable[[Layer, Shape], Shape]

#: Output shape of every layer kind.
SHAPES: dict[str, ShapeFn] = {
    "conv": _conv, "dwconv": _conv, "pwconv": _conv, "separable": _conv, "deconv": _conv, "deform": _conv,
    "maxpool": _pool, "avgpool": _pool,
    "global_avgpool": _global, "global_maxpool": _global, "adaptive_avgpool": _adaptive,
    "bn": _same, "relu": _same, "relu6": _same, "leaky_relu": _same, "sigmoid": _same, "tanh": _same,
    "gelu": _same, "silu": _same, "hardswish": _same, "hardsigmoid": _same,
    "linear": _linear, "flatten": _flatten, "dropout": _same, "identity": _same,
    "channel_shuffle": _shuffle, "se": _same, "upsample": _upsample,
}
