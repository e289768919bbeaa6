"""Darknet ``.cfg`` files (``convcalc.lang.darknet``): the published figures, the generated spec and its
locations, every error located in the .cfg, and (torch) a neutral PyTorch reading of the same text.

The two configs in ``tests/data/darknet/`` are written from the published layer structures. Darknet prints
per conv 2·(c/groups)·filters·size²·out_h·out_w and per max pool size²·c·out_h·out_w, summed as BFLOPs:
yolov4-tiny 6.910, yolov3-tiny 5.571 (416×416).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from convcalc import ConvcalcError, Report, SpecError
from convcalc.lang.darknet import darknet_bytes, darknet_document, looks_like_darknet
from convcalc.lang.spec import Settings
from convcalc.lang.yaml_source import MAX_FILE_BYTES, Document
from convcalc.metrics.analysis import analyze_document
from tests.conftest import import_torch

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "darknet"
BAD = ROOT / "tests" / "bad"
CASES = sorted(p.stem for p in BAD.glob("8?-darknet-*.cfg"))
EXAMPLES = int(os.environ.get("CONVCALC_DARKNET_EXAMPLES", "150"))
RANDOM = bool(os.environ.get("CONVCALC_FUZZ_RANDOM"))
SEEDED = settings(max_examples=EXAMPLES, derandomize=not RANDOM, deadline=None, database=None, print_blob=False,
                  phases=(Phase.explicit, Phase.generate), suppress_health_check=[HealthCheck.too_slow])

#: name → (params, MACs, Darknet's printed BFLOPs, output shapes, output names) at 416×416
FIGURES = {
    "yolov4-tiny": (6_056_606, 3_453_938_176, 6.910, [(255, 13, 13), (255, 26, 26)], ["conv_29", "conv_36"]),
    "yolov3-tiny": (8_852_366, 2_782_480_896, 5.571, [(255, 13, 13), (255, 26, 26)], ["conv_15", "conv_22"]),
}


def load(name: str) -> Document:
    return darknet_bytes((DATA / f"{name}.cfg").read_bytes(), f"tests/data/darknet/{name}.cfg")


def analyse(doc: Document, size: int | None = None) -> Report:
    (r,) = analyze_document(doc, Settings(size=(size, size)) if size else None)
    return r


def stderr_of(path: Path, file: str) -> str:
    """What the CLI prints for a .cfg: every error of the file, or of the spec it gives."""
    try:
        analyse(darknet_bytes(path.read_bytes(), file))
    except ConvcalcError as exc:
        return exc.render() + "\n"
    return ""


# ------------------------------------------------------------------ figures


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_published_figures(name: str) -> None:
    params, macs, bflops, shapes, outputs = FIGURES[name]
    r = analyse(load(name))
    assert (r.params, r.macs) == (params, macs)
    assert sum(row.cost.macs for row in r.layers if row.type == "conv") == macs  # every MAC is a conv's
    assert [tuple(o.shape) for o in r.outputs] == shapes and [o.name for o in r.outputs] == outputs
    assert r.warnings == ()
    pools = sum(4 * row.output_shape.c * row.output_shape.h * row.output_shape.w  # all its pools are 2×2
                for row in r.layers if row.type == "maxpool")
    assert round((2 * macs + pools) / 1e9, 3) == bflops


@pytest.mark.parametrize("name", [*sorted(FIGURES), "classifier"])
def test_the_spec_written_out_gives_the_same_numbers(name: str) -> None:
    """What ``convcalc import`` writes (the generated data as YAML) reads back to the same analysis."""
    import yaml

    from convcalc.lang.yaml_source import load_text

    doc = load(name)
    a, b = analyse(doc), analyse(load_text(yaml.safe_dump(doc.data, sort_keys=False), f"{name}.yaml"))
    assert (a.total, a.outputs, a.layers) == (b.total, b.outputs, b.layers)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_size_overrides_width_and_height(name: str) -> None:
    params, macs, _, shapes, _ = FIGURES[name]
    r = analyse(load(name), 608)
    assert r.params == params
    assert r.macs * 13 * 13 == macs * 19 * 19  # every map is 19/13 as tall and as wide
    assert [tuple(o.shape) for o in r.outputs] == [(c, h * 19 // 13, w * 19 // 13) for c, h, w in shapes]


def test_the_generated_spec() -> None:
    doc = load("yolov3-tiny")
    assert doc.source_format == "darknet"
    assert {k: doc.data[k] for k in ("convcalc", "name", "input", "outputs")} == {
        "convcalc": 2, "name": "yolov3-tiny", "input": {"channels": 3, "height": 416, "width": 416},
        "outputs": ["conv_15", "conv_22"]}
    layers = doc.data["layers"]
    assert [next(iter(item.values()))["name"] for item in layers] == [
        "conv_0", "maxpool_1", "conv_2", "maxpool_3", "conv_4", "maxpool_5", "conv_6", "maxpool_7", "conv_8",
        "maxpool_9", "conv_10", "maxpool_11", "conv_12", "conv_13", "conv_14", "conv_15", "route_17", "conv_18",
        "upsample_19", "route_20", "conv_21", "conv_22"]  # the [yolo] sections 16 and 23 are outputs
    assert layers[0] == {"sequence": {"name": "conv_0", "body": [
        {"conv": {"out": 16, "kernel": 3, "stride": 1, "padding": 1, "bias": False}}, {"bn": {}},
        {"leaky_relu": {"slope": 0.1}}]}}
    assert layers[11] == {"maxpool": {"name": "maxpool_11", "kernel": 2, "stride": 1, "padding": [[0, 1], [0, 1]]}}
    assert layers[15] == {"conv": {"name": "conv_15", "out": 255, "kernel": 1, "stride": 1, "bias": True}}
    assert layers[16] == {"identity": {"name": "route_17", "from": "conv_13"}}
    assert layers[18] == {"upsample": {"name": "upsample_19", "scale": 2}}
    assert layers[19] == {"concat": {"name": "route_20", "from": ["upsample_19", "conv_8"]}}
    v4 = load("yolov4-tiny").data["layers"]
    assert v4[3] == {"slice": {"name": "route_3", "from": "conv_2", "start": 32, "stop": 64}}


@pytest.mark.parametrize("name", [*sorted(FIGURES), "classifier"])
def test_the_generated_specs_validate_against_the_schema(name: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from convcalc.outputs.schema import spec_schema

    jsonschema.validate(load(name).data, spec_schema())
    jsonschema.validate(darknet_document(FLAT, "flat.cfg").data, spec_schema())


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        out += [p for k, v in value.items() for p in _paths(v, path + (k,))]
    elif isinstance(value, list):
        out += [p for k, v in enumerate(value) for p in _paths(v, path + (k,))]
    return out


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_value_is_located_in_the_cfg(name: str) -> None:
    doc = load(name)
    lines = (DATA / f"{name}.cfg").read_text().splitlines()
    assert set(_paths(doc.data)) <= set(doc.locations)
    for path, (line, col) in doc.locations.items():
        assert lines[line - 1][col - 1:col].strip(), (path, line, col)
    starts = {"out": "filters=", "kernel": "size=", "padding": "pad=", "from": "layers", "scale": "stride="}
    for path, (line, col) in doc.locations.items():
        if not path:
            continue
        value: Any = doc.data
        for part in path:
            value = value[part]
        key = path[-2] if isinstance(path[-1], int) else path[-1]
        if key in starts and "conv" in path or key in ("from", "scale"):
            assert lines[line - 1].startswith(starts[key]), (path, lines[line - 1])
        if key == "bias" and value is False:
            assert lines[line - 1] == "batch_normalize=1", path
        if key == "out":
            assert lines[line - 1][col - 1:] == str(value)
        if len(path) == 2 and path[0] == "layers":
            assert lines[line - 1][col - 1:].startswith("["), path
    assert doc.locations[("input", "width")] == (lines.index("width=416") + 1, 7)
    assert all(lines[doc.locations[("outputs", k)][0] - 1] == "[yolo]" for k in range(2))


def test_looks_like_darknet() -> None:
    assert looks_like_darknet((DATA / "yolov4-tiny.cfg").read_text())
    assert looks_like_darknet("\ufeff  # a comment\n; another\n\n [ network ] \nwidth=1")
    assert looks_like_darknet("[net] # the input\n")
    for text in ("", "# only\n", "[convolutional]\n[net]\n", "input: {channels: 3, size: 8}\nlayers: [relu]\n",
                 "[net, conv]\n", (ROOT / "specs" / "seed" / "stack-5x5.yaml").read_text()):
        assert not looks_like_darknet(text), text


def test_every_section_kind_converts() -> None:
    text = (DATA / "classifier.cfg").read_text()
    r = analyse(darknet_document(text, "classifier.cfg"))
    assert r.warnings == () and [tuple(o.shape) for o in r.outputs] == [(10, 1, 1)]
    kinds = {row.type for row in r.layers}
    assert {"conv", "bn", "maxpool", "upsample", "scale", "split", "concat", "add", "identity", "dropout",
            "global_avgpool", "linear", "softmax", "sigmoid", "silu", "mish", "relu", "relu6",
            "leaky_relu", "elu", "tanh", "gelu"} <= kinds, kinds


#: [connected] and [softmax] on a map flatten it first (Darknet reads the layer's flat buffer)
FLAT = "[net]\nwidth=6\nheight=5\nchannels=2\n[convolutional]\nfilters=3\nsize=3\nactivation=relu\n" \
       "[connected]\noutput=4\n[yolo]\n[route]\nlayers=-3\n[softmax]\n[yolo]\n[route]\nlayers=-6\n" \
       "[softmax]\n"


def test_connected_and_softmax_flatten_a_map() -> None:
    doc = darknet_document(FLAT, "flat.cfg")
    assert [list(item) for item in doc.data["layers"]] == [["sequence"], ["sequence"], ["identity"], ["sequence"],
                                                           ["identity"], ["sequence"]]
    assert doc.data["layers"][1]["sequence"]["body"] == [{"flatten": {}}, {"linear": {"out": 4, "bias": True}},
                                                         {"sigmoid": {}}]
    r = analyse(doc)
    assert [tuple(o.shape) for o in r.outputs] == [(4, 1, 1), (36, 1, 1), (36, 1, 1)] and r.warnings == ()
    assert (r.params, r.macs) == (2 * 3 * 9 + 3 + 36 * 4 + 4, 2 * 3 * 9 * 12 + 36 * 4)


# ------------------------------------------------------------------ errors


def test_the_error_corpus_is_complete() -> None:
    assert len(CASES) == 10
    for name in CASES:
        assert (BAD / f"{name}.expected").is_file(), name


@pytest.mark.parametrize("name", CASES)
def test_bad_cfg(name: str) -> None:
    err = stderr_of(BAD / f"{name}.cfg", f"tests/bad/{name}.cfg")
    assert err == (BAD / f"{name}.expected").read_text(encoding="utf-8")
    for line in err.splitlines():
        assert line.startswith((f"tests/bad/{name}.cfg:", "  hint: ")), line


def test_limits_and_hostile_text() -> None:
    with pytest.raises(SpecError, match=f"file is larger than the limit of {MAX_FILE_BYTES} bytes"):
        darknet_document("#" * (MAX_FILE_BYTES + 1), "big.cfg")
    with pytest.raises(SpecError, match=f"file is larger than the limit of {MAX_FILE_BYTES} bytes"):
        darknet_bytes(b"#" * (MAX_FILE_BYTES + 1), "big.cfg")
    cases = {"": "the file is empty", "# only a comment\n;\n": "the file is empty", "[net]\nwidth=1\n\x00":
             "is a binary file", "[net]\nwidth=\ud800\n": r"2:7: \(document\): is not valid Unicode text",
             "[net]\nwidth=8\nheight=8\nchannels=1\n": r"no layers after \[net\]",
             "[net]\nheight=8\nchannels=1\n[avgpool]\n": r"net.width: \[net\] needs width=",
             "[net]\nwidth=1000000000000000000000000000000\nheight=8\nchannels=1\n[avgpool]\n":
             "expected an integer of at most 30 digits"}
    for text, message in cases.items():
        with pytest.raises(SpecError, match=message):
            darknet_document(text, "x.cfg")


def test_many_errors_are_counted() -> None:
    text = "[net]\nwidth=8\nheight=8\nchannels=1\n" + "[convolutional]\nfilters=x\n" * 20_000
    with pytest.raises(SpecError) as exc:
        darknet_document(text, "x.cfg")
    assert len(exc.value.diagnostics) == 50 and exc.value.total == 20_000
    assert exc.value.render().endswith("... and 19950 more error(s)")


def test_a_long_valid_file_converts() -> None:
    text = "[net]\nwidth=8\nheight=8\nchannels=1\n" + "[maxpool]\nsize=1\nstride=1\n" * 50_000
    doc = darknet_document(text, "x.cfg")
    assert len(doc.data["layers"]) == 50_000


_MUTATIONS = st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(
    ["delete", "duplicate", "value", "key", "header", "junk"]), st.sampled_from(
    ["-1", "0", "3", "-7", "1000", "x", "", "1.5", "leaky", "mish", "-1,-2", "[", "=", "99,0", "\u00e9"])),
    min_size=1, max_size=6)


@SEEDED
@given(_MUTATIONS)
def test_mutated_cfgs_fail_with_located_errors_only(mutations: list[tuple[int, str, str]]) -> None:
    lines = (DATA / "yolov4-tiny.cfg").read_text().replace("width=416", "width=32") \
        .replace("height=416", "height=32").splitlines()
    for where, how, text in mutations:
        k = where % len(lines)
        key = lines[k].partition("=")[0]
        lines[k:k + 1] = {"delete": [], "duplicate": [lines[k]] * 2, "value": [f"{key}={text}"],
                          "key": [f"{text}{key}={lines[k].partition('=')[2]}"], "header": [f"[{text}]"],
                          "junk": [text]}[how]
    try:
        analyse(darknet_document("\n".join(lines), "m.cfg"))
    except ConvcalcError as exc:
        assert all(d.location.line >= 1 for d in exc.diagnostics)


# ------------------------------------------------------------------ the neutral PyTorch reading


def _neutral(text: str) -> tuple[int, int, list[tuple[int, ...]]]:
    """Params, MACs (FlopCounterMode / 2) and output shapes of the neutral module for a .cfg text."""
    torch = import_torch()
    from torch.utils.flop_counter import FlopCounterMode

    from tests.neutral.darknet_torch import DarknetNet

    net = DarknetNet(text).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        outs = net(torch.randn(1, *net.input_shape))
    flops = fc.get_total_flops()
    assert flops % 2 == 0
    return sum(p.numel() for p in net.parameters()), flops // 2, [tuple(o.shape[1:]) for o in outs]


def _agree(text: str, shapes: list[tuple[int, int, int]] | None = None) -> Report:
    r = analyse(darknet_document(text, "random.cfg"))
    params, macs, outs = _neutral(text)
    assert (r.params, r.macs) == (params, macs), f"convcalc {r.params, r.macs} vs neutral {params, macs}\n{text}"
    assert [tuple(o.shape) for o in r.outputs] == outs, text
    if shapes is not None:
        assert outs == shapes, text
    return r


@pytest.mark.torch
@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("name", [*sorted(FIGURES), "classifier", "flat"])
def test_neutral_reading_of_the_configs(name: str) -> None:
    r = _agree(FLAT if name == "flat" else (DATA / f"{name}.cfg").read_text())
    if name in FIGURES:
        assert (r.params, r.macs) == FIGURES[name][:2]


@st.composite
def cfgs(draw: st.DrawFn) -> tuple[str, list[tuple[int, int, int]]]:
    """A random small .cfg of conv, maxpool, route (with groups), shortcut, upsample and yolo sections, with its
    output shapes by Darknet's formulas. Every layer feeds an output (a route reads the layer above unless
    that is a [yolo]; with heads the file ends with one), as in Darknet's own files."""
    c0, h0, w0 = draw(st.integers(1, 4)), draw(st.integers(4, 20)), draw(st.integers(4, 20))
    lines = [f"[net]\nwidth={w0}\nheight={h0}\nchannels={c0}\nbatch=1"]
    shapes: list[tuple[int, int, int]] = []
    heads: list[tuple[int, int, int]] = []
    kinds: list[str] = []
    acts = st.sampled_from(["leaky", "linear", "logistic", "mish", "swish", "relu"])
    for i in range(draw(st.integers(1, 10))):
        c, h, w = shapes[-1] if shapes else (c0, h0, w0)
        options = ["conv", "conv", "maxpool"] + (["route", "shortcut"] if shapes else []) + \
            (["yolo"] if kinds and kinds[-1] != "yolo" else []) + (["upsample"] if h * w <= 144 else [])
        kind = draw(st.sampled_from(options))
        same = [j for j in range(i) if shapes[j][1:] == (h, w) and shapes[j][0] >= c]
        if kind == "shortcut" and not same:
            kind = "conv"
        if kind == "conv":
            f, size = draw(st.sampled_from([1, 2, 3, 4, 6, 8])), draw(st.integers(1, 3))
            sy, sx = draw(st.integers(1, 2)), draw(st.integers(1, 2))
            pad = draw(st.booleans()) or h + 4 < size or w + 4 < size
            p = size // 2 if pad else draw(st.integers(0, 2))
            pad = pad or h + 2 * p < size or w + 2 * p < size
            p = size // 2 if pad else p
            dil = 2 if size == 3 and pad and draw(st.booleans()) else 1
            g = draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0 and f % g == 0]))
            bn = draw(st.booleans())
            lines.append("\n".join(filter(None, [
                "[convolutional]", "batch_normalize=1" if bn else "", f"filters={f}", f"size={size}",
                f"stride={sy}" if sx == sy else f"stride_x={sx}\nstride_y={sy}", "pad=1" if pad else f"padding={p}",
                f"dilation={dil}" if dil > 1 else "", f"groups={g}" if g > 1 else "", f"activation={draw(acts)}"])))
            shapes.append((f, (h + 2 * p - size) // sy + 1, (w + 2 * p - size) // sx + 1))
        elif kind == "maxpool":
            size, s = draw(st.integers(1, 3)), draw(st.integers(1, 2))
            given = draw(st.one_of(st.none(), st.integers(0, 2 * (size // 2))))
            pp = size - 1 if given is None else given
            if h + pp < size or w + pp < size:
                given, pp = None, size - 1
            lines.append(f"[maxpool]\nsize={size}\nstride={s}" + ("" if given is None else f"\npadding={given}"))
            shapes.append((c, (h + pp - size) // s + 1, (w + pp - size) // s + 1))
        elif kind == "upsample":
            s = draw(st.integers(1, 3))
            lines.append(f"[upsample]\nstride={s}")
            shapes.append((c, h * s, w * s))
        elif kind == "route":
            first = i - 1 if kinds[-1] != "yolo" else draw(st.integers(0, i - 1))
            fh, fw = shapes[first][1:]
            more = draw(st.lists(st.sampled_from([j for j in range(i) if shapes[j][1:] == (fh, fw)]), max_size=2))
            refs = [first, *more]
            groups = draw(st.sampled_from([g for g in (1, 2, 3) if all(shapes[j][0] % g == 0 for j in refs)]))
            gid = draw(st.integers(0, groups - 1))
            text = ",".join(str(j - i) if draw(st.booleans()) else str(j) for j in refs)
            lines.append(f"[route]\nlayers={text}" + (f"\ngroups={groups}\ngroup_id={gid}" if groups > 1 else ""))
            shapes.append((sum(shapes[j][0] for j in refs) // groups, fh, fw))
        elif kind == "shortcut":
            refs = draw(st.lists(st.sampled_from(same), min_size=1, max_size=2))
            lines.append(f"[shortcut]\nfrom={','.join(str(j - i) for j in refs)}\nactivation={draw(acts)}")
            shapes.append((c, h, w))
        else:
            lines.append("[yolo]\nmask=0,1,2\nclasses=1")
            heads.append((c, h, w))
            shapes.append((c, h, w))
        kinds.append(kind)
    if heads and kinds[-1] != "yolo":
        lines.append("[yolo]")
        heads.append(shapes[-1])
    return "\n\n".join(lines) + "\n", heads or [shapes[-1]]


@pytest.mark.torch
@pytest.mark.usefixtures("one_torch_thread")
def test_random_cfgs_match_the_neutral_reading() -> None:
    @SEEDED
    @given(cfgs())
    def run(case: tuple[str, list[tuple[int, int, int]]]) -> None:
        _agree(*case)

    run()
