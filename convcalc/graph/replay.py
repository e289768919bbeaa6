"""Named blocks walked once per distinct call: a repeat calls one named block again and again with the same
arguments on the same input (the identical blocks of a stage), and their expansions differ only in their name
and place. The walk keeps what a call added (its nodes, blocks, warnings and counts) and replays it for a later
call of one key: the block, its parameters' values (typed, so ``1`` is not ``1.0``; the model's parameters are
the build's), the input's shape, the chain of calls and the place of this one, the flags, the file and the
nesting depth. A call is replayed only where it can only repeat itself: its walk reported no problem, looked up
no name (``from:``, merges by name, ``like:``), read no node but its input and named every node inside its own
name; where it decided a projection on the effective strides, the new input's must equal the first's (a body's
are its input's times its own). The replay makes new nodes (the passes fill them), renamed under the new call's
name, their inputs moved to the new place: the graph that walking the body again makes, in a fraction of the
time. The kept nodes are the first call's own (what the walk gives a node is never changed after its call).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from convcalc.errors import KeyPath, Location
from convcalc.graph.nodes import MAX_NODES, BlockEnd, Node
from convcalc.kinds.core import Layer

if TYPE_CHECKING:
    from convcalc.graph.blocks import BlockWalker
    from convcalc.graph.context import Ctx
    from convcalc.graph.scope import Scope
    from convcalc.lang.spec import Template

#: the chain of named-block calls (:class:`~convcalc.graph.blocks.Ctx`)
Calls = tuple[tuple[str, Location], ...]


class Expansion(NamedTuple):
    """What one call's walk added, as ranges of the build's nodes, blocks and failed names (all only ever
    appended to): its nodes (on input ``input``), the blocks that ended among them, the names it walked without
    an input (a projection not needed); its warnings, visits and connections, its result; where it decided a
    projection on the effective strides, its input's; and the caller's chain, the call's place and its
    parameters (kept: the key holds their ids, and ids of values in them)."""

    name: str
    input: int
    nodes: range
    blocks: range
    failed: range
    warnings: tuple[tuple[tuple[Location, KeyPath], str], ...]
    visits: int
    edges: int
    out: int
    jumps: tuple[object, ...] | None
    anchors: tuple[Calls, Location, dict[str, Any]]


def key_of(params: Mapping[str, Any]) -> tuple[Hashable, ...]:
    """Parameters' values as a key: equal only for values that behave alike (the type with the value, a real
    number by its exact text, so that 1, 1.0, True and -0.0, 0.0 differ; a list or a mapping by identity: a
    walk's values stay alive while it runs)."""
    out: list[Hashable] = []
    for name, v in params.items():
        t = type(v)
        out.append((name, t, repr(v) if t is float else v if t in (int, bool, str) or v is None else id(v)))
    return tuple(out)


def expand(b: BlockWalker, t: Template, params: dict[str, Any], x: int | None, inner: Scope, ctx: Ctx,
           name: str, caller: Calls) -> int | None:
    """The body of a call of named block ``t`` with ``params`` on node ``x``, named ``name`` (its scope
    ``inner``: ``name/``, or for an unnamed inline call its caller's, named as that; "" at the top), in context
    ``ctx`` (whose calls are the ``caller``'s and this one): walked, or replayed where an equal call was."""
    if x is None:  # (after an error: walked, so that every problem is reported)
        return b.seq(t.body, t.path, x, inner, ctx, fresh=True)
    site = ctx.calls[-1][1]
    key = (id(t), b.nodes[x].shape, key_of(params), id(caller), id(site), ctx.training_only, ctx.side, id(ctx.doc),
           b.depth, name == "")
    known = b.expansions.get(key)
    if known is not None:
        out = replay(b, known, x, name)
        if out is not None:
            return out
    nodes, blocks, failed, warnings = len(b.nodes), len(b.blocks), len(b.failed_log), len(b.warnings)
    visits, edges, problems, lookups, fields = b.visits, b.edges, b.errors.count, b.lookups, b.rf.done
    out = b.seq(t.body, t.path, x, inner, ctx, fresh=True)
    if out is None or known is not None or (b.errors.count, b.lookups) != (problems, lookups):
        return out
    b.expansions[key] = Expansion(
        name, x, range(nodes, len(b.nodes)), range(blocks, len(b.blocks)), range(failed, len(b.failed_log)),
        tuple(list(b.warnings.items())[warnings:]) if len(b.warnings) != warnings else (), b.visits - visits,
        b.edges - edges, out, tuple(r.jump for r in b.nodes[x].rf) if b.rf.done != fields else None,
        (caller, site, params))
    return out


def replayable(b: BlockWalker, e: Expansion) -> bool:
    """Whether every node of the expansion reads only its input or its own nodes, and every name is inside the
    call's (a layer's name is its node's)."""
    inside = (lambda full: full == e.name or full.startswith(e.name + "/")) if e.name else (lambda full: True)
    start = e.nodes.start
    return all(all(i == e.input or i >= start for i in n.inputs) and inside(n.name)
               and (n.layer is None or n.layer.name == n.name) for n in b.nodes[start:e.nodes.stop]) \
        and all((be.node == e.input or be.node >= start) and inside(be.name)
                for be in b.blocks[e.blocks.start:e.blocks.stop]) \
        and all(inside(f) for f in b.failed_log[e.failed.start:e.failed.stop])


def replay(b: BlockWalker, e: Expansion, x: int, name: str) -> int | None:
    """Add what expansion ``e`` added, as a call on node ``x`` named ``name``: the node of its result (None
    where it cannot be replayed, or would pass an expansion limit: the walk then does what it does)."""
    if max(len(b.nodes) + len(e.nodes), b.visits + e.visits, b.edges + e.edges) > MAX_NODES:
        return None
    verdict = b.replayable.get(id(e))
    if verdict is None:
        verdict = b.replayable[id(e)] = replayable(b, e)
    if not verdict:
        return None
    if e.jumps is not None:
        b.rf.upto(x)
        if tuple(r.jump for r in b.nodes[x].rf) != e.jumps:
            return None
    start, shift, cut = e.nodes.start, len(b.nodes) - e.nodes.start, len(e.name)
    ends = iter(e.blocks)
    ended = next(ends, None)
    for k in range(start, e.nodes.stop + 1):
        while ended is not None and b.block_at[ended] == k:  # (the blocks that ended before node k was made)
            be = b.blocks[ended]
            full = name + be.name[cut:]
            node = x if be.node == e.input else be.node + shift
            b.blocks.append(BlockEnd(full, be.kind, node, be.location))
            b.block_at.append(len(b.nodes))
            b.known[full] = node
            ended = next(ends, None)
        if k == e.nodes.stop:
            break
        n = b.nodes[k]
        full = name + n.name[cut:]
        new = Node(len(b.nodes), full, n.kind, tuple(x if i == e.input else i + shift for i in n.inputs), n.shape,
                   n.location, n.path, Layer(n.layer.kind, full, n.layer.args) if n.layer is not None else None,
                   n.training_only, n.via, split_start=n.split_start, side=n.side, inplace=n.inplace)
        b.nodes.append(new)
        b.known[full] = new.index
    for key, message in e.warnings:
        b.warnings.setdefault(key, message)
    for f in range(e.failed.start, e.failed.stop):
        b.fail(name + b.failed_log[f][cut:])
    b.visits += e.visits
    b.edges += e.edges
    return x if e.out == e.input else e.out + shift
