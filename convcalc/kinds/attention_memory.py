"""The memory rules of the attention kinds (attention, patch_merging, psa_attention): their tensor operations,
what each allocates and what autograd saves (:mod:`convcalc.kinds.steps`). Kept beside
:mod:`convcalc.kinds.attention`, which registers them with the kinds' other rules.

Modelled on PyTorch's CPU kernels, tokens in PyTorch's N×T×C layout. **Not yet checked against torchvision's
Swin, MaxViT and ViT code** (the memory cross-checks cover the other kinds): the copies a real
implementation makes when it partitions, rolls and transposes may differ.
"""

from __future__ import annotations

from convcalc.kinds.core import Layer, Shape
from convcalc.kinds.steps import FP32, Program, Run, Step, T, count, new


def attention_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """Attention over G groups of T tokens (M = G·T), h heads of d (D = h·d), batch N:
    windows or a grid first gather the (padded, shifted) map into groups (a copy, N·C·M); the qkv projection
    (N·3D·M, saves its input); without a position bias or cosine attention PyTorch's fused kernel
    (``scaled_dot_product_attention``: a result N·D·M and a log-sum-exp N·h·M fp32, saving q, k, v (the qkv
    tensor), its result and the log-sum-exp), else the explicit product: logits N·G·h·T² (save q and k), the
    bias or mask added (a new N·G·h·T²), softmax (saves its result) and its product with v (N·D·M, saves
    both); the heads merged (a copy, N·D·M), the output projection (N·C_out·M, saves the merged copy); groups
    scattered back onto the map (a copy, N·C_out·H·W)."""
    from convcalc.kinds.attention import AttentionArgs, geometry, head_dim

    a = layer.args
    assert isinstance(a, AttentionArgs)
    g = geometry(a, inp)
    d = head_dim(a, inp.c)
    b, dd, m, t = run.batch, a.heads * d, g.processed, g.tokens
    grouped = a.window is not None
    steps: list[Step] = []
    src = 0
    if grouped:
        steps.append(Step((0,), new(b * inp.c * m)))
        src = 1
    steps.append(Step((src,), new(b * 3 * dd * m), (src,), weights=True))
    qkv = len(steps)
    if a.position == "none" and not a.cosine:
        lse = T(b * a.heads * m, FP32)
        steps.append(Step((qkv,), new(b * dd * m), (qkv, qkv + 1, lse) if run.train else (), () if run.train
                          else (lse,)))
    else:
        logits = b * g.groups * a.heads * t * t
        steps.append(Step((qkv,), new(logits), (qkv,)))
        steps.append(Step((qkv + 1,), new(logits)))
        steps.append(Step((qkv + 2,), new(logits), (qkv + 3,)))
        steps.append(Step((qkv + 3, qkv), new(b * dd * m), (qkv + 3, qkv)))
    steps.append(Step((len(steps),), new(b * dd * m)))
    steps.append(Step((len(steps),), new(b * out.c * m), (len(steps),), weights=True))
    if grouped:
        steps.append(Step((len(steps),), new(count(*out, b))))
    tensors = 2 + int(a.qkv_bias) + int(a.proj_bias) + int(a.cosine) + \
        {"none": 0, "table": 1, "mlp": 3}[a.position]
    return Program(tuple(steps), tensors)


def merging_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """Patch merging on O output positions: the 2×2 patches concatenated (a copy, N·4C·O, the map padded to
    even sizes first where odd), then LayerNorm (saves its input and a mean and reciprocal deviation per
    position, fp32) and the linear 4C → C_out (saves its input), in the order of ``norm``; each a new result."""
    from convcalc.kinds.attention import MergeArgs

    a = layer.args
    assert isinstance(a, MergeArgs)
    b, o = run.batch, out.h * out.w
    stats = (T(b * o, FP32), T(b * o, FP32))
    cat = new(b * 4 * inp.c * o)
    wide = b * (4 * inp.c if a.norm == "before" else out.c) * o
    norm = Step((1,), new(wide), (1, *stats), weights=True) if run.train else Step((1,), new(wide), temps=stats)
    if a.norm == "before":
        return Program((Step((0,), cat), norm, Step((2,), new(count(*out, b)), (2,), weights=True)), 3)
    lin = Step((1,), new(count(*out, b)), (1,), weights=True)
    norm_after = Step((2,), new(count(*out, b)), (2, *stats), weights=True) if run.train else \
        Step((2,), new(count(*out, b)), temps=stats)
    return Program((Step((0,), cat), lin, norm_after), 3)


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
        stats = (T(channels, buffer=True), T(channels, buffer=True), T(channels, FP32), T(channels, FP32))
        return Step((src,), new(elements), (src, *stats) if run.train else (), weights=True)

    logits = b * heads * p * p
    steps = (
        Step((0,), new(b * width * p), (0,), weights=True),  # 1 qkv conv
        bn(1, width, b * width * p),  # 2 (q, k, v: views of it)
        Step((2,), new(logits), (2,)),  # 3 qᵀk
        Step((3,), new(logits)),  # 4 × scale
        Step((4,), new(logits), (5,)),  # 5 softmax
        Step((2, 5), new(n), (2, 5)),  # 6 v·aᵀ
        Step((2,), new(n), (2,), weights=True),  # 7 positional dw conv of v
        bn(7, c, n),  # 8
        Step((6, 8), new(n)),  # 9 sum
        Step((9,), new(n), (9,), weights=True),  # 10 projection
        bn(10, c, n),  # 11
    )
    return Program(steps, 9, 3)
