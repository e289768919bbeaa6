"""ResNet-50 counted by PyTorch counters vs convcalc: wall time and peak memory of a fresh process each.

Not part of CI. Needs torch, torchvision and (optionally) ptflops, fvcore, thop, torchinfo in the running
interpreter, and convcalc installed next to it (or give --convcalc PATH), e.g.:

    python -m venv /tmp/tv && /tmp/tv/bin/pip install torch torchvision ptflops fvcore thop torchinfo \
        && /tmp/tv/bin/pip install -e .
    /tmp/tv/bin/python benchmarks/torch_counter.py [--runs 3]

Each measurement is a new process (`python -c ...`: import torch, build torchvision's resnet50, count one
224x224 image; or `convcalc show resnet50 --format json`), timed with time.perf_counter, peak RSS from
os.wait4. Runs alternate between the tools; the median wall time and the largest peak RSS are printed, with
the totals each tool reports (their "flops" are MACs, except FlopCounterMode's, which are 2·MACs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable

PRELUDE = """
import json, time, warnings
warnings.filterwarnings("ignore")
t0 = time.perf_counter()
import torch, torchvision
t1 = time.perf_counter()
model = torchvision.models.resnet50().eval()
x = torch.randn(1, 3, 224, 224)
t2 = time.perf_counter()
"""
EPILOGUE = """
t3 = time.perf_counter()
print(json.dumps({"params": params, "macs": macs, "import_s": t1 - t0, "build_s": t2 - t1, "count_s": t3 - t2}))
"""
COUNTERS = {
    "torch FlopCounterMode": """
from torch.utils.flop_counter import FlopCounterMode
with torch.no_grad(), FlopCounterMode(display=False) as fc:
    model(x)
macs = fc.get_total_flops() // 2   # FlopCounterMode counts 2 FLOPs per multiply-accumulate
params = sum(p.numel() for p in model.parameters())
""",
    "ptflops": """
from ptflops import get_model_complexity_info
macs, params = get_model_complexity_info(model, (3, 224, 224), as_strings=False, print_per_layer_stat=False,
                                         verbose=False)
""",
    "fvcore": """
from fvcore.nn import FlopCountAnalysis, parameter_count
a = FlopCountAnalysis(model, x)
a.unsupported_ops_warnings(False); a.uncalled_modules_warnings(False)
macs = a.total()                    # fvcore's "flops" are MACs
params = parameter_count(model)[""]
""",
    "thop": """
from thop import profile
with torch.no_grad():
    macs, params = profile(model, inputs=(x,), verbose=False)
macs, params = int(macs), int(params)
""",
    "torchinfo": """
from torchinfo import summary
s = summary(model, input_size=(1, 3, 224, 224), verbose=0)
macs, params = s.total_mult_adds, s.total_params
""",
}


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time (s), peak RSS (MB) and stdout of one fresh process."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.PIPE, env=env)
        assert p.stderr is not None
        err = p.stderr.read()
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        p.stderr.close()
        out.seek(0)
        text = out.read().decode()
    if p.returncode:
        raise RuntimeError(f"{args[:3]} exited {p.returncode}: {err.decode()[-1500:]}")
    return wall, usage.ru_maxrss / 1024, text


def available(module: str) -> bool:
    return subprocess.run([PY, "-c", f"import {module}"], capture_output=True).returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=3, help="runs per tool (median wall time)")
    ap.add_argument("--convcalc", default=None, help="the convcalc console script (default: next to this Python)")
    a = ap.parse_args()
    if not available("torch") or not available("torchvision"):
        print("needs torch and torchvision in this interpreter (see the docstring)", file=sys.stderr)
        return 2
    script = a.convcalc or str(Path(PY).parent / "convcalc")
    cc = [script] if Path(script).exists() else [PY, "-m", "convcalc"]
    with tempfile.TemporaryDirectory(prefix="convcalc-torch-") as tmp:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")  # bytecode cached for every tool alike
        tools: dict[str, list[str]] = {}
        for name, code in COUNTERS.items():
            module = {"ptflops": "ptflops", "fvcore": "fvcore", "thop": "thop", "torchinfo": "torchinfo"}.get(name)
            if module and not available(module):
                print(f"skipping {name}: not installed", file=sys.stderr)
                continue
            tools[name] = [PY, "-c", PRELUDE + code + EPILOGUE]
        tools["convcalc show resnet50 --format json"] = [*cc, "show", "resnet50", "--format", "json"]
        for args in tools.values():  # warm up: bytecode, disk cache
            timed(args, env)
        walls: dict[str, list[float]] = {k: [] for k in tools}
        peaks: dict[str, float] = {k: 0.0 for k in tools}
        outputs: dict[str, str] = {}
        for r in range(a.runs):
            names = list(tools)
            for name in names[r % len(names):] + names[:r % len(names)]:
                wall, peak, text = timed(tools[name], env)
                walls[name].append(wall)
                peaks[name] = max(peaks[name], peak)
                outputs[name] = text
    from importlib import metadata

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print("# ResNet-50 (torchvision, 1x3x224x224): PyTorch counters vs convcalc, one fresh process each")
    print(f"machine: {cpu}, {os.cpu_count()} cores; python {platform.python_version()}; "
          f"torch {metadata.version('torch')}, torchvision {metadata.version('torchvision')}; "
          f"torch threads: default ({os.cpu_count()})")
    if hasattr(os, "getloadavg"):
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    print(f"median of {a.runs} alternating runs; bytecode cached (PYTHONPYCACHEPREFIX) for every tool alike\n")
    rows = []
    for name in tools:
        text = outputs[name]
        if name.startswith("convcalc"):
            d = json.loads(text)["models"][0]
            params, macs, detail = d["params"], d["macs"], ""
        else:
            d = json.loads(text.strip().splitlines()[-1])
            params, macs = int(d["params"]), int(d["macs"])
            detail = f"import {d['import_s']:.1f} s, build {d['build_s']:.2f} s, count {d['count_s']:.2f} s"
        rows.append((name, f"{statistics.median(walls[name]):.2f}", f"{peaks[name]:.0f}", f"{params:,}", f"{macs:,}",
                     detail))
    header = ("tool", "wall s", "peak MB", "params", "MACs", "inside the process (last run)")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for i, row in enumerate([header, *rows]):
        print("  ".join(str(c).rjust(w) if 0 < j < 5 else str(c).ljust(w) for j, (c, w) in
                        enumerate(zip(row, widths, strict=True))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    cw = statistics.median(walls["convcalc show resnet50 --format json"])
    cp = peaks["convcalc show resnet50 --format json"]
    others = [n for n in tools if not n.startswith("convcalc")]
    if others:
        fastest = min(others, key=lambda n: statistics.median(walls[n]))
        print(f"\nconvcalc: {statistics.median(walls[fastest]) / cw:.0f}x less wall time than the fastest PyTorch "
              f"counter ({fastest}), {min(peaks[n] for n in others) / cp:.0f}x less peak memory than the leanest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
