"""fitbox vs vipsthumbnail vs ImageMagick vs Pillow, whole process, same photos (run by scripts/bench.sh).

Per photo and round the four tools run one after another, in an order that rotates each round,
so slow drifts in machine load hit every tool alike. Wall time and peak RSS come from the
child's own rusage (os.wait4: the same ru_maxrss `/usr/bin/time -f %M` prints).
Quality: DSSIM (dssim CLI) of each output against ImageMagick's linear-light Lanczos2 resize of
the fully decoded, auto-oriented, sRGB-converted original at that output's size.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from PIL import Image

SRGB_ICC = "/usr/share/color/icc/ghostscript/srgb.icc"
CONVERT = "/usr/bin/convert"


def run(cmd):
    """Run cmd; return (wall seconds, peak RSS KiB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({p.returncode}): {err}")
    return wall, ru.ru_maxrss


def has_icc(path):
    try:
        with Image.open(path) as im:
            return bool(im.info.get("icc_profile"))
    except Exception:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fitbox", required=True)
    ap.add_argument("--warm", required=True, help="fitbox-core warm example binary")
    ap.add_argument("--dssim", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--dssim-version", default="dssim")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warm-runs", type=int, default=7)
    ap.add_argument("--results", required=True)
    ap.add_argument("--browser-json", help="timings from the e2e test in benchmark mode")
    ap.add_argument("photos", nargs="+")
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    work = tempfile.mkdtemp(prefix="fitbox-bench-")
    load_start = os.getloadavg()

    tools = ["fitbox", "vips", "magick", "pillow"]
    rows = []
    for photo in a.photos:
        name = os.path.basename(photo)
        icc = has_icc(photo)
        out = {t: os.path.join(work, f"{t}.jpg") for t in tools}
        cmds = {
            "fitbox": [a.fitbox, "thumbnail", photo, "-o", out["fitbox"]],
            # -e srgb: convert to sRGB on export, like fitbox (without it a P3 photo stays P3).
            "vips": ["vipsthumbnail", "-s", "400x400", "-e", "srgb", "-o", out["vips"] + "[Q=85,strip]", photo],
            "magick": [CONVERT, photo, "-auto-orient"]
            + (["-profile", SRGB_ICC] if icc else [])
            + ["-filter", "Lanczos2", "-resize", "400x400", "-quality", "85", "-strip", out["magick"]],
            "pillow": [a.python, os.path.join(here, "pillow_thumb.py"), photo, out["pillow"]],
        }
        times = {t: [] for t in tools}
        rss = {t: [] for t in tools}
        for r in range(a.rounds):
            order = tools[r % 4 :] + tools[: r % 4]
            for t in order:
                w, m = run(cmds[t])
                times[t].append(w)
                rss[t].append(m)
        row = {"photo": name, "load": os.getloadavg()[0], "tools": {}}
        with Image.open(photo) as im:
            row["size"] = f"{im.width}x{im.height}"
        # Full-size, upright, sRGB decode of the original (Pillow: it reads EXIF orientation of
        # WebP too, which ImageMagick 6 ignores), then ImageMagick's linear-light resize from it.
        full = os.path.join(work, "full.png")
        subprocess.run([a.python, os.path.join(here, "full_decode.py"), photo, full], check=True)
        refs = {}
        for t in tools:
            with Image.open(out[t]) as im:
                wh = (im.width, im.height)
            if wh not in refs:
                ref = os.path.join(work, f"ref-{wh[0]}x{wh[1]}.png")
                subprocess.run(
                    [CONVERT, full, "-colorspace", "RGB", "-filter", "Lanczos2"]
                    + ["-resize", f"{wh[0]}x{wh[1]}!", "-colorspace", "sRGB", "-strip", ref],
                    check=True,
                )
                refs[wh] = ref
            # Every output is decoded by the same decoder (ImageMagick) to PNG first: the dssim
            # CLI's own JPEG reader misreads jpeg-encoder's files (DSSIM ~1 on fitbox's output,
            # 0.0007 on the same file converted to PNG).
            png = os.path.join(work, f"{t}.png")
            subprocess.run([CONVERT, out[t], png], check=True)
            d = subprocess.run([a.dssim, refs[wh], png], check=True, capture_output=True, text=True)
            row["tools"][t] = {
                "median_ms": statistics.median(times[t]) * 1e3,
                "times_ms": [round(x * 1e3, 1) for x in times[t]],
                "rss_kib": max(rss[t]),
                "bytes": os.path.getsize(out[t]),
                "wh": f"{wh[0]}x{wh[1]}",
                "dssim": float(d.stdout.split()[0]),
            }
        rows.append(row)
        v = row["tools"]["vips"]["median_ms"]
        print(
            f"{name}: " + ", ".join(f"{t} {row['tools'][t]['median_ms']:.0f} ms" for t in tools) + f" (vips {v:.0f})",
            file=sys.stderr,
            flush=True,
        )

    # Warm, in-process: fitbox-core (single thread) and pyvips.
    warm_f = subprocess.run(
        [a.warm, "--runs", str(a.warm_runs)] + a.photos,
        check=True,
        capture_output=True,
        text=True,
        env=dict(os.environ, FITBOX_WARM_STAGES="1"),
    ).stdout
    warm_v = subprocess.run(
        [a.python, os.path.join(here, "vips_warm.py"), str(a.warm_runs)] + a.photos,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    wf = {os.path.basename(l.split("\t")[0]): l.split("\t") for l in warm_f.strip().splitlines()}
    wv = {os.path.basename(l.split("\t")[0]): l.split("\t") for l in warm_v.strip().splitlines()}
    load_end = os.getloadavg()

    def ver(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0].strip()
        except Exception:
            return "?"

    import PIL
    import pyvips  # noqa: F401  (only for its version)

    rev = ver(["git", "-C", here, "rev-parse", "--short", "HEAD"])
    lines = []
    lines.append("# fitbox benchmark results\n")
    lines.append("Written by `make bench` (`scripts/bench.sh`); do not edit by hand.\n")
    lines.append(f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, fitbox at {rev}")
    cpu = "?"
    try:
        for l in open("/proc/cpuinfo"):
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines.append(f"- machine: {platform.platform()}, {os.cpu_count()} CPUs ({cpu}); shared with other builds")
    lines.append(f"- load average (1/5/15 min): start {load_start[0]:.2f}/{load_start[1]:.2f}/{load_start[2]:.2f}, "
                 f"end {load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f}")
    lines.append(f"- versions: {ver(['rustc', '-V'])}; {ver(['vipsthumbnail', '--vips-version'])}; "
                 f"{ver([CONVERT, '-version'])}; Pillow {PIL.__version__}; pyvips {pyvips.__version__}; "
                 f"{a.dssim_version}")
    lines.append(f"- {a.rounds} rounds per photo, tools alternating (order rotates each round); "
                 f"median wall time of the whole process; peak RSS = max ru_maxrss over rounds")
    lines.append("- commands: `fitbox thumbnail IN -o OUT` (release, q85 default); "
                 "`vipsthumbnail -s 400x400 -e srgb -o OUT[Q=85,strip] IN`; "
                 "`convert IN -auto-orient [-profile srgb.icc if ICC] -filter Lanczos2 -resize 400x400 -quality 85 -strip OUT`; "
                 "Pillow `thumbnail((400,400), LANCZOS)` + exif_transpose + ICC->sRGB + save q85 (bench/pillow_thumb.py, "
                 "includes Python start-up). Metadata stripped everywhere (fitbox and Pillow write none), "
                 "so bytes compare pixels only")
    lines.append("- DSSIM (lower is better; dssim CLI, outputs decoded to PNG by ImageMagick first) against a "
                 "reference: full-size decode by Pillow, EXIF-oriented, ICC->sRGB (bench/full_decode.py), then "
                 "`convert full.png -colorspace RGB -filter Lanczos2 -resize WxH! -colorspace sRGB`, at each "
                 "output's own size. ImageMagick 6 ignores WebP EXIF orientation (its orient6 WebP comes out "
                 "400x300, unrotated)\n")
    lines.append("## Whole process\n")
    lines.append("| photo | size | load | tool | median ms | vs vips | peak RSS MiB | vs vips | bytes | DSSIM | out |")
    lines.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        v = row["tools"]["vips"]
        for i, t in enumerate(tools):
            x = row["tools"][t]
            lines.append(
                f"| {row['photo'] if i == 0 else ''} | {row['size'] if i == 0 else ''} | "
                f"{row['load']:.1f} | {t} | {x['median_ms']:.0f} | {x['median_ms'] / v['median_ms']:.2f}x | "
                f"{x['rss_kib'] / 1024:.0f} | {x['rss_kib'] / v['rss_kib']:.2f}x | {x['bytes']} | "
                f"{x['dssim']:.5f} | {x['wh']} |"
            )
    lines.append("\n## Warm, in-process, per image\n")
    lines.append("fitbox: `cargo run --release -p fitbox --example warm` (one thread, whole pipeline incl. "
                 f"JPEG encode, median of {a.warm_runs} after a warm-up). libvips: pyvips `thumbnail_buffer` + "
                 "`write_to_buffer('.jpg', Q=85)`, cache off (bench/vips_warm.py); CPU = all libvips threads.\n")
    lines.append("| photo | fitbox ms | libvips wall ms | libvips CPU ms | fitbox / libvips wall | fitbox breakdown |")
    lines.append("|---|---:|---:|---:|---:|---|")
    for row in rows:
        f = wf.get(row["photo"])
        v = wv.get(row["photo"])
        if not f or not v:
            continue
        lines.append(
            f"| {row['photo']} | {float(f[1]):.0f} | {float(v[1]):.0f} | {float(v[2]):.0f} | "
            f"{float(f[1]) / float(v[1]):.2f}x | {f[5].strip() if len(f) > 5 else ''} |"
        )
    if a.browser_json:
        with open(a.browser_json) as fh:
            br = json.load(fh)
        lines.append("\n## In the browser: preview in the page vs the browser's own resize\n")
        lines.append(
            f"{br['chromium']} headless (Debian Chromium, software rendering), the release web app "
            "(`trunk build --release`) served by the release `fitbox serve`; "
            f"{br['runs']} drops per photo on a page of its own, the first apart, medians of the later ones. "
            "*drop to preview*: from the file drop to the card "
            "showing fitbox-core's preview (reading the file, the Web Worker, painting); *in the worker*: "
            "fitbox-core's own time in the Web Worker (wasm32, simd128). *createImageBitmap*: "
            "`createImageBitmap(file, {resizeWidth, resizeHeight, resizeQuality: 'high'})` to the same "
            "size, drawn to a canvas and read back, on the main thread (the browser's native decoders and "
            "resampler; its pixels differ from the server's, which is why the app does not use it). "
            "From `tests/e2e/e2e.test.mjs` with `FITBOX_E2E_TIMING_OUT`.\n"
        )
        lines.append("| photo | size | first drop ms | later drops ms | in the worker ms (later) | createImageBitmap ms | first / createImageBitmap | worker / createImageBitmap |")
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|")

        def med(xs):
            xs = sorted(xs)
            return xs[len(xs) // 2]

        # Each photo has a page of its own: drop_to_preview_ms[0] is the first drop after the
        # page loaded (the preview worker warmed up by then), the rest are later drops.
        for name, t in sorted(br["photos"].items()):
            first, later = t["drop_to_preview_ms"][0], t["drop_to_preview_ms"][1:]
            d, w, b = med(later), med(t["worker_ms"][1:]), med(t["create_image_bitmap_ms"])
            lines.append(f"| {name} | {t['size']} | {first:.0f} | {d:.0f} | {w:.0f} | {b:.0f} | "
                         f"{first / b:.2f}x | {w / b:.2f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(a.results, "w") as fh:
        fh.write(text)
    with open(os.path.splitext(a.results)[0] + ".json", "w") as fh:
        json.dump({"rows": rows, "warm_fitbox": warm_f, "warm_vips": warm_v}, fh, indent=1)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
