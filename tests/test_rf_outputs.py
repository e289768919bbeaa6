"""Issue 12 in every format: where units' windows differ, the smallest and largest unit RF and the period; each
output's RF, stride, centre unit window and ERF; a receptive field larger than the input; `check` limits per
named output."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import invoke

#: down: 3×3 stride 2; up: a 2×2 stride-2 transposed conv (every unit reads exactly 3 pixels, not evenly
#: spaced); near: nearest ×2; k2: a 2×2 conv after it (units read 3 or 5 pixels, every 2 units); big: a 9×9
#: dilation-2 conv padded by 8 (19 or 21 pixels: larger than the 16-pixel input)
SPEC = """\
convcalc: 2
name: t
input: {channels: 1, size: 16}
defaults: {bias: false}
outputs: [down, up, near, big]
layers:
  - conv: {name: down, out: 1, kernel: 3, stride: 2}
  - deconv: {name: up, out: 1, kernel: 2, stride: 2}
  - upsample: {name: near, scale: 2, mode: nearest, from: down}
  - conv: {name: k2, out: 1, kernel: 2}
  - conv: {name: big, out: 1, kernel: 9, dilation: 2, padding: 8}
"""
BIG_NOTE = ("big: the receptive field 21×21 is larger than the input 16×16; the window of the centre unit (6, 6) has "
            "16/19 rows (84.2%) and 16/19 columns (84.2%) inside the input")
STACK = "input: {channels: 1, size: 8}\ndefaults: {bias: false}\nlayers:\n  - conv: {out: 1, kernel: 3}\n" \
        "  - conv: {out: 1, kernel: 3}\n"


def _spec(tmp_path: Path, text: str = SPEC, name: str = "t.yaml") -> Path:
    (tmp_path / ".git").mkdir(exist_ok=True)  # the budgets search stops here
    (tmp_path / name).write_text(text)
    return tmp_path / name


def run(tmp_path: Path, *args: str) -> Any:
    return invoke(list(args), tmp_path)


def model(tmp_path: Path, command: str = "rf") -> dict[str, Any]:
    _spec(tmp_path)
    result = run(tmp_path, command, "t.yaml", "--format", "json")
    assert result.exit_code == 0, result.output
    [m] = json.loads(result.stdout)["models"]
    return m  # type: ignore[no-any-return]


def test_json_layers_have_the_smallest_rf_and_the_period(tmp_path: Path) -> None:
    layers = {x["name"]: x for x in model(tmp_path)["layers"]}
    got = {n: (x["rf"], x["rf_min"], x["rf_period"], x["stride"]) for n, x in layers.items()}
    assert got == {
        "down": ([3, 3], [3, 3], [1, 1], [2, 2]),
        "up": ([3, 3], [3, 3], [2, 2], [1, 1]),  # 3 px each (not 4, never 1.5), not evenly spaced
        "near": ([3, 3], [3, 3], [2, 2], [1, 1]),
        "k2": ([5, 5], [3, 3], [2, 2], [1, 1]),  # 3 or 5 px depending on the unit
        "big": ([21, 21], [19, 19], [2, 2], [1, 1]),
    }
    assert all(isinstance(v, int) for x in layers.values() for k in ("rf", "rf_min", "rf_period") for v in x[k])


def test_json_outputs_have_their_centre_unit_window_and_erf(tmp_path: Path) -> None:
    outs = model(tmp_path)["outputs"]
    assert [o["name"] for o in outs] == ["down", "up", "near", "big"]
    got = {o["name"]: (o["shape"], o["rf"], o["rf_min"], o["rf_period"], o["stride"], o["unit"], o["window"],
                       o["inside"]) for o in outs}
    assert got == {
        "down": ([1, 7, 7], [3, 3], [3, 3], [1, 1], [2, 2], [3, 3], [[6, 8], [6, 8]], [3, 3]),
        "up": ([1, 14, 14], [3, 3], [3, 3], [2, 2], [1, 1], [6, 6], [[6, 8], [6, 8]], [3, 3]),
        "near": ([1, 14, 14], [3, 3], [3, 3], [2, 2], [1, 1], [6, 6], [[6, 8], [6, 8]], [3, 3]),
        "big": ([1, 13, 13], [21, 21], [19, 19], [2, 2], [1, 1], [6, 6], [[-2, 16], [-2, 16]], [16, 16]),
    }
    # the effective receptive field is the footprint's (`rf --map`) of the same centre unit
    for o in outs:
        result = run(tmp_path, "rf", "t.yaml", "--map", o["name"], "--format", "json")
        [fp] = json.loads(result.stdout)["footprints"]
        assert (fp["unit"], fp["erf50"], fp["erf95"]) == (o["unit"], o["erf50"], o["erf95"])
        assert [fp["start"][0], fp["start"][0] + fp["rf"][0] - 1] == o["window"][0]
    assert {o["name"]: (o["erf50"], o["erf95"]) for o in outs}["down"] == ([3, 3], [3, 3])


def test_the_erf_of_two_3x3_convs_is_3_and_5(tmp_path: Path) -> None:
    """Paths 1 2 3 2 1 per axis: 50% of 9 needs the middle 3 (7 paths), 95% all 5."""
    _spec(tmp_path, STACK)
    [m] = json.loads(run(tmp_path, "rf", "t.yaml", "-f", "json").stdout)["models"]
    [o] = m["outputs"]
    assert (o["unit"], o["window"], o["erf50"], o["erf95"]) == ([1, 1], [[1, 5], [1, 5]], [3, 3], [5, 5])
    # show and compare skip the path counts: the keys are there, null
    [s] = json.loads(run(tmp_path, "show", "t.yaml", "-f", "json").stdout)["models"]
    assert (s["outputs"][0]["window"], s["outputs"][0]["erf50"], s["outputs"][0]["erf95"]) == \
        ([[1, 5], [1, 5]], None, None)


def test_a_receptive_field_larger_than_the_input_is_a_note(tmp_path: Path) -> None:
    m = model(tmp_path)
    assert [n for n in m["notes"] if "larger than the input" in n] == [BIG_NOTE]
    text = run(tmp_path, "rf", "t.yaml").stdout
    assert BIG_NOTE in " ".join(text.split())
    _spec(tmp_path, STACK)  # 5 of 8: no note
    assert "larger than the input" not in run(tmp_path, "rf", "t.yaml").stdout


def test_csv_has_the_smallest_rf_the_period_and_a_row_per_output(tmp_path: Path) -> None:
    _spec(tmp_path)
    rows = list(csv.DictReader(io.StringIO(run(tmp_path, "rf", "t.yaml", "-f", "csv").stdout)))
    k2 = next(r for r in rows if r["name"] == "k2")
    assert (k2["rf_h"], k2["rf_min_h"], k2["rf_period_h"], k2["window_h_first"]) == ("5", "3", "2", "")
    outs = [r for r in rows if r["type"] == "output"]
    assert [r["name"] for r in outs] == ["down", "up", "near", "big"]
    big = outs[-1]
    assert [big[k] for k in ("rf_w", "rf_min_w", "rf_period_w", "unit_h", "window_h_first", "window_h_last",
                             "inside_h", "erf50_h", "erf95_h")] == ["21", "19", "2", "6", "-2", "16", "16", "11", "19"]


def test_table_and_markdown_show_the_range_and_the_period(tmp_path: Path) -> None:
    _spec(tmp_path)
    md = run(tmp_path, "rf", "t.yaml", "-f", "markdown").stdout
    assert "| layer | type | output | RF | period | stride | padding | centre | notes |" in md
    assert "| k2 | conv | 1×13×13 | 3–5×3–5 | 2×2 | 1×1 | 0×0 | 1×1 |  |" in md
    assert "| down | conv | 1×7×7 | 3×3 |  | 2×2 | 0×0 | 1×1 |  |" in md  # evenly spaced: no period
    assert "### t: outputs" in md
    assert "| big | 1×13×13 | 19–21×19–21 | 2×2 | 1×1 | (6, 6) | -2..16×-2..16 | 84.2%×84.2% | 11×11 | 19×19 |" in md
    table = run(tmp_path, "rf", "t.yaml").stdout
    assert "19–21×19–21" in table and "t: outputs" in table
    # a plain stack has no period column
    _spec(tmp_path, STACK)
    md = run(tmp_path, "rf", "t.yaml", "-f", "markdown").stdout
    assert "| layer | type | output | RF | stride | padding | centre | notes |" in md


def test_centres_are_rounded_in_tables_unless_exact(tmp_path: Path) -> None:
    """A centre exact where it reads well, else to 3 digits (as the notes); --exact and JSON keep it exact. A
    concat of a 2×2 stride-2 conv (centre 1/2, 1 channel) and a padded 3×3 one (centre 0, 16 channels): the
    centre of the 17 channels is 1/34."""
    _spec(tmp_path, "input: {channels: 1, size: 8}\ndefaults: {bias: false}\nlayers:\n"
                    "  - conv: {name: a, out: 1, kernel: 2, stride: 2}\n"
                    "  - conv: {name: b, out: 16, kernel: 3, stride: 2, padding: 1, from: input}\n"
                    "  - concat: {name: c, from: [a, b]}\n")
    [m] = json.loads(run(tmp_path, "rf", "t.yaml", "-f", "json").stdout)["models"]
    assert [x["centre"] for x in m["layers"]] == [[0.5, 0.5], [0, 0], [1 / 34, 1 / 34]]
    md = run(tmp_path, "rf", "t.yaml", "-f", "markdown").stdout
    assert "| a | conv | 1×4×4 | 2×2 | 2×2 | 0×0 | 1/2×1/2 |" in md
    assert "| c | concat | 17×4×4 | 3×3 | 2×2 | 1×1 | ≈0.0294×≈0.0294 |" in md
    assert "(≈: to 3 digits; --exact: exact)" in md
    exact = run(tmp_path, "rf", "t.yaml", "-f", "markdown", "--exact").stdout
    assert "| c | concat | 17×4×4 | 3×3 | 2×2 | 1×1 | 1/34×1/34 |" in exact and "to 3 digits" not in exact


def test_the_footprint_names_the_centre_unit(tmp_path: Path) -> None:
    _spec(tmp_path)
    text = run(tmp_path, "rf", "t.yaml", "--map", "k2").stdout
    assert text.startswith("t: footprint of the centre unit (6, 6) of 'k2' (paths from each input pixel, one channel)")
    [fp] = json.loads(run(tmp_path, "rf", "t.yaml", "--map", "k2", "-f", "json").stdout)["footprints"]
    assert fp["unit"] == [6, 6] and fp["rf"] == [3, 3]  # unit 6: even, reads one unit of `down`


# --- check: limits per named output --------------------------------------------------------------------------------


def budgets(result: Any) -> dict[str, tuple[int, int, bool]]:
    """label → (limit, actual, passed) from `check --format json`."""
    [spec] = json.loads(result.stdout)["specs"]
    [m] = spec["models"]
    return {("" if b["output"] is None else f"{b['output']}.") + b["key"] + f"[{b['axis']}]":
            (b["limit"], b["actual"], b["passed"]) for b in m["budgets"] if b["axis"] == "h"}


def test_spec_budget_per_output(tmp_path: Path) -> None:
    _spec(tmp_path, SPEC.replace("layers:", "budget:\n  outputs:\n    big: {max_rf: 21, min_rf: 20}\n"
                                 "    down: {min_output_stride: 2}\nlayers:"))
    result = run(tmp_path, "check", "t.yaml", "-f", "json")
    assert result.exit_code == 1, result.output
    # min_rf is held by every unit: the smallest window (19), max_rf by the largest (21)
    assert budgets(result) == {"big.min_rf[h]": (20, 19, False), "big.max_rf[h]": (21, 21, True),
                               "down.min_output_stride[h]": (2, 2, True)}
    csv_out = run(tmp_path, "check", "t.yaml", "-f", "csv").stdout
    assert "t.yaml (t): output big: rf[h] is 19, under min_rf = 20 by 5.0% (limit from the spec (line 8))" in csv_out
    table = run(tmp_path, "check", "t.yaml").stdout
    assert "outputs.big.min_rf[h]" in table and "FAIL" in table


def test_model_rf_limits_hold_at_every_unit_of_every_output(tmp_path: Path) -> None:
    _spec(tmp_path)
    result = run(tmp_path, "check", "t.yaml", "--min-rf", "3", "--max-rf", "21", "-f", "json")
    assert result.exit_code == 0 and budgets(result) == {"min_rf[h]": (3, 3, True), "max_rf[h]": (21, 21, True)}
    result = run(tmp_path, "check", "t.yaml", "--max-rf", "20", "--max-output-stride", "1", "-f", "json")
    assert result.exit_code == 1
    assert budgets(result) == {"max_rf[h]": (20, 21, False), "max_output_stride[h]": (1, 2, False)}
    result = run(tmp_path, "check", "t.yaml", "--min-rf", "4", "--rf-at", "k2", "-f", "json")
    assert budgets(result) == {"min_rf[h]": (4, 3, False)}  # k2's units read 3 or 5 pixels


def test_cli_limits_per_output(tmp_path: Path) -> None:
    _spec(tmp_path)
    result = run(tmp_path, "check", "t.yaml", "--min-rf", "big=19x20", "--min-rf", "up=4", "--max-rf", "2",
                 "-f", "json")
    assert result.exit_code == 1
    got = json.loads(result.stdout)["specs"][0]["models"][0]["budgets"]
    assert [(b["output"], b["key"], b["axis"], b["limit"], b["actual"], b["passed"], b["origin"]) for b in got] == [
        (None, "max_rf", "h", 2, 21, False, "--max-rf"), (None, "max_rf", "w", 2, 21, False, "--max-rf"),
        ("up", "min_rf", "h", 4, 3, False, "--min-rf"), ("up", "min_rf", "w", 4, 3, False, "--min-rf"),
        ("big", "min_rf", "h", 19, 19, True, "--min-rf"), ("big", "min_rf", "w", 20, 19, False, "--min-rf")]
    bad = run(tmp_path, "check", "t.yaml", "--min-rf", "=3")
    assert bad.exit_code == 2 and "expected NAME=N or NAME=HxW" in bad.output


@pytest.mark.parametrize("where", ["spec", "budgets", "cli"])
def test_an_unknown_output_is_a_located_error_with_a_suggestion(tmp_path: Path, where: str) -> None:
    text, args = SPEC, ["check", "t.yaml"]
    if where == "spec":
        text = SPEC.replace("layers:", "budget:\n  outputs: {bigg: {min_rf: 3}}\nlayers:")
    elif where == "budgets":
        (tmp_path / "budgets.yaml").write_text("budgets:\n  t.yaml:\n    outputs:\n      Big: {max_rf: 30}\n")
    else:
        args += ["--max-rf", "bigg=30"]
    _spec(tmp_path, text)
    result = run(tmp_path, *args)
    assert result.exit_code == 2, result.output
    expected = {
        "spec": "t.yaml:7:19: budget.outputs.bigg: model 't' has no output named 'bigg'\n",
        "budgets": "budgets.yaml:4:12: budgets.t.yaml.outputs.Big: model 't' has no output named 'Big'\n",
        "cli": "t.yaml:1:1: budget.outputs.bigg: --max-rf bigg=…: model 't' has no output named 'bigg'\n",
    }[where]
    assert expected in result.stderr
    assert "  hint: did you mean 'big'? The outputs: 'down', 'up', 'near', 'big'\n" in result.stderr


def test_bad_output_budgets_are_located(tmp_path: Path) -> None:
    _spec(tmp_path, SPEC.replace("layers:", "budget:\n  outputs:\n    big: {max_params: 3, min_rf: [0, 1]}\n"
                                 "    up: 5\n  output: {}\nlayers:"))
    err = run(tmp_path, "check", "t.yaml").stderr
    assert ("t.yaml:8:23: budget.outputs.big.max_params: unknown limit 'max_params' for an output\n"
            "  hint: max_params limits the whole model: put it beside `outputs:`; an output takes min_rf, max_rf, "
            "min_output_stride, max_output_stride\n") in err
    assert "t.yaml:8:34: budget.outputs.big.min_rf: expected [h, w] with two integers >= 1, found [0, 1]" in err
    assert "t.yaml:9:9: budget.outputs.up: expected the limits of output 'up' (a mapping such as {min_rf: 100})" \
           ", found 5" in err
    assert "t.yaml:10:11: budget.output: unknown budget key 'output'\n  hint: did you mean 'outputs'?" in err


def test_the_schemas_take_outputs() -> None:
    from convcalc.ci.budget import budget_schema, budgets_file_schema

    jsonschema.validate({"outputs": {"p3": {"min_rf": 100}, "p5": {"max_rf": [900, 800]}}}, budget_schema())
    for bad in ({"outputs": {"p3": {"max_params": 5}}}, {"outputs": {"p3": 5}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, budget_schema())
    jsonschema.validate({"budgets": {"a.yaml": {"outputs": {"p3": {"min_rf": 3}},
                                                "alternatives": {"x": {"outputs": {"p4": {"max_rf": 9}}}}}}},
                        budgets_file_schema())
