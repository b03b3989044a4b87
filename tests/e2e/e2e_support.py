"""Constants and small helpers the browser tests share (imported by ``conftest.py`` and the
test modules; a module of its own so that its name never clashes with another ``conftest``)."""

import os
import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path

CHROMIUM = os.environ.get("CASEFLOW_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
SERVED_AT = datetime(2026, 10, 13, 2, 0, tzinfo=UTC)
"""The server runs at 2026-10-13 10:00 (Shanghai), two weeks after the demo data was made: the
sweep has raised the older cases (督办, 逾期催办, 临期预警) so that every colour is on show."""
SCRIPT_TITLE = "<script>window.__pwned = 1</script>断电后仍在生产"


def photo_png(seed: int = 0, width: int = 160, height: int = 120) -> bytes:
    """A small valid RGB PNG that looks like something (a sky-to-ground gradient with a band)."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            ground = y > height * 0.6
            r = (90 + x // 3 + seed * 13) % 256 if ground else 120 + y // 2
            g = (110 + y // 3) % 256 if ground else 170 + y // 3
            b = 60 if ground else 230 - y // 2
            if abs(y - height * 0.45) < 6 and width * 0.2 < x < width * 0.8:
                r, g, b = 70, 70, 80
            row += bytes((r % 256, g % 256, b % 256))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
