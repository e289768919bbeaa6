"""``from:`` references, merges written as layers, and ``outputs:``: the part of the walk that resolves
names (see :func:`convcalc.graph.names.resolve` for the rules), inherited by the Builder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convcalc.errors import KeyPath
from convcalc.graph.context import Ctx
from convcalc.graph.names import resolve, resolve_each
from convcalc.graph.nodes import Node, Output
from convcalc.graph.scope import Scope
from convcalc.lang.expr_values import describe


class RefWalker:
    """Resolving names to earlier nodes; the nodes, names and merges are the Builder's."""

    nodes: list[Node]
    known: dict[str, int]
    #: full names of layers and blocks whose expansion failed (a reference to one reports nothing more)
    failed: set[str]
    referenced: bool
    lookups: int

    if TYPE_CHECKING:  # provided by Builder
        from convcalc.lang.spec import ModelSpec

        model: ModelSpec

        def err(self, path: KeyPath, message: str, hint: str, ctx: Ctx) -> None: ...
        def sub(self, value: Any, path: KeyPath, ctx: Ctx, interpolate: bool = False) -> tuple[bool, Any]: ...
        def name_of(self, args: dict[str, Any], path: KeyPath, scope: Scope, kind: str, ctx: Ctx) -> str: ...
        def merge(self, kind: str, name: str | None, inputs: list[int], path: KeyPath, ctx: Ctx,
                  scope: Scope) -> int | None: ...
        def channel_slice(self, x: int, name: str, start: int, c: int, path: KeyPath, ctx: Ctx) -> int: ...
        def fail(self, name: str) -> None: ...

    # ------------------------------------------------------------ references

    def ref(self, value: Any, path: KeyPath, scope: Scope, ctx: Ctx) -> int | None:
        """The node one name refers to (see :func:`convcalc.graph.names.resolve`)."""
        ok, name = self.sub(value, path, ctx, interpolate=True)
        if not ok:
            return None
        if not isinstance(name, str) or not name:
            self.err(path, f"expected the name of an earlier layer or block, found {describe(name)}",
                     "e.g. from: enc3, or from: [up3, enc3]", ctx)
            return None
        self.referenced = True
        self.lookups += 1
        node, message, hint = resolve(name.strip("/"), scope.prefix, self.known)
        if node is None and resolve(name.strip("/"), scope.prefix, dict.fromkeys(self.failed, 0))[0] is None:
            self.err(path, message, hint, ctx)  # (a name whose expansion failed was reported there)
        return node

    def each(self, name: str, path: KeyPath, scope: Scope, ctx: Ctx) -> list[int | None]:
        """``NAME/*`` in a merge's ``from:``: the output of each iteration of repeat ``NAME``, in order."""
        ok, name = self.sub(name, path, ctx, interpolate=True)
        if not ok:
            return [None]
        self.referenced = True
        self.lookups += 1
        nodes, message, hint = resolve_each(str(name).strip("/"), scope.prefix, self.known)
        if nodes is None:
            self.err(path, message, hint, ctx)
            return [None]
        return list(nodes)

    def source(self, value: Any, path: KeyPath, scope: Scope, ctx: Ctx, x: int | None) -> int | None:
        """The input named by ``from:`` on a layer or block (one name)."""
        if isinstance(value, list):
            self.err(path, f"expected one name, found a list of {len(value)}",
                     "only merges take several inputs: `- concat: {from: [a, b]}` (or add, mul)", ctx)
            return None
        return self.ref(value, path, scope, ctx)

    def refs(self, value: Any, path: KeyPath, scope: Scope, ctx: Ctx) -> list[int | None]:
        if not isinstance(value, list):
            value = [value]
        return [self.ref(v, path + (i,), scope, ctx) for i, v in enumerate(value)]

    def merge_item(self, kind: str, args: dict[str, Any], path: KeyPath, x: int | None, scope: Scope,
                   ctx: Ctx) -> int | None:
        """``- concat: {from: [a, b]}``: a merge of named earlier outputs (``previous`` is the layer above)."""
        for key in args:
            if key not in ("from", "name", "inplace"):
                self.err(path + (key,), f"unknown argument {key!r} for {kind}",
                         "a merge takes from:, name: and inplace:", ctx)
        if "from" not in args:
            self.err(path, f"{kind} needs 'from' (the names of its inputs)", f"e.g. `- {kind}: {{from: [a, b]}}`",
                     ctx)
            return None
        names = args["from"] if isinstance(args["from"], list) else [args["from"]]
        inputs: list[int | None] = []
        for i, n in enumerate(names):
            if isinstance(n, str) and n.endswith("/*"):
                inputs.extend(self.each(n[:-2], path + ("from", i), scope, ctx))
            else:
                inputs.append(x if n == "previous" else self.ref(n, path + ("from", i), scope, ctx))
        if len(inputs) < 2 and all(i is not None for i in inputs):
            self.err(path + ("from",), f"{kind} needs at least two inputs, found {len(inputs)}",
                     "name them all, e.g. from: [previous, enc3]", ctx)
            return None
        name = self.name_of(args, path, scope, kind, ctx)
        out = None if any(i is None for i in inputs) else \
            self.merge(kind, name, [i for i in inputs if i is not None], path, ctx, scope)
        if out is None:
            self.fail(name)
        return self.in_place(out, args, path, ctx)

    def slice_item(self, args: dict[str, Any], path: KeyPath, x: int | None, scope: Scope, ctx: Ctx) -> int | None:
        """``- slice: {from: x, start: a, stop: b}``: channels a … b − 1 of the input (``x[:, a:b]``, a view;
        ``start`` defaults to 0, ``stop`` to the input's channels; ``from:`` to the layer above)."""
        for key in args:
            if key not in ("from", "name", "start", "stop"):
                self.err(path + (key,), f"unknown argument {key!r} for slice",
                         "a slice takes from:, name:, start: and stop: (channels start … stop − 1)", ctx)
        if "from" in args:
            x = self.source(args["from"], path + ("from",), scope, ctx, x)
        name = self.name_of(args, path, scope, "slice", ctx)
        if x is None:
            self.fail(name)
            return None
        c = self.nodes[x].shape.c
        bounds = []
        for key, default in (("start", 0), ("stop", c)):
            ok, v = self.sub(args.get(key, default), path + (key,), ctx)
            if ok and (type(v) is not int or v < 0):
                self.err(path + (key,), f"expected a channel index (an integer >= 0), found {describe(v)}",
                         f"the input has {c} channels: 0 … {c}", ctx)
                ok = False
            bounds.append(v if ok else None)
        start, stop = bounds
        if start is None or stop is None:
            self.fail(name)
            return None
        if not start < stop <= c:
            self.err(path, f"slice {start} … {stop} of {c} channels is empty or out of range",
                     f"need 0 <= start < stop <= {c}", ctx)
            self.fail(name)
            return None
        return self.channel_slice(x, name, start, stop - start, path, ctx)

    def in_place(self, node: int | None, args: dict[str, Any], path: KeyPath, ctx: Ctx) -> int | None:
        """Mark a merge ``inplace: true`` (an add into its first input: the body's or first path's result)."""
        if "inplace" not in args or node is None:
            return node
        ok, flag = self.sub(args["inplace"], path + ("inplace",), ctx)
        if ok and not isinstance(flag, bool):
            self.err(path + ("inplace",), f"expected true or false, found {describe(flag)}", "", ctx)
        elif ok and flag and self.nodes[node].kind != "add":
            self.err(path + ("inplace",), f"a {self.nodes[node].kind} cannot be written in place",
                     "only an add can (into its first input)", ctx)
        elif ok:
            self.nodes[node].inplace = flag
        return node

    # ------------------------------------------------------------ outputs

    def outputs(self, last: int) -> list[Output]:
        """The declared ``outputs:`` (names resolved from the top), or the last node."""
        raw, path = self.model.outputs, self.model.outputs_path
        if raw is None:
            return [Output(self.nodes[last].name, last)]
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            self.err(path, "expected the names of the outputs, found an empty list", "e.g. outputs: [p3, p4, p5]",
                     Ctx({}))
        found = [(n, self.ref(n, path + (i,) if isinstance(raw, list) else path, Scope("", ()), Ctx({})))
                 for i, n in enumerate(items)]
        return [Output(self.nodes[i].name, i) for _, i in found if i is not None]
