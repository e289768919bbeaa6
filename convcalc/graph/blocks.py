"""The block kinds (sequence, residual, branches, dense, repeat, side) and named-block (template) calls,
as the part of the walk that :class:`convcalc.graph.build.Builder` inherits."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from convcalc.errors import Collector, KeyPath, Location
from convcalc.graph.context import Ctx
from convcalc.graph.nodes import BlockEnd, Node
from convcalc.graph.replay import Expansion, expand
from convcalc.graph.scope import Scope, declared, declared_in
from convcalc.kinds.values import ArgError, boolean, non_negative, positive
from convcalc.lang.expr import UNKNOWN, integral, is_computed, is_expression
from convcalc.lang.expr_values import describe
from convcalc.lang.hints import did_you_mean
from convcalc.lang.spec import BLOCK_NAMES, Spec, Template
from convcalc.lang.yaml_source import Document

if TYPE_CHECKING:
    from convcalc.metrics.receptive import ReceptivePass

#: Deepest chain of template calls.
MAX_TEMPLATE_DEPTH = 64
#: Deepest nesting of layers in blocks and template bodies, counted across template calls.
MAX_NESTING = 100

BLOCK_KINDS = BLOCK_NAMES
BLOCK_KEYS: dict[str, tuple[str, ...]] = {
    "sequence": ("name", "body"),
    "residual": ("name", "body", "shortcut", "projection", "when", "inplace", "first"),
    "branches": ("name", "paths", "merge", "split", "inplace"),
    "dense": ("name", "n", "body", "label"),
    "repeat": ("name", "n", "body", "label"),
    "side": ("name", "body", "training_only"),
}
BRANCH_MERGES = ("add", "concat", "mul")


class TooLarge(Exception):
    """The model passed an expansion limit (the diagnostic is already collected): stop walking."""


class BlockWalker:
    """Blocks and named-block calls; the layers, merges and names are the :class:`Builder`'s."""

    max_nesting = MAX_NESTING
    spec: Spec
    doc: Document
    nodes: list[Node]
    blocks: list[BlockEnd]
    errors: Collector
    visits: int
    edges: int
    failed: set[str]
    failed_log: list[str]
    rf: ReceptivePass
    depth: int
    known: dict[str, int]
    warnings: dict[tuple[Location, KeyPath], str]
    block_at: list[int]
    lookups: int
    expansions: dict[tuple[Hashable, ...], Expansion]
    replayable: dict[int, bool]
    sized: bool

    if TYPE_CHECKING:  # provided by Builder
        def err(self, path: KeyPath, message: str, hint: str, ctx: Ctx) -> None: ...
        def sub(self, value: Any, path: KeyPath, ctx: Ctx, interpolate: bool = False) -> tuple[bool, Any]: ...
        def seq(self, items: Any, path: KeyPath, x: int | None, scope: Scope, ctx: Ctx,
                fresh: bool = False) -> int | None: ...
        def visit(self, path: KeyPath, ctx: Ctx, count: int = 1) -> None: ...
        def name_of(self, args: dict[str, Any], path: KeyPath, scope: Scope, kind: str, ctx: Ctx) -> str: ...
        def merge(self, kind: str, name: str | None, inputs: list[int], path: KeyPath, ctx: Ctx,
                  scope: Scope) -> int | None: ...
        def split(self, x: int, channels: list[int], scope: Scope, path: KeyPath, ctx: Ctx) -> list[int]: ...
        def in_place(self, node: int | None, args: dict[str, Any], path: KeyPath, ctx: Ctx) -> int | None: ...
        def end_block(self, name: str, kind: str, node: int, path: KeyPath, ctx: Ctx) -> None: ...
        def fail(self, name: str) -> None: ...
        def loc(self, path: KeyPath, ctx: Ctx) -> Location: ...

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
            if total > 2_000_000:
                break
        return total

    def block(self, kind: str, args: dict[str, Any], path: KeyPath, x: int | None, scope: Scope,
              ctx: Ctx, inline: bool = False) -> int | None:
        allowed = BLOCK_KEYS[kind]
        for key in args:
            if key not in allowed:
                self.err(path + (key,), f"unknown key {key!r} for {kind}", did_you_mean(key, [*allowed, "from"]), ctx)
        named = "name" in args
        segment = named or (kind in ("repeat", "dense") and not inline) or kind == "side"
        full = self.name_of(args, path, scope, kind, ctx) if segment else None
        inner = Scope(full + "/", declared_in(kind, args)) if full is not None else scope
        out = getattr(self, "_" + kind)(args, path, x, inner, ctx, full, scope)
        if named and full is not None and out is not None:
            self.end_block(full, kind, out, path, ctx)
        elif full is not None and out is None:
            self.fail(full)
        return out  # type: ignore[no-any-return]

    def count(self, args: dict[str, Any], path: KeyPath, ctx: Ctx) -> int | None:
        if "n" not in args:
            self.err(path, "missing key 'n' (how many times)", "e.g. n: 3", ctx)
            return None
        ok, v = self.sub(args["n"], path + ("n",), ctx)
        if not ok:
            return None
        try:
            return non_negative(integral(v) if is_computed(args["n"]) else v)
        except ArgError as exc:
            self.err(path + ("n",), str(exc), exc.hint, ctx)
            return None

    def labels(self, args: dict[str, Any], path: KeyPath, n: int, ctx: Ctx) -> list[str] | None:
        """The name segment of every iteration: ``label`` (e.g. ``denselayer${i + 1}``) or its index. A bad
        label is reported once; two iterations with one label are an error (they would share names)."""
        if "label" not in args:
            return [str(k) for k in range(n)]
        out: list[str] = []
        first: dict[str, int] = {}
        for k in range(n):
            ok, v = self.sub(args["label"], path + ("label",), ctx._replace(env={**ctx.env, "i": k}), interpolate=True)
            if not ok:
                return None
            if not isinstance(v, (str, int)) or isinstance(v, bool) or not str(v) or "/" in str(v):
                self.err(path + ("label",), f"expected a name segment (text without '/'), found {describe(v)}",
                         "", ctx)
                return None
            if str(v) in first:
                self.err(path + ("label",), f"iterations {first[str(v)]} and {k} have the same label {str(v)!r}",
                         "every iteration needs its own label, e.g. label: \"stage${i + 1}\"", ctx)
                return None
            first[str(v)] = k
            out.append(str(v))
        return out

    def fits(self, n: int, body: Any, path: KeyPath, ctx: Ctx, kind: str) -> bool:
        """Refuse, before looping, a repeat or dense block that must pass the expansion limit."""
        limit = 2_000_000
        need = n * (1 + self.min_visits(body))
        if self.visits + need > limit:
            self.err(path + ("n",), f"{kind} n: {n} expands to more than {limit} layers (the limit)",
                     "reduce n; the body is expanded once per iteration", ctx)
            return False
        if kind == "dense" and self.edges + n * (n + 1) // 2 > limit:
            self.err(path + ("n",), f"dense n: {n} makes {n * (n + 1) // 2} connections, more than the limit "
                     f"of {limit}", "each iteration takes the concat of all earlier outputs", ctx)
            return False
        return True

    def body(self, args: dict[str, Any], path: KeyPath, ctx: Ctx) -> Any:
        if "body" not in args:
            self.err(path, "missing key 'body' (a list of layers)", "", ctx)
            return None
        return args["body"]

    def _sequence(self, args: dict[str, Any], path: KeyPath, x: int | None, scope: Scope, ctx: Ctx,
                  full: str | None, outer: Scope) -> int | None:
        body = self.body(args, path, ctx)
        return None if body is None else self.seq(body, path + ("body",), x, scope, ctx)

    def _residual(self, args: dict[str, Any], path: KeyPath, x: int | None, scope: Scope, ctx: Ctx,
                  full: str | None, outer: Scope) -> int | None:
        when = True
        if "when" in args:
            ok, cond = self.sub(args["when"], path + ("when",), ctx)
            if ok and not isinstance(cond, (bool, int)):
                self.err(path + ("when",), f"expected a condition, found {describe(cond)}", "", ctx)
            when = bool(cond) if ok else False
        ok, first = self.sub(args.get("first", "body"), path + ("first",), ctx)
        if ok and first not in ("body", "shortcut"):
            self.err(path + ("first",), f"expected body or shortcut, found {describe(first)}",
                     "the part that runs first (the spec's order is the execution order)", ctx)
        early = None
        if first == "shortcut" and when:
            if "shortcut" not in args:
                self.err(path + ("first",), "first: shortcut needs a shortcut: list",
                         "a projection: is built only once the body's result is known; write the shortcut "
                         "with `if:` conditions instead", ctx)
            else:
                early = self.seq(args["shortcut"], path + ("shortcut",), x, scope, ctx)
        body = self.body(args, path, ctx)
        y = None if body is None else self.seq(body, path + ("body",), x, scope, ctx)
        if not when:  # no skip connection: the body alone
            return y
        if "shortcut" in args and "projection" in args:
            self.err(path + ("projection",), "give either shortcut or projection, not both",
                     "shortcut: always applied; projection: applied only when the shape changes", ctx)
            return None
        short = x
        if early is not None:
            short = early
        elif "shortcut" in args and first != "shortcut":
            short = self.seq(args["shortcut"], path + ("shortcut",), x, scope, ctx)
        elif "projection" in args:
            # walked in any case, so its arguments are checked; built only when the shape or stride changes
            needed = x is not None and y is not None and self.changed(x, y)
            projected = self.seq(args["projection"], path + ("projection",), x if needed else None, scope, ctx)
            short = projected if needed else x
        if y is None or short is None:
            return None
        return self.in_place(self.merge("add", full, [y, short], path, ctx, outer), args, path, ctx)

    def changed(self, x: int, y: int) -> bool:
        """Whether a body from node x to node y changed the shape or the effective stride."""
        self.sized = True  # (the shape's change may depend on the size)
        if self.nodes[x].shape != self.nodes[y].shape:
            return True
        self.rf.upto(y)
        return any(self.nodes[x].rf[ax].jump != self.nodes[y].rf[ax].jump for ax in (0, 1))

    def _branches(self, args: dict[str, Any], path: KeyPath, x: int | None, scope: Scope, ctx: Ctx,
                  full: str | None, outer: Scope) -> int | None:
        paths = args.get("paths")
        if not isinstance(paths, list) or not paths:
            self.err(path + ("paths",) if "paths" in args else path,
                     f"expected paths: a list of layer lists, found {describe(paths)}",
                     "e.g. paths: [[conv: {out: 64, kernel: 1}], [conv: {out: 64, kernel: 3, padding: 1}]]", ctx)
            return None
        ok, merge = self.sub(args.get("merge", "concat"), path + ("merge",), ctx)
        if ok and merge not in BRANCH_MERGES:
            self.err(path + ("merge",), f"expected concat, add or mul, found {describe(merge)}", "", ctx)
            ok = False
        ok2, split = self.sub(args.get("split", False), path + ("split",), ctx)
        inputs: list[int | None] = [x] * len(paths)
        if ok2 and x is not None and split is not False:
            parts = self.parts(split, self.nodes[x].shape.c, len(paths), path + ("split",), ctx)
            if parts is None:
                return None
            inputs = list(self.split(x, parts, scope, path, ctx))
        outs: list[int | None] = []
        for i, (p, xin) in enumerate(zip(paths, inputs, strict=True)):
            outs.append(self.seq(p, path + ("paths", i), xin, scope, ctx) if p != [] else xin)
        if not ok or not ok2 or any(o is None for o in outs):
            return None
        return self.in_place(self.merge(str(merge), full, [o for o in outs if o is not None], path, ctx, outer),
                             args, path, ctx)

    def parts(self, split: Any, c: int, n: int, path: KeyPath, ctx: Ctx) -> list[int] | None:
        """The channel counts of a split into n paths: equal (``true``) or listed."""
        if split is True:
            if c % n:
                self.err(path, f"cannot split {c} channels equally into {n} paths", "", ctx)
                return None
            return [c // n] * n
        if isinstance(split, list) and len(split) == n:
            try:
                parts = [positive(v) for v in split]
            except ArgError as exc:
                self.err(path, str(exc), exc.hint, ctx)
                return None
            if sum(parts) != c:
                self.err(path, f"split sizes sum to {sum(parts)}, the input has {c} channels", "", ctx)
                return None
            return parts
        self.err(path, f"expected true, false or a list of {n} channel counts, found {describe(split)}", "", ctx)
        return None

    def iterations(self, args: dict[str, Any], path: KeyPath, ctx: Ctx, kind: str) -> tuple[Any, list[str]] | None:
        """The body and the iterations' labels of a repeat or dense block (None: an error is reported)."""
        n = self.count(args, path, ctx)
        body = self.body(args, path, ctx)
        if n is None or body is None or not self.fits(n, body, path, ctx, kind):
            return None
        labels = self.labels(args, path, n, ctx)
        return None if labels is None else (body, labels)

    def _dense(self, args: dict[str, Any], path: KeyPath, x: int | None, scope: Scope, ctx: Ctx,
               full: str | None, outer: Scope) -> int | None:
        plan = self.iterations(args, path, ctx, "dense")
        if plan is None:
            return None
        body, labels = plan
        base = scope.prefix if full is None else full + "/"
        feats: list[int] = [] if x is None else [x]
        for k, label in enumerate(labels):
            self.visit(path, ctx)
            it_scope = Scope(f"{base}{label}/", declared(body))
            xin: int | None = None
            if x is not None:  # the concat of all earlier outputs, named `input` unless the body takes that name
                name = it_scope.claim("input") if "input" not in it_scope.reserved else it_scope.auto("input")
                xin = feats[0] if len(feats) == 1 else self.merge("concat", name, feats, path, ctx, it_scope)
            y = self.seq(body, path + ("body",), xin, it_scope, ctx._replace(env={**ctx.env, "i": k}), fresh=True)
            if y is None or xin is None:
                return None
            feats.append(y)
        return self.merge("concat", full, feats, path, ctx, outer)

    def _repeat(self, args: dict[str, Any], path: KeyPath, x: int | None, scope: Scope, ctx: Ctx,
                full: str | None, outer: Scope) -> int | None:
        plan = self.iterations(args, path, ctx, "repeat")
        if plan is None:
            return None
        body, labels = plan
        base = scope.prefix if full is None else full + "/"
        for k, label in enumerate(labels):
            self.visit(path, ctx)
            it_scope = Scope(f"{base}{label}/", declared(body))
            x = self.seq(body, path + ("body",), x, it_scope, ctx._replace(env={**ctx.env, "i": k}), fresh=True)
            if x is None:
                return None
        return x

    def _side(self, args: dict[str, Any], path: KeyPath, x: int | None, scope: Scope, ctx: Ctx,
              full: str | None, outer: Scope) -> int | None:
        body = self.body(args, path, ctx)
        training = False
        if "training_only" in args:
            ok, v = self.sub(args["training_only"], path + ("training_only",), ctx)
            try:
                training = boolean(v) if ok else False
            except ArgError as exc:
                self.err(path + ("training_only",), str(exc), exc.hint, ctx)
        if body is not None:
            self.seq(body, path + ("body",), x, scope,
                     ctx._replace(training_only=ctx.training_only or training, side=True))
        return x

    def call(self, t: Template, args: dict[str, Any], path: KeyPath, x: int | None, scope: Scope,
             ctx: Ctx, inline: bool = False) -> int | None:
        if len(ctx.calls) >= MAX_TEMPLATE_DEPTH:
            self.err(path, f"named blocks call each other deeper than {MAX_TEMPLATE_DEPTH} levels",
                     "a named block probably calls itself", ctx)
            return None
        base: dict[str, Any] = dict(self.spec.params)  # the model's parameters, then the block's input
        if x is not None:
            s = self.nodes[x].shape
            base.update(in_channels=s.c, in_height=s.h, in_width=s.w)
        else:  # an earlier error: expressions over the input shape are skipped, the rest still checked
            base.update(in_channels=UNKNOWN, in_height=UNKNOWN, in_width=UNKNOWN)
        env: dict[str, Any] = {}
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
        # defaults in order, each an expression over the parameters given and the defaults before it (and the
        # model's parameters, in_channels, in_height, in_width: a default `${groups}` is the model's groups)
        given = set(env)
        # plain defaults first (so an expression may also use a later plain one, as in format 1)
        env.update({k: d for k, d in t.params.items() if k not in env and d is not None and not is_expression(d)})
        for key, default in t.params.items():
            if key in given or (key in env and not is_expression(default)):
                continue
            if default is None:
                self.err(path, f"block {t.name!r} needs parameter {key!r}", f"e.g. `- {t.name}: {{{key}: ...}}`", ctx)
                ok = False
                continue
            where = Ctx({**base, **env}, ctx.calls, doc=t.doc or ctx.doc)
            good, env[key] = self.sub(default, t.path[:-1] + ("params", key), where)
            ok = ok and good
        own = "name" in args or not inline
        full = self.name_of(args, path, scope, t.name, ctx) if own else scope.prefix.rstrip("/")
        if not ok:
            self.fail(full)
            return None
        inner = Scope(full + "/" if own else scope.prefix, declared(t.body))
        new_ctx = Ctx({**base, **env}, ctx.calls + ((t.name, self.loc(path, ctx)),), ctx.training_only, ctx.side,
                      t.doc or ctx.doc)
        out = expand(self, t, env, x, inner, new_ctx, full, ctx.calls)
        if out is not None:
            self.end_block(full, t.name, out, path, ctx)
        else:
            self.fail(full)
        return out

