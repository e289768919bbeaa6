"""Fuzzing: whatever the input, convcalc answers or raises its own ConvcalcError, never anything else.

Three sources of hostile input, all seeded (``derandomize=True``) so CI runs are reproducible:

* random YAML documents: random nested values (spec keys and random keys, huge and negative
  integers, booleans, floats, ``$``-expressions, empty and long strings), and raw token soup
  (anchors, aliases, tags, brackets, tabs) that is usually not even YAML;
* random mutations of every bundled spec (``specs/seed``, ``specs/rf``, ``convcalc/zoo``): a random
  value replaced by a random one, a key deleted or misspelled, a list item duplicated or dropped, a
  value wrapped in a list, or a text-level edit (a line duplicated, which makes duplicate keys, or
  deleted, or a random character inserted);
* a sample of both through the CLI (``show --format json``): exit code 0 with one complete JSON
  document on stdout, or exit code 2 with nothing on stdout, and never a traceback.

CI runs a small number of examples per test (about 10-20 s in all). To fuzz far longer locally::

    CONVCALC_FUZZ_EXAMPLES=100000 python -m pytest tests/test_fuzz.py -q
    CONVCALC_FUZZ_RANDOM=1 CONVCALC_FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz.py -q  # new seed

(``CONVCALC_FUZZ_EXAMPLES`` sets ``max_examples`` of every test here; the CLI test runs a fifth of it.
``CONVCALC_FUZZ_RANDOM=1`` draws a fresh seed each run instead of the fixed, reproducible one.)
A failure prints the minimal input that triggered it; add it to ``tests/bad/`` with its message.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from convcalc import ConvcalcError, analyze_text
from convcalc.cli import app

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted([*(ROOT / "specs").rglob("*.yaml"), *(ROOT / "convcalc" / "zoo").glob("*.yaml")])
EXAMPLES = int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "150"))
RANDOM = bool(os.environ.get("CONVCALC_FUZZ_RANDOM"))  # a fresh random seed per run instead of the fixed one

FUZZ = settings(
    derandomize=not RANDOM, deadline=None, max_examples=EXAMPLES, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
CLI_FUZZ = settings(FUZZ, max_examples=max(10, EXAMPLES // 5))
LOCATED = re.compile(r"^.+:\d+:\d+: ")

KEYS = ["convcalc", "name", "description", "input", "defaults", "blocks", "layers", "alternatives", "budget",
        "channels", "height", "width", "size", "batch", "bias", "padding", "params", "body", "out", "kernel",
        "stride", "dilation", "groups", "n", "paths", "merge", "split", "when", "if", "shortcut", "projection",
        "scale", "mode", "reduction", "width", "output_padding", "multiplier", "version", "training_only",
        "label", "conv", "dwconv", "pwconv", "separable", "deconv", "deform", "maxpool", "avgpool", "bn", "relu",
        "linear", "flatten", "se", "upsample", "adaptive_avgpool", "global_avgpool", "channel_shuffle",
        "dropout", "sequence", "residual", "branches", "dense", "repeat", "side", "b", "x", "$act"]
WORDS = ["relu", "conv", "same", "valid", "concat", "add", "nearest", "bilinear", "$x", "$i", "$width",
         "${i + 1}", "${1 // 0}", "${in_channels * 2}", "${__import__('os')}", "${c.real}", "${-" + "-" * 60 + "1}",
         "${make_divisible(8)}", "${" + "9" * 40 + "}", "a/b", "", " ", "\t", "é", "x" * 300]
INTS = st.one_of(st.integers(-3, 70), st.sampled_from([0, 1, 2, 3, 10**9, 10**15, 10**29, 10**30, 10**40, -10**40]),
                 st.integers())
SCALARS = st.one_of(
    st.none(), st.booleans(), INTS, st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS), st.text(max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner, max_size=5)),
    max_leaves=40,
)
#: Values that are almost right somewhere: the shapes and types the spec format uses.
NEAR_MISS = [0, 1, 2, 5, -1, 3.5, True, None, "", "relu", "same", "$x", "${i}", "${in_channels // 0}", [], {}, [[]],
             ["relu"], [["relu"], []], [1, 2], [1, 2, 3], [[1, 1], [1]], {"a": 1}, {"n": 2}, {"body": "relu"},
             {"conv": {"out": 1}}, {"paths": 5}, "x" * 200, 10**29, 10**30]
MUTANTS = st.one_of(st.sampled_from(NEAR_MISS), VALUES)
TOKENS = ["input:", "layers:", "- ", "-", ":", " ", "  ", "\n", "\t", "[", "]", "{", "}", ",", "&a ", "*a", "&b ",
          "*b", "!!python/object/apply:os.system ", "!!set ", "!!binary ", "!foo ", "? ", "<<: ", "|", ">", "'", '"',
          "#", "---", "...", "%YAML 1.1", "relu", "conv", "out: 8", "kernel: 3", "channels: 3", "size: 8", "$x",
          "${", "}", "0x1F", "1e400", ".nan", "yes", "~", "\\", "\x85", "\ufeff", "\u2028"]


def check_library(text: str) -> None:
    """The library answers or raises a ConvcalcError whose every message line is located."""
    try:
        analyze_text(text, "fuzz.yaml")
    except ConvcalcError as exc:
        rendered = exc.render()
        first = rendered.splitlines()[0]
        assert LOCATED.match(first), first
        for d in exc.diagnostics:
            assert d.location.line >= 1 and d.location.col >= 1, d


def check_cli(text: str, tmp: Path) -> None:
    spec = tmp / "fuzz.yaml"
    spec.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = CliRunner().invoke(app, ["show", "--format", "json", str(spec)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr
    if result.exit_code == 0:
        json.loads(result.stdout)  # one complete document
    else:
        assert result.exit_code == 2, (result.exit_code, result.stderr)
        assert result.stdout == ""
        assert result.stderr.strip()


# ------------------------------------------------------------------ random documents


@FUZZ
@given(VALUES)
def test_random_documents(value: Any) -> None:
    check_library(yaml.safe_dump(value, allow_unicode=True, sort_keys=False))


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6))
def test_random_top_level_mappings(value: dict[str, Any]) -> None:
    base = {"input": {"channels": 3, "size": 8}, "layers": ["relu"]}
    check_library(yaml.safe_dump({**base, **value}, allow_unicode=True, sort_keys=False))


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=3)), max_size=60))
def test_token_soup(tokens: list[str]) -> None:
    check_library("".join(tokens))


# ------------------------------------------------------------------ mutations of the bundled specs


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, path + (i,))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path[:-1]:
        doc = doc[p]
    return doc


@pytest.fixture(scope="module")
def bundled() -> list[tuple[str, str, Any]]:
    out = []
    for p in BUNDLED:
        text = p.read_text(encoding="utf-8")
        out.append((p.name, text, yaml.safe_load(text)))
    return out


def mutate(data: st.DataObject, text: str, doc: Any) -> str:
    how = data.draw(st.sampled_from(["replace", "replace", "replace", "delete", "typo", "duplicate", "wrap",
                                     "line-dup", "line-del", "char"]))
    if how.startswith("line") or how == "char":
        lines = text.splitlines(keepends=True)
        i = data.draw(st.integers(0, max(0, len(lines) - 1)))
        if how == "line-dup" and lines:
            lines.insert(i, lines[i])
        elif how == "line-del" and lines:
            del lines[i]
        else:
            out = "".join(lines)
            j = data.draw(st.integers(0, len(out)))
            return out[:j] + data.draw(st.sampled_from(TOKENS + ["0", "9", "-", "a"])) + out[j:]
        return "".join(lines)
    paths = [p for p in _paths(doc) if p] or [()]
    path = data.draw(st.sampled_from(paths))
    if not path:
        return yaml.safe_dump(data.draw(VALUES))
    parent, key = _parent(doc, path), path[-1]
    if how == "replace":
        parent[key] = data.draw(MUTANTS)
    elif how == "delete":
        del parent[key]
    elif how == "typo" and isinstance(key, str) and key:
        value = parent.pop(key)
        parent[key[:-1] + data.draw(st.sampled_from("aesx_"))] = value
    elif how == "duplicate" and isinstance(parent, list):
        parent.insert(key, parent[key])
    else:
        parent[key] = [parent[key]]
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@FUZZ
@given(st.data())
def test_mutated_bundled_specs(bundled: list[tuple[str, str, Any]], data: st.DataObject) -> None:
    name, text, doc = data.draw(st.sampled_from(bundled), label="spec")
    mutated = mutate(data, text, yaml.safe_load(text))  # a fresh copy to edit
    check_library(mutated)


@FUZZ
@given(st.data())
def test_twice_mutated_bundled_specs(bundled: list[tuple[str, str, Any]], data: st.DataObject) -> None:
    name, text, _ = data.draw(st.sampled_from(bundled), label="spec")
    once = mutate(data, text, yaml.safe_load(text))
    try:
        doc = yaml.safe_load(once)
    except yaml.YAMLError:
        doc = None
    check_library(mutate(data, once, doc) if doc is not None else once)


# ------------------------------------------------------------------ a sample through the CLI


@CLI_FUZZ
@given(st.data())
def test_cli_never_prints_a_traceback(bundled: list[tuple[str, str, Any]], tmp_path_factory: pytest.TempPathFactory,
                                      data: st.DataObject) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    if data.draw(st.booleans(), label="from a bundled spec"):
        name, text, _ = data.draw(st.sampled_from(bundled), label="spec")
        check_cli(mutate(data, text, yaml.safe_load(text)), tmp)
    else:
        check_cli(yaml.safe_dump(data.draw(VALUES), allow_unicode=True), tmp)


def test_every_bundled_spec_is_fuzzed(bundled: list[tuple[str, str, Any]]) -> None:
    assert len(bundled) >= 30 and all(doc for _, _, doc in bundled)
