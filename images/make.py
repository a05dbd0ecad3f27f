#!/usr/bin/env python3
"""Draws the example project's garden-camera stills: small PNGs (a sky, a lawn, a sun and a
few animals as plain shapes), written with zlib only so that anyone can remake them.

Run from anywhere: `python3 images/make.py`. The images it writes are CC0 (public domain):
see images/LICENSE.
"""

import os
import random
import struct
import zlib

W, H = 160, 120
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "garden")


def png(path, pixels):
    """Writes rows of (r, g, b) tuples as an 8-bit RGB PNG."""
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    head = struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def draw(n):
    rnd = random.Random(n)
    horizon = rnd.randint(50, 75)
    sky = (120 + rnd.randint(-20, 20), 170 + rnd.randint(-20, 20), 230)
    grass = (60 + rnd.randint(-15, 15), 140 + rnd.randint(-20, 20), 60)
    img = [[sky if y < horizon else grass for x in range(W)] for y in range(H)]

    def disc(cx, cy, r, colour):
        for y in range(max(0, cy - r), min(H, cy + r + 1)):
            for x in range(max(0, cx - r), min(W, cx + r + 1)):
                if (x - cx) ** 2 + (y - cy) ** 2 <= r * r:
                    img[y][x] = colour

    def rect(x0, y0, x1, y1, colour):
        for y in range(max(0, y0), min(H, y1)):
            for x in range(max(0, x0), min(W, x1)):
                img[y][x] = colour

    disc(rnd.randint(15, 145), rnd.randint(8, 25), 8, (250, 220, 80))
    # An animal or two on the lawn: a body, a head and ears.
    for _ in range(rnd.randint(1, 2)):
        x = rnd.randint(20, 130)
        y = rnd.randint(horizon + 10, H - 15)
        fur = rnd.choice([(60, 50, 40), (200, 120, 50), (230, 230, 225), (90, 90, 100)])
        rect(x, y, x + 24, y + 10, fur)
        disc(x + 26, y - 2, 6, fur)
        rect(x + 22, y - 10, x + 25, y - 5, fur)
        rect(x + 28, y - 10, x + 31, y - 5, fur)
        rect(x + 2, y + 10, x + 5, y + 15, fur)
        rect(x + 19, y + 10, x + 22, y + 15, fur)
    return img


def main():
    os.makedirs(OUT, exist_ok=True)
    for n in range(1, 21):
        png(os.path.join(OUT, f"photo-{n:02}.png"), draw(n))


if __name__ == "__main__":
    main()
