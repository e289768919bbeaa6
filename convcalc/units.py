"""Human units at the edges only: SI formatting for display, SI parsing for limits."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

_SI = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


def human(n: int, exact: bool = False) -> str:
    """``11689512`` → ``11.7M`` (3 significant digits); below 10,000 the exact value; ``exact`` → ``11,689,512``."""
    if exact:
        return f"{n:,}"
    if abs(n) < 10_000:
        return str(n)
    for scale, suffix in _SI:
        if abs(n) >= scale:
            v = n / scale
            digits = 2 if abs(v) < 10 else 1 if abs(v) < 100 else 0
            return f"{v:.{digits}f}{suffix}"
    return str(n)  # pragma: no cover


def number(v: int | Fraction) -> str:
    """An exact number: ``3``, or ``7/2`` for a fraction."""
    return str(v)


def pair(v: tuple[int | Fraction, int | Fraction]) -> str:
    """``(5, 5)`` → ``5×5``."""
    return f"{number(v[0])}×{number(v[1])}"


def ratio(r: float | None) -> str:
    """A cost ratio against the baseline: ``0.72×``."""
    return "n/a" if r is None else f"{r:.2f}×"


# --- exact parsing of limits (budgets, --fail-above) -------------------------------------------------------------

#: SI (decimal) multipliers for counts: ``5M`` = 5,000,000. ``k`` is accepted for ``K``.
SI_PREFIXES: dict[str, int] = {"": 1, "K": 10**3, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
#: Byte units: decimal (``KB`` = 1000 B, as in SI) and binary (``KiB`` = 1024 B, as in IEC 80000-13).
BYTE_UNITS: dict[str, int] = {
    "": 1, "B": 1,
    **{f"{p}{b}": m for p, m in SI_PREFIXES.items() if p for b in ("", "B")},
    **{f"{p}i{b}": 1024**e for e, p in enumerate("KMGTP", 1) for b in ("", "B")},
}

_NUMBER = re.compile(r"^\s*(?P<num>[+-]?(?:\d[\d_,]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<unit>[A-Za-z]*)\s*$")


class UnitError(ValueError):
    """A limit could not be parsed; ``hint`` says what would be accepted."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _split(text: str, what: str) -> tuple[Fraction, str]:
    m = _NUMBER.match(text)
    if m is None:
        raise UnitError(f"expected {what}, found {text!r}", "e.g. 5M, 1.5G, 600000")
    num = m["num"].replace("_", "").replace(",", "")
    mantissa, _, exponent = num.lower().partition("e")
    if len(mantissa) > 40 or (exponent and abs(int(exponent)) > 40):
        raise UnitError(f"{text!r} is out of range", "limits have at most 40 digits")
    return Fraction(num), m["unit"]


def _exact_int(value: Fraction, text: str, what: str) -> int:
    if value.denominator != 1:
        shown = Decimal(value.numerator) / Decimal(value.denominator)
        raise UnitError(f"{text!r} is {shown.normalize():f}, not a whole number of {what}",
                        "limits are exact integers: use fewer decimals or a smaller unit")
    if value < 0:
        raise UnitError(f"{text!r} is negative", "limits are counts: 0 or more")
    return int(value)


def parse_count(text: str) -> int:
    """An exact count with an optional SI suffix: ``5M`` → 5,000,000, ``1.5G`` → 1,500,000,000.

    Computed with :class:`fractions.Fraction` (never floats); a result that is not a whole number
    (``1.2345K``) is rejected. ``_`` and ``,`` separate thousands (``5_000_000``). Binary suffixes
    (``Mi``) are for bytes only.
    """
    value, unit = _split(text, "a count such as 5M")
    if unit not in SI_PREFIXES:
        hint = "binary units (KiB, MiB) are for byte limits" if unit in BYTE_UNITS else \
            "use one of the SI suffixes K, M, G, T, P (10^3 … 10^15)"
        raise UnitError(f"unknown suffix {unit!r} in {text!r}", hint)
    return _exact_int(value * SI_PREFIXES[unit], text, "units")


def parse_bytes(text: str) -> int:
    """An exact byte count: ``512MiB`` → 536,870,912; ``1KB`` (or ``1K``) → 1000; ``1KiB`` → 1024; ``64B`` → 64."""
    value, unit = _split(text, "a size such as 512MiB")
    if unit not in BYTE_UNITS:
        hint = "a lower-case b means bits; bytes are B (KB, MiB)" if unit.endswith("b") else \
            "use B, KB/MB/GB (10^3, 10^6, 10^9) or KiB/MiB/GiB (2^10, 2^20, 2^30)"
        raise UnitError(f"unknown byte unit {unit!r} in {text!r}", hint)
    return _exact_int(value * BYTE_UNITS[unit], text, "bytes")


#: Time units, in seconds.
TIME_UNITS: dict[str, Fraction] = {"s": Fraction(1), "ms": Fraction(1, 10**3), "us": Fraction(1, 10**6),
                                   "µs": Fraction(1, 10**6), "ns": Fraction(1, 10**9)}


def parse_duration(text: str) -> Fraction:
    """A duration in exact seconds: ``5ms`` → 1/200, ``2.5 ms``, ``300us`` (or ``µs``), ``0.01s``, ``1200ns``."""
    t = text.strip().replace("µs", "us")
    value, unit = _split(t, "a duration such as 5ms")
    if unit not in TIME_UNITS:
        raise UnitError(f"expected a duration with its unit (s, ms, us, ns), found {text!r}", "e.g. 5ms or 250us")
    if value < 0:
        raise UnitError(f"{text!r} is negative")
    return value * TIME_UNITS[unit]


def human_seconds(v: Fraction | int, exact: bool = False) -> str:
    """``Fraction(1, 200)`` → ``5.00 ms`` (3 significant digits, in s, ms, µs or ns); ``exact`` → the exact
    fraction of a second too: ``5.00 ms (1/200 s)``."""
    f = Fraction(v)
    scales = ((Fraction(1), "s"), (Fraction(1, 10**3), "ms"), (Fraction(1, 10**6), "µs"))
    scale, unit = next(((s, u) for s, u in scales if abs(f) >= s), (Fraction(1, 10**9), "ns"))
    x = float(f / scale)
    digits = 2 if abs(x) < 10 else 1 if abs(x) < 100 else 0
    text = f"{x:.{digits}f} {unit}"
    return f"{text} ({f} s)" if exact else text


def parse_percent(text: str) -> Fraction:
    """A percentage, exactly: ``5%`` and ``5`` → 5, ``0.5%`` → 1/2."""
    t = text.strip()
    t = t[:-1] if t.endswith("%") else t
    value, unit = _split(t, "a percentage such as 5%")
    if unit:
        raise UnitError(f"expected a percentage such as 5%, found {text!r}")
    if value < 0:
        raise UnitError(f"{text!r} is negative", "give how much growth is allowed, e.g. 5%")
    return value


def parse_pair(text: str) -> tuple[int, int]:
    """A per-axis integer limit: ``200`` → (200, 200); ``200x100``, ``200×100`` or ``200,100`` → (h, w)."""
    parts = re.split(r"\s*[x×,]\s*", text.strip())
    if len(parts) not in (1, 2) or not all(p.isdigit() for p in parts):
        raise UnitError(f"expected an integer or HxW, found {text!r}", "e.g. 200 (both axes) or 200x100 (h x w)")
    h, w = int(parts[0]), int(parts[-1])
    if h < 1 or w < 1:
        raise UnitError(f"expected integers >= 1, found {text!r}")
    return h, w


def human_bytes(n: int, exact: bool = False) -> str:
    """``536870912`` → ``512 MiB`` (binary units, 3 significant digits); ``exact`` → ``536,870,912 B``."""
    if exact or abs(n) < 1024:
        return f"{n:,} B"
    scale, unit = 1024, "KiB"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < scale * 1024 or unit == "PiB":
            break
        scale *= 1024
    v = n / scale
    digits = 2 if abs(v) < 10 else 1 if abs(v) < 100 else 0
    return f"{v:.{digits}f} {unit}"


def percent(p: Fraction | None, signed: bool = True) -> str:
    """An exact percentage for display: ``+2.4%``; tiny non-zero values keep two significant digits."""
    if p is None:
        return "n/a"
    v = float(p)
    text = f"{v:.1f}"
    if p != 0 and float(text) == 0:
        text = f"{v:.2g}"
    return ("+" if signed and p > 0 else "") + text + "%"


def _fixed(p: Fraction, digits: int) -> str:
    """``p`` rounded (half to even) to ``digits`` decimals, exactly."""
    q = round(p * 10**digits)
    sign = "-" if q < 0 else ""
    whole, frac = divmod(abs(q), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}"


def percent_apart(p: Fraction, other: Fraction) -> str:
    """``p`` as a percentage with as many decimals as it takes (1 to 12) not to read as equal to ``other``:
    a growth of 0.2004% against a 0.2% limit is ``0.2004%``, never ``0.2%``."""
    for digits in range(1, 13):
        text = _fixed(p, digits)
        if p == other or text != _fixed(other, digits):
            return text + "%"
    return text + "%"
