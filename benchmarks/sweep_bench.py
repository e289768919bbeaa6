"""The sweep benchmark: configurations per second for a MobileNetV2-sized family (the zoo's mobilenet_v2 over
width × input size), on one process and with ``--jobs 2``. Used by benchmarks/run.py (a child process each).

Each child is a fresh process, so its first sweep is what ``convcalc sweep`` does once its modules are
imported: every cache cold (the cold figure, judged against the target). Later rounds in the same process read
the spec again (a new document, so its structure is walked again) and find the per-layer rules' memos filled
(the "again" figure: about the same, since a sweep's reuse is within the sweep)."""

from __future__ import annotations

import statistics
import time
from typing import Any

#: the family: torchvision's width_mult from 0.5 to 1.4 (10 values) × 15 input sizes from 96 to 320
WIDTHS = "0.5:1.4:0.1"
SIZES = "96:320:16"
#: a larger family for ``--jobs 2`` (37 widths × 29 sizes), where starting the workers is a smaller share
LARGE_WIDTHS = "0.5:1.4:0.025"
LARGE_SIZES = "96:320:8"
TARGET_PER_S = 300


def child_sweep(jobs: int, rounds: int, large: bool = False) -> dict[str, Any]:
    """Sweep the family ``rounds`` times with ``jobs`` processes (the spec read at each round, once, as the
    command does): the first round's wall time (cold) and the best of the others (again), with the process's
    CPU time of each (workers' CPU not included)."""
    from convcalc.sweep import grid, load_target, parse_axes, run_sweep

    widths, sizes = (LARGE_WIDTHS, LARGE_SIZES) if large else (WIDTHS, SIZES)
    configs = grid(parse_axes([f"width={widths}"], size=sizes))
    times: list[tuple[float, float]] = []
    rows: list[Any] = []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        rows = run_sweep([load_target("mobilenet_v2")], configs, jobs)
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    assert all(r.ok for r in rows), [r.error for r in rows if not r.ok]
    cold = times[0]
    again = min(times[1:]) if len(times) > 1 else cold
    return {"configs": len(configs), "jobs": jobs, "wall_s": cold[0], "cpu_s": cold[1],
            "per_s": len(configs) / cold[0], "again_wall_s": again[0], "again_per_s": len(configs) / again[0],
            "macs_first": rows[0].macs}


def combined(children: list[dict[str, Any]]) -> dict[str, Any]:
    """Several fresh processes' figures as one: the median cold time (one cold sample each: on a shared VM one
    sample can be off by a third), its range, and the best time of the later rounds."""
    colds = sorted(c["wall_s"] for c in children)
    n = children[0]["configs"]
    cold = statistics.median(colds)
    again = min(c["again_wall_s"] for c in children)
    return {**children[0], "processes": len(children), "wall_s": cold, "per_s": n / cold,
            "cold_range_per_s": [n / colds[-1], n / colds[0]], "again_wall_s": again, "again_per_s": n / again}


def lines(res: dict[str, Any]) -> list[str]:
    """The report's section."""
    one, two = res["one"], res["two"]
    met = "met" if one["per_s"] >= TARGET_PER_S else "missed"

    def speed(r: dict[str, Any]) -> str:
        lo, hi = r["cold_range_per_s"]
        return (f"cold {r['wall_s'] * 1e3:.0f} ms = {r['per_s']:.0f} configurations/s ({lo:.0f}-{hi:.0f}; "
                f"{r['wall_s'] / r['configs'] * 1e3:.2f} ms each); again {r['again_wall_s'] * 1e3:.0f} ms = "
                f"{r['again_per_s']:.0f}/s")

    out = [
        "", f"## Sweep (mobilenet_v2, width {WIDTHS} x size {SIZES}: {one['configs']} configurations; params, MACs, "
        "FLOPs, activations, fp32 peak memory, RF and budgets each; cold: the first sweep in a fresh process, "
        f"median of {one['processes']} processes (their range); again: the best of {res['rounds'] - 1} more in "
        "each process, the spec read again each time)", "",
        f"one process: {speed(one)}; target >= {TARGET_PER_S}/s cold on one core: {met}",
        f"--jobs 2: {speed(two)}; {one['wall_s'] / two['wall_s']:.2f}x the one-process speed cold (workers started "
        "and the spec sent to each, in the time)",
    ]
    if "large_one" in res:
        lo, lt = res["large_one"], res["large_two"]
        out.append(f"a larger family (width {LARGE_WIDTHS} x size {LARGE_SIZES}: {lo['configs']} configurations): "
                   f"one process cold {lo['wall_s']:.2f} s = {lo['per_s']:.0f}/s, --jobs 2 cold {lt['wall_s']:.2f} s "
                   f"= {lt['per_s']:.0f}/s: {lo['wall_s'] / lt['wall_s']:.2f}x")
    return out
