"""Ultralytics model YAMLs (``backbone:`` and ``head:`` rows of ``[from, repeats, module, args]``) read as
convcalc specs, by the rules of Ultralytics' ``parse_model`` (``ultralytics/nn/tasks.py``, 8.4.190).

The scale is ``--set scale=s``, else the YAML's ``scale:``, else the file name's (``yolov8s.yaml`` for a
``yolov8.yaml`` with ``scales:``: Ultralytics' ``guess_model_scale``), else the first of ``scales:`` with a
warning (as Ultralytics does); ``--set nc=N`` overrides ``nc``. Then per row, as ``parse_model`` does: the
repeats ``max(round(n · depth), 1)`` where n > 1 (passed as an argument to C2f, C3, C3k2, C2PSA; other modules
are repeated), the output channels of every module but Classify ``ceil(min(c2, max_channels) · width / 8) · 8``,
C3k2's ``c3k`` forced true at scales m, l and x, Concat's channels the sum of its inputs, Detect's branch widths
``c2 = max(16, ch[0] // 4, 4 · reg_max)`` and ``c3 = max(ch[0], min(nc, 100))`` and its class branch legacy
(v8: two 3×3 Convs) unless a C3k2 came before (YOLO11: depthwise and 1×1 Convs). The result is a convcalc spec
(:mod:`convcalc.lang.ultralytics_blocks` holds the modules as named blocks): each row is one layer or block
named ``model.<row>``, and every location points at the user's row.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path
from typing import Any

from convcalc.errors import Collector, Diagnostic, KeyPath
from convcalc.lang.expr_values import describe
from convcalc.lang.hints import did_you_mean
from convcalc.lang.ultralytics_blocks import blocks_text
from convcalc.lang.yaml_source import Document, load_text

#: the modules read (YOLOv8 and YOLO11 detection and classification), by the name a YAML row gives
MODULES = ("Conv", "DWConv", "Bottleneck", "C2f", "C3", "C3k2", "SPPF", "C2PSA", "Concat", "nn.Upsample", "Detect",
           "Classify")
#: the modules ``parse_model`` passes the repeat count to as an argument
REPEAT_ARG = ("C2f", "C3", "C3k2", "C2PSA")
#: ``activation:`` values (``nn.X()`` as the YAML writes them) → convcalc's kind
ACTIVATIONS = {"nn.SiLU()": "silu", "nn.ReLU()": "relu", "nn.ReLU6()": "relu6", "nn.Hardswish()": "hardswish",
               "nn.GELU()": "gelu", "nn.Mish()": "mish", "nn.Sigmoid()": "sigmoid", "nn.Tanh()": "tanh",
               "nn.ELU()": "elu"}
#: Ultralytics' ``guess_model_scale``: the scale letter after the version digits of the file name
_SCALE = re.compile(r"yolo(e-)?[v]?\d+([nslmx])")


def is_ultralytics(data: Any) -> bool:
    """A mapping with ``backbone:`` and ``head:`` lists is an Ultralytics model YAML."""
    return isinstance(data, dict) and "backbone" in data and "head" in data and "layers" not in data


class _Reader:
    def __init__(self, doc: Document) -> None:
        self.doc, self.errors = doc, Collector()
        self.rows: list[tuple[KeyPath, Any]] = []

    def err(self, path: KeyPath, message: str, hint: str = "") -> None:
        self.errors.add(Diagnostic(self.doc.loc(path), path, message, hint))


def _scale(r: _Reader, data: dict[str, Any], settings: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The scale asked for and the warnings about how it was chosen."""
    scales = data.get("scales")
    if not scales:
        return None, []
    if not isinstance(scales, dict) or not all(isinstance(v, list) and len(v) == 3 for v in scales.values()):
        r.err(("scales",), f"expected scales as `n: [depth, width, max_channels]`, found {describe(scales)}")
        return None, []
    asked = settings.get("scale", data.get("scale"))
    if asked is None:
        m = _SCALE.search(Path(r.doc.file).stem)
        asked = m.group(2) if m else None
    if asked is None:
        first = next(iter(scales))
        return str(first), [f"{r.doc.file}: no model scale given: scale {first!r} assumed, the first of scales: "
                            f"(as Ultralytics does); choose one with --set scale=…"]
    if asked not in scales:
        r.err(("scales",), f"no scale {asked!r} in scales: (it has {', '.join(map(str, scales))})",
              "--set scale=… or a file name such as yolov8s.yaml picks the scale")
        return None, []
    return str(asked), []


def _arg(value: Any, names: dict[str, Any]) -> Any:
    """An argument as ``parse_model`` reads it: a name of its locals (``nc``), else a Python literal, else text."""
    if isinstance(value, str):
        if value in names:
            return names[value]
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return value
    return value


def _divisible(x: float, divisor: int = 8) -> int:
    """Ultralytics' ``make_divisible``: ``ceil(x / divisor) · divisor``."""
    return math.ceil(x / divisor) * divisor


def ultralytics_document(doc: Document, settings: dict[str, Any]) -> Document:
    """The convcalc spec of an Ultralytics model YAML (see the module docstring), for the settings' scale and nc."""
    text, notes, rows = _spec(doc, settings)
    out = load_text(text, doc.file, doc.base_dir)
    # every location of the generated spec is the user's row that made it (the rest: the top of the file)
    top = next(iter(doc.locations.values()), (1, 1))
    out.locations = {path: doc.locations.get(rows[path[1]], top) if path[:1] == ("layers",) and len(path) > 1
                     and type(path[1]) is int and path[1] < len(rows) else top for path in out.locations}
    out.notes = notes
    return out


def ultralytics_spec_text(doc: Document, settings: dict[str, Any]) -> tuple[str, list[str]]:
    """The convcalc spec (YAML text) of an Ultralytics model YAML, as ``convcalc import`` writes it, and the
    warnings; raises SpecError."""
    text, notes, _ = _spec(doc, settings, for_import=True)
    return text, notes


def _spec(doc: Document, settings: dict[str, Any], for_import: bool = False) -> tuple[str, list[str], list[KeyPath]]:
    """The spec text, the warnings and the YAML row of each generated layer."""
    r = _Reader(doc)
    data = doc.data
    assert isinstance(data, dict)
    scale, notes = _scale(r, data, settings)
    nc = settings.get("nc", data.get("nc", 80))
    if type(nc) is not int or nc < 1:
        r.err(("nc",), f"expected the number of classes (an integer >= 1), found {describe(nc)}")
        nc = 1
    depth, width, max_channels = (data.get("depth_multiple", 1.0), data.get("width_multiple", 1.0), math.inf)
    if scale is not None:
        depth, width, max_channels = data["scales"][scale]
    act = "silu"
    if "activation" in data:
        act = ACTIVATIONS.get(str(data["activation"]), "")
        if not act:
            r.err(("activation",), f"unknown activation {describe(data['activation'])}",
                  f"convcalc reads {', '.join(ACTIVATIONS)}")
            act = "silu"
    channels = data.get("channels", 3)
    for key in ("end2end", "kpt_shape"):
        if data.get(key):
            r.err((key,), f"{key}: is not read yet (convcalc reads detection and classification models)")
    em = _Emitter(r, nc, depth, width, max_channels, scale, int(data.get("reg_max", 16)))
    for section in ("backbone", "head"):
        rows = data.get(section)
        if not isinstance(rows, list):
            r.err((section,), f"expected a list of [from, repeats, module, args] rows, found {describe(rows)}")
            continue
        for j, row in enumerate(rows):
            em.row((section, j), row)
    r.errors.raise_if_any()
    stem = Path(doc.file).stem.removeprefix("zoo:")
    family = re.sub(r"(\d+)([nslmx])(.+)?$", r"\1\3", stem) if scale else stem  # Ultralytics' unified name
    name = re.sub(r"^(yolo(?:e-)?v?\d+)", rf"\g<1>{scale}", family, count=1) if scale and family == stem else stem
    label = f"{family} scale {scale} (depth {depth}, width {width}, max_channels {max_channels})" if scale else name
    size = 224 if em.classify else 640
    head = (f"convcalc: 2\nname: {name}\ndescription: >-\n  {label}, nc {nc}:\n  the Ultralytics model YAML "
            f"{Path(doc.file).name} read by convcalc (parse_model's rules, Ultralytics 8.4.190).\n")
    # (read directly, the spec declares what --set may change; an import is one scale, so it declares none)
    params = "" if for_import else f"params: {{scale: {scale}, nc: {nc}}}\n" if scale else f"params: {{nc: {nc}}}\n"
    multiple = f", multiple_of: {em.stride}" if not em.classify and em.stride > 1 else ""
    text = (head + params + f"input: {{channels: {channels}, size: {size}{multiple}}}\n"
            + blocks_text(em.used, act) + "layers:\n" + "".join(em.lines))
    if em.outputs:
        text += f"outputs: [{', '.join(em.outputs)}]\n"
    return text, notes, [p for p, _ in r.rows]


class _Emitter:
    """Ultralytics' channel bookkeeping (``ch``) and one convcalc layer line per YAML row."""

    def __init__(self, r: _Reader, nc: int, depth: float, width: float, max_channels: float, scale: str | None,
                 reg_max: int) -> None:
        self.r, self.nc, self.depth, self.width, self.max_channels = r, nc, depth, width, max_channels
        self.scale, self.reg_max = scale, reg_max
        self.ch: list[int] = []
        self.strides: list[int] = []
        self.stride = 1
        self.lines: list[str] = []
        self.used: set[str] = set()
        self.outputs: list[str] = []
        self.legacy = True
        self.classify = False
        self.names = {"nc": nc, "depth": depth, "width": width, "max_channels": max_channels, "scale": scale}

    def row(self, path: KeyPath, row: Any) -> None:
        r, i = self.r, len(self.ch)
        if not isinstance(row, list) or len(row) != 4:
            r.err(path, f"expected a row [from, repeats, module, args], found {describe(row)}")
            self.ch.append(0)
            self.strides.append(1)
            return
        f, n, module, args = row
        sources = f if isinstance(f, list) else [f]
        ok = bool(sources) and all(type(s) is int and (-i <= s < i if s < 0 else s < i) for s in sources)
        if i == 0:
            ok = sources == [-1]  # the model's input
        if not ok:
            r.err(path + (0,), f"row {i}: expected 'from' as -1, an earlier row or a list of them, found {describe(f)}",
                  "-1 is the row above (the input, for row 0); rows count from 0 over backbone then head")
            sources = [-1]
        inputs = [s if s >= 0 else i + s for s in sources]
        if type(n) is not int or n < 1:
            r.err(path + (1,), f"expected repeats as an integer >= 1, found {describe(n)}")
            n = 1
        if module not in MODULES or not isinstance(args, list):
            if module not in MODULES:
                r.err(path + (2,), f"unknown Ultralytics module {module!r}: convcalc reads {', '.join(MODULES)}",
                      did_you_mean(str(module), MODULES))
            else:
                r.err(path + (3,), f"expected the module's arguments as a list, found {describe(args)}",
                      "e.g. [64, 3, 2] for Conv(c2=64, k=3, s=2)")
            self.ch.append(0)
            self.strides.append(1)
            return
        args = [_arg(a, self.names) for a in args]
        n = max(round(n * self.depth), 1) if n > 1 else n
        c1 = self.ch[inputs[0]] if inputs and inputs[0] >= 0 and i else 3
        stride = self.strides[inputs[0]] if i and inputs else 1
        name = f"model.{i}"
        src = "" if sources == [-1] else f"from: model.{inputs[0]}, "
        line, c2 = self.module(path, str(module), name, src, inputs, c1, n, args)
        if module in ("Conv", "DWConv", "Classify"):
            s = args[2] if len(args) > 2 else 1
            stride *= s if type(s) is int else 1
        elif module == "nn.Upsample":
            stride //= args[1] if len(args) > 1 and type(args[1]) is int and args[1] > 0 else 1
        elif module == "Concat":
            stride = max(self.strides[j] for j in inputs)
        self.stride = max(self.stride, stride)
        self.ch.append(c2)
        self.strides.append(max(stride, 1))
        self.lines.append(line)
        self.r.rows.append((path, i))

    def scaled(self, c2: Any, path: KeyPath) -> int:
        if type(c2) is not int or c2 < 1:
            self.r.err(path, f"expected the output channels (an integer >= 1), found {describe(c2)}")
            return 8
        return _divisible(min(c2, self.max_channels) * self.width)

    def module(self, path: KeyPath, m: str, name: str, src: str, inputs: list[int], c1: int, n: int,
               args: list[Any]) -> tuple[str, int]:
        if m == "Concat":
            if args and args[0] != 1:
                self.r.err(path + (3,), f"Concat along dimension {describe(args[0])}: convcalc concatenates channels "
                           "(dimension 1)")
            return (f"  - concat: {{name: {name}, from: [{', '.join(f'model.{j}' for j in inputs)}]}}\n",
                    sum(self.ch[j] for j in inputs))
        if m == "nn.Upsample":
            scale = args[1] if len(args) > 1 else None
            mode = args[2] if len(args) > 2 else "nearest"
            if (args and args[0] is not None) or type(scale) is not int or mode != "nearest":
                self.r.err(path + (3,), f"expected nn.Upsample arguments [None, factor, 'nearest'], found "
                           f"{describe(args)}")
            return f"  - upsample: {{name: {name}, {src}scale: {_yaml(scale)}, mode: nearest}}\n", c1
        if m == "Detect":
            return self.detect(path, name, inputs, args)
        c2 = args[0] if m == "Classify" else self.scaled(args[0] if args else None, path + (3, 0))
        if m == "Classify" and (type(c2) is not int or c2 < 1):
            self.r.err(path + (3, 0), f"expected Classify's number of classes, found {describe(c2)}")
            c2 = 1
        rest, extra, block = args[1:], "", m
        keys = {"Conv": ("k", "s", "p", "g", "d", "act"), "DWConv": ("k", "s", "d", "act"),
                "Bottleneck": ("shortcut", "g", "k", "e"), "C2f": ("shortcut", "g", "e"), "C3": ("shortcut", "g", "e"),
                "C3k2": ("c3k", "e", "attn", "g", "shortcut"), "SPPF": ("k", "n", "shortcut"), "C2PSA": ("e",),
                "Classify": ("k", "s", "p", "g")}[m]
        if len(rest) > len(keys):
            self.r.err(path + (3,), f"{m} takes at most {len(keys) + 1} arguments ({', '.join(('c2', *keys))}), "
                       f"found {len(rest) + 1}")
        if m == "Classify":
            self.classify = True
        elif m == "DWConv":  # Conv with groups gcd(c1, c2)
            block, extra = "Conv", f", g: {math.gcd(c1, c2)}"
        elif m == "C3k2":
            self.legacy = False
            if self.scale in ("m", "l", "x"):  # parse_model: args[3:4] = [True]
                rest = [True, *rest[1:]]
            if len(rest) > 2 and rest[2]:
                self.r.err(path + (3, 3), "C3k2 with attn (YOLO26's PSA blocks) is not read yet")
        self.used.add(block)
        values = "".join(f", {k}: {_yaml(v)}" for k, v in zip(keys, rest, strict=False) if k != "attn")
        repeats = f", n: {n}" if m in REPEAT_ARG else ""
        call = f"c2: {c2}{repeats}{values}{extra}"
        if m in REPEAT_ARG or n == 1:
            return f"  - {block}: {{name: {name}, {src}{call}}}\n", c2
        return f"  - repeat: {{name: {name}, {src}n: {n}, body: [{block}: {{{call}}}]}}\n", c2

    def detect(self, path: KeyPath, name: str, inputs: list[int], args: list[Any]) -> tuple[str, int]:
        nc = args[0] if args else self.nc
        if type(nc) is not int or nc < 1:
            self.r.err(path + (3, 0), f"expected Detect's number of classes, found {describe(nc)}")
            nc = 1
        ch0 = self.ch[inputs[0]]
        c2, c3 = max(16, ch0 // 4, self.reg_max * 4), max(ch0, min(nc, 100))
        self.used.add("DetectLevel")
        lines = [f"  - sequence:   # Detect: one DetectLevel per input, c2 = max(16, {ch0} // 4, 4 · reg_max), "
                 f"c3 = max({ch0}, min(nc, 100))\n      name: {name}\n      body:\n"]
        for k, j in enumerate(inputs):
            lines.append(f"        - DetectLevel: {{name: \"{k}\", from: model.{j}, nc: {nc}, c2: {c2}, c3: {c3}, "
                         f"reg_max: {self.reg_max}, legacy: {_yaml(self.legacy)}"
                         + (", shared: true" if k else "") + "}\n")
            self.outputs.append(f"{name}/{k}")
        return "".join(lines), 4 + nc


def _yaml(v: Any) -> str:
    """A value as YAML flow text."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml(x) for x in v) + "]"
    if isinstance(v, str):
        return repr(v)
    return repr(v)


__all__ = ["MODULES", "is_ultralytics", "ultralytics_document", "ultralytics_spec_text"]
