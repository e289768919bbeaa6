"""Spec format 2 in the graph: from: references, merges anywhere, several outputs, parameters and the
command line's --set/--size/--batch, and the naming bugs fixed with it (issue 11). Costs are written as
arithmetic."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from convcalc.errors import SpecError
from convcalc.lang.spec import Settings
from convcalc.lang.yaml_source import load_text
from convcalc.metrics.analysis import analyze_document, analyze_text
from tests.conftest import invoke, one


def errors(text: str) -> str:
    with pytest.raises(SpecError) as exc:
        analyze_text(text, "t.yaml")
    return exc.value.render()


UNET = """
input: {channels: 1, size: 8}
defaults: {bias: false}
layers:
  - sequence: {name: down1, body: [conv: {out: 4, kernel: 3, padding: 1}]}
  - sequence: {name: down2, body: [maxpool: {kernel: 2}, conv: {out: 8, kernel: 3, padding: 1}]}
  - deconv: {name: up1, out: 4, kernel: 2, stride: 2}
  - concat: {name: cat1, from: [down1, up1]}
  - conv: {name: head, out: 2, kernel: 1}
"""


def test_a_concat_of_a_reference_and_the_layer_above() -> None:
    r = one(UNET)
    names = [x.name for x in r.layers]
    assert names == ["down1/conv1", "down2/maxpool1", "down2/conv1", "up1", "cat1", "head"]
    cat = r.layers[4]
    assert cat.inputs == ("down1/conv1", "up1") and cat.output_shape == (8, 8, 8)
    # conv 1→4 3×3 on 8×8: 36 params, 8·8·36 MACs; conv 4→8 on 4×4: 288, 16·288; deconv 8→4 2×2: 128 params,
    # input side 4·4·128 MACs; head 8→2: 16 params, 64·16 MACs
    assert r.params == 36 + 288 + 128 + 16
    assert r.macs == 64 * 36 + 16 * 288 + 16 * 128 + 64 * 16


def test_from_on_a_layer_and_a_block_and_previous_in_a_merge() -> None:
    r = one("""
input: {channels: 2, size: 4}
layers:
  - conv: {name: a, out: 2, kernel: 1, bias: false}
  - conv: {name: b, out: 2, kernel: 1, bias: false}
  - sequence: {name: side, from: a, body: [conv: {out: 2, kernel: 1, bias: false}]}
  - add: {from: [b, previous]}
  - mul: {from: [a, previous], name: gate}
""")
    assert [x.inputs for x in r.layers][2:] == [("a",), ("b", "side/conv1"), ("a", "add1")]
    assert r.total.adds == 2 * 4 * 4 and r.total.muls == 2 * 4 * 4


def test_names_resolve_in_the_enclosing_scope_first_then_by_a_unique_ending() -> None:
    r = one("""
input: {channels: 2, size: 4}
defaults: {bias: false}
layers:
  - sequence: {name: enc, body: [conv: {name: c3, out: 3, kernel: 1}]}
  - conv: {name: c3, out: 5, kernel: 1}
  - sequence: {name: dec, body: [conv: {name: c3, out: 7, kernel: 1}, conv: {from: c3, out: 1, kernel: 1}]}
  - conv: {from: enc/c3, out: 1, kernel: 1, name: last}
""")
    rows = {x.name: x for x in r.layers}
    assert rows["dec/conv1"].inputs == ("dec/c3",)  # the innermost scope first
    assert rows["last"].inputs == ("enc/c3",)


def test_an_ambiguous_or_unknown_name_lists_the_candidates() -> None:
    msg = errors("""
input: {channels: 2, size: 4}
layers:
  - sequence: {name: a, body: [conv: {name: x, out: 2, kernel: 1}]}
  - sequence: {name: b, body: [conv: {name: x, out: 2, kernel: 1}]}
  - conv: {from: x, out: 2, kernel: 1}
  - conv: {from: nope, out: 2, kernel: 1}
""")
    assert "t.yaml:6:" in msg and "the name 'x' is ambiguous here: 2 earlier layers end with it" in msg
    assert "'a/x', 'b/x'" in msg
    assert "t.yaml:7:" in msg and "no earlier layer or block named 'nope'" in msg


def test_a_list_from_on_a_layer_and_a_merge_of_one_are_errors() -> None:
    msg = errors("""
input: {channels: 2, size: 4}
layers:
  - conv: {name: a, out: 2, kernel: 1}
  - conv: {from: [a, a], out: 2, kernel: 1}
  - concat: {from: [a]}
""")
    assert "expected one name, found a list of 2" in msg and "only merges take several inputs" in msg
    assert "concat needs at least two inputs, found 1" in msg


def test_broadcast_mul_and_add_and_a_bad_operand() -> None:
    r = one("""
input: {channels: 4, size: 6}
layers:
  - identity: {name: x}
  - global_avgpool: {name: g}
  - mul: {from: [x, g], name: gated}
  - conv: {from: x, out: 1, kernel: 1, bias: false, name: s}
  - add: {from: [gated, s], name: spatial}
""")
    rows = {x.name: x for x in r.layers}
    assert rows["gated"].output_shape == (4, 6, 6) and rows["gated"].cost.muls == 4 * 36
    assert rows["spatial"].output_shape == (4, 6, 6) and rows["spatial"].cost.adds == 4 * 36
    # the gate joins only the full receptive field, like an SE gate
    assert rows["gated"].rf.size == (1, 1) and rows["gated"].rf_full.size == (6, 6)
    msg = errors("input: {channels: 4, size: 6}\nlayers:\n  - identity: {name: x}\n  - maxpool: {kernel: 2}\n"
                 "  - mul: {from: [x, previous]}\n")
    assert "mul 'mul1' needs equal shapes, found 'x' 4×6×6, 'maxpool1' 4×3×3" in msg


def test_several_outputs_their_fields_and_a_layer_that_feeds_none() -> None:
    r = one("""
input: {channels: 1, size: 8}
layers:
  - conv: {name: p1, out: 2, kernel: 3, padding: 1, bias: false}
  - conv: {name: p2, out: 2, kernel: 3, stride: 2, padding: 1, bias: false}
  - conv: {name: unused, out: 2, kernel: 1, bias: false}
outputs: [p1, p2]
""")
    assert [(o.name, o.shape, o.rf.size, o.rf.stride) for o in r.outputs] == [
        ("p1", (2, 8, 8), (3, 3), (1, 1)), ("p2", (2, 4, 4), (5, 5), (2, 2))]
    assert r.params == 18 + 36  # `unused` (4 params) is not counted
    assert r.warnings == ("layer 'unused' feeds no output: not counted in the totals",)
    assert [x.dead for x in r.layers] == [False, False, True]


def test_check_gates_every_output(tmp_path: Path) -> None:
    spec = """
input: {channels: 1, size: 8}
layers:
  - conv: {name: p1, out: 2, kernel: 3, padding: 1}
  - conv: {name: p2, out: 2, kernel: 3, stride: 2, padding: 1}
outputs: [p2, p1]
budget: {min_rf: 5}
"""
    (tmp_path / "s.yaml").write_text(spec)
    res = invoke(["check", "s.yaml"], cwd=tmp_path)
    assert res.exit_code == 1, res.output  # p1 sees 3×3 < 5, though p2 sees 5×5
    (tmp_path / "s.yaml").write_text(spec.replace("min_rf: 5", "min_rf: 3"))
    assert invoke(["check", "s.yaml"], cwd=tmp_path).exit_code == 0


def test_params_expressions_and_the_command_line_overrides(tmp_path: Path) -> None:
    text = """
params: {width: 1.0, res: 16, widths: [8, 16]}
input: {channels: 3, size: "${res}"}
layers:
  - conv: {out: "${make_divisible(widths[1] * width, 8)}", kernel: 1, bias: false}
"""
    assert one(text).params == 3 * 16
    r = analyze_document(load_text(text, "t.yaml"), Settings({"width": 0.5}, (8, 4), 2))[0]
    assert r.params == 3 * 8 and r.input_shape == (3, 8, 4) and r.batch == 2 and r.macs == 2 * 32 * 24
    (tmp_path / "s.yaml").write_text(text)
    res = invoke(["show", "s.yaml", "--set", "width=0.75", "--size", "10x12", "-f", "json"], cwd=tmp_path)
    assert res.exit_code == 0, res.output
    assert '"params": 48' in res.stdout and '"input_shape": [\n        3,\n        10,\n        12' in res.stdout


def test_a_non_integral_value_for_an_integer_field_names_both() -> None:
    r = one("params: {width: 0.75}\ninput: {channels: 3, size: 8}\nlayers:\n  - conv: {out: \"${20 * width}\", "
            "kernel: 1}\n")
    assert r.output_shape == (15, 8, 8)  # 15.0 is integral: accepted
    msg = errors("params: {width: 0.75}\ninput: {channels: 3, size: 8}\nlayers:\n  - conv: {out: \"${30 * width}\", "
                 "kernel: 1}\n")
    assert "conv.out: expected an integer >= 1, found number 22.5 (from ${30 * width})" in msg
    assert "round it" in msg


def test_an_unknown_set_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("params: {width: 1}\ninput: {channels: 1, size: 2}\nlayers: [relu]\n")
    res = invoke(["show", "s.yaml", "--set", "widht=2"], cwd=tmp_path)
    assert res.exit_code == 2 and "--set widht: the spec has no parameter 'widht'" in res.stderr
    assert "did you mean 'width'?" in res.stderr


def test_a_repeat_label_shared_by_two_iterations_is_an_error() -> None:
    msg = errors("input: {channels: 1, size: 4}\nlayers:\n  - repeat: {n: 4, label: \"${i // 2}\", body: [relu]}\n")
    assert "iterations 0 and 1 have the same label '0'" in msg
    assert msg.count("\n  hint") == 1


def test_a_bad_label_is_reported_once() -> None:
    msg = errors("input: {channels: 1, size: 4}\nlayers:\n  - dense: {n: 5, label: \"a/${i}\", body: [relu]}\n")
    assert msg.count("expected a name segment") == 1


def test_a_dense_body_layer_named_input_does_not_collide_with_the_concat() -> None:
    r = one("input: {channels: 1, size: 4}\nlayers:\n  - dense: {name: d, n: 2, body: [identity: {name: input}, "
            "conv: {out: 1, kernel: 1}]}\n")
    names = [x.name for x in r.layers]
    assert len(names) == len(set(names))
    assert "d/1/input1" in names and "d/1/input" in names


def test_in_channels_inside_a_named_block_is_its_input_with_a_warning_where_it_differs() -> None:
    r = one("""
input: {channels: 4, size: 4}
blocks:
  widen: {body: [conv: {out: 8, kernel: 1}, conv: {out: "${in_channels}", kernel: 1}]}
layers: [widen]
""")
    assert r.layers[-1].output_shape == (4, 4, 4)
    assert len(r.warnings) == 1 and "in_channels is the input of named block 'widen' (4), not of this layer (8)" \
        in r.warnings[0]


def test_upsample_like_another_layer_and_a_merge_of_drifting_windows_is_a_note() -> None:
    """4 → 9 nearest reads ⌊u·4/9⌋ (exact, repeating every 9 units); adding it to the 9×9 map merges jumps
    1 and 8/9: the windows drift, a note (not an error), and the add's units read 2 or 3 pixels."""
    r = one("""
input: {channels: 2, size: 9}
layers:
  - identity: {name: fine}
  - maxpool: {kernel: 2, name: coarse}
  - upsample: {like: fine, name: up}
  - add: {from: [fine, up]}
""")
    rows = {x.name: x for x in r.layers}
    assert rows["up"].output_shape == (2, 9, 9) and rows["add1"].cost.adds == 2 * 81
    assert (rows["up"].rf.size, rows["up"].rf.period, rows["up"].rf.stride) == ((2, 2), (9, 9), (Fraction(8, 9),) * 2)
    assert rows["up"].notes[0] == ("the units' windows are not evenly spaced from here on (height: 2 px each, "
                                   "repeating every 9 units)")
    assert rows["add1"].notes[0] == ("merges different effective strides on the height axis: 'fine' jump 1, 'up' "
                                     "jump 8/9; the windows drift across the map (the stride shown is 'fine''s)")
    assert (rows["add1"].rf.size, rows["add1"].rf.smallest, rows["add1"].rf.period) == ((3, 3), (2, 2), (None, None))
    msg = errors("input: {channels: 2, size: 8}\nlayers:\n  - upsample: {scale: 2, size: 4}\n")
    assert "upsample needs exactly one of 'scale', 'size' or 'like'" in msg


def test_expressions_inside_a_list_argument_and_a_failed_name_reported_once() -> None:
    r = one("params: {h: 3, w: 5}\ninput: {channels: 1, size: 8}\nlayers:\n"
            "  - conv: {out: 1, kernel: [\"${h}\", \"$w\"], bias: false}\n")
    assert r.params == 15
    msg = errors("""
input: {channels: 1, size: 8}
layers:
  - sequence: {name: enc, body: [conv: {out: 1, kernal: 3}]}
  - conv: {from: enc, out: 1, kernel: 1}
outputs: [enc]
""")
    assert msg.count("\n") == 1 and "unknown argument 'kernal'" in msg


def test_a_named_block_parameter_defaults_to_the_model_parameter_of_its_name() -> None:
    r = one('params: {groups: 2}\ninput: {channels: 4, size: 4}\nblocks:\n  b:\n    params: {groups: "${groups}", '
            'w: "${groups * 4}"}\n    body: [conv: {out: $w, kernel: 1, groups: $groups}]\nlayers: [b, b: {groups: 4}]\n')
    # 4→8, groups 2: 8·2 + 8 bias; then 8→16, groups 4: 16·2 + 16 bias
    assert [x.cost.params for x in r.layers] == [24, 48]


def test_a_training_only_layer_read_by_the_inference_pass_is_an_error() -> None:
    msg = errors("input: {channels: 1, size: 2}\nlayers:\n  - side: {name: aux, training_only: true, body: "
                 "[conv: {name: head, out: 1, kernel: 1}]}\n  - relu: {name: main}\noutputs: [main, aux/head]\n")
    assert "output 'aux/head' is a training-only layer" in msg
    msg = errors("input: {channels: 1, size: 2}\nlayers:\n  - side: {name: aux, training_only: true, body: "
                 "[conv: {name: head, out: 1, kernel: 1}]}\n  - add: {from: [previous, aux/head]}\n")
    assert "'add1' reads the training-only layer 'aux/head'" in msg


def test_a_parameter_default_may_use_a_later_plain_default_as_in_format_1() -> None:
    r = one('input: {channels: 4, size: 4}\nblocks:\n  b:\n    params: {a: "${c * 2}", c: 3}\n'
            '    body: [conv: {out: $a, kernel: 1, bias: false}]\nlayers: [b, b: {c: 1}]\n')
    assert [x.output_shape[0] for x in r.layers] == [6, 2]


def test_an_integral_real_is_an_integer_only_where_it_is_computed() -> None:
    r = one('params: {r: 8.0, n: 2.0}\ninput: {channels: 1, size: "${r}"}\nlayers:\n'
            '  - repeat: {n: "${n}", body: [relu]}\n')
    assert r.input_shape == (1, 8, 8) and len(r.layers) == 2
    msg = errors("input: {channels: 1, size: 8.0}\nlayers:\n  - repeat: {n: 2.0, body: [relu]}\n")
    assert "input.size: expected an integer >= 1, found number 8.0" in msg
    assert "repeat.n: expected an integer >= 0, found number 2.0" in msg
