"""The MaxViT-T zoo file (convcalc/zoo/maxvit_t.yaml) equals torchvision's maxvit_t() exactly.

The integers were measured with torch 2.14.1 and torchvision 0.29.1 on ``maxvit_t(input_size=(s, s))``
in eval mode: params = the sum of ``numel`` over ``parameters()``; buffers = the sum over ``buffers()``
without the 34 BatchNorm ``num_batches_tracked`` scalars (convcalc counts a BN's 2C running statistics;
torchvision's total with them is 100,472); MACs = ``FlopCounterMode`` total // 2 of one forward pass of a
1×3×s×s input under ``torch.no_grad()`` and ``sdpa_kernel(SDPBackend.MATH)`` (MaxViT's attention is
einsum, so the backend changes nothing; the counter sees the convolutions, the Linear layers and the
two attention matmuls). Per-module figures are the same sums over ``named_modules()``.
"""

from __future__ import annotations

import pytest

from convcalc.errors import SpecError
from convcalc.lang.spec import Settings
from convcalc.metrics.analysis import Report
from tests.conftest import invoke, reference_rows, zoo_report

#: size → (params, MACs, buffers without num_batches_tracked), torchvision 0.29.1
TORCHVISION = {
    224: (30_919_624, 5_558_046_720, 100_438),   # the weights' size; num_params 30,919,624 in its meta
    448: (30_919_624, 22_224_506_880, 100_438),
    222: (30_919_624, 5_545_787_072, 100_438),   # 221–224 give the same maps (the stem's conv rounds up)
}


def test_the_figures_are_the_reference_rows() -> None:
    """tests/data/torchvision-modern.csv holds the same params and MACs at 224 (with num_params) and 448."""
    rows = {int(r["input_h"]): r for r in reference_rows(("maxvit_t",))}
    assert sorted(rows) == [224, 448]
    assert all((int(r["params"]), int(r["macs"])) == TORCHVISION[s][:2] for s, r in rows.items())
    assert int(rows[224]["num_params_meta"]) == TORCHVISION[224][0]


@pytest.fixture(scope="module")
def native() -> Report:
    return zoo_report("maxvit_t")


@pytest.mark.parametrize("size", sorted(TORCHVISION))
def test_params_macs_buffers_and_output_equal_torchvision(size: int, native: Report) -> None:
    report = native if size == 224 else zoo_report("maxvit_t", Settings(size=(size, size)))
    assert report.name == "maxvit_t"
    assert report.input_shape == (3, size, size)
    assert (report.params, report.macs, report.total.buffers) == TORCHVISION[size]
    assert report.output_shape == (1000, 1, 1)       # torchvision: (1, 1000)


def test_stage_shapes_and_per_module_figures_read_like_torchvision(native: Report) -> None:
    blocks = {b.name: b for b in native.blocks}
    assert [blocks[f"blocks/{k}"].output_shape for k in range(4)] == [
        (64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)]
    # (params, buffers) of torchvision's blocks.0 … blocks.3 and classifier
    want = {"blocks/0": (294_952, 11_908), "blocks/1": (1_114_064, 14_084), "blocks/2": (11_165_456, 46_794),
            "blocks/3": (17_530_688, 27_524), "classifier": (775_680, 0)}
    assert {k: (blocks[k].cost.params, blocks[k].cost.buffers) for k in want} == want
    rows = {r.name: r.cost for r in native.layers}
    first = "blocks/0/layers/0/layers"
    # RelativePositionalMultiHeadAttention, 2 heads on 56×56 in 64 windows of 49 tokens: to_qkv and merge
    # (addmm 51,380,224) + the two einsums (bmm 19,668,992); params + its 169×2 table; buffer: the 49×49 index
    attn = rows[f"{first}/window_attention/attn_layer/1"]
    assert (attn.params, attn.macs, attn.buffers) == (16_978, 51_380_224 + 19_668_992, 2401)
    grid = rows["blocks/3/layers/1/layers/grid_attention/attn_layer/1"]     # 16 heads, one 7×7 grid
    assert (grid.params, grid.macs) == (1_053_328, 51_380_224 + 2_458_624)
    assert (rows[f"{first}/MBconv/proj/1"].params, rows[f"{first}/MBconv/proj/1"].macs) == (4160, 12_845_056)
    assert rows[f"{first}/MBconv/layers/squeeze_excitation"].params == 8464
    assert rows["blocks/2/layers/4/layers/grid_attention/mlp_layer/1"].params == 263_168
    assert (rows["stem/0/0"].params, rows["stem/1/0"].params) == (1728, 36_928)
    assert sum(r.type == "attention" for r in native.layers) == 2 * (2 + 2 + 5 + 2)


@pytest.mark.parametrize(("size", "axis", "bad", "where"), [
    (256, "height", 64, "blocks/0/layers/0/layers/window_attention/attn_layer/1"),   # torchvision: (64, 64)
    (112, "height", 4, "blocks/3/layers/0/layers/window_attention/attn_layer/1"),    # torchvision: (4, 4)
])
def test_a_size_the_partition_does_not_divide_is_refused(size: int, axis: str, bad: int, where: str) -> None:
    with pytest.raises(SpecError) as exc:
        zoo_report("maxvit_t", Settings(size=(size, size)))
    text = exc.value.render()
    assert f"attention window 7 does not divide the {axis} {bad}" in text
    assert where in text


def test_show_and_rf_run_on_maxvit_t() -> None:
    shown = invoke(["show", "maxvit_t", "--exact"])
    assert shown.exit_code == 0, shown.output
    assert "30,919,624" in shown.output and "5,558,046,720" in shown.output
    assert "blocks/1/layers/1/layers/grid_attention/mlp_layer/3" in shown.output
    rf = invoke(["rf", "maxvit_t"])
    assert rf.exit_code == 0, rf.output
    assert "grid attention: every unit reads tokens spread over the whole map" in rf.output  # said once: stage 1
