"""PyTorch's own memory, measured (torch only): the bytes autograd saves for backward, and the peak of live
tensor storages over an inference forward pass, for the memory cross-checks.

* saved: ``torch.autograd.graph.saved_tensors_hooks`` over a training forward; each storage once (all are
  alive together, held by the graph), parameters' storages excluded (buffers counted).
* peak: a ``TorchDispatchMode`` records every aten op under ``no_grad``: the storages its tensors read and
  those its results allocate (a result whose storage is none of its inputs' is a new allocation, even at an
  address freed before). A storage is live from the op that allocates it (the input: from the start) to its
  last reader (outputs: to the end); the peak is the largest sum of live bytes over the ops. Parameters and
  buffers are not counted.
* ``autocast``: a low dtype (``torch.bfloat16``) runs the forward in ``torch.autocast('cpu', dtype)`` (mixed
  precision; parameters fp32). The peak then also keeps alive to the end every storage that is still alive
  when the forward returns inside the region (``StorageWeakRef``): autocast's cache of the casts of the
  parameters, which holds them until the region exits.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor, nn
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class AllOutputs(nn.Module):
    """A convcalc export returning every declared output (its ``forward`` returns the first only)."""

    def __init__(self, net: Any) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.net.forward_outputs(x).values())


def autocast_region(dtype: Any = None) -> Any:
    """``torch.autocast('cpu', dtype)`` for a low dtype, else no region (fp32)."""
    return nullcontext() if dtype is None else torch.autocast("cpu", dtype=dtype)


def saved_bytes(model: nn.Module, x: Tensor, autocast: Any = None) -> int:
    """Bytes of the storages a training forward saves for backward (parameters excluded); ``autocast``: the
    forward in mixed precision (see the module docstring)."""
    model.train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: Tensor) -> Tensor:
        st = t.untyped_storage()
        # (a parameter the module holds without registering it: a level's share of an earlier level's weight)
        if st.data_ptr() not in params and not isinstance(t, nn.Parameter):
            seen[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast_region(autocast):
        model(x)
    return sum(seen.values())


class _Record(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: list[tuple[list[Any], list[Any]]] = []
        self.sizes: dict[Any, int] = {}
        self.current: dict[int, Any] = {}
        self.refs: dict[Any, StorageWeakRef] = {}

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        result = func(*args, **(kwargs or {}))
        ptrs = [t.untyped_storage().data_ptr() for t in tree_flatten((args, kwargs))[0] if isinstance(t, Tensor)]
        reads = [self.current.get(p, ("outside", p)) for p in ptrs]
        made = []
        for t in tree_flatten(result)[0]:
            if not isinstance(t, Tensor):
                continue
            p = t.untyped_storage().data_ptr()
            if p in ptrs:
                made.append(self.current.get(p, ("outside", p)))
            else:
                key = self.current[p] = ("made", len(self.sizes))
                self.sizes[key] = t.untyped_storage().nbytes()
                self.refs[key] = StorageWeakRef(t.untyped_storage())
                made.append(key)
        self.ops.append((reads, made))
        return result


def inference_peak(model: nn.Module, x: Tensor, autocast: Any = None) -> int:
    """The peak of live storage bytes over an inference forward, each freed after its last reader;
    ``autocast``: the forward in mixed precision, what is still alive at its end alive to the end."""
    model.eval()
    rec = _Record()
    with torch.no_grad(), autocast_region(autocast):
        with rec:
            y = model(x)
        held = [k for k, r in rec.refs.items() if not r.expired()] if autocast is not None else []
    start = ("outside", x.untyped_storage().data_ptr())
    alloc: dict[Any, int] = {start: -1}
    last: dict[Any, int] = {start: -1}
    size = {start: x.untyped_storage().nbytes(), **rec.sizes}
    for t, (reads, made) in enumerate(rec.ops):
        for k in reads + made:
            if k in size:
                alloc.setdefault(k, t)
                last[k] = t
    for o in tree_flatten(y)[0]:
        if isinstance(o, Tensor):
            p = o.untyped_storage().data_ptr()
            last[rec.current.get(p, ("outside", p))] = len(rec.ops)
    for k in held:
        last[k] = len(rec.ops)
    frees = [0] * (len(rec.ops) + 1)
    adds = [0] * (len(rec.ops) + 1)
    live = 0
    for k, a in alloc.items():
        if a < 0:
            live += size[k]
        else:
            adds[a] += size[k]
        frees[min(last[k], len(rec.ops))] += size[k]
    best = live  # the input, alive from the start (the whole peak of a model that runs no op)
    for t in range(len(rec.ops)):
        live += adds[t]
        best = max(best, live)
        live -= frees[t]
    return best
