"""The bundled zoo equals torchvision's published integers (tests/data/torchvision-zoo.csv) exactly."""

from __future__ import annotations

import csv

import pytest

from convcalc.lang.sources import zoo_document, zoo_names
from convcalc.metrics.analysis import analyze_document
from tests.conftest import ROOT

REFERENCE = {r["model"]: r for r in csv.DictReader((ROOT / "tests" / "data" / "torchvision-zoo.csv").open())}


def test_zoo_has_all_sixteen_reference_models() -> None:
    assert set(REFERENCE) <= set(zoo_names())
    assert len(REFERENCE) == 16


@pytest.mark.parametrize("model", sorted(REFERENCE))
def test_params_and_macs_equal_torchvision(model: str) -> None:
    (report,) = analyze_document(zoo_document(model))
    ref = REFERENCE[model]
    assert report.input_shape == (3, int(ref["input_size"]), int(ref["input_size"]))
    assert report.params == int(ref["params"])
    assert report.macs == int(ref["macs"])
    assert round(report.macs / 1e9, 3) == float(ref["torchvision_gflops_label"])


def test_inception_v3_aux_classifier_params_count_but_not_its_macs() -> None:
    (report,) = analyze_document(zoo_document("inception_v3"))
    aux = [row for row in report.layers if row.training_only]
    assert aux, "the auxiliary classifier is a training-only side branch"
    assert report.training_only.macs == 2457600 + 2457600 + 768000
    assert report.training_only.params == 3326696


def test_googlenet_has_no_aux_classifiers() -> None:
    (report,) = analyze_document(zoo_document("googlenet"))
    assert not any(row.training_only for row in report.layers)


def test_zoo_specs_are_readable_not_expanded() -> None:
    """Named blocks keep real networks short: no zoo spec is longer than 160 lines."""
    from convcalc.zoo import VARIANTS

    for name in zoo_names():
        path = ROOT / "convcalc" / "zoo" / f"{VARIANTS.get(name, name)}.yaml"
        assert len(path.read_text().splitlines()) <= 160, name


def test_every_family_file_lists_its_variants_in_the_zoo_index() -> None:
    import yaml

    from convcalc.zoo import FAMILIES, VARIANTS

    for path in sorted((ROOT / "convcalc" / "zoo").glob("*.yaml")):
        declared = list((yaml.safe_load(path.read_text()) or {}).get("variants") or {})
        assert declared == list(FAMILIES.get(path.stem, ())), path.name
    assert all((ROOT / "convcalc" / "zoo" / f"{stem}.yaml").exists() for stem in VARIANTS.values())
    assert len(zoo_names()) == len(set(zoo_names()))


def test_a_family_file_name_points_to_its_variants() -> None:
    from convcalc.errors import UsageError
    from convcalc.lang.sources import open_source

    with pytest.raises(UsageError) as exc:
        open_source("efficientnet")
    assert "efficientnet_b0, efficientnet_b1" in exc.value.render()


ODD = list(csv.DictReader((ROOT / "tests" / "data" / "torchvision-odd-sizes.csv").open()))


@pytest.mark.parametrize("row", ODD, ids=lambda r: f"{r['model']}@{r['input_h']}")
def test_zoo_models_at_odd_input_sizes_equal_torchvision(row: dict[str, str]) -> None:
    from convcalc.lang.spec import Settings

    (report,) = analyze_document(zoo_document(row["model"]), Settings(size=(int(row["input_h"]),
                                                                            int(row["input_w"]))))
    assert (report.params, report.macs) == (int(row["params"]), int(row["macs"]))


def test_the_odd_sizes_cover_every_family() -> None:
    from convcalc.zoo import FAMILIES

    models = {r["model"] for r in ODD}
    assert len(ODD) == 22
    assert all(any(m in names for m in models) for names in FAMILIES.values())
