//! Resource bounds of `fitbox thumbnail`, the code path the resize Lambda runs on one object.
//!
//! Each input runs in its own `fitbox thumbnail` process; the peak resident memory is the
//! child's `ru_maxrss` (from `wait4`, what `/usr/bin/time -f %M` prints) and the time is wall
//! clock. Every input must finish with a thumbnail (exit 0) or a clear refusal (exit 3 and a
//! one-line reason), within:
//!
//! * **[`MAX_RSS_MB`] = 450 MB** peak resident memory (a 512 MB Lambda keeps headroom for the
//!   runtime and the SDK), and
//! * **[`MAX_SECS`] = 20 s** per input (debug build of the CLI with the pipeline at opt-level 3;
//!   the resize Lambda's default timeout is 30 s). Measured on the 2-core CI box: every real photo
//!   and every hostile input below under 4 s.
//!
//! Inputs: every file of `../shared/testdata/{photos,edge}`, the largest images the default
//! limits accept (a 100 MP 8-bit RGB PNG, a 49 MP translucent RGBA PNG; core refuses images
//! whose decode and resize would need more than 4 bytes x `max_pixels`), and hostile inputs built
//! here: PNG text-chunk and ICC-profile decompression bombs, GIFs with huge logical screens around
//! a 1x1 frame, JPEGs whose headers declare huge sizes over a few bytes of data, and WebPs with
//! huge animation canvases or hundreds of thousands of frames.
//!
//! The measured peaks are printed (`cargo test -p fitbox --test bounds -- --nocapture`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod support;
use support::{testdata, BIN};

/// `fitbox thumbnail`'s exit status for a refused image (`fitbox thumbnail --help`).
const REFUSED: i32 = 3;
/// Peak resident memory bound for one `fitbox thumbnail` run, in MB.
const MAX_RSS_MB: u64 = 450;
/// Wall-clock bound for one `fitbox thumbnail` run, in seconds.
const MAX_SECS: u64 = 20;

#[derive(Debug)]
struct Run {
    /// Exit code (None: killed by a signal).
    code: Option<i32>,
    max_rss_mb: u64,
    elapsed: Duration,
    stderr: String,
}

/// Run `fitbox thumbnail input -o out` and measure it; kills it after twice the time bound.
fn thumbnail(input: &Path, out: &Path) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.arg("thumbnail").arg(input).arg("-o").arg(out);
    let m = support::run_measured(cmd, Duration::from_secs(2 * MAX_SECS));
    Run {
        code: m.code,
        max_rss_mb: m.peak_mb,
        elapsed: m.elapsed,
        stderr: m.stderr,
    }
}

/// Check one input against the bounds; returns the run for further assertions.
fn check(name: &str, input: &Path, dir: &Path) -> Run {
    let out = dir.join("out.bin");
    let run = thumbnail(input, &out);
    println!(
        "{name:<48} exit {:?} peak {:>4} MB {:>6.2} s {}",
        run.code,
        run.max_rss_mb,
        run.elapsed.as_secs_f64(),
        run.stderr.lines().next().unwrap_or("")
    );
    assert!(
        matches!(run.code, Some(0) | Some(REFUSED)),
        "{name}: neither a thumbnail nor a refusal: {run:?}"
    );
    if run.code == Some(REFUSED) {
        assert!(
            run.stderr.starts_with("fitbox: ") && run.stderr.trim().lines().count() == 1,
            "{name}: refusal without a one-line reason: {:?}",
            run.stderr
        );
    }
    assert!(
        run.max_rss_mb < MAX_RSS_MB,
        "{name}: peak memory {} MB >= {MAX_RSS_MB} MB",
        run.max_rss_mb
    );
    assert!(
        run.elapsed < Duration::from_secs(MAX_SECS),
        "{name}: took {:?} >= {MAX_SECS} s",
        run.elapsed
    );
    let _ = std::fs::remove_file(&out);
    run
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

// ---------- byte builders ----------

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend(fitbox_tests::png_chunk(kind, data));
}

/// zlib stream of `len` zero bytes (about 1000:1).
fn zlib_zeros(len: usize) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len());
        z.write_all(&block[..n]).unwrap();
        left -= n;
    }
    z.finish().unwrap()
}

fn png_ihdr(out: &mut Vec<u8>, w: u32, h: u32, depth: u8, colour: u8) {
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    png_chunk(out, b"IHDR", &ihdr);
}

/// A 1x1 RGB PNG carrying decompression bombs in its metadata: zTXt and compressed iTXt chunks
/// that inflate to 256 MiB each, an iCCP profile that inflates to 256 MiB, and 8 MiB of tEXt.
fn png_metadata_bomb(iccp: bool) -> Vec<u8> {
    let bomb = zlib_zeros(256 << 20);
    let mut out = Vec::new();
    png_ihdr(&mut out, 1, 1, 8, 2);
    if iccp {
        let mut c = b"bomb\0\0".to_vec();
        c.extend_from_slice(&bomb);
        png_chunk(&mut out, b"iCCP", &c);
    }
    for _ in 0..4 {
        let mut z = b"Comment\0\0".to_vec();
        z.extend_from_slice(&bomb);
        png_chunk(&mut out, b"zTXt", &z);
        let mut i = b"XML:com.adobe.xmp\0\x01\0\0\0".to_vec();
        i.extend_from_slice(&bomb);
        png_chunk(&mut out, b"iTXt", &i);
    }
    let mut t = b"Comment\0".to_vec();
    t.resize(8 << 20, b'a');
    png_chunk(&mut out, b"tEXt", &t);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&[0, 200, 100, 50]).unwrap();
    png_chunk(&mut out, b"IDAT", &z.finish().unwrap());
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A `w`x`h` PNG of one colour (8 bits per sample, `colour` 2 = RGB, 6 = RGBA at 16 bits when
/// `depth` is 16), its IDAT inflating to the full raw size.
fn png_flat(w: u32, h: u32, depth: u8, colour: u8) -> Vec<u8> {
    let channels = if colour == 6 { 4 } else { 3 };
    let row = 1 + w as usize * channels * (depth as usize / 8);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut line = vec![0x7fu8; row];
    line[0] = 0; // filter: none
    for _ in 0..h {
        z.write_all(&line).unwrap();
    }
    let idat = z.finish().unwrap();
    let mut out = Vec::new();
    png_ihdr(&mut out, w, h, depth, colour);
    for piece in idat.chunks(1 << 20) {
        png_chunk(&mut out, b"IDAT", piece);
    }
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A GIF whose logical screen is `w`x`h` with one 1x1 frame in its corner.
fn gif_huge_screen(w: u16, h: u16, frames: usize) -> Vec<u8> {
    let mut g = b"GIF89a".to_vec();
    g.extend_from_slice(&w.to_le_bytes());
    g.extend_from_slice(&h.to_le_bytes());
    g.extend_from_slice(&[0x80, 0, 0]); // global colour table of 2 entries
    g.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    for _ in 0..frames {
        g.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]); // 1x1 at (0,0)
        g.extend_from_slice(&[2, 2, 0x44, 0x01, 0]); // LZW: clear, 0, end
    }
    g.push(0x3B);
    g
}

/// A real small baseline JPEG with its SOF0 dimensions rewritten and its scan data cut to a
/// few bytes.
fn jpeg_declaring(w: u16, h: u16) -> Vec<u8> {
    let src = std::fs::read(testdata().join("edge/pillow_orientation_rectangle.jpg")).unwrap();
    let mut out = Vec::new();
    let mut i = 2;
    out.extend_from_slice(&src[..2]);
    while i + 4 <= src.len() {
        let marker = src[i + 1];
        let len = u16::from_be_bytes([src[i + 2], src[i + 3]]) as usize;
        let mut seg = src[i..i + 2 + len].to_vec();
        if marker == 0xC0 {
            seg[5..7].copy_from_slice(&h.to_be_bytes());
            seg[7..9].copy_from_slice(&w.to_be_bytes());
        }
        out.extend_from_slice(&seg);
        if marker == 0xDA {
            out.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 0xFF, 0xD9]);
            break;
        }
        i += 2 + len;
    }
    out
}

/// A `side`x`side` progressive CMYK JPEG (4:4:4) of smooth content, made here, with the ICC
/// profile of the CMYK edge file (its APP2 segments, inserted after SOI) when `profile`. The
/// pixels are made row by row as the encoder asks for them ([`SmoothCmyk`]), so this process
/// holds only the encoder's coefficients (2 bytes per sample) while it runs.
fn progressive_cmyk(side: u16, profile: bool) -> Vec<u8> {
    let mut jpeg = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut jpeg, 80);
    enc.set_progressive(true);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
    enc.encode_image(SmoothCmyk(side)).unwrap();
    if !profile {
        return jpeg;
    }
    let donor =
        std::fs::read(testdata().join("edge/sharp_Channel_digital_image_CMYK_color.jpg")).unwrap();
    let mut icc = Vec::new();
    let mut i = 2;
    while i + 4 <= donor.len() && donor[i + 1] != 0xDA {
        let len = u16::from_be_bytes([donor[i + 2], donor[i + 3]]) as usize;
        let seg = &donor[i..i + 2 + len];
        if donor[i + 1] == 0xE2 && seg[4..].starts_with(b"ICC_PROFILE\0") {
            icc.extend_from_slice(seg);
        }
        i += 2 + len;
    }
    assert!(icc.len() > 100_000, "the edge file's CMYK profile");
    [&jpeg[..2], &icc, &jpeg[2..]].concat()
}

/// A square CMYK image of gradients, side given, made row by row for jpeg-encoder (inverted,
/// as Adobe CMYK is written and as the encoder's own CMYK input does it).
struct SmoothCmyk(u16);

impl jpeg_encoder::ImageBuffer for SmoothCmyk {
    fn get_jpeg_color_type(&self) -> jpeg_encoder::JpegColorType {
        jpeg_encoder::JpegColorType::Cmyk
    }
    fn width(&self) -> u16 {
        self.0
    }
    fn height(&self) -> u16 {
        self.0
    }
    fn fill_buffers(&self, y: u16, buffers: &mut [Vec<u8>; 4]) {
        let n = u32::from(self.0);
        for x in 0..n {
            let px = [x * 255 / n, u32::from(y) * 255 / n, 64, 16];
            for (b, v) in buffers.iter_mut().zip(px) {
                b.push(255 - v as u8);
            }
        }
    }
}

fn riff_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(kind);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

fn u24(v: u32) -> [u8; 3] {
    [v as u8, (v >> 8) as u8, (v >> 16) as u8]
}

/// An animated WebP: a `w`x`h` canvas and `frames` copies of a real 1x1 VP8 frame.
fn webp_animation(w: u32, h: u32, frames: usize) -> Vec<u8> {
    let small = std::fs::read(testdata().join("edge/libwebp_small_1x1.webp")).unwrap();
    assert_eq!(&small[12..16], b"VP8 ");
    let n = u32::from_le_bytes(small[16..20].try_into().unwrap()) as usize;
    let mut vp8 = Vec::new();
    riff_chunk(&mut vp8, b"VP8 ", &small[20..20 + n]);

    let mut body = b"WEBP".to_vec();
    let mut vp8x = vec![0x02, 0, 0, 0]; // animation
    vp8x.extend_from_slice(&u24(w - 1));
    vp8x.extend_from_slice(&u24(h - 1));
    riff_chunk(&mut body, b"VP8X", &vp8x);
    riff_chunk(&mut body, b"ANIM", &[0, 0, 0, 0, 0, 0]);
    let mut anmf = Vec::new();
    anmf.extend_from_slice(&u24(0));
    anmf.extend_from_slice(&u24(0));
    anmf.extend_from_slice(&u24(0));
    anmf.extend_from_slice(&u24(0));
    anmf.extend_from_slice(&u24(10));
    anmf.push(0);
    anmf.extend_from_slice(&vp8);
    for _ in 0..frames {
        riff_chunk(&mut body, b"ANMF", &anmf);
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

// ---------- tests ----------

#[test]
fn every_test_photo_stays_within_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let mut peak = 0;
    for sub in ["photos", "edge"] {
        let mut files: Vec<_> = std::fs::read_dir(testdata().join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let name = format!("{sub}/{}", f.file_name().unwrap().to_string_lossy());
            peak = peak.max(check(&name, &f, tmp.path()).max_rss_mb);
        }
    }
    println!("peak over the test photos: {peak} MB");
}

#[test]
fn largest_accepted_images_stay_within_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    // 100 MP, the default pixel limit, as 8-bit RGB.
    let p = write(tmp.path(), "100mp.png", &png_flat(10_000, 10_000, 8, 2));
    let r = check("100 MP RGB PNG", &p, tmp.path());
    assert_eq!(r.code, Some(0), "{r:?}");
    // Images with transparency decode to RGBA and are resampled premultiplied (a second copy):
    // accepted up to the memory budget, 400 MB at the default limits, i.e. 50 MP of RGBA.
    let p = write(tmp.path(), "rgba.png", &png_flat(7_000, 7_000, 8, 6));
    let r = check("49 MP RGBA PNG (translucent)", &p, tmp.path());
    assert_eq!(r.code, Some(0), "{r:?}");
    let p = write(tmp.path(), "rgba16.png", &png_flat(10_000, 10_000, 16, 6));
    let r = check("100 MP RGBA 16-bit PNG", &p, tmp.path());
    assert_eq!(r.code, Some(REFUSED), "over the memory budget: {r:?}");
    // Progressive CMYK: 4 bytes per pixel of raw CMYK (with its profile; 3 of RGB without)
    // and 8 of coefficients, held until the last scan, count against the 400 MB budget:
    // 5600x5600 (31 MP, 376 MB with the profile) is decoded within the memory bound,
    // 6400x6400 (41 MP, 491 MB; 451 MB without) refused before decoding.
    for profile in [true, false] {
        let what = if profile { "with" } else { "without" };
        for (side, mp, code) in [(5_600, 31, Some(0)), (6_400, 41, Some(REFUSED))] {
            let p = write(tmp.path(), "cmyk.jpg", &progressive_cmyk(side, profile));
            let r = check(
                &format!("{mp} MP progressive CMYK {what} profile"),
                &p,
                tmp.path(),
            );
            assert_eq!(
                r.code, code,
                "decoded (0) or over the memory budget (2): {r:?}"
            );
            if code == Some(REFUSED) {
                assert!(r.stderr.contains("needs about"), "{r:?}");
            }
        }
    }
    // The longest side allowed, thin.
    let p = write(tmp.path(), "side.png", &png_flat(32_768, 4, 8, 2));
    assert_eq!(check("32768x4 PNG", &p, tmp.path()).code, Some(0));
}

#[test]
fn png_metadata_bombs_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "text-bomb.png", &png_metadata_bomb(false));
    let r = check(
        "PNG zTXt/iTXt bombs (8 x 256 MiB) + 8 MiB tEXt",
        &p,
        tmp.path(),
    );
    assert_eq!(
        r.code,
        Some(0),
        "the pixels are fine; the text is ignored: {r:?}"
    );
    let p = write(tmp.path(), "iccp-bomb.png", &png_metadata_bomb(true));
    check("PNG iCCP bomb (256 MiB) + text bombs", &p, tmp.path());
}

#[test]
fn gifs_with_huge_logical_screens_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "65535.gif", &gif_huge_screen(65_535, 65_535, 1));
    let r = check("GIF 65535x65535 screen, 1x1 frame", &p, tmp.path());
    assert_eq!(r.code, Some(REFUSED), "{r:?}");
    let p = write(tmp.path(), "10000.gif", &gif_huge_screen(10_000, 10_000, 1));
    check("GIF 10000x10000 screen, 1x1 frame", &p, tmp.path());
    let p = write(
        tmp.path(),
        "frames.gif",
        &gif_huge_screen(10_000, 10_000, 200_000),
    );
    check("GIF 10000x10000 screen, 200000 1x1 frames", &p, tmp.path());
}

#[test]
fn jpegs_declaring_huge_sizes_over_tiny_data_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    for (w, h) in [(60_000, 60_000), (32_768, 32_768), (65_535, 1)] {
        let p = write(tmp.path(), "huge.jpg", &jpeg_declaring(w, h));
        let r = check(
            &format!("JPEG declaring {w}x{h}, 6 bytes of scan"),
            &p,
            tmp.path(),
        );
        assert_eq!(r.code, Some(REFUSED), "{r:?}");
    }
    // Inside the limits: bounded either way (core now refuses these as truncated: too few scan
    // bytes for the declared size; `core/tests/corpus.rs` asserts the refusal itself).
    for (w, h) in [(10_000, 10_000), (32_000, 3_000)] {
        let p = write(tmp.path(), "big.jpg", &jpeg_declaring(w, h));
        check(
            &format!("JPEG declaring {w}x{h}, 6 bytes of scan"),
            &p,
            tmp.path(),
        );
    }
}

#[test]
fn webps_with_absurd_animations_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(
        tmp.path(),
        "canvas.webp",
        &webp_animation(16_384, 16_384, 1),
    );
    let r = check("WebP 16384x16384 canvas, one 1x1 frame", &p, tmp.path());
    assert_eq!(r.code, Some(REFUSED), "{r:?}");
    let p = write(tmp.path(), "big.webp", &webp_animation(10_000, 10_000, 1));
    check("WebP 10000x10000 canvas, one 1x1 frame", &p, tmp.path());
    let p = write(tmp.path(), "frames.webp", &webp_animation(64, 64, 250_000));
    check("WebP 64x64, 250000 frames", &p, tmp.path());
    let p = write(
        tmp.path(),
        "both.webp",
        &webp_animation(10_000, 10_000, 100_000),
    );
    check("WebP 10000x10000, 100000 frames", &p, tmp.path());
}
