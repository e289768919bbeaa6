"""The ViT, Swin and Swin V2 family files (convcalc/zoo/vit.yaml, swin.yaml, swin_v2.yaml) equal torchvision.

Every integer here was measured with torch 2.14.1 and torchvision 0.29.1 (CPU) on
``torchvision.models.<name>(weights=None)`` in eval mode (ViT at another size: ``image_size=s``), one
1×3×s×s input: params = the sum of ``numel`` over ``parameters()``; buffers = the sum over ``buffers()``
(Swin's ``relative_position_index``, T² per block, and Swin V2's ``relative_coords_table`` too, 2·(2w−1)²;
ViT has none); MACs = ``FlopCounterMode`` total // 2 under ``torch.no_grad()``,
``torch.nn.attention.sdpa_kernel(SDPBackend.MATH)`` and ``torch.backends.mha.set_fastpath_enabled(False)``
(otherwise the fused CPU kernels hide the attention matmuls from the counter, and under ``no_grad``
``nn.MultiheadAttention``'s fast path hides ViT's whole attention). Per-module figures are the same sums
over one module (``get_submodule``, ``get_flop_counts()``). The output is torchvision's (1, 1000),
convcalc's 1000×1×1. tests/data/torchvision-modern.csv holds the figures at each model's published size
(the first row of each model: the weights' crop size, 224, Swin V2 256), which equal the weights'
``meta["num_params"]``, and at the other sizes of its weights (ViT at 384, 512, 518).

Every case runs (about 40 s in all on a 2-core machine: the receptive-field pass where windows pad the maps
and where many tokens pass through global attention takes a few seconds each).
"""

from __future__ import annotations

import functools

import pytest

from convcalc.lang.sources import zoo_names
from convcalc.lang.spec import Settings
from convcalc.metrics.analysis import Report
from convcalc.zoo import FAMILIES
from tests.conftest import invoke, reference_rows, zoo_report

VARIANTS = FAMILIES["vit"] + FAMILIES["swin"] + FAMILIES["swin_v2"]
#: each variant's first row in tests/data/torchvision-modern.csv: its default weights' crop size
PUBLISHED = [{"model": m, "input_size": rows[0]["input_h"], "params": rows[0]["params"], "macs": rows[0]["macs"]}
             for m in VARIANTS for rows in [reference_rows([m])]]
NATIVE = {r["model"]: int(r["input_size"]) for r in PUBLISHED}

#: buffers (the same at every size: the windows do not change), torchvision 0.29.1
BUFFERS = {**dict.fromkeys(FAMILIES["vit"], 0), "swin_t": 28_812, "swin_s": 57_624, "swin_b": 57_624,
           "swin_v2_t": 54_552, "swin_v2_s": 109_104, "swin_v2_b": 109_104}

#: (model, size) → (params, MACs) away from the published size, torchvision 0.29.1. Swin at 256, 320,
#: 200 and 192 pads the maps to multiples of the window (and patch merging an odd map: 200 → 25 → 13 → 7),
#: and drops the shift where a window covers the map; ViT with image_size grows its position embedding.
OTHER_SIZES = {
    ("vit_b_16", 384): (86_859_496, 55_484_350_464),    # the SWAG E2E weights' size (their num_params)
    ("vit_b_32", 384): (88_297_192, 13_043_564_544),
    ("vit_b_16", 112): (86_454_760, 4_322_482_176),
    ("vit_l_16", 112): (304_176_104, 15_261_933_568),
    ("vit_h_14", 112): (631_800_040, 41_290_024_960),
    ("vit_l_32", 160): (306_510_824, 7_964_631_040),
    ("swin_t", 256): (28_288_354, 7_345_441_536),
    ("swin_t", 320): (28_288_354, 9_900_658_176),
    ("swin_t", 200): (28_288_354, 4_089_283_584),
    ("swin_t", 192): (28_288_354, 3_636_606_336),
    ("swin_s", 256): (49_606_258, 14_289_817_344),
    ("swin_s", 320): (49_606_258, 18_883_465_728),
    ("swin_s", 200): (49_606_258, 7_957_386_240),
    ("swin_s", 192): (49_606_258, 7_150_814_592),
    ("swin_b", 256): (87_768_224, 25_188_045_824),
    ("swin_b", 320): (87_768_224, 33_322_768_384),
    ("swin_b", 200): (87_768_224, 14_039_379_968),
    ("swin_b", 192): (87_768_224, 12_612_022_784),
    ("swin_v2_t", 224): (28_351_570, 4_938_464_256),
    ("swin_v2_t", 320): (28_351_570, 10_711_366_656),
    ("swin_v2_t", 200): (28_351_570, 4_537_181_184),      # 50 → 56, 25 → 32, 13 → 16, 7 → 8
    ("swin_v2_s", 224): (49_737_442, 9_695_284_224),
    ("swin_v2_s", 320): (49_737_442, 20_809_632_768),
    ("swin_v2_b", 224): (87_930_848, 17_047_678_976),
    ("swin_v2_b", 320): (87_930_848, 36_608_995_328),
}


def _case(model: str, size: int) -> object:
    return pytest.param(model, size, id=f"{model}@{size}")


@functools.cache
def report(model: str, size: int) -> Report:
    """The zoo model at its own input (the published size) or with --size."""
    return zoo_report(model) if size == NATIVE[model] else zoo_report(model, Settings(size=(size, size)))


def test_the_csv_has_every_variant_at_its_published_size() -> None:
    assert [r["model"] for r in PUBLISHED] == list(VARIANTS)
    assert set(VARIANTS) <= set(zoo_names())
    assert NATIVE == {**dict.fromkeys(FAMILIES["vit"] + FAMILIES["swin"], 224),
                      **dict.fromkeys(FAMILIES["swin_v2"], 256)}
    # the same figures as the shared reference table, which also has the weights' num_params
    modern = {(r["model"], int(r["input_h"])): r for r in reference_rows(VARIANTS)}
    for r in PUBLISHED:
        ref = modern[(r["model"], int(r["input_size"]))]
        assert r["params"] == ref["params"] == ref["num_params_meta"] and r["macs"] == ref["macs"]
    for (model, size), (params, macs) in OTHER_SIZES.items():
        if (model, size) in modern:
            assert (params, macs) == (int(modern[(model, size)]["params"]), int(modern[(model, size)]["macs"]))


@pytest.mark.parametrize(("model", "size"), [_case(r["model"], int(r["input_size"])) for r in PUBLISHED])
def test_published_size_equals_torchvision(model: str, size: int) -> None:
    (row,) = (r for r in PUBLISHED if r["model"] == model)
    r = report(model, size)
    assert r.name == model
    assert r.input_shape == (3, size, size)
    assert (r.params, r.macs, r.total.buffers) == (int(row["params"]), int(row["macs"]), BUFFERS[model])
    assert r.output_shape == (1000, 1, 1)


@pytest.mark.parametrize(("model", "size"), [_case(m, s) for m, s in OTHER_SIZES])
def test_other_sizes_equal_torchvision(model: str, size: int) -> None:
    r = report(model, size)
    assert r.input_shape == (3, size, size)
    assert (r.params, r.macs, r.total.buffers) == (*OTHER_SIZES[(model, size)], BUFFERS[model])
    assert r.output_shape == (1000, 1, 1)


def _modules(r: Report) -> dict[str, tuple[int, int, int]]:
    """(params, buffers, MACs) of every layer and block by name."""
    rows = {x.name: x.cost for x in r.layers} | {b.name: b.cost for b in r.blocks}
    return {name: (c.params, c.buffers, c.macs) for name, c in rows.items()}


def test_swin_t_modules_read_like_torchvision() -> None:
    got = _modules(report("swin_t", 224))
    # torchvision swin_t at 224: (params, buffers, MACs) of features.0, features.1.0.attn, ...
    want = {"features/0": (4_896, 0, 14_450_688),
            "features/1/0/attn": (37_755, 2_401, 145_108_992),      # qkv, proj, 13²·3 table; 49² index
            "features/1/1/attn": (37_755, 2_401, 145_108_992),      # shifted: the same cost
            "features/1/0/mlp": (74_208, 0, 231_211_008),
            "features/2": (74_496, 0, 57_802_752),                  # PatchMerging: LayerNorm(384), 384→192
            "features/7/0/attn": (2_366_424, 2_401, 119_293_440),   # 7×7 map: one window
            "norm": (1_536, 0, 0), "head": (769_000, 0, 768_000)}
    assert {k: got[k] for k in want} == want
    assert sum(1 for k in got if k.endswith("/attn")) == 2 + 2 + 6 + 2


def test_swin_v2_t_modules_read_like_torchvision() -> None:
    got = _modules(report("swin_v2_t", 256))
    # attn: qkv, proj, logit_scale, cpb_mlp (2→512→3, its MACs on the 15² offsets); buffers 15²·2 + 64²
    want = {"features/0": (4_896, 0, 18_874_368),
            "features/1/0/attn": (40_323, 4_546, 201_902_592),
            "features/1/1/attn": (40_323, 4_546, 201_902_592),
            "features/2": (74_112, 0, 75_497_472),                  # PatchMergingV2: 384→192, LayerNorm(192)
            "features/7/1/attn": (2_376_216, 4_546, 160_281_600),
            "head": (769_000, 0, 768_000)}
    assert {k: got[k] for k in want} == want


def test_vit_b_16_modules_read_like_torchvision() -> None:
    got = _modules(report("vit_b_16", 224))
    layer = "encoder/layers/encoder_layer_0"
    want = {"conv_proj": (590_592, 0, 115_605_504),
            "class_token": (768, 0, 0),
            "encoder/pos_embedding": (151_296, 0, 0),               # 197 × 768
            f"{layer}/self_attention": (2_362_368, 0, 524_391_936),
            f"{layer}/mlp": (4_722_432, 0, 929_562_624),
            layer: (7_087_872, 0, 1_453_954_560),
            "encoder/ln": (1_536, 0, 0),
            "heads/head": (769_000, 0, 768_000)}
    assert {k: got[k] for k in want} == want
    assert sum(1 for k in got if k.endswith("/self_attention")) == 12


def test_show_swin_t_prints_torchvision_figures() -> None:
    shown = invoke(["show", "swin_t", "--exact"])
    assert shown.exit_code == 0, shown.output
    assert "28,288,354" in shown.output and "4,490,566,656" in shown.output
    assert "features/7/1/mlp/3" in shown.output


def test_compare_convnets_with_transformers() -> None:
    """The issue's table: `compare resnet50 convnext_tiny swin_t vit_b_16`, torchvision's figures, ratios
    against resnet50, and the transformers' receptive field the whole input."""
    import json

    got = invoke(["compare", "resnet50", "convnext_tiny", "swin_t", "vit_b_16", "--format", "json"])
    assert got.exit_code == 0, got.output
    alts = json.loads(got.stdout)["alternatives"]
    assert [(a["name"], a["params"], a["macs"]) for a in alts] == [
        ("resnet50", 25_557_032, 4_089_184_256), ("convnext_tiny", 28_589_128, 4_455_531_264),
        ("swin_t", 28_288_354, 4_490_566_656), ("vit_b_16", 86_567_656, 17_563_828_224)]
    assert [a["rf"] for a in alts[2:]] == [[224, 224], [224, 224]]
    table = invoke(["compare", "resnet50", "convnext_tiny", "swin_t", "vit_b_16"])
    assert table.exit_code == 0
    assert "17.6G" in table.stdout and "4.30×" in table.stdout
