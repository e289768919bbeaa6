"""Human units at the edges only: SI formatting for display, SI parsing for limits."""

from __future__ import annotations

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
