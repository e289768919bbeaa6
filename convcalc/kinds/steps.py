"""The memory rule of a layer kind: the tensor operations a layer runs, what each allocates and what autograd
saves, as PyTorch runs them on the CPU.

A layer is a short program of :class:`Step` s over numbered values: value 0 is the layer's input (a merge's
inputs are 0, 1, …), and step k's result is value k + 1 (the layer's output is the last step's result).
Each step reads values, and its result is either a new tensor (:class:`T`, elements over the whole batch)
or shares the storage of a value it names (a view, or an operation in place). In training it also lists
what autograd saves for the backward pass: values (by number) or tensors of its own (a :class:`T`: BN's
per-channel statistics, a max pool's int64 indices, a dropout mask, the copy an in-place SiLU keeps), and
model buffers autograd holds (BN's running statistics: ``buffer=True``). ``temps`` are tensors an operation
returns beside its result and that nothing reads (a max pool's indices at inference, LayerNorm's mean and
reciprocal deviation): they are alive only during their step.

:mod:`convcalc.metrics.memory` runs these programs in the graph's order: peak live memory (each storage
freed after its last reader) and the bytes saved for backward (each storage once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

#: the dtype tags of a tensor: the activations' dtype (``--dtype``), 32-bit statistics, 64-bit indices, bools
ACT, FP32, INT64, BOOL = "act", "fp32", "int64", "bool"
#: bytes per element of each dtype a user can ask for (``--dtype``), in this order
BYTES: Mapping[str, int] = MappingProxyType({"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1})


class T(NamedTuple):
    """A tensor of ``elements`` (whole batch) of dtype ``dtype``; ``buffer``: a model buffer (not allocated by
    the forward pass, counted where autograd saves it)."""

    elements: int
    dtype: str = ACT
    buffer: bool = False


class Step(NamedTuple):
    """One tensor operation: the values it reads, its result (a new tensor, or the number of the value whose
    storage it shares), what autograd saves in training, and what it returns beside that nothing reads."""

    reads: tuple[int, ...]
    result: T | int
    saves: tuple[int | T, ...] = ()
    temps: tuple[T, ...] = ()
    #: computed with learnable parameters: its result requires grad even where its inputs do not (autograd
    #: records, and saves, only where some input requires grad: not after the model's input alone)
    weights: bool = False
    #: a product of its two reads: autograd saves each one only where the other requires grad (``saves`` is
    #: then ignored)
    product: bool = False


class Run(NamedTuple):
    """How a layer runs: the batch, training (autograd records) or inference (``no_grad``), whether the spec
    asks for the layer in place (and the analysis honours it), and whether batch norm is folded."""

    batch: int
    train: bool
    inplace: bool
    fold_bn: bool = False


class Program(NamedTuple):
    """A layer's memory rule: its steps, its parameter tensors (an optimizer keeps per-tensor state), its
    int64 counter buffers (BN's ``num_batches_tracked``, not in the cost's buffers) and how many of the
    cost's buffer elements are int64 (attention's relative position index)."""

    steps: tuple[Step, ...]
    param_tensors: int = 0
    counters: int = 0
    int64_buffers: int = 0


#: (layer, input shape, output shape, run) → the program (shapes per sample; the program's sizes per batch)
MemoryFn = Callable[..., Program]


def new(elements: int) -> T:
    """A tensor of the activations' dtype."""
    return T(elements)


# ---------------------------------------------------------------- the common programs


def saves_input(n_out: int, params: int = 0) -> Program:
    """Result new; saves its input (conv, linear, avg pool, GELU, SiLU, ReLU6, …)."""
    return Program((Step((0,), new(n_out), (0,), weights=params > 0),), params)


def saves_output(n_out: int, params: int = 0) -> Program:
    """Result new; saves its result (ReLU, sigmoid, tanh, softmax)."""
    return Program((Step((0,), new(n_out), (1,), weights=params > 0),), params)


def saves_nothing(n_out: int, params: int = 0) -> Program:
    """Result new; saves nothing (concat, add, pixel shuffle, upsampling, a mean over the map, …)."""
    return Program((Step((0,), new(n_out), weights=params > 0),), params)


def view() -> Program:
    """Result shares its input's storage; saves nothing (flatten, identity, a view)."""
    return Program((Step((0,), 0),))


def in_place(saves_result: bool, n: int) -> Program:
    """In place: the result is the input's storage. Autograd saves the result where the derivative needs
    only it (ReLU, leaky ReLU, ELU), else a copy of the input made before it is overwritten (ReLU6, SiLU,
    hard-swish, hard-sigmoid, Mish: PyTorch's ``self.clone()``)."""
    return Program((Step((0,), 0, (1,) if saves_result else (new(n),)),))


def count(c: int, h: int, w: int, batch: int) -> int:
    """Elements of a batch of C×H×W maps."""
    return batch * c * h * w


def padded_first(pads: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    """Whether PyTorch pads the input into a tensor of its own first (``nn.ZeroPad2d`` / ``F.pad``): padding
    that differs between the two ends of an axis, which a conv or pool cannot take natively."""
    return any(b != e for b, e in pads)
