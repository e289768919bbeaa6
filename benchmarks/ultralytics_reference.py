"""Ground-truth figures for Ultralytics YOLO models, measured with Ultralytics itself.

This script is NOT run by the test suite and convcalc does not depend on
Ultralytics or torch.  It records, in two CSV files under ``tests/data/``,
figures that a later importer of Ultralytics model YAMLs is tested against.
No Ultralytics code or YAML is copied into this repository (they are AGPL):
the models are built from the YAMLs bundled inside the installed
``ultralytics`` package, and only the measured numbers are written out.

How to run (outside the repository's own environment)::

    python3 -m venv /tmp/ulvenv
    /tmp/ulvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 ultralytics==8.4.190
    /tmp/ulvenv/bin/python benchmarks/ultralytics_reference.py            # writes both CSVs
    /tmp/ulvenv/bin/python benchmarks/ultralytics_reference.py --check    # public checks only

Versions the committed CSVs were made with: ultralytics 8.4.190 (with
ultralytics-thop 2.2.3), torch 2.14.1, torchvision 0.29.1, Python 3.11, CPU.

Models
------
Detection: ``DetectionModel("yolov8n.yaml")`` etc. (Ultralytics picks the
scale letter out of the file name and reads ``yolov8.yaml`` / ``yolo11.yaml``
with that scale; nc = 80 as the YAML says).  Classification:
``ClassificationModel("yolov8n-cls.yaml")`` etc. (nc = 1000 as the YAML
says).  Each model is put in ``eval()``, on CPU, float32, and fed one input
of zeros shaped 1x3xSxS.

Definitions (one row of ``ultralytics-figures.csv`` per model and size)
-----------------------------------------------------------------------
params
    ``sum(p.numel() for p in model.parameters())`` on the *unfused* model
    (BatchNorm kept: its weight and bias count).  This is the figure
    Ultralytics prints in ``model.info()`` for an unfused model; it includes
    the 16 fixed (requires_grad=False) weights of Detect's DFL conv.
buffers
    numel of ``model.buffers()`` excluding ``num_batches_tracked``
    (i.e. the BatchNorm running means and variances).
macs
    ``torch.utils.flop_counter.FlopCounterMode(display=False)`` total of one
    forward under ``torch.no_grad()``, divided by 2.  FlopCounterMode counts
    convolutions, mm/addmm/bmm (so ``nn.Linear`` and the attention matmuls of
    C2PSA / PSA are counted) and SDPA; it does not count BatchNorm,
    activations, pooling, upsampling, softmax, elementwise adds or the
    anchor decoding of Detect.  Detect's DFL 1x1 conv (16 -> 1 over
    4 x anchors) *is* counted.
ultralytics_gflops
    ``ultralytics.utils.torch_utils.get_flops(model, imgsz=S)``, the float it
    returns.  How Ultralytics computes it (8.4.190): it does NOT fuse the
    model itself (``model.fuse()`` does, and then calls it; this script keeps
    the model unfused, so BN is still there and thop counts it).  It calls
    ``thop.profile(model, inputs=[empty 1x3xSxS], stride=max(model.stride, 32),
    min_cells=1)`` and returns ``ops / 1e9 * 2``.  With ``stride`` given, thop
    (ultralytics-thop 2.2.3) does not run the full image: it runs proxy
    images one stride tall and k strides wide (k = 1, 2, ...; two proxies when
    the model holds a Linear / adaptive pool, four when functional products
    such as the attention matmuls were seen, so a quadratic in area is fitted
    and checked), and extrapolates with Newton forward differences to the
    (S/stride)^2 cells of the target; it falls back to running the full image
    when the fit does not check out or the target is too small.  thop counts
    per-leaf-module rules (Conv2d, BatchNorm, Linear, Upsample, Softmax,
    AdaptiveAvgPool, ...) plus functional matmul/einsum/SDPA run outside any
    counted module.  So it differs from 2 x ``macs`` by the BatchNorm, upsample
    and pooling terms it counts and FlopCounterMode does not.
ultralytics_gflops_fused
    The same ``get_flops`` after ``model.fuse(verbose=False)`` (Conv+BN folded,
    so BN's terms vanish and the convs gain a bias).  This is what Ultralytics
    prints after loading/training (``model.info()`` of a fused model, "summary
    (fused)") and what its published tables quote, rounded to 0.1
    (yolov8n 8.7, yolo11n 6.5 at 640).
head_inputs
    Shapes (CxHxW, batch dropped) of the tensors the last module of
    ``model.model`` (Detect, or Classify for -cls models) receives, taken with
    a forward pre-hook, joined with ``;`` -- for detection these are the
    P3/P4/P5 feature maps, e.g. ``64x80x80;128x40x40;256x20x20``.
yaml_layers
    ``len(model.model)``: the number of layers of the YAML (backbone + head).
notes
    ``key=value`` pairs: ``dfl_macs`` (the DFL conv's MACs, detection),
    ``attn_matmul_macs`` (MACs of the matmuls counted directly at the
    ``Attention`` modules, i.e. not inside their convs; yolo11 C2PSA),
    ``fused_params`` (parameters after ``model.fuse()``: BN gone, conv biases added),
    ``linear_macs`` (the Classify head's Linear), ``layer_macs_sum_ok``
    (whether the per-layer MACs of ``model.model.{i}`` add up to ``macs``).

Per-layer rows (``ultralytics-layers.csv``, for yolov8n and yolo11n at 640
and yolov8n-cls at 224): model, imgsz, index (the YAML layer index i),
type (class name of ``model.model[i]``), from (its ``f`` attribute, the
YAML's "from" field as Ultralytics resolved it, several indices joined with
``;``), params (of
``model.model[i]``), macs (FlopCounterMode's count for the module
``model.model.{i}`` / 2).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import sys
import time

DETECTION = [f"yolov8{s}" for s in "nsmlx"] + [f"yolo11{s}" for s in "nsmlx"]
CLASSIFY = [f"yolov8{s}-cls" for s in "nsmlx"] + [f"yolo11{s}-cls" for s in "nsmlx"]
EXTRA_SIZES = {"yolov8n": (320, 1024, 1280), "yolo11n": (320, 1024, 1280), "yolov8n-cls": (640,)}
LAYER_ROWS = {("yolov8n", 640), ("yolo11n", 640), ("yolov8n-cls", 224)}
PUBLIC_CHECKS = {  # (model, imgsz): (params, macs)
    ("yolov8n", 640): (3_157_200, 4_371_993_600),
    ("yolo11n", 640): (2_624_080, 3_271_251_200),
}

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data")
FIGURES_CSV = os.path.join(DATA, "ultralytics-figures.csv")
LAYERS_CSV = os.path.join(DATA, "ultralytics-layers.csv")
FIGURE_COLUMNS = [
    "model",
    "task",
    "imgsz",
    "params",
    "buffers",
    "macs",
    "ultralytics_gflops",
    "ultralytics_gflops_fused",
    "head_inputs",
    "yaml_layers",
    "ultralytics_version",
    "torch_version",
    "notes",
]
LAYER_COLUMNS = ["model", "imgsz", "index", "type", "from", "params", "macs"]


def build(name: str):
    import logging

    from ultralytics.nn.tasks import ClassificationModel, DetectionModel
    from ultralytics.utils import LOGGER

    level = LOGGER.level
    LOGGER.setLevel(logging.WARNING)  # ClassificationModel prints its summary (at 640) whatever verbose says
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            if name.endswith("-cls"):
                model = ClassificationModel(f"{name}.yaml", verbose=False)
            else:
                model = DetectionModel(f"{name}.yaml", verbose=False)
    finally:
        LOGGER.setLevel(level)
    return model.eval().cpu().float()


def measure(name: str, imgsz: int, layers: bool = False):
    import torch
    import ultralytics
    from torch.utils.flop_counter import FlopCounterMode
    from ultralytics.utils.torch_utils import get_flops

    model = build(name)
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))

    head = model.model[-1]
    shapes = []

    def pre_hook(_module, args):
        x = args[0]
        xs = x if isinstance(x, (list, tuple)) else [x]
        shapes.extend("x".join(str(d) for d in t.shape[1:]) for t in xs)

    handle = head.register_forward_pre_hook(pre_hook)
    x = torch.zeros(1, 3, imgsz, imgsz)
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            model(x)
    finally:
        handle.remove()
    total = counter.get_total_flops()
    assert total % 2 == 0, total
    macs = total // 2
    counts = counter.get_flop_counts()  # {module fqn: {op: flops}}
    root = type(model).__name__

    def module_flops(fqn: str) -> int:
        return sum(counts.get(f"{root}.{fqn}", {}).values())

    notes = []
    layer_rows = []
    layer_sum = 0
    for i, m in enumerate(model.model):
        m_macs = module_flops(f"model.{i}") // 2
        layer_sum += m_macs
        layer_rows.append(
            {
                "model": name,
                "imgsz": imgsz,
                "index": i,
                "type": type(m).__name__,
                "from": ";".join(str(v) for v in m.f) if isinstance(m.f, (list, tuple)) else str(m.f),
                "params": sum(p.numel() for p in m.parameters()),
                "macs": m_macs,
            }
        )
    named = dict(model.named_modules())
    dfl = [n for n, m in named.items() if n.endswith(".dfl") and type(m).__name__ == "DFL"]
    if dfl:
        notes.append(f"dfl_macs={sum(module_flops(n) for n in dfl) // 2}")
    attn = [n for n, m in named.items() if type(m).__name__ == "Attention"]
    if attn:
        # a module's counts include its children's (its qkv/proj/pe convs, as aten.convolution), so only
        # the mm/bmm entries are the attention products themselves.
        mm = 0
        for n in attn:
            own = counts.get(f"{root}.{n}", {})
            mm += sum(v for op, v in own.items() if "mm" in str(op) or "attention" in str(op))
        notes.append(f"attn_matmul_macs={mm // 2}")
    linear = [n for n, m in named.items() if isinstance(m, torch.nn.Linear)]
    if linear:
        notes.append(f"linear_macs={sum(module_flops(n) for n in linear) // 2}")
    notes.append(f"layer_macs_sum_ok={layer_sum == macs}")

    gflops = get_flops(model, imgsz=imgsz)
    fused = model.fuse(verbose=False)  # in place: only after everything above is measured
    gflops_fused = get_flops(fused, imgsz=imgsz)
    notes.append(f"fused_params={sum(p.numel() for p in fused.parameters())}")
    row = {
        "model": name,
        "task": "classify" if name.endswith("-cls") else "detect",
        "imgsz": imgsz,
        "params": params,
        "buffers": buffers,
        "macs": macs,
        "ultralytics_gflops": repr(float(gflops)),
        "ultralytics_gflops_fused": repr(float(gflops_fused)),
        "head_inputs": ";".join(shapes),
        "yaml_layers": len(model.model),
        "ultralytics_version": ultralytics.__version__,
        "torch_version": torch.__version__,
        "notes": "; ".join(notes),
    }
    return row, (layer_rows if layers else [])


def plan():
    jobs = []
    for name in DETECTION:
        jobs.append((name, 640))
        jobs.extend((name, s) for s in EXTRA_SIZES.get(name, ()))
    for name in CLASSIFY:
        jobs.append((name, 224))
        jobs.extend((name, s) for s in EXTRA_SIZES.get(name, ()))
    return jobs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only run the public checks")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    failed = False
    for (name, s), (p_ref, m_ref) in PUBLIC_CHECKS.items():
        row, _ = measure(name, s)
        ok = row["params"] == p_ref and row["macs"] == m_ref
        failed |= not ok
        print(
            f"check {name}@{s}: params {row['params']:,} (public {p_ref:,}), "
            f"macs {row['macs']:,} (public {m_ref:,}) -> {'OK' if ok else 'DIFFERENT'}",
            flush=True,
        )
    if args.check:
        return int(failed)

    rows, layer_rows = [], []
    for name, s in plan():
        t0 = time.time()
        row, lr = measure(name, s, layers=(name, s) in LAYER_ROWS)
        rows.append(row)
        layer_rows.extend(lr)
        print(
            f"{name}@{s}: params {row['params']:,} macs {row['macs']:,} "
            f"gflops {float(row['ultralytics_gflops']):.3f} ({time.time() - t0:.1f}s)",
            flush=True,
        )
    os.makedirs(DATA, exist_ok=True)
    with open(FIGURES_CSV, "w", newline="") as f:
        w = csv.DictWriter(f, FIGURE_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    with open(LAYERS_CSV, "w", newline="") as f:
        w = csv.DictWriter(f, LAYER_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(layer_rows)
    print(f"wrote {FIGURES_CSV} ({len(rows)} rows), {LAYERS_CSV} ({len(layer_rows)} rows)")
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
