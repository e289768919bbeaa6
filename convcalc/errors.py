"""Error types. Every user-facing error carries a location, a key path, what was expected and a hint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

#: A key path into the spec document: mapping keys and list indices.
KeyPath = tuple["str | int", ...]


@dataclass(frozen=True, slots=True)
class Location:
    """A 1-based position in a source file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        """``file:line:col``; a location with line 0 is not in a file (a command-line option): ``--map``."""
        return f"{self.file}:{self.line}:{self.col}" if self.line else self.file


def format_path(path: KeyPath) -> str:
    """Render a key path as ``alternatives[1].layers[0].conv.kernel``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(document)"


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a spec: where, what, and how to fix it."""

    location: Location
    path: KeyPath
    message: str
    hint: str = ""

    def render(self) -> str:
        where = f"{self.location}: {format_path(self.path)}" if self.path or self.location.line else f"{self.location}"
        text = f"{where}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ConvcalcError(Exception):
    """Base class of every error convcalc raises for a user's mistake."""

    def __init__(self, diagnostics: Sequence[Diagnostic], total: int | None = None) -> None:
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        self.total = total if total is not None else len(self.diagnostics)
        super().__init__(self.render())

    def render(self) -> str:
        lines = [d.render() for d in self.diagnostics]
        hidden = self.total - len(self.diagnostics)
        if hidden > 0:
            lines.append(f"... and {hidden} more error(s)")
        return "\n".join(lines)


class SpecError(ConvcalcError):
    """The spec file could not be read or is not a valid spec."""


class UsageError(ConvcalcError):
    """A command-line argument is wrong (unknown model, bad option value)."""


@dataclass
class Collector:
    """Collects diagnostics so that all problems of a file are reported in one pass."""

    limit: int = 50
    items: list[Diagnostic] = field(default_factory=list)
    count: int = 0

    def add(self, diag: Diagnostic) -> None:
        self.count += 1
        if len(self.items) < self.limit:
            self.items.append(diag)

    def __bool__(self) -> bool:
        return self.count > 0

    def raise_if_any(self, cls: type[ConvcalcError] = SpecError) -> None:
        if self.count:
            raise cls(self.items, self.count)
