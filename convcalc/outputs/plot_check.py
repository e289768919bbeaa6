"""What a picture needs before matplotlib is imported: whether it is installed, and the file's format.

Pictures (:mod:`convcalc.outputs.plot`) are the optional extra ``convcalc[plot]``; this module imports no
matplotlib, so a command can refuse a bad file name, or say how to install the extra, before any work.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from convcalc.errors import Diagnostic, Location, UsageError

#: The one-line message of a picture asked for without matplotlib.
MISSING = "pictures need matplotlib: python -m pip install 'convcalc[plot]'"

PictureFormat = Literal["png", "svg"]


def have_matplotlib() -> bool:
    """Whether matplotlib can be imported (it is, then, imported)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


class PictureError(UsageError, ValueError):
    """A picture that cannot be written: a file name that is not .png or .svg, or a file that cannot be created.
    One line, as every usage error (``--plot: …``)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__([Diagnostic(Location("--plot", 0, 0), (), message, hint)])


def picture_format(path: str | os.PathLike[str]) -> PictureFormat:
    """``png`` or ``svg``, by the file name's suffix (any case); :class:`PictureError` for any other name."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return "png"
    if suffix == ".svg":
        return "svg"
    found = f"{suffix!r}" if suffix else "no suffix"
    raise PictureError(f"expected a .png or .svg file, found {found} in {os.fspath(path)!r}")


def numbered(path: str, k: int, n: int) -> str:
    """The file of picture ``k`` (1-based) of ``n``: ``path`` itself when there is one, else ``out-2.png``."""
    if n <= 1:
        return path
    p = Path(path)
    return str(p.with_name(f"{p.stem}-{k}{p.suffix}"))
