"""Every spec that worked before spec format 2 gives identical numbers (issue 11).

``tests/data/figures-0.1.json`` was recorded with convcalc 0.1 + issue 10 (commit 2847fa9), before any
change of spec format 2: per spec file, each model's JSON (schema 2) without its per-layer list, and a
SHA-256 of that list (names, kinds, shapes, costs, receptive fields of every layer).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from convcalc.lang.sources import open_source
from convcalc.lang.yaml_source import load_file
from convcalc.metrics.analysis import analyze_document
from convcalc.outputs.render import report_dict

ROOT = Path(__file__).resolve().parent.parent
RECORDED = json.loads((ROOT / "tests" / "data" / "figures-0.1.json").read_text())
#: a recorded spec file that moved into a family file: that file, and the variant (its settings) it is now
#: numbers a fix proved wrong (CHANGELOG, issue 12): the full field after SE gates moved a gate's window with the
#: unit (unit u's gate read the pixels of units u·n …), where a gate reads the whole map once for every unit
FIXED = {
    # (and issue 14: its 9 stochastic-depth layers' outputs join the activations, 22,154,408 before)
    "convcalc/zoo/efficientnet_b0.yaml": {"rf_full": [1043, 1043], "activations": 22_364_520},
    "convcalc/zoo/mobilenet_v3_large.yaml": {"rf_full": [787, 787]},
}
#: layer lists that changed with every figure of the model kept (issue 14): EfficientNet's stochastic depth
#: became layers of their own (drop_path, no cost), RegNet's projection runs before its block's body (the
#: execution order, which decides the memory peak). The layer list's hash and count are not compared.
LAYERS_CHANGED = {
    "convcalc/zoo/efficientnet_b0.yaml": "stochastic depth: 9 drop_path layers added",
    "convcalc/zoo/regnet_x_400mf.yaml": "the projection listed before the body",
}
#: keys added to each layer since the record
ADDED = {"feeds_output", "rf_min", "rf_period"}
#: notes added since the record (issue 12: an output whose receptive field is larger than the input)
ADDED_NOTE = " is larger than the input "
MOVED = {
    "specs/rf/resnet_v1_50.yaml": ("specs/rf/resnet_v1.yaml", "resnet_v1_50"),   # depth: 50
    "specs/rf/vgg_16.yaml": ("specs/rf/vgg.yaml", "vgg_16"),                     # config: D
}


def test_the_record_covers_the_bundled_specs() -> None:
    assert len(RECORDED) >= 40
    from convcalc.lang.sources import zoo_names

    assert {Path(f).stem for f in RECORDED if f.startswith("convcalc/zoo/")} <= set(zoo_names())


@pytest.mark.parametrize("file", sorted(RECORDED))
def test_same_numbers_as_before(file: str) -> None:
    # a zoo model that moved into a family file is asked for by its zoo name, a spec file that did by MOVED
    moved = file.startswith("convcalc/zoo/") and not (ROOT / file).exists()
    if file in MOVED:
        assert not (ROOT / file).exists()
        doc = load_file(ROOT / MOVED[file][0])
        doc.variant = MOVED[file][1]
    else:
        doc = open_source(Path(file).stem if moved else str(ROOT / file))
    reports = analyze_document(doc)
    models = []
    for r in reports:
        d = report_dict(r)
        d["notes"] = [n for n in d["notes"] if ADDED_NOTE not in n]
        layers = [{k: v for k, v in x.items() if k not in ADDED} for x in d.pop("layers")]
        d.pop("blocks", None)
        d["layers_sha256"] = hashlib.sha256(json.dumps(layers, sort_keys=True).encode()).hexdigest()
        d["layer_count"] = len(layers)
        d["file"] = file
        d.pop("description")  # text, not a figure (a zoo file that moved into a family has the family's)
        models.append(d)
    want = [{k: v for k, v in m.items() if k != "description"} for m in RECORDED[file]]
    if file in FIXED:  # every layer after the first gate has the fixed full field: its record no longer holds
        want = [{**m, **FIXED[file], "layers_sha256": d["layers_sha256"]} for m, d in zip(want, models, strict=True)]
    if file in LAYERS_CHANGED:
        want = [{**m, "layers_sha256": d["layers_sha256"], "layer_count": d["layer_count"]}
                for m, d in zip(want, models, strict=True)]
    keys = sorted(want[0])
    assert [{k: m.get(k) for k in keys} for m in models] == want
