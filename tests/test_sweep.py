"""Sweeps: the axes and their product, each row equal to the analysis of its configuration, failed configurations
as rows with their reason, budgets' verdicts as `check` gives them, the Pareto front, parallel runs, the CLI."""

from __future__ import annotations

import csv
import gc
import io
import json
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from convcalc.ci.budget import parse_cli
from convcalc.ci.gate import check_document
from convcalc.cli import app
from convcalc.lang.sources import open_source
from convcalc.lang.spec import Settings
from convcalc.metrics.analysis import analyze_document
from convcalc.metrics.memory import MemoryOptions
from convcalc.sweep import (
    AxisError,
    Config,
    SweepRow,
    grid,
    load_target,
    pareto_front,
    parse_axes,
    run_config,
    run_sweep,
    swept,
)
from convcalc.sweep.axes import number_range, split_items

TINY = """\
name: tiny
input: {channels: 3, size: 64}
params: {width: 16}
budget: {max_macs: 100K, min_rf: 9}
layers:
  - conv: {out: $width, kernel: 7}
  - relu
  - conv: {out: "${width * 2}", kernel: 3, stride: 2}
  - global_avgpool
"""


@pytest.fixture()
def tiny(tmp_path: Path) -> str:
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY, encoding="utf-8")
    return str(p)


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


# ------------------------------------------------------------------------------------------------ axes


def test_ranges_are_exact_and_include_their_stop() -> None:
    assert number_range("160:320:32", "--size") == [160, 192, 224, 256, 288, 320]
    assert number_range("0.5:1.0:0.25", "--set") == [0.5, 0.75, 1.0]
    assert number_range("0.1:0.3:0.1", "--set") == [0.1, 0.2, 0.3]  # decimal steps: no 0.30000000000000004
    assert number_range("1:10:4", "--set") == [1, 5, 9]
    assert number_range("3:1:-1", "--set") == [3, 2, 1]
    assert number_range("1:3", "--set") == [1, 2, 3]
    assert number_range("0.5,1", "--set") is None


@pytest.mark.parametrize("text", ["1:3:0", "3:1:1", "1:1000000"])
def test_a_range_that_cannot_be_run_is_refused(text: str) -> None:
    with pytest.raises(AxisError):
        number_range(text, "--set")


def test_lists_split_at_top_level_commas_and_read_as_yaml() -> None:
    assert split_items("0.5, [1, 2], {a: 1, b: 2}, 'x,y'") == ["0.5", "[1, 2]", "{a: 1, b: 2}", "'x,y'"]
    (a,) = parse_axes(["depths=[1, 2],[2, 2]"])
    assert a.values == ([1, 2], [2, 2])
    (b,) = parse_axes(["act=relu,gelu"])
    assert b.values == ("relu", "gelu")
    (c,) = parse_axes(["width=0.75"])
    assert c.values == (0.75,)


def test_sizes_and_batches() -> None:
    size, batch = parse_axes(size="160,240x320,128:192:64", batch="1,8")
    assert size.values == ((160, 160), (240, 320), (128, 128), (192, 192))
    assert batch.values == (1, 8)
    for bad in ({"size": "0"}, {"size": "160x"}, {"size": "0:64:32"}, {"batch": "0"}, {"batch": "1.5"},
                {"sets": ["width="]}, {"sets": ["=1"]}, {"sets": ["w=1,,2"]}, {"sets": ["w=1", "w=2"]}):
        with pytest.raises(AxisError):
            parse_axes(**bad)  # type: ignore[arg-type]


def test_the_product_varies_the_last_axis_fastest() -> None:
    axes = parse_axes(["a=1,2", "b=x,y,z"], size="8,16")
    configs = grid(axes)
    assert len(configs) == 12
    assert configs[0] == Config((("a", 1), ("b", "x")), (8, 8))
    assert configs[1] == Config((("a", 1), ("b", "x")), (16, 16))
    assert configs[-1] == Config((("a", 2), ("b", "z")), (16, 16))
    assert swept(axes) == ["a", "b", "size"]
    assert swept(parse_axes(["a=1", "b=2,3"])) == ["b"]
    assert grid([]) == [Config()]
    with pytest.raises(AxisError):
        grid(parse_axes(["a=1:400", "b=1:400"]))


# ------------------------------------------------------------------------------------------------ rows


def test_every_row_is_the_analysis_of_its_configuration() -> None:
    doc = open_source("mobilenet_v2")
    configs = grid(parse_axes(["width=0.5,1.0"], size="160:224:64", batch="1,2"))
    rows = run_sweep([load_target("mobilenet_v2")], configs)
    assert [r.config for r in rows] == configs
    for row in rows:
        (report,) = analyze_document(doc, row.config.settings, memory=MemoryOptions())
        assert report.memory is not None
        assert (row.params, row.macs, row.flops, row.activations, row.peak_memory) == \
            (report.params, report.macs, report.flops, report.activations, report.memory.inference_peak_bytes)
        assert (row.rf, row.stride) == (report.rf.size, report.rf.stride)
        assert row.status == "no_budget" and row.model == "mobilenet_v2"
    # torchvision's mobilenet_v2 (width_mult=1.0) at 224: 3,504,872 params and 300,774,272 MACs
    at224 = [r for r in rows if r.config == Config((("width", 1.0),), (224, 224), 1)]
    assert [(r.params, r.macs) for r in at224] == [(3_504_872, 300_774_272)]


def test_exact_figures_of_a_small_spec(tiny: str) -> None:
    rows = run_sweep([load_target(tiny)], grid(parse_axes(["width=8,16"], size="12,16")))
    # width 8 at 12 px: conv 7×7 3→8 (1,184 params) to 6×6, conv 3×3/2 8→16 (1,168) to 2×2
    assert [(r.params, r.macs, r.activations) for r in rows] == [
        (2352, 6 * 6 * 8 * 147 + 2 * 2 * 16 * 72, 656), (2352, 10 * 10 * 8 * 147 + 4 * 4 * 16 * 72, 1872),
        (7008, 6 * 6 * 16 * 147 + 2 * 2 * 32 * 144, 1312), (7008, 10 * 10 * 16 * 147 + 4 * 4 * 32 * 144, 3744)]
    assert [(r.rf, r.stride) for r in rows] == [((11, 11), (4, 4)), ((15, 15), (8, 8))] * 2


def test_a_configuration_that_fails_is_a_row_with_its_reason(tiny: str) -> None:
    rows = run_sweep([load_target(tiny)], grid(parse_axes(["width=8"], size="4:16:4")))
    assert [r.status for r in rows] == ["error", "error", "pass", "fail"]
    assert rows[0].error == ("layers[0].conv: layer 'conv1' (conv) on input 3×4×4: kernel extent 7 is larger than "
                             "the padded input 4 on the height axis (input 4, padding 0+0)")
    assert rows[0].detail is not None and rows[0].detail.startswith(f"{tiny}:6:")
    assert rows[0].params is None and rows[0].rf is None
    assert rows[1].error is not None and "layer 'conv2'" in rows[1].error


def test_verdicts_are_those_of_check(tiny: str) -> None:
    target = load_target(tiny)
    for config in grid(parse_axes(["width=8,16"], size="12,16,24")):
        (row,) = run_sweep([target], [config])
        (model,) = check_document(open_source(tiny), (), None, config.settings).models
        assert [(v.label, v.limit, v.actual, v.passed) for v in row.verdicts] == \
            [(o.label, o.limit, o.actual, o.passed) for o in model.outcomes]
    (row,) = run_sweep([target], [Config((("width", 16),), (16, 16))])
    assert row.status == "fail" and [v.label for v in row.verdicts if not v.passed] == ["max_macs"]


def test_parallel_runs_give_the_same_rows(tiny: str) -> None:
    targets = [load_target(tiny), load_target("resnet18")]
    configs = grid(parse_axes([], size="4:64:4"))
    seen: list[tuple[int, int]] = []
    one = run_sweep(targets, configs)
    two = run_sweep(targets, configs, jobs=2, progress=lambda done, total: seen.append((done, total)))
    assert two == one
    assert seen[-1] == (32, 32) and all(t == 32 for _, t in seen)


def test_run_config_maps_over_an_executor(tiny: str) -> None:
    """The module docstring's recipe: map run_config over a pool of one's own."""
    configs = grid(parse_axes(["width=8,16"], size="12,16"))
    with ProcessPoolExecutor(max_workers=2) as pool:
        rows = [r for rs in pool.map(partial(run_config, tiny), configs) for r in rs]
    assert rows == run_sweep([load_target(tiny)], configs)


# ------------------------------------------------------------------------------------------------ Pareto


def _row(params: int, macs: int, rf: tuple[int, int] = (1, 1), error: str | None = None) -> SweepRow:
    if error is not None:
        return SweepRow("s", "m", Config(), error=error)
    return SweepRow("s", "m", Config((("p", params), ("m", macs))), params, macs, 2 * macs, 0, 0, rf, (1, 1))


def test_pareto_front_of_hand_made_rows() -> None:
    rows = [_row(5, 5), _row(1, 9), _row(9, 1), _row(6, 6), _row(5, 5), _row(2, 9), _row(0, 0, error="x")]
    front = pareto_front(rows, ["params", "macs"])
    assert [(r.params, r.macs) for r in front] == [(5, 5), (1, 9), (9, 1), (5, 5)]
    rf_rows = [_row(1, 1, (5, 5)), _row(1, 1, (7, 5)), _row(2, 1, (9, 9))]
    assert [r.rf for r in pareto_front(rf_rows, ["params", "rf"])] == [(7, 5), (9, 9)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(1, 4)), max_size=12))
def test_pareto_front_is_exactly_the_undominated_rows(points: list[tuple[int, int, int]]) -> None:
    rows = [_row(p, m, (r, r)) for p, m, r in points]
    metrics = ["params", "macs", "rf"]

    def key(r: SweepRow) -> tuple[int, ...]:
        assert r.params is not None and r.macs is not None and r.rf is not None
        return (r.params, r.macs, -int(r.rf[0]), -int(r.rf[1]))

    def dominated(r: SweepRow) -> bool:
        return any(key(o) != key(r) and all(a <= b for a, b in zip(key(o), key(r), strict=True)) for o in rows)

    assert pareto_front(rows, metrics) == [r for r in rows if not dominated(r)]


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_formats(tiny: str) -> None:
    code, out, err = _run("sweep", tiny, "--set", "width=8,16", "--size", "4:16:4", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema_version"] == 2 and doc["pareto"] is None
    assert doc["axes"] == [{"name": "width", "values": [8, 16]},
                           {"name": "size", "values": [[4, 4], [8, 8], [12, 12], [16, 16]]}]
    assert [r["status"] for r in doc["rows"]] == ["error", "error", "pass", "fail", "error", "error", "fail", "fail"]
    third = doc["rows"][2]
    assert third["config"] == {"width": 8, "size": [12, 12]}
    assert (third["params"], third["macs"], third["peak_memory"], third["rf"]) == (2352, 46944, 2880, [11, 11])
    assert {"label": "max_macs", "key": "max_macs", "limit": 100000, "actual": 46944, "passed": True} in \
        third["verdicts"]
    assert "2 of 8" not in err and "4 of 8 rows could not be analysed" in err
    code, out, _ = _run("sweep", tiny, "--set", "width=8,16", "--size", "12,16", "--format", "csv")
    lines = out.splitlines()
    assert lines[0] == ("spec,model,width,size,params,macs,flops,activations,peak_memory_bytes,rf_h,rf_w,"
                        "stride_h,stride_w,status,failed,error,rf_at")
    assert lines[1] == f"{tiny},tiny,8,12,2352,46944,94304,656,2880,11,11,4,4,pass,,,"
    assert lines[4] == f"{tiny},tiny,16,16,7008,308928,620480,3744,12800,15,15,8,8,fail,max_macs,,"
    code, out, _ = _run("sweep", tiny, "--set", "width=8,16", "--size", "12", "--format", "markdown", "--exact")
    assert "| width | params | MACs |" in out and "| 16 | 7,008 | 103,104 |" in out


def test_cli_pareto_and_failures(tiny: str) -> None:
    code, out, err = _run("sweep", tiny, "--set", "width=8,16", "--size", "4:16:4", "--pareto", "macs,rf", "-f", "csv")
    assert code == 0
    assert [line.split(",")[2:4] for line in out.splitlines()[1:]] == [["8", "12"], ["8", "16"]]
    assert "left out of the Pareto front" in err
    code, out, err = _run("sweep", tiny, "--set", "widht=8")
    assert code == 2 and out == "" and "the spec has no parameter 'widht'" in err and "did you mean 'width'" in err
    code, out, err = _run("sweep", tiny, "--size", "4")
    assert code == 2 and "kernel extent 7 is larger" in err
    for args, where in ((["--size", "0:4"], "--size"), (["--pareto", "speed"], "--pareto"),
                        (["--set", "width=1:0"], "--set width"), (["--batch", "x"], "--batch")):
        code, out, err = _run("sweep", tiny, *args)
        assert code == 2 and out == "" and err.startswith(where), (args, err)
    code, out, err = _run("sweep", "no_such_model")
    assert code == 2 and "no zoo model of that name" in err


def test_no_progress_bar_in_piped_output(tiny: str) -> None:
    code, out, err = _run("sweep", tiny, "--set", "width=1:64", "--size", "12", "-f", "csv")
    assert code == 0 and len(out.splitlines()) == 65
    assert err == ""  # stderr is not a terminal here: no bar, no escape codes


def test_settings_of_a_config() -> None:
    c = Config((("width", 0.5),), (160, 192), 4)
    assert c.settings == Settings({"width": 0.5}, (160, 192), 4)
    assert c.label() == "width=0.5 size=160x192 batch=4"


def test_command_line_limits(tiny: str) -> None:
    code, out, err = _run("sweep", tiny, "--set", "width=8,16", "--size", "12", "--budget", "max_params=5000",
                          "--budget", "max_peak_memory=4KiB", "-f", "csv")
    assert code == 0, err
    # the spec's own limits (max_macs 100K, min_rf 9) hold as well: every limit must hold
    assert [[r["status"], r["failed"]] for r in csv.DictReader(io.StringIO(out))] == \
        [["pass", ""], ["fail", "max_params;max_macs;max_peak_memory"]]
    rows = run_sweep([load_target(tiny)], [Config((("width", 16),), (12, 12))], jobs=1,
                     budget=parse_cli({"max_params": "5000"}))
    assert [(v.label, v.limit, v.actual, v.passed) for v in rows[0].verdicts if v.key == "max_params"] == \
        [("max_params", 5000, 7008, False)]
    for bad, message in ((["--budget", "max_mac=3"], "did you mean 'max_macs'"),
                         (["--budget", "max_macs=3Q"], "unknown suffix"), (["--budget", "x"], "KEY=VALUE")):
        code, out, err = _run("sweep", tiny, *bad)
        assert code == 2 and out == "" and message in err, err


NAMED = """\
name: named
input: {channels: 3, size: 32}
params: {width: 8}
layers:
  - conv: {name: stem, out: $width, kernel: 7, padding: 3}
  - relu
  - conv: {name: down, out: $width, kernel: 3, stride: 2, padding: 1}
  - global_avgpool
"""


def test_rf_at_a_layer(tmp_path: Path) -> None:
    p = tmp_path / "named.yaml"
    p.write_text(NAMED, encoding="utf-8")
    # at `down`: 7 + (3 - 1) * 1 = 9 pixels, jump 1 * 2 = 2; at the output, after the global pool of its 16×16
    # map: 9 + (16 - 1) * 2 = 39, jump 2 * 16 = 32
    code, out, err = _run("sweep", str(p), "--size", "32,64", "--rf-at", "down", "-f", "csv")
    assert code == 0, err
    assert [(r["size"], r["rf_h"], r["rf_w"], r["stride_h"], r["rf_at"]) for r in csv.DictReader(io.StringIO(out))] \
        == [("32", "9", "9", "2", "down"), ("64", "9", "9", "2", "down")]
    rows = json.loads(_run("sweep", str(p), "--size", "32", "-f", "json")[1])["rows"]
    assert (rows[0]["rf"], rows[0]["stride"], rows[0]["rf_at"]) == ([39, 39], [32, 32], None)
    rows = json.loads(_run("sweep", str(p), "--size", "32", "--budget", "rf_at=stem", "--rf-at", "down",
                           "-f", "json")[1])["rows"]  # (--rf-at wins)
    assert (rows[0]["rf"], rows[0]["rf_at"]) == ([9, 9], "down")
    # a budget's rf_at says the same, and the table says where RF is measured
    code, out, err = _run("sweep", str(p), "--size", "32", "--budget", "rf_at=stem", "--budget", "min_rf=7")
    assert code == 0, err
    assert "7×7" in out and "at stem" in out.replace("\n", " ") and "pass" in out
    # an alternative's own rf_at: its rows at that layer, the other's at its output, and the table says so
    alt = tmp_path / "alt.yaml"
    alt.write_text("name: alt\ninput: {channels: 3, size: 32}\nalternatives:\n"
                   "  - {name: a, budget: {rf_at: stem}, layers: [{conv: {name: stem, out: 8, kernel: 3}},"
                   " {conv: {out: 8, kernel: 3, stride: 2}}]}\n"
                   "  - {name: b, layers: [{conv: {out: 8, kernel: 5}}]}\n", encoding="utf-8")
    rows = json.loads(_run("sweep", str(alt), "--size", "32", "-f", "json")[1])["rows"]
    assert [(r["model"], r["rf"], r["rf_at"]) for r in rows] == [("a", [3, 3], "stem"), ("b", [5, 5], None)]
    assert "at stem (each row's rf_at in --format json; none: the output)" in \
        " ".join(_run("sweep", str(alt), "--size", "32")[1].split())
    code, out, err = _run("sweep", str(p), "--size", "32", "--rf-at", "dwn")
    assert code == 2 and out == "" and "no layer or block named 'dwn'" in err and "did you mean 'down'" in err, err


def test_a_reports_rows_keep_its_batch() -> None:
    """The layer rows are made when first read, from the report's own batch (the graph's may change later: the
    training-memory limit measures at another batch)."""
    [report] = analyze_document(open_source("resnet18"), Settings({}, None, 2))
    report.graph.batch = 8
    assert report.batch == 2
    assert sum(r.cost.macs for r in report.layers if not r.training_only and not r.dead) == report.macs \
        == 2 * 1_814_073_344
    assert report.layers[0].activations == 2 * 64 * 112 * 112


def test_a_configuration_leaves_no_reference_cycles() -> None:
    """Everything a configuration makes is freed when its row is made (reference counting alone): a long sweep
    neither grows nor waits for the cycle collector."""
    target = load_target("mobilenet_v2")
    configs = grid(parse_axes(["width=0.5,0.75"], size="96,128"))
    run_sweep([target], configs[:1], jobs=1)  # (the caches of a first configuration are not garbage)
    gc.collect()
    gc.disable()
    try:
        rows = run_sweep([target], configs[1:], jobs=1)
        found = gc.collect()
    finally:
        gc.enable()
    assert [r.macs for r in rows] == [r.macs for c in configs[1:] for r in run_config("mobilenet_v2", c)]
    assert found == 0
