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

Under mixed precision (autocast), each step also says how it runs (``autocast``, PyTorch's CPU op lists): in
the dtype of what it reads (the default), in the low dtype (:data:`LOW`: its fp32 reads and its parameters
cast first, ``casts`` the parameters' elements), fp32 because an fp32 parameter joins it (:data:`PROMOTE`),
or in the widest dtype of its reads and parameters, the narrower reads cast first (:data:`WIDEST`).

Layout: where PyTorch copies depends on the strides a tensor has, so the pass carries each layer's result's
strides (:mod:`convcalc.kinds.layout`, ``()`` for contiguous) from layer to layer: a rule reads its input's
as ``Run.layout`` and gives its result's as ``Program.layout``, by PyTorch's rule for its operations (a new
result in the input's suggested format, TensorIterator's elementwise result, a view's strides). A map that
is not contiguous (a channel split's slice at batch > 1, LayerNorm's channels-last result and what
elementwise operations and convolutions make of it, a cropped transposed conv) is copied where PyTorch
copies it: by ``flatten`` and ``tokens`` where no view exists, by ``channel_shuffle``'s ``.contiguous()``,
by ``groupnorm`` (a map contiguous in neither format) and by ``linear`` on tokens whose rows are no view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from convcalc.kinds.layout import Operand, Strides

#: the dtype tags of a tensor: the activations' dtype (``--dtype``), 32-bit statistics, 64-bit indices, bools,
#: and the parameters' dtype (fp32 under mixed precision, else the activations'): the model's buffers, and the
#: statistics a normalisation with parameters or running buffers computes (PyTorch's CPU kernels keep them in
#: the parameters' dtype where it differs from the input's, else in the input's)
ACT, FP32, INT64, BOOL, PARAMS = "act", "fp32", "int64", "bool", "params"
#: bytes per element of each dtype a user can ask for (``--dtype``), in this order
BYTES: Mapping[str, int] = MappingProxyType({"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1})
#: how a step runs under autocast (mixed precision), beside the default "" (in the widest dtype of what it
#: reads, by type promotion without a copy; a parameter does not change it: BN's, LayerNorm's and GroupNorm's
#: kernels take fp32 parameters with a low input and keep its dtype): LOW, autocast's ``lower_precision_fp``
#: list (conv, linear, matmul, bmm, prelu, SDPA): its fp32 reads and its parameters are cast (copied) to the
#: low dtype, the parameters' copies cached to the end of the forward; PROMOTE, an fp32 parameter or buffer
#: is an operand (``x · γ``, ``x + β``): an fp32 result without a copy; WIDEST, autocast's ``promote`` list
#: (``cat``, ``stack``): the reads narrower than the widest of its reads and parameters are cast (copied)
LOW, PROMOTE, WIDEST = "low", "promote", "widest"
AUTOCAST: tuple[str, ...] = ("", LOW, PROMOTE, WIDEST)


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
    #: then ignored); of its one read and its weight (a linear layer's matrix product): the weight's autocast
    #: copy is saved only where the read requires grad (``saves`` holds)
    product: bool = False
    #: how it runs under autocast (one of :data:`AUTOCAST`)
    autocast: str = ""
    #: a LOW step's parameters, in elements: (those autograd saves: a conv's or linear's weight, PReLU's
    #: slope; those it does not: a bias), cast to the low dtype (each parameter once: autocast's cache)
    casts: tuple[int, int] = (0, 0)
    #: whether those copies are autocast's cached ones (parameters that take a gradient), alive to the end of the
    #: forward at inference; False: copied anew and freed after the op (DFL's fixed weight)
    cached: bool = True


class Run(NamedTuple):
    """How a layer runs: the batch, training (autograd records) or inference (``no_grad``), whether the spec
    asks for the layer in place (and the analysis honours it), whether batch norm is folded, and the
    strides of its input as PyTorch holds it (``()``: contiguous)."""

    batch: int
    train: bool
    inplace: bool
    fold_bn: bool = False
    layout: Strides = ()

    def source(self, inp: tuple[int, int, int]) -> Operand:
        """The input as a layout operand: its N×C×H×W sizes and strides."""
        return (self.batch, *inp), self.layout


class Program(NamedTuple):
    """A layer's memory rule: its steps, its parameter tensors (an optimizer keeps per-tensor state), its
    int64 counter buffers (BN's ``num_batches_tracked``, not in the cost's buffers) and how many of the
    cost's buffer elements are int64 (attention's relative position index), and the strides of its result
    (``()``: contiguous)."""

    steps: tuple[Step, ...]
    param_tensors: int = 0
    counters: int = 0
    int64_buffers: int = 0
    layout: Strides = ()


#: (layer, input shape, output shape, run) → the program (shapes per sample; the program's sizes per batch)
MemoryFn = Callable[..., Program]


def new(elements: int) -> T:
    """A tensor of the activations' dtype."""
    return T(elements)


# ---------------------------------------------------------------- the common programs


def saves_input(n_out: int, params: int = 0, layout: Strides = ()) -> Program:
    """Result new (of strides ``layout``); saves its input (conv, linear, avg pool, GELU, SiLU, ReLU6, …)."""
    return Program((Step((0,), new(n_out), (0,), weights=params > 0),), params, layout=layout)


def saves_output(n_out: int, params: int = 0, layout: Strides = ()) -> Program:
    """Result new (of strides ``layout``); saves its result (ReLU, sigmoid, tanh, softmax)."""
    return Program((Step((0,), new(n_out), (1,), weights=params > 0),), params, layout=layout)


def saves_nothing(n_out: int, params: int = 0, layout: Strides = ()) -> Program:
    """Result new (of strides ``layout``); saves nothing (concat, add, pixel shuffle, upsampling, a mean over the
    map, …)."""
    return Program((Step((0,), new(n_out), weights=params > 0),), params, layout=layout)


def low(step: Step, saved: int, unsaved: int = 0) -> Step:
    """The step as autocast runs it in the low dtype (:data:`LOW`), casting parameters of ``saved`` elements
    that autograd saves (a weight) and ``unsaved`` it does not (a bias)."""
    return step._replace(autocast=LOW, casts=(saved, unsaved))


def view(layout: Strides = ()) -> Program:
    """Result shares its input's storage (with strides ``layout``); saves nothing (flatten, identity, a view)."""
    return Program((Step((0,), 0),), layout=layout)


def in_place(saves_result: bool, n: int, layout: Strides = ()) -> Program:
    """In place: the result is the input's storage (its strides ``layout``). Autograd saves the result where
    the derivative needs only it (ReLU, leaky ReLU, ELU), else a copy of the input made before it is overwritten
    (ReLU6, SiLU, hard-swish, hard-sigmoid, Mish: PyTorch's ``self.clone()``)."""
    return Program((Step((0,), 0, (1,) if saves_result else (new(n),)),), layout=layout)


def count(c: int, h: int, w: int, batch: int) -> int:
    """Elements of a batch of C×H×W maps."""
    return batch * c * h * w


def padded_first(pads: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    """Whether PyTorch pads the input into a tensor of its own first (``nn.ZeroPad2d`` / ``F.pad``): padding
    that differs between the two ends of an axis, which a conv or pool cannot take natively."""
    return any(b != e for b, e in pads)
