"""include: block libraries from other files: relative, inside the spec's tree, cycles reported, errors
located in the file where they are (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from convcalc.errors import SpecError
from convcalc.metrics.analysis import analyze_file

LIB = """
blocks:
  unit:
    params: {c: 8}
    body: [conv: {out: $c, kernel: 3, padding: 1, bias: false}, relu]
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def fail(path: Path) -> str:
    with pytest.raises(SpecError) as exc:
        analyze_file(path)
    return exc.value.render()


def test_named_blocks_from_an_included_file_and_its_own_includes(tmp_path: Path) -> None:
    write(tmp_path, {"lib/units.yaml": "include: [head.yaml]\n" + LIB,
                     "lib/head.yaml": "blocks:\n  head: {body: [global_avgpool, linear: {out: 10}]}\n",
                     "net.yaml": "include: lib/units.yaml\ninput: {channels: 3, size: 8}\n"
                                 "layers: [unit: {c: 4}, unit, head]\n"})
    r = analyze_file(tmp_path / "net.yaml")[0]
    # 3→4 3×3: 108; 4→8: 288; linear 8→10 with bias: 90
    assert r.params == 108 + 288 + 90
    assert [x.name for x in r.layers][0] == "unit1/conv1"


def test_an_error_inside_an_included_block_is_located_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {"lib.yaml": LIB.replace("kernel: 3", "kernal: 3"),
                     "net.yaml": "include: [lib.yaml]\ninput: {channels: 3, size: 8}\nlayers: [unit]\n"})
    monkeypatch.chdir(tmp_path)
    msg = fail(Path("net.yaml"))
    assert msg.startswith("lib.yaml:5:") and "unknown argument 'kernal' for conv" in msg
    assert "via unit at net.yaml:3:" in msg


def test_paths_outside_the_tree_absolute_paths_links_out_and_cycles(tmp_path: Path) -> None:
    (tmp_path / "outside.yaml").write_text(LIB)
    spec = tmp_path / "s"
    write(spec, {"a.yaml": "include: [b.yaml]\n", "b.yaml": "include: [a.yaml]\n"})
    (spec / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    write(spec, {"net.yaml": f"include: [../outside.yaml, {tmp_path / 'outside.yaml'}, link.yaml, a.yaml, "
                             "missing.yaml]\ninput: {channels: 3, size: 8}\nlayers: [relu]\n"})
    msg = fail(spec / "net.yaml")
    assert msg.count("is outside the spec's directory") == 2  # '..' and the link
    assert "found the absolute path" in msg
    assert "include cycle: a.yaml → b.yaml → a.yaml" in msg
    assert "missing.yaml" in msg and "no such file" in msg


def test_an_included_file_holds_only_blocks_and_a_name_defined_twice_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"lib.yaml": "layers: [relu]\n" + LIB,
                     "net.yaml": "include: [lib.yaml]\ninput: {channels: 3, size: 8}\n" + LIB + "layers: [unit]\n"})
    msg = fail(tmp_path / "net.yaml")
    assert "unknown key 'layers' in an included file" in msg
    assert "named block 'unit' is also defined in the included" in msg
