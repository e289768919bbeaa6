"""A model's nodes: the walk of its layer lists, or its structure kept from an earlier build at another input size.

The walk decides a model's structure (its nodes' names, kinds, inputs and layers, its blocks, warnings and
outputs) from the spec and the parameters; the input's height and width reach it only through the shapes, and
they decide nothing in it unless an expression reads ``in_height`` or ``in_width``, a layer takes its size from
another (``like:``) or a projection is decided (its input's effective stride). A build without any of these,
and without a problem, keeps its structure for its spec, model, parameters and input channels; a build at
another size rebuilds it, each shape from its input's by its kind's rule (a merge's by the merge's). Where a
layer cannot take its new input, a size passes the limit, or a shape's channels differ (a flatten's depend on
the size, and channels decide: ``in_channels``, splits, slices), nothing is rebuilt and the walk runs, reporting
what it reports. A sweep over sizes walks each model once per setting of its other parameters. (The key holds
the document's data by identity, as every cache of a document does: a document is not changed once built.)
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, NamedTuple

from convcalc.errors import Diagnostic, KeyPath, Location
from convcalc.graph.blocks import TooLarge
from convcalc.graph.context import Ctx
from convcalc.graph.nodes import BlockEnd, Node, Output
from convcalc.graph.replay import key_of
from convcalc.graph.scope import Scope, declared
from convcalc.kinds.core import KINDS, Layer, LayerShapeError, Shape
from convcalc.kinds.merge import MergeError, merge_shape
from convcalc.lang.spec import NO_INPUT, ModelSpec, Spec
from convcalc.lang.yaml_source import MAX_INT, Document

if TYPE_CHECKING:
    from convcalc.graph.build import Builder

#: Most structures kept (one per spec, model and setting of the other parameters); past it they start again.
KEPT = 64


class Walked(NamedTuple):
    """What the walk gave a node (its shape: the channels to keep)."""

    name: str
    kind: str
    inputs: tuple[int, ...]
    shape: Shape
    location: Location
    path: KeyPath
    layer: Layer | None
    training_only: bool
    via: str
    split_start: int
    side: bool
    inplace: bool


class Structure(NamedTuple):
    """What a build's walk made, but the shapes: its nodes, blocks, warnings, whether it looked names up, its
    result and outputs; and the document and the parameters (kept: the key holds ids of them and of values in
    them)."""

    nodes: tuple[Walked, ...]
    blocks: tuple[BlockEnd, ...]
    warnings: tuple[tuple[tuple[Location, KeyPath], str], ...]
    referenced: bool
    out: int
    outputs: tuple[Output, ...]
    anchors: tuple[Document, dict[str, Any]]


_KEPT: dict[tuple[Hashable, ...], Structure] = {}


def expanded(b: Builder, spec: Spec, model: ModelSpec) -> tuple[int | None, list[Output]]:
    """Fill the builder with the model's nodes; their result and the outputs (None and none after a problem,
    which is collected)."""
    key = _key(spec, model)
    known = _KEPT.get(key) if key is not None else None
    if known is not None and _rebuilt(b, known, model):
        return known.out, list(known.outputs)
    before = b.errors.count
    out, outputs = walk(b, spec, model)
    if key is not None and out is not None and outputs and not b.sized and b.errors.count == before:
        if len(_KEPT) >= KEPT:
            _KEPT.clear()
        made = tuple(Walked(n.name, n.kind, n.inputs, n.shape, n.location, n.path, n.layer, n.training_only, n.via,
                            n.split_start, n.side, n.inplace) for n in b.nodes)
        _KEPT[key] = Structure(made, tuple(b.blocks), tuple(b.warnings.items()), b.referenced, out, tuple(outputs),
                               (spec.doc, spec.params))
    return out, outputs


def walk(b: Builder, spec: Spec, model: ModelSpec) -> tuple[int | None, list[Output]]:
    """Walk the model's layer lists: their result and the outputs (None and none after a problem)."""
    x0 = b.start() if model.input is not NO_INPUT else None
    try:
        out = b.seq(model.layers, model.path, x0, Scope("", declared(model.layers)), Ctx(dict(spec.params)))
        return out, b.outputs(out) if out is not None else []
    except TooLarge:  # the diagnostic is collected
        return None, []
    except RecursionError:  # a safety net: the nesting limit and the YAML depth limit keep the walk shallow
        b.errors.add(Diagnostic(spec.doc.loc(model.path), model.path, "the model nests too deeply to expand",
                                "blocks or named blocks probably call each other without end"))
        return None, []


def reads_size(value: Any) -> bool:
    """Whether a spec value may read the input's height or width (an expression naming in_height or in_width)."""
    if isinstance(value, list):
        return any(reads_size(v) for v in value)
    return isinstance(value, str) and ("in_height" in value or "in_width" in value)


def _key(spec: Spec, model: ModelSpec) -> tuple[Hashable, ...] | None:
    """What decides a model's structure but its input's size (None: a spec with included files, read again at
    every parse, or without an input)."""
    if model.input is NO_INPUT or any(t.doc is not None for t in spec.templates.values()):
        return None
    return (id(spec.doc), model.path, id(model.layers), id(model.outputs), model.input.channels,
            key_of(spec.params), spec.defaults)


def _rebuilt(b: Builder, s: Structure, model: ModelSpec) -> bool:
    """Fill the builder with structure ``s`` at the model's input size; False (nothing added) where a shape
    cannot be made, passes the limit, or differs from the kept one in channels."""
    shapes: list[Shape] = []
    for n in s.nodes:
        try:
            if n.kind == "input":
                shape = Shape(model.input.channels, model.input.height, model.input.width)
            elif n.layer is not None:
                shape = KINDS[n.layer.kind].shape(n.layer, shapes[n.inputs[0]])
            elif n.kind == "split":
                src = shapes[n.inputs[0]]
                shape = Shape(n.shape.c, src.h, src.w)
            else:
                shape = merge_shape(n.kind, [shapes[i] for i in n.inputs], [s.nodes[i].name for i in n.inputs])
        except (LayerShapeError, MergeError):
            return False
        if shape.c != n.shape.c or max(shape) > MAX_INT:
            return False
        shapes.append(shape)
    b.nodes.extend(Node(i, n.name, n.kind, n.inputs, shape, n.location, n.path, n.layer, n.training_only, n.via,
                        split_start=n.split_start, side=n.side, inplace=n.inplace)
                   for i, (n, shape) in enumerate(zip(s.nodes, shapes, strict=True)))
    b.blocks.extend(s.blocks)  # (the names the walk knew served its lookups and outputs: done)
    b.warnings.update(s.warnings)
    b.referenced = s.referenced
    return True
