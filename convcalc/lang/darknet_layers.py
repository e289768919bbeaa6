"""Darknet's sections → convcalc items, by the rules of AlexeyAB/darknet (``src/parser.c`` ``parse_*`` and the
``*_layer.c`` files they call). Layer i's input is layer i − 1's output; route and shortcut name others by
number (negative: counted back from layer i; else absolute). Each Darknet layer becomes one item named
``<type>_<i>`` (one layer, or a ``sequence`` of its parts: ``conv_3`` is its conv, bn and activation), so
``from:`` and ``outputs:`` refer to Darknet's layers by these names.

* ``[convolutional]``: filters (1), size (1), stride (1; stride_x, stride_y), pad (a switch: padding = size/2,
  whatever ``padding=`` says), padding (0), groups (1), dilation (1; none for size 1: im2col pads
  padding·dilation and the output size ignores dilation, so only 2·padding = size − 1 is consistent),
  batch_normalize or cbn (→ conv without bias, then ``bn``; else a conv with bias), activation (logistic).
* ``[maxpool]``: stride (1; stride_x, stride_y), size (= stride), padding (size − 1, in total):
  out = (w + padding − size)/stride + 1 with windows at offset −padding/2, so padding/2 before and the rest
  after (yolov3-tiny's size=2 stride=1: [[0, 1], [0, 1]]); padded cells never win (−inf).
* ``[upsample]``: stride (2) → nearest ``upsample``; scale (1) multiplies the result (``scale``).
* ``[route]``: layers= → the layer itself (``identity``), or ``concat`` of several; groups (1), group_id (0):
  each input's channels are cut in ``groups`` equal parts and part group_id taken (``slice``), then concat.
* ``[shortcut]``: from= → ``add`` of layer i − 1 and each named layer, then activation (linear). With the same
  height and width Darknet adds the first elements of each: a named layer with more channels gives its first
  ones (``slice``); fewer is an error (a partial add). weights_type (learned weights) is not supported.
* ``[yolo]``, ``[region]``, ``[detection]``, ``[Gaussian_yolo]``, ``[cost]``: no cost; the layer before is an
  output (all in order → ``outputs:``), and the section's number stands for that layer.
* ``[dropout]`` (probability), ``[avgpool]`` (global), ``[softmax]`` (over all C·H·W: flatten first),
  ``[connected]`` (output, batch_normalize, activation; flattens), ``[activation]``,
  ``[batchnorm]``, ``[empty]``/``[silence]`` (identity).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from convcalc.errors import Collector, Diagnostic, KeyPath, Location
from convcalc.lang.darknet import (
    CONV_IGNORED,
    GENERIC,
    HEADS,
    NET_IGNORED,
    PREFIX,
    UNSUPPORTED,
    Pos,
    Reader,
    Section,
    located,
)
from convcalc.lang.hints import did_you_mean

#: A part of a layer: kind, arguments, positions by the path below the kind (``()``: the part itself).
Part = tuple[str, dict[str, Any], dict[KeyPath, Pos]]

#: Darknet's activations with a convcalc kind (``linear``: none).
ACTIVATIONS: dict[str, tuple[str, dict[str, Any]] | None] = {
    "linear": None, "logistic": ("sigmoid", {}), "relu": ("relu", {}), "relu6": ("relu6", {}),
    "leaky": ("leaky_relu", {"slope": 0.1}), "relie": ("leaky_relu", {"slope": 0.01}), "elu": ("elu", {}),
    "tanh": ("tanh", {}), "swish": ("silu", {}), "mish": ("mish", {}), "gelu": ("gelu", {}),
}
_NO_KIND = ("selu", "hard_mish", "loggy", "plse", "hardtan", "lhtan", "ramp", "revleaky", "stair",
            "normalize_channels", "normalize_channels_softmax", "normalize_channels_softmax_maxval")

@dataclass
class Out:
    """What a section gives: its parts (none for a detection head), channels (None: unknown) and whether the
    result is C×1×1 (so a following [connected] or [softmax] needs no flatten)."""

    parts: list[Part]
    channels: int | None
    flat: bool = False


def _part(kind: str, args: dict[str, Any] | None = None, pos: Pos | None = None,
          where: dict[KeyPath, Pos] | None = None) -> Part:
    at = dict(where or {})
    if pos is not None:
        at[()] = pos
    return (kind, dict(args or {}), at)


def _pair(y: int, x: int) -> int | list[int]:
    return y if y == x else [y, x]


class Converter:
    """Walks the sections in order, keeping per Darknet layer its name, channels and flatness."""

    def __init__(self, file: str, problems: Collector) -> None:
        self.file = file
        self.problems = problems
        self.locations: dict[KeyPath, Pos] = {}
        self.layers: list[Any] = []
        self.names: list[str] = []
        self.chans: list[int | None] = []
        self.flat: list[bool] = []
        self.outputs: dict[str, Pos] = {}
        self.in_c: int | None = None
        #: the layers with an error (their channels are unknown, and reported already)
        self.failed: set[int] = set()

    def err(self, pos: Pos, path: KeyPath, message: str, hint: str = "") -> None:
        self.problems.add(Diagnostic(Location(self.file, *pos), path, message, hint))

    # ------------------------------------------------------------ the file

    def run(self, sections: list[Section], name: str) -> dict[str, Any]:
        first = sections[0] if sections else Section("net", 1, 1)
        data: dict[str, Any] = {"convcalc": 2, "name": name}
        for key in ("", "convcalc", "name"):
            self.locations[(key,) if key else ()] = first.pos
        if first.kind in ("net", "network"):
            sections = sections[1:]
            data["input"] = self.net(first)
        else:
            self.err(first.pos, (), f"expected [net] as the first section, found [{first.kind}]",
                     "a Darknet .cfg starts with [net] (width=, height=, channels=), then its layers")
        if not sections and first.kind in ("net", "network"):
            self.err(first.pos, (), "no layers after [net]", "add the network's sections: [convolutional], …")
        for i, sec in enumerate(sections):
            self.layer(sec, i)
        data["layers"] = self.layers
        self.locations[("layers",)] = sections[0].pos if sections else first.pos
        if self.outputs and sections and sections[-1].kind not in HEADS:  # Darknet's last layer is an output too
            self.outputs.setdefault(self.names[-1], sections[-1].pos)
        if self.outputs:
            data["outputs"] = list(self.outputs)
            self.locations[("outputs",)] = next(iter(self.outputs.values()))
            for k, pos in enumerate(self.outputs.values()):
                self.locations[("outputs", k)] = pos
        return data

    def net(self, sec: Section) -> dict[str, Any]:
        r = Reader(sec, self.file, self.problems)
        out: dict[str, Any] = {}
        for key in ("channels", "height", "width"):
            if not r.has(key):
                r.fail(key, f"[net] needs {key}=", "convcalc reads image networks: [net] gives width=, height= "
                                                   "and channels= (e.g. 416, 416, 3)")
            out[key] = r.integer(key, 1)
            self.locations[("input", key)] = r.pos(key)
        self.locations[("input",)] = sec.pos
        r.finish(NET_IGNORED)
        self.in_c = out["channels"] if not r.bad else None
        return out

    def layer(self, sec: Section, i: int) -> None:
        r = Reader(sec, self.file, self.problems)
        self.names.append(sec.name)
        handler = _HANDLERS.get(sec.kind)
        out: Out | None = None
        if sec.kind in HEADS:
            self.head(r, i)
            r.finish(GENERIC | frozenset(HEADS[sec.kind].split()))
            return
        if handler is not None:
            out = handler(self, r, i)
            r.finish(GENERIC | (CONV_IGNORED if sec.kind in ("convolutional", "conv") else frozenset()))
        elif sec.kind in ("net", "network"):
            self.err(sec.pos, (sec.name,), f"a second [{sec.kind}] section", "only the first section is [net]")
        elif sec.kind in UNSUPPORTED:
            self.err(sec.pos, (sec.name,), f"Darknet's [{sec.kind}] is not supported: convcalc has no such layer",
                     f"the sections convcalc reads: {_supported()}")
        elif sec.kind:
            close = did_you_mean(sec.kind, [*PREFIX, *UNSUPPORTED, "net"])
            self.err(sec.pos, (sec.name,), f"unknown section [{sec.kind}]",
                     (close + "; " if close.startswith("did") else "") + f"the sections convcalc reads: {_supported()}")
        if out is None or r.bad:
            self.failed.add(i)
        self.chans.append(None if out is None or r.bad else out.channels)
        self.flat.append(False if out is None else out.flat)
        if out is not None and out.parts:
            self.emit(sec, out.parts)

    def emit(self, sec: Section, parts: list[Part]) -> None:
        path: KeyPath = ("layers", len(self.layers))
        if len(parts) == 1:
            kind, args, where = parts[0]
            item: dict[str, Any] = {kind: {"name": sec.name, **args}}
            at = {(kind, *k): v for k, v in where.items()}
        else:
            item = {"sequence": {"name": sec.name, "body": [{kind: args} for kind, args, _ in parts]}}
            at = {("sequence", "body", j, *(((kind,) + k) if k else ())): v
                  for j, (kind, _, where) in enumerate(parts) for k, v in where.items()}
        self.layers.append(item)
        located(self.locations, path, item, sec.pos, at)

    # ------------------------------------------------------------ helpers

    def prev(self, i: int) -> tuple[int | None, bool]:
        """Channels and flatness of layer i's input."""
        return (self.chans[i - 1], self.flat[i - 1]) if i else (self.in_c, False)

    def ref(self, r: Reader, key: str, v: int, pos: Pos, i: int) -> int | None:
        """The layer a route/shortcut number names, or None (reported) when it is not an earlier layer."""
        j = i + v if v < 0 else v
        if 0 <= j < i:
            return j
        before = f"layers 0 … {i - 1} come before it" if i > 1 else "layer 0 comes before it" if i else \
            "no layer comes before it"
        r.err(pos, (r.sec.name, key), f"layer {v} is out of range: " +
              (f"counted back from layer {i} it is layer {j}" if v < 0 else f"layer {i} can only read earlier layers"),
              f"a negative number counts back from this layer (-1: the layer above), one >= 0 is a layer's number "
              f"(0: the first section after [net]); {before}")
        return None

    def activation(self, r: Reader, default: str) -> Part | None:
        name = r.text("activation", default)
        if name in ACTIVATIONS:
            act = ACTIVATIONS[name]
            return None if act is None else _part(act[0], act[1], r.pos("activation"))
        if name in _NO_KIND:
            r.fail("activation", f"Darknet's activation {name!r} is not supported: convcalc has no such kind",
                   f"the activations convcalc reads: {', '.join(ACTIVATIONS)}")
        else:
            close = did_you_mean(name, ACTIVATIONS)
            r.fail("activation", f"unknown activation {name!r}",
                   close if close.startswith("did") else f"the activations convcalc reads: {', '.join(ACTIVATIONS)}")
        return None

    def head(self, r: Reader, i: int) -> None:
        if not i:
            r.err(r.sec.pos, (r.sec.name,), f"[{r.sec.kind}] needs a layer before it", "it reads the layer above")
            self.failed.add(i)
            self.chans.append(None)
            self.flat.append(False)
            return
        self.names[i] = self.names[i - 1]
        self.chans.append(self.chans[i - 1])
        self.flat.append(self.flat[i - 1])
        self.outputs.setdefault(self.names[i - 1], r.sec.pos)

    # ------------------------------------------------------------ the sections

    def conv(self, r: Reader, i: int) -> Out:
        filters, size, groups = r.integer("filters", 1), r.integer("size", 1), r.integer("groups", 1)
        stride = r.integer("stride", 1)
        sx, sy = r.integer("stride_x", stride), r.integer("stride_y", stride)
        dilation = r.integer("dilation", 1)
        if size == 1:
            dilation = 1  # parse_convolutional: no dilation for a 1×1 kernel
        pad, padding = r.flag("pad"), r.integer("padding", 0, low=0)
        if pad:
            padding = size // 2
        bn = r.flag("batch_normalize") | r.flag("cbn")
        r.unsupported(("antialiasing", "binary", "xnor", "bin_output", "sway", "rotate", "stretch", "stretch_sway",
                       "share_index"), "convcalc counts plain convolutions (no blur, binary, deformable or shared "
                                       "weights)")
        if dilation > 1 and 2 * padding != size - 1:
            r.fail("dilation", f"dilation={dilation} with size={size} and padding={padding} is not supported",
                   "Darknet pads padding·dilation but computes the output size without dilation; the two agree "
                   "only when 2·padding = size − 1 (pad=1 with an odd size)")
        args: dict[str, Any] = {"out": filters, "kernel": size, "stride": _pair(sy, sx)}
        where: dict[KeyPath, Pos] = {("out",): r.pos("filters"), ("kernel",): r.pos("size"),
                                     ("stride",): r.pos("stride_x" if r.has("stride_x") else "stride")}
        if padding:
            args["padding"] = padding * dilation
            where[("padding",)] = r.pos("pad" if pad else "padding")
        for key, v in (("dilation", dilation), ("groups", groups)):
            if v != 1:
                args[key] = v
                where[(key,)] = r.pos(key)
        args["bias"] = not bn
        where[("bias",)] = r.pos("batch_normalize" if r.has("batch_normalize") else "cbn")
        parts = [_part("conv", args, None, where)]
        if bn:
            parts.append(_part("bn", {}, r.pos("batch_normalize" if r.has("batch_normalize") else "cbn")))
        act = self.activation(r, "logistic")
        return Out(parts + ([act] if act else []), filters)

    def maxpool(self, r: Reader, i: int) -> Out:
        stride = r.integer("stride", 1)
        sx, sy = r.integer("stride_x", stride), r.integer("stride_y", stride)
        size = r.integer("size", stride)
        padding = r.integer("padding", size - 1, low=0)
        r.unsupported(("maxpool_depth", "antialiasing"), "convcalc counts a plain max pool over each channel")
        r.ignore("out_channels", "maxpool_zero_nonmax")
        args: dict[str, Any] = {"kernel": size, "stride": _pair(sy, sx)}
        where: dict[KeyPath, Pos] = {("kernel",): r.pos("size"),
                                     ("stride",): r.pos("stride_x" if r.has("stride_x") else "stride")}
        if padding - padding // 2 > size // 2:
            r.fail("padding" if r.has("padding") else "size", f"padding={padding} with size={size} is not supported",
                   f"convcalc's max pool pads at most size/2 on a side: padding <= {2 * (size // 2)} here")
        if padding:
            side = [padding // 2, padding - padding // 2]
            args["padding"] = [side, list(side)]
            where[("padding",)] = r.pos("padding")
        return Out([_part("maxpool", args, None, where)], self.prev(i)[0])

    def upsample(self, r: Reader, i: int) -> Out:
        stride = r.integer("stride", 2, low=None)
        if stride < 1:
            r.fail("stride", f"stride={stride} is not supported" if stride < 0 else "expected an integer >= 1, "
                   "found 0", "a negative stride is Darknet's downsampling, which convcalc does not count"
                   if stride < 0 else "stride is the upsampling factor, e.g. stride=2")
        parts = [_part("upsample", {"scale": max(stride, 1)}, None, {("scale",): r.pos("stride")})]
        scale = r.number("scale", 1.0)
        if scale != 1:
            parts.append(_part("scale", {"value": scale}, r.pos("scale")))
        return Out(parts, self.prev(i)[0])

    def route(self, r: Reader, i: int) -> Out:
        refs = [(j, pos) for v, pos in r.ints("layers") if (j := self.ref(r, "layers", v, pos, i)) is not None]
        groups, gid = r.integer("groups", 1), r.integer("group_id", 0, low=0)
        r.ignore("stream", "wait_stream")
        if gid >= groups:
            r.fail("group_id", f"expected a group_id below groups={groups}, found {gid}",
                   f"group_id numbers the parts from 0 to {groups - 1}")
        if not refs:
            return Out([], None)
        chans = [self.chans[j] for j, _ in refs]
        known = [c for c in chans if c is not None]
        for (j, pos), c in zip(refs, chans, strict=True):
            if c is None and groups > 1 and j not in self.failed:
                r.err(pos, (r.sec.name, "layers"), f"the channels of layer {j} are not known here (it flattens a map)",
                      "convcalc cuts a route's groups from a layer whose channels it knows")
            elif c is not None and c % groups:
                r.fail("groups", f"layer {j} has {c} channels, which groups={groups} does not divide",
                       "Darknet then cuts inside a channel; convcalc cuts whole channels")
        total = sum(known) // groups if len(known) == len(chans) else None
        names = [self.names[j] for j, _ in refs]
        if groups == 1:
            if len(refs) == 1:
                return Out([_part("identity", {"from": names[0]}, None, {("from",): refs[0][1]})], total)
            return Out([_part("concat", {"from": names}, r.pos("layers"),
                              {("from", k): p for k, (_, p) in enumerate(refs)})], total)
        parts = [_part("slice", {"from": n, "start": (c or 0) // groups * gid, "stop": (c or 0) // groups * (gid + 1)},
                       pos, {("start",): r.pos("group_id"), ("stop",): r.pos("groups")})
                 for n, c, (_, pos) in zip(names, chans, refs, strict=True)]
        if len(parts) == 1:
            return Out(parts, total)
        for k, part in enumerate(parts):
            part[1]["name"] = f"part{k}"
        concat = _part("concat", {"from": [f"part{k}" for k in range(len(parts))]}, r.pos("layers"))
        return Out([*parts, concat], total)

    def shortcut(self, r: Reader, i: int) -> Out:
        refs = [(j, pos) for v, pos in r.ints("from") if (j := self.ref(r, "from", v, pos, i)) is not None]
        if r.text("weights_type", "none") != "none":
            r.fail("weights_type", f"weights_type={r.text('weights_type', '')} is not supported",
                   "convcalc counts a plain sum (weights_type=none)")
        norm = r.text("weights_normalization", "none")
        if norm not in ("none", "relu", "avg_relu", "softmax"):
            r.fail("weights_normalization", f"expected none, relu, avg_relu or softmax, found {norm!r}")
        act = self.activation(r, "linear")
        c, _ = self.prev(i)
        if not i:
            r.err(r.sec.pos, (r.sec.name,), "[shortcut] needs a layer before it", "it adds from= to the layer above")
        if not refs or not i:
            return Out([], c)
        parts, inputs = [], [self.names[i - 1]]
        for k, (j, pos) in enumerate(refs):
            cj = self.chans[j]
            if c is not None and cj is not None and cj < c:
                r.err(pos, (r.sec.name, "from"), f"layer {j} has {cj} channels, fewer than the {c} of layer {i - 1}",
                      "Darknet then adds it to the first channels only; convcalc's add needs the same channels")
            elif c is not None and cj is not None and cj > c:
                parts.append(_part("slice", {"name": f"from{k}", "from": self.names[j], "stop": c}, pos))
                inputs.append(f"from{k}")
                continue
            inputs.append(self.names[j])
        where: dict[KeyPath, Pos] = {("from", 0): r.sec.pos}
        where.update({("from", k + 1): pos for k, (_, pos) in enumerate(refs)})
        parts.append(_part("add", {"from": inputs}, r.pos("from"), where))
        return Out(parts + ([act] if act else []), c)

    def dropout(self, r: Reader, i: int) -> Out:
        p = r.number("probability", 0.2)
        if not 0 <= p < 1:
            r.fail("probability", f"expected a probability from 0 to below 1, found {p}")
        r.ignore("dropblock", "dropblock_size_rel", "dropblock_size_abs")
        return Out([_part("dropout", {"p": p}, None, {("p",): r.pos("probability")})], *self.prev(i))

    def avgpool(self, r: Reader, i: int) -> Out:
        return Out([_part("global_avgpool")], self.prev(i)[0], True)

    def softmax(self, r: Reader, i: int) -> Out:
        if r.integer("groups", 1) != 1:
            r.fail("groups", "groups other than 1 is not supported", "convcalc's softmax runs over all its inputs")
        r.unsupported(("tree",), "a softmax tree reads another file; convcalc counts one softmax over all inputs")
        r.unsupported(("spatial",), "Darknet's CPU and GPU kernels differ for spatial=1; convcalc counts one "
                                    "softmax over all inputs")
        r.ignore("temperature", "noloss")
        c, flat = self.prev(i)
        return Out([_part("softmax")], c, True) if flat else Out([_part("flatten"), _part("softmax")], None, True)

    def connected(self, r: Reader, i: int) -> Out:
        n, bn = r.integer("output", 1), r.flag("batch_normalize")
        parts = [] if self.prev(i)[1] else [_part("flatten")]
        parts.append(_part("linear", {"out": n, "bias": not bn}, None, {("out",): r.pos("output")}))
        if bn:
            parts.append(_part("bn", {}, r.pos("batch_normalize")))
        act = self.activation(r, "logistic")
        return Out(parts + ([act] if act else []), n, True)

    def active(self, r: Reader, i: int) -> Out:
        act = self.activation(r, "linear")
        return Out([act or _part("identity")], *self.prev(i))

    def batchnorm(self, r: Reader, i: int) -> Out:
        return Out([_part("bn")], *self.prev(i))

    def empty(self, r: Reader, i: int) -> Out:
        return Out([_part("identity")], *self.prev(i))


_HANDLERS: dict[str, Callable[[Converter, Reader, int], Out]] = {
    "convolutional": Converter.conv, "conv": Converter.conv, "maxpool": Converter.maxpool, "max": Converter.maxpool,
    "upsample": Converter.upsample, "route": Converter.route, "shortcut": Converter.shortcut,
    "dropout": Converter.dropout, "avgpool": Converter.avgpool, "avg": Converter.avgpool,
    "softmax": Converter.softmax, "soft": Converter.softmax, "connected": Converter.connected,
    "conn": Converter.connected, "activation": Converter.active, "batchnorm": Converter.batchnorm,
    "empty": Converter.empty, "silence": Converter.empty,
}


def _supported() -> str:
    main = ("convolutional", "maxpool", "route", "shortcut", "upsample", "yolo", "region", "detection",
            "Gaussian_yolo", "cost", "dropout", "avgpool", "softmax", "connected", "activation", "batchnorm", "empty")
    return ", ".join(f"[{k}]" for k in main)
