"""The memory rules of the attention kinds (attention, patch_merging, psa_attention): their tensor operations,
what each allocates and what autograd saves (:mod:`convcalc.kinds.steps`). Kept beside
:mod:`convcalc.kinds.attention`, which registers them with the kinds' other rules.

Modelled on torchvision's code as PyTorch runs it on the CPU (tokens in PyTorch's N×T×C layout): ViT's
``nn.MultiheadAttention`` and Swin's ``shifted_window_attention`` op by op, checked against torchvision
(tests/data/torchvision-memory.csv: ViT, Swin, Swin v2 and MaxViT, every figure equal).
"""

from __future__ import annotations

from convcalc.kinds.core import Layer, Shape
from convcalc.kinds.layout import Strides, canonical, channels_last
from convcalc.kinds.steps import ACT, BOOL, FP32, INT64, LOW, PARAMS, Program, Run, Step, T, count, low, new

#: the hidden width of Swin v2's position MLP (``cpb_mlp``)
CPB_HIDDEN = 512


def attention_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """Attention over G groups of T tokens (M = G·T), h heads of d (D = h·d), batch N, as PyTorch runs it.

    Global (``nn.MultiheadAttention``, ``need_weights=False``): in training, the packed in-projection
    (N·M·3D, saves its input) made contiguous (a copy), the fused ``scaled_dot_product_attention`` (its
    result N·M·D, which the out-projection saves, and a log-sum-exp N·h·M fp32; saves q, k, v: the copy),
    the out-projection (N·M·C_out); at inference the one fused ``_native_multi_head_attention`` op.

    Windows (torchvision's ``shifted_window_attention``): the position bias gathered from the table
    (T²·h, saving the int64 index buffer) and made contiguous; the map padded (a copy, always), rolled where
    shifted, partitioned (a copy); qkv (N·M·3D, saves the partition); q scaled; q, k and v copied by the
    batched products, which save them (no copies where N·G = 1: the reshapes are views); the logits
    N·G·h·T² (+ bias: new; + the shift mask: P_h·P_w zeros, a G·T copy, G·T² differences, two bool
    comparisons and two fills of G·T², then added), softmax (saves its result), its product with v
    (N·M·D), the heads merged (a copy, saved by the projection), the projection (N·M·C_out), the windows
    reversed (a copy), rolled back where shifted and cropped (a copy) where padded. Swin v2's cosine
    attention normalises q and k (:func:`_normalize`) and multiplies a logit scale in; its position MLP is
    :func:`_position_bias`'s."""
    from convcalc.kinds.attention import AttentionArgs, geometry, head_dim

    a = layer.args
    assert isinstance(a, AttentionArgs)
    g = geometry(a, inp)
    d = head_dim(a, inp.c)
    b, dd, m, t = run.batch, a.heads * d, g.processed, g.tokens
    tensors = 2 + int(a.qkv_bias) + int(a.proj_bias) + int(a.cosine) + {"none": 0, "table": 1, "mlp": 3}[a.position]
    index = t * t if a.position != "none" else 0
    if a.window is None and a.position == "none" and not a.cosine:
        if not run.train:  # (autocast leaves this fused path: its projections' casts, not its steps, modelled)
            casts = 3 * dd * (inp.c + int(a.qkv_bias)) + out.c * (dd + int(a.proj_bias))
            return Program((low(Step((0,), new(b * out.c * m), weights=True), 0, casts),), tensors,
                           int64_buffers=index, layout=tokens_last(run, out))
        lse = T(b * a.heads * m, FP32)
        return Program((  # under autocast the projections (their weights cast) and SDPA in the low dtype
            low(Step((0,), new(b * 3 * dd * m), (0,), weights=True, product=True), 3 * dd * inp.c,
                3 * dd * int(a.qkv_bias)),
            Step((1,), new(b * 3 * dd * m)),
            Step((2,), new(b * dd * m), (2, 3, lse), autocast=LOW),
            low(Step((3,), new(b * out.c * m), (3,), weights=True, product=True), out.c * dd,
                out.c * int(a.proj_bias)),
        ), tensors, int64_buffers=index, layout=tokens_last(run, out))
    steps = _Steps()
    bias = _position_bias(steps, a, t) if a.position != "none" else None
    ph, pw = g.padded
    x = steps.add((0,), b * inp.c * ph * pw)  # F.pad: a copy, even with no padding
    if any(g.shift):
        x = steps.add((x,), b * inp.c * ph * pw)  # roll
    x = steps.add((x,), b * inp.c * m)  # the windows, partitioned
    qkv_bias = steps.add((), 3 * dd, weights=True) if a.cosine and a.qkv_bias else None
    linear_bias = 3 * dd if a.qkv_bias and not a.cosine else 0  # (cosine: a bias of q and v read, cast)
    qkv = steps.add((x,) if qkv_bias is None else (x, qkv_bias), b * 3 * dd * m, saves=(x,), weights=True,
                    product=qkv_bias is None, casts=(3 * dd * inp.c, linear_bias))
    logits = b * g.groups * a.heads * t * t
    # the batched products reshape their operands to (N·G·h)×T×d: a copy, except with one group in all
    # (N·G = 1), where the heads are the batch and the reshape is a view
    one = b * g.groups == 1

    def batched(v: int) -> int:
        return v if one else steps.add((v,), b * dd * m)

    if a.cosine:
        normed = [_normalize(steps, qkv, b * g.groups * a.heads * t, b * dd * m) for _ in range(2)]
        qc, kc = (batched(v) for v in normed)
        attn = steps.add((qc, kc), logits, saves=(qc, kc), casts=(0, 0))
        scale = steps.add((steps.add((), a.heads, weights=True),), a.heads, saves=(len(steps.steps) + 1,))
        attn = steps.add((attn, scale), logits, product=True)
    else:
        q = steps.add((qkv,), b * dd * m)  # q · d^-0.5
        qc, kc = batched(q), batched(qkv)
        attn = steps.add((qc, kc), logits, saves=(qc, kc), casts=(0, 0))
    if bias is not None:
        attn = steps.add((attn, bias), logits)
    if any(g.shift):
        cells = g.groups * t
        mask = steps.add((x,), ph * pw)  # x.new_zeros: the partition is read (kept alive) until here
        mask = steps.add((mask,), cells)
        diff = steps.add((mask,), cells * t)
        ne = steps.add((diff,), cells * t, BOOL)
        filled = steps.add((diff, ne), cells * t)
        eq = steps.add((filled,), cells * t, BOOL)
        filled = steps.add((filled, eq), cells * t)
        attn = steps.add((attn, filled), logits)
    soft = steps.add((attn,), logits, saves=(len(steps.steps) + 1,))
    vc = batched(qkv)
    o = steps.add((soft, vc), b * dd * m, saves=(soft, vc), casts=(0, 0))
    merged = steps.add((o,), b * dd * m)
    y = steps.add((merged,), b * out.c * m, saves=(merged,), weights=True, product=True,
                  casts=(out.c * dd, out.c * int(a.proj_bias)))
    y = steps.add((y,), b * out.c * ph * pw)  # the windows reversed
    if any(g.shift):
        y = steps.add((y,), b * out.c * ph * pw)  # rolled back
    if (ph, pw) != (inp.h, inp.w):
        steps.add((y,), count(*out, b))  # cropped
    return Program(tuple(steps.steps), tensors, int64_buffers=index, layout=tokens_last(run, out))


def tokens_last(run: Run, out: Shape) -> Strides:
    """The strides of an attention's or patch merging's result: N×H×W×C (N×T×C) contiguous, channels last
    here (their last op is a linear on the tokens, the windows' result cropped by ``.contiguous()``)."""
    sizes = (run.batch, *out)
    return canonical(sizes, channels_last(sizes))


class _Steps:
    """A program being written: each :meth:`add` appends a step with a new result and returns its value."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def add(self, reads: tuple[int, ...], elements: int, dtype: str = ACT, saves: tuple[int | T, ...] = (),
            weights: bool = False, product: bool = False, casts: tuple[int, int] | None = None) -> int:
        """``casts``: the step runs in the low dtype under autocast, casting parameters of (saved, unsaved)
        elements (:func:`~convcalc.kinds.steps.low`)."""
        step = Step(reads, T(elements, dtype), saves, weights=weights, product=product)
        self.steps.append(step if casts is None else low(step, *casts))
        return len(self.steps)


def _position_bias(steps: _Steps, a: object, t: int) -> int:
    """The h×T×T position bias: Swin's table gathered by the T² index buffer (saved) and made contiguous;
    Swin v2's: first its MLP (2 → 512, ReLU in place, 512 → h) on the R coordinates (a buffer its first
    linear saves), then after the gather 16·sigmoid(·)."""
    from convcalc.kinds.attention import AttentionArgs, relative_positions

    assert isinstance(a, AttentionArgs)
    index = T(t * t, INT64, buffer=True)
    h = a.heads
    if a.position == "mlp":
        assert a.window is not None
        r = relative_positions(a.window)
        hidden = steps.add((), r * CPB_HIDDEN, saves=(T(2 * r, PARAMS, buffer=True),), weights=True,
                           casts=(0, 3 * CPB_HIDDEN))  # (under autocast it saves a low copy of the buffer)
        steps.steps.append(Step((hidden,), hidden, (hidden + 1,)))  # ReLU in place
        table = steps.add((hidden + 1,), r * h, saves=(hidden + 1,), weights=True, product=True,
                          casts=(CPB_HIDDEN * h, 0))
        gathered = steps.add((table,), t * t * h, saves=(index,))
        bias = steps.add((gathered,), h * t * t)
        sig = steps.add((bias,), h * t * t, saves=(len(steps.steps) + 1,))
        return steps.add((sig,), h * t * t)
    gathered = steps.add((), t * t * h, saves=(index,), weights=True)
    return steps.add((gathered,), h * t * t)


def _normalize(steps: _Steps, x: int, rows: int, elements: int) -> int:
    """``F.normalize(x, dim=-1)``: the norms (saving x and themselves), clamped (saving the norms), then x
    divided by them (saving both)."""
    norm = steps.add((x,), rows, saves=(x, len(steps.steps) + 1))
    clamped = steps.add((norm,), rows, saves=(norm,))
    return steps.add((x, clamped), elements, saves=(x, clamped))


def merging_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """Patch merging on O output positions (torchvision's ``_patch_merging_pad``): the map padded to
    even sizes (``F.pad``: a copy, also where nothing is padded), the 2×2 patches concatenated (N·4C·O),
    then LayerNorm (saves its input and a mean and reciprocal deviation per position, fp32) and the linear
    4C → C_out (saves its input), in the order of ``norm``; each a new result."""
    from convcalc.kinds.attention import MergeArgs

    a = layer.args
    assert isinstance(a, MergeArgs)
    b, o = run.batch, out.h * out.w
    stats = (T(b * o, PARAMS), T(b * o, PARAMS))
    pad = Step((0,), new(count(inp.c, inp.h + inp.h % 2, inp.w + inp.w % 2, b)))  # F.pad: a copy, always
    cat = Step((1,), new(b * 4 * inp.c * o))
    wide = b * (4 * inp.c if a.norm == "before" else out.c) * o
    norm = Step((2,), new(wide), (2, *stats), weights=True) if run.train else Step((2,), new(wide), temps=stats)
    weight = 4 * inp.c * out.c  # the linear's, cast under autocast (saved where its input requires grad)
    if a.norm == "before":
        lin = low(Step((3,), new(count(*out, b)), (3,), weights=True, product=True), weight)
        return Program((pad, cat, norm, lin), 3, layout=tokens_last(run, out))
    lin = low(Step((2,), new(count(*out, b)), (2,), weights=True, product=True), weight)
    norm_after = Step((3,), new(count(*out, b)), (3, *stats), weights=True) if run.train else \
        Step((3,), new(count(*out, b)), temps=stats)
    return Program((pad, cat, lin, norm_after), 3, layout=tokens_last(run, out))


def psa_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """Ultralytics' ``Attention`` on P = H·W positions, h heads: the qkv 1×1 conv and its BN (each a new
    result; the conv saves its input, BN its input and 2·(C_qkv) statistics and running buffers), the logits
    N·h·P² (save q and k), scaled (a new result), softmax (saves its result), V·Aᵀ (N·C·P, saves both), the
    positional depthwise conv of V and its BN, their sum, the projection conv and its BN."""
    from convcalc.kinds.attention import psa_dims

    b, c, p = run.batch, inp.c, inp.h * inp.w
    _, _, width = psa_dims(layer, c)
    heads = layer.args.heads
    n = b * c * p

    def bn(src: int, channels: int, elements: int) -> Step:
        stats = (T(channels, PARAMS, buffer=True), T(channels, PARAMS, buffer=True), T(channels, PARAMS),
                 T(channels, PARAMS))
        return Step((src,), new(elements), (src, *stats) if run.train else (), weights=True)

    logits = b * heads * p * p
    steps = (  # under autocast the convs and the products run in the low dtype
        low(Step((0,), new(b * width * p), (0,), weights=True), width * c),  # 1 qkv conv
        bn(1, width, b * width * p),  # 2 (q, k, v: views of it)
        Step((2,), new(logits), (2,), autocast=LOW),  # 3 qᵀk
        Step((3,), new(logits)),  # 4 × scale
        Step((4,), new(logits), (5,)),  # 5 softmax
        Step((2, 5), new(n), (2, 5), autocast=LOW),  # 6 v·aᵀ
        low(Step((2,), new(n), (2,), weights=True), 9 * c),  # 7 positional dw conv of v
        bn(7, c, n),  # 8
        Step((6, 8), new(n)),  # 9 sum
        low(Step((9,), new(n), (9,), weights=True), c * c),  # 10 projection
        bn(10, c, n),  # 11
    )
    return Program(steps, 9, 3)
