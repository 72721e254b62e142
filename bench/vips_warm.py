"""libvips in a warm process (pyvips): `python vips_warm.py RUNS FILE...`.

Per file: read once, one warm-up, then RUNS times thumbnail_buffer(400x400, export sRGB) +
JPEG Q=85 to memory. The operation cache is off, so every run does the work. Prints
`file<TAB>median_wall_ms<TAB>median_cpu_ms<TAB>out_bytes` (CPU = all of libvips' threads).
"""

import statistics
import sys
import time

import pyvips

pyvips.cache_set_max(0)
runs = int(sys.argv[1])


def once(buf):
    im = pyvips.Image.thumbnail_buffer(buf, 400, height=400, export_profile="srgb")
    return im.write_to_buffer(".jpg", Q=85)


for path in sys.argv[2:]:
    with open(path, "rb") as f:
        buf = f.read()
    out = once(buf)
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        once(buf)
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    print(f"{path}\t{statistics.median(wall):.1f}\t{statistics.median(cpu):.1f}\t{len(out)}", flush=True)
