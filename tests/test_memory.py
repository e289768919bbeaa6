"""The memory pass (convcalc.metrics.memory) written as arithmetic on small specs, the zoo's published
ResNet-50 figures, the options' errors and the ``memory`` command."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from convcalc.cli import app
from convcalc.errors import UsageError
from convcalc.lang.sources import open_source
from convcalc.lang.yaml_source import load_text
from convcalc.metrics.analysis import graphs_of
from convcalc.metrics.memory import Memory, MemoryOptions, memory_of


def mem(text: str, **opts: object) -> Memory:
    return memory_of(graphs_of(load_text(text, "t.yaml"))[0], MemoryOptions(**opts))  # type: ignore[arg-type]


CHAIN = """
input: {channels: 3, height: 8, width: 8}
defaults: {bias: false}
layers:
  - conv: {out: 4, kernel: 3, padding: 1}
  - bn: {}
  - relu: {inplace: $inplace}
  - maxpool: {kernel: 2}
  - conv: {out: 6, kernel: 1}
"""


def chain(inplace: bool, **opts: object) -> Memory:
    return mem(CHAIN.replace("$inplace", "true" if inplace else "false"), **opts)


def test_chain_inference_peak_is_the_largest_sum_of_live_tensors() -> None:
    """conv: input 3·64 + out 4·64; bn: conv out + bn out 4·64 each; relu out of place: bn out + relu out;
    maxpool: relu out 256 + its result 64 + its int64 indices 64 (returned, unused); fp32."""
    m = chain(False)
    assert m.inference_peak_bytes == 4 * (4 * 64 + 4 * 64)
    assert m.peak_layer == "bn1"
    # in place: relu allocates nothing; the bn step is still the peak
    assert chain(True).inference_peak_bytes == 4 * (4 * 64 + 4 * 64)
    assert [x.output_bytes for x in chain(True).layers] == [4 * 256, 4 * 256, 0, 4 * 64, 4 * 96]


def test_fold_bn_leaves_the_conv_as_the_peak() -> None:
    """Folded: conv (input 192 + out 256 elements), relu in place, maxpool (256 + 64 + 64 int64 indices): a tie
    at 1,792 bytes, and the first of the largest is the peak."""
    m = chain(True, fold_bn=True)
    assert m.inference_peak_bytes == 4 * (192 + 256) == 4 * (256 + 64) + 8 * 64
    assert m.peak_layer == "conv1"
    assert [a.bytes for a in m.alive_at_peak] == [4 * 256, 4 * 192]


def test_chain_training_saves_each_storage_once() -> None:
    """conv1 saves the input (3·64); bn its input (256), running mean/var (buffers, 4 each) and batch
    mean/invstd (4 fp32 each); relu its result (256); maxpool its input (the relu's result: already saved)
    and int64 indices (64); conv2 its input (64). Batch 2 doubles all but the per-channel statistics."""
    m = chain(False, train=True)
    assert m.train_activation_bytes == 4 * (192 + 256 + 16 + 256 + 64) + 8 * 64
    assert m.train_saved_buffer_bytes == 4 * 8
    # in place, relu saves the overwritten bn result: one storage fewer (bn's input is the conv's result)
    assert chain(True, train=True).train_activation_bytes == 4 * (192 + 256 + 16 + 256 + 64) + 8 * 64
    m2 = mem(CHAIN.replace("$inplace", "false").replace("input: {", "input: {batch: 2, "), train=True)
    assert m2.train_activation_bytes == 2 * 4 * (192 + 256 + 256 + 64) + 4 * 16 + 2 * 8 * 64


def test_weights_gradients_and_optimizers() -> None:
    """conv1 4·3·9 = 108, bn 8 (+8 buffers, 1 counter), conv2 6·4 = 24: 140 params in 4 tensors."""
    m = chain(False, train=True, optimizer="adamw")
    assert (m.weights_bytes, m.gradients_bytes) == (4 * 140, 4 * 140)
    assert m.buffers_bytes == 4 * 8 + 8
    assert m.optimizer_bytes == 2 * 4 * 140 + 4 * 4
    assert chain(False, train=True, optimizer="momentum").optimizer_bytes == 4 * 140
    assert chain(False, train=True, optimizer="sgd").optimizer_bytes == 0
    half = chain(False, train=True, dtype="fp16", optimizer="adam")
    assert (half.weights_bytes, half.optimizer_bytes) == (2 * 140, 2 * 2 * 140 + 4 * 4)
    mixed = chain(False, train=True, dtype="bf16", mixed=True, optimizer="adam")
    assert (mixed.weights_bytes, mixed.gradients_bytes, mixed.optimizer_bytes) == (4 * 140, 4 * 140, 8 * 140 + 16)
    assert m.train_total_bytes == m.weights_bytes + m.buffers_bytes + m.gradients_bytes + m.optimizer_bytes + \
        m.train_activation_bytes


RESIDUAL = """
input: {channels: 64, height: 56, width: 56}
defaults: {bias: false, inplace: true}
layers:
  - residual:
      inplace: $add
      body:
        - conv: {out: 64, kernel: 1}
        - bn: {}
        - relu: {}
        - conv: {out: 256, kernel: 1}
        - bn: {}
      projection:
        - conv: {out: 256, kernel: 1}
        - bn: {}
  - relu: {}
"""


def test_residual_peak_needs_the_shortcut_input_and_both_results() -> None:
    """Folded and in place, the peak is at the projection: its input x (64·56²), the body's result and its
    own (256·56² each): ResNet-50's layer1/0, 1,806,336 elements. Out of place the new sum adds a third."""
    r = RESIDUAL.replace("$add", "true")
    big, small = 256 * 56 * 56, 64 * 56 * 56
    assert mem(r, fold_bn=True).inference_peak_bytes == 4 * (small + 2 * big) == 7_225_344
    assert mem(RESIDUAL.replace("$add", "false"), fold_bn=True).inference_peak_bytes == 4 * (3 * big)
    assert mem(r, fold_bn=True, inplace=False).inference_peak_bytes == 4 * 3 * big


def test_zoo_resnet50_reproduces_the_published_peak() -> None:
    """The MCUNet-style figure for ResNet-50 at 224: folded BN, in-place ReLU and adds (torchvision's)."""
    g = graphs_of(open_source("resnet50"))[0]
    assert memory_of(g, MemoryOptions(fold_bn=True)).inference_peak_bytes == 7_225_344
    assert memory_of(g, MemoryOptions(fold_bn=True, inplace=False)).inference_peak_bytes == 9_633_792
    m = memory_of(g, MemoryOptions(train=True))
    assert m.weights_bytes == 4 * 25_557_032
    assert m.optimizer_bytes == 8 * 25_557_032 + 4 * 161


def test_dropout_and_drop_path_save_their_masks_in_training() -> None:
    text = """
input: {channels: 4, height: 4, width: 4, batch: 3}
layers:
  - conv: {out: 4, kernel: 1}
  - dropout: {p: 0.5}
  - drop_path: {p: 0.1}
  - dropout: {p: 0.0}
"""
    infer, train = mem(text), mem(text, train=True)
    n = 3 * 64
    assert train.train_activation_bytes == 4 * (n + n + 3)  # conv input; dropout mask; drop_path noise
    assert [x.output_bytes for x in infer.layers] == [4 * n, 0, 0, 0]


def test_nothing_is_saved_before_the_first_layer_with_parameters() -> None:
    text = """
input: {channels: 4, height: 4, width: 4}
layers:
  - relu: {}
  - maxpool: {kernel: 2}
  - conv: {out: 2, kernel: 1}
"""
    assert mem(text, train=True).train_activation_bytes == 4 * 16  # only the conv's input


@pytest.mark.parametrize("opts, message", [
    ({"dtype": "fp64"}, "unknown dtype"),
    ({"optimizer": "lion"}, "unknown optimizer"),
    ({"mixed": True}, "mixed precision needs"),
    ({"train": True, "dtype": "int8"}, "int8 is an inference dtype"),
    ({"train": True, "fold_bn": True}, "folded only for inference"),
])
def test_options_that_cannot_be_modelled_are_usage_errors(opts: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        MemoryOptions(**opts).check()  # type: ignore[arg-type]


def test_inplace_is_refused_where_pytorch_has_no_inplace_form() -> None:
    from convcalc.errors import SpecError

    with pytest.raises(SpecError) as e:
        graphs_of(load_text("input: {channels: 3, size: 8}\nlayers:\n  - gelu: {inplace: true}\n", "t.yaml"))
    assert "t.yaml:3:" in e.value.render()
    with pytest.raises(SpecError, match="cannot be written in place"):
        graphs_of(load_text("input: {channels: 3, size: 8}\nlayers:\n  - branches:\n      merge: concat\n"
                            "      inplace: true\n      paths: [[relu], [relu]]\n", "t.yaml"))


def test_memory_command_json_table_and_exit_codes() -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["memory", "resnet50", "--batch", "8", "--train", "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)["models"][0]
    for key in ("weights_bytes", "gradients_bytes", "optimizer_bytes", "inference_peak_bytes",
                "train_activation_bytes", "peak_layer", "alive_at_peak"):
        assert key in d, key
    assert d["memory"] == {"dtype": "fp32", "mode": "train", "optimizer": "adamw", "mixed_precision": False,
                           "inplace": True, "fold_bn": False, "batch": 8}
    assert sum(x["saved_bytes"] for x in d["layers"]) == d["train_activation_bytes"]
    assert max(x["live_bytes"] for x in d["layers"]) == d["inference_peak_bytes"]
    table = runner.invoke(app, ["memory", "resnet50", "--batch", "8", "--train", "--exact"])
    assert table.exit_code == 0
    assert f"{d['train_activation_bytes']:,} B" in table.stdout and d["peak_layer"] in table.stdout
    bad = runner.invoke(app, ["memory", "resnet50", "--train", "--dtype", "int8"])
    assert bad.exit_code == 2 and "int8 is an inference dtype" in bad.stderr
    csv = runner.invoke(app, ["memory", "resnet18", "--format", "csv"])
    assert csv.stdout.splitlines()[0].startswith("model,dtype,mixed_precision,mode")
