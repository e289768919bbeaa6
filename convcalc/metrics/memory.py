"""Memory: a pass over the finished graph, running each layer's memory rule (:mod:`convcalc.kinds.steps`) in
the spec's order.

- **weights**: parameters × the parameters' bytes; **buffers** (BN's running statistics, sin-cos tables) ×
  the same, plus 8 bytes per int64 counter (BN's ``num_batches_tracked``); in training **gradients** (one per
  parameter) and the **optimizer**'s state: SGD none, momentum one buffer per parameter, Adam/AdamW two, plus
  a 4-byte ``step`` tensor per parameter tensor (PyTorch's default, non-fused, non-capturable step).
- **inference peak**: the largest sum, over the steps in order, of the bytes of every live tensor, a tensor
  being live from the step that allocates it to its last reader (the input from the start; the outputs to
  the end); views and in-place steps allocate nothing; what an operation returns that nothing reads (a max
  pool's indices) is live during its own step. Weights and buffers are not counted in it (see above).
- **training activations**: the bytes autograd saves for backward, each storage once (a tensor two layers
  save, or that an in-place step overwrote and saved, counts once); parameters are not counted, the buffers
  autograd saves (BN's running statistics) are, as ``saved_tensors_hooks`` sees them.

Mixed precision (``mixed``, ``dtype`` fp16 or bf16) as PyTorch's CPU autocast runs it (``torch.autocast("cpu",
dtype=torch.bfloat16)``, measured in tests/test_memory_mixed.py): the model stays fp32 (parameters, buffers,
gradients, optimizer state, and the model's input); each step runs as its ``autocast`` says
(:data:`~convcalc.kinds.steps.AUTOCAST`). Convolutions, linear layers, matrix products, PReLU and SDPA
(autocast's lower-precision list) run in the low dtype: each fp32 tensor they read is cast first (a copy,
freed after its op: the model's input where a conv reads it), their parameters once (autocast's cache holds
the copies to the end of the forward at inference; in training the weights' copies are saved, a linear's
only where its input requires grad; the biases' are not). ``cat`` (the promote list) casts its narrower
inputs to the widest. Everything else (BN, LayerNorm, GroupNorm, activations, pools, upsampling, softmax,
dropout, add, mul) runs in the dtype of what it reads, fp32 where an operand is fp32 (an fp32 shortcut;
layer_scale's and BN's separate γ or β, pos_embed's table); the statistics of BN, and of LayerNorm and
GroupNorm with affine parameters, are fp32, else in the input's dtype. Not exact: global ``attention`` at
inference (autocast leaves ``nn.MultiheadAttention``'s fused op; convcalc keeps it, with its projections'
casts, not the explicit path's transient copies), and ``dfl``'s fixed weight (cast, not cached).
CUDA's fp16 autocast differs (not modelled: CI has PyTorch's CPU build only): layer_norm, group_norm,
upsampling and softmax run in fp32 there (a copy of a low input, fp32 results and statistics; softmax
without the copy), ``cat`` casts nothing (TensorIterator's promotion), exp, pow and sum are fp32, dropout
keeps a 1-byte mask; its lower-precision list has the same ops for convcalc's kinds, and CPU's fp32 list
(3-D pools, reflection padding, grid sampling) none. Exact integers throughout.
"""

from __future__ import annotations

from typing import NamedTuple

from convcalc.errors import Diagnostic, Location, UsageError
from convcalc.gcpause import paused_gc
from convcalc.graph import Graph, Node
from convcalc.kinds import KINDS
from convcalc.kinds import layout as lay
from convcalc.kinds.steps import ACT, BOOL, BYTES, FP32, INT64, LOW, PARAMS, PROMOTE, WIDEST, Program, Run, Step, T

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
#: bytes of PyTorch's per-parameter-tensor ``step`` of Adam and AdamW (a float32 scalar)
STEP_BYTES = 4
COUNTER_BYTES = 8


class MemoryOptions(NamedTuple):
    """What to measure: the dtype of the activations (and weights), training or inference, the optimizer,
    mixed precision, whether to honour the spec's in-place layers, and batch norm folded into its conv."""

    dtype: str = "fp32"
    train: bool = False
    optimizer: str = "adamw"
    mixed: bool = False
    inplace: bool = True
    fold_bn: bool = False

    def check(self) -> None:
        """:class:`UsageError` for a dtype, optimizer or combination convcalc cannot model."""
        problems = []
        if self.dtype not in BYTES:
            problems.append((f"unknown dtype {self.dtype!r}", "one of " + ", ".join(BYTES)))
        if self.optimizer not in OPTIMIZERS:
            problems.append((f"unknown optimizer {self.optimizer!r}", "one of " + ", ".join(OPTIMIZERS)))
        if self.mixed and self.dtype not in ("fp16", "bf16"):
            problems.append((f"mixed precision needs --dtype fp16 or bf16, found {self.dtype}",
                             "mixed precision keeps fp32 master weights and runs activations in fp16 or bf16"))
        if self.train and self.dtype == "int8":
            problems.append(("int8 is an inference dtype", "train in fp32, fp16 or bf16 (or --mixed)"))
        if self.train and self.fold_bn:
            problems.append(("batch norm is folded only for inference", "drop --fold-bn, or --train"))
        if problems:
            raise UsageError([Diagnostic(Location("--dtype", 0, 0), (), m, h) for m, h in problems])


class LayerMemory(NamedTuple):
    """One layer: the bytes its result allocates at inference (0 for a view or an in-place step), the live
    bytes while it runs (its largest step), and the bytes it is the first to save for backward."""

    name: str
    type: str
    output_bytes: int
    live_bytes: int
    saved_bytes: int


class Alive(NamedTuple):
    """A tensor alive at the peak: the layer that made it (``input``: the model's input) and its bytes."""

    layer: str
    bytes: int


class Memory(NamedTuple):
    """The memory of one model for one set of :class:`MemoryOptions`, at the graph's batch."""

    options: MemoryOptions
    batch: int
    weights_bytes: int
    buffers_bytes: int
    gradients_bytes: int
    optimizer_bytes: int
    inference_peak_bytes: int
    peak_layer: str
    alive_at_peak: tuple[Alive, ...]
    train_activation_bytes: int
    train_saved_buffer_bytes: int
    layers: tuple[LayerMemory, ...] = ()

    @property
    def inference_total_bytes(self) -> int:
        """Weights, buffers and the inference peak."""
        return self.weights_bytes + self.buffers_bytes + self.inference_peak_bytes

    @property
    def train_total_bytes(self) -> int:
        """Weights, buffers, gradients, optimizer state and the saved activations (the transient tensors of
        the backward pass are not counted)."""
        return self.weights_bytes + self.buffers_bytes + self.gradients_bytes + self.optimizer_bytes + \
            self.train_activation_bytes

    @property
    def total_bytes(self) -> int:
        """The total of the mode asked (training or inference)."""
        return self.train_total_bytes if self.options.train else self.inference_total_bytes


class _Walk:
    """One run of every included node's program in order: storages, their allocation and last use, what is
    saved. ``train``: training programs (autograd saves), else inference (``no_grad``)."""

    def __init__(self, g: Graph, opts: MemoryOptions, train: bool) -> None:
        self.g, self.opts, self.train = g, opts, train
        self.act = BYTES[opts.dtype]
        self.size: list[int] = []
        self.alloc: list[int] = []
        self.last: list[int] = []
        self.owner: list[int] = []
        self.grad: list[bool] = []  # the storage's tensor requires grad (made from parameters)
        self.wide: list[bool] = []  # mixed precision: the storage is fp32 (else the low dtype)
        self.temps: list[int] = []  # bytes alive only during step t
        self.step_node: list[int] = []
        self.node_storage: dict[int, int] = {}
        self.layouts: dict[int, lay.Strides] = {}  # node → its result's strides (kinds/layout.py; absent: ())
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
        if self.opts.mixed and (t.dtype == PARAMS or (t.dtype == ACT and wide)):
            return t.elements * 4
        return t.elements * {ACT: self.act, PARAMS: self.act, FP32: 4, INT64: 8, BOOL: 1}[t.dtype]

    def storage(self, nbytes: int, at: int, node: int, wide: bool = False) -> int:
        self.size.append(nbytes)
        self.alloc.append(at)
        self.last.append(at)
        self.owner.append(node)
        self.grad.append(False)
        self.wide.append(wide)
        return len(self.size) - 1

    def run(self) -> None:
        g = self.g
        for node in g.nodes:
            if node.index in g.dead or (node.training_only and not self.train):
                continue
            if node.kind == "input":  # under mixed precision the fp32 input, cast where a low op reads it
                width = 4 if self.opts.mixed else self.act
                self.node_storage[node.index] = self.storage(width * g.batch * _size(node), -1, node.index,
                                                             self.opts.mixed)
                continue
            prog = self.program(node)
            self.node(node, prog)
            self.layouts[node.index] = prog.layout if node.layer is not None else \
                _merged(g, node, self.layouts, self.opts.inplace)
        end = len(self.step_node)
        for s in self.to_end:
            self.last[s] = end
        for o in g.outputs:
            if o.node in self.node_storage:
                self.last[self.node_storage[o.node]] = end

    def program(self, node: Node) -> Program:
        g = self.g
        run = Run(g.batch, self.train, self.opts.inplace, self.opts.fold_bn, self.layouts.get(node.inputs[0], ()))
        if node.layer is not None:
            rule = KINDS[node.layer.kind].memory
            assert rule is not None, node.layer.kind
            return rule(node.layer, g.nodes[node.inputs[0]].shape, node.shape, run)
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
        elements = [self.g.batch * _size(self.g.nodes[i]) for i in node.inputs]
        for step in prog.steps:
            if isinstance(step.result, int):  # in place or a view: the storage's dtype
                wide = self.wide[values[step.result]]
            else:
                wide = self.runs_wide(step, [values[v] for v in step.reads])
            reads = self.casts(node.index, step, values, elements, wide) if self.opts.mixed else \
                [values[v] for v in step.reads]
            t = len(self.step_node)
            self.step_node.append(node.index)
            grad = step.weights
            for r in reads:
                self.last[r] = t
                grad = grad or self.grad[r]
            if isinstance(step.result, T):
                values.append(self.storage(self.bytes_of(step.result, wide), t, node.index, wide))
                elements.append(step.result.elements)
            else:
                s = values[step.result]
                self.last[s] = t
                values.append(s)
                elements.append(elements[step.result])
            self.grad[values[-1]] = self.grad[values[-1]] or grad
            self.temps.append(sum(self.bytes_of(x, wide) for x in step.temps))
            read = dict(zip(step.reads, reads, strict=True))  # value → the storage read (autocast's copy)
            saves = step.saves
            if step.product and len(reads) == 2:
                a, b = reads
                saves = tuple(v for v, other in zip(step.reads, (b, a), strict=True) if self.grad[other])
            if self.train and grad:
                weight = not step.product or any(self.grad[r] for r in reads)  # its copy saved
                private = step.casts[0] * self.act if self.opts.mixed and step.autocast == LOW and weight else 0
                for item in saves:
                    if isinstance(item, T) and self.opts.mixed and step.autocast == LOW and item.buffer:
                        private += item.elements * self.act  # the copy autocast made of the buffer it read
                    elif isinstance(item, T):
                        if item.buffer:
                            self.saved_buffers += self.bytes_of(item, wide)
                        private += self.bytes_of(item, wide)
                    else:
                        self.saved.setdefault(read.get(item, values[item]), node.index)
                if private:
                    self.saved_private[node.index] = self.saved_private.get(node.index, 0) + private
        out = values[-1]
        self.node_storage[node.index] = out
        if self.alloc[out] >= 0 and self.owner[out] == node.index:
            self.node_new[node.index] = self.size[out]
        self.param_tensors += prog.param_tensors
        self.counters += prog.counters
        self.index += prog.int64_buffers

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


def memory_of(g: Graph, opts: MemoryOptions | None = None) -> Memory:
    """The memory of a graph (see the module docstring for every definition)."""
    opts = opts or MemoryOptions()
    opts.check()
    with paused_gc():
        infer = _Walk(g, opts, train=False)
        infer.run()
        train = _Walk(g, opts, train=True)
        train.run()
        live, peak = infer.sweep()
    included = [n for n in g.nodes if n.index not in g.dead]
    params = sum(n.cost.params for n in included)
    buffers = sum(n.cost.buffers for n in included)
    pbytes = 4 if opts.mixed else BYTES[opts.dtype]
    optimizer = {"sgd": 0, "momentum": params * pbytes,
                 "adam": 2 * params * pbytes + STEP_BYTES * train.param_tensors}
    optimizer["adamw"] = optimizer["adam"]
    saved_by: dict[int, int] = dict(train.saved_private)
    for s, n in train.saved.items():
        saved_by[n] = saved_by.get(n, 0) + train.size[s]
    layer_live: dict[int, int] = {}
    for t, n in enumerate(infer.step_node):
        layer_live[n] = max(layer_live.get(n, 0), live[t])
    names = {n.index: n for n in g.nodes}
    rows = tuple(LayerMemory(n.name, n.kind, infer.node_new.get(n.index, 0), layer_live.get(n.index, 0),
                             saved_by.get(n.index, 0)) for n in g.layers if n.index not in g.dead)
    alive = _alive(infer, peak, names) if live else ()
    return Memory(
        options=opts, batch=g.batch, weights_bytes=params * pbytes,
        buffers_bytes=(buffers - train.index) * pbytes + 8 * train.index + COUNTER_BYTES * train.counters,
        gradients_bytes=params * pbytes, optimizer_bytes=optimizer[opts.optimizer],
        inference_peak_bytes=live[peak] if live else sum(infer.size),
        peak_layer=names[infer.step_node[peak]].name if live else g.nodes[0].name,
        alive_at_peak=alive,
        train_activation_bytes=sum(saved_by.values()),
        train_saved_buffer_bytes=train.saved_buffers, layers=rows)


def _alive(w: _Walk, t: int, names: dict[int, Node]) -> tuple[Alive, ...]:
    """The tensors alive at step t, largest first (temps of that step under its layer)."""
    out = [Alive(names[w.owner[s]].name, w.size[s]) for s in range(len(w.size))
           if w.alloc[s] <= t <= w.last[s] and w.size[s]]
    if w.temps[t]:
        out.append(Alive(names[w.step_node[t]].name + " (returned, unused)", w.temps[t]))
    return tuple(sorted(out, key=lambda a: -a.bytes))

