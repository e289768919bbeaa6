"""Device profiles for the roofline: a device's peak FLOP/s per dtype and its memory bandwidth.

A profile is a bundled one (``convcalc/devices/<name>.yaml``, named by its stem: ``nvidia-a100-sxm4-80gb``) or
a user's ``.yaml``/``.yml`` file with the same keys::

    name: NVIDIA A100 SXM4 80GB              # required: text
    description: dense figures, no sparsity  # optional text
    peak_flops:                              # required: FLOP/s (op/s for int8) per dtype, integers >= 1
      fp32: 19500000000000                   #   dtypes: fp32, fp16, bf16, int8; one the device lacks is left out
      bf16: 312000000000000
    bandwidth: 2039000000000                 # required: bytes/s of device memory, an integer >= 1 (1 GB = 10⁹)
    sources: [https://…]                     # optional: where the figures come from (document, page, table)

Every problem of a file is reported in one pass, located (``file:line:col: key.path: expected X, found Y``
with a hint) as a :class:`~convcalc.errors.SpecError`; an unknown bundled name is a
:class:`~convcalc.errors.UsageError` listing the bundled ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from convcalc.errors import Collector, Diagnostic, KeyPath, Location, SpecError, UsageError
from convcalc.kinds.steps import BYTES
from convcalc.lang.expr_values import describe
from convcalc.lang.hints import did_you_mean
from convcalc.lang.yaml_source import Document, load_bytes, load_file

#: The dtypes a profile may give a peak for, with the bytes of one element (the roofline counts traffic in them).

#: The keys of a device profile.
DEVICE_KEYS = ("name", "description", "peak_flops", "bandwidth", "sources")
_REQUIRED = {
    "name": "a device profile needs name, peak_flops and bandwidth, e.g. name: my-gpu",
    "peak_flops": "FLOP/s per dtype, e.g. peak_flops: {fp32: 19500000000000, fp16: 312000000000000}",
    "bandwidth": "bytes/s of device memory, e.g. bandwidth: 2039000000000 (2,039 GB/s)",
}
_EXAMPLE = {"peak_flops": "write whole FLOP/s, e.g. 19500000000000 for 19.5 TFLOPS",
            "bandwidth": "write whole bytes/s, e.g. 2039000000000 for 2,039 GB/s"}


@dataclass(frozen=True)
class Device:
    """A device for the roofline: peak FLOP/s per dtype (dense), memory bandwidth in bytes/s, and where the
    figures come from."""

    name: str
    description: str
    peak_flops: Mapping[str, int]
    bandwidth: int
    sources: tuple[str, ...] = ()


def bundled_devices() -> list[str]:
    """The names of the bundled device profiles (the stems of ``convcalc/devices/*.yaml``), sorted."""
    root = resources.files("convcalc") / "devices"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_device(name_or_path: str) -> Device:
    """A bundled device by name (``nvidia-t4``), or a profile file (a path ending in ``.yaml``/``.yml``, or
    holding a ``/``). Raises :class:`SpecError` with every problem of the file, :class:`UsageError` for a
    name that is neither a bundled device nor a file."""
    arg = name_or_path
    if arg.endswith((".yaml", ".yml")) or "/" in arg or "\\" in arg:
        return device_of(load_file(arg))
    names = bundled_devices()
    if arg in names:
        data = (resources.files("convcalc") / "devices" / f"{arg}.yaml").read_bytes()
        return device_of(load_bytes(data, f"device:{arg}.yaml"))
    try:
        is_file = Path(arg).is_file()
    except (OSError, ValueError):
        is_file = False
    if is_file:
        return device_of(load_file(arg))
    raise UsageError([Diagnostic(Location(arg, 0, 0), (), "no such file, and no bundled device of that name",
                                 _name_hint(arg, names))])


def _name_hint(arg: str, names: list[str]) -> str:
    """``did you mean 'nvidia-t4'? The bundled devices: …`` (a close name, the one ending in ``-<arg>``, or the
    one containing it)."""
    close = did_you_mean(arg, names)
    if not close.startswith("did you mean"):
        word = arg.lower()
        holding = [n for n in names if n.endswith("-" + word)] or [n for n in names if word and word in n]
        close = f"did you mean {holding[0]!r}?" if len(holding) == 1 else ""
    return (close + " " if close else "") + "The bundled devices: " + ", ".join(names) + \
        "; or give a device profile file (.yaml)"


def device_of(doc: Document) -> Device:
    """Check a loaded profile and make its :class:`Device`; every problem is collected, then raised together."""
    c = _Checker(doc)
    data = doc.data
    if not isinstance(data, dict):
        c.err((), f"expected a device profile (a mapping), found {describe(data)}", _REQUIRED["name"])
        c.errors.raise_if_any(SpecError)
    assert isinstance(data, dict)
    for key in data:
        if key not in DEVICE_KEYS:
            c.err((key,), f"unknown key {key!r}", did_you_mean(str(key), DEVICE_KEYS))
    for key, hint in _REQUIRED.items():
        if key not in data:
            c.err((), f"missing key {key!r}", hint)
    name = c.text(data["name"], ("name",), "a name") if "name" in data else ""
    description = c.text(data["description"], ("description",), "text") if "description" in data else ""
    peaks = c.peaks(data["peak_flops"]) if "peak_flops" in data else {}
    bandwidth = c.count(data["bandwidth"], ("bandwidth",)) if "bandwidth" in data else None
    sources = c.sources(data["sources"]) if "sources" in data else ()
    c.errors.raise_if_any(SpecError)
    assert bandwidth is not None
    return Device(name, description, MappingProxyType(peaks), bandwidth, sources)


class _Checker:
    """The checks of one profile, each adding its problems to :attr:`errors`."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.errors = Collector()

    def err(self, path: KeyPath, message: str, hint: str = "") -> None:
        self.errors.add(Diagnostic(self.doc.loc(path), path, message, hint))

    def text(self, v: Any, path: KeyPath, what: str) -> str:
        """Non-empty text."""
        if isinstance(v, str) and v.strip():
            return v
        self.err(path, f"expected {what}, found {describe(v)}",
                 "quote it if YAML reads it as something else" if v is not None and not isinstance(v, str) else "")
        return ""

    def count(self, v: Any, path: KeyPath) -> int | None:
        """A whole number >= 1 (FLOP/s or bytes/s); never a bool (YAML reads yes/no/true/false as booleans)."""
        if isinstance(v, int) and not isinstance(v, bool) and v >= 1:
            return v
        if isinstance(v, bool):
            hint = "YAML reads yes/no/true/false as booleans"
        elif isinstance(v, float) and v.is_integer() and v >= 1:
            hint = f"write {int(v)} (an integer, without the decimal point or exponent)"
        else:
            hint = _EXAMPLE["peak_flops" if path[0] == "peak_flops" else "bandwidth"]
        self.err(path, f"expected an integer >= 1, found {describe(v)}", hint)
        return None

    def peaks(self, v: Any) -> dict[str, int]:
        """``peak_flops``: a mapping of known dtypes to FLOP/s, returned in :data:`BYTES` order."""
        path: KeyPath = ("peak_flops",)
        if not isinstance(v, dict):
            self.err(path, f"expected FLOP/s per dtype (a mapping), found {describe(v)}", _REQUIRED["peak_flops"])
            return {}
        if not v:
            self.err(path, "expected at least one dtype, found an empty mapping", _REQUIRED["peak_flops"])
        found: dict[str, int] = {}
        for dtype, raw in v.items():
            if dtype not in BYTES:
                close = did_you_mean(str(dtype), BYTES)
                hint = close if not close.startswith("did you mean") else f"{close} The dtypes: {', '.join(BYTES)}"
                if dtype == "tf32":
                    hint = "TF32 is Tensor Core math on fp32 data: to bound fp32 layers by it, give its peak as fp32"
                self.err(path + (dtype,), f"unknown dtype {dtype!r}", hint)
                continue
            n = self.count(raw, path + (dtype,))
            if n is not None:
                found[dtype] = n
        return {d: found[d] for d in BYTES if d in found}

    def sources(self, v: Any) -> tuple[str, ...]:
        """``sources``: a list of non-empty text (URLs with the page or table the figures come from)."""
        items = v if isinstance(v, list) else [v]
        out: list[str] = []
        for i, item in enumerate(items):
            path: KeyPath = ("sources", i) if isinstance(v, list) else ("sources",)
            if not isinstance(item, str) or not item.strip():
                self.err(path, f"expected a source (text: a URL and where in it), found {describe(item)}",
                         "e.g. sources: ['https://… (datasheet, table Specifications)']")
                continue
            out.append(item)
        return tuple(out)
