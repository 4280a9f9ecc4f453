"""Draws the site's mark, the default feed icon/logo and favicon, into templates/site/.

Run once after changing the drawing: `python scripts/make_site_mark.py`; the output is
committed and a test checks it is still what this script draws. Pure standard library and
pixel-exact shapes, so the PNG is byte-identical on every machine: a rounded square in the
archive's accent colour with a vote triangle and three lines of text.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

SIZE = 144  # RSS 2.0 <image>: at most 144 pixels wide
ACCENT = (0xB4, 0x47, 0x0C, 0xFF)  # --accent in templates/site/style.css
WHITE = (0xFF, 0xFF, 0xFF, 0xFF)
CLEAR = (0, 0, 0, 0)
RADIUS = 32
TRIANGLE = ((40, 26), (18, 64), (62, 64))
BARS = ((72, 32, 124, 44), (20, 80, 124, 92), (20, 106, 98, 118))  # left, top, right, bottom
TARGET = Path(__file__).resolve().parent.parent / "templates" / "site"


def pixel(x: int, y: int) -> tuple[int, int, int, int]:
    if not _inside_rounded_square(x + 0.5, y + 0.5):
        return CLEAR
    if _inside_triangle(x + 0.5, y + 0.5) or any(
        left <= x < right and top <= y < bottom for left, top, right, bottom in BARS
    ):
        return WHITE
    return ACCENT


def _inside_rounded_square(x: float, y: float) -> bool:
    nearest_x = min(max(x, RADIUS), SIZE - RADIUS)
    nearest_y = min(max(y, RADIUS), SIZE - RADIUS)
    return (x - nearest_x) ** 2 + (y - nearest_y) ** 2 <= RADIUS**2


def _inside_triangle(x: float, y: float) -> bool:
    (ax, ay), (bx, by), (cx, cy) = TRIANGLE
    sides = [
        (bx - ax) * (y - ay) - (by - ay) * (x - ax),
        (cx - bx) * (y - by) - (cy - by) * (x - bx),
        (ax - cx) * (y - cy) - (ay - cy) * (x - cx),
    ]
    return all(side <= 0 for side in sides) or all(side >= 0 for side in sides)


def png() -> bytes:
    """The mark as an RGBA PNG (ISO/IEC 15948: signature, IHDR, IDAT, IEND)."""
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(SIZE)) for y in range(SIZE)
    )
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def ico(image: bytes) -> bytes:
    """`/favicon.ico`: one icon directory entry holding the PNG (every current browser)."""
    directory = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", SIZE, SIZE, 0, 0, 1, 32, len(image), 6 + 16)
    return directory + entry + image


def mark_files() -> dict[str, bytes]:
    image = png()
    return {"icon.png": image, "favicon.ico": ico(image)}


if __name__ == "__main__":
    for name, data in mark_files().items():
        (TARGET / name).write_bytes(data)
        print(f"{TARGET / name}: {len(data)} bytes", file=sys.stderr)
