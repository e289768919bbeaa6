"""specs/rf/ reproduces every row of the published receptive-field table at 224 (TF-slim networks)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from typing import Any

import pytest
from typer.testing import CliRunner

from convcalc.cli import app
from convcalc.lang.yaml_source import load_file
from tests.conftest import ROOT

RF = ROOT / "specs" / "rf"
ROWS = list(csv.DictReader((ROOT / "tests" / "data" / "receptive-field-table-224.csv").open()))

#: each network of the table: its spec file in specs/rf/ and the parameters that pick it (`--set`)
NETWORKS: dict[str, tuple[str, dict[str, Any]]] = {
    "alexnet_v2": ("alexnet_v2.yaml", {}),
    "inception_v3": ("inception_v3.yaml", {}),
    "mobilenet_v1": ("mobilenet_v1.yaml", {"depth_multiplier": 1.0}),
    "mobilenet_v1_075": ("mobilenet_v1.yaml", {"depth_multiplier": 0.75}),
    "vgg_a": ("vgg.yaml", {"config": "A"}),
    "vgg_16": ("vgg.yaml", {"config": "D"}),
    **{f"resnet_v{v}_{d}": (f"resnet_v{v}.yaml", {"depth": d}) for v in (1, 2) for d in (50, 101, 152, 200)},
}
_cache: dict[str, dict[str, dict[str, Any]]] = {}


def endpoints(network: str) -> dict[str, dict[str, Any]]:
    """Every layer and named block of the network, by name, from `convcalc rf FILE --set NAME=VALUE ...`."""
    if network not in _cache:
        file, settings = NETWORKS[network]
        sets = [a for k, v in settings.items() for a in ("--set", f"{k}={v}")]
        result = CliRunner().invoke(app, ["rf", str(RF / file), "--format", "json", *sets])
        assert result.exit_code == 0, result.stderr
        [doc] = json.loads(result.stdout)["models"]
        _cache[network] = {x["name"]: x for x in doc["layers"] + doc["blocks"]}
    return _cache[network]


def test_the_table_has_111_rows_over_14_networks() -> None:
    assert len(ROWS) == 111
    assert Counter(r["network"] for r in ROWS) == {
        "alexnet_v2": 7, "vgg_a": 13, "vgg_16": 13, "inception_v3": 18, "mobilenet_v1": 14, "mobilenet_v1_075": 14,
        **{f"resnet_v{v}_{d}": 4 for v in (1, 2) for d in (50, 101, 152, 200)}}
    assert set(NETWORKS) == {r["network"] for r in ROWS}


def test_the_family_variants_are_the_table_networks() -> None:
    """Each `variants:` entry of a family file in specs/rf/ is the table network of that name, with the same
    settings as NETWORKS (so `convcalc rf resnet_v1.yaml --set depth=101` is the variant resnet_v1_101)."""
    variants = {name: (path.name, values) for path in sorted(RF.glob("*.yaml"))
                for name, values in (load_file(path).data.get("variants") or {}).items()}
    assert variants == {n: (f, s) for n, (f, s) in NETWORKS.items() if s}
    assert {f for f, _ in NETWORKS.values()} == {p.name for p in RF.glob("*.yaml")}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["endpoint"] if r["endpoint"].startswith(r["network"] + "/")
                         else f"{r['network']}:{r['endpoint']}")
def test_endpoint(row: dict[str, str]) -> None:
    point = endpoints(row["network"])[row["endpoint"]]
    rf, stride, pad = int(row["rf"]), int(row["effective_stride"]), int(row["effective_padding"])
    assert point["rf"] == [rf, rf]
    assert point["stride"] == [stride, stride]
    assert point["padding"] == [pad, pad]


@pytest.mark.parametrize("network,params,macs", [
    ("mobilenet_v1", 3_185_088, 567_716_352),
    ("mobilenet_v1_075", 1_800_144, 324_632_448),
])
def test_the_depth_multiplier_is_tf_slims(network: str, params: int, macs: int) -> None:
    """The end-points' receptive fields do not depend on the width, so the width is checked here: the conv
    and depthwise layers up to Conv2d_13_pointwise against the per-layer table in the docstring of TF-slim's
    research/slim/nets/mobilenet_v1.py (1.0 at 224: 3,185,088 params, 567,716,352 MACs; 0.75 at 128:
    1,800,144 params, 106,002,432 MACs, which at 224, with every feature map (224/128)² as large, is
    106,002,432 · 49 / 16 = 324,632,448)."""
    layers = [x for x in endpoints(network).values() if x.get("type") in ("conv", "dwconv")
              and not x["name"].startswith("Logits/")]
    assert len(layers) == 27
    assert sum(x["params"] for x in layers) == params
    assert sum(x["macs"] for x in layers) == macs
