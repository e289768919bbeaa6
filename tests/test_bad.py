"""Hostile and malformed specs: a clear, located error on stderr, exit code 2, nothing on stdout, no traceback.

Every ``tests/bad/NN-short-name.yaml`` (or ``.cfg``, a Darknet file) is run through the CLI (``convcalc show --format json``) from the
repository root, and its stderr must equal ``NN-short-name.expected`` exactly (the file path as passed,
``tests/bad/NN-short-name.yaml``). To add a case: write the spec, run
``python -m convcalc show --format json tests/bad/NN-name.yaml 2> tests/bad/NN-name.expected``, and read
the message as a user would: does it say where, what was expected, what was found, and how to fix it?

The tests after the corpus build inputs too large to keep as files (100,000-deep nesting, a file over
the size limit) and measure that the refusals are fast and small.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convcalc import ConvcalcError, analyze_text
from convcalc.cli import app
from convcalc.graph.blocks import MAX_NESTING, MAX_TEMPLATE_DEPTH
from convcalc.graph.build import MAX_NODES
from convcalc.lang.yaml_source import MAX_ALIAS_VALUES, MAX_DEPTH, MAX_FILE_BYTES, MAX_INT_DIGITS, load_text

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "bad"
#: each case's file: a spec (``.yaml``: convcalc's, or an Ultralytics model YAML) or a Darknet ``.cfg``
FILES = {p.stem: p.name for p in [*BAD.glob("*.yaml"), *BAD.glob("*.cfg")]}
CASES = sorted(FILES)
PWNED = "convcalc-pwned"  # what the unsafe tags in 10-unsafe-tags.yaml would create if they ran


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def test_the_corpus_is_complete() -> None:
    assert len(CASES) >= 40
    assert sorted(p.stem for p in BAD.glob("*.expected")) == CASES
    for name in CASES:
        number, _, rest = name.partition("-")
        assert number.isdigit() and len(number) == 2 and rest, name


@pytest.mark.parametrize("name", CASES)
def test_bad_spec(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = run("show", "--format", "json", f"tests/bad/{FILES[name]}")
    expected = (BAD / f"{name}.expected").read_text(encoding="utf-8")
    assert (code, out) == (2, "")
    assert "Traceback" not in err
    assert err == expected
    assert not (ROOT / PWNED).exists()


def test_every_error_line_is_located() -> None:
    """`file:line:col: key.path: message`, then optional `  hint: ...` lines (and the count of the rest)."""
    for name in CASES:
        for line in (BAD / f"{name}.expected").read_text(encoding="utf-8").splitlines():
            assert line.startswith((f"tests/bad/{FILES[name]}:", "  hint: ", "... and ")), (name, line)


# ------------------------------------------------------------------ safe by construction


def test_unsafe_tags_are_never_executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_bytes((BAD / "10-unsafe-tags.yaml").read_bytes())
    code, out, err = run("show", "spec.yaml")
    assert (code, out) == (2, "")
    assert "unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:builtins.open'" in err
    assert "unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'" in err
    assert list(tmp_path.iterdir()) == [tmp_path / "spec.yaml"]


def _measure(text: str) -> tuple[str, float, int]:
    """The error, the seconds and the peak bytes allocated (tracemalloc) to refuse ``text``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ConvcalcError) as exc:
            analyze_text(text, "x.yaml")
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return str(exc.value), seconds, peak


def test_billion_laughs_is_refused_fast_and_small() -> None:
    msg, seconds, peak = _measure((BAD / "13-billion-laughs.yaml").read_text())
    assert f"aliases expand the document by more than {MAX_ALIAS_VALUES} values (the limit)" in msg
    assert seconds < 1.0 and peak < 4 * 1024 * 1024, (seconds, peak)


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,
    "{a: " * 100_000 + "1" + "}" * 100_000,
    "- " * 100_000 + "x\n",
    "x:\n" + "".join(" " * i + "a:\n" for i in range(1, 2_000)),
], ids=["flow-lists", "flow-mappings", "block-lists", "block-mappings"])
def test_deep_nesting_is_refused_without_recursion(text: str) -> None:
    msg, seconds, peak = _measure(text)
    assert f"nesting is deeper than the limit of {MAX_DEPTH}" in msg
    assert seconds < 1.0 and peak < 16 * 1024 * 1024, (seconds, peak)


def test_deep_nesting_through_the_cli(tmp_path: Path) -> None:
    spec = tmp_path / "deep.yaml"
    spec.write_text("input: {channels: 1, size: 4}\nlayers: " + "[" * 100_000 + "relu" + "]" * 100_000 + "\n")
    code, out, err = run("show", "--format", "json", str(spec))
    assert (code, out) == (2, "")
    assert err == f"{spec}:2:208: (document): nesting is deeper than the limit of {MAX_DEPTH}\n" \
                  "  hint: lists and mappings inside each other; a spec needs far fewer levels\n"


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    spec = tmp_path / "big.yaml"
    spec.write_bytes(b"# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    code, out, err = run("show", str(spec))
    assert (code, out) == (2, "")
    assert err == f"{spec}:1:1: (document): file is {spec.stat().st_size} bytes, larger than the limit of " \
                  f"{MAX_FILE_BYTES}\n"
    with pytest.raises(ConvcalcError, match=f"larger than the limit of {MAX_FILE_BYTES} bytes"):
        load_text("#" * (MAX_FILE_BYTES + 1))


def test_not_a_file(tmp_path: Path) -> None:
    assert run("show", str(tmp_path)) == (2, "", f"{tmp_path}:1:1: (document): is a directory, not a spec file\n"
                                                 "  hint: name a spec file (this directory has no *.yaml or *.yml "
                                                 "files)\n")
    missing = tmp_path / "missing.yaml"
    assert run("show", str(missing)) == (2, "", f"{missing}:1:1: (document): no such file\n")


def test_file_names_the_file_system_refuses(tmp_path: Path) -> None:
    long = "a" * 5000 + ".yaml"
    assert run("show", long) == (2, "", f"{long}:1:1: (document): cannot read the file: File name too long\n")
    assert run("show", "a" * 5000)[0] == 2


def test_lone_surrogate_in_library_text() -> None:
    with pytest.raises(ConvcalcError, match="is not valid Unicode text"):
        analyze_text("name: \ud800\n")


def test_repeat_too_large_fails_before_looping() -> None:
    start = time.perf_counter()
    with pytest.raises(ConvcalcError, match=f"repeat n: {10**12} expands to more than {MAX_NODES} layers"):
        analyze_text("input: {channels: 1, size: 4}\nlayers:\n  - repeat: {n: 1000000000000, body: [relu]}\n")
    nested = "input: {channels: 1, size: 4}\nlayers:\n  - repeat: {n: 1000, body: [repeat: {n: 1000, body: " \
             "[repeat: {n: 1000, body: [relu: {if: false}]}]}]}\n"
    with pytest.raises(ConvcalcError, match=f"more than {MAX_NODES} layers"):
        analyze_text(nested)
    assert time.perf_counter() - start < 1.0


def test_nesting_through_named_blocks_is_bounded() -> None:
    """60 nested sequences in a block that calls itself: the walk stops at MAX_NESTING, never a RecursionError."""
    body = "sequence: {body: [" * 60 + "{b: {k: \"${k + 1}\"}}" + "]}" * 60
    text = f"input: {{channels: 1, size: 4}}\nblocks:\n  b: {{params: {{k: 0}}, body: [{body}]}}\nlayers: [b]\n"
    with pytest.raises(ConvcalcError, match=f"blocks nest deeper than {MAX_NESTING} levels"):
        analyze_text(text)
    with pytest.raises(ConvcalcError, match=f"named blocks call each other deeper than {MAX_TEMPLATE_DEPTH} levels"):
        analyze_text("input: {channels: 1, size: 4}\nblocks:\n  b: {body: [relu, b]}\nlayers: [b]\n")


def test_huge_values_are_exact_and_fast() -> None:
    """10^15 channels on a 10^9 × 10^9 input: exact Python integers, no loop per pixel or channel."""
    start = time.perf_counter()
    (r,) = analyze_text("input: {channels: 1000000000000000, size: 1000000000}\nlayers:\n"
                        "  - conv: {out: 1000000000000000, kernel: 3, padding: 1, bias: false}\n"
                        "  - adaptive_avgpool: {size: 999999937}\n  - global_avgpool\n  - flatten\n"
                        "  - linear: {out: 1000000000000000}\n")
    conv, pool = r.layers[0], r.layers[1]
    assert conv.cost.macs == 10**18 * 10**15 * 10**15 * 9
    assert conv.cost.params == 10**15 * 10**15 * 9
    # Σ of PyTorch's adaptive windows on one axis is i + o − gcd(i, o)
    taps = 10**9 + 999999937 - 1
    assert pool.cost.adds == 10**15 * (taps * taps - 999999937**2)
    assert r.params == 9 * 10**30 + 10**30 + 10**15
    assert time.perf_counter() - start < 1.0


def test_integers_past_the_limit_are_refused() -> None:
    with pytest.raises(ConvcalcError, match=f"expected an integer of at most {MAX_INT_DIGITS} digits"):
        analyze_text("input: {channels: 0x" + "f" * 5000 + ", size: 4}\nlayers: [relu]\n")
    with pytest.raises(ConvcalcError, match=f"has more than {MAX_INT_DIGITS} digits"):
        analyze_text("input: {channels: 1, size: 4}\nlayers:\n  - repeat: {n: 40, body: [upsample: {scale: 10}]}\n")


# ------------------------------------------------------------------ nothing half-written


def test_compare_reports_the_good_and_lists_the_bad(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    good, bad = "specs/seed/stack-5x5.yaml", "tests/bad/18-unknown-kind.yaml"
    code, out, err = run("compare", "--format", "json", good, bad, "resnet18", "tests/bad/41-groups.yaml")
    assert code == 2
    names = [a["name"] for a in json.loads(out)["alternatives"]]  # one complete document
    assert names == ["one 5x5", "two 3x3", "resnet18"]
    expected = (BAD / "18-unknown-kind.expected").read_text() + (BAD / "41-groups.expected").read_text()
    assert err == expected + f"compare: 2 of 4 specs could not be read and are left out: {bad}, " \
                             "tests/bad/41-groups.yaml\n"


def test_compare_with_only_bad_specs_prints_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = run("compare", "--format", "json", "tests/bad/01-empty.yaml", "tests/bad/41-groups.yaml")
    assert (code, out) == (2, "")
    assert err.endswith("compare: 2 of 2 specs could not be read and are left out: tests/bad/01-empty.yaml, "
                        "tests/bad/41-groups.yaml\n")


# ------------------------------------------------------------------ the limits are documented


def test_every_limit_is_documented() -> None:
    doc = (ROOT / "docs" / "spec-format.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Limits and safety"):]
    for value in (MAX_FILE_BYTES, MAX_DEPTH, MAX_ALIAS_VALUES, MAX_NODES, MAX_TEMPLATE_DEPTH, MAX_NESTING):
        assert f"{value:,}" in section, value
    from convcalc.errors import Collector
    from convcalc.lang.expr import MAX_EXPR_DEPTH
    from convcalc.lang.yaml_source import MAX_NODES as MAX_VALUES

    assert f"{MAX_VALUES:,}" in section and f"{Collector().limit}" in section and f"{MAX_EXPR_DEPTH}" in section
    assert f"10^{MAX_INT_DIGITS}" in section
    assert "It reads no other file but what its `include:` names, inside its own\ndirectory tree" in section
    from convcalc.lang.includes import MAX_INCLUDES

    assert f"| included files | {MAX_INCLUDES} " in section
    assert "CONVCALC_FUZZ_EXAMPLES=" in section
