"""Budgets on memory and on the latency bound (spec, budgets file, command line), the ``roofline``, ``devices``
and ``compare --device`` commands: exact values, exit codes, located errors."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

from typer.testing import CliRunner

from convcalc.ci.budget import parse_value
from convcalc.cli import app
from convcalc.lang.device import load_device
from convcalc.lang.sources import open_source
from convcalc.metrics.analysis import analyze_document, graphs_of
from convcalc.metrics.memory import MemoryOptions, memory_of
from convcalc.metrics.roofline import roofline
from convcalc.units import human_seconds, parse_duration

SPEC = """name: tiny
input: {channels: 3, size: 32}
budget: {max_peak_memory: $peak, max_train_memory: 2MiB, train_batch: 4, optimizer: adam,
         max_latency_bound: 1ms, device: nvidia-t4}
layers:
  - conv: {out: 16, kernel: 3, padding: 1}
  - bn
  - relu: {inplace: true}
  - global_avgpool
  - flatten
  - linear: {out: 10}
"""

runner = CliRunner()


def write(tmp_path: Path, peak: str) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(SPEC.replace("$peak", peak))
    return p


def test_durations_parse_exactly() -> None:
    assert parse_duration("5ms") == Fraction(1, 200)
    assert parse_duration("2.5 ms") == Fraction(1, 400)
    assert parse_duration("300us") == parse_duration("300µs") == Fraction(3, 10_000)
    assert parse_duration("1200ns") == Fraction(3, 2_500_000)
    assert human_seconds(Fraction(1, 200)) == "5.00 ms"
    assert parse_value("max_latency_bound", "1ms") == Fraction(1, 1000)


def test_memory_and_latency_limits_measure_what_the_commands_report(tmp_path: Path) -> None:
    """conv 3→16 at 32²: the peak is at the bn (conv out + bn out, 16·32² each, fp32): 131,072 B."""
    spec = write(tmp_path, "100KiB")
    res = runner.invoke(app, ["check", str(spec), "--format", "json"])
    assert res.exit_code == 1, res.output
    checks = {c["key"]: c for s in json.loads(res.stdout)["specs"] for m in s["models"] for c in m["budgets"]}
    assert checks["max_peak_memory"]["actual"] == 2 * 16 * 32 * 32 * 4 == 131_072
    assert checks["max_peak_memory"]["passed"] is False
    g = graphs_of(open_source(str(spec)))[0]
    g.batch = 4
    train = memory_of(g, MemoryOptions(train=True, optimizer="adam"))
    assert checks["max_train_memory"]["actual"] == train.train_total_bytes
    g.batch = 1
    report = analyze_document(open_source(str(spec)))[0]
    bound = roofline(report, load_device("nvidia-t4"), "fp32").bound_s
    assert checks["max_latency_bound"]["actual"] == float(bound)
    ok = runner.invoke(app, ["check", str(write(tmp_path, "128KiB"))])
    assert ok.exit_code == 0, ok.output


def test_command_line_options_override_the_specs(tmp_path: Path) -> None:
    spec = write(tmp_path, "1MiB")
    res = runner.invoke(app, ["check", str(spec), "--dtype", "fp16", "--max-peak-memory", "64KiB", "--format",
                              "json"])
    checks = [c for s in json.loads(res.stdout)["specs"] for m in s["models"] for c in m["budgets"]
              if c["key"] == "max_peak_memory"]
    assert checks[0]["actual"] == 2 * 16 * 32 * 32 * 2 and checks[0]["passed"] is True
    assert res.exit_code == 0


def test_a_latency_limit_without_a_device_is_a_located_error(tmp_path: Path) -> None:
    p = tmp_path / "nodev.yaml"
    p.write_text("input: {channels: 3, size: 8}\nbudget: {max_latency_bound: 1ms}\nlayers:\n  - relu\n")
    res = runner.invoke(app, ["check", str(p)])
    assert res.exit_code == 2
    assert f"{p}:2:" in res.stderr and "needs a device" in res.stderr
    bad = runner.invoke(app, ["check", str(p), "--device", "nvidia-t5"])
    assert bad.exit_code == 2 and "nvidia-t4" in bad.stderr
    unit = runner.invoke(app, ["check", str(p), "--max-latency-bound", "5", "--device", "nvidia-t4"])
    assert unit.exit_code == 2 and "unit" in unit.stderr


def test_roofline_command_is_labelled_a_bound_and_sums_its_layers() -> None:
    res = runner.invoke(app, ["roofline", "resnet18", "--device", "nvidia-a100-sxm4-80gb", "--format", "json"])
    assert res.exit_code == 0, res.output
    b = json.loads(res.stdout)["models"][0]["roofline"]
    assert b["kind"] == "lower bound" and b["sources"]
    assert b["flops"] == sum(x["flops"] for x in b["layers"])
    assert b["bytes"] == sum(x["bytes"] for x in b["layers"])
    assert Fraction(b["latency_bound_exact_s"]) > 0
    table = runner.invoke(app, ["roofline", "resnet18", "--device", "nvidia-a100-sxm4-80gb"])
    assert "lower bound on latency, not a prediction" in table.stdout
    half = runner.invoke(app, ["roofline", "resnet18", "--device", "nvidia-v100-sxm2", "--dtype", "bf16"])
    assert half.exit_code == 2 and "bf16" in half.stderr


def test_compare_device_puts_the_mac_ratio_next_to_the_bound_ratio() -> None:
    res = runner.invoke(app, ["compare", "resnet50", "mobilenet_v2", "--device", "nvidia-a100-sxm4-80gb",
                              "--format", "json"])
    assert res.exit_code == 0, res.output
    alts = json.loads(res.stdout)["alternatives"]
    r50, mb2 = (Fraction(a["roofline"]["latency_bound_exact_s"]) for a in alts)
    assert alts[1]["ratios"]["latency_bound"] == float(mb2 / r50)
    assert alts[1]["ratios"]["macs"] < alts[1]["ratios"]["latency_bound"]  # memory binds MobileNetV2 more
    table = runner.invoke(app, ["compare", "resnet50", "mobilenet_v2", "--device", "nvidia-a100-sxm4-80gb"])
    assert "bound" in table.stdout and "not a prediction" in table.stdout


def test_devices_lists_every_bundled_profile_with_sources() -> None:
    res = runner.invoke(app, ["devices", "--format", "json"])
    devs = json.loads(res.stdout)["devices"]
    assert {d["profile"] for d in devs} >= {"nvidia-t4", "nvidia-a100-sxm4-80gb"}
    assert all(d["sources"] and d["bandwidth"] > 0 and d["peak_flops"]["fp32"] > 0 for d in devs)


def test_a_budgets_file_sets_the_memory_options(tmp_path: Path) -> None:
    """budgets.yaml beside the spec: max_train_memory at train_batch 16, bf16 mixed precision, plain SGD."""
    (tmp_path / "budgets.yaml").write_text('convcalc: 1\nbudgets:\n  "*.yaml": {max_train_memory: 1GiB, '
                                           'train_batch: 16, optimizer: sgd, dtype: bf16, mixed: true}\n')
    spec = tmp_path / "net.yaml"
    spec.write_text("input: {channels: 3, size: 32}\nlayers:\n  - conv: {out: 16, kernel: 3, padding: 1}\n")
    res = runner.invoke(app, ["check", str(spec), "--format", "json"])
    assert res.exit_code == 0, res.output
    (check,) = [c for s in json.loads(res.stdout)["specs"] for m in s["models"] for c in m["budgets"]]
    g = graphs_of(open_source(str(spec)))[0]
    g.batch = 16
    m = memory_of(g, MemoryOptions("bf16", True, "sgd", True))
    # fp32 master weights and gradients (448 params), no SGD state: the conv saves autocast's bf16 copies of
    # the input (3·32²·16) and of its weight (432; not of its bias), as tests/test_memory_mixed.py measures
    assert m.weights_bytes == m.gradients_bytes == 4 * 448 and m.optimizer_bytes == 0
    assert m.train_activation_bytes == 2 * 3 * 32 * 32 * 16 + 2 * 432
    assert check["key"] == "max_train_memory" and check["actual"] == m.train_total_bytes
