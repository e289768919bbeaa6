"""User mistakes become located, one-line-per-problem errors, all in one pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from convcalc import SpecError, analyze_text
from convcalc.cli import app

ROOT = Path(__file__).resolve().parent.parent


def errors(text: str) -> str:
    with pytest.raises(SpecError) as e:
        analyze_text(text, "bad.yaml")
    return str(e.value)


def test_unknown_kind_with_did_you_mean_and_location() -> None:
    msg = errors("input: {channels: 1, size: 4}\nlayers:\n  - conv: {out: 1, kernel: 1}\n  - rleu\n")
    assert msg.startswith("bad.yaml:4:5: layers[1]: unknown layer kind 'rleu'")
    assert "did you mean 'relu'?" in msg


def test_boolean_where_int_expected() -> None:
    msg = errors("input: {channels: 1, size: 4}\nlayers:\n  - conv: {out: yes, kernel: 3.5}\n")
    assert "bad.yaml:3:17: layers[0].conv.out: expected an integer >= 1, found boolean true" in msg
    assert "bad.yaml:3:30: layers[0].conv.kernel: expected an integer >= 1 or [h, w], found number 3.5" in msg


def test_all_errors_in_one_pass() -> None:
    msg = errors("input: {channels: 1, size: 4}\nlayers:\n  - conv: {out: 1, kernal: 3}\n  - pool\n"
                 "  - linear: {}\n")
    lines = [l for l in msg.splitlines() if l.startswith("bad.yaml")]
    assert lines == [
        "bad.yaml:3:28: layers[0].conv.kernal: unknown argument 'kernal' for conv",
        "bad.yaml:4:5: layers[1]: unknown layer kind 'pool'",
        "bad.yaml:5:13: layers[2].linear: linear needs 'out'",
    ]
    assert "unknown argument 'kernal' for conv" in msg and "did you mean 'kernel'?" in msg


def test_kernel_larger_than_input() -> None:
    msg = errors("input: {channels: 1, height: 4, width: 9}\nlayers:\n  - conv: {out: 1, kernel: [5, 3]}\n")
    assert "bad.yaml:3:11: layers[0].conv: layer 'conv1' (conv) on input 1×4×9: kernel extent 5 is larger than " \
           "the padded input 4 on the height axis" in msg


def test_groups_must_divide() -> None:
    msg = errors("input: {channels: 6, size: 4}\nlayers:\n  - conv: {out: 4, kernel: 1, groups: 4}\n")
    assert "groups 4 must divide the input channels 6 and the output channels 4" in msg


def test_concat_and_add_shape_mismatch() -> None:
    msg = errors("input: {channels: 2, size: 8}\nlayers:\n  - branches: {name: m, paths: "
                 "[[conv: {out: 2, kernel: 1, stride: 2}], [conv: {out: 2, kernel: 1}]]}\n")
    assert "concat 'm' needs equal heights and widths" in msg
    msg = errors("input: {channels: 2, size: 8}\nlayers:\n  - residual: {body: [conv: {out: 3, kernel: 1}]}\n")
    assert "add 'add1' needs equal shapes" in msg


def test_duplicate_key_names_both_lines() -> None:
    msg = errors("input: {channels: 1, size: 4}\nlayers: [relu]\nlayers: [relu]\n")
    assert "bad.yaml:3:1: layers: duplicate key 'layers' (first defined on line 2)" in msg


def test_unsafe_tag_is_rejected_not_executed() -> None:
    msg = errors("input: !!python/object/apply:os.system ['echo hi']\nlayers: [relu]\n")
    assert "unsupported YAML tag" in msg


def test_template_error_points_into_the_template_and_the_call() -> None:
    msg = errors("input: {channels: 1, size: 4}\nblocks:\n  b:\n    params: {c: null}\n    body:\n"
                 "      - conv: {out: $d, kernel: 1}\nlayers:\n  - b: {c: 1}\n")
    assert "bad.yaml:6:21: blocks.b.body[0].conv.out: unknown parameter $d (known: c, in_channels, in_height, in_width)" in msg
    assert "via b at bad.yaml:8:8" in msg


def test_missing_layers_and_input() -> None:
    msg = errors("name: x\n")
    assert "missing key 'layers' (or 'alternatives')" in msg


def test_linear_needs_flat_input() -> None:
    msg = errors("input: {channels: 3, size: 4}\nlayers:\n  - linear: {out: 2}\n")
    assert "linear needs a C×1×1 input or a token sequence C×1×N, found 3×4×4" in msg
    assert "add `flatten` or `global_avgpool`" in msg


def test_expansion_limit() -> None:
    from convcalc.graph import MAX_NODES

    msg = errors("input: {channels: 1, size: 4}\nlayers:\n  - repeat: {n: 1000000, body: [relu, relu, relu]}\n")
    assert f"more than {MAX_NODES} layers" in msg


def test_validation_matches_pytorch_and_torchvision() -> None:
    """Found by the PyTorch cross-check: specs PyTorch or torchvision would reject are errors here too."""
    msg = errors("input: {channels: 4, size: 5}\nlayers:\n  - deform: {out: 4, kernel: 3, offset_groups: 3}\n")
    assert "offset_groups 3 must divide the input channels 4" in msg
    msg = errors("input: {channels: 1, size: 9}\nlayers:\n  - maxpool: {kernel: 3, stride: 1, dilation: 2, "
                 "padding: 2}\n")
    assert "pool padding 2 is more than half the kernel on the height axis" in msg
    msg = errors("input: {channels: 1, size: 9}\nlayers:\n  - dropout: {p: 7}\n")
    assert "layers[0].dropout.p: expected a probability between 0 and 1, found 7" in msg


# ------------------------------------------------------------------ hints for the common mistakes


def test_every_kind_is_in_exactly_one_group() -> None:
    from convcalc.kinds import GROUPS, KINDS, kinds_by_group

    groups = kinds_by_group()
    assert list(groups) == list(GROUPS) == ["conv", "pool", "norm", "activation", "attention", "other"]
    listed = [k for kinds in groups.values() for k in kinds]
    assert sorted(listed) == sorted(KINDS)  # each kind once
    assert groups["conv"] == ["conv", "dwconv", "pwconv", "separable", "deconv", "deform"]
    assert groups["pool"] == ["maxpool", "avgpool", "global_avgpool", "global_maxpool", "adaptive_avgpool",
                              "adaptive_maxpool"]
    assert groups["norm"] == ["bn", "layernorm", "groupnorm", "layer_scale", "scale"]
    assert groups["attention"] == ["attention", "patch_merging", "psa_attention", "tokens", "class_token", "pos_embed",
                                   "select_token", "to_map"]
    assert groups["other"] == ["linear", "se", "flatten", "dropout", "drop_path", "identity", "channel_shuffle",
                               "pixel_shuffle", "pixel_unshuffle", "upsample", "dfl"]


def test_an_unknown_kind_without_a_close_match_lists_every_kind_by_group() -> None:
    from convcalc.graph.blocks import BLOCK_KINDS
    from convcalc.kinds import KINDS

    msg = errors("input: {channels: 1, size: 4}\nlayers: [frobnicate]\n")
    hint = msg.splitlines()[1]
    assert hint.startswith("  hint: the kinds are conv (conv, dwconv, pwconv, separable, deconv, deform); pool (")
    for kind in [*KINDS, *BLOCK_KINDS]:
        assert f"{kind}," in hint or f"{kind})" in hint, kind
    assert "schema" not in msg


def test_the_alias_tables_name_what_exists() -> None:
    from convcalc.graph.blocks import BLOCK_KINDS
    from convcalc.kinds import KINDS
    from convcalc.kinds.aliases import ARG_ALIASES, KIND_ALIASES, KIND_HINTS, UNSUPPORTED, _norm, unknown_kind
    from convcalc.kinds.merge import MERGE_KINDS

    assert set(KIND_ALIASES.values()) <= set(KINDS) | set(MERGE_KINDS)
    assert set(ARG_ALIASES.values()) <= {p for k in KINDS.values() for p in k.params}
    kinds = {_norm(k) for k in [*KINDS, *BLOCK_KINDS]}
    # an alias of a kind's own name (ignoring case) must agree with it; "dense" is Keras's, not the block
    for alias, target in KIND_ALIASES.items():
        assert _norm(alias) not in kinds or _norm(alias) == _norm(target) or alias == "Dense", alias
    # "not supported yet" only while no such kind exists
    for name in [*UNSUPPORTED, *KIND_HINTS]:
        assert _norm(name) not in kinds, name
    for alias, target in KIND_ALIASES.items():
        assert repr(target) in unknown_kind(alias, {}, BLOCK_KINDS, ()) or target == "global_maxpool", alias


def test_the_aliases_are_documented() -> None:
    from convcalc.kinds.aliases import ARG_ALIASES, KIND_ALIASES, UNSUPPORTED

    doc = (ROOT / "docs" / "spec-format.md").read_text(encoding="utf-8")
    section = doc[doc.index("### Names from other tools"):]
    for name in [*KIND_ALIASES, *UNSUPPORTED, *ARG_ALIASES]:
        assert f"`{name}`" in section, name


def test_an_alias_hint_looks_at_the_arguments() -> None:
    assert "did you mean 'global_avgpool'?" in errors("input: {channels: 1, size: 4}\nlayers:\n"
                                                      "  - AdaptiveAvgPool2d: {output_size: [1, 1]}\n")
    # a misnamed argument stands for the required one: no second error that it is missing
    msg = errors("input: {channels: 1, size: 4}\nlayers:\n  - conv: {out_channels: 4, kernel_size: 3}\n")
    assert "conv needs" not in msg and msg.count("did you mean") == 2


def test_a_directory_where_a_spec_file_is_expected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    hint = "  hint: show and rf take one spec file, e.g. specs/seed/asymmetric.yaml; compare takes several: " \
           "`convcalc compare specs/seed/*.yaml`\n"
    for command in (["show"], ["rf"], ["rf", "--map", "conv1"], ["compare"]):
        result = CliRunner().invoke(app, [*command, "specs/seed/"])
        assert (result.exit_code, result.stdout) == (2, ""), command
        assert result.stderr == "specs/seed/:1:1: (document): is a directory, not a spec file\n" + hint, command
    # a directory with spec files only further down: the first directory below that has some
    result = CliRunner().invoke(app, ["show", "convcalc"])
    assert result.stderr.endswith("  hint: show and rf take one spec file, e.g. convcalc/zoo/alexnet.yaml; compare "
                                  "takes several: `convcalc compare convcalc/zoo/*.yaml`\n")
    # check takes directories
    assert CliRunner().invoke(app, ["check", "specs/seed"]).exit_code == 0
