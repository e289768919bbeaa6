"""Darknet ``.cfg`` files → the equivalent convcalc spec: plain data in a :class:`Document`, every generated value
located in the .cfg, so that every later error (a shape mismatch found by the graph builder too) points into it.

The text is read as Darknet's parser reads it (AlexeyAB/darknet ``src/parser.c``, ``read_cfg``): each line
has its spaces, tabs and carriage returns removed (``strip``); an empty line, or one starting with ``#`` or
``;``, is a comment; ``[type]`` opens a section; anything else is ``key=value`` of the open section. convcalc
also ends a line at ``#`` (a trailing comment). The first section must be ``[net]`` (or ``[network]``); the
sections after it are Darknet's layers, numbered from 0, and each becomes one convcalc item named after its
type and number (``conv_0``, ``maxpool_1``, ``route_9``): the sections' rules are in
:mod:`convcalc.lang.darknet_layers`. Every problem of a file is collected and raised as one ``SpecError``,
each located at the option (``conv_12.size``) or section (``conv_12``) it is about; never a traceback.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convcalc.errors import Collector, Diagnostic, KeyPath, Location, SpecError
from convcalc.lang.hints import did_you_mean
from convcalc.lang.yaml_source import MAX_FILE_BYTES, MAX_INT_DIGITS, Document

#: What Darknet's ``strip`` removes from every line.
_SPACE = frozenset(" \t\r\n")
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
Pos = tuple[int, int]

#: Options every layer takes (parse_network_cfg_custom) and the training settings of [net]: read, not counted.
GENERIC = frozenset("clip onlyforward dont_update burnin_update stopbackward train_only_bn dontload "
                    "dontloadscales learning_rate".split())
NET_IGNORED = frozenset(
    "max_batches batch learning_rate learning_rate_min sgdr_cycle sgdr_mult momentum decay subdivisions "
    "time_steps track augment_speed sequential_subdivisions try_fix_nan weights_reject_freq equidistant_point "
    "badlabels_rejection_percentage num_sigmas_reject_badlabels ema_alpha use_cuda_graph loss_scale "
    "dynamic_minibatch optimized_memory workspace_size_limit_MB adam B1 B2 eps inputs max_crop min_crop flip "
    "blur gaussian_noise mixup cutmix mosaic letter_box mosaic_bound contrastive contrastive_jit_flip "
    "contrastive_color unsupervised label_smooth_eps resize_step attention adversarial_lr max_chart_loss angle "
    "aspect saturation exposure hue power policy burn_in step scale steps scales seq_scales gamma "
    "show_receptive_field".split())
#: The detection heads and the cost layer, with their options (none of them a cost): the layer before is an output.
HEADS = {
    "yolo": "classes num mask max show_details max_delta counters_per_class label_smooth_eps scale_x_y "
            "objectness_smooth new_coords iou_normalizer obj_normalizer cls_normalizer delta_normalizer iou_loss "
            "iou_thresh_kind beta_nms nms_kind jitter resize focal_loss ignore_thresh truth_thresh iou_thresh "
            "random track_history_size sim_thresh dets_for_track dets_for_show track_ciou_norm embedding_layer "
            "map anchors",
    "Gaussian_yolo": "classes max num mask max_delta counters_per_class label_smooth_eps scale_x_y "
                     "objectness_smooth uc_normalizer iou_normalizer obj_normalizer cls_normalizer delta_normalizer "
                     "iou_loss iou_thresh_kind beta_nms nms_kind yolo_point jitter resize ignore_thresh "
                     "truth_thresh iou_thresh random map anchors",
    "region": "coords classes num max log sqrt softmax focal_loss jitter resize rescore thresh classfix absolute "
              "random coord_scale object_scale noobject_scale mask_scale class_scale bias_match tree map anchors",
    "detection": "coords classes rescore num side softmax sqrt max coord_scale forced object_scale "
                 "noobject_scale class_scale jitter resize random reorg",
    "cost": "type scale ratio",
}
#: [convolutional] options that change nothing at inference (assisted_excitation: training only)
CONV_IGNORED = frozenset("flipped dot angle grad_centr reverse coordconv stream wait_stream "
                         "assisted_excitation".split())
#: Darknet's section names (with their aliases) → the prefix of the layers' names.
PREFIX = {"convolutional": "conv", "conv": "conv", "maxpool": "maxpool", "max": "maxpool", "route": "route",
          "shortcut": "shortcut", "upsample": "upsample", "dropout": "dropout", "avgpool": "avgpool",
          "avg": "avgpool", "softmax": "softmax", "soft": "softmax", "connected": "connected", "conn": "connected",
          "activation": "activation", "batchnorm": "batchnorm", "empty": "empty", "silence": "silence",
          "yolo": "yolo", "Gaussian_yolo": "gaussian_yolo", "region": "region", "detection": "detection",
          "cost": "cost"}
#: Darknet's other sections, which convcalc has no kind for.
UNSUPPORTED = ("local", "crop", "crnn", "rnn", "gru", "lstm", "conv_lstm", "history", "reorg", "reorg3d",
               "local_avg", "local_avgpool", "lrn", "normalization", "contrastive", "scale_channels", "sam",
               "implicit")


def layer_name(kind: str, index: int) -> str:
    """The name of Darknet's layer ``index``, a ``[kind]`` section: ``conv_12``."""
    return f"{PREFIX.get(kind) or re.sub(r'[^a-z0-9_]', '_', kind.lower()) or 'section'}_{index}"


@dataclass
class Option:
    """One ``key=value`` line of a section, whitespace removed as Darknet does."""

    key: str
    value: str
    line: int
    col: int
    #: the column of each character of ``value`` in the line
    cols: list[int]
    used: bool = False

    @property
    def pos(self) -> Pos:
        return (self.line, self.cols[0])


@dataclass
class Section:
    """One ``[type]`` section and its options (``index``: Darknet's layer number, -1 for [net])."""

    kind: str
    line: int
    col: int
    options: dict[str, Option] = field(default_factory=dict)
    index: int = -1
    name: str = ""

    @property
    def pos(self) -> Pos:
        return (self.line, self.col)


class Reader:
    """The options of one section, read as Darknet's ``option_find_*`` read them (strictly: a number must be
    a number). A problem is reported once, located at its value, and the default is returned in its place."""

    def __init__(self, sec: Section, file: str, problems: Collector) -> None:
        self.sec = sec
        self.file = file
        self.problems = problems
        self.asked: set[str] = set()
        self.bad = False

    def err(self, pos: Pos, path: KeyPath, message: str, hint: str = "") -> None:
        self.bad = True
        self.problems.add(Diagnostic(Location(self.file, *pos), path, message, hint))

    def opt(self, key: str) -> Option | None:
        self.asked.add(key)
        o = self.sec.options.get(key)
        if o is not None:
            o.used = True
        return o

    def fail(self, key: str, message: str, hint: str = "") -> None:
        o = self.sec.options.get(key)
        self.err(o.pos if o is not None else self.sec.pos, (self.sec.name, key), message, hint)

    def pos(self, key: str) -> Pos:
        o = self.sec.options.get(key)
        return o.pos if o is not None else self.sec.pos

    def ignore(self, *keys: str) -> None:
        """Options Darknet reads that change nothing convcalc counts."""
        for key in keys:
            self.opt(key)

    def has(self, key: str) -> bool:
        return self.opt(key) is not None

    def integer(self, key: str, default: int, low: int | None = 1) -> int:
        o = self.opt(key)
        if o is None:
            return default
        v = self._int(o.value, o.pos, key, low)
        return default if v is None else v

    def _int(self, text: str, pos: Pos, key: str, low: int | None) -> int | None:
        want = f"an integer >= {low}" if low is not None else "an integer"
        if not _INT.fullmatch(text):
            self.err(pos, (self.sec.name, key), f"expected {want}, found {_shown(text)}")
            return None
        if len(text.lstrip("+-")) > MAX_INT_DIGITS:
            self.err(pos, (self.sec.name, key), f"expected an integer of at most {MAX_INT_DIGITS} digits, found "
                                                f"{_shown(text)}", "no network needs numbers this large")
            return None
        v = int(text)
        if low is not None and v < low:
            self.err(pos, (self.sec.name, key), f"expected {want}, found {v}")
            return None
        return v

    def flag(self, key: str) -> bool:
        """An integer used as a switch (``pad=1``): any value but 0 turns it on, as in C."""
        return self.integer(key, 0, low=None) != 0

    def number(self, key: str, default: float) -> float:
        o = self.opt(key)
        if o is None:
            return default
        if not _FLOAT.fullmatch(o.value) or not math.isfinite(float(o.value)):
            self.err(o.pos, (self.sec.name, key), f"expected a number, found {_shown(o.value)}")
            return default
        return float(o.value)

    def text(self, key: str, default: str) -> str:
        o = self.opt(key)
        return default if o is None else o.value

    def ints(self, key: str) -> list[tuple[int, Pos]]:
        """A required comma-separated list of integers (``layers=-1,61``), each with its position."""
        o = self.opt(key)
        if o is None:
            self.fail(key, f"[{self.sec.kind}] needs {key}=", "e.g. " + ("layers=-1,-4" if key == "layers" else
                                                                      "from=-3"))
            return []
        out: list[tuple[int, Pos]] = []
        start = 0
        for part in o.value.split(","):
            pos = (o.line, o.cols[min(start, len(o.cols) - 1)])
            v = self._int(part, pos, key, None) if part else None
            if not part:
                self.err(pos, (self.sec.name, key), f"expected layer numbers separated by commas, found "
                                                    f"{_shown(o.value)}", "e.g. layers=-1,61")
            if v is not None:
                out.append((v, pos))
            start += len(part) + 1
        return out

    def unsupported(self, keys: tuple[str, ...], what: str) -> None:
        """Options that change the layer in a way convcalc cannot count: an error unless absent or 0."""
        for key in keys:
            o = self.opt(key)
            if o is not None and o.value not in ("0", "-1000000000"):
                self.fail(key, f"{key}={o.value} is not supported", what)

    def finish(self, ignored: frozenset[str]) -> None:
        """Every option neither read nor ignored is an error, with the closest name this section takes."""
        for o in self.sec.options.values():
            if not o.used and o.key not in ignored:
                known = self.asked | ignored
                self.err((o.line, o.col), (self.sec.name, o.key), f"unknown option {o.key!r} for [{self.sec.kind}]",
                         did_you_mean(o.key, known))


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:20] + "…")


def looks_like_darknet(text: str) -> bool:
    """Whether the first line that is not blank or a comment is ``[net]`` or ``[network]``."""
    start = 1 if text.startswith("\ufeff") else 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line = "".join(c for c in text[start:end] if c not in _SPACE)
        if line and line[0] not in "#;":
            return line.split("#", 1)[0] in ("[net]", "[network]")
        start = end + 1
    return False


def _fail(file: str, pos: Pos, message: str, hint: str = "") -> SpecError:
    return SpecError([Diagnostic(Location(file, *pos), (), message, hint)])


def darknet_bytes(raw: bytes, file: str, base_dir: Path | None = None) -> Document:
    """:func:`darknet_document` of a file's bytes: a binary file or text that is not UTF-8 is an error."""
    if len(raw) > MAX_FILE_BYTES:
        raise _fail(file, (1, 1), f"file is larger than the limit of {MAX_FILE_BYTES} bytes")
    if b"\x00" in raw:
        raise _fail(file, (1, 1), "is a binary file, not a Darknet .cfg")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _fail(file, (line, col), "is not UTF-8 text", "save the file as UTF-8 (or ASCII)") from None
    return darknet_document(text, file, base_dir)


def darknet_document(text: str, file: str, base_dir: Path | None = None) -> Document:
    """The convcalc spec equivalent to a Darknet .cfg (``convcalc: 2``, ``name``, ``input``, ``layers``,
    ``outputs``), with the location in the .cfg of every generated value. Raises :class:`SpecError` with
    every problem of the file."""
    from convcalc.lang.darknet_layers import Converter

    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise _fail(file, (1, 1), f"file is larger than the limit of {MAX_FILE_BYTES} bytes")
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise _fail(file, (1, 1), "is a binary file, not a Darknet .cfg")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        raise _fail(file, (line, exc.start - (text.rfind("\n", 0, exc.start) + 1) + 1),
                    "is not valid Unicode text (a lone surrogate)") from None
    problems = Collector()
    sections = _sections(text, file, problems)
    if not sections and not problems:
        raise _fail(file, (1, 1), "the file is empty", "a Darknet .cfg starts with [net] (width=, height=, "
                                                       "channels=), then one section per layer")
    stem = Path(file).stem if file and not file.startswith("<") else ""
    conv = Converter(file, problems)
    data = conv.run(sections, stem or "darknet")
    problems.items.sort(key=lambda d: (d.location.line, d.location.col))  # in the file's order
    problems.raise_if_any(SpecError)
    doc = Document(file=file, data=data, locations=conv.locations, base_dir=base_dir)
    doc.source_format = "darknet"
    return doc


def _sections(text: str, file: str, problems: Collector) -> list[Section]:
    """The sections of the text (``read_cfg``), each with its options; a malformed line is reported."""
    out: list[Section] = []
    current: Section | None = None
    for n, raw in enumerate(text.split("\n"), 1):
        chars = [(c, i) for i, c in enumerate(raw, 1) if c not in _SPACE]
        if not chars or chars[0][0] in "#;":
            continue
        cut = next((k for k, (c, _) in enumerate(chars) if c == "#"), len(chars))
        chars = chars[:cut]
        line = "".join(c for c, _ in chars)
        pos = (n, chars[0][1])
        if line[0] == "[":
            # a section all the same (Darknet numbers it), of no kind: its options raise no second error
            current = Section(line[1:-1], *pos)
            if len(line) < 3 or line[-1] != "]" or "]" in line[1:-1] or "[" in line[1:]:
                current.kind = ""
                problems.add(Diagnostic(Location(file, *pos), (), f"expected a section header such as "
                                        f"[convolutional], found {_shown(line)}", "write the type in brackets "
                                        "on a line of its own"))
            net = bool(out) and out[0].kind in ("net", "network")
            current.index = len(out) - net
            current.name = "net" if not out and current.kind in ("net", "network") else \
                layer_name(current.kind, current.index)
            out.append(current)
            continue
        if current is None:
            problems.add(Diagnostic(Location(file, *pos), (), f"expected a section header such as [net], found "
                                    f"{_shown(line)}", "a Darknet .cfg starts with [net]; every option belongs "
                                    "to the section above it"))
            continue
        key, eq, value = line.partition("=")
        if not eq or not key or not value:
            problems.add(Diagnostic(Location(file, *pos), (current.name, key) if key else (current.name,),
                                    f"expected key=value, found {_shown(line)}", "e.g. filters=64"))
            continue
        first = current.options.get(key)
        if first is not None:
            problems.add(Diagnostic(Location(file, *pos), (current.name, key), f"duplicate option {key!r} "
                                    f"(first on line {first.line})", "Darknet uses the first one; remove one"))
            continue
        current.options[key] = Option(key, value, n, pos[1], [c for _, c in chars[len(key) + 1:]])
    return out


def located(locations: dict[KeyPath, Pos], path: KeyPath, value: Any, pos: Pos,
            args: dict[KeyPath, Pos] | None = None) -> None:
    """Locate ``value`` at ``path`` and, recursively, each of its keys and items (at ``pos`` unless ``args``,
    keyed by the path below ``path``, names a closer position)."""
    here = (args or {}).get((), pos)
    locations[path] = here
    if isinstance(value, dict):
        for k, v in value.items():
            located(locations, path + (k,), v, here, _below(args, k))
    elif isinstance(value, list):
        for k, v in enumerate(value):
            located(locations, path + (k,), v, here, _below(args, k))


def _below(args: dict[KeyPath, Pos] | None, key: str | int) -> dict[KeyPath, Pos] | None:
    if not args:
        return None
    sub = {p[1:]: v for p, v in args.items() if p and p[0] == key}
    return sub or None


