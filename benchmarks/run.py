"""convcalc benchmarks: start-up against the interpreter's floor, linear scaling, big graphs, many specs, parser cost.

    python benchmarks/run.py                  # full run (a few minutes)
    python benchmarks/run.py --quick          # fewer repetitions and specs, for CI
    python benchmarks/run.py --check-linear   # exit 1 if time per layer at 100,000 layers > 3x that at 10,000
    python benchmarks/run.py --json           # machine-readable results on stdout instead of tables

Plain Python and convcalc's own dependencies, nothing else. Every input is generated in a temporary directory
(except specs/scale/*.yaml, read from the repository). Each measurement that needs a clean peak memory runs in
its own child process (this script, re-invoked with --child); wall time with time.perf_counter, peak RSS from
os.wait4 (the child's own ru_maxrss). Start-up runs alternate with the floors in the same loop, medians of N.
Exit status: 0, or 1 if a check fails (line numbers, --check-linear).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sweep_bench  # noqa: E402 - benchmarks/sweep_bench.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
SCALE = ROOT / "specs" / "scale"
PY = sys.executable
FLOOR = "import typer, yaml"
FLOOR_RICH = "import typer, yaml, rich.console, rich.table"
HEADER = ["name: chain", "description: a generated chain of conv, bn, relu layers",
          "input: {channels: 16, height: 32, width: 32}", "defaults: {bias: false}", "layers:"]
CYCLE = ["  - conv: {out: 16, kernel: 3, padding: 1}", "  - bn", "  - relu"]


# ----------------------------------------------------------------------------------------------- inputs


def chain_text(n: int, bad: dict[int, str] | None = None) -> str:
    """n layers written out one per line (parsing cost is real); ``bad`` replaces layer lines by index."""
    lines = list(HEADER)
    for i in range(n):
        lines.append((bad or {}).get(i, CYCLE[i % 3]))
    return "\n".join(lines) + "\n"


def chain_line(i: int) -> int:
    """1-based line of layer i in chain_text."""
    return len(HEADER) + i + 1


def repeat_text(n: int) -> str:
    """The same n layers as chain_text(n) (n divisible by 3), as one repeat block."""
    body = ", ".join(c.strip()[2:] for c in CYCLE)
    return "\n".join(HEADER) + f"\n  - repeat: {{n: {n // 3}, body: [{body}]}}\n"


def small_specs(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """``count`` varied small specs (plain chains, residual, branches, inverted residuals), each with a budget."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        c = rng.choice([16, 24, 32, 48, 64])
        size = rng.choice([32, 64, 96, 128])
        n = rng.randint(2, 6)
        kind = i % 4
        head = [f"name: spec{i:04d}", f"input: {{channels: 3, size: {size}}}", "defaults: {bias: false}",
                "budget: {max_params: 1G, max_macs: 1T}"]
        if kind == 0:  # a VGG-like chain
            layers = [f"  - conv: {{out: {c}, kernel: 3, padding: 1}}", "  - bn", "  - relu"]
            for s in range(n):
                layers += [f"  - conv: {{out: {c * 2 ** min(s, 3)}, kernel: 3, padding: 1}}", "  - bn", "  - relu"]
                if s < 3:
                    layers.append("  - maxpool: {kernel: 2}")
            body = "layers:\n" + "\n".join(layers)
        elif kind == 1:  # residual basic blocks with a template and repeat
            body = f"""blocks:
  basic:
    params: {{out: null, stride: 1}}
    body:
      - residual:
          body:
            - conv: {{out: $out, kernel: 3, stride: $stride, padding: 1}}
            - bn
            - relu
            - conv: {{out: $out, kernel: 3, padding: 1}}
            - bn
          projection: [conv: {{out: $out, kernel: 1, stride: $stride}}, bn]
      - relu
layers:
  - conv: {{out: {c}, kernel: 3, padding: 1}}
  - bn
  - relu
  - repeat: {{n: {n}, body: [basic: {{out: {c}}}]}}
  - basic: {{out: {2 * c}, stride: 2}}
  - repeat: {{n: {n}, body: [basic: {{out: {2 * c}}}]}}
  - global_avgpool
  - flatten
  - linear: {{out: 10}}"""
        elif kind == 2:  # inception-like branches
            body = f"""layers:
  - conv: {{out: {c}, kernel: 3, stride: 2, padding: 1}}
  - relu
  - repeat:
      n: {n}
      body:
        - branches:
            paths:
              - [conv: {{out: {c // 2}, kernel: 1}}]
              - [conv: {{out: {c // 2}, kernel: 1}}, conv: {{out: {c // 2}, kernel: 3, padding: 1}}]
              - [conv: {{out: {c // 4}, kernel: 1}}, conv: {{out: {c // 4}, kernel: 5, padding: 2}}]
              - [maxpool: {{kernel: 3, stride: 1, padding: 1}}, conv: {{out: {c // 4}, kernel: 1}}]
        - conv: {{out: {c}, kernel: 1}}
  - global_avgpool"""
        else:  # MobileNetV2-like inverted residuals with squeeze-excitation
            body = f"""blocks:
  ir:
    params: {{out: null, stride: 1, t: 6}}
    body:
      - residual:
          when: "${{stride == 1 and in_channels == out}}"
          body:
            - conv: {{out: "${{in_channels * t}}", kernel: 1}}
            - bn
            - relu6
            - dwconv: {{kernel: 3, stride: $stride, padding: 1}}
            - bn
            - relu6
            - se: {{reduction: 4}}
            - conv: {{out: $out, kernel: 1}}
            - bn
layers:
  - conv: {{out: {c}, kernel: 3, stride: 2, padding: 1}}
  - bn
  - relu6
  - repeat: {{n: {n}, body: [ir: {{out: {c}}}]}}
  - ir: {{out: {c + 16}, stride: 2}}
  - repeat: {{n: {n}, body: [ir: {{out: {c + 16}}}]}}
  - global_avgpool"""
        out.append((f"spec{i:04d}.yaml", "\n".join(head) + "\n" + body + "\n"))
    return out


# ----------------------------------------------------------------------------------------------- children


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_analyse(path: str, reps: int, render: bool) -> dict[str, Any]:
    """Load + analyse one spec ``reps`` times in this process; peak RSS after the first run; best times."""
    from convcalc.lang.sources import open_source
    from convcalc.lang.yaml_source import load_file
    from convcalc.metrics.analysis import analyze_document
    from convcalc.outputs import render as rendering

    runs = []
    peak = 0.0
    report = None
    for i in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        doc = load_file(path) if Path(path).exists() else open_source(path)  # a file, or a zoo model
        t1 = time.perf_counter()
        reports = analyze_document(doc)
        t2, c2 = time.perf_counter(), time.process_time()
        runs.append((t1 - t0, t2 - t1, c2 - c0))
        if i == 0:
            peak = _peak_mb()
        report = reports[0]
        del doc, reports
    assert report is not None
    load, analyse, cpu = min(runs, key=lambda r: r[0] + r[1])
    out: dict[str, Any] = {
        "nodes": len(report.layers), "load_s": load, "analyse_s": analyse, "total_s": load + analyse,
        "cpu_s": cpu, "peak_mb": peak, "runs": [r[0] + r[1] for r in runs], "params": report.params,
        "macs": report.macs, "rf": list(report.rf.size), "output_shape": list(report.output_shape),
    }
    if render:
        t0 = time.perf_counter()
        text = rendering.report_json(report)
        out["json_s"], out["json_mb"] = time.perf_counter() - t0, len(text) / 1e6
    return out


def child_memory(path: str, reps: int) -> dict[str, Any]:
    """The memory pass alone (inference peak and training saved bytes, one walk each) on one expanded graph,
    best of ``reps``; peak RSS after all runs."""
    from convcalc.lang.sources import open_source
    from convcalc.lang.yaml_source import load_file
    from convcalc.metrics.analysis import graphs_of
    from convcalc.metrics.memory import MemoryOptions, memory_of

    doc = load_file(path) if Path(path).exists() else open_source(path)
    g = graphs_of(doc)[0]
    times, m = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        m = memory_of(g, MemoryOptions(train=True))
        times.append(time.perf_counter() - t0)
    assert m is not None
    return {"nodes": len(g.nodes) - 1, "memory_s": min(times), "peak_mb": _peak_mb(),
            "inference_peak_bytes": m.inference_peak_bytes, "train_activation_bytes": m.train_activation_bytes}


def memory_pass(reps: int, tmp: Path) -> list[dict[str, Any]]:
    """The memory pass on the 10,000- and 100,000-layer chains and ResNet-1001 (linear in the graph)."""
    rows = []
    for n in (10_000, 100_000):
        path = tmp / f"memory-chain-{n}.yaml"
        path.write_text(chain_text(n))
        r = child_json("memory", str(path), str(reps))
        r.update(spec=f"chain of {n:,} layers", us_per_node=r["memory_s"] / r["nodes"] * 1e6)
        rows.append(r)
    r = child_json("memory", str(SCALE / "resnet1001.yaml"), str(reps))
    r.update(spec="specs/scale/resnet1001.yaml", us_per_node=r["memory_s"] / r["nodes"] * 1e6)
    rows.append(r)
    return rows


def child_many(paths_file: str) -> dict[str, Any]:
    """analyze_file on every listed spec, one process (the library path of `convcalc check DIR`)."""
    from convcalc import analyze_file

    paths = Path(paths_file).read_text().split("\n")
    t0 = time.perf_counter()
    models = sum(len(analyze_file(p)) for p in paths)
    return {"specs": len(paths), "models": models, "wall_s": time.perf_counter() - t0, "peak_mb": _peak_mb()}


def child_parser(path: str, loader: str, reps: int) -> dict[str, Any]:
    """µs per layer of convcalc's loader (compose + convert, with its pre-scan) and of yaml.compose alone, with
    libyaml's C loader or the pure-Python one; and the line numbers of errors deep in the chain."""
    import yaml

    import convcalc.lang.yaml_source as ys
    from convcalc import SpecError, analyze_text
    from convcalc.gcpause import paused_gc

    cls = yaml.CSafeLoader if loader == "c" else yaml.SafeLoader
    setattr(ys, "_Loader", cls)  # noqa: B010 - the loader yaml_source uses, swapped for this process
    text = Path(path).read_text()
    n = text.count("\n  - ")
    best_load = best_compose = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        ys.load_text(text)
        t1 = time.perf_counter()
        with paused_gc():  # as in load_text
            yaml.compose(text, Loader=cls)
        t2 = time.perf_counter()
        best_load, best_compose = min(best_load, t1 - t0), min(best_compose, t2 - t1)
    checks = []
    k = n - n // 7  # deep in the file
    for what, line, expect in (
            ("bad value", "  - conv: {out: 16, kernel: 0, padding: 1}", "kernel"),
            ("duplicate key", "  - conv: {out: 16, kernel: 3, out: 8}", "duplicate key")):
        try:
            analyze_text(chain_text(n, {k: line}), "chain.yaml")
            found = "no error"
        except SpecError as exc:
            d = exc.diagnostics[0]
            found = str(d.location)
            ok = d.location.line == chain_line(k) and expect in d.render()
            checks.append({"error": what, "expected_line": chain_line(k), "reported": found, "ok": ok})
            continue
        checks.append({"error": what, "expected_line": chain_line(k), "reported": found, "ok": False})
    return {"loader": cls.__name__, "layers": n, "load_us_per_layer": best_load / n * 1e6,
            "compose_us_per_layer": best_compose / n * 1e6, "checks": checks}


# ----------------------------------------------------------------------------------------------- parent


def timed(args: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, float, float]:
    """Wall time (s), peak RSS (MB) and CPU time (s, user + system) of one command, output discarded (piped: not
    a terminal). CPU time barely depends on what else the machine runs; wall time does."""
    t0 = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert p.stderr is not None
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stderr.close()
    if p.returncode not in ok:
        raise RuntimeError(f"{' '.join(args)} exited {p.returncode}: {err.decode()[-1000:]}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def child(task: str, *args: str) -> list[str]:
    return [PY, __file__, "--child", task, *args]


def child_json(task: str, *args: str) -> dict[str, Any]:
    p = subprocess.run(child(task, *args), capture_output=True, text=True, timeout=3600)
    if p.returncode:
        raise RuntimeError(f"child {task} {args} failed: {p.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(p.stdout)
    return result


def console_script() -> list[str]:
    script = Path(sysconfig.get_path("scripts")) / "convcalc"
    if script.exists():
        return [str(script)]
    found = shutil.which("convcalc")
    return [found] if found else [PY, "-m", "convcalc"]


def machine() -> dict[str, Any]:
    import yaml

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    versions: dict[str, str | None] = {}
    from importlib import metadata

    for dist in ("convcalc", "typer", "rich", "PyYAML", "pydantic"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    mem = ""
    try:
        kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable, "memory": mem,
        "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
        "python_impl": platform.python_implementation(), "executable": PY, "libyaml": bool(yaml.__with_libyaml__),
        "versions": versions, "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def startup(rounds: int, tmp: Path) -> dict[str, Any]:
    """Cold start of each command next to its floor, alternating, median of ``rounds``."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")  # bytecode cached, as pip compiles it at install time
    env["COLUMNS"] = "120"
    cc = console_script()
    have_check = subprocess.run([*cc, "check", "--help"], capture_output=True, env=env).returncode == 0
    cmds: list[tuple[str, list[str], str | None, tuple[int, ...]]] = [
        ("floor: python -c 'import typer, yaml'", [PY, "-c", FLOOR], None, (0,)),
        ("floor+rich: python -c 'import typer, yaml, rich.console, rich.table'", [PY, "-c", FLOOR_RICH], None, (0,)),
        ("convcalc show resnet50 --format json", [*cc, "show", "resnet50", "--format", "json"], "floor", (0,)),
        ("python -m convcalc show resnet50 --format json",
         [PY, "-m", "convcalc", "show", "resnet50", "--format", "json"], "floor", (0,)),
        ("convcalc show resnet50 (table)", [*cc, "show", "resnet50"], "floor+rich", (0,)),
        ("convcalc rf resnet50 --format json", [*cc, "rf", "resnet50", "--format", "json"], "floor", (0,)),
        ("convcalc rf resnet50 (table)", [*cc, "rf", "resnet50"], "floor+rich", (0,)),
        ("convcalc compare resnet50 mobilenet_v2 --format json",
         [*cc, "compare", "resnet50", "mobilenet_v2", "--format", "json"], "floor", (0,)),
        ("convcalc compare resnet50 mobilenet_v2 (table)", [*cc, "compare", "resnet50", "mobilenet_v2"],
         "floor+rich", (0,)),
    ]
    if have_check:
        cmds += [
            ("convcalc check resnet50 --max-params 30M --format json",
             [*cc, "check", "resnet50", "--max-params", "30M", "--format", "json"], "floor", (0, 1)),
            ("convcalc check resnet50 --max-params 30M (table)", [*cc, "check", "resnet50", "--max-params", "30M"],
             "floor+rich", (0, 1)),
        ]
    for _, args, _, ok in cmds * 2:  # warm up: bytecode written, disk cache filled
        timed(args, env, ok)
    walls: dict[str, list[float]] = {name: [] for name, *_ in cmds}
    cpus: dict[str, list[float]] = {name: [] for name, *_ in cmds}
    peaks: dict[str, float] = {}
    for r in range(rounds):
        order = cmds[r % len(cmds):] + cmds[:r % len(cmds)]  # rotate, so no command always runs first
        for name, args, _, ok in order:
            wall, peak, cpu = timed(args, env, ok)
            walls[name].append(wall)
            cpus[name].append(cpu)
            peaks[name] = max(peaks.get(name, 0.0), peak)
    rows = []
    medians = {name: statistics.median(v) for name, v in walls.items()}
    cpu_medians = {name: statistics.median(v) for name, v in cpus.items()}
    floors = {"floor": cmds[0][0], "floor+rich": cmds[1][0]}
    for name, _, floor, _ in cmds:
        row: dict[str, Any] = {"command": name, "median_ms": medians[name] * 1e3, "min_ms": min(walls[name]) * 1e3,
                               "cpu_ms": cpu_medians[name] * 1e3, "peak_mb": peaks[name], "floor": floor}
        if floor is not None:
            row["ratio"] = medians[name] / medians[floors[floor]]
            row["cpu_ratio"] = cpu_medians[name] / cpu_medians[floors[floor]]
        rows.append(row)
    if not have_check:
        rows.append({"command": "convcalc check ...", "missing": True})
    # the inherited environment, for comparison (e.g. PYTHONDONTWRITEBYTECODE=1: convcalc compiled every run)
    inherited = None
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        base = dict(os.environ, COLUMNS="120")
        pair = [(FLOOR, [PY, "-c", FLOOR]), ("show", [*cc, "show", "resnet50", "--format", "json"])]
        times: dict[str, list[float]] = {k: [] for k, _ in pair}
        for _ in range(max(3, rounds // 2)):
            for k, args in pair:
                times[k].append(timed(args, base)[0])
        inherited = {"floor_ms": statistics.median(times[FLOOR]) * 1e3,
                     "show_json_ms": statistics.median(times["show"]) * 1e3}
        inherited["ratio"] = inherited["show_json_ms"] / inherited["floor_ms"]
    return {"rounds": rounds, "script": cc[0], "check_available": have_check, "rows": rows,
            "no_bytecode_cache": inherited}


def chains(sizes: list[int], reps: int, tmp: Path) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        for variant in ("explicit", "repeat"):
            path = tmp / f"chain-{n}-{variant}.yaml"
            path.write_text(chain_text(n) if variant == "explicit" else repeat_text(n))
            r = child_json("analyse", str(path), str(reps), "1")
            r.update(layers=n, variant=variant, file_mb=path.stat().st_size / 1e6,
                     us_per_layer=r["total_s"] / n * 1e6)
            rows.append(r)
    return rows


#: zoo transformers timed beside the big graphs (quick: the first three)
TRANSFORMERS = ("vit_b_16", "swin_t", "maxvit_t", "vit_h_14", "swin_b")


def big_graphs(reps: int, rounds: int, tmp: Path, quick: bool = False) -> list[dict[str, Any]]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    cc = console_script()
    rows = []
    specs = [(str(SCALE / name), f"specs/scale/{name}") for name in ("resnet1001.yaml", "densenet-4x64.yaml")]
    specs += [(name, f"zoo {name}") for name in TRANSFORMERS[:3 if quick else None]]
    for path, label in specs:
        r = child_json("analyse", path, str(reps), "0")
        r["spec"] = label
        for cmd in ("show", "rf"):
            walls = [timed([*cc, cmd, str(path), "--format", "json"], env)[0] for _ in range(rounds)]
            r[f"cli_{cmd}_json_ms"] = statistics.median(walls) * 1e3
        rows.append(r)
    return rows


def many(count: int, tmp: Path) -> dict[str, Any]:
    folder = tmp / "many"
    folder.mkdir()
    paths = []
    for name, text in small_specs(count):
        (folder / name).write_text(text)
        paths.append(str(folder / name))
    listing = tmp / "many.txt"
    listing.write_text("\n".join(paths))
    cc = console_script()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    out: dict[str, Any] = {"specs": count}
    if subprocess.run([*cc, "check", "--help"], capture_output=True, env=env).returncode == 0:
        wall, peak, _ = timed([*cc, "check", str(folder), "--format", "json"], env, (0, 1))
        p = subprocess.run([*cc, "check", str(folder), "--format", "json"], capture_output=True, text=True, env=env)
        summary = json.loads(p.stdout).get("summary", {}) if p.stdout.startswith("{") else {}
        out["check"] = {"wall_s": wall, "peak_mb": peak, "ms_per_spec": wall / count * 1e3, "exit": p.returncode,
                        "summary": summary}
    lib = child_json("many", str(listing))
    lib["ms_per_spec"] = lib["wall_s"] / count * 1e3
    out["library"] = lib
    return out


def parser(n: int, reps: int, tmp: Path) -> list[dict[str, Any]]:
    import yaml

    path = tmp / f"parser-{n}.yaml"
    path.write_text(chain_text(n))
    rows = []
    for loader in (["c"] if yaml.__with_libyaml__ else []) + ["py"]:
        rows.append(child_json("parser", str(path), loader, str(reps if loader == "c" else 1)))
    return rows


def linearity(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    explicit = {r["layers"]: r for r in rows if r["variant"] == "explicit"}
    if 10_000 not in explicit or 100_000 not in explicit:
        return None
    small, big = explicit[10_000]["us_per_layer"], explicit[100_000]["us_per_layer"]
    return {"us_per_layer_10k": small, "us_per_layer_100k": big, "ratio": big / small, "limit": 3.0,
            "ok": big / small <= 3.0}


# ----------------------------------------------------------------------------------------------- printing


def table(header: list[str], rows: list[list[Any]], right: set[int] | None = None) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    right = right if right is not None else set(range(1, len(header)))

    def line(r: list[str]) -> str:
        padded = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        return "  ".join(padded).rstrip()

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]])


def report(res: dict[str, Any]) -> str:
    m = res["machine"]
    out = ["# convcalc benchmarks" + ("  (--quick)" if res["quick"] else ""), ""]
    v = m["versions"]
    out.append(f"machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['memory']} RAM, {m['os']}")
    out.append(f"python {m['python']} ({m['python_impl']}), PyYAML {v['PyYAML']} "
               f"{'with' if m['libyaml'] else 'WITHOUT'} libyaml, typer {v['typer']}, rich {v['rich']}, "
               f"pydantic {v['pydantic']}, convcalc {v['convcalc']}")
    la = m.get("loadavg_start")
    le = res.get("loadavg_end")
    if la and le:
        out.append(f"load average at start {la[0]:.2f}, at end {le[0]:.2f} (1 min) - other processes share the CPU"
                   if max(la[0], le[0]) > 0.5 else f"load average at start {la[0]:.2f}, at end {le[0]:.2f}")
    out.append(f"wall time {res['elapsed_s']:.0f} s")

    s = res["startup"]
    out += ["", f"## Start-up (cold process, piped output; median of {s['rounds']} alternating runs; "
            f"bytecode cached in a private PYTHONPYCACHEPREFIX, as after pip install)", ""]
    rows = []
    for r in s["rows"]:
        if r.get("missing"):
            rows.append([r["command"], "n/a (command missing)", "", "", "", "", "", ""])
            continue
        ratio = f"{r['ratio']:.2f}x {r['floor']}" if r["floor"] else "(floor)"
        cpu_ratio = f"{r['cpu_ratio']:.2f}x" if r["floor"] else ""
        target = "" if not r["floor"] else ("<= 1.2x: met" if r["ratio"] <= 1.2 else "<= 1.2x: over")
        rows.append([r["command"], f"{r['median_ms']:.0f}", f"{r['min_ms']:.0f}", f"{r['cpu_ms']:.0f}",
                     f"{r['peak_mb']:.0f}", ratio, cpu_ratio, target])
    out.append(table(["command", "wall ms", "min ms", "CPU ms", "peak MB", "wall / floor", "CPU / floor",
                      "target (wall)"], rows, {1, 2, 3, 4, 6}))
    out.append(f"console script: {s['script']}")
    nb = s.get("no_bytecode_cache")
    if nb:
        out.append(f"as this shell runs it (PYTHONDONTWRITEBYTECODE=1, so an editable install recompiles convcalc's "
                   f"sources every start): floor {nb['floor_ms']:.0f} ms, show --format json {nb['show_json_ms']:.0f} "
                   f"ms, {nb['ratio']:.2f}x")

    out += ["", "## Long chains (conv-bn-relu, 16x32x32; load + analyse in one process, best of "
            f"{res['chain_reps']}; peak RSS of that process after the first run)", ""]
    rows = []
    for r in res["chains"]:
        rows.append([f"{r['layers']:,}", r["variant"], f"{r['file_mb']:.2f}", f"{r['load_s']:.2f}",
                     f"{r['analyse_s']:.2f}", f"{r['total_s']:.2f}", f"{r['cpu_s']:.2f}", f"{r['us_per_layer']:.0f}",
                     f"{r['peak_mb']:.0f}", f"{r.get('json_s', 0):.2f}"])
    out.append(table(["layers", "written", "YAML MB", "load s", "analyse s", "total s", "CPU s", "us/layer", "peak MB",
                      "JSON s"], rows, set(range(2, 10)) | {0}))
    big = [r for r in res["chains"] if r["layers"] == 100_000 and r["variant"] == "explicit"]
    if big:
        b = big[0]
        met = b["total_s"] < 5 and b["peak_mb"] < 300
        out.append(f"target, 100,000 explicit layers: < 5 s and < 300 MB: {b['total_s']:.2f} s wall "
                   f"({b['cpu_s']:.2f} s CPU), {b['peak_mb']:.0f} MB - {'met' if met else 'missed'}")
    lin = res.get("linearity")
    if lin:
        out.append(f"linearity: {lin['us_per_layer_10k']:.1f} us/layer at 10,000, {lin['us_per_layer_100k']:.1f} "
                   f"at 100,000: {lin['ratio']:.2f}x (limit {lin['limit']:.0f}x) - {'ok' if lin['ok'] else 'FAIL'}")

    out += ["", "## Deep graphs (specs/scale; load and analyse best of "
            f"{res['graph_reps']} in one process; CLI end to end, median)", ""]
    rows = []
    for r in res["graphs"]:
        rows.append([r["spec"], f"{r['nodes']:,}", f"{r['params']:,}", f"{r['macs']:,}", f"{r['rf'][0]}x{r['rf'][1]}",
                     f"{r['load_s'] * 1e3:.0f}", f"{r['analyse_s'] * 1e3:.0f}", f"{r['peak_mb']:.0f}",
                     f"{r['cli_show_json_ms']:.0f}", f"{r['cli_rf_json_ms']:.0f}"])
    out.append(table(["spec", "nodes", "params", "MACs", "RF", "load ms", "analyse ms", "peak MB", "show -f json ms",
                      "rf -f json ms"], rows))
    out.append("analysis = shapes, costs and receptive fields in one pass over the nodes; target < 1 s each: "
               + ", ".join(f"{r['spec'].split('/')[-1]} {'met' if r['analyse_s'] < 1 else 'missed'}"
                           for r in res["graphs"]))

    out += ["", "## Memory pass (convcalc.metrics.memory: inference peak and training saved bytes, one walk "
            "each, on the expanded graph; best of 3)", ""]
    rows = [[r["spec"], f"{r['nodes']:,}", f"{r['memory_s'] * 1e3:.0f}", f"{r['us_per_node']:.1f}",
             f"{r['inference_peak_bytes']:,}", f"{r['train_activation_bytes']:,}", f"{r['peak_mb']:.0f}"]
            for r in res["memory"]]
    out.append(table(["spec", "nodes", "memory ms", "us/node", "inference peak B", "saved B", "peak MB"], rows,
                     {1, 2, 3, 4, 5, 6}))
    ml = res.get("memory_linearity")
    if ml:
        out.append(f"linearity of the memory pass: {ml['ratio']:.2f}x per node from 10,000 to 100,000 layers "
                   f"(limit 3x) - {'ok' if ml['ok'] else 'FAIL'}")

    mn = res["many"]
    out += ["", f"## {mn['specs']} specs in one process (generated: chains, residual, branches, inverted residuals)",
            ""]
    rows = []
    if "check" in mn:
        c = mn["check"]
        rows.append([f"convcalc check DIR --format json (exit {c['exit']})", f"{c['wall_s']:.2f}",
                     f"{c['ms_per_spec']:.1f}", f"{c['peak_mb']:.0f}"])
    else:
        rows.append(["convcalc check DIR", "n/a (command missing)", "", ""])
    lib = mn["library"]
    rows.append([f"library: analyze_file x {lib['specs']} ({lib['models']} models)", f"{lib['wall_s']:.2f}",
                 f"{lib['ms_per_spec']:.1f}", f"{lib['peak_mb']:.0f}"])
    out.append(table(["how", "wall s", "ms/spec", "peak MB"], rows))

    out += ["", f"## Spec parser ({res['parser'][0]['layers']:,}-layer chain; convcalc's loader = pre-scan, compose, "
            "convert with locations)", ""]
    rows = []
    for r in res["parser"]:
        rows.append([r["loader"], f"{r['load_us_per_layer']:.1f}", f"{r['compose_us_per_layer']:.1f}"])
    out.append(table(["PyYAML loader", "convcalc load us/layer", "yaml.compose alone us/layer"], rows))
    for r in res["parser"]:
        for c in r["checks"]:
            out.append(f"line numbers, {r['loader']}: {c['error']} at line {c['expected_line']} reported as "
                       f"{c['reported']} - {'ok' if c['ok'] else 'WRONG'}")
    out += sweep_bench.lines(res["sweep"])
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and specs (for CI)")
    ap.add_argument("--check-linear", action="store_true",
                    help="exit 1 if time per layer at 100,000 layers is more than 3x that at 10,000")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        task, *args = a.child
        if task == "analyse":
            result = child_analyse(args[0], int(args[1]), args[2] == "1")
        elif task == "many":
            result = child_many(args[0])
        elif task == "parser":
            result = child_parser(args[0], args[1], int(args[2]))
        elif task == "memory":
            result = child_memory(args[0], int(args[1]))
        elif task == "sweep":
            result = sweep_bench.child_sweep(int(args[0]), int(args[1]), args[2:] == ["large"])
        else:
            raise SystemExit(f"unknown child task {task}")
        print(json.dumps(result))
        return 0

    started = time.perf_counter()
    quick = a.quick
    res: dict[str, Any] = {"quick": quick, "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="convcalc-bench-") as t:
        tmp = Path(t)
        res["startup"] = startup(7 if quick else 21, tmp)
        res["chain_reps"] = 3
        res["chains"] = chains([10_000, 100_000] if quick else [1_000, 10_000, 100_000], 3, tmp)
        res["linearity"] = linearity(res["chains"])
        res["graph_reps"] = 3
        res["graphs"] = big_graphs(3, 3 if quick else 7, tmp, quick)
        res["many"] = many(100 if quick else 500, tmp)
        res["memory"] = memory_pass(3, tmp)
        res["parser"] = parser(10_000, 3, tmp)
        rounds, fresh = (2, 3) if quick else (3, 7)
        runs: dict[str, list[dict[str, Any]]] = {"1": [], "2": []}
        for _ in range(fresh):  # fresh processes, one and two jobs alternating
            for jobs in runs:
                runs[jobs].append(child_json("sweep", jobs, str(rounds)))
        res["sweep"] = {"rounds": rounds, "one": sweep_bench.combined(runs["1"]),
                        "two": sweep_bench.combined(runs["2"])}
        if not quick:
            res["sweep"]["large_one"] = child_json("sweep", "1", "1", "large")
            res["sweep"]["large_two"] = child_json("sweep", "2", "1", "large")
    res["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    res["elapsed_s"] = time.perf_counter() - started
    failed = [c for r in res["parser"] for c in r["checks"] if not c["ok"]]
    lin = res["linearity"]
    mem = res["memory"]
    memory_ratio = mem[1]["us_per_node"] / mem[0]["us_per_node"]
    res["memory_linearity"] = {"ratio": memory_ratio, "ok": memory_ratio <= 3}
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        print(report(res))
    if failed:
        print(f"FAILED: {len(failed)} line-number check(s)", file=sys.stderr)
        return 1
    if a.check_linear and not res["memory_linearity"]["ok"]:
        print(f"FAILED: --check-linear: the memory pass's time per node grows {memory_ratio:.2f}x from 10,000 to "
              "100,000 layers (limit 3x)", file=sys.stderr)
        return 1
    if a.check_linear and (lin is None or not lin["ok"]):
        print("FAILED: --check-linear: time per layer grows more than 3x from 10,000 to 100,000 layers"
              if lin else "FAILED: --check-linear: the 10,000 and 100,000 layer chains were not measured",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
