"""Ultralytics model YAMLs read by convcalc equal Ultralytics' own figures (tests/data/ultralytics-figures.csv and
ultralytics-layers.csv, measured by benchmarks/ultralytics_reference.py with Ultralytics 8.4.190: params of
``DetectionModel(cfg)`` / ``ClassificationModel(cfg)``, MACs = FlopCounterMode / 2 of the eval forward at batch 1).

The YAMLs in tests/data/ultralytics/ are written for these tests from the architectures (as a user's file would
be); the scale comes from ``--set scale=…`` (here ``Settings``), as from a file name such as ``yolov8s.yaml``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from convcalc.lang.spec import Settings
from convcalc.lang.yaml_source import load_file
from convcalc.metrics.analysis import analyze_document

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
FIGURES = list(csv.DictReader((DATA / "ultralytics-figures.csv").open()))
LAYERS = list(csv.DictReader((DATA / "ultralytics-layers.csv").open()))


def yaml_of(model: str) -> tuple[Path, str]:
    """The family YAML and the scale of a model name (yolov8n-cls → yolov8-cls.yaml, n)."""
    base, _, task = model.partition("-")
    family, scale = base[:-1], base[-1]
    return DATA / "ultralytics" / f"{family}{'-' + task if task else ''}.yaml", scale


def report_of(model: str, size: int):  # type: ignore[no-untyped-def]
    path, scale = yaml_of(model)
    (report,) = analyze_document(load_file(path), Settings({"scale": scale}, (size, size)))
    return report


@pytest.mark.parametrize("row", FIGURES, ids=[f"{r['model']}@{r['imgsz']}" for r in FIGURES])
def test_params_and_macs_equal_ultralytics(row: dict[str, str]) -> None:
    report = report_of(row["model"], int(row["imgsz"]))
    assert (report.params, report.macs) == (int(row["params"]), int(row["macs"]))


@pytest.mark.parametrize("model", sorted({r["model"] for r in LAYERS}))
def test_every_yaml_row_equals_ultralytics(model: str) -> None:
    """Per YAML row (``model.<i>`` and the layers inside it): Ultralytics' per-module params and MACs."""
    rows = [r for r in LAYERS if r["model"] == model]
    report = report_of(model, int(rows[0]["imgsz"]))
    for r in rows:
        name = f"model.{r['index']}"
        mine = [x for x in report.layers if x.name == name or x.name.startswith(name + "/")]
        assert mine, name
        mine_cost = (sum(x.cost.params for x in mine), sum(x.cost.macs for x in mine))
        assert mine_cost == (int(r["params"]), int(r["macs"])), (name, r["type"])


ZOO = [f"{family}{scale}{task}" for family in ("yolov8", "yolo11") for scale in "nslmx" for task in ("", "-cls")]


@pytest.mark.parametrize("model", ZOO)
def test_the_zoo_is_the_import_of_the_yamls(model: str) -> None:
    """convcalc/zoo/yolo*.yaml are what ``convcalc import`` writes for the test YAMLs (regenerate them with
    ``convcalc import tests/data/ultralytics/yolov8.yaml --set scale=n -o convcalc/zoo/yolov8n.yaml`` …)."""
    from convcalc.lang.importers import import_text

    base, _, task = model.partition("-")
    source = DATA / "ultralytics" / f"{base[:-1]}{'-' + task if task else ''}.yaml"
    assert (ROOT / "convcalc" / "zoo" / f"{model}.yaml").read_text() == import_text(str(source), {"scale": base[-1]})


@pytest.mark.parametrize("row", [r for r in FIGURES if r["imgsz"] in ("640", "224")], ids=lambda r: r["model"])
def test_zoo_models_equal_ultralytics(row: dict[str, str]) -> None:
    from convcalc.lang.sources import zoo_document

    (report,) = analyze_document(zoo_document(row["model"]), Settings(size=(int(row["imgsz"]),) * 2))
    assert (report.params, report.macs) == (int(row["params"]), int(row["macs"]))


@pytest.mark.parametrize("model", ["yolov8n", "yolo11s", "yolov8m-cls", "yolo11l-cls"])
@pytest.mark.parametrize("size", [320, 416, 1280])
def test_import_round_trips_layer_by_layer(model: str, size: int) -> None:
    """The imported spec and the YAML read directly give the same layers, costs and receptive fields."""
    from convcalc.lang.importers import import_text
    from convcalc.lang.yaml_source import load_text

    path, scale = yaml_of(model)
    direct = report_of(model, size)
    (imported,) = analyze_document(load_text(import_text(str(path), {"scale": scale}), "imported.yaml"),
                                   Settings(size=(size, size)))
    assert [(r.name, r.type, r.output_shape, r.cost, r.rf) for r in direct.layers] == \
        [(r.name, r.type, r.output_shape, r.cost, r.rf) for r in imported.layers]


def test_readme_yolo_table_is_the_tool_and_the_reference() -> None:
    """README's YOLO table: convcalc's exact GFLOPs, Ultralytics' fused figure (the CSV), the area scaling."""
    from convcalc.lang.sources import zoo_document

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- yolo-table:start -->")[1].split("<!-- yolo-table:end -->")[0]
    ref = {(r["model"], r["imgsz"]): r for r in FIGURES}
    rows = [[c.strip() for c in r.strip("|").split("|")] for r in table.splitlines() if r.startswith("| `")]
    assert len(rows) >= 10
    for model, size, exact, fused, area in rows:
        name, s = model.strip("`"), int(size)
        base = 224 if name.endswith("-cls") else 640
        (rep,) = analyze_document(zoo_document(name), Settings(size=(s, s)))
        (at_base,) = analyze_document(zoo_document(name), Settings(size=(base, base)))
        assert exact == f"{2 * rep.macs / 1e9:.3f}" and 2 * rep.macs == 2 * int(ref[(name, size)]["macs"])
        assert fused == f"{float(ref[(name, size)]['ultralytics_gflops_fused']):.3f}"
        assert area == f"{2 * at_base.macs * (s / base) ** 2 / 1e9:.3f}"


def test_readme_yolo_receptive_fields_are_real_output() -> None:
    from typer.testing import CliRunner

    from convcalc.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- yolo-rf:start -->")[1].split("<!-- yolo-rf:end -->")[0]
    lines = [x for x in block.splitlines() if x.startswith("| ")]
    out = CliRunner().invoke(app, ["rf", "yolov8n", "--format", "markdown"]).stdout.splitlines()
    assert len(lines) == 4 and all(x in out for x in lines)


def test_the_scale_comes_from_the_file_name_else_the_first_with_a_warning(tmp_path: Path) -> None:
    """``yolov8s.yaml`` for a yolov8.yaml with scales: (Ultralytics' guess_model_scale); no scale anywhere:
    the first of scales:, said in a warning; --set scale wins over the file name."""
    text = (DATA / "ultralytics" / "yolov8.yaml").read_text()
    named = tmp_path / "yolov8s.yaml"
    named.write_text(text)
    (small,) = analyze_document(load_file(named))
    assert (small.name, small.params, small.macs) == ("yolov8s", 11_166_560, 14_301_312_000)
    assert not small.warnings
    (large,) = analyze_document(load_file(named), Settings({"scale": "l"}))
    assert large.params == 43_691_520
    plain = tmp_path / "mine.yaml"
    plain.write_text(text)
    (first,) = analyze_document(load_file(plain))
    assert first.params == 3_157_200
    assert any("scale 'n' assumed" in w for w in first.warnings)


def test_nc_and_size_are_overridable() -> None:
    """--set nc=3 --size 1280: Detect's class convs give 3 channels and c3 = max(ch[0], min(nc, 100)) is 64
    (80 at nc 80); Ultralytics 8.4.190's ``DetectionModel("yolov8n.yaml", nc=3)`` has 3,011,433 params and
    16,169,779,200 MACs at 1280 (FlopCounterMode / 2, measured by hand as in the CSVs)."""
    path, _ = yaml_of("yolov8n")
    (r,) = analyze_document(load_file(path), Settings({"scale": "n", "nc": 3}, (1280, 1280)))
    assert [tuple(o.shape) for o in r.outputs] == [(7, 160, 160), (7, 80, 80), (7, 40, 40)]
    cls = [x for x in r.layers if x.name.endswith("/cv3/2")]
    assert [tuple(x.output_shape)[0] for x in cls] == [3, 3, 3]
    assert (r.params, r.macs) == (3_011_433, 16_169_779_200)


def test_the_yolo_outputs_receptive_fields() -> None:
    """rf yolov8n: each detection output's receptive field (largest unit window) and stride, exact."""
    (r,) = analyze_document(zoo_document_of("yolov8n"))
    assert [(o.rf.size, o.rf.smallest, o.rf.stride) for o in r.outputs] == [
        ((911, 911), (911, 911), (8, 8)), ((1039, 1039), (1007, 1007), (16, 16)),
        ((1263, 1263), (1263, 1263), (32, 32))]


def zoo_document_of(name: str):  # type: ignore[no-untyped-def]
    from convcalc.lang.sources import zoo_document

    return zoo_document(name)
