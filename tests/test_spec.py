"""The spec format: templates, repeat, names, defaults, alternatives, blocks."""

from __future__ import annotations

import pytest

from convcalc import SpecError, analyze_text
from tests.conftest import one

RESNET_BLOCK = """
input: {channels: 64, size: 56}
defaults: {bias: false}
blocks:
  bottleneck:
    params: {width: null, stride: 1, expansion: 4}
    body:
      - residual:
          body:
            - conv: {out: $width, kernel: 1, name: conv1}
            - bn
            - relu
            - conv: {out: $width, kernel: 3, stride: $stride, padding: 1, name: conv2}
            - bn
            - relu
            - conv: {out: "${width * expansion}", kernel: 1, name: conv3}
            - bn
          projection:
            - conv: {out: "${width * expansion}", kernel: 1, stride: $stride, name: downsample}
            - bn
      - relu
layers:
  - repeat:
      name: layer1
      n: 3
      body:
        - bottleneck: {width: 64, name: b}
"""


def test_template_with_projection_only_where_shape_changes() -> None:
    r = one(RESNET_BLOCK)
    names = [l.name for l in r.layers]
    assert "layer1/0/b/downsample" in names
    assert "layer1/1/b/downsample" not in names
    # torchvision resnet50 layer1: 215,808 params + 1 downsample (16,384 + 512)
    per_block = 64 * 64 + 9 * 64 * 64 + 64 * 256 + 2 * (64 + 64 + 256)
    first = 256 * 64 + 9 * 64 * 64 + 64 * 256 + 2 * (64 + 64 + 256)
    assert r.params == (per_block + 64 * 256 + 2 * 256) + 2 * first
    assert r.output_shape == (256, 56, 56)
    assert [b.name for b in r.blocks] == ["layer1/0/b", "layer1/1/b", "layer1/2/b", "layer1"]


def test_repeat_index_expression() -> None:
    r = one("input: {channels: 8, size: 32}\nlayers:\n  - repeat: {n: 3, body: "
            "[conv: {out: 8, kernel: 3, padding: 1, stride: '${2 if i == 0 else 1}'}]}\n")
    assert r.output_shape == (8, 16, 16)


def test_auto_names_skip_user_names() -> None:
    r = one("input: {channels: 1, size: 8}\nlayers:\n  - conv: {out: 1, kernel: 1}\n"
            "  - conv: {out: 1, kernel: 1, name: conv1}\n")
    assert [l.name for l in r.layers] == ["conv2", "conv1"]


def test_branches_split_and_concat() -> None:
    r = one("input: {channels: 8, size: 4}\nlayers:\n  - branches: {name: unit, split: true, paths: "
            "[[], [conv: {out: 4, kernel: 1}]]}\n  - channel_shuffle: {groups: 2}\n")
    assert r.output_shape == (8, 4, 4)
    assert r.params == 4 * 4 + 4
    assert r.blocks[0].name == "unit"


def test_side_branch_training_only_counts_params_not_macs() -> None:
    r = one("input: {channels: 4, size: 8}\nlayers:\n  - conv: {out: 4, kernel: 1, bias: false}\n"
            "  - side: {name: aux, training_only: true, body: [global_avgpool, flatten, linear: {out: 10}]}\n"
            "  - conv: {out: 2, kernel: 1, bias: false}\n")
    assert r.params == 16 + (4 * 10 + 10) + 8
    assert r.macs == 64 * 16 + 64 * 8
    assert r.training_only.macs == 40
    assert r.output_shape == (2, 8, 8)


def test_defaults_padding_same() -> None:
    r = one("input: {channels: 1, size: 7}\ndefaults: {padding: same}\nlayers:\n  - conv: {out: 1, kernel: 3}\n"
            "  - maxpool: {kernel: 3, stride: 2}\n")
    assert r.output_shape == (1, 4, 4)


def test_alternatives_may_override_input() -> None:
    a, b = analyze_text("input: {channels: 1, size: 8}\nalternatives:\n  - name: a\n    layers: [relu]\n"
                        "  - name: b\n    input: {channels: 2, size: 4}\n    layers: [relu]\n")
    assert a.output_shape == (1, 8, 8) and b.output_shape == (2, 4, 4)


def test_nested_template_calls_and_expression_defaults() -> None:
    r = one("""
input: {channels: 4, size: 8}
blocks:
  inner:
    params: {c: null, double: "${c * 2}"}
    body: [conv: {out: $double, kernel: 1, bias: false}]
  outer:
    params: {c: null}
    body: [inner: {c: $c}, inner: {c: "${c + 1}"}]
layers:
  - outer: {c: 3}
""")
    assert r.output_shape == (8, 8, 8)
    assert r.params == 4 * 6 + 6 * 8


def test_self_recursive_template_is_an_error() -> None:
    with pytest.raises(SpecError) as e:
        analyze_text("input: {channels: 1, size: 4}\nblocks:\n  loop: {body: [loop]}\nlayers: [loop]\n", "t.yaml")
    assert "deeper than 64" in str(e.value)


def test_dense_block_channels() -> None:
    r = one("input: {channels: 16, size: 8}\nlayers:\n  - dense: {name: db, n: 3, body: "
            "[conv: {out: 4, kernel: 3, padding: 1, bias: false}]}\n")
    assert r.output_shape == (16 + 3 * 4, 8, 8)
    assert r.params == 9 * 4 * (16 + 20 + 24)


def test_sole_template_call_in_repeat_adds_no_segment_and_names_interpolate() -> None:
    r = one("""
input: {channels: 4, size: 8}
blocks:
  unit:
    params: {c: 4}
    body: [conv: {out: $c, kernel: 1, name: conv1}, relu]
layers:
  - repeat: {name: layer1, n: 2, body: [unit]}
  - repeat: {name: stage, n: 2, body: [unit: {name: "u${i + 1}"}]}
""")
    names = [l.name for l in r.layers]
    assert names[:4] == ["layer1/0/conv1", "layer1/0/relu1", "layer1/1/conv1", "layer1/1/relu1"]
    assert names[4:6] == ["stage/0/u1/conv1", "stage/0/u1/relu1"]


def test_if_when_kind_parameter_make_divisible_and_in_channels() -> None:
    """The MobileNetV2 inverted residual in one template (t = 1 has no expansion; skip only if shapes allow)."""
    r = one("""
input: {channels: 16, size: 8}
defaults: {bias: false}
blocks:
  ir:
    params: {out: null, stride: 1, t: 6, act: relu6}
    body:
      - residual:
          when: "${stride == 1 and in_channels == out}"
          body:
            - conv: {if: "${t != 1}", out: "${in_channels * t}", kernel: 1}
            - $act: {if: "${t != 1}"}
            - dwconv: {kernel: 3, stride: $stride, padding: 1}
            - $act
            - conv: {out: $out, kernel: 1}
layers:
  - ir: {out: 16, t: 1, name: a}
  - ir: {out: 24, stride: 2, act: hardswish, name: b}
  - ir: {out: 24, name: c}
  - conv: {out: "${make_divisible(100, 8)}", kernel: 1}
  - bn: {scale: false}
  - repeat: {n: 0, body: [relu]}
""")
    kinds = {l.name: l.type for l in r.layers}
    assert [n for n in kinds if n.startswith("a/")] == ["a/dwconv1", "a/relu6_1", "a/conv1", "a/add1"]
    assert kinds["b/hardswish1"] == "hardswish" and "b/add1" not in kinds
    assert kinds["c/add1"] == "add"
    assert r.layers[-1].type == "bn" and r.layers[-1].cost.params == 104
    assert r.output_shape == (104, 4, 4)
    assert r.params == (16 * 9 + 16 * 16) + (16 * 96 + 96 * 9 + 96 * 24) + (24 * 144 + 144 * 9 + 144 * 24) \
        + 24 * 104 + 104


def test_iteration_labels_and_block_rows_for_inlined_calls() -> None:
    r = one("""
input: {channels: 4, size: 4}
blocks:
  layer:
    body: [conv: {out: 2, kernel: 1, bias: false, name: conv1}]
layers:
  - dense: {name: denseblock1, n: 2, label: "denselayer${i + 1}", body: [layer]}
""")
    assert [l.name for l in r.layers] == ["denseblock1/denselayer1/conv1", "denseblock1/denselayer2/input",
                                          "denseblock1/denselayer2/conv1", "denseblock1"]
    assert [b.name for b in r.blocks] == ["denseblock1/denselayer1", "denseblock1/denselayer2", "denseblock1"]


def test_projection_is_built_when_only_the_jump_changes() -> None:
    """On a 1×1 map a strided body keeps the shape; the projection is still needed (torchvision builds it)."""
    r = one("input: {channels: 4, size: 1}\nlayers:\n  - residual: {body: [conv: {out: 4, kernel: 3, stride: 2, "
            "padding: 1}], projection: [conv: {out: 4, kernel: 1, stride: 2, name: down}]}\n")
    assert "down" in [l.name for l in r.layers]
