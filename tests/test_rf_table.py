"""specs/rf/ reproduces every row of the published receptive-field table at 224 (TF-slim networks)."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from convcalc.cli import app
from tests.conftest import ROOT

ROWS = list(csv.DictReader((ROOT / "tests" / "data" / "receptive-field-table-224.csv").open()))
_cache: dict[str, dict[str, dict[str, list[int]]]] = {}


def endpoints(network: str) -> dict[str, dict[str, list[int]]]:
    if network not in _cache:
        result = CliRunner().invoke(app, ["rf", str(ROOT / "specs" / "rf" / f"{network}.yaml"), "--format", "json"])
        assert result.exit_code == 0, result.stderr
        [doc] = json.loads(result.stdout)["models"]
        _cache[network] = {x["name"]: x for x in doc["layers"] + doc["blocks"]}
    return _cache[network]


def test_the_table_has_56_rows_over_five_networks() -> None:
    assert len(ROWS) == 56
    assert {r["network"] for r in ROWS} == {"alexnet_v2", "vgg_16", "inception_v3", "mobilenet_v1", "resnet_v1_50"}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["endpoint"])
def test_endpoint(row: dict[str, str]) -> None:
    point = endpoints(row["network"])[row["endpoint"]]
    rf, stride, pad = int(row["rf"]), int(row["effective_stride"]), int(row["effective_padding"])
    assert point["rf"] == [rf, rf]
    assert point["stride"] == [stride, stride]
    assert point["padding"] == [pad, pad]
