"""The sweep benchmark: configurations per second for a MobileNetV2-sized family (the zoo's mobilenet_v2 over
width × input size), on one process and with ``--jobs 2``. Used by benchmarks/run.py (a child process each)."""

from __future__ import annotations

import time
from typing import Any

#: the family: torchvision's width_mult from 0.5 to 1.4 (10 values) × 15 input sizes from 96 to 320
WIDTHS = "0.5:1.4:0.1"
SIZES = "96:320:16"
TARGET_PER_S = 300


def child_sweep(jobs: int, rounds: int) -> dict[str, Any]:
    """Sweep the family ``rounds`` times with ``jobs`` processes (the spec read once, as the command does);
    best wall time and the process's CPU time of that round (workers' CPU not included)."""
    from convcalc.sweep import grid, load_target, parse_axes, run_sweep

    configs = grid(parse_axes([f"width={WIDTHS}"], size=SIZES))
    target = load_target("mobilenet_v2")
    best, cpu, rows = float("inf"), 0.0, []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        rows = run_sweep([target], configs, jobs)
        wall, used = time.perf_counter() - t0, time.process_time() - c0
        if wall < best:
            best, cpu = wall, used
    assert all(r.ok for r in rows), [r.error for r in rows if not r.ok]
    return {"configs": len(configs), "jobs": jobs, "wall_s": best, "cpu_s": cpu, "per_s": len(configs) / best,
            "macs_first": rows[0].macs}


def lines(res: dict[str, Any]) -> list[str]:
    """The report's section."""
    one, two = res["one"], res["two"]
    speedup = one["wall_s"] / two["wall_s"]
    met = "met" if one["per_s"] >= TARGET_PER_S else "missed"
    return [
        "", f"## Sweep (mobilenet_v2, width {WIDTHS} x size {SIZES}: {one['configs']} configurations; params, MACs, "
        "FLOPs, activations, fp32 peak memory, RF and budgets each; the spec read once; best of "
        f"{res['rounds']})", "",
        f"one process: {one['wall_s'] * 1e3:.0f} ms, {one['per_s']:.0f} configurations/s "
        f"({one['wall_s'] / one['configs'] * 1e3:.2f} ms each); target >= {TARGET_PER_S}/s on one core: {met}",
        f"--jobs 2: {two['wall_s'] * 1e3:.0f} ms, {two['per_s']:.0f} configurations/s, {speedup:.2f}x the one-process "
        f"speed (processes started and the spec sent to each, in the time)",
    ]
