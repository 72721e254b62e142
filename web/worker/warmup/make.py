#!/usr/bin/env python3
"""Make the preview worker's warm-up images (web/worker/warmup/*), all drawn here.

A synthetic scene (sky gradient, a hill, a sun, fine texture) as a PPM, then encoded the way
cameras and phones encode photos: baseline and progressive JPEG (cjpeg, 4:2:0, quality 80); a
camera's JPEG (4:2:2 as Canon writes, a Display P3 ICC profile as iPhones embed, and EXIF
orientation 6, all three made here); lossy WebP (cwebp, quality 80) and an RGB PNG with the
per-row filters encoders pick (written here with zlib). Needs `cjpeg` (libjpeg-turbo-progs) and `cwebp` (webp); run once, commit the
output: the worker embeds these files, nothing makes them at build time.
"""
import math
import os
import random
import struct
import subprocess
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def scene(w, h, seed, noise):
    rnd = random.Random(seed)
    px = bytearray()
    for y in range(h):
        for x in range(w):
            t = y / h
            r, g, b = 90 + 100 * t, 140 + 60 * t, 230 - 40 * t  # sky
            ridge = h * (0.62 + 0.08 * math.sin(x / w * 7.0) + 0.03 * math.sin(x / w * 31.0))
            if y > ridge:  # hill with grass texture
                r, g, b = 60 + 40 * math.sin(x * 0.9 + y * 0.4), 120 + 30 * math.sin(x * 0.33), 50
            dx, dy = x - w * 0.75, y - h * 0.25
            if dx * dx + dy * dy < (h * 0.1) ** 2:  # sun
                r, g, b = 250, 220, 120
            n = rnd.randint(-noise, noise)
            px += bytes(max(0, min(255, int(v + n))) for v in (r, g, b))
    return bytes(px)


def ppm(path, w, h, px):
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h) + px)


def png(path, w, h, px):
    stride = w * 3
    raw = bytearray()
    prev = bytes(stride)
    for y in range(h):
        row = px[y * stride:(y + 1) * stride]
        kind = y % 5  # None, Sub, Up, Average, Paeth in turn: every unfilter path runs
        out = bytearray()
        for i in range(stride):
            a = row[i - 3] if i >= 3 else 0
            b = prev[i]
            c = prev[i - 3] if i >= 3 else 0
            if kind == 0:
                p = 0
            elif kind == 1:
                p = a
            elif kind == 2:
                p = b
            elif kind == 3:
                p = (a + b) // 2
            else:
                q = a + b - c
                pa, pb, pc = abs(q - a), abs(q - b), abs(q - c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            out.append((row[i] - p) & 255)
        raw += bytes([kind]) + out
        prev = row

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def s15(v):
    return struct.pack(">i", round(v * 65536))


def display_p3_icc():
    """An ICC v2 display profile with Display P3's primaries (adapted to D50) and a 2.2 gamma:
    what the pipeline must convert to sRGB, as it does for a phone's photo."""
    def xyz(x, y, z):
        return b"XYZ " + bytes(4) + s15(x) + s15(y) + s15(z)

    gamma = b"curv" + bytes(4) + struct.pack(">IH", 1, 0x0233) + bytes(2)  # 2.2 as u8Fixed8
    text = b"fitbox warm-up Display P3\0"
    desc = (b"desc" + bytes(4) + struct.pack(">I", len(text)) + text
            + bytes(4) + bytes(4) + bytes(2) + bytes(1) + bytes(67))
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.51512, 0.24120, -0.00105)),
        (b"gXYZ", xyz(0.29198, 0.69225, 0.04189)),
        (b"bXYZ", xyz(0.15710, 0.06657, 0.78407)),
        (b"rTRC", gamma), (b"gTRC", gamma), (b"bTRC", gamma),
        (b"cprt", b"text" + bytes(4) + b"No copyright, drawn for fitbox\0"),
    ]
    table = struct.pack(">I", len(tags))
    data = b""
    offset = 128 + 4 + 12 * len(tags)
    for sig, body in tags:
        body += bytes(-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = 128 + len(table) + len(data)
    header = (struct.pack(">I", size) + bytes(4) + struct.pack(">I", 0x02100000) + b"mntr"
              + b"RGB " + b"XYZ " + bytes(12) + b"acsp" + bytes(4) + bytes(4) + bytes(8)
              + bytes(8) + bytes(4) + s15(0.9642) + s15(1.0) + s15(0.8249) + bytes(4)
              + bytes(16) + bytes(28))
    assert len(header) == 128
    return header + table + data


def with_exif_orientation(jpeg, orientation):
    """`jpeg` with an EXIF APP1 segment holding only Orientation, right after SOI."""
    tiff = (b"MM\0\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
            + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0))
    body = b"Exif\0\0" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def main():
    w, h = 384, 288
    px = scene(w, h, 1, 3)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "scene.ppm")
        ppm(src, w, h, px)
        out = lambda name: os.path.join(HERE, name)
        jpeg = ["cjpeg", "-quality", "80", "-sample", "2x2", "-optimize"]
        subprocess.run(jpeg + ["-outfile", out("baseline.jpg"), src], check=True)
        subprocess.run(jpeg + ["-progressive", "-outfile", out("progressive.jpg"), src],
                       check=True)
        icc = os.path.join(tmp, "p3.icc")
        with open(icc, "wb") as f:
            f.write(display_p3_icc())
        camera = os.path.join(tmp, "camera.jpg")
        subprocess.run(["cjpeg", "-quality", "80", "-sample", "2x1", "-optimize", "-icc", icc,
                        "-outfile", camera, src], check=True)
        with open(camera, "rb") as f, open(out("camera.jpg"), "wb") as o:
            o.write(with_exif_orientation(f.read(), 6))
        subprocess.run(["cwebp", "-quiet", "-q", "80", src, "-o", out("lossy.webp")], check=True)
    pw, ph = 192, 144
    png(out("rgb.png"), pw, ph, scene(pw, ph, 2, 0))  # a rendering: no sensor noise


if __name__ == "__main__":
    main()
