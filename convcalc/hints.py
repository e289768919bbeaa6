"""Hints for the common mistakes: other tools' names for kinds and arguments, keys indented one level too
little, tabs, an input size written as text, a path of branches that is not a list, a directory for a file.

The names other tools use (PyTorch, Keras) are in one table per purpose: :data:`KIND_ALIASES` (a kind
convcalc has under another name), :data:`KIND_HINTS` (a concept that is spelled differently here),
:data:`UNSUPPORTED` (no such kind yet) and :data:`ARG_ALIASES` (argument names). Plain functions of plain
data, no I/O but :func:`directory_hint` listing a directory.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from convcalc.layers import KINDS, kinds_by_group

#: Other tools' layer names for convcalc's kinds (matched ignoring case, ``_``, ``-`` and a module prefix
#: such as ``nn.``).
KIND_ALIASES: dict[str, str] = {
    # PyTorch (torch.nn, torchvision.ops)
    "Conv2d": "conv", "ConvTranspose2d": "deconv", "DeformConv2d": "deform",
    "MaxPool2d": "maxpool", "AvgPool2d": "avgpool", "AdaptiveAvgPool2d": "adaptive_avgpool",
    "AdaptiveMaxPool2d": "global_maxpool", "BatchNorm2d": "bn", "BatchNorm": "bn",
    "ReLU": "relu", "ReLU6": "relu6", "LeakyReLU": "leaky_relu", "Sigmoid": "sigmoid", "Tanh": "tanh",
    "GELU": "gelu", "SiLU": "silu", "Hardswish": "hardswish", "Hardsigmoid": "hardsigmoid",
    "Linear": "linear", "Dropout": "dropout", "Flatten": "flatten", "Identity": "identity",
    "Upsample": "upsample", "ChannelShuffle": "channel_shuffle",
    # Keras
    "Conv2D": "conv", "Conv2DTranspose": "deconv", "DepthwiseConv2D": "dwconv", "SeparableConv2D": "separable",
    "MaxPooling2D": "maxpool", "AveragePooling2D": "avgpool", "GlobalAveragePooling2D": "global_avgpool",
    "GlobalMaxPooling2D": "global_maxpool", "BatchNormalization": "bn", "Dense": "linear",
    "UpSampling2D": "upsample", "Swish": "silu",
    # other spellings
    "batch_norm": "bn", "bn2d": "bn", "norm": "bn", "convolution": "conv", "depthwise": "dwconv",
    "pointwise": "pwconv", "fc": "linear", "dense_layer": "linear", "fully_connected": "linear",
}
#: Other names for concepts convcalc writes differently.
KIND_HINTS: dict[str, str] = {
    **dict.fromkeys(("pool", "pooling"), "did you mean 'maxpool' or 'avgpool'?"),
    **dict.fromkeys(("add", "sum", "skip"), "a residual add is a block: `- residual: {body: [...]}`, or "
                                            "`- branches: {merge: add, paths: [...]}`"),
    **dict.fromkeys(("concat", "cat", "concatenate"),
                    "a concat is a block: `- branches: {merge: concat, paths: [...]}`"),
}
#: Layers convcalc has no kind for (yet); consulted only when no kind of that name exists.
UNSUPPORTED: dict[str, str] = {
    "LayerNorm": "layer normalisation is not supported yet; as a stand-in, `bn` has the same output shape and, "
                 "for a LayerNorm over the channels, the same parameters (2 per channel)",
    "GroupNorm": "group normalisation is not supported yet; as a stand-in, `bn` has the same output shape and "
                 "parameters (2 per channel)",
    "InstanceNorm2d": "instance normalisation is not supported yet; as a stand-in, `bn` has the same output shape",
}
#: Other tools' argument names; used where the kind takes the convcalc name.
ARG_ALIASES: dict[str, str] = {
    "out_channels": "out", "filters": "out", "num_filters": "out", "channels": "out", "num_output": "out",
    "out_features": "out", "units": "out", "kernel_size": "kernel", "pool_size": "kernel", "strides": "stride",
    "dilation_rate": "dilation", "use_bias": "bias", "depth_multiplier": "multiplier", "output_size": "size",
    "scale_factor": "scale", "rate": "p", "interpolation": "mode",
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


def did_you_mean(word: str, options: Any) -> str:
    """A 'did you mean' hint for a misspelled key or kind, or a list of the valid ones."""
    opts = sorted(str(o) for o in options)
    close = difflib.get_close_matches(word, opts, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    if len(opts) <= 12:
        return "expected one of: " + ", ".join(opts)
    return ""


def _names(words: Iterable[str], limit: int = 12) -> str:
    items = list(words)
    return ", ".join(items[:limit]) + (", …" if len(items) > limit else "")


def kinds_list(blocks: Iterable[str], templates: Iterable[str] = ()) -> str:
    """Every kind by group, the block kinds and a spec's named blocks: the hint for an unknown kind."""
    groups = "; ".join(f"{group} ({', '.join(kinds)})" for group, kinds in kinds_by_group().items() if kinds)
    text = f"the kinds are {groups}; blocks ({', '.join(blocks)})"
    named = sorted(templates)
    return text + (f"; named blocks of this spec ({_names(named)})" if named else "")


def _adaptive(args: Mapping[str, Any], kind: str) -> str:
    """AdaptiveAvgPool2d is global_avgpool for an output of 1 (``output_size: 1``), else adaptive_avgpool."""
    if kind == "global_maxpool":
        return "did you mean 'global_maxpool'? (adaptive max pooling is supported to 1×1 only)"
    size = args.get("output_size", args.get("size"))
    values = size if isinstance(size, list) and len(size) == 2 else [size, size]
    if all(type(v) is int and v == 1 for v in values):
        return "did you mean 'global_avgpool'? (adaptive pooling to 1×1)"
    return "did you mean 'adaptive_avgpool'? (or 'global_avgpool' for an output of 1×1)"


def unknown_kind(kind: str, args: Mapping[str, Any], blocks: Collection[str], templates: Collection[str]) -> str:
    """The hint for an unknown layer kind: another tool's name, a near miss, or the grouped list of kinds."""
    key = _norm(kind)
    if key in _HINTS:
        return _HINTS[key]
    target = _ALIASES.get(key)
    if target is not None:
        if target in ("adaptive_avgpool", "global_maxpool"):
            return _adaptive(args, target)
        if key == "dense":
            return "did you mean 'linear'? (Keras's Dense; `dense` is convcalc's DenseNet block)"
        return f"did you mean {target!r}?"
    names = [*KINDS, *blocks, *templates]
    same = [n for n in names if _norm(n) == key]
    if same:
        return f"did you mean {same[0]!r}?"
    if key in _UNSUPPORTED:
        return _UNSUPPORTED[key]
    close = difflib.get_close_matches(kind, sorted(names), n=1, cutoff=0.6)
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
        return "remove it: in place or not, the counts are the same"
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


def misplaced(m: Mapping[str, Any], arguments: Mapping[str, Collection[str]],
              own: Collection[str] = ()) -> tuple[str, list[str]] | None:
    """A key of ``m`` with no value (null) beside keys that are its arguments (YAML read them one level too
    high): that key and the keys to move under it. ``own``: the keys that belong beside it (these stay, and
    then only its arguments move)."""
    for key, value in m.items():
        allowed = arguments.get(key)
        if value is not None or not allowed:
            continue
        moved = [k for k in m if k != key and k not in own and (k in allowed or not own)]
        if any(k in allowed for k in moved):
            return key, moved
    return None


def indent_hint(found: tuple[str, list[str]]) -> str:
    """``indent `out`, `kernel` under `conv:` (by two more spaces)``."""
    key, moved = found
    return f"indent {', '.join(f'`{k}`' for k in moved)} under `{key}:` (by two more spaces)"


def misindented_layer(item: Mapping[str, Any], blocks: Mapping[str, Collection[str]],
                      templates: Mapping[str, Collection[str]]) -> str:
    """The indentation hint for a layer item (``{conv: null, out: 16, kernel: 3}``): any layer kind, block
    kind or named block (``blocks`` and ``templates`` map names to their argument names)."""
    arguments: dict[str, Collection[str]] = {k: (*s.params, *_NAME_ARGS) for k, s in KINDS.items()}
    arguments.update({k: (*v, "if") for k, v in blocks.items()})
    arguments.update({k: (*v, *_NAME_ARGS) for k, v in templates.items()})
    found = misplaced(item, arguments)
    return indent_hint(found) if found else ""


def paths_hint(path: tuple[str | int, ...], found: Any) -> str:
    """The hint for a path of a branches block that is not a list of layers."""
    if len(path) < 2 or path[-2] != "paths":
        return ""
    example = "e.g. paths: [[conv: {out: 64, kernel: 1}], [relu]]"
    if isinstance(found, str) and found:
        return f"each path is a list of layers: write [{found}] for a path of one layer, e.g. " \
               f"paths: [[{found}], [conv: {{out: 64, kernel: 1}}]]"
    if isinstance(found, dict) and len(found) == 1:
        return f"each path is a list of layers: write [{next(iter(found))}: {{...}}] for a path of one layer, {example}"
    return f"each path is a list of layers, {example}"


_PAIR_TEXT = re.compile(r"\[?([0-9]{1,30})(?: *[x×X*,] *| +)([0-9]{1,30})\]?")
_INT_TEXT = re.compile(r"[0-9]{1,30}")


def size_text_hint(value: object, key: str = "size") -> str:
    """``224x224`` (text) -> ``write size: [224, 224]``; ``'224'`` -> the number without quotes; else ''."""
    if not isinstance(value, str) or len(value) > 80:
        return ""
    text = value.strip()
    m = _PAIR_TEXT.fullmatch(text)
    if m:
        return f"write {key}: [{int(m[1])}, {int(m[2])}] (height, width)"
    return f"write {key}: {int(text)} (a number, without quotes)" if _INT_TEXT.fullmatch(text) else ""


_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")


def _tab_column(row: str) -> int:
    """1-based column of the first tab in the indentation of ``row``, or 0."""
    indent = row[: len(row) - len(row.lstrip(" \t"))]
    return indent.index("\t") + 1 if "\t" in indent else 0


def tab_indentation(text: str, line: int, problem: str) -> tuple[int, int, str] | None:
    """Line, column and hint of the tab that caused a YAML error on ``line`` (1-based): a tab in that line's
    indentation, or (when the error is about a tab) in the nearest line above. None if no tab is to blame."""
    rows = _LINE_BREAK.split(text)
    tabbed = [n for n, row in enumerate(rows, 1) if _tab_column(row)]
    here = [n for n in tabbed if n == line] or [n for n in tabbed if n < line and "tab" in problem][-1:]
    if not here:
        return None
    n = here[0]
    hint = "indent with spaces"
    if len(tabbed) > 1:
        shown = ", ".join(map(str, tabbed[:-1])) + f" and {tabbed[-1]}" if len(tabbed) <= 8 else \
            ", ".join(map(str, tabbed[:8])) + f" and {len(tabbed) - 8} more"
        hint += f" (lines {shown} are indented with tabs)"
    return n, _tab_column(rows[n - 1]), hint


def _spec_files(directory: str) -> list[str]:
    """The spec files directly in ``directory`` (names, sorted, hidden ones and budgets files skipped)."""
    try:
        return sorted(e.name for e in os.scandir(directory)
                      if e.name.endswith((".yaml", ".yml")) and not e.name.startswith(".") and e.is_file()
                      and e.name not in ("budgets.yaml", "budgets.yml"))
    except OSError:
        return []


def directory_hint(arg: str) -> str:
    """The hint for a directory given where one spec file is expected: name one file in it (or in the first
    directory below it that has some), or compare them all with a glob."""
    base = arg.rstrip("/\\") or arg
    names = _spec_files(arg)
    if not names:  # e.g. specs/: the first directory below with spec files (a bounded look)
        for n, (dirpath, dirnames, _) in enumerate(os.walk(arg)):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            if n > 200:
                break
            names = _spec_files(dirpath)
            if names:
                base = dirpath.rstrip("/\\")
                break
    if not names:
        return "name a spec file (this directory has no *.yaml or *.yml files)"
    ext = ".yaml" if any(n.endswith(".yaml") for n in names) else ".yml"
    return f"show and rf take one spec file, e.g. {base}/{names[0]}; compare takes several: " \
           f"`convcalc compare {base}/*{ext}`"
