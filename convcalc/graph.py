"""Blocks -> nodes in topological order, with shape, cost and receptive field computed per node.

The walk expands templates and repeats, checks every layer's arguments, names every node by its
``/``-joined scope path and computes, node by node (a dynamic programme over the topological order,
linear in the number of edges): output shape, cost and the receptive field (local, and full with global
side paths such as squeeze-excitation gates). All problems of a model are collected in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from convcalc.costs import COSTS, ZERO, Cost, add_cost
from convcalc.errors import Collector, Diagnostic, KeyPath, Location, SpecError
from convcalc.expr import UNKNOWN, ExprError, Unknown, interpolate_text, is_expression, substitute
from convcalc.hints import meant_arguments, misindented_layer, paths_hint, unknown_argument, unknown_kind
from convcalc.layers import KINDS, ArgError, Layer, Shape, boolean, describe, non_negative, positive
from convcalc.receptive import DATA_DEPENDENT, GLOBAL_GATES, RECEPTIVE, RF, START, misalignment, union, whole_input
from convcalc.shapes import SHAPES, LayerShapeError
from convcalc.spec import NO_INPUT, ModelSpec, Spec, Template, did_you_mean
from convcalc.yaml_source import MAX_INT, MAX_INT_DIGITS

#: Most nodes one model may expand to (repeat, dense and templates multiply). The same limit bounds
#: the walk (every layer, block and template call visited, every repeat/dense iteration) and the
#: connections (inputs of every layer and merge; a dense block of n iterations makes n·(n+1)/2).
MAX_NODES = 2_000_000
#: Deepest chain of template calls.
MAX_TEMPLATE_DEPTH = 64
#: Deepest nesting of layers in blocks and template bodies, counted across template calls.
MAX_NESTING = 100

BLOCK_KINDS = ("sequence", "residual", "branches", "dense", "repeat", "side")
_BLOCK_KEYS: dict[str, tuple[str, ...]] = {
    "sequence": ("name", "body"),
    "residual": ("name", "body", "shortcut", "projection", "when"),
    "branches": ("name", "paths", "merge", "split"),
    "dense": ("name", "n", "body", "label"),
    "repeat": ("name", "n", "body", "label"),
    "side": ("name", "body", "training_only"),
}
MERGE_KINDS = ("add", "concat")


@dataclass(slots=True)
class Node:
    """One node of the expanded graph (a layer, a merge, a split, or the input)."""

    index: int
    name: str
    kind: str
    inputs: tuple[int, ...]
    shape: Shape
    cost: Cost
    rf: RF
    rf_full: RF
    location: Location
    layer: Layer | None = None
    training_only: bool = False
    notes: list[str] = field(default_factory=list)
    data_dependent: bool = False


@dataclass(frozen=True)
class BlockEnd:
    """A named block (or template call) and the node holding its output."""

    name: str
    kind: str
    node: int
    location: Location


@dataclass
class Graph:
    name: str
    description: str
    input: Shape
    batch: int
    nodes: list[Node]
    blocks: list[BlockEnd]
    output: int

    @property
    def layers(self) -> list[Node]:
        """Every node but the input."""
        return self.nodes[1:]


class _Scope:
    """Names within one named block: user names are reserved up front, automatic ones skip them."""

    def __init__(self, prefix: str, reserved: Iterable[str]) -> None:
        self.prefix = prefix
        self.taken: set[str] = set()
        self.reserved = set(reserved)
        self.counters: dict[str, int] = {}

    def auto(self, kind: str) -> str:
        n = self.counters.get(kind, 0)
        while True:
            n += 1
            name = f"{kind}_{n}" if kind[-1].isdigit() else f"{kind}{n}"
            if name not in self.taken and name not in self.reserved:
                break
        self.counters[kind] = n
        self.taken.add(name)
        return self.prefix + name

    def claim(self, name: str) -> str | None:
        if name in self.taken:
            return None
        self.taken.add(name)
        return self.prefix + name



def _declared(items: Any, inside: bool = False) -> set[str]:
    """User-given names that land directly in a scope (looking through unnamed blocks).

    With ``inside``, the single item is the block that owns the scope: look into it whatever its name.
    """
    out: set[str] = set()
    if not isinstance(items, list):
        return out
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        ((kind, args),) = item.items()
        if not isinstance(args, dict):
            continue
        if isinstance(args.get("name"), str) and not inside:
            out.add(args["name"])
        elif kind in ("sequence", "residual", "branches", "side"):
            for key in ("body", "shortcut", "projection"):
                out |= _declared(args.get(key))
            paths = args.get("paths")
            for path in paths if isinstance(paths, list) else []:
                out |= _declared(path)
    return out


@dataclass
class _Ctx:
    """Where the walk is: template variables, the chain of template calls, training-only flag."""

    env: dict[str, Any]
    calls: tuple[tuple[str, Location], ...] = ()
    training_only: bool = False


class _TooLarge(Exception):
    """The model passed an expansion limit (the diagnostic is already collected): stop walking."""


class _Builder:
    def __init__(self, spec: Spec, model: ModelSpec, errors: Collector) -> None:
        self.spec = spec
        self.doc = spec.doc
        self.model = model
        self.errors = errors
        self.nodes: list[Node] = []
        self.blocks: list[BlockEnd] = []
        self.merges = {"add": 0, "concat": 0}
        self.visits = 0  # layers, blocks and template calls walked, plus repeat/dense iterations
        self.edges = 0  # inputs of all nodes
        self.depth = 0  # nesting of item() calls, across template calls

    # ------------------------------------------------------------ diagnostics

    def err(self, path: KeyPath, message: str, hint: str, ctx: _Ctx) -> None:
        if ctx.calls:
            vias = [f"via {name} at {loc}" for name, loc in reversed(ctx.calls)]
            if len(vias) > 6:  # a runaway chain of calls: the innermost and the outermost ones
                vias = vias[:3] + [f"… {len(vias) - 5} more …"] + vias[-2:]
            via = "; ".join(vias)
            hint = f"{hint} ({via})" if hint else via
        self.errors.add(Diagnostic(self.doc.loc(path), path, message, hint))

    # ------------------------------------------------------------ nodes

    def add_node(self, name: str, kind: str, inputs: tuple[int, ...], shape: Shape, cost: Cost, rf: RF,
                 rf_full: RF, path: KeyPath, ctx: _Ctx, layer: Layer | None = None) -> int:
        if len(self.nodes) >= MAX_NODES:
            self.too_large(path, ctx)
        self.edges += len(inputs)
        if self.edges > MAX_NODES:
            self.too_large(path, ctx, f"the model's layers have more than {MAX_NODES} connections (the limit)")
        node = Node(len(self.nodes), name, kind, inputs, shape, cost, rf, rf_full, self.doc.loc(path),
                    layer, ctx.training_only)
        self.nodes.append(node)
        return node.index

    def too_large(self, path: KeyPath, ctx: _Ctx, message: str = "") -> None:
        """Report an expansion past the limit and stop walking this model."""
        self.err(path, message or f"the model expands to more than {MAX_NODES} layers (the limit)",
                 "reduce repeat counts or the depth of dense blocks", ctx)
        raise _TooLarge

    def visit(self, path: KeyPath, ctx: _Ctx, count: int = 1) -> None:
        self.visits += count
        if self.visits > MAX_NODES:
            self.too_large(path, ctx)

    def min_visits(self, items: Any, seen: frozenset[str] = frozenset()) -> int:
        """A lower bound of the visits one walk of a layer list makes (literal repeat/dense counts
        multiply), so that a repeat too large for the limit is refused before it loops."""
        if not isinstance(items, list):
            return 0
        total = 0
        for item in items:
            total += 1
            if not isinstance(item, dict) or len(item) != 1:
                continue
            ((kind, args),) = item.items()
            if not isinstance(args, dict) or "if" in args:
                continue
            if kind in ("repeat", "dense"):
                n = args.get("n")
                if type(n) is int and n > 0:
                    total += n * (1 + self.min_visits(args.get("body"), seen))
            elif kind in ("sequence", "residual", "side"):
                total += self.min_visits(args.get("body"), seen)
            elif kind == "branches" and isinstance(args.get("paths"), list):
                total += sum(self.min_visits(p, seen) for p in args["paths"])
            elif isinstance(kind, str) and kind in self.spec.templates and kind not in seen:
                total += self.min_visits(self.spec.templates[kind].body, seen | {kind})
            if total > MAX_NODES:
                break
        return total

    def start(self) -> int:
        i = self.model.input
        return self.add_node("input", "input", (), Shape(i.channels, i.height, i.width), ZERO, START, START,
                             self.model.path, _Ctx({}))

    # ------------------------------------------------------------ walking

    def seq(self, items: Any, path: KeyPath, x: int | None, scope: _Scope, ctx: _Ctx,
            fresh: bool = False) -> int | None:
        """Walk a layer list. ``fresh``: the scope was made for this list alone (a template body or a
        repeat/dense iteration), so a sole unnamed template call, repeat or dense in it adds no name segment."""
        if not isinstance(items, list):
            self.err(path, f"expected a list of layers, found {describe(items)}", paths_hint(path, items), ctx)
            return None
        inline = fresh and len(items) == 1
        for i, item in enumerate(items):
            x = self.item(item, path + (i,), x, scope, ctx, inline)
        return x

    def item(self, item: Any, path: KeyPath, x: int | None, scope: _Scope, ctx: _Ctx,
             inline: bool = False) -> int | None:
        self.visit(path, ctx)
        if self.depth >= MAX_NESTING:
            self.err(path, f"blocks nest deeper than {MAX_NESTING} levels (the limit, counted across named "
                     "blocks)", "a named block probably calls itself through another block", ctx)
            return None
        self.depth += 1
        try:
            return self._item(item, path, x, scope, ctx, inline)
        finally:
            self.depth -= 1

    def _item(self, item: Any, path: KeyPath, x: int | None, scope: _Scope, ctx: _Ctx,
              inline: bool = False) -> int | None:
        args: Any
        if isinstance(item, str):
            kind, args, argpath = item, {}, path
        elif isinstance(item, dict) and len(item) == 1:
            ((kind, args),) = item.items()
            argpath = path + (kind,)
            if args is None:
                args = {}
            if not isinstance(args, dict):
                self.err(argpath, f"expected the arguments of {kind!r} as a mapping, found {describe(args)}",
                         f"write `- {kind}: {{...}}`", ctx)
                return None
        else:
            found = f"a mapping with {len(item)} keys" if isinstance(item, dict) else describe(item)
            templates = {n: tuple(t.params) for n, t in self.spec.templates.items()}
            self.err(path, f"expected a layer (a kind name, or a mapping with one key: the kind), found {found}",
                     isinstance(item, dict) and misindented_layer(item, _BLOCK_KEYS, templates) or
                     "write `- conv: {out: 64, kernel: 3}`; put `name:` inside the arguments", ctx)
            return None
        if isinstance(kind, str) and kind.startswith("$"):
            ok, kind = self.sub(kind, path, ctx)
            if not ok:
                return None
            if not isinstance(kind, str):
                self.err(path, f"expected a layer kind name, found {describe(kind)}", "", ctx)
                return None
        if "if" in args:
            ok, cond = self.sub(args["if"], argpath + ("if",), ctx)
            if not ok:
                return None
            if not isinstance(cond, (bool, int)):
                self.err(argpath + ("if",), f"expected a condition (true/false or an expression), found "
                         f"{describe(cond)}", 'e.g. if: "${t != 1}"', ctx)
                return None
            if not cond:
                return x
            args = {k: v for k, v in args.items() if k != "if"}
        if kind in KINDS:
            return self.layer(kind, args, argpath, x, scope, ctx)
        if kind in BLOCK_KINDS:
            return self.block(kind, args, argpath, x, scope, ctx, inline)
        if kind in self.spec.templates:
            return self.call(self.spec.templates[kind], args, argpath, x, scope, ctx, inline)
        self.err(path, f"unknown layer kind {kind!r}", unknown_kind(kind, args, BLOCK_KINDS, self.spec.templates),
                 ctx)
        return None

    def sub(self, value: Any, path: KeyPath, ctx: _Ctx, interpolate: bool = False) -> tuple[bool, Any]:
        try:
            if interpolate and isinstance(value, str) and "${" in value and not is_expression(value):
                return True, interpolate_text(value, ctx.env)
            return True, substitute(value, ctx.env)
        except Unknown:  # needs a shape that an earlier error left unknown: that error is reported
            return False, None
        except ExprError as exc:
            self.err(path, str(exc), "", ctx)
            return False, None

    def name_of(self, args: dict[str, Any], path: KeyPath, scope: _Scope, kind: str, ctx: _Ctx) -> str:
        if "name" in args:
            ok, name = self.sub(args["name"], path + ("name",), ctx, interpolate=True)
            if ok and isinstance(name, int) and not isinstance(name, bool):
                name = str(name)
            if ok and isinstance(name, str) and name and "/" not in name:
                full = scope.claim(name)
                if full is not None:
                    return full
                self.err(path + ("name",), f"duplicate name {name!r} in this block",
                         "names must be unique within a block", ctx)
            elif ok:
                self.err(path + ("name",), f"expected a name (text without '/'), found {describe(name)}", "", ctx)
        return scope.auto(kind)

    def layer(self, kind: str, args: dict[str, Any], path: KeyPath, x: int | None, scope: _Scope,
              ctx: _Ctx) -> int | None:
        ks = KINDS[kind]
        values: dict[str, Any] = {}
        ok = True
        for key, raw in args.items():
            if key == "name":
                continue
            if key not in ks.params:
                self.err(path + (key,), f"unknown argument {key!r} for {kind}", unknown_argument(key, kind, ks.params),
                         ctx)
                ok = False
                continue
            good, v = self.sub(raw, path + (key,), ctx)
            if not good:
                ok = False
                continue
            try:
                values[key] = ks.params[key](v)
            except ArgError as exc:
                self.err(path + (key,), str(exc), exc.hint, ctx)
                ok = False
        typos = meant_arguments(args, ks.params)
        for req in ks.required:
            if req not in args and req not in typos:  # a misspelling was reported already
                self.err(path, f"{kind} needs {req!r}", f"e.g. `- {kind}: {{{req}: ...}}`", ctx)
                ok = False
        if kind == "se" and ("reduction" in args) == ("width" in args):
            self.err(path, "se needs exactly one of 'reduction' or 'width'", "e.g. `- se: {reduction: 16}`", ctx)
            ok = False
        if ks.conv_like and "bias" not in values and self.spec.defaults.bias is not None:
            values["bias"] = self.spec.defaults.bias
        if (ks.conv_like or ks.pool_like) and "padding" not in values and "padding" in ks.params \
                and self.spec.defaults.padding is not None:
            values["padding"] = self.spec.defaults.padding
        name = self.name_of(args, path, scope, kind, ctx)
        if not ok or x is None:
            return None
        layer = Layer(kind, name, ks.args(**values))
        return self.apply(layer, x, path, ctx)

    def apply(self, layer: Layer, x: int, path: KeyPath, ctx: _Ctx) -> int | None:
        src = self.nodes[x]
        try:
            shape = SHAPES[layer.kind](layer, src.shape)
        except LayerShapeError as exc:
            self.err(path, f"layer {layer.name!r} ({layer.kind}) on input {src.shape}: {exc}", exc.hint, ctx)
            return None
        cost = COSTS[layer.kind](layer, src.shape, shape)
        ops = RECEPTIVE[layer.kind](layer, src.shape)
        rf = (src.rf[0].apply(ops[0]), src.rf[1].apply(ops[1]))
        full = rf if src.rf_full is src.rf else (src.rf_full[0].apply(ops[0]), src.rf_full[1].apply(ops[1]))
        if layer.kind in GLOBAL_GATES:
            g = whole_input(layer, src.shape)
            full = tuple(  # type: ignore[assignment]
                replace(union([full[ax], src.rf_full[ax].apply(g[ax])]), jump=full[ax].jump) for ax in (0, 1))
        big = _oversized(shape, full)
        if big:
            self.err(path, f"layer {layer.name!r} ({layer.kind}) on input {src.shape}: {big}",
                     "convcalc counts exactly, but no network needs sizes this large", ctx)
            return None
        idx = self.add_node(layer.name, layer.kind, (x,), shape, cost, rf, full, path, ctx, layer)
        node = self.nodes[idx]
        if layer.kind in DATA_DEPENDENT or src.data_dependent:
            node.data_dependent = True
        if layer.kind == "adaptive_avgpool" and (src.shape.h % shape.h or src.shape.w % shape.w):
            node.notes.append(f"adaptive pooling {src.shape.h}×{src.shape.w} → {shape.h}×{shape.w}: the windows "
                              "vary in size; receptive field is nominal (largest window, stride ⌊in/out⌋)")
        return idx

    def merge(self, kind: str, name: str | None, inputs: list[int], path: KeyPath, ctx: _Ctx,
              scope: _Scope) -> int | None:
        if name is None:
            name = scope.auto(kind)
        shapes = [self.nodes[i].shape for i in inputs]
        if kind == "add":
            if len(set(shapes)) != 1:
                names = ", ".join(f"{self.nodes[i].name!r} {self.nodes[i].shape}" for i in inputs)
                self.err(path, f"add {name!r} needs equal shapes, found {names}",
                         "use a projection shortcut or match strides and channels", ctx)
                return None
            shape, cost = shapes[0], add_cost(shapes[0], len(inputs))
        else:
            if len({(s.h, s.w) for s in shapes}) != 1:
                names = ", ".join(f"{self.nodes[i].name!r} {self.nodes[i].shape}" for i in inputs)
                self.err(path, f"concat {name!r} needs equal heights and widths, found {names}",
                         "match strides and padding across the branches", ctx)
                return None
            shape, cost = Shape(sum(s.c for s in shapes), shapes[0].h, shapes[0].w), ZERO
            if shape.c > MAX_INT:
                self.err(path, f"concat {name!r} has {shape.c} channels, more than {MAX_INT_DIGITS} digits (the "
                         "limit)", "convcalc counts exactly, but no network needs sizes this large", ctx)
                return None
        rfs: list[RF] = [self.nodes[i].rf for i in inputs]
        fulls: list[RF] = [self.nodes[i].rf_full for i in inputs]
        notes: list[str] = []
        for ax, axis in enumerate(("height", "width")):
            jumps = {r[ax].jump for r in rfs}
            if len(jumps) != 1:
                detail = ", ".join(f"{self.nodes[i].name!r} jump {_num(self.nodes[i].rf[ax].jump)}" for i in inputs)
                self.err(path, f"{kind} {name!r} merges different effective strides on the {axis} axis: {detail}",
                         "the branches must downsample by the same factor", ctx)
                return None
            off = misalignment([r[ax] for r in rfs])
            if off:
                centres = ", ".join(f"{self.nodes[i].name!r} centre {_num(self.nodes[i].rf[ax].centre)}"
                                    for i in inputs)
                notes.append(f"misaligned on the {axis} axis by {_num(off)} px: {centres}")
        rf = (union([r[0] for r in rfs]), union([r[1] for r in rfs]))
        full = rf if all(self.nodes[i].rf_full is self.nodes[i].rf for i in inputs) else \
            (union([r[0] for r in fulls]), union([r[1] for r in fulls]))
        idx = self.add_node(name, kind, tuple(inputs), shape, cost, rf, full, path, ctx)
        self.nodes[idx].notes.extend(notes)
        self.nodes[idx].data_dependent = any(self.nodes[i].data_dependent for i in inputs)
        return idx

    def split(self, x: int, channels: list[int], scope: _Scope, path: KeyPath, ctx: _Ctx) -> list[int]:
        src = self.nodes[x]
        out = []
        for c in channels:
            idx = self.add_node(scope.auto("split"), "split", (x,), Shape(c, src.shape.h, src.shape.w), ZERO,
                                src.rf, src.rf_full, path, ctx)
            self.nodes[idx].data_dependent = src.data_dependent
            out.append(idx)
        return out

    # ------------------------------------------------------------ blocks

    def block(self, kind: str, args: dict[str, Any], path: KeyPath, x: int | None, scope: _Scope,
              ctx: _Ctx, inline: bool = False) -> int | None:
        allowed = _BLOCK_KEYS[kind]
        for key in args:
            if key not in allowed:
                self.err(path + (key,), f"unknown key {key!r} for {kind}", did_you_mean(key, allowed), ctx)
        named = "name" in args
        segment = named or (kind in ("repeat", "dense") and not inline) or kind == "side"
        full = self.name_of(args, path, scope, kind, ctx) if segment else None
        inner = _Scope(full + "/", _declared([{kind: args}], True)) if full is not None else scope
        out = getattr(self, "_" + kind)(args, path, x, inner, ctx, full, scope)
        if named and full is not None and out is not None:
            self.blocks.append(BlockEnd(full, kind, out, self.doc.loc(path)))
        return out  # type: ignore[no-any-return]

    def count(self, args: dict[str, Any], path: KeyPath, ctx: _Ctx) -> int | None:
        if "n" not in args:
            self.err(path, "missing key 'n' (how many times)", "e.g. n: 3", ctx)
            return None
        ok, v = self.sub(args["n"], path + ("n",), ctx)
        if not ok:
            return None
        try:
            return non_negative(v)
        except ArgError as exc:
            self.err(path + ("n",), str(exc), exc.hint, ctx)
            return None

    def label(self, args: dict[str, Any], path: KeyPath, k: int, ctx: _Ctx) -> str:
        """The name segment of iteration k: ``label`` (e.g. ``denselayer${i + 1}``) or k."""
        if "label" not in args:
            return str(k)
        ok, v = self.sub(args["label"], path + ("label",), replace(ctx, env={**ctx.env, "i": k}), interpolate=True)
        if ok and isinstance(v, (str, int)) and not isinstance(v, bool) and str(v) and "/" not in str(v):
            return str(v)
        if ok:
            self.err(path + ("label",), f"expected a name segment (text without '/'), found {describe(v)}", "", ctx)
        return str(k)

    def fits(self, n: int, body: Any, path: KeyPath, ctx: _Ctx, kind: str) -> bool:
        """Refuse, before looping, a repeat or dense block that must pass the expansion limit."""
        need = n * (1 + self.min_visits(body))
        if self.visits + need > MAX_NODES:
            self.err(path + ("n",), f"{kind} n: {n} expands to more than {MAX_NODES} layers (the limit)",
                     "reduce n; the body is expanded once per iteration", ctx)
            return False
        if kind == "dense" and self.edges + n * (n + 1) // 2 > MAX_NODES:
            self.err(path + ("n",), f"dense n: {n} makes {n * (n + 1) // 2} connections, more than the limit "
                     f"of {MAX_NODES}", "each iteration takes the concat of all earlier outputs", ctx)
            return False
        return True

    def body(self, args: dict[str, Any], path: KeyPath, ctx: _Ctx) -> Any:
        if "body" not in args:
            self.err(path, "missing key 'body' (a list of layers)", "", ctx)
            return None
        return args["body"]

    def _sequence(self, args: dict[str, Any], path: KeyPath, x: int | None, scope: _Scope, ctx: _Ctx,
                  full: str | None, outer: _Scope) -> int | None:
        body = self.body(args, path, ctx)
        return None if body is None else self.seq(body, path + ("body",), x, scope, ctx)

    def _residual(self, args: dict[str, Any], path: KeyPath, x: int | None, scope: _Scope, ctx: _Ctx,
                  full: str | None, outer: _Scope) -> int | None:
        body = self.body(args, path, ctx)
        y = None if body is None else self.seq(body, path + ("body",), x, scope, ctx)
        when = True
        if "when" in args:
            ok, cond = self.sub(args["when"], path + ("when",), ctx)
            if ok and not isinstance(cond, (bool, int)):
                self.err(path + ("when",), f"expected a condition, found {describe(cond)}", "", ctx)
            when = bool(cond) if ok else False
        if not when:  # no skip connection: the body alone
            return y
        if "shortcut" in args and "projection" in args:
            self.err(path + ("projection",), "give either shortcut or projection, not both",
                     "shortcut: always applied; projection: applied only when the shape changes", ctx)
            return None
        short = x
        if "shortcut" in args:
            short = self.seq(args["shortcut"], path + ("shortcut",), x, scope, ctx)
        elif "projection" in args:
            # walked in any case, so its arguments are checked; built only when the shape changes
            needed = x is not None and y is not None and (
                self.nodes[x].shape != self.nodes[y].shape
                or any(self.nodes[x].rf[ax].jump != self.nodes[y].rf[ax].jump for ax in (0, 1)))
            projected = self.seq(args["projection"], path + ("projection",), x if needed else None, scope, ctx)
            short = projected if needed else x
        if y is None or short is None:
            return None
        return self.merge("add", full, [y, short], path, ctx, outer)

    def _branches(self, args: dict[str, Any], path: KeyPath, x: int | None, scope: _Scope, ctx: _Ctx,
                  full: str | None, outer: _Scope) -> int | None:
        paths = args.get("paths")
        if not isinstance(paths, list) or not paths:
            self.err(path + ("paths",) if "paths" in args else path,
                     f"expected paths: a list of layer lists, found {describe(paths)}",
                     "e.g. paths: [[conv: {out: 64, kernel: 1}], [conv: {out: 64, kernel: 3, padding: 1}]]", ctx)
            return None
        ok, merge = self.sub(args.get("merge", "concat"), path + ("merge",), ctx)
        if ok and merge not in MERGE_KINDS:
            self.err(path + ("merge",), f"expected concat or add, found {describe(merge)}", "", ctx)
            ok = False
        ok2, split = self.sub(args.get("split", False), path + ("split",), ctx)
        inputs: list[int | None] = [x] * len(paths)
        if ok2 and x is not None and split is not False:
            c = self.nodes[x].shape.c
            if split is True:
                if c % len(paths):
                    self.err(path + ("split",), f"cannot split {c} channels equally into {len(paths)} paths", "", ctx)
                    return None
                parts = [c // len(paths)] * len(paths)
            elif isinstance(split, list) and len(split) == len(paths):
                try:
                    parts = [positive(v) for v in split]
                except ArgError as exc:
                    self.err(path + ("split",), str(exc), exc.hint, ctx)
                    return None
                if sum(parts) != c:
                    self.err(path + ("split",), f"split sizes sum to {sum(parts)}, the input has {c} channels", "", ctx)
                    return None
            else:
                self.err(path + ("split",), f"expected true, false or a list of {len(paths)} channel counts, "
                         f"found {describe(split)}", "", ctx)
                return None
            inputs = list(self.split(x, parts, scope, path, ctx))
        outs: list[int | None] = []
        for i, (p, xin) in enumerate(zip(paths, inputs, strict=True)):
            outs.append(self.seq(p, path + ("paths", i), xin, scope, ctx) if p != [] else xin)
        if not ok or not ok2 or any(o is None for o in outs):
            return None
        return self.merge(str(merge), full, [o for o in outs if o is not None], path, ctx, outer)

    def _dense(self, args: dict[str, Any], path: KeyPath, x: int | None, scope: _Scope, ctx: _Ctx,
               full: str | None, outer: _Scope) -> int | None:
        n = self.count(args, path, ctx)
        body = self.body(args, path, ctx)
        if n is None or body is None or not self.fits(n, body, path, ctx, "dense"):
            return None
        base = scope.prefix if full is None else full + "/"
        feats: list[int] = [] if x is None else [x]
        for k in range(n):
            self.visit(path, ctx)
            it_scope = _Scope(f"{base}{self.label(args, path, k, ctx)}/", _declared(body))
            xin: int | None = None
            if x is not None:
                xin = feats[0] if len(feats) == 1 else self.merge("concat", f"{it_scope.prefix}input", feats, path, ctx,
                                                                  it_scope)
            y = self.seq(body, path + ("body",), xin, it_scope, replace(ctx, env={**ctx.env, "i": k}), fresh=True)
            if y is None or xin is None:
                return None
            feats.append(y)
        return self.merge("concat", full, feats, path, ctx, outer)

    def _repeat(self, args: dict[str, Any], path: KeyPath, x: int | None, scope: _Scope, ctx: _Ctx,
                full: str | None, outer: _Scope) -> int | None:
        n = self.count(args, path, ctx)
        body = self.body(args, path, ctx)
        if n is None or body is None or not self.fits(n, body, path, ctx, "repeat"):
            return None
        base = scope.prefix if full is None else full + "/"
        for k in range(n):
            self.visit(path, ctx)
            it_scope = _Scope(f"{base}{self.label(args, path, k, ctx)}/", _declared(body))
            x = self.seq(body, path + ("body",), x, it_scope, replace(ctx, env={**ctx.env, "i": k}), fresh=True)
            if x is None:
                return None
        return x

    def _side(self, args: dict[str, Any], path: KeyPath, x: int | None, scope: _Scope, ctx: _Ctx,
              full: str | None, outer: _Scope) -> int | None:
        body = self.body(args, path, ctx)
        training = False
        if "training_only" in args:
            ok, v = self.sub(args["training_only"], path + ("training_only",), ctx)
            try:
                training = boolean(v) if ok else False
            except ArgError as exc:
                self.err(path + ("training_only",), str(exc), exc.hint, ctx)
        if body is not None:
            self.seq(body, path + ("body",), x, scope, replace(ctx, training_only=ctx.training_only or training))
        return x

    def call(self, t: Template, args: dict[str, Any], path: KeyPath, x: int | None, scope: _Scope,
             ctx: _Ctx, inline: bool = False) -> int | None:
        if len(ctx.calls) >= MAX_TEMPLATE_DEPTH:
            self.err(path, f"named blocks call each other deeper than {MAX_TEMPLATE_DEPTH} levels",
                     "a named block probably calls itself", ctx)
            return None
        env: dict[str, Any] = {}
        if x is not None:
            s = self.nodes[x].shape
            env.update(in_channels=s.c, in_height=s.h, in_width=s.w)
        else:  # an earlier error: expressions over the input shape are skipped, the rest still checked
            env.update(in_channels=UNKNOWN, in_height=UNKNOWN, in_width=UNKNOWN)
        ok = True
        for key, raw in args.items():
            if key == "name":
                continue
            if key not in t.params:
                self.err(path + (key,), f"unknown parameter {key!r} for block {t.name!r}",
                         did_you_mean(key, list(t.params) + ["name"]), ctx)
                ok = False
                continue
            good, v = self.sub(raw, path + (key,), ctx)
            ok = ok and good
            env[key] = v
        for key, default in t.params.items():
            if key not in env:
                if default is None:
                    self.err(path, f"block {t.name!r} needs parameter {key!r}",
                             f"e.g. `- {t.name}: {{{key}: ...}}`", ctx)
                    ok = False
                else:
                    env[key] = default
        # defaults may be expressions over earlier parameters (and in_channels, in_height, in_width)
        for key in t.params:
            if key not in args and key in env:
                good, v = self.sub(env[key], t.path[:-1] + ("params", key), _Ctx(env, ctx.calls))
                ok = ok and good
                env[key] = v
        own = "name" in args or not inline
        full = self.name_of(args, path, scope, t.name, ctx) if own else scope.prefix.rstrip("/")
        if not ok:
            return None
        inner = _Scope(full + "/" if own else scope.prefix, _declared(t.body))
        new_ctx = _Ctx(env, ctx.calls + ((t.name, self.doc.loc(path)),), ctx.training_only)
        out = self.seq(t.body, t.path, x, inner, new_ctx, fresh=True)
        if out is not None:
            self.blocks.append(BlockEnd(full, t.name, out, self.doc.loc(path)))
        return out


def _oversized(shape: Shape, rf: RF) -> str:
    """Why a layer's output is past the integer limit (shapes and receptive fields), or ''."""
    h, w = rf
    vals = (h.size, h.jump, h.start, w.size, w.jump, w.start)
    if max(shape) <= MAX_INT and all(type(v) is int for v in vals) and -MAX_INT <= min(vals) and max(vals) <= MAX_INT:
        return ""  # the common case, checked quickly (this runs for every layer)
    for dim, v in zip(("channels", "height", "width"), shape, strict=True):
        if v > MAX_INT:
            return f"its output {dim} {v} has more than {MAX_INT_DIGITS} digits (the limit)"
    for ax, axis in enumerate(("height", "width")):
        for what in ("size", "jump", "start"):
            v = getattr(rf[ax], what)
            if isinstance(v, Fraction) and (abs(v.numerator) > MAX_INT or v.denominator > MAX_INT) or \
                    isinstance(v, int) and abs(v) > MAX_INT:
                label = {"size": "size", "jump": "effective stride", "start": "offset"}[what]
                return f"its receptive-field {label} on the {axis} axis has more than {MAX_INT_DIGITS} digits " \
                       "(the limit)"
    return ""


def _num(v: Any) -> str:
    return str(v)


def build_graph(spec: Spec, model: ModelSpec, errors: Collector | None = None) -> Graph | None:
    """Expand one model of ``spec`` into a :class:`Graph`.

    Problems are added to ``errors`` (and ``None`` returned), or raised as :class:`SpecError` /
    :class:`SpecError` if no collector is given.
    """
    col = errors if errors is not None else Collector()
    before = col.count
    b = _Builder(spec, model, col)
    x0 = b.start() if model.input is not NO_INPUT else None
    try:
        out = b.seq(model.layers, model.path, x0, _Scope("", _declared(model.layers)), _Ctx({}))
    except _TooLarge:  # the diagnostic is collected
        out = None
    except RecursionError:  # a safety net: MAX_NESTING and the YAML depth limit keep the walk shallow
        col.add(Diagnostic(spec.doc.loc(model.path), model.path, "the model nests too deeply to expand",
                           "blocks or named blocks probably call each other without end"))
        out = None
    if col.count > before or out is None:
        if errors is None:
            col.raise_if_any(SpecError)
        return None
    return Graph(model.name, model.description, b.nodes[0].shape, model.input.batch, b.nodes, b.blocks, out)

