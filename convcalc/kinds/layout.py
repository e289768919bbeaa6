"""The layout of a tensor as PyTorch holds it: the strides of its N×C×H×W sizes (elements), and PyTorch's own
rules for the strides each kind of operation gives its result (c10's and ATen's, written out; checked
against PyTorch by ``tests/test_memory_layout.py``).

A layout is a tuple of strides, or ``()`` for the contiguous strides of the sizes (the layout of every new
tensor PyTorch makes contiguous). A token sequence C×1×T is the N×C×1×T map whose PyTorch tensor is N×T×C,
contiguous there when it is channels last here (:func:`channels_last`). What decides a copy:
:func:`is_contiguous` (``.contiguous()``), :func:`view` (``reshape``: a view where the strides allow one,
else a contiguous copy), and the format an operation asks of its input (:func:`suggests_channels_last`:
``F.group_norm`` copies a map that is contiguous in neither format).

Results: a new result in its input's suggested format (:func:`formatted`: pools, upsampling, pixel
shuffles, ``F.pad``; :func:`convolved`, :func:`batch_normed` and :func:`concatenated` refine it),
TensorIterator's elementwise result (:func:`elementwise`: activations, arithmetic, dropout), and views (a
channel slice keeps its input's strides; :func:`view`). The tests asked most are memoised (pure functions of
sizes and strides, which the rules ask of the same few maps again and again).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

Sizes = tuple[int, ...]
Strides = tuple[int, ...]
#: an operand of an elementwise operation: its sizes (broadcast to the result's) and layout
Operand = tuple[Sizes, Strides]


@lru_cache(maxsize=4096)
def contiguous(sizes: Sizes) -> Strides:
    """Row-major strides: each the product of the sizes after it (a size 0 or 1 counted as 1)."""
    out = [1] * len(sizes)
    for d in range(len(sizes) - 2, -1, -1):
        out[d] = out[d + 1] * max(sizes[d + 1], 1)
    return tuple(out)


def channels_last(sizes: Sizes) -> Strides:
    """N×C×H×W stored as N×H×W×C (c10's ``get_channels_last_strides_2d``): C 1, W C, H W·C, N H·W·C."""
    n, c, h, w = sizes
    return (c * w * h, 1, c * w, c)


def strides(sizes: Sizes, layout: Strides) -> Strides:
    """The strides a layout means (``()``: contiguous)."""
    return layout or contiguous(sizes)


def canonical(sizes: Sizes, s: Strides) -> Strides:
    """``()`` for the contiguous strides themselves, else the strides."""
    return () if tuple(s) == contiguous(sizes) else tuple(s)


def _packed(sizes: Sizes, layout: Strides, order: tuple[int, ...]) -> bool:
    """Whether the strides pack the dimensions in ``order`` (innermost first), the dimensions of size 1 skipped."""
    s, expected = strides(sizes, layout), 1
    for d in order:
        if sizes[d] != 1:
            if s[d] != expected:
                return False
            expected *= sizes[d]
    return True


@lru_cache(maxsize=4096)
def is_contiguous(sizes: Sizes, layout: Strides) -> bool:
    """``Tensor.is_contiguous()``: row-major, the dimensions of size 1 skipped."""
    return _packed(sizes, layout, tuple(range(len(sizes) - 1, -1, -1)))


@lru_cache(maxsize=4096)
def is_channels_last(sizes: Sizes, layout: Strides) -> bool:
    """``Tensor.is_contiguous(memory_format=torch.channels_last)``: C, W, H, N in order, sizes 1 skipped."""
    return _packed(sizes, layout, (1, 3, 2, 0))


def is_dense(sizes: Sizes, layout: Strides) -> bool:
    """``is_non_overlapping_and_dense``: some order of the dimensions is row-major."""
    s = strides(sizes, layout)
    order = sorted((d for d in range(len(sizes)) if sizes[d] >= 2), key=lambda d: s[d])
    expected = 1
    for d in order:
        if s[d] != expected:
            return False
        expected *= sizes[d]
    return True


@lru_cache(maxsize=4096)
def suggests_channels_last(sizes: Sizes, layout: Strides) -> bool:
    """``suggest_memory_format() == channels_last`` (c10's ``is_channels_last_strides_2d_s4``): the strides
    grow through C, W, H, N, ambiguous cases falling back to contiguous (a trivial C stride, an N×1×1×1
    map whose strides all equal C's)."""
    if len(sizes) != 4:
        return False
    s = strides(sizes, layout)
    if s[1] == 0:
        return False
    least = 0
    for d in (1, 3, 2, 0):
        if sizes[d] == 0 or s[d] < least:
            return False
        if d == 0 and least == s[1]:
            return False
        least = s[d] * sizes[d] if sizes[d] > 1 else s[d]
    return True


def formatted(sizes: Sizes, src: Operand) -> Strides:
    """A new result of ``sizes`` in the format its input suggests (``at::empty(…, suggest_memory_format())``)."""
    return canonical(sizes, channels_last(sizes)) if suggests_channels_last(*src) else ()


@lru_cache(maxsize=4096)
def elementwise(sizes: Sizes, *operands: Operand) -> Strides:
    """TensorIterator's result of an elementwise operation on ``operands`` (in order; a 0-dim scalar is
    ``((), ())``). Same shapes all contiguous, all channels last, or all dense with equal strides: that
    layout. Otherwise the dimensions are sorted by the operands' strides (the first operand whose strides
    differ decides; a broadcast dimension is skipped; equal strides put the smaller size first) and the result
    is dense in that order."""
    full = [(s, strides(s, lay)) for s, lay in operands]
    if all(s == sizes for s, _ in full):
        if all(is_contiguous(s, st) for s, st in full):
            return ()
        if all(is_channels_last(s, st) for s, st in full):
            return canonical(sizes, channels_last(sizes))
        if all(is_dense(s, st) for s, st in full) and len({st for _, st in full}) == 1:
            return canonical(sizes, full[0][1])
    nd = len(sizes)
    per: list[list[int]] = []
    for s, st in full:
        off = nd - len(s)
        per.append([0 if d < off or (s[d - off] == 1 and sizes[d] != 1) else st[d - off] for d in range(nd)])

    def swap(d0: int, d1: int) -> int:
        for st in per:
            a, b = st[d0], st[d1]
            if a == 0 or b == 0:
                continue
            if a != b:
                return -1 if a < b else 1
            if sizes[d0] > sizes[d1]:
                return 1
        return 0

    return canonical(sizes, _dense_in_order(sizes, _sort(nd, swap)))


def _sort(nd: int, swap: Callable[[int, int], int]) -> list[int]:
    """TensorIterator's insertion sort of the dimensions, fastest first, with ambiguous comparisons."""
    perm = list(range(nd - 1, -1, -1))
    for i in range(1, nd):
        d1 = i
        for d0 in range(i - 1, -1, -1):
            c = swap(perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    return perm


def _dense_in_order(sizes: Sizes, perm: list[int]) -> Strides:
    out, step = [0] * len(sizes), 1
    for d in perm:
        out[d] = step
        step *= sizes[d]
    return tuple(out)


def like(src: Operand) -> Strides:
    """``torch.empty_like(x)`` (preserve format): x's strides where dense, else dense in the order of x's
    strides (``infer_dense_strides``)."""
    sizes, lay = src
    if is_dense(sizes, lay):
        return lay
    s = strides(sizes, lay)

    def swap(d0: int, d1: int) -> int:
        a, b = s[d0], s[d1]
        if a == 0 or b == 0:
            return 0
        if a != b:
            return -1 if a < b else 1
        return 1 if sizes[d0] > sizes[d1] else 0

    return canonical(sizes, _dense_in_order(sizes, _sort(len(sizes), swap)))


def view(sizes: Sizes, layout: Strides, new: Sizes) -> Strides | None:
    """The strides of ``x.view(new)``, or None where no view exists (ATen's ``computeStride``: each chunk
    of dimensions that is contiguous within itself may be split or merged)."""
    old = strides(sizes, layout)
    out = [0] * len(new)
    vd = len(new) - 1
    base, t_numel, v_numel = old[-1], 1, 1
    for td in range(len(sizes) - 1, -1, -1):
        t_numel *= sizes[td]
        if td == 0 or (sizes[td - 1] != 1 and old[td - 1] != t_numel * base):
            while vd >= 0 and (v_numel < t_numel or new[vd] == 1):
                out[vd] = v_numel * base
                v_numel *= new[vd]
                vd -= 1
            if v_numel != t_numel:
                return None
            if td > 0:
                base, t_numel, v_numel = old[td - 1], 1, 1
    return None if vd != -1 else tuple(out)


def reshape(sizes: Sizes, layout: Strides, new: Sizes) -> tuple[Strides, bool]:
    """``x.reshape(new)``: the view's strides, or those of a contiguous copy; and whether it copies."""
    v = view(sizes, layout, new)
    if v is None:
        return (), True
    return canonical(new, v), False


def concatenated(sizes: Sizes, inputs: Sequence[Operand]) -> Strides:
    """``torch.cat``: channels last where every input suggests it, else contiguous."""
    if all(suggests_channels_last(*op) for op in inputs):
        return canonical(sizes, channels_last(sizes))
    return ()


def contiguous_as(src: Operand, channels_last_format: bool) -> Operand:
    """``x.contiguous(memory_format)``: x itself where already so, else a copy in that format."""
    sizes, lay = src
    if channels_last_format:
        return src if is_channels_last(sizes, lay) else (sizes, canonical(sizes, channels_last(sizes)))
    return src if is_contiguous(sizes, lay) else (sizes, ())


def batch_normed(src: Operand) -> Strides:
    """``native_batch_norm`` on the CPU: contiguous if its input is, channels last if its input is, else the
    input's suggested format."""
    sizes, lay = src
    if is_contiguous(sizes, lay):
        return ()
    if is_channels_last(sizes, lay):
        return canonical(sizes, channels_last(sizes))
    return formatted(sizes, src)


def convolved(out: Sizes, src: Operand, kernel: tuple[int, int], stride: tuple[int, int],
              dilation: tuple[int, int], groups: int, transposed: bool = False,
              output_padding: tuple[int, int] = (0, 0)) -> Strides:
    """A convolution's result on the CPU (one intra-op thread), as ATen's ``_convolution`` makes it. The input
    and the weight (O×C/g×k×k; transposed C×O/g×k×k) are first made contiguous in the format the input
    suggests; the result is channels last where either of them then suggests it. oneDNN takes the conv where
    it is strided, dilated, not 1×1 or the batch ≥ 16, and grouped, larger than 3×3, the batch > 1 or the
    input > 20480 elements (transposed: also an output padding below the stride); the native kernels run a
    grouped one group by group, each on its channel slice of input and weight made contiguous in the format
    that one suggests, and concatenate the results."""
    sizes = src[0]
    n, c, h, w = sizes
    onednn = (stride != (1, 1) or dilation != (1, 1) or n >= 16 or kernel != (1, 1)) and \
        (groups > 1 or (kernel[0] > 3 and kernel[1] > 3) or n > 1 or n * c * h * w > 20480) and \
        not (transposed and any(p >= s for p, s in zip(output_padding, stride, strict=True)))
    cl = suggests_channels_last(*src)
    ws = (c, out[1] // groups, *kernel) if transposed else (out[1], c // groups, *kernel)
    x, wt = contiguous_as(src, cl), contiguous_as((ws, ()), cl)
    if groups > 1 and not onednn:
        x, wt = _group(x, 1, groups), _group(wt, 0, groups)
        part = (out[0], out[1] // groups, out[2], out[3])
        made = formatted(part, x) or formatted(part, wt)
        return concatenated(out, [(part, made)])
    return formatted(out, x) or formatted(out, wt)


def _group(op: Operand, dim: int, groups: int) -> Operand:
    """ATen's ``subtensor``: one group's slice along ``dim``, made contiguous in the format ``op`` suggests."""
    sizes, lay = op
    part = tuple(s // groups if d == dim else s for d, s in enumerate(sizes))
    return contiguous_as((part, canonical(part, strides(sizes, lay))), suggests_channels_last(*op))


def shuffled(src: Operand, groups: int) -> tuple[Strides, bool]:
    """torchvision's ``channel_shuffle``: ``x.view(N, g, C/g, H, W)``, the two channel axes swapped,
    ``.contiguous()`` (a copy unless that is contiguous already: 1 or C groups on a contiguous map), viewed
    back as N×C×H×W. The result's strides, and whether it copies."""
    (n, c, h, w), lay = src
    five = (n, groups, c // groups, h, w)
    s = view((n, c, h, w), lay, five)
    assert s is not None  # splitting one axis is always a view
    swapped = (n, c // groups, groups, h, w)
    t = (s[0], s[2], s[1], s[3], s[4])
    if not is_contiguous(swapped, t):
        return (), True
    back = view(swapped, t, (n, c, h, w))
    assert back is not None
    return canonical((n, c, h, w), back), False


def token_rows(src: Operand) -> tuple[bool, bool]:
    """``F.linear`` on the N·H·W tokens of a map (its N×H×W×C permutation; a sequence: N×T×C): (fused,
    copies). Fused (one ``addmm`` on a view) where that permutation is contiguous; else ``matmul``, which
    folds the tokens into rows by ``reshape`` (a copy where no view exists) for one ``mm``, then adds the
    bias in place."""
    (n, c, h, w), lay = src
    s = strides((n, c, h, w), lay)
    nhwc, t = (n, h, w, c), (s[0], s[2], s[3], s[1])
    if is_contiguous(nhwc, t):
        return True, False
    return False, view(nhwc, t, (n * h * w, c)) is None
