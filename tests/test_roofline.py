"""The roofline pass and device profiles: bytes, FLOPs and time bounds written as arithmetic, exactly.

Every expected value is spelled out from the module's model (convcalc/metrics/roofline.py): a layer reads each
input map once (C·H·W·N·s), its params and buffers once (·s), writes its output once; views move 0 bytes; the
bound is max(F / peak, B / bandwidth), an exact Fraction of seconds.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import MappingProxyType

import pytest

from convcalc import SpecError, UsageError, analyze_text
from convcalc.lang.device import BYTES, Device, bundled_devices, load_device
from convcalc.metrics.roofline import LayerBound, Roofline, roofline

#: A made-up device with round figures: 1000 FLOP/s in fp32, 4000 in fp16, 100 bytes/s (ridge: 10 FLOP/byte).
TOY = Device("toy", "", MappingProxyType({"fp32": 1000, "fp16": 4000}), 100)


def one(text: str) -> Roofline:
    return roofline(analyze_text(text)[0], TOY)


def layer(r: Roofline, name: str) -> LayerBound:
    return next(lb for lb in r.layers if lb.name == name)


CONV = """
input: {channels: 3, height: 8, width: 8}
defaults: {bias: false}
layers:
  - conv: {name: c, out: 4, kernel: 3}
"""


def test_single_conv_bytes_flops_and_bound_as_arithmetic() -> None:
    """3×8×8 → 4×6×6, 3×3, no bias: F = 2·(6·6·4·3·9); R = 3·8·8·4; W = 4·6·6·4; P = 4·3·9·4 bytes."""
    c = layer(one(CONV), "c")
    assert c.flops == 2 * (6 * 6 * 4 * 3 * 9) == 7776
    assert c.read_bytes == 3 * 8 * 8 * 4
    assert c.write_bytes == 4 * 6 * 6 * 4
    assert c.weight_bytes == 4 * 3 * 9 * 4
    assert c.bytes == 3 * 8 * 8 * 4 + 4 * 6 * 6 * 4 + 4 * 3 * 9 * 4 == 1776
    assert c.intensity == Fraction(7776, 1776)
    assert c.compute_s == Fraction(7776, 1000)
    assert c.memory_s == Fraction(1776, 100)
    assert c.bound_s == Fraction(1776, 100)  # 17.76 s of memory > 7.776 s of compute
    assert c.limit == "memory"


def test_dtype_sets_bytes_per_element_and_the_peak() -> None:
    """fp16: every byte count halves (2 bytes an element), and the bound uses the fp16 peak."""
    report = analyze_text(CONV)[0]
    c16 = next(iter(roofline(report, TOY, "fp16").layers))
    assert c16.bytes == (3 * 8 * 8 + 4 * 6 * 6 + 4 * 3 * 9) * 2
    assert c16.compute_s == Fraction(7776, 4000)
    assert c16.bound_s == max(Fraction(7776, 4000), Fraction(c16.bytes, 100))


def test_batch_scales_maps_and_work_but_not_weights() -> None:
    """batch 3: R, W and F are 3×; the weights are read once whatever the batch."""
    c1 = layer(one(CONV), "c")
    c3 = layer(one(CONV.replace("width: 8}", "width: 8, batch: 3}")), "c")
    assert one(CONV.replace("width: 8}", "width: 8, batch: 3}")).batch == 3
    assert (c3.flops, c3.read_bytes, c3.write_bytes) == (3 * c1.flops, 3 * c1.read_bytes, 3 * c1.write_bytes)
    assert c3.weight_bytes == c1.weight_bytes == 4 * 3 * 9 * 4
    assert c3.bytes == 3 * (3 * 8 * 8 + 4 * 6 * 6) * 4 + 4 * 3 * 9 * 4


def test_compute_bound_and_memory_bound_layers() -> None:
    """A 1×1 conv 64 → 64 on 8×8 does 2·64·64·64 FLOPs on (64·64·2 + 64·64)·4 bytes (intensity ≈ 10.7 > the
    ridge 10): compute-bound. The ReLU after it does no FLOPs (cmps are not FLOPs) on 2·64·64·4 bytes: memory."""
    r = one("input: {channels: 64, height: 8, width: 8}\ndefaults: {bias: false}\nlayers:\n"
            "  - conv: {name: pw, out: 64, kernel: 1}\n  - relu: {name: act}\n")
    pw, act = layer(r, "pw"), layer(r, "act")
    assert pw.flops == 2 * 64 * 64 * 64
    assert pw.bytes == (64 * 64 + 64 * 64 + 64 * 64) * 4
    assert pw.intensity == Fraction(2 * 64 * 64 * 64, 3 * 64 * 64 * 4) > r.ridge == 10
    assert (pw.limit, pw.bound_s) == ("compute", Fraction(2 * 64 * 64 * 64, 1000))
    assert (act.flops, act.bytes, act.limit) == (0, 2 * 64 * 64 * 4, "memory")
    assert act.bound_s == Fraction(2 * 64 * 64 * 4, 100)
    assert r.bound_s == pw.bound_s + act.bound_s
    assert r.memory_bound_s == act.bound_s
    assert r.memory_share == act.bound_s / (pw.bound_s + act.bound_s)
    assert (r.flops, r.bytes) == (pw.flops, pw.bytes + act.bytes)


def test_views_move_no_bytes_and_the_next_layer_reads_the_view() -> None:
    """flatten and dropout re-label memory: 0 bytes, no intensity, limit none; the linear after them reads the
    4·2·2 flattened elements once, its 16·3 weights and 3 biases, and writes 3."""
    r = one("input: {channels: 4, height: 2, width: 2}\nlayers:\n  - flatten: {name: f}\n"
            "  - dropout: {name: d, p: 0.5}\n  - linear: {name: fc, out: 3}\n")
    for name in ("f", "d"):
        v = layer(r, name)
        assert (v.bytes, v.read_bytes, v.write_bytes, v.weight_bytes) == (0, 0, 0, 0)
        assert (v.intensity, v.bound_s, v.limit) == (None, Fraction(0), "none")
    fc = layer(r, "fc")
    assert (fc.read_bytes, fc.weight_bytes, fc.write_bytes) == (16 * 4, (16 * 3 + 3) * 4, 3 * 4)


def test_split_is_a_view_and_each_path_reads_its_part() -> None:
    """branches with split: 4 channels → two split views of 2 (0 bytes); the conv reads 2·4·4 elements, and the
    concat reads its two inputs (2·4·4 each) and writes 4·4·4."""
    r = one("input: {channels: 4, height: 4, width: 4}\ndefaults: {bias: false}\nlayers:\n"
            "  - branches: {split: true, merge: concat, paths: [[conv: {name: p, out: 2, kernel: 1}], []]}\n")
    splits = [lb for lb in r.layers if lb.type == "split"]
    assert len(splits) == 2 and all(s.bytes == 0 for s in splits)
    assert layer(r, "p").read_bytes == 2 * 4 * 4 * 4
    cat = next(lb for lb in r.layers if lb.type == "concat")
    assert (cat.read_bytes, cat.write_bytes, cat.flops) == ((2 + 2) * 4 * 4 * 4, 4 * 4 * 4 * 4, 0)


def test_residual_add_reads_both_inputs_and_batch_norm_its_buffers() -> None:
    """add(x, bn(x)): the add reads two 2×3×3 maps and writes one; bn's 2C params and 2C buffers are read."""
    r = one("input: {channels: 2, height: 3, width: 3}\nlayers:\n"
            "  - residual: {name: res, body: [bn: {name: norm}]}\n")
    add = next(lb for lb in r.layers if lb.type == "add")
    assert (add.read_bytes, add.write_bytes, add.weight_bytes) == (2 * 18 * 4, 18 * 4, 0)
    assert add.flops == 18  # one add per element
    assert layer(r, "res/norm").weight_bytes == (2 * 2 + 2 * 2) * 4


def test_training_only_and_dead_layers_are_left_out() -> None:
    """The training-only side branch and the layer that feeds no output are not in the inference pass."""
    r = one("input: {channels: 4, height: 4, width: 4}\ndefaults: {bias: false}\noutputs: [main]\nlayers:\n"
            "  - side: {name: aux, training_only: true, body: [conv: {name: head, out: 2, kernel: 1}]}\n"
            "  - conv: {name: main, out: 3, kernel: 1}\n  - conv: {name: unused, out: 5, kernel: 1}\n")
    assert [lb.name for lb in r.layers] == ["main"]
    assert r.flops == 2 * 16 * 3 * 4 and r.bytes == (4 * 16 + 3 * 16 + 3 * 4) * 4


def test_a_layer_named_input_is_read_as_itself_after_it() -> None:
    """A conv named `input` reads the model's 3×8×8 input; the relu after it reads the conv's 4×6×6 output."""
    r = one("input: {channels: 3, height: 8, width: 8}\nlayers:\n  - conv: {name: input, out: 4, kernel: 3}\n"
            "  - relu: {name: act}\n")
    assert layer(r, "input").read_bytes == 3 * 8 * 8 * 4
    assert layer(r, "act").read_bytes == 4 * 6 * 6 * 4


def test_exact_numbers_only() -> None:
    """Every count is an int and every time and intensity a Fraction (no float anywhere)."""
    r = roofline(analyze_text("input: {channels: 3, size: 16}\nlayers:\n  - conv: {out: 8, kernel: 3}\n  - bn\n"
                              "  - relu\n  - global_avgpool\n  - flatten\n  - linear: {out: 10}\n")[0],
                 load_device("nvidia-a100-sxm4-80gb"), "bf16")
    for lb in r.layers:
        assert all(type(v) is int for v in (lb.flops, lb.read_bytes, lb.write_bytes, lb.weight_bytes, lb.bytes))
        assert all(type(v) is Fraction for v in (lb.compute_s, lb.memory_s, lb.bound_s))
        assert lb.intensity is None or type(lb.intensity) is Fraction
    assert type(r.bound_s) is Fraction and type(r.memory_bound_s) is Fraction and type(r.flops) is int


def test_a_dtype_the_device_lacks_is_a_usage_error_naming_its_dtypes() -> None:
    report = analyze_text(CONV)[0]
    with pytest.raises(UsageError) as e:
        roofline(report, load_device("nvidia-t4"), "bf16")
    assert "no peak FLOP/s 'bf16' for NVIDIA T4" in str(e.value)
    assert "NVIDIA T4 has peaks for: fp32, fp16, int8" in str(e.value)
    with pytest.raises(UsageError, match="unknown dtype 'fp64'"):
        roofline(report, TOY, "fp64")


# ------------------------------------------------------------------ device profiles

#: The bundled figures (dense; FLOP/s and bytes/s), as each profile's `sources:` cites them.
BUNDLED = {
    "nvidia-t4": ({"fp32": 8_100 * 10**9, "fp16": 65 * 10**12, "int8": 130 * 10**12}, 300 * 10**9),
    "nvidia-v100-sxm2": ({"fp32": 15_700 * 10**9, "fp16": 125 * 10**12}, 900 * 10**9),
    "nvidia-a10": ({"fp32": 31_200 * 10**9, "fp16": 125 * 10**12, "bf16": 125 * 10**12, "int8": 250 * 10**12},
                   600 * 10**9),
    "nvidia-a100-sxm4-80gb": ({"fp32": 19_500 * 10**9, "fp16": 312 * 10**12, "bf16": 312 * 10**12,
                               "int8": 624 * 10**12}, 2039 * 10**9),
    "nvidia-rtx-4090": ({"fp32": 82_600 * 10**9, "fp16": 165_200 * 10**9, "bf16": 165_200 * 10**9,
                         "int8": 660_600 * 10**9}, 1008 * 10**9),
}


def test_every_bundled_profile_loads_with_its_figures_and_sources() -> None:
    assert bundled_devices() == sorted(BUNDLED)
    for name, (peaks, bandwidth) in BUNDLED.items():
        d = load_device(name)
        assert (dict(d.peak_flops), d.bandwidth) == (peaks, bandwidth), name
        assert list(d.peak_flops) == [k for k in BYTES if k in peaks], name  # in BYTES order
        assert d.name and d.description, name
        assert d.sources and all(s.startswith("https://") for s in d.sources), name
        assert any(("sparsity" in s or "table" in s.lower()) for s in d.sources), name


def write(tmp_path: Path, text: str, name: str = "gpu.yaml") -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_a_user_profile_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "name: my-gpu\npeak_flops: {fp16: 2000, fp32: 1000}\nbandwidth: 50\n", "mine.yml")
    d = load_device(path)
    assert (d.name, d.description, dict(d.peak_flops), d.bandwidth, d.sources) == \
        ("my-gpu", "", {"fp32": 1000, "fp16": 2000}, 50, ())
    assert list(d.peak_flops) == ["fp32", "fp16"]  # in BYTES order, whatever the file's


def test_user_profile_errors_are_located_all_in_one_pass(tmp_path: Path) -> None:
    path = write(tmp_path, "name: my-gpu\nbandwith: 5\npeak_flops:\n  fp32: yes\n  fp16: 1.5e+13\n  fp64: 7\n"
                           "  int8: -3\nbandwidth: true\nsources: [3]\n")
    with pytest.raises(SpecError) as e:
        load_device(path)
    lines = [ln for ln in str(e.value).splitlines() if not ln.startswith("  hint")]
    assert lines == [
        f"{path}:2:11: bandwith: unknown key 'bandwith'",
        f"{path}:4:9: peak_flops.fp32: expected an integer >= 1, found boolean true",
        f"{path}:5:9: peak_flops.fp16: expected an integer >= 1, found number 15000000000000.0",
        f"{path}:6:9: peak_flops.fp64: unknown dtype 'fp64'",
        f"{path}:7:9: peak_flops.int8: expected an integer >= 1, found -3",
        f"{path}:8:12: bandwidth: expected an integer >= 1, found boolean true",
        f"{path}:9:11: sources[0]: expected a source (text: a URL and where in it), found 3",
    ]
    text = str(e.value)
    assert "hint: did you mean 'bandwidth'?" in text
    assert "hint: YAML reads yes/no/true/false as booleans" in text
    assert "hint: write 15000000000000 (an integer" in text


def test_missing_keys_and_a_profile_that_is_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as e:
        load_device(write(tmp_path, "name: half\n"))
    assert "missing key 'peak_flops'" in str(e.value) and "missing key 'bandwidth'" in str(e.value)
    with pytest.raises(SpecError, match="expected a device profile \\(a mapping\\), found a list of 2"):
        load_device(write(tmp_path, "- 1\n- 2\n", "list.yaml"))
    with pytest.raises(SpecError, match="duplicate key 'bandwidth'"):  # the located YAML loader's own checks
        load_device(write(tmp_path, "name: x\npeak_flops: {fp32: 1}\nbandwidth: 1\nbandwidth: 2\n", "dup.yaml"))


def test_an_unknown_device_name_lists_the_bundled_ones() -> None:
    for arg, close in (("nvidia-t5", "nvidia-t4"), ("rtx-4090", "nvidia-rtx-4090"), ("a10", "nvidia-a10")):
        with pytest.raises(UsageError) as e:
            load_device(arg)
        assert f"{arg}: no such file, and no bundled device of that name" in str(e.value)
        assert f"did you mean {close!r}?" in str(e.value), arg
        assert "The bundled devices: " + ", ".join(bundled_devices()) in str(e.value)
    with pytest.raises(UsageError) as e:
        load_device("tpu")
    assert "did you mean" not in str(e.value) and "nvidia-t4" in str(e.value)


def test_at_the_ridge_point_compute_binds() -> None:
    """A 1×1 conv 80 → 80 on 5×8, no bias: F = 2·40·80·80 = 512000 on B = (2·40·80 + 80·80)·4 = 51200 bytes,
    intensity exactly the toy's ridge 10: both limits take 512 s, and the tie goes to compute."""
    c = layer(one("input: {channels: 80, height: 5, width: 8}\ndefaults: {bias: false}\nlayers:\n"
                  "  - conv: {name: c, out: 80, kernel: 1}\n"), "c")
    assert (c.flops, c.bytes, c.intensity) == (512000, 51200, Fraction(10))
    assert c.compute_s == c.memory_s == c.bound_s == 512
    assert c.limit == "compute"


def test_a_map_read_twice_by_one_layer_is_read_once() -> None:
    """x·x (a mul merge of two empty paths) reads the 2×3×3 input once, not twice, and writes one map."""
    r = one("input: {channels: 2, height: 3, width: 3}\nlayers:\n  - branches: {merge: mul, paths: [[], []]}\n")
    (m,) = r.layers
    assert (m.type, m.read_bytes, m.write_bytes, m.flops) == ("mul", 18 * 4, 18 * 4, 18)
