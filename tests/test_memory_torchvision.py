"""The memory pass against torchvision's own modules: every bundled zoo model at batch 1 and 8, fp32, equal to
the figures PyTorch measured on the torchvision model (tests/data/torchvision-memory.csv, measured by
benchmarks/memory_reference.py with torch 2.14.1 and torchvision 0.29.1: saved_tensors_hooks for the bytes
saved for backward, a TorchDispatchMode for the live peak freed after each tensor's last reader, a real
optimizer step for the optimizer state). No torch needed here: the figures are recorded."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import pytest

from convcalc.graph import Graph
from convcalc.lang.sources import open_source, zoo_names
from convcalc.metrics.analysis import graphs_of
from convcalc.metrics.memory import MemoryOptions, memory_of

DATA = Path(__file__).parent / "data" / "torchvision-memory.csv"
ROWS = list(csv.DictReader(DATA.open(encoding="utf-8")))


@cache
def graph(name: str) -> Graph:
    return graphs_of(open_source(name), receptive=False)[0]


def test_every_zoo_torchvision_model_is_measured_at_batch_1_and_8() -> None:
    measured = {(r["model"], r["batch"]) for r in ROWS}
    # (the zoo's YOLO models are Ultralytics', not torchvision's: their memory is not measured here)
    names = [g.name for n in zoo_names() if not n.startswith("yolo") for g in graphs_of(open_source(n),
                                                                                         receptive=False)]
    assert len(names) == 76
    assert measured == {(n, b) for n in names for b in ("1", "8")}


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['model']}-b{r['batch']}" for r in ROWS])
def test_memory_equals_pytorch_on_torchvision(row: dict[str, str]) -> None:
    g = graph(row["model"])
    assert (g.input.h, g.input.w) == (int(row["input_h"]), int(row["input_w"]))
    g.batch = int(row["batch"])
    try:
        adam = memory_of(g, MemoryOptions(train=True, optimizer="adam"))
        adamw = memory_of(g, MemoryOptions(train=True, optimizer="adamw"))
        momentum = memory_of(g, MemoryOptions(train=True, optimizer="momentum"))
        sgd = memory_of(g, MemoryOptions(train=True, optimizer="sgd"))
    finally:
        g.batch = 1
    ours = {
        "inference_peak_bytes": adam.inference_peak_bytes, "weights_bytes": adam.weights_bytes,
        "buffers_bytes": adam.buffers_bytes, "grad_bytes": adam.gradients_bytes,
        "adam_state_bytes": adam.optimizer_bytes, "adamw_state_bytes": adamw.optimizer_bytes,
        "momentum_state_bytes": momentum.optimizer_bytes, "sgd_state_bytes": sgd.optimizer_bytes,
        "train_saved_bytes": adam.train_activation_bytes,
        "train_saved_buffer_bytes": adam.train_saved_buffer_bytes,
    }
    # inception_v3 cannot train at batch 1 in PyTorch (its aux BN sees one value per channel): no figure
    theirs = {k: int(row[k]) for k in ours if row[k] != ""}
    assert len(theirs) >= 8
    assert {k: ours[k] for k in theirs} == theirs
