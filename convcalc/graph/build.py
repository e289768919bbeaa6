"""Spec layer lists → a :class:`Graph`: nodes in topological order with their shapes, names and edges.

The walk expands named blocks (templates), repeats and blocks, checks every layer's arguments, resolves
``from:`` references and ``outputs:``, names every node by its ``/``-joined scope path and infers every
output shape. All problems of a model are collected in one pass. Then the metric passes run over the
finished nodes: cost (:mod:`convcalc.metrics.cost`) and receptive field (:mod:`convcalc.metrics.receptive`,
which the walk also asks whether a residual's body changed the effective stride).
The block kinds and named-block calls are in :mod:`convcalc.graph.blocks`.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from convcalc.errors import Collector, Diagnostic, KeyPath, Location, SpecError
from convcalc.graph.blocks import BLOCK_KEYS, BLOCK_KINDS, BlockWalker, TooLarge
from convcalc.graph.checks import dead_nodes, training_only_used
from convcalc.graph.context import Ctx
from convcalc.graph.nodes import MAX_NODES, BlockEnd, Graph, Node
from convcalc.graph.refs import RefWalker
from convcalc.graph.replay import Expansion
from convcalc.graph.resize import expanded, reads_size
from convcalc.graph.scope import Scope
from convcalc.kinds.core import KINDS, Layer, LayerShapeError, Shape
from convcalc.kinds.merge import MERGE_KINDS, SLICE, MergeError, merge_shape
from convcalc.kinds.values import ArgError
from convcalc.lang.expr import ExprError, Unknown, integral, interpolate_text, is_computed, is_expression, substitute
from convcalc.lang.expr_values import describe
from convcalc.lang.spec import ModelSpec, Spec
from convcalc.lang.yaml_source import MAX_INT, MAX_INT_DIGITS
from convcalc.metrics.cost import cost_pass
from convcalc.metrics.receptive import ReceptivePass


class Builder(BlockWalker, RefWalker):
    def __init__(self, spec: Spec, model: ModelSpec, errors: Collector) -> None:
        self.spec = spec
        self.doc = spec.doc
        self.model = model
        self.errors = errors
        self.nodes: list[Node] = []
        self.blocks: list[BlockEnd] = []
        #: full name of every layer and named block so far → its node (for ``from:``)
        self.known: dict[str, int] = {}
        self.failed: set[str] = set()
        #: the same names, in the order they failed (what a call added: :mod:`convcalc.graph.replay`)
        self.failed_log: list[str] = []
        #: a ``from:`` or a merge named its inputs (else every node feeds the next)
        self.referenced = False
        self.visits = 0  # layers, blocks and template calls walked, plus repeat/dense iterations
        self.edges = 0  # inputs of all nodes
        self.depth = 0  # nesting of item() calls, across template calls
        #: warnings by the key path they are about (a named block's body is walked once per call)
        self.warnings: dict[tuple[Location, KeyPath], str] = {}
        #: the number of nodes when each block ended (the order of nodes and blocks, for a replay)
        self.block_at: list[int] = []
        #: names looked up (``from:``, merges by name, ``like:``), and the expansions of calls
        #: (:mod:`convcalc.graph.replay`)
        self.lookups = 0
        #: the input's height or width decided something (:mod:`convcalc.graph.resize`)
        self.sized = False
        self.expansions: dict[tuple[Hashable, ...], Expansion] = {}
        self.replayable: dict[int, bool] = {}
        #: (document, key path) → its location (the documents are the spec's and its includes, alive throughout)
        self.located: dict[tuple[int, KeyPath], Location] = {}
        self.rf = ReceptivePass(self.nodes, self.node_error)

    # ------------------------------------------------------------ diagnostics

    def err(self, path: KeyPath, message: str, hint: str, ctx: Ctx) -> None:
        via = ctx.via()
        hint = f"{hint} ({via})" if hint and via else hint or via
        self.errors.add(Diagnostic(self.loc(path, ctx), path, message, hint))

    def loc(self, path: KeyPath, ctx: Ctx) -> Location:
        """Where ``path`` is, in the file being walked (a named block's body is walked once per call: each
        place is looked up once per build)."""
        doc = ctx.doc or self.doc
        key = (id(doc), path)
        found = self.located.get(key)
        if found is None:
            found = self.located[key] = doc.loc(path)
        return found

    def node_error(self, node: Node, message: str, hint: str) -> None:
        """A problem a metric pass found at a node (where it was written, with its chain of calls)."""
        hint = f"{hint} ({node.via})" if hint and node.via else hint or node.via
        self.errors.add(Diagnostic(node.location, node.path, message, hint))

    # ------------------------------------------------------------ nodes

    def add_node(self, name: str, kind: str, inputs: tuple[int, ...], shape: Shape, path: KeyPath, ctx: Ctx,
                 layer: Layer | None = None) -> int:
        if len(self.nodes) >= MAX_NODES:
            self.too_large(path, ctx)
        self.edges += len(inputs)
        if self.edges > MAX_NODES:
            self.too_large(path, ctx, f"the model's layers have more than {MAX_NODES} connections (the limit)")
        node = Node(len(self.nodes), name, kind, inputs, shape, self.loc(path, ctx), path, layer,
                    ctx.training_only, ctx.via(), side=ctx.side)
        self.nodes.append(node)
        self.known[name] = node.index
        return node.index

    def fail(self, name: str) -> None:
        """A layer's or block's expansion failed (a reference to it reports nothing more)."""
        self.failed.add(name)
        self.failed_log.append(name)

    def too_large(self, path: KeyPath, ctx: Ctx, message: str = "") -> None:
        """Report an expansion past the limit and stop walking this model."""
        self.err(path, message or f"the model expands to more than {MAX_NODES} layers (the limit)",
                 "reduce repeat counts or the depth of dense blocks", ctx)
        raise TooLarge

    def visit(self, path: KeyPath, ctx: Ctx, count: int = 1) -> None:
        self.visits += count
        if self.visits > MAX_NODES:
            self.too_large(path, ctx)

    def start(self) -> int:
        i = self.model.input
        return self.add_node("input", "input", (), Shape(i.channels, i.height, i.width), self.model.path,
                             Ctx(dict(self.spec.params)))

    def end_block(self, name: str, kind: str, node: int, path: KeyPath, ctx: Ctx) -> None:
        self.blocks.append(BlockEnd(name, kind, node, self.loc(path, ctx)))
        self.block_at.append(len(self.nodes))
        self.known[name] = node

    # ------------------------------------------------------------ walking

    def seq(self, items: Any, path: KeyPath, x: int | None, scope: Scope, ctx: Ctx, fresh: bool = False) -> int | None:
        """Walk a layer list. ``fresh``: the scope was made for this list alone (a template body or a
        repeat/dense iteration), so a sole unnamed template call, repeat or dense in it adds no name segment."""
        if not isinstance(items, list):
            from convcalc.lang.hints import paths_hint

            self.err(path, f"expected a list of layers, found {describe(items)}", paths_hint(path, items), ctx)
            return None
        inline = fresh and len(items) == 1
        for i, item in enumerate(items):
            x = self.item(item, path + (i,), x, scope, ctx, inline)
        return x

    def item(self, item: Any, path: KeyPath, x: int | None, scope: Scope, ctx: Ctx, inline: bool = False) -> int | None:
        self.visit(path, ctx)
        if self.depth >= self.max_nesting:
            self.err(path, f"blocks nest deeper than {self.max_nesting} levels (the limit, counted across named "
                     "blocks)", "a named block probably calls itself through another block", ctx)
            return None
        self.depth += 1
        try:
            return self._item(item, path, x, scope, ctx, inline)
        finally:
            self.depth -= 1

    def _item(self, item: Any, path: KeyPath, x: int | None, scope: Scope, ctx: Ctx, inline: bool) -> int | None:
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
            from convcalc.kinds.aliases import misindented_layer  # (the hints are loaded when needed)

            found = f"a mapping with {len(item)} keys" if isinstance(item, dict) else describe(item)
            templates = {n: tuple(t.params) for n, t in self.spec.templates.items()}
            self.err(path, f"expected a layer (a kind name, or a mapping with one key: the kind), found {found}",
                     isinstance(item, dict) and misindented_layer(item, BLOCK_KEYS, templates) or
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
        if kind in MERGE_KINDS:
            return self.merge_item(kind, args, argpath, x, scope, ctx)
        if kind == SLICE:
            return self.slice_item(args, argpath, x, scope, ctx)
        if "from" in args:
            x = self.source(args["from"], argpath + ("from",), scope, ctx, x)
            args = {k: v for k, v in args.items() if k != "from"}
        if kind in KINDS:
            return self.layer(kind, args, argpath, x, scope, ctx)
        if kind in BLOCK_KINDS:
            return self.block(kind, args, argpath, x, scope, ctx, inline)
        if kind in self.spec.templates:
            return self.call(self.spec.templates[kind], args, argpath, x, scope, ctx, inline)
        from convcalc.kinds.aliases import unknown_kind

        self.err(path, f"unknown layer kind {kind!r}", unknown_kind(kind, args, BLOCK_KINDS, self.spec.templates),
                 ctx)
        return None

    def sub(self, value: Any, path: KeyPath, ctx: Ctx, interpolate: bool = False) -> tuple[bool, Any]:
        if not self.sized and reads_size(value):
            self.sized = True
        try:
            if interpolate and isinstance(value, str) and "${" in value and not is_expression(value):
                return True, interpolate_text(value, ctx.env)
            return True, substitute(value, ctx.env)
        except Unknown:  # needs a shape that an earlier error left unknown: that error is reported
            return False, None
        except ExprError as exc:
            self.err(path, str(exc), "", ctx)
            return False, None

    # ------------------------------------------------------------ layers

    def name_of(self, args: dict[str, Any], path: KeyPath, scope: Scope, kind: str, ctx: Ctx) -> str:
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

    def value(self, raw: Any, path: KeyPath, ctx: Ctx, parse: Any, x: int | None) -> tuple[bool, Any]:
        """One argument: substituted, a float from an expression made an integer when integral, then parsed."""
        if isinstance(raw, (str, list)):
            good, v = self.sub(raw, path, ctx)
            if not good:
                return False, None
            computed = is_computed(raw)
        else:  # a number, a boolean, null, a mapping: nothing to substitute
            v, computed = raw, False
        if computed:
            v = integral(v)
        if computed and isinstance(raw, str) and "in_channels" in raw and ctx.calls and x is not None \
                and ctx.env.get("in_channels") != self.nodes[x].shape.c:
            self.warnings.setdefault((self.loc(path, ctx), path),
                                     f"in_channels is the input of named block {ctx.calls[-1][0]!r} "
                                     f"({ctx.env.get('in_channels')}), not of this layer ({self.nodes[x].shape.c})")
        try:
            return True, parse(v)
        except ArgError as exc:
            message = str(exc) + (f" (from {raw.strip()})" if computed and isinstance(raw, str) else "")
            hint = exc.hint or ("round it: round(), floor(), ceil() or make_divisible()"
                                if computed and isinstance(v, float) else "")
            self.err(path, message, hint, ctx)
            return False, None

    def layer(self, kind: str, args: dict[str, Any], path: KeyPath, x: int | None, scope: Scope,
              ctx: Ctx) -> int | None:
        ks = KINDS[kind]
        params = ks.params
        values: dict[str, Any] = {}
        ok = True
        for key, raw in args.items():
            if key == "name":
                continue
            parse = params.get(key)
            if parse is None:
                from convcalc.kinds.aliases import unknown_argument

                self.err(path + (key,), f"unknown argument {key!r} for {kind}", unknown_argument(key, kind, params),
                         ctx)
                ok = False
                continue
            good, v = self.value(raw, path + (key,), ctx, parse, x)
            if good:
                values[key] = v
            else:
                ok = False
        missing = [req for req in ks.required if req not in args] if ks.required else []
        if missing:
            from convcalc.kinds.aliases import meant_arguments

            missing = [req for req in missing if req not in meant_arguments(args, params)]
        for req in missing:  # (a misspelling of one was reported already)
            self.err(path, f"{kind} needs {req!r}", f"e.g. `- {kind}: {{{req}: ...}}`", ctx)
            ok = False
        problem, hint = ks.check(args)
        if problem:
            self.err(path, problem, hint, ctx)
            ok = False
        if ks.conv_like and "bias" not in values and self.spec.defaults.bias is not None:
            values["bias"] = self.spec.defaults.bias
        if (ks.conv_like or ks.pool_like) and "padding" not in values and "padding" in ks.params \
                and self.spec.defaults.padding is not None:
            values["padding"] = self.spec.defaults.padding
        if ks.group == "activation" and "inplace" in ks.params and "inplace" not in values \
                and self.spec.defaults.inplace is not None:
            values["inplace"] = self.spec.defaults.inplace
        if "like" in values:  # upsample to the height and width of another layer
            self.sized = True
            like = self.ref(values.pop("like"), path + ("like",), scope, ctx)
            ok = ok and like is not None
            if like is not None:
                values["size"] = self.nodes[like].shape[1:]
        name = self.name_of(args, path, scope, kind, ctx)
        out = self.apply(Layer(kind, name, ks.args(**values)), x, path, ctx) if ok and x is not None else None
        if out is None:
            self.fail(name)
        return out

    def apply(self, layer: Layer, x: int, path: KeyPath, ctx: Ctx) -> int | None:
        src = self.nodes[x]
        try:
            shape = KINDS[layer.kind].shape(layer, src.shape)
        except LayerShapeError as exc:
            self.err(path, f"layer {layer.name!r} ({layer.kind}) on input {src.shape}: {exc}", exc.hint, ctx)
            return None
        if max(shape) > MAX_INT:
            dim = ("channels", "height", "width")[shape.index(max(shape))]
            self.err(path, f"layer {layer.name!r} ({layer.kind}) on input {src.shape}: its output {dim} "
                     f"{max(shape)} has more than {MAX_INT_DIGITS} digits (the limit)",
                     "convcalc counts exactly, but no network needs sizes this large", ctx)
            return None
        return self.add_node(layer.name, layer.kind, (x,), shape, path, ctx, layer)

    def merge(self, kind: str, name: str | None, inputs: list[int], path: KeyPath, ctx: Ctx,
              scope: Scope) -> int | None:
        if name is None:
            name = scope.auto(kind)
        try:
            shape = merge_shape(kind, [self.nodes[i].shape for i in inputs], [self.nodes[i].name for i in inputs])
        except MergeError as exc:
            self.err(path, f"{kind} {name!r} {exc}", exc.hint, ctx)
            return None
        if shape.c > MAX_INT:
            self.err(path, f"{kind} {name!r} has {shape.c} channels, more than {MAX_INT_DIGITS} digits (the limit)",
                     "convcalc counts exactly, but no network needs sizes this large", ctx)
            return None
        return self.add_node(name, kind, tuple(inputs), shape, path, ctx)

    def split(self, x: int, channels: list[int], scope: Scope, path: KeyPath, ctx: Ctx) -> list[int]:
        out, start = [], 0
        for c in channels:
            out.append(self.channel_slice(x, scope.auto("split"), start, c, path, ctx))
            start += c
        return out

    def channel_slice(self, x: int, name: str, start: int, c: int, path: KeyPath, ctx: Ctx) -> int:
        """A ``split`` node: channels start … start + c − 1 of node x (a view)."""
        src = self.nodes[x]
        idx = self.add_node(name, "split", (x,), Shape(c, src.shape.h, src.shape.w), path, ctx)
        self.nodes[idx].split_start = start
        return idx

def build_graph(spec: Spec, model: ModelSpec, errors: Collector | None = None,
                receptive: bool = True) -> Graph | None:
    """Expand one model of ``spec`` into a :class:`Graph` and run the metric passes over it (``receptive``:
    the receptive-field pass over every node too; without it only the nodes a projection's decision needs
    have their fields, and the graph serves only costs: :func:`convcalc.metrics.totals.totals_of`).

    Problems are added to ``errors`` (and ``None`` returned), or raised as :class:`SpecError` if no
    collector is given.
    """
    col = errors if errors is not None else Collector()
    b = Builder(spec, model, col)
    try:
        return _build(b, spec, model, col, errors is None, receptive)
    finally:  # the receptive pass reports through the builder: a cycle, broken so the build is freed at once
        del b.rf


def _build(b: Builder, spec: Spec, model: ModelSpec, col: Collector, raising: bool, receptive: bool) -> Graph | None:
    before = col.count
    out, outputs = expanded(b, spec, model)
    if b.nodes and receptive:
        b.rf.upto(len(b.nodes) - 1)
    if outputs and b.referenced:  # (without references nothing can read a side block)
        training_only_used(b, outputs)
    if col.count > before or out is None or not outputs:
        if raising:
            col.raise_if_any(SpecError)
        return None
    cost_pass(b.nodes)
    # without references and declared outputs every node but a side block's feeds the last one
    dead = dead_nodes(b.nodes, outputs) if model.outputs is not None or b.referenced else frozenset()
    warnings = [*spec.doc.notes, *(f"{loc}: {message}" for (loc, _), message in b.warnings.items())]
    warnings += [f"layer {b.nodes[i].name!r} feeds no output: not counted in the totals" for i in sorted(dead)]
    return Graph(model.name, model.description, b.nodes[0].shape, model.input.batch, b.nodes, b.blocks, outputs,
                 dead, warnings)
