"""Text for streams that cannot encode all of it (``PYTHONIOENCODING=ascii``, a cp1252 console).

convcalc prints a few characters outside ASCII (``64×112×112``, ``…``, ``→``, ``Δ``, ``·``, ``░▒▓█``, ``²``,
the emoji of Markdown reports) and echoes names from spec files. A character the stream's encoding cannot
carry becomes an ASCII stand-in (:data:`ASCII`, else the letter without its accent, else ``?``); JSON gets
``\\uXXXX`` escapes and XML character references instead, so that data keeps every character.
:func:`install` makes the process's stdout and stderr do this for everything written to them.
"""

from __future__ import annotations

import codecs
import io
from typing import IO

#: ASCII stand-ins of the characters convcalc itself prints.
ASCII = {
    "×": "x", "…": "...", "·": ".", "→": "->", "←": "<-", "↔": "<->", "Δ": "delta", "−": "-", "–": "-",
    "—": "--", "²": "^2", "³": "^3", "≤": "<=", "≥": ">=", "≈": "~", "‘": "'", "’": "'", "“": '"', "”": '"',
    "░": "-", "▒": "+", "▓": "*", "█": "#", "✅": "[ok]", "❌": "[x]", "⚠": "[!]", "ℹ": "[i]", "\ufe0f": "",
    "∞": "inf", "\u00a0": " ",
}

ERRORS = "convcalc.ascii"
JSON_ERRORS = "convcalc.json"


def ascii_of(c: str) -> str:
    """One character's ASCII stand-in."""
    if c in ASCII:
        return ASCII[c]
    import unicodedata

    base = "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))
    return base if base.isascii() and base.isprintable() and base else "?"


def _ascii_errors(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "".join(ascii_of(c) for c in exc.object[exc.start:exc.end]), exc.end


def _json_errors(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for c in exc.object[exc.start:exc.end]:
        o = ord(c)
        if o > 0xFFFF:
            o -= 0x10000
            out.append(f"\\u{0xD800 + (o >> 10):04x}\\u{0xDC00 + (o & 0x3FF):04x}")
        else:
            out.append(f"\\u{o:04x}")
    return "".join(out), exc.end


codecs.register_error(ERRORS, _ascii_errors)
codecs.register_error(JSON_ERRORS, _json_errors)


def is_unicode(encoding: str | None) -> bool:
    """Whether an encoding carries every character (UTF-8, -16, -32); None counts as UTF-8."""
    if not encoding:
        return True
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


def for_encoding(text: str, encoding: str | None, kind: str = "text") -> str:
    """``text`` as ``encoding`` can carry it: unchanged where it can; else ASCII stand-ins (``kind`` "text"),
    ``\\uXXXX`` escapes ("json": only strings hold non-ASCII characters) or character references ("xml")."""
    if is_unicode(encoding):
        return text
    assert encoding is not None
    errors = {"json": JSON_ERRORS, "xml": "xmlcharrefreplace"}.get(kind, ERRORS)
    return text.encode(encoding, errors).decode(encoding)


def install(*streams: IO[str]) -> None:
    """Have text streams (sys.stdout, sys.stderr) write ASCII stand-ins instead of raising
    UnicodeEncodeError (stdout) or writing ``\\xd7`` escapes (stderr)."""
    for s in streams:
        if isinstance(s, io.TextIOWrapper) and s.errors in ("strict", "backslashreplace"):
            try:
                s.reconfigure(errors=ERRORS)
            except (ValueError, OSError):  # closed or detached: nothing will be written anyway
                pass
