"""Memory: a pass over the finished graph, running each layer's memory rule (:mod:`convcalc.kinds.steps`) in
the spec's order (the walk: :mod:`convcalc.metrics.memory_walk`; :func:`memory_of` runs it for inference and
for training, :func:`inference_peak_bytes` only for inference, for the peak alone).

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
from convcalc.kinds.steps import BYTES
from convcalc.metrics.memory_walk import Walk

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


def memory_of(g: Graph, opts: MemoryOptions | None = None) -> Memory:
    """The memory of a graph (see the module docstring for every definition)."""
    opts = opts or MemoryOptions()
    opts.check()
    with paused_gc():
        infer = Walk(g, opts, train=False)
        infer.run()
        train = Walk(g, opts, train=True)
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
        inference_peak_bytes=infer.peak_bytes(live, peak),
        peak_layer=names[infer.step_node[peak]].name if live else g.nodes[0].name,
        alive_at_peak=alive,
        train_activation_bytes=sum(saved_by.values()),
        train_saved_buffer_bytes=train.saved_buffers, layers=rows)


def inference_peak_bytes(g: Graph, opts: MemoryOptions | None = None) -> int:
    """The inference peak of :func:`memory_of` (``inference_peak_bytes``) alone: only the inference walk runs
    (not the training one, nor the per-layer rows), for a sweep's many configurations."""
    opts = opts or MemoryOptions()
    opts.check()
    with paused_gc():
        infer = Walk(g, opts, train=False)
        infer.run()
        return infer.peak_bytes(*infer.sweep())


def _alive(w: Walk, t: int, names: dict[int, Node]) -> tuple[Alive, ...]:
    """The tensors alive at step t, largest first (temps of that step under its layer)."""
    out = [Alive(names[w.owner[s]].name, w.size[s]) for s in range(len(w.size))
           if w.alloc[s] <= t <= w.last[s] and w.size[s]]
    if w.temps[t]:
        out.append(Alive(names[w.step_node[t]].name + " (returned, unused)", w.temps[t]))
    return tuple(sorted(out, key=lambda a: -a.bytes))

