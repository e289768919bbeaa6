"""The names users type for layer kinds and arguments (PyTorch, Keras, other spellings) and the hints
that map them to convcalc's kinds: an unknown kind, an argument a kind does not take, a layer's arguments
indented beside its kind.

The names other tools use are in one table per purpose: :data:`KIND_ALIASES` (a kind convcalc has under
another name), :data:`KIND_HINTS` (a concept that is spelled differently here), :data:`UNSUPPORTED` (no
such kind yet) and :data:`ARG_ALIASES` (argument names).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from convcalc.kinds.core import KINDS, kinds_by_group
from convcalc.kinds.merge import MERGE_KINDS, SLICE
from convcalc.lang.hints import did_you_mean, indent_hint, misplaced

#: Other tools' layer names for convcalc's kinds (matched ignoring case, ``_``, ``-`` and a module prefix
#: such as ``nn.``).
KIND_ALIASES: dict[str, str] = {
    # PyTorch (torch.nn, torchvision.ops)
    "Conv2d": "conv", "ConvTranspose2d": "deconv", "DeformConv2d": "deform",
    "MaxPool2d": "maxpool", "AvgPool2d": "avgpool", "AdaptiveAvgPool2d": "adaptive_avgpool",
    "AdaptiveMaxPool2d": "adaptive_maxpool", "BatchNorm2d": "bn", "BatchNorm": "bn",
    "LayerNorm": "layernorm", "LayerNorm2d": "layernorm", "GroupNorm": "groupnorm", "PReLU": "prelu",
    "Mish": "mish", "ELU": "elu", "Softmax": "softmax", "Softmax2d": "softmax", "PixelShuffle": "pixel_shuffle",
    "PixelUnshuffle": "pixel_unshuffle", "StochasticDepth": "drop_path", "DropPath": "drop_path",
    "LayerScale": "layer_scale",
    "ReLU": "relu", "ReLU6": "relu6", "LeakyReLU": "leaky_relu", "Sigmoid": "sigmoid", "Tanh": "tanh",
    "GELU": "gelu", "SiLU": "silu", "Hardswish": "hardswish", "Hardsigmoid": "hardsigmoid",
    "Linear": "linear", "Dropout": "dropout", "Flatten": "flatten", "Identity": "identity",
    "Upsample": "upsample", "ChannelShuffle": "channel_shuffle",
    "MultiheadAttention": "attention", "SelfAttention": "attention",
    "ShiftedWindowAttention": "attention", "ShiftedWindowAttentionV2": "attention", "WindowAttention": "attention",
    "RelativePositionalMultiHeadAttention": "attention", "PatchMerging": "patch_merging",
    "PatchMergingV2": "patch_merging", "PatchEmbed": "conv", "PositionalEmbedding": "pos_embed",
    # Keras
    "Conv2D": "conv", "Conv2DTranspose": "deconv", "DepthwiseConv2D": "dwconv", "SeparableConv2D": "separable",
    "MaxPooling2D": "maxpool", "AveragePooling2D": "avgpool", "GlobalAveragePooling2D": "global_avgpool",
    "GlobalMaxPooling2D": "global_maxpool", "BatchNormalization": "bn", "Dense": "linear",
    "UpSampling2D": "upsample", "Swish": "silu", "LayerNormalization": "layernorm",
    "GroupNormalization": "groupnorm", "Multiply": "mul", "Add": "add", "Concatenate": "concat",
    # other spellings
    "batch_norm": "bn", "bn2d": "bn", "norm": "bn", "convolution": "conv", "depthwise": "dwconv",
    "pointwise": "pwconv", "fc": "linear", "dense_layer": "linear", "fully_connected": "linear",
    "layer_norm": "layernorm", "ln": "layernorm", "group_norm": "groupnorm", "gn": "groupnorm",
    "space_to_depth": "pixel_unshuffle", "depth_to_space": "pixel_shuffle", "stochastic_depth": "drop_path",
    "sum": "add", "multiply": "mul", "cat": "concat", "concatenate": "concat", "interpolate": "upsample",
    "mhsa": "attention", "msa": "attention", "self_attention": "attention", "window_attention": "attention",
    "grid_attention": "attention", "pos_embedding": "pos_embed", "position_embedding": "pos_embed",
    "cls_token": "class_token", "register_tokens": "class_token", "patchify": "tokens",
}
#: Other names for concepts convcalc writes differently.
KIND_HINTS: dict[str, str] = {
    **dict.fromkeys(("pool", "pooling"), "did you mean 'maxpool' or 'avgpool'?"),
    "skip": "a residual add is a block: `- residual: {body: [...]}`, or a merge: `- add: {from: [a, b]}`",
}
#: Layers convcalc has no kind for (yet); consulted only when no kind of that name exists.
UNSUPPORTED: dict[str, str] = {
    "InstanceNorm2d": "instance normalisation is not supported yet; `groupnorm` with groups equal to the channels "
                      "computes the same statistics",
}
#: Other tools' argument names; used where the kind takes the convcalc name.
ARG_ALIASES: dict[str, str] = {
    "out_channels": "out", "filters": "out", "num_filters": "out", "channels": "out", "num_output": "out",
    "out_features": "out", "units": "out", "kernel_size": "kernel", "pool_size": "kernel", "strides": "stride",
    "dilation_rate": "dilation", "use_bias": "bias", "depth_multiplier": "multiplier", "output_size": "size",
    "scale_factor": "scale", "rate": "p", "interpolation": "mode", "num_heads": "heads", "n_heads": "heads",
    "window_size": "window", "shift_size": "shift", "partition_size": "window",
}
#: Arguments that give what convcalc takes from the previous layer.
_INPUT_ARGS = ("in_channels", "in_features", "num_features", "input_shape", "input_channels")
_NAME_ARGS = ("name", "if")


def _norm(name: str) -> str:
    """``nn.BatchNorm2d`` -> ``batchnorm2d``: a module prefix, case, ``_``, ``-`` and spaces ignored."""
    return re.sub(r"[\s_\-]", "", name.rsplit(".", 1)[-1].lower())


_ALIASES = {_norm(k): v for k, v in KIND_ALIASES.items()}
_HINTS = {_norm(k): v for k, v in KIND_HINTS.items()}
_UNSUPPORTED = {_norm(k): v for k, v in UNSUPPORTED.items()}


def _names(words: Iterable[str], limit: int = 12) -> str:
    items = list(words)
    return ", ".join(items[:limit]) + (", …" if len(items) > limit else "")


def kinds_list(blocks: Iterable[str], templates: Iterable[str] = ()) -> str:
    """Every kind by group, the block kinds and a spec's named blocks: the hint for an unknown kind."""
    groups = "; ".join(f"{group} ({', '.join(kinds)})" for group, kinds in kinds_by_group().items() if kinds)
    text = f"the kinds are {groups}; merges ({', '.join(MERGE_KINDS)}); {SLICE}; blocks ({', '.join(blocks)})"
    named = sorted(templates)
    return text + (f"; named blocks of this spec ({_names(named)})" if named else "")


def _adaptive(args: Mapping[str, Any], kind: str) -> str:
    """AdaptiveAvgPool2d / AdaptiveMaxPool2d: the global pool for an output of 1 (``output_size: 1``), else the
    adaptive pool."""
    short = kind.split("_")[1]  # avgpool or maxpool
    size = args.get("output_size", args.get("size"))
    values = size if isinstance(size, list) and len(size) == 2 else [size, size]
    if all(type(v) is int and v == 1 for v in values):
        return f"did you mean 'global_{short}'? (adaptive pooling to 1×1)"
    return f"did you mean {kind!r}? (or 'global_{short}' for an output of 1×1)"


def unknown_kind(kind: str, args: Mapping[str, Any], blocks: Collection[str], templates: Collection[str]) -> str:
    """The hint for an unknown layer kind: another tool's name, a near miss, or the grouped list of kinds."""
    key = _norm(kind)
    if key in _HINTS:
        return _HINTS[key]
    target = _ALIASES.get(key)
    if target is not None:
        if target in ("adaptive_avgpool", "adaptive_maxpool"):
            return _adaptive(args, target)
        if key == "dense":
            return "did you mean 'linear'? (Keras's Dense; `dense` is convcalc's DenseNet block)"
        return f"did you mean {target!r}?"
    names = [*KINDS, *MERGE_KINDS, SLICE, *blocks, *templates]
    same = [n for n in names if _norm(n) == key]
    if same:
        return f"did you mean {same[0]!r}?"
    if key in _UNSUPPORTED:
        return _UNSUPPORTED[key]
    close = difflib.get_close_matches(kind, sorted(n for n in names if n not in MERGE_KINDS), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else kinds_list(blocks, templates)


def unknown_argument(key: str, kind: str, params: Collection[str]) -> str:
    """The hint for an argument a layer kind does not take."""
    k = key.lower().replace("-", "_")
    target = ARG_ALIASES.get(k)
    if target in params:
        if target == "out" and kind != "linear":
            return "did you mean 'out'? (the number of output channels)"
        return f"did you mean {target!r}?"
    if k in _INPUT_ARGS:
        return "remove it: the input channels come from the previous layer" + \
            ("; the output channels are `out`" if "out" in params else "")
    if k == "inplace":
        return f"remove it: PyTorch's {kind} has no in-place form (and in place or not, the counts are the same)"
    return did_you_mean(key, [*params, "name"])


def meant_arguments(args: Mapping[str, Any], params: Collection[str]) -> set[str]:
    """The arguments that unknown keys of ``args`` probably stand for (their errors say so already)."""
    out: set[str] = set()
    for key in args:
        if key in params or key == "name":
            continue
        target = ARG_ALIASES.get(key.lower().replace("-", "_"))
        if target in params:
            out.add(str(target))
        else:
            out.update(difflib.get_close_matches(key, list(params), n=1, cutoff=0.6))
    return out


def misindented_layer(item: Mapping[str, Any], blocks: Mapping[str, Collection[str]],
                      templates: Mapping[str, Collection[str]]) -> str:
    """The indentation hint for a layer item (``{conv: null, out: 16, kernel: 3}``): any layer kind, block
    kind or named block (``blocks`` and ``templates`` map names to their argument names)."""
    arguments: dict[str, Collection[str]] = {k: (*s.params, *_NAME_ARGS) for k, s in KINDS.items()}
    arguments.update({k: (*v, "if") for k, v in blocks.items()})
    arguments.update({k: (*v, *_NAME_ARGS) for k, v in templates.items()})
    found = misplaced(item, arguments)
    return indent_hint(found) if found else ""


