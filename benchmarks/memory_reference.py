"""Measure the memory reference figures in tests/data/torchvision-memory.csv with PyTorch itself.

Not run in CI: it needs torch and torchvision (measured with torch 2.14.1, torchvision 0.29.1, CPU only):

    python -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/tv/bin/python benchmarks/memory_reference.py                      # every zoo model, batch 1 and 8
    /tmp/tv/bin/python benchmarks/memory_reference.py --models resnet18,vit_b_16 --out /tmp/m.csv
    /tmp/tv/bin/python benchmarks/memory_reference.py --validate resnet18,swin_t   # fake vs real, batch 1

Every model is built as ``torchvision.models.get_model(name, weights=None)`` (Inception v3 therefore keeps
its aux classifier, ``aux_logits=True``, as its published weights do, and ``transform_input=False``), except
GoogLeNet, built with ``aux_logits=False`` like the zoo's (the published weights drop its aux classifiers), and
run at the zoo's
default input size (``MODELS`` below: the published DEFAULT weights' ``transforms().crop_size``, except
vit_h_14 whose zoo entry is the 224 px build, ``image_size=224``), fp32, CPU, batch 1 and batch 8, input
``x = torch.randn(N, 3, H, W)`` after ``torch.manual_seed(0)`` (``requires_grad=False``). PyTorch defaults are
kept (e.g. the ``nn.MultiheadAttention`` inference fast path is enabled, SDPA picks its CPU backend itself).

Columns (bytes are ``untyped_storage().nbytes()`` unless said otherwise):

* ``train_saved_bytes``: ``model.train()``; the forward runs inside
  ``torch.autograd.graph.saved_tensors_hooks(pack, unpack)``; ``pack`` keys each tensor by its storage
  (``t.untyped_storage()._cdata``, the StorageImpl address: views share a storage and count once; the packed
  tensors are kept alive by the graph, so no address is reused) and records the storage's ``nbytes()``.
  Each storage counts once; storages of ``model.parameters()`` are excluded, storages of ``model.buffers()``
  (BatchNorm's running_mean / running_var, which native_batch_norm saves) are included.
  ``train_saved_buffer_bytes`` is the part of it that is buffer storages, ``train_saved_count`` the number of
  distinct storages counted (params excluded, buffers included).
* ``inference_peak_bytes``: ``model.eval()``, ``torch.no_grad()``, same input. A TorchDispatchMode records
  every aten op in order: the storages its tensor arguments read (args/kwargs flattened as pytrees; a view
  reads its base storage) and the storages of its outputs; an output storage that is not the storage of one
  of the op's own tensor arguments is allocated by this op (in-place ops and views return an existing one);
  a storage first seen as an argument is allocated at that op. Liveness is "freed after its last consumer":
  storage s is live at op t when alloc(s) <= t <= last(s), last(s) = the last op that reads s (its allocating
  op if none reads it); the model input's storage is allocated before op 0 (live from op 0 until its last
  read); the storages of the model's final outputs stay live to the end. ``inference_peak_bytes`` = max over
  ops t of the sum of nbytes of the storages live at t; ``peak_op`` = "index:aten op" of the first op at that
  maximum. Parameters and buffers are not counted (they are ``weights_bytes`` / ``buffers_bytes``).
  ``inference_peak_bytes_release`` is the same maximum under Python's real release semantics: s is live from
  alloc(s) to the op during which its StorageImpl was actually freed (``weakref.finalize`` on the storage; the
  input and the outputs are held to the end). The per-op timeline of each run goes to
  /tmp/memref/<model>_b<N>.json (op index, op name, storages allocated with bytes, live bytes both ways), and
  the autograd graph's saved tensors (node, attribute, shape, dtype, storage bytes) to
  /tmp/memref/<model>_b<N>_saved.json.
* Batch independent (same value on both rows): ``weights_bytes`` = sum of ``p.nbytes`` over parameters,
  ``buffers_bytes`` = over buffers (including BatchNorm's int64 ``num_batches_tracked``), ``param_tensors`` =
  number of parameter tensors, ``grad_bytes`` = bytes of ``p.grad`` after ``p.grad = torch.zeros_like(p)``;
  ``sgd_state_bytes`` (``SGD(lr=0.1)``), ``momentum_state_bytes`` (``SGD(lr=0.1, momentum=0.9)``),
  ``adam_state_bytes`` (``Adam`` defaults), ``adamw_state_bytes`` (``AdamW`` defaults) = sum of nbytes of every
  tensor in ``optimizer.state`` after one ``step()`` with those zero grads (Adam/AdamW include the per-parameter
  ``step`` tensors: a 0-d fp32 CPU tensor each, 4 * param_tensors bytes, noted in ``notes``). The optimizers
  run on real CPU parameters with the model's parameter shapes and dtypes (``torch.empty``; values do not
  change what the state holds).

Fake tensors: the forward passes run on ``torch._subclasses.fake_tensor.FakeTensorMode`` tensors (model built
inside the mode; device stays 'cpu', so CPU dispatch decisions such as max_pool2d's indices or dropout's
non-fused path are the real ones). ``--validate a,b`` runs those models with real CPU tensors too and
compares every figure, the op sequence and the saved-tensor list; ``source`` says which path a row used.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import sys
import time
import weakref
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode, maybe_get_fake_mode
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

ROOT = Path(__file__).resolve().parent.parent
SOURCE = f"torch {torch.__version__.split('+')[0]}, torchvision {torchvision.__version__.split('+')[0]}"
DUMP = Path("/tmp/memref")
COLUMNS = [
    "model", "input_h", "input_w", "batch", "train_saved_bytes", "train_saved_buffer_bytes", "train_saved_count",
    "inference_peak_bytes", "inference_peak_bytes_release", "peak_op", "weights_bytes", "buffers_bytes",
    "param_tensors", "grad_bytes", "sgd_state_bytes", "momentum_state_bytes", "adam_state_bytes",
    "adamw_state_bytes", "source", "notes",
]

#: (model, input size), CNNs first, then transformers; sizes as in ``python -m convcalc zoo`` (schema 2)
MODELS: list[tuple[str, int]] = [
    *((f"resnet{d}", 224) for d in (18, 34, 50, 101, 152)),
    *((m, 224) for m in ("resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2",
                         "wide_resnet101_2")),
    *((f"vgg{d}{bn}", 224) for d in (11, 13, 16, 19) for bn in ("", "_bn")),
    ("alexnet", 224), ("squeezenet1_0", 224), ("squeezenet1_1", 224),
    ("mobilenet_v2", 224), ("mobilenet_v3_large", 224), ("mobilenet_v3_small", 224),
    *zip([f"efficientnet_b{i}" for i in range(8)], (224, 240, 288, 300, 380, 456, 528, 600)),
    ("efficientnet_v2_s", 384), ("efficientnet_v2_m", 480), ("efficientnet_v2_l", 480),
    *((f"regnet_x_{s}", 224) for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")),
    *((f"regnet_y_{s}", 224) for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")),
    ("regnet_y_128gf", 384),
    *((f"densenet{d}", 224) for d in (121, 161, 169, 201)),
    *((f"shufflenet_v2_x{w}", 224) for w in ("0_5", "1_0", "1_5", "2_0")),
    ("googlenet", 224), ("inception_v3", 299),
    *((f"convnext_{s}", 224) for s in ("tiny", "small", "base", "large")),
    *((f"vit_{s}", 224) for s in ("b_16", "b_32", "l_16", "l_32", "h_14")),
    *((f"swin_{s}", 224) for s in ("t", "s", "b")),
    *((f"swin_v2_{s}", 256) for s in ("t", "s", "b")),
    ("maxvit_t", 224),
]
BATCHES = (1, 8)
#: models whose fake-tensor figures were checked equal to real CPU tensors with ``--validate`` (every figure,
#: the op sequence, the live-bytes curve and the saved-tensor listing), at batch 1 and, for the second set, 8
VALIDATED_B1 = {
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "vgg11_bn", "alexnet",
    "squeezenet1_0", "squeezenet1_1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
    "efficientnet_b0", "efficientnet_v2_s", "regnet_x_400mf", "regnet_y_400mf", "densenet121",
    "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "googlenet", "convnext_tiny", "vit_b_16", "vit_b_32", "swin_t",
    "swin_v2_t", "maxvit_t",
}
VALIDATED_B8 = {"inception_v3", "resnet18", "googlenet", "vit_b_16"}


def skey(t: torch.Tensor) -> int:
    """Storage identity: the StorageImpl address (data_ptr is 0 for fake/meta storages)."""
    return t.untyped_storage()._cdata


#: build arguments beyond ``weights=None``: the architecture of the zoo's model (its published weights')
BUILD_ARGS: dict[str, dict[str, Any]] = {"googlenet": {"aux_logits": False}}


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None, **BUILD_ARGS.get(name, {}))


def to_fake(model: nn.Module, mode: FakeTensorMode) -> nn.Module:
    """Swap every parameter and buffer for a FakeTensor of the same shape, dtype, strides and device ('cpu').

    Models are built with real tensors (RegNet's width rule and ``nn.init.trunc_normal_`` are data dependent,
    which fake tensors cannot run) and only then made fake; the real weights are freed."""
    for m in model.modules():
        for k, p in m._parameters.items():
            if p is not None:
                m._parameters[k] = nn.Parameter(mode.from_tensor(p.detach()), requires_grad=p.requires_grad)
        for k, b in m._buffers.items():
            if b is not None:
                m._buffers[k] = mode.from_tensor(b)
    return model


def make_input(n: int, size: int) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(n, 3, size, size)


# ---------------------------------------------------------------------------------------------- training


def train_saved(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    model.train()
    params = {skey(p) for p in model.parameters()}
    buffers = {skey(b) for b in model.buffers()}
    seen: dict[int, tuple[int, bool]] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        k = skey(t)
        if k not in params and k not in seen:
            seen[k] = (t.untyped_storage().nbytes(), k in buffers)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
    outs = [t for t in pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]
    saved = saved_listing(outs, params, buffers)
    result = {
        "train_saved_bytes": sum(b for b, _ in seen.values()),
        "train_saved_buffer_bytes": sum(b for b, is_buf in seen.values() if is_buf),
        "train_saved_count": len(seen),
        "train_outputs": [tuple(t.shape) for t in outs],
        "saved": saved,
    }
    del out, outs
    return result


def saved_listing(outs: list[torch.Tensor], params: set[int], buffers: set[int]) -> list[list[Any]]:
    """Every autograd node reachable from the outputs with its saved tensors, in graph order (output first)."""
    rows: list[list[Any]] = []
    seen_nodes: set[int] = set()
    stack = [t.grad_fn for t in outs if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        entry: list[Any] = [type(node).__name__]
        for attr in sorted(a for a in dir(node) if a.startswith("_saved_")):
            try:
                v = getattr(node, attr)
            except Exception:  # noqa: BLE001 - some saved values cannot be read back
                continue
            for t in v if isinstance(v, (list, tuple)) else [v]:
                if isinstance(t, torch.Tensor):
                    k = skey(t)
                    kind = "param" if k in params else "buffer" if k in buffers else "act"
                    entry.append([attr[7:], list(t.shape), str(t.dtype).replace("torch.", ""),
                                  t.untyped_storage().nbytes(), kind, k])
        if type(node).__name__ == "BackwardCFunction":  # custom autograd.Function: ctx.saved_tensors
            for t in getattr(node, "saved_tensors", ()):
                k = skey(t)
                entry.append(["ctx", list(t.shape), str(t.dtype).replace("torch.", ""),
                              t.untyped_storage().nbytes(), "act", k])
        rows.append(entry)
        stack.extend(f for f, _ in node.next_functions if f is not None)
    # storage keys are only meaningful within one run: renumber them by first appearance
    ids: dict[int, int] = {}
    for entry in rows:
        for item in entry[1:]:
            item[5] = ids.setdefault(item[5], len(ids))
    return rows


# --------------------------------------------------------------------------------------------- inference


class Recorder(TorchDispatchMode):
    """Per-op reads / allocations of storages; storages of ``exclude`` (params, buffers) are ignored."""

    def __init__(self, exclude: set[int]) -> None:
        super().__init__()
        self.exclude = exclude
        self.names: list[str] = []
        self.reads: list[list[int]] = []
        self.allocs: list[list[int]] = []
        self.nbytes: list[int] = []
        self.alloc_at: list[int] = []
        self.freed_at: list[int | None] = []
        self.current: dict[int, int] = {}  # live StorageImpl address -> storage id
        self.op = 0

    def _new(self, st: torch.UntypedStorage, at: int) -> int:
        sid = len(self.nbytes)
        self.nbytes.append(st.nbytes())
        self.alloc_at.append(at)
        self.freed_at.append(None)
        k = st._cdata
        self.current[k] = sid
        weakref.finalize(st, self._freed, sid, k)
        return sid

    def _freed(self, sid: int, k: int) -> None:
        self.freed_at[sid] = self.op
        if self.current.get(k) == sid:
            del self.current[k]

    def register_input(self, x: torch.Tensor) -> int:
        return self._new(x.untyped_storage(), 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        if getattr(func, "namespace", None) == "prim":  # metadata queries (FakeTensor's prim.device)
            return func(*args, **kwargs)
        i = len(self.names)
        self.op = i
        in_keys: set[int] = set()
        reads: list[int] = []
        for a in pytree.tree_leaves((args, kwargs)):
            if isinstance(a, torch.Tensor):
                st = a.untyped_storage()
                k = st._cdata
                in_keys.add(k)
                if k in self.exclude:
                    continue
                sid = self.current.get(k)
                if sid is None:
                    sid = self._new(st, i)
                if sid not in reads:
                    reads.append(sid)
        out = func(*args, **kwargs)
        allocs: list[int] = []
        if func is torch.ops.aten.lift_fresh.default and reads:
            # a constant made by torch.tensor(...) in forward: real tensors return it as is, FakeTensorMode
            # returns a fake copy of it; both count as the constant's storage
            self.current.setdefault(out.untyped_storage()._cdata, reads[0])
            in_keys.add(out.untyped_storage()._cdata)
        for o in pytree.tree_leaves(out):
            if isinstance(o, torch.Tensor):
                st = o.untyped_storage()
                k = st._cdata
                if k in in_keys or k in self.exclude:
                    continue
                allocs.append(self._new(st, i))
                in_keys.add(k)
        self.names.append(str(func.overloadpacket.__name__) if hasattr(func, "overloadpacket") else str(func))
        self.reads.append(reads)
        self.allocs.append(allocs)
        return out


def inference_peak(model: nn.Module, x: torch.Tensor, dump: Path | None) -> dict[str, Any]:
    model.eval()
    exclude = {skey(p) for p in model.parameters()} | {skey(b) for b in model.buffers()}
    rec = Recorder(exclude)
    rec.register_input(x)
    with torch.no_grad(), rec:
        out = model(x)
    n_ops = len(rec.names)
    rec.op = n_ops - 1
    final = set()
    for o in pytree.tree_leaves(out):
        if isinstance(o, torch.Tensor):
            sid = rec.current.get(skey(o))
            assert sid is not None
            final.add(sid)
    n = len(rec.nbytes)
    last = list(rec.alloc_at)
    for i, reads in enumerate(rec.reads):
        for sid in reads:
            last[sid] = max(last[sid], i)
    for sid in final:
        last[sid] = n_ops - 1
    diff = [0] * (n_ops + 1)
    diff_rel = [0] * (n_ops + 1)
    for sid in range(n):
        a, b = rec.alloc_at[sid], last[sid]
        diff[a] += rec.nbytes[sid]
        diff[b + 1] -= rec.nbytes[sid]
        freed = rec.freed_at[sid]
        r = n_ops - 1 if freed is None else max(freed, a)
        diff_rel[a] += rec.nbytes[sid]
        diff_rel[r + 1] -= rec.nbytes[sid]
    live, live_rel, cur, cur_rel = [], [], 0, 0
    for i in range(n_ops):
        cur += diff[i]
        cur_rel += diff_rel[i]
        live.append(cur)
        live_rel.append(cur_rel)
    peak = max(live)
    peak_i = live.index(peak)
    if dump is not None:
        timeline = [
            {"i": i, "op": rec.names[i], "alloc": [[sid, rec.nbytes[sid]] for sid in rec.allocs[i]],
             "reads": rec.reads[i], "live": live[i], "live_release": live_rel[i]}
            for i in range(n_ops)
        ]
        dump.write_text(json.dumps({"ops": n_ops, "peak": peak, "peak_op": peak_i,
                                    "peak_release": max(live_rel), "timeline": timeline}))
    del out
    return {
        "inference_peak_bytes": peak,
        "inference_peak_bytes_release": max(live_rel),
        "peak_op": f"{peak_i}:{rec.names[peak_i]}",
        "ops": rec.names,
        "live": live,
    }


# ----------------------------------------------------------------------------------- weights, optimizers


def static_figures(shapes: list[tuple[tuple[int, ...], torch.dtype]], buffers_bytes: int) -> dict[str, Any]:
    def state_bytes(opt_cls: type, **kw: Any) -> tuple[int, int]:
        params = [nn.Parameter(torch.empty(s, dtype=d)) for s, d in shapes]
        for p in params:
            p.grad = torch.zeros_like(p)
        opt = opt_cls(params, **kw)
        opt.step()
        total = step = 0
        for st in opt.state.values():
            for key, v in st.items():
                if isinstance(v, torch.Tensor):
                    total += v.nbytes
                    step += v.nbytes if key == "step" else 0
        grads = sum(p.grad.nbytes for p in params)
        del opt, params
        gc.collect()
        return total, step, grads  # type: ignore[return-value]

    sgd, _, grads = state_bytes(torch.optim.SGD, lr=0.1)
    mom, _, _ = state_bytes(torch.optim.SGD, lr=0.1, momentum=0.9)
    adam, adam_step, _ = state_bytes(torch.optim.Adam)
    adamw, _, _ = state_bytes(torch.optim.AdamW)
    return {
        "weights_bytes": sum(torch.Size(s).numel() * d.itemsize for s, d in shapes),
        "buffers_bytes": buffers_bytes,
        "param_tensors": len(shapes),
        "grad_bytes": grads,
        "sgd_state_bytes": sgd,
        "momentum_state_bytes": mom,
        "adam_state_bytes": adam,
        "adamw_state_bytes": adamw,
        "adam_step_bytes": adam_step,
    }


# ---------------------------------------------------------------------------------------------- drivers


def measure(name: str, size: int, batch: int, fake: bool, model: nn.Module | None = None) -> dict[str, Any]:
    """Train-saved and inference figures of one model at one batch. ``model`` (real, or already fake when
    ``fake``) is built if not given."""
    if model is None:
        model = build(name)
    mode = None
    if fake:
        mode = maybe_get_fake_mode(next(model.parameters()))  # the mode of an already fake model
        if mode is None:
            mode = FakeTensorMode()
            model = to_fake(model, mode)
        mode.__enter__()
    try:
        x = make_input(batch, size)
        try:
            train = train_saved(model, x)
        except ValueError as exc:  # inception_v3 at batch 1: its aux BatchNorm sees 1 value per channel
            error = f"train forward refused: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
            train = {"train_saved_bytes": "", "train_saved_buffer_bytes": "", "train_saved_count": "",
                     "train_outputs": [], "saved": [], "error": error}
        gc.collect()
        x = make_input(batch, size)
        suffix = "" if fake else "_real"
        DUMP.mkdir(exist_ok=True)
        inf = inference_peak(model, x, DUMP / f"{name}_b{batch}{suffix}.json")
        (DUMP / f"{name}_b{batch}{suffix}_saved.json").write_text(json.dumps(train["saved"]))
    finally:
        if mode is not None:
            mode.__exit__(None, None, None)
    return {**train, **inf}


NOTES = {
    "googlenet": "built with aux_logits=False (the published weights' architecture, as the zoo's)",
    "inception_v3": "train forward ran with aux_logits=True: InceptionOutputs(logits, aux_logits), the aux "
                    "classifier saved; eval returns logits only",
}


def run_model(name: str, size: int) -> list[dict[str, Any]]:
    t0 = time.time()
    model = build(name)
    shapes = [(tuple(p.shape), p.dtype) for p in model.parameters()]
    buffers_bytes = sum(b.nbytes for b in model.buffers())
    model = to_fake(model, FakeTensorMode())
    gc.collect()
    static = static_figures(shapes, buffers_bytes)
    rows = []
    for batch in BATCHES:
        m = measure(name, size, batch, fake=True, model=model)
        checked = [str(b) for b, v in ((1, VALIDATED_B1), (8, VALIDATED_B8)) if name in v]
        notes = ["fake tensors" + (f" (checked equal to real CPU tensors at batch {' and '.join(checked)})"
                                   if checked else ""),
                 f"adam/adamw step tensors {static['adam_step_bytes']} bytes",
                 f"inference ops {len(m['ops'])}", f"train saved nodes {len(m['saved'])}"]
        if "error" in m:
            notes.insert(0, m["error"])
        if name in NOTES:
            notes.insert(0, NOTES[name])
        if name.startswith("vit_"):
            notes.append("eval uses the nn.MultiheadAttention fast path (_native_multi_head_attention)"
                         if "_native_multi_head_attention" in m["ops"] else "no MHA fast path in eval")
        row = {"model": name, "input_h": size, "input_w": size, "batch": batch,
               **{k: m[k] for k in COLUMNS if k in m}, **{k: static[k] for k in COLUMNS if k in static},
               "source": SOURCE, "notes": "; ".join(notes)}
        rows.append(row)
        print(name, batch, {k: row[k] for k in COLUMNS[4:10]}, f"{time.time() - t0:.1f}s", file=sys.stderr,
              flush=True)
        gc.collect()
    del model
    gc.collect()
    return rows


def validate(names: list[str], batch: int) -> bool:
    """Fake-tensor figures vs real CPU tensors: every figure, op sequence, live curve, saved listing."""
    sizes = dict(MODELS)
    ok = True
    for name in names:
        t0 = time.time()
        real = measure(name, sizes[name], batch, fake=False)
        t1 = time.time()
        fake = measure(name, sizes[name], batch, fake=True)
        t2 = time.time()
        diffs = []
        for k in ("train_saved_bytes", "train_saved_buffer_bytes", "train_saved_count", "inference_peak_bytes",
                  "inference_peak_bytes_release", "peak_op", "ops", "live", "saved", "train_outputs"):
            a, b = real[k], fake[k]
            if k == "saved":  # view nodes differ (ReshapeAlias/AsStrided vs View) but save nothing: skip them
                a, b = ([e for e in v if len(e) > 1] for v in (a, b))
            if a != b:
                diffs.append(k)
        ok &= not diffs
        print(f"validate {name} b{batch}: {'OK' if not diffs else 'DIFF ' + ','.join(diffs)} "
              f"real {t1 - t0:.1f}s fake {t2 - t1:.1f}s "
              + str({k: (real[k], fake[k]) for k in ("train_saved_bytes", "inference_peak_bytes",
                                                      "inference_peak_bytes_release")}),
              file=sys.stderr, flush=True)
        gc.collect()
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=lambda s: s.split(","), metavar="NAME,...", help="only these models")
    ap.add_argument("--out", type=Path, default=ROOT / "tests/data/torchvision-memory.csv")
    ap.add_argument("--validate", type=lambda s: s.split(","), metavar="NAME,...",
                    help="only compare fake with real tensors on these models (no CSV)")
    ap.add_argument("--validate-batch", type=int, default=1, help="batch size of --validate (default 1)")
    args = ap.parse_args()
    if args.validate:
        sys.exit(0 if validate(args.validate, args.validate_batch) else 1)
    names = [n for n, _ in MODELS]
    if args.models:
        unknown = set(args.models) - set(names)
        assert not unknown, sorted(unknown)
    todo = [(n, s) for n, s in MODELS if not args.models or n in args.models]
    t0 = time.time()
    rows = []
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        w.writeheader()
        for name, size in todo:
            for row in run_model(name, size):
                w.writerow(row)
                rows.append(row)
            f.flush()
    print(f"{len(rows)} rows in {time.time() - t0:.0f}s -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
