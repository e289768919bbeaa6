"""A footprint drawn without matplotlib, for the report page: the 2-D map of path counts as a PNG (a data URL,
written here with zlib: holes white, counts on a viridis-like ramp), or, where the map is too large to compute,
the per-axis counts as a small SVG. Exact in what it shows: a hole is white only when its count is zero."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Sequence
from fractions import Fraction
from html import escape

from convcalc.metrics.footprint import AxisFootprint, Footprint

RGB = tuple[int, int, int]
#: The ramp from one path to the largest count (viridis' ends and quarters).
RAMP: tuple[RGB, ...] = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
HOLE: RGB = (255, 255, 255)
#: The ramp as a CSS gradient, for the legend.
RAMP_CSS = "linear-gradient(to right, " + ", ".join(f"rgb{c}" for c in RAMP) + ")"


def colour(count: int, top: int) -> RGB:
    """The colour of a pixel with ``count`` paths when the largest count is ``top``: white for none."""
    if count <= 0 or top <= 0:
        return HOLE
    t = Fraction(count - 1, top - 1) if top > 1 else Fraction(1)
    pos = t * (len(RAMP) - 1)
    i = min(int(pos), len(RAMP) - 2)
    f = pos - i
    a, b = RAMP[i], RAMP[i + 1]
    return (round(a[0] + (b[0] - a[0]) * f), round(a[1] + (b[1] - a[1]) * f), round(a[2] + (b[2] - a[2]) * f))


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png(pixels: Sequence[Sequence[RGB]]) -> bytes:
    """An 8-bit RGB PNG of rows of pixels."""
    h, w = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))


def map_png(grid: Sequence[Sequence[int]]) -> bytes:
    """The 2-D map of a footprint as a PNG, one pixel per input pixel."""
    top = max(max(row) for row in grid)
    return png([[colour(c, top) for c in row] for row in grid])


def heatmap_html(fp: Footprint, label: str) -> str:
    """The map as an ``<img>`` (a data URL) scaled to at least 160 px, with its legend; or the per-axis counts."""
    h, w = fp.axes
    if fp.map is None or not h.counts:
        return profiles_svg(fp, label)
    rows, cols = len(fp.map), len(fp.map[0])
    k = max(1, min(12, 360 // max(rows, cols)))
    data = base64.b64encode(map_png(fp.map)).decode("ascii")
    top = max(max(row) for row in fp.map)
    return (f'<figure class="footprint"><img class="heatmap" width="{cols * k}" height="{rows * k}" '
            f'alt="{escape(label, quote=True)}" src="data:image/png;base64,{data}">'
            f'<figcaption>rows {h.start}..{h.start + rows - 1} × columns {w.start}..{w.start + cols - 1} '
            '(input pixels); '
            f'<span class="swatch hole"></span> no path (a hole) · <span class="ramp" style="background: {RAMP_CSS}">'
            f'</span> 1 to {top:,} paths</figcaption></figure>')


def _polyline(a: AxisFootprint, width: int, height: int, top_y: int) -> str:
    n = len(a.counts)
    top = max(a.counts, default=0) or 1
    step = width / max(n, 1)
    points = []
    for i, c in enumerate(a.counts):
        y = top_y + height - height * (c / top)
        points.append(f"{i * step:.1f},{y:.1f} {(i + 1) * step:.1f},{y:.1f}")
    return " ".join(points)


def profiles_svg(fp: Footprint, label: str) -> str:
    """The paths per row and per column (as shares of the largest count) as one small SVG, ERF50 and ERF95
    marked; for maps too large to draw pixel by pixel."""
    width, height, gap = 360, 56, 22
    parts = []
    for n, (a, what) in enumerate(((fp.axes[0], "rows"), (fp.axes[1], "columns"))):
        y0 = n * (height + gap) + 16
        parts.append(f'<text x="0" y="{y0 - 4}" class="axis">{what} {a.start}..{a.start + len(a.counts) - 1}</text>')
        parts.append(f'<polyline points="{_polyline(a, width, height, y0)}" class="profile"/>')
        for share, cls in ((Fraction(1, 2), "erf50"), (Fraction(95, 100), "erf95")):
            size = a.erf(share)
            lo = (len(a.counts) - size) // 2
            step = width / max(len(a.counts), 1)
            parts.append(f'<rect x="{lo * step:.1f}" y="{y0}" width="{size * step:.1f}" height="{height}" '
                         f'class="{cls}"/>')
    total = 2 * (height + gap) + 4
    return (f'<figure class="footprint"><svg class="profiles" role="img" aria-label="{escape(label, quote=True)}" '
            f'width="{width}" height="{total}" viewBox="0 0 {width} {total}">{"".join(parts)}</svg>'
            '<figcaption>the paths from each input row and column (the 2-D map is too large to compute); dashed: '
            'ERF50, dotted: ERF95</figcaption></figure>')
