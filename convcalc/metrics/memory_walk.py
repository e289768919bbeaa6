"""The walk of the memory pass (:mod:`convcalc.metrics.memory`): every included node's program (its kind's memory
rule, :mod:`convcalc.kinds.steps`) run in the graph's order, tracking each storage from the step that allocates
it to its last reader, and in training what autograd saves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convcalc.graph import Graph, Node
from convcalc.kinds import KINDS
from convcalc.kinds import layout as lay
from convcalc.kinds.memo import memo
from convcalc.kinds.steps import ACT, BOOL, BYTES, FP32, INT64, LOW, PARAMS, PROMOTE, WIDEST, Program, Run, Step, T

if TYPE_CHECKING:
    from convcalc.metrics.memory import MemoryOptions


class Walk:
    """One run of every included node's program in order: storages, their allocation and last use, what is
    saved. ``train``: training programs (autograd saves), else inference (``no_grad``: nothing requires grad
    and nothing is saved, so that bookkeeping is skipped)."""

    def __init__(self, g: Graph, opts: MemoryOptions, train: bool) -> None:
        self.g, self.opts, self.train = g, opts, train
        self.act = BYTES[opts.dtype]
        #: bytes per element by dtype tag, in a step that runs in the activations' dtype (``narrow``) and in
        #: one that runs in fp32 (mixed precision): the parameters' dtype is fp32 under mixed precision
        self.narrow = {ACT: self.act, PARAMS: 4 if opts.mixed else self.act, FP32: 4, INT64: 8, BOOL: 1}
        self.widened = {**self.narrow, ACT: 4} if opts.mixed else self.narrow
        self.size: list[int] = []
        self.alloc: list[int] = []
        self.last: list[int] = []
        self.owner: list[int] = []
        self.tracked = train or opts.mixed  # (grad and wide are read only in training or under mixed precision)
        self.grad: list[bool] = []  # the storage's tensor requires grad (made from parameters)
        self.wide: list[bool] = []  # mixed precision: the storage is fp32 (else the low dtype)
        self.temps: list[int] = []  # bytes alive only during step t
        self.step_node: list[int] = []
        self.node_storage: dict[int, int] = {}
        self.layouts: dict[int, lay.Strides] = {}  # node → its result's strides (kinds/layout.py; absent: ())
        self.runs: dict[lay.Strides, Run] = {}  # how a layer runs, by its input's strides (all else is the walk's)
        self.node_new: dict[int, int] = {}
        self.saved: dict[int, int] = {}  # storage → the node that first saved it
        self.saved_private: dict[int, int] = {}  # node → bytes of tensors of its own it saves
        self.saved_buffers = 0
        self.param_tensors = 0
        self.counters = 0
        self.index = 0  # int64 elements among the cost's buffers
        self.to_end: list[int] = []  # storages alive to the end of the forward (autocast's cached casts)

    def bytes_of(self, t: T, wide: bool = False) -> int:
        """Bytes of t in a step that runs in fp32 (``wide``, mixed precision) or else the activations' dtype;
        the parameters' dtype is fp32 under mixed precision."""
        return t.elements * (self.widened if wide else self.narrow)[t.dtype]

    def storage(self, nbytes: int, at: int, node: int, wide: bool = False) -> int:
        """A new storage of ``nbytes`` allocated at step ``at`` by a node (whether it requires grad and whether it
        is fp32 are kept only where they count: in training, under mixed precision)."""
        self.size.append(nbytes)
        self.alloc.append(at)
        self.last.append(at)
        self.owner.append(node)
        if self.tracked:
            self.grad.append(False)
            self.wide.append(wide)
        return len(self.size) - 1

    def run(self) -> None:
        g = self.g
        dead, train, layouts = g.dead, self.train, self.layouts
        for node in g.nodes:
            if node.index in dead or (node.training_only and not train):
                continue
            if node.kind == "input":  # under mixed precision the fp32 input, cast where a low op reads it
                width = 4 if self.opts.mixed else self.act
                self.node_storage[node.index] = self.storage(width * g.batch * _size(node), -1, node.index,
                                                             self.opts.mixed)
                continue
            prog = self.program(node)
            self.node(node, prog)
            layouts[node.index] = prog.layout if node.layer is not None else \
                _merged(g, node, layouts, self.opts.inplace)
        end = len(self.step_node)
        for s in self.to_end:
            self.last[s] = end
        for o in g.outputs:
            if o.node in self.node_storage:
                self.last[self.node_storage[o.node]] = end

    def program(self, node: Node) -> Program:
        g = self.g
        layout = self.layouts.get(node.inputs[0], ())
        run = self.runs.get(layout)
        if run is None:
            run = self.runs[layout] = Run(g.batch, self.train, self.opts.inplace, self.opts.fold_bn, layout)
        if node.layer is not None:
            rule = KINDS[node.layer.kind].memory
            assert rule is not None, node.layer.kind
            return memo(rule, node.layer, g.nodes[node.inputs[0]].shape, node.shape, run)
        n = g.batch * _size(node)
        if node.kind == "split":
            return Program((Step((0,), 0),))
        if node.kind == "concat":
            return Program((Step(tuple(range(len(node.inputs))), T(n), autocast=WIDEST),))
        # add and mul: binary, left to right (an add in place writes into its first input)
        k = len(node.inputs)
        steps = []
        for i in range(1, k):
            prev = 0 if i == 1 else k + i - 2
            into = node.inplace and self.opts.inplace and node.kind == "add"
            steps.append(Step((prev, i), prev if into else T(n), product=node.kind == "mul"))
        return Program(tuple(steps))

    def node(self, node: Node, prog: Program) -> None:
        values = [self.node_storage[i] for i in node.inputs]
        mixed, train, last, index, step_node = self.opts.mixed, self.train, self.last, node.index, self.step_node
        # (the elements of each value: only autocast's casts need them)
        elements = [self.g.batch * _size(self.g.nodes[i]) for i in node.inputs] if mixed else []
        for step in prog.steps:
            result = step.result
            if not mixed:  # every storage is in the activations' dtype
                wide = False
                reads = [values[v] for v in step.reads]
            else:
                wide = self.wide[values[result]] if isinstance(result, int) else \
                    self.runs_wide(step, [values[v] for v in step.reads])
                reads = self.casts(index, step, values, elements, wide)
            t = len(step_node)
            step_node.append(index)
            for r in reads:
                last[r] = t
            if isinstance(result, T):
                values.append(self.storage(self.bytes_of(result, wide), t, index, wide))
                if mixed:
                    elements.append(result.elements)
            else:
                s = values[result]
                last[s] = t
                values.append(s)
                if mixed:
                    elements.append(elements[result])
            self.temps.append(sum(self.bytes_of(x, wide) for x in step.temps) if step.temps else 0)
            if train:
                self.saves(index, step, values, reads, wide)
        out = values[-1]
        self.node_storage[index] = out
        if self.alloc[out] >= 0 and self.owner[out] == index:
            self.node_new[index] = self.size[out]
        if train:  # (what the optimizer and the buffers take: the training walk's)
            self.param_tensors += prog.param_tensors
            self.counters += prog.counters
            self.index += prog.int64_buffers

    def saves(self, node: int, step: Step, values: list[int], reads: list[int], wide: bool) -> None:
        """Training: whether the step's result requires grad (made from parameters, or from a value that
        does), and what autograd saves for it (each storage once, by the first node that saves it)."""
        grad = step.weights or any(self.grad[r] for r in reads)
        self.grad[values[-1]] = self.grad[values[-1]] or grad
        if not grad:
            return
        read = dict(zip(step.reads, reads, strict=True))  # value → the storage read (autocast's copy)
        saves = step.saves
        if step.product and len(reads) == 2:
            a, b = reads
            saves = tuple(v for v, other in zip(step.reads, (b, a), strict=True) if self.grad[other])
        mixed = self.opts.mixed
        weight = not step.product or any(self.grad[r] for r in reads)  # its copy saved
        private = step.casts[0] * self.act if mixed and step.autocast == LOW and weight else 0
        for item in saves:
            if isinstance(item, T) and mixed and step.autocast == LOW and item.buffer:
                private += item.elements * self.act  # the copy autocast made of the buffer it read
            elif isinstance(item, T):
                if item.buffer:
                    self.saved_buffers += self.bytes_of(item, wide)
                private += self.bytes_of(item, wide)
            else:
                self.saved.setdefault(read.get(item, values[item]), node)
        if private:
            self.saved_private[node] = self.saved_private.get(node, 0) + private

    def runs_wide(self, step: Step, reads: list[int]) -> bool:
        """Mixed precision: whether a step with a new result runs in fp32 (else the low dtype): see
        :data:`convcalc.kinds.steps.AUTOCAST`. What is made from parameters alone is fp32."""
        if not self.opts.mixed or step.autocast == LOW:
            return False
        if step.autocast == PROMOTE or not reads or (step.autocast == WIDEST and step.weights):
            return True
        return any(self.wide[r] for r in reads)

    def casts(self, node: int, step: Step, values: list[int], elements: list[int], wide: bool) -> list[int]:
        """The storages a step reads under autocast, after the copies it makes first, each a step of the node
        before it: a LOW step's parameters (one copy of them; at inference alive to the end of the forward,
        autocast's cache; in training the weights' copies are saved) and its fp32 reads, right to left (the
        order PyTorch's autocast wrapper evaluates its arguments in), a WIDEST step's narrower reads, left to
        right (a tensor list's order)."""
        reads = [values[v] for v in step.reads]
        if step.autocast not in (LOW, WIDEST):
            return reads
        order = range(len(reads) - 1, -1, -1) if step.autocast == LOW else range(len(reads))
        todo = [i for i in order if self.wide[reads[i]] != wide]
        params = sum(step.casts) * self.act if step.autocast == LOW and not self.train else 0
        copy = self.storage(params, len(self.step_node), node) if params else -1
        if params and step.cached:  # allocated with the first copy (or with the op itself when it reads no fp32)
            self.to_end.append(copy)
        for i in todo:
            t = len(self.step_node)
            self.step_node.append(node)
            self.temps.append(0)
            self.last[reads[i]] = t
            cast = self.storage(elements[step.reads[i]] * (4 if wide else self.act), t, node, wide)
            self.grad[cast] = self.grad[reads[i]]
            reads[i] = cast
        if copy >= 0 and not step.cached:  # freed after the op (the next step)
            self.last[copy] = len(self.step_node)
        return reads

    def sweep(self) -> tuple[list[int], int]:
        """Live bytes per step, and the peak step (the first of the largest)."""
        steps = len(self.step_node)
        adds = [0] * (steps + 1)
        frees = [0] * (steps + 1)
        start = 0
        for s, nbytes in enumerate(self.size):
            if self.alloc[s] < 0:
                start += nbytes
            else:
                adds[self.alloc[s]] += nbytes
            frees[min(self.last[s], steps)] += nbytes
        live, cur, best = [], start, 0
        for t in range(steps):
            cur += adds[t]
            live.append(cur + self.temps[t])
            if live[t] > live[best]:
                best = t
            cur -= frees[t]
        return live, best

    def peak_bytes(self, live: list[int], peak: int) -> int:
        """The inference peak: the live bytes at the peak step (a graph of no steps: every storage, the input)."""
        return live[peak] if live else sum(self.size)


def _size(node: Node) -> int:
    return node.shape.c * node.shape.h * node.shape.w


def _merged(g: Graph, node: Node, layouts: dict[int, lay.Strides], inplace: bool) -> lay.Strides:
    """The strides of a split's slice (its input's), a concat's result (``torch.cat``) and an add's or mul's
    (TensorIterator's, left to right; an add in place: its first input's)."""
    ins: list[lay.Operand] = [((g.batch, *g.nodes[i].shape), layouts.get(i, ())) for i in node.inputs]
    out = (g.batch, *node.shape)
    if node.kind == "split":
        return lay.canonical(out, lay.strides(*ins[0]))
    if node.kind == "concat":
        return lay.concatenated(out, ins)
    if node.inplace and inplace and node.kind == "add":
        return ins[0][1]
    acc = ins[0]
    for op in ins[1:]:
        sizes = tuple(max(a, b) for a, b in zip(acc[0], op[0], strict=True))
        acc = (sizes, lay.elementwise(sizes, acc, op))
    return acc[1]
