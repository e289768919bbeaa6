"""Plain spec data -> a typed :class:`Spec` (input, defaults, templates, alternatives).

Layer lists stay raw here: they are expanded (templates substituted, arguments checked) by
:mod:`convcalc.graph`, which reports every problem of a file in one pass together with these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from convcalc.errors import Collector, Diagnostic, KeyPath, SpecError
from convcalc.kinds.core import KINDS
from convcalc.kinds.merge import MERGE_KINDS, SLICE
from convcalc.kinds.values import ArgError, Padding, boolean, padding, pos_pair, positive
from convcalc.lang.expr import ExprError, integral, is_computed, substitute
from convcalc.lang.expr_values import describe
from convcalc.lang.hints import did_you_mean as did_you_mean  # re-exported: graph, budget use it
from convcalc.lang.hints import indent_hint, misplaced, size_text_hint
from convcalc.lang.ultralytics import is_ultralytics, ultralytics_document
from convcalc.lang.yaml_source import Document, load_file, load_text

TOP_KEYS = ("convcalc", "name", "description", "include", "params", "variants", "input", "defaults", "blocks",
            "layers", "outputs", "alternatives", "budget")
ALT_KEYS = ("name", "description", "input", "layers", "outputs", "budget")
INPUT_KEYS = ("channels", "height", "width", "size", "batch", "multiple_of")
DEFAULT_KEYS = ("bias", "padding", "inplace")
TEMPLATE_KEYS = ("params", "body", "description")
#: The keys of the sections that take a mapping (for the hint when they are not indented under it).
_NESTED = {"input": INPUT_KEYS, "defaults": DEFAULT_KEYS}
#: Block kinds (see convcalc.graph); a named block may not take one of these names or a layer kind's.
BLOCK_NAMES = ("sequence", "residual", "branches", "dense", "repeat", "side")


@dataclass(frozen=True)
class InputSpec:
    channels: int
    height: int
    width: int
    batch: int = 1
    #: the sizes the model runs at: multiples of these (ViT's patch size), checked after ``--size``
    multiple_of: tuple[int, int] = (1, 1)
    #: where the input is written (for the error of a size that is not a multiple)
    path: KeyPath = field(default=("input",), compare=False)


#: Stands in for an input that could not be read (the error is collected), so that the layers are still
#: walked and their own errors reported in the same pass. Never reaches a report.
NO_INPUT = InputSpec(0, 0, 0)


@dataclass(frozen=True)
class Defaults:
    bias: bool | None = None
    padding: Padding | None = None
    #: the default ``inplace`` of the activations that can run in place (not dropout: it says its own)
    inplace: bool | None = None


@dataclass(frozen=True)
class Template:
    """A named, parameterised block. ``params`` maps names to defaults (None = required)."""

    name: str
    params: dict[str, Any]
    body: list[Any]
    path: KeyPath
    #: the file it is written in, when not the spec's own (an ``include:``d library)
    doc: Document | None = None


@dataclass(frozen=True)
class ModelSpec:
    """One alternative: a name, an input and a raw layer list at ``path`` in the document."""

    name: str
    description: str
    input: InputSpec
    layers: list[Any]
    path: KeyPath
    budget: Any = None
    budget_path: KeyPath = ()
    #: the raw ``outputs:`` (names), or None for "the last layer"
    outputs: Any = None
    outputs_path: KeyPath = ()


@dataclass
class Spec:
    file: str
    name: str
    description: str
    doc: Document
    defaults: Defaults
    templates: dict[str, Template]
    models: list[ModelSpec] = field(default_factory=list)
    budget: Any = None
    #: model-level parameters (``params:``, after ``--set``), visible in every expression
    params: dict[str, Any] = field(default_factory=dict)


class Settings(NamedTuple):
    """What the command line overrides: parameters (``--set``), the input size and the batch."""

    values: Mapping[str, Any] = MappingProxyType({})
    size: tuple[int, int] | None = None
    batch: int | None = None


class _Parser:
    def __init__(self, doc: Document, errors: Collector) -> None:
        self.doc = doc
        self.errors = errors
        #: the model's parameters, for expressions in the input
        self.env: dict[str, Any] = {}

    def err(self, path: KeyPath, message: str, hint: str = "") -> None:
        self.errors.add(Diagnostic(self.doc.loc(path), path, message, hint))

    def mapping(self, value: Any, path: KeyPath, what: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.err(path, f"expected {what} (a mapping), found {describe(value)}")
            return None
        return value

    def keys(self, m: dict[str, Any], path: KeyPath, allowed: tuple[str, ...]) -> None:
        found = misplaced(m, _NESTED, allowed)  # `input:` with no value, and its keys beside it
        for k in m:
            if k not in allowed:
                hint = indent_hint(found) if found and k in found[1] else did_you_mean(k, allowed)
                self.err(path + (k,), f"unknown key {k!r}", hint)

    def value(self, parse: Any, raw: Any, path: KeyPath) -> Any:
        try:
            v = substitute(raw, self.env)
        except ExprError as exc:
            self.err(path, str(exc))
            return None
        if is_computed(raw):
            v = integral(v)
        try:
            return parse(v)
        except ArgError as exc:
            self.err(path, str(exc), exc.hint)
            return None

    def text(self, v: Any, path: KeyPath) -> str | None:
        if v is None:
            return None
        if not isinstance(v, str):
            self.err(path, f"expected a string, found {describe(v)}")
            return None
        return v

    def input(self, v: Any, path: KeyPath) -> InputSpec | None:
        m = self.mapping(v, path, "the input, e.g. {channels: 3, height: 224, width: 224}")
        if m is None:
            return None
        self.keys(m, path, INPUT_KEYS)
        ok = True
        if "channels" not in m:
            self.err(path, "missing key 'channels'", "the input needs channels, height and width (or size)")
            ok = False
        c = self.value(positive, m.get("channels", 1), path + ("channels",))
        if "size" in m:
            if "height" in m or "width" in m:
                self.err(path + ("size",), "give either size or height and width, not both")
            size = m["size"]
            if isinstance(size, list) and len(size) == 2:
                h = self.value(positive, size[0], path + ("size", 0))
                w = self.value(positive, size[1], path + ("size", 1))
            elif size_text_hint(size):  # size: 224x224
                self.err(path + ("size",), f"expected an integer >= 1 or [height, width], found {describe(size)}",
                         size_text_hint(size))
                h = w = None
            else:
                h = w = self.value(positive, size, path + ("size",))
        else:
            for k in ("height", "width"):
                if k not in m:
                    self.err(path, f"missing key {k!r}", "the input needs channels, height and width (or size)")
                    ok = False
            h = self.value(positive, m.get("height", 1), path + ("height",))
            w = self.value(positive, m.get("width", 1), path + ("width",))
        b = self.value(positive, m.get("batch", 1), path + ("batch",))
        mult = self.value(pos_pair, m.get("multiple_of", 1), path + ("multiple_of",))
        if not ok or None in (c, h, w, b, mult):
            return None
        assert c is not None and h is not None and w is not None and b is not None and mult is not None
        return InputSpec(c, h, w, b, mult, path)

    def layer_list(self, v: Any, path: KeyPath) -> list[Any] | None:
        if not isinstance(v, list):
            self.err(path, f"expected a list of layers, found {describe(v)}")
            return None
        if not v:
            self.err(path, "the layer list is empty", "add at least one layer")
        return v


def _included(doc: Document, errors: Collector) -> list[Document]:
    """The files ``doc`` includes (the include machinery is loaded only for a spec that has ``include:``)."""
    if not isinstance(doc.data, dict) or "include" not in doc.data:
        return []
    from convcalc.lang.includes import included

    return included(doc, errors)


def _templates(p: _Parser, top: dict[str, Any], own: Document | None) -> dict[str, Template]:
    """The named blocks of one file (``own``: that file, when it is an included one)."""
    templates: dict[str, Template] = {}
    blocks = top.get("blocks", {}) or {}
    bm = p.mapping(blocks, ("blocks",), "named blocks")
    if bm is not None:
        for tname, tdef in bm.items():
            tpath: KeyPath = ("blocks", tname)
            if tname in KINDS or tname in BLOCK_NAMES or tname in (*MERGE_KINDS, SLICE) or not tname \
                    or tname.startswith("$"):
                what = "a layer kind" if tname in KINDS else "a block kind" if tname in BLOCK_NAMES else \
                    "a graph item" if tname in (*MERGE_KINDS, SLICE) else "not a name"
                p.err(tpath, f"expected a new name for a named block, found {tname!r} ({what})",
                      "rename the block, e.g. my_" + tname.lstrip("$") if tname.strip("$") else "")
                continue
            tm = p.mapping(tdef, tpath, "a block definition with params and body")
            if tm is None:
                continue
            p.keys(tm, tpath, TEMPLATE_KEYS)
            params = tm.get("params") or {}
            if not isinstance(params, dict):
                p.err(tpath + ("params",), f"expected a mapping of parameter defaults, found {describe(params)}")
                params = {}
            body = p.layer_list(tm.get("body"), tpath + ("body",)) if "body" in tm else None
            if "body" not in tm:
                p.err(tpath, "missing key 'body'", "a named block needs a body: a list of layers")
            templates[tname] = Template(tname, dict(params), body or [], tpath + ("body",), own)
    return templates


def _params(p: _Parser, raw: Any, settings: Settings) -> dict[str, Any]:
    """The model's parameters in order, each default an expression over the earlier ones, ``--set`` first."""
    m = p.mapping(raw, ("params",), "parameters with their defaults, e.g. {width: 1.0}") if raw is not None else {}
    m = m or {}
    for name in settings.values:
        if name not in m:
            known = ", ".join(m) if m else "none"
            p.err(("params",) if m else (), f"--set {name}: the spec has no parameter {name!r} (its parameters: "
                  f"{known})", did_you_mean(name, list(m)) if m else "declare it under `params:` with a default")
    env: dict[str, Any] = {}
    for name, default in m.items():
        if not isinstance(name, str) or not name.isidentifier():
            p.err(("params", name), f"expected a parameter name (letters, digits, _), found {describe(name)}")
            continue
        value = settings.values.get(name, default)
        try:
            env[name] = substitute(value, env) if name not in settings.values else value
        except ExprError as exc:
            p.err(("params", name), str(exc))
    return env


def _variant(doc: Document, data: Any, settings: Settings) -> Settings | None:
    """The settings of the variant ``doc.variant`` of a family file (its ``variants:`` entry), under the
    command line's."""
    variants = data.get("variants") if isinstance(data, dict) else None
    chosen = variants.get(doc.variant) if isinstance(variants, dict) else None
    if not isinstance(chosen, dict):
        raise SpecError([Diagnostic(doc.loc(("variants",)), ("variants",), f"no variant {doc.variant!r}", "")])
    return settings._replace(values={**chosen, **settings.values})


def variant_names(data: Any) -> list[str]:
    """The names under a family file's ``variants:``."""
    variants = data.get("variants") if isinstance(data, dict) else None
    return [str(k) for k in variants] if isinstance(variants, dict) else []


def parse_setting(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` from ``--set``: the value read as YAML (``0.75``, ``[1, 2]``, ``true``, text)."""
    import yaml

    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"expected NAME=VALUE, found {text!r}")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return name.strip(), parsed


def _override(inp: InputSpec, settings: Settings) -> InputSpec:
    h, w = settings.size if settings.size is not None else (inp.height, inp.width)
    return replace(inp, height=h, width=w, batch=settings.batch if settings.batch is not None else inp.batch)


def _check_multiple(p: _Parser, inp: InputSpec) -> None:
    """The input size must be a multiple of ``multiple_of`` on each axis."""
    mh, mw = inp.multiple_of
    if inp.height % mh or inp.width % mw:
        near = " or ".join(sorted({f"{max(mh, inp.height // mh * mh)}×{max(mw, inp.width // mw * mw)}",
                                   f"{-(-inp.height // mh) * mh}×{-(-inp.width // mw) * mw}"}))
        p.err(inp.path + ("multiple_of",), f"the input {inp.height}×{inp.width} is not a multiple of "
              f"{mh}×{mw}, which this model needs", f"use an input size such as {near} (--size)")


def parse_spec(doc: Document, errors: Collector | None = None, settings: Settings | None = None) -> Spec:
    """Check the top level of a spec; raise :class:`SpecError` with every problem found.

    If ``errors`` is given, problems are added to it instead and the caller raises. ``settings`` overrides
    parameters, the input size and the batch (the command line's ``--set``, ``--size``, ``--batch``).
    """
    settings = settings or Settings()
    if is_ultralytics(doc.data):  # an Ultralytics model YAML: its convcalc spec, located at the user's rows
        doc = ultralytics_document(doc, dict(settings.values))
    variant = _variant(doc, doc.data, settings) if doc.variant else None
    if variant is not None:
        settings = variant
    own = errors is None
    col = errors if errors is not None else Collector()
    p = _Parser(doc, col)
    stem = Path(doc.file).stem if doc.file and not doc.file.startswith("<") else "model"
    top = p.mapping(doc.data, (), "a spec")
    spec = Spec(doc.file, stem, "", doc, Defaults(), {})
    if top is None:
        col.raise_if_any()
        return spec
    p.keys(top, (), TOP_KEYS)
    if "convcalc" in top and (type(top["convcalc"]) is not int or top["convcalc"] not in (1, 2)):
        p.err(("convcalc",), f"expected format version 1 or 2, found {describe(top['convcalc'])}",
              "versions 1 and 2 exist (2 adds from:, outputs:, params:, include:)")
    spec.params = p.env = _params(p, top.get("params"), settings)
    spec.name = doc.variant or p.text(top.get("name"), ("name",)) or stem
    spec.description = p.text(top.get("description"), ("description",)) or ""
    spec.budget = top.get("budget")
    d = top.get("defaults", {})
    dm = p.mapping(d, ("defaults",), "defaults") if d is not None else {}
    if dm is not None:
        p.keys(dm, ("defaults",), DEFAULT_KEYS)
        bias = p.value(boolean, dm["bias"], ("defaults", "bias")) if "bias" in dm else None
        pad = p.value(padding, dm["padding"], ("defaults", "padding")) if "padding" in dm else None
        inplace = p.value(boolean, dm["inplace"], ("defaults", "inplace")) if "inplace" in dm else None
        spec.defaults = Defaults(bias, pad, inplace)
    for inc in _included(doc, col):
        for tname, tmpl in _templates(_Parser(inc, col), inc.data, inc).items():
            if tname in spec.templates:
                where = spec.templates[tname].doc or doc
                col.add(Diagnostic(inc.loc(("blocks", tname)), ("blocks", tname), f"named block {tname!r} is also "
                                   f"defined in {where.file}", "rename one of them"))
            spec.templates[tname] = tmpl
    for tname, tmpl in _templates(p, top, None).items():
        if tname in spec.templates:
            p.err(("blocks", tname), f"named block {tname!r} is also defined in the included "
                  f"{(spec.templates[tname].doc or doc).file}", "rename one of them")
        spec.templates[tname] = tmpl
    inp = p.input(top["input"], ("input",)) if "input" in top else None
    if "layers" in top and "alternatives" in top:
        p.err(("alternatives",), "give either layers or alternatives, not both")
    elif "layers" in top:
        layers = p.layer_list(top["layers"], ("layers",))
        if "input" not in top:
            p.err((), "missing key 'input'", "e.g. input: {channels: 3, height: 224, width: 224}")
        if layers is not None:  # with NO_INPUT (an error is collected) the layers are still checked
            spec.models.append(ModelSpec(spec.name, spec.description, inp or NO_INPUT, layers, ("layers",),
                                         top.get("budget"), ("budget",), top.get("outputs"), ("outputs",)))
    elif "alternatives" in top:
        alts = top["alternatives"]
        if not isinstance(alts, list) or not alts:
            p.err(("alternatives",), f"expected a non-empty list of alternatives, found {describe(alts)}")
        else:
            names: set[str] = set()
            for i, alt in enumerate(alts):
                apath: KeyPath = ("alternatives", i)
                am = p.mapping(alt, apath, "an alternative with name and layers")
                if am is None:
                    continue
                p.keys(am, apath, ALT_KEYS)
                name = p.text(am.get("name"), apath + ("name",)) or f"alternative {i + 1}"
                if name in names:
                    p.err(apath + ("name",), f"duplicate alternative name {name!r}")
                names.add(name)
                ainp = p.input(am["input"], apath + ("input",)) if "input" in am else inp
                if "input" not in am and "input" not in top:
                    p.err(apath, "missing key 'input'", "give the input at the top level or in the alternative")
                if "layers" not in am:
                    p.err(apath, "missing key 'layers'")
                    continue
                layers = p.layer_list(am["layers"], apath + ("layers",))
                if layers is not None:
                    spec.models.append(ModelSpec(name, p.text(am.get("description"), apath + ("description",)) or "",
                                                 ainp or NO_INPUT, layers, apath + ("layers",), am.get("budget"),
                                                 apath + ("budget",), am.get("outputs", top.get("outputs")),
                                                 apath + ("outputs",) if "outputs" in am else ("outputs",)))
    else:
        p.err((), "missing key 'layers' (or 'alternatives')", "a spec lists its layers under `layers:`")
    if settings.size is not None or settings.batch is not None:
        spec.models = [m if m.input is NO_INPUT else replace(m, input=_override(m.input, settings))
                       for m in spec.models]
    for checked in dict.fromkeys(m.input for m in spec.models if m.input is not NO_INPUT):
        _check_multiple(p, checked)
    if own:
        col.raise_if_any(SpecError)
    return spec


def load_spec_text(text: str, file: str = "<string>") -> Spec:
    """Parse spec text (top level only; see :func:`convcalc.metrics.analysis.analyze`)."""
    return parse_spec(load_text(text, file))


def load_spec(path: str | Path) -> Spec:
    """Read a spec file (top level only; see :func:`convcalc.metrics.analysis.analyze`)."""
    return parse_spec(load_file(path))
