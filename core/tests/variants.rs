#![cfg(not(target_arch = "wasm32"))]
//! Input variants the shared corpus lacks, built in the test (or kept small in `fixtures/`, see
//! `fixtures/NOTICE`) from a known image and checked by pixel content against the same image's
//! thumbnail through a plain path: lossless WebP (VP8L), CMYK JPEGs without a profile and plain
//! Adobe CMYK, EXIF orientation in PNG `eXIf` and in WebP's VP8X `EXIF` chunk, and the absence
//! of every metadata segment in the output.

use fitbox_core::{preview, thumbnail, Options, OutputFormat, Preview};
use fitbox_tests::read;
use image::metadata::Orientation;
use image::{DynamicImage, ImageFormat};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{FIXTURES}/{name}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Mean absolute difference per byte between two images of the same size.
fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "sizes differ");
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.len() as f64
}

fn boxed(side: u32) -> Options {
    Options {
        box_width: side,
        box_height: side,
        ..Options::default()
    }
}

fn png_bytes(img: &DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .expect("PNG encode");
    out.into_inner()
}

/// A lossless (VP8L) WebP of `img`, in the simple `RIFF WEBP VP8L` layout.
fn webp_lossless(img: &DynamicImage) -> Vec<u8> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    let (color, data) = if img.color().has_alpha() {
        (image::ExtendedColorType::Rgba8, img.to_rgba8().into_raw())
    } else {
        (image::ExtendedColorType::Rgb8, img.to_rgb8().into_raw())
    };
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .write_image(&data, img.width(), img.height(), color)
        .expect("WebP encode");
    assert_eq!(&out[..4], b"RIFF");
    assert_eq!(&out[8..16], b"WEBPVP8L", "not a simple lossless WebP");
    out
}

// ---------------------------------------------------------------------------------------------
// 1. Lossless WebP

/// A VP8L WebP decodes to exactly the pixels it was made from, so its thumbnail must be the
/// very thumbnail of a PNG of the same pixels: opaque (JPEG out) and with alpha (PNG out),
/// shrunk and kept at its size.
#[test]
fn lossless_webp_thumbnail_equals_the_png_thumbnail() {
    let cases = [
        (
            "edge/Landscape_1.jpg",
            Options::default(),
            OutputFormat::Jpeg,
        ),
        (
            "edge/sharp_blackbug.png",
            Options::default(),
            OutputFormat::Png,
        ),
        ("edge/sharp_blackbug.png", boxed(2048), OutputFormat::Png),
    ];
    for (file, opts, format) in cases {
        let img = image::load_from_memory(&read(file)).expect("decode");
        // The reference PNG is RGBA: an opaque 8-bit RGB PNG that is shrunk is resampled in
        // groups of rows as it is inflated, which can differ from the WebP's whole-image
        // resample by a level of rounding. An RGBA PNG is decoded whole like the WebP (opaque
        // RGBA becomes RGB first), so the pixels must be identical.
        let reference = DynamicImage::ImageRgba8(img.to_rgba8());
        let png = thumbnail(&png_bytes(&reference), &opts).expect("PNG thumbnail");
        let webp_bytes = webp_lossless(&img);
        let webp = thumbnail(&webp_bytes, &opts).expect("WebP thumbnail");
        assert_eq!(webp.source.format, fitbox_core::Format::Webp, "{file}");
        assert_eq!(
            (webp.source.width, webp.source.height),
            (img.width(), img.height())
        );
        assert_eq!(webp.format, format, "{file}");
        assert_eq!((webp.width, webp.height), (png.width, png.height), "{file}");
        assert_eq!(webp.pixel_sha256, png.pixel_sha256, "{file}: pixels differ");
        assert_eq!(webp.bytes, png.bytes, "{file}: encoded bytes differ");
        // And not trivially: the preview holds a picture (the bug: black at 256 alphas), not a
        // flat fill.
        let p = preview(&webp_bytes, &opts).unwrap();
        let colours: std::collections::HashSet<&[u8]> = p.rgba.chunks_exact(4).collect();
        assert!(colours.len() >= 200, "{file}: {} colours", colours.len());
    }
}

// ---------------------------------------------------------------------------------------------
// 2. CMYK without a profile, and plain (non-YCCK) Adobe CMYK

/// RGB to CMYK ink values (0 = no ink) with black extraction, the inverse of
/// `R = (255 - C)(255 - K) / 255`.
fn naive_cmyk(rgb: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rgb.len() / 3 * 4);
    for p in rgb.chunks_exact(3) {
        let max = u32::from(*p.iter().max().unwrap());
        let k = 255 - max;
        // Black (max 0) has no other ink.
        let ink = |v: u8| {
            ((max - u32::from(v)) * 255 + max / 2)
                .checked_div(max)
                .unwrap_or(0) as u8
        };
        out.extend_from_slice(&[ink(p[0]), ink(p[1]), ink(p[2]), k as u8]);
    }
    out
}

/// A plain CMYK JPEG (Adobe APP14 transform 0, values stored inverted as Adobe does), built
/// with jpeg-encoder. ImageMagick 6 writes CMYK JPEGs only as YCCK (transform 2), which the
/// fixture covers.
fn plain_adobe_cmyk_jpeg(rgb: &image::RgbImage) -> Vec<u8> {
    let cmyk = naive_cmyk(rgb.as_raw());
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 95);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
    enc.encode(
        &cmyk,
        rgb.width() as u16,
        rgb.height() as u16,
        jpeg_encoder::ColorType::Cmyk,
    )
    .expect("CMYK encode");
    out
}

/// JPEG segments before the first scan: (marker, payload).
fn jpeg_segments(b: &[u8]) -> Vec<(u8, &[u8])> {
    assert_eq!(&b[..2], [0xFF, 0xD8], "not a JPEG");
    let mut out = Vec::new();
    let mut i = 2;
    while i + 4 <= b.len() {
        assert_eq!(b[i], 0xFF, "lost marker sync at {i}");
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
        out.push((marker, &b[i + 4..i + 2 + len]));
        if marker == 0xDA {
            break;
        }
        i += 2 + len;
    }
    out
}

/// The Adobe APP14 transform byte (0 = plain CMYK, 2 = YCCK).
fn adobe_transform(jpeg: &[u8]) -> Option<u8> {
    jpeg_segments(jpeg)
        .into_iter()
        .find(|(m, p)| *m == 0xEE && p.starts_with(b"Adobe"))
        .map(|(_, p)| p[11])
}

/// `jpeg` with `icc` embedded as APP2 `ICC_PROFILE` segments right after SOI.
fn with_icc(jpeg: &[u8], icc: &[u8]) -> Vec<u8> {
    let chunks: Vec<&[u8]> = icc.chunks(65_000).collect();
    let mut out = jpeg[..2].to_vec();
    for (n, chunk) in chunks.iter().enumerate() {
        out.extend_from_slice(&[0xFF, 0xE2]);
        out.extend_from_slice(&((2 + 12 + 2 + chunk.len()) as u16).to_be_bytes());
        out.extend_from_slice(b"ICC_PROFILE\0");
        out.extend_from_slice(&[n as u8 + 1, chunks.len() as u8]);
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// The ICC profile a JPEG carries (its APP2 chunks joined in order).
fn icc_of(jpeg: &[u8]) -> Vec<u8> {
    let mut parts: Vec<(u8, &[u8])> = jpeg_segments(jpeg)
        .into_iter()
        .filter(|(m, p)| *m == 0xE2 && p.starts_with(b"ICC_PROFILE\0"))
        .map(|(_, p)| (p[12], &p[14..]))
        .collect();
    parts.sort_by_key(|(n, _)| *n);
    parts.into_iter().flat_map(|(_, p)| p.to_vec()).collect()
}

/// A profile header that says CMYK but that no colour-management module can use (no tags):
/// the pipeline takes the CMYK branch of the decoder, then falls back to the naive
/// `(255 - C)(255 - K)` conversion of `color.rs`.
fn unusable_cmyk_profile() -> Vec<u8> {
    let mut p = vec![0u8; 132];
    p[0..4].copy_from_slice(&132u32.to_be_bytes());
    p[8] = 2; // version 2.0
    p[12..16].copy_from_slice(b"prtr");
    p[16..20].copy_from_slice(b"CMYK");
    p[20..24].copy_from_slice(b"Lab ");
    p[36..40].copy_from_slice(b"acsp");
    p
}

fn rgb_preview(bytes: &[u8]) -> Preview {
    let p = preview(bytes, &Options::default()).expect("preview");
    assert_eq!((p.width, p.height), (160, 120));
    assert!(p.opaque);
    p
}

/// CMYK JPEGs of `fixtures/rgb_source.png` must come out looking like it: a mean difference
/// under 1.5 levels when the conversion is the naive one the JPEGs were made with (only JPEG
/// loss between; 0.2-0.5 seen), under 16 through a real press profile (about 11 seen: the
/// profile is not the naive formula), and never like the inverted image (what a missed or
/// doubled Adobe inversion gives; about 70 away) or noise.
#[test]
fn cmyk_jpegs_without_profile_and_plain_adobe_cmyk_look_like_their_source() {
    let source_png = fixture("rgb_source.png");
    let source = rgb_preview(&source_png);
    let inverted: Vec<u8> = source
        .rgba
        .chunks_exact(4)
        .flat_map(|p| [255 - p[0], 255 - p[1], 255 - p[2], 255])
        .collect();
    let rgb = image::load_from_memory(&source_png).unwrap().to_rgb8();

    let ycck = fixture("adobe_ycck_noicc.jpg");
    assert_eq!(adobe_transform(&ycck), Some(2), "fixture is YCCK");
    let plain = plain_adobe_cmyk_jpeg(&rgb);
    assert_eq!(adobe_transform(&plain), Some(0), "plain Adobe CMYK");
    // A real CMYK press profile (the corpus' CMYK photo carries one).
    let press = icc_of(&read("edge/sharp_Channel_digital_image_CMYK_color.jpg"));
    assert_eq!(&press[16..20], b"CMYK");
    let bogus = unusable_cmyk_profile();

    // (name, bytes, bound on the mean difference from the source)
    let cases: [(&str, Vec<u8>, f64); 6] = [
        // No profile: the decoder's own CMYK/YCCK -> RGB.
        ("YCCK, no profile (ImageMagick)", ycck.clone(), 1.5),
        ("plain Adobe CMYK, no profile", plain.clone(), 1.5),
        // A CMYK profile nobody can use: the JPEG codec's CMYK branch (Adobe inversion or YCCK),
        // then color.rs' naive conversion.
        ("YCCK, unusable profile", with_icc(&ycck, &bogus), 1.5),
        (
            "plain Adobe CMYK, unusable profile",
            with_icc(&plain, &bogus),
            1.5,
        ),
        // Through qcms and a press profile: not the naive conversion, so farther, but close.
        ("YCCK, press profile", with_icc(&ycck, &press), 16.0),
        (
            "plain Adobe CMYK, press profile",
            with_icc(&plain, &press),
            16.0,
        ),
    ];
    let mut got = Vec::new();
    for (name, bytes, bound) in &cases {
        let p = rgb_preview(bytes);
        assert_eq!(p.source.format, fitbox_core::Format::Jpeg);
        let d = mean_abs_diff(&p.rgba, &source.rgba);
        let inv = mean_abs_diff(&p.rgba, &inverted);
        eprintln!("{name}: mean difference {d:.2} from the source, {inv:.2} from its inverse");
        assert!(d < *bound, "{name}: mean difference {d:.2} >= {bound}");
        assert!(
            inv > 50.0 && inv > 4.0 * d,
            "{name}: looks inverted ({inv:.2} from the inverse, {d:.2} from the source)"
        );
        got.push(p);
    }
    // Plain CMYK and YCCK hold the same ink values: through the same profile they must agree
    // (the YCCK path is checked against libvips on the corpus photo in corpus.rs).
    let d = mean_abs_diff(&got[4].rgba, &got[5].rgba);
    assert!(
        d < 3.0,
        "plain CMYK and YCCK disagree by {d:.2} through one profile"
    );
    // The press profile really was applied (not silently skipped for the naive path).
    let d = mean_abs_diff(&got[4].rgba, &got[2].rgba);
    assert!(d > 2.0, "press profile made no difference ({d:.2})");
}

// ---------------------------------------------------------------------------------------------
// 3 and 4. EXIF orientation in PNG eXIf and WebP EXIF chunks, by pixel content

/// A TIFF-format EXIF block with one IFD0 entry: Orientation = `o`.
fn exif_orientation(o: u16, big_endian: bool) -> Vec<u8> {
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut e = Vec::new();
    e.extend_from_slice(if big_endian { b"MM" } else { b"II" });
    e.extend_from_slice(&u16b(42));
    e.extend_from_slice(&u32b(8)); // IFD0 offset
    e.extend_from_slice(&u16b(1)); // one entry
    e.extend_from_slice(&u16b(0x0112)); // Orientation
    e.extend_from_slice(&u16b(3)); // SHORT
    e.extend_from_slice(&u32b(1)); // count
    e.extend_from_slice(&u16b(o));
    e.extend_from_slice(&[0, 0]); // value padding
    e.extend_from_slice(&u32b(0)); // no next IFD
    e
}

/// `png` with `chunks` inserted right after IHDR (before IDAT, where eXIf must be).
fn png_with_chunks(png: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    assert_eq!(&png[12..16], b"IHDR");
    let after_ihdr = 8 + 8 + 13 + 4;
    let mut out = png[..after_ihdr].to_vec();
    for c in chunks {
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&png[after_ihdr..]);
    out
}

/// A RIFF chunk, padded to an even size.
fn riff_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = kind.to_vec();
    c.extend_from_slice(&(data.len() as u32).to_le_bytes());
    c.extend_from_slice(data);
    if data.len() % 2 == 1 {
        c.push(0);
    }
    c
}

/// An extended (VP8X) WebP: the VP8L bitstream of `simple` (a `RIFF WEBP VP8L` file of an
/// opaque `w x h` image) followed by an `EXIF` chunk holding `exif`.
fn webp_with_exif(simple: &[u8], w: u32, h: u32, exif: &[u8]) -> Vec<u8> {
    assert_eq!(&simple[12..16], b"VP8L");
    let len = u32::from_le_bytes(simple[16..20].try_into().unwrap()) as usize;
    let vp8l = &simple[20..20 + len];
    let mut vp8x = vec![0x08, 0, 0, 0]; // flags: EXIF present
    vp8x.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
    let mut body = b"WEBP".to_vec();
    body.extend(riff_chunk(b"VP8X", &vp8x));
    body.extend(riff_chunk(b"VP8L", vp8l));
    body.extend(riff_chunk(b"EXIF", exif));
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

/// The orientation that undoes `o` (a camera storing an upright scene with orientation `o`
/// stores it turned by the inverse).
fn inverse(o: u8) -> Orientation {
    let inv = match o {
        6 => 8,
        8 => 6,
        other => other, // 1..=5 and 7 are their own inverses
    };
    Orientation::from_exif(inv).unwrap()
}

/// `upright` as a camera with orientation `o` stores it.
fn stored(upright: &DynamicImage, o: u8) -> DynamicImage {
    let mut img = upright.clone();
    img.apply_orientation(inverse(o));
    img
}

/// An upright, asymmetric picture (every one of the 8 turns and flips of it differs): the
/// committed RGB fixture, a colour gradient with a white block top left and a dark disc
/// bottom right.
fn upright() -> DynamicImage {
    image::load_from_memory(&fixture("rgb_source.png")).unwrap()
}

/// Checks `make(stored image, o)`'s thumbnails against the upright image's, for orientations
/// 6 and 8 (which a 90° CW / CCW mix-up swaps), 3 and 5: exactly equal when the size is kept;
/// within rounding when shrunk (resampling runs before the turn, so the horizontal and
/// vertical passes swap, and each pass rounds and clamps Lanczos2's overshoot at the white
/// block's edges: a few levels there, a tenth of a level on average); far from what the wrong
/// turn gives.
fn check_orientation(what: &str, make: &dyn Fn(&DynamicImage, u8) -> Vec<u8>) {
    let up = upright();
    let up_png = png_bytes(&up);
    for opts in [Options::default(), boxed(80)] {
        let want = preview(&up_png, &opts).unwrap();
        for o in [6u8, 8, 3, 5] {
            let s = stored(&up, o);
            assert_ne!(s.to_rgb8().as_raw(), up.to_rgb8().as_raw());
            let bytes = make(&s, o);
            let got = preview(&bytes, &opts).unwrap_or_else(|e| panic!("{what} {o}: {e}"));
            assert_eq!(
                got.source.orientation.exif(),
                o,
                "{what}: orientation not read"
            );
            assert_eq!(
                (got.source.width, got.source.height),
                (s.width(), s.height()),
                "{what} {o}: source is the stored size"
            );
            assert_eq!(
                (got.width, got.height),
                (want.width, want.height),
                "{what} {o}: box {}",
                opts.box_width
            );
            if opts == Options::default() {
                assert!(
                    got.rgba == want.rgba,
                    "{what} {o}: pixels differ from the upright image's (mean {:.2})",
                    mean_abs_diff(&got.rgba, &want.rgba)
                );
                // What a mix-up gives: 8's turn for 6 and 6's for 8 (90° CW vs CCW); for 3, no
                // turn at all. The check above tells them apart by far.
                let wrong_o = match o {
                    6 => 8,
                    8 => 6,
                    _ => 1,
                };
                let mut wrong = s.clone();
                wrong.apply_orientation(Orientation::from_exif(wrong_o).unwrap());
                if (wrong.width(), wrong.height()) == (want.width, want.height) {
                    let d = mean_abs_diff(&wrong.to_rgba8().into_raw(), &want.rgba);
                    assert!(d > 20.0, "{what} {o}: the wrong turn is too close ({d:.2})");
                }
            } else {
                let d = mean_abs_diff(&got.rgba, &want.rgba);
                let max = got
                    .rgba
                    .iter()
                    .zip(&want.rgba)
                    .map(|(a, b)| a.abs_diff(*b))
                    .max()
                    .unwrap();
                assert!(
                    d < 0.5 && max <= 16,
                    "{what} {o}, shrunk: mean {d:.2}, max {max} from the upright image's"
                );
            }
        }
    }
}

#[test]
fn png_exif_chunk_orientation_is_applied_by_pixel_content() {
    check_orientation("PNG eXIf", &|s, o| {
        let exif = exif_orientation(u16::from(o), o % 2 == 0);
        png_with_chunks(&png_bytes(s), &[fitbox_tests::png_chunk(b"eXIf", &exif)])
    });
}

#[test]
fn webp_exif_chunk_orientation_is_applied_by_pixel_content() {
    // Standard TIFF-header EXIF, and Pillow's variant with an `Exif\0\0` prefix.
    check_orientation("WebP EXIF", &|s, o| {
        let exif = exif_orientation(u16::from(o), true);
        webp_with_exif(&webp_lossless(s), s.width(), s.height(), &exif)
    });
    check_orientation("WebP Exif\\0\\0 EXIF", &|s, o| {
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend(exif_orientation(u16::from(o), false));
        webp_with_exif(&webp_lossless(s), s.width(), s.height(), &exif)
    });
}

// ---------------------------------------------------------------------------------------------
// 6. No metadata in the output

/// Every marker of a JPEG file, in order, checking the structure on the way: segments up to the
/// first scan, then entropy-coded data in which `FF` is only ever stuffed (`FF 00`) or a
/// restart marker, up to `FF D9` at the very end (a COM or APPn hidden after the scan shows).
fn all_jpeg_markers(b: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out: Vec<(u8, Vec<u8>)> = jpeg_segments(b)
        .into_iter()
        .map(|(m, p)| (m, p.to_vec()))
        .collect();
    let (_, sos) = out.last().expect("segments").clone();
    let mut i = b.windows(2).position(|w| w == [0xFF, 0xDA]).expect("SOS") + 2 + sos.len() + 2;
    while i + 1 < b.len() {
        if b[i] == 0xFF && b[i + 1] != 0x00 && !(0xD0..=0xD7).contains(&b[i + 1]) {
            out.push((b[i + 1], Vec::new()));
            if b[i + 1] != 0xD9 {
                // Another segment after the scan: record it and keep walking its payload.
                let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
                out.last_mut().unwrap().1 = b[i + 4..i + 2 + len].to_vec();
                i += 2 + len;
                continue;
            }
            assert_eq!(i + 2, b.len(), "data after EOI");
        }
        i += 1;
    }
    out
}

/// The markers of a JPEG that fail the "nothing but pixels" rule: anything but one JFIF APP0
/// (what jpeg-encoder writes), quantisation and Huffman tables, restart interval, frame, scan
/// and end of image.
fn metadata_markers(jpeg: &[u8]) -> Vec<String> {
    let markers = all_jpeg_markers(jpeg);
    let mut bad = Vec::new();
    let mut app0 = 0;
    for (m, payload) in &markers {
        match m {
            0xE0 if payload.starts_with(b"JFIF\0") => app0 += 1,
            0xDB | 0xC4 | 0xDD | 0xC0 | 0xDA | 0xD9 => {}
            other => bad.push(format!(
                "{other:02X} {:?}",
                String::from_utf8_lossy(&payload[..payload.len().min(12)])
            )),
        }
    }
    if app0 > 1 {
        bad.push(format!("{app0} APP0 segments"));
    }
    assert_eq!(markers.last().map(|m| m.0), Some(0xD9), "no EOI at the end");
    bad
}

/// `jpeg` with a comment, an XMP packet and a Photoshop IRB added after SOI.
fn with_comment_and_xmp(jpeg: &[u8]) -> Vec<u8> {
    let seg = |m: u8, payload: &[u8]| {
        let mut s = vec![0xFF, m];
        s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(payload);
        s
    };
    let mut out = jpeg[..2].to_vec();
    out.extend(seg(0xFE, b"a secret comment"));
    out.extend(seg(
        0xE1,
        b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><gps>48.8584,2.2945</gps></x:xmpmeta>",
    ));
    out.extend(seg(0xED, b"Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\0"));
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn jpeg_outputs_carry_no_metadata_segments() {
    let commented = with_comment_and_xmp(&read("edge/Landscape_6.jpg"));
    // The checker itself sees what it must refuse.
    let seen = metadata_markers(&commented);
    assert!(seen.iter().any(|m| m.starts_with("FE")), "{seen:?}");
    assert!(seen.iter().any(|m| m.starts_with("E1")), "{seen:?}");
    assert!(seen.iter().any(|m| m.starts_with("ED")), "{seen:?}");

    let up = upright();
    let png_exif = png_with_chunks(
        &png_bytes(&up),
        &[
            fitbox_tests::png_chunk(b"eXIf", &exif_orientation(6, true)),
            fitbox_tests::png_chunk(b"tEXt", b"Comment\0a secret comment"),
        ],
    );
    let webp_exif = webp_with_exif(
        &webp_lossless(&up),
        up.width(),
        up.height(),
        &exif_orientation(8, true),
    );
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("EXIF (orientation 6)", read("edge/Landscape_6.jpg")),
        ("EXIF + COM + XMP + IRB", commented),
        (
            "XMP + Adobe RGB ICC",
            read("edge/pillow_xmp_test_adobergb.jpg"),
        ),
        (
            "Display P3 ICC + EXIF",
            read("photos/jpegfiles_iphone_se2_display_p3.jpg"),
        ),
        (
            "CMYK: EXIF, IRB, XMP, ICC, Adobe",
            read("edge/sharp_Channel_digital_image_CMYK_color.jpg"),
        ),
        ("PNG eXIf + tEXt", png_exif),
        ("WebP EXIF", webp_exif),
    ];
    for (what, bytes) in inputs {
        let t = thumbnail(&bytes, &Options::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(t.format, OutputFormat::Jpeg, "{what}");
        let bad = metadata_markers(&t.bytes);
        assert!(bad.is_empty(), "{what}: metadata in the output: {bad:?}");
        let app0 = all_jpeg_markers(&t.bytes)
            .iter()
            .filter(|(m, _)| *m == 0xE0)
            .count();
        assert_eq!(app0, 1, "{what}: one JFIF APP0");
    }
}

/// PNG chunks of a file, in order.
fn png_chunks(png: &[u8]) -> Vec<String> {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let mut out = Vec::new();
    let mut i = 8;
    while i + 8 <= png.len() {
        let len = u32::from_be_bytes(png[i..i + 4].try_into().unwrap()) as usize;
        out.push(String::from_utf8_lossy(&png[i + 4..i + 8]).into_owned());
        i += 12 + len;
    }
    out
}

#[test]
fn png_outputs_carry_only_image_chunks() {
    let img = image::load_from_memory(&read("edge/sharp_with-alpha.png")).unwrap();
    let input = png_with_chunks(
        &png_bytes(&img),
        &[
            fitbox_tests::png_chunk(b"eXIf", &exif_orientation(1, true)),
            fitbox_tests::png_chunk(b"tEXt", b"Comment\0a secret comment"),
            fitbox_tests::png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta/>"),
        ],
    );
    assert!(png_chunks(&input).contains(&"tEXt".to_string()));
    for file_bytes in [input, read("edge/its_interlaced_gray_alpha_icc.png")] {
        let t = thumbnail(&file_bytes, &Options::default()).unwrap();
        assert_eq!(t.format, OutputFormat::Png);
        let chunks = png_chunks(&t.bytes);
        assert!(
            chunks
                .iter()
                .all(|c| ["IHDR", "IDAT", "IEND"].contains(&c.as_str())),
            "{chunks:?}"
        );
        assert_eq!(chunks.last().map(String::as_str), Some("IEND"));
    }
}

/// A baseline JPEG written one scan per component (jpeg-encoder with optimised Huffman
/// tables, 4:2:0): zune-jpeg 0.5.15 decodes it with wrong colours (~110 levels off), so the
/// pipeline decodes it with jpeg-decoder. Its preview must look like its source, and so must a
/// thumbnail of fitbox's own thumbnail (someone uploads a thumbnail).
#[test]
fn one_scan_per_component_jpegs_and_fitbox_thumbnails_read_back_right() {
    let source = image::load_from_memory(&fixture("rgb_source.png"))
        .unwrap()
        .to_rgb8();
    let (w, h) = source.dimensions();
    let mut split = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut split, 90);
    enc.set_optimized_huffman_tables(true);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    enc.encode(
        source.as_raw(),
        w as u16,
        h as u16,
        jpeg_encoder::ColorType::Rgb,
    )
    .unwrap();
    let p = rgb_preview(&split);
    let rgb: Vec<u8> = p
        .rgba
        .chunks(4)
        .flat_map(|px| [px[0], px[1], px[2]])
        .collect();
    let d = mean_abs_diff(&rgb, source.as_raw());
    assert!(
        d < 3.0,
        "one scan per component: {d:.2} levels from the source"
    );

    // That decoder keeps every plane until the end (up to 6 bytes per pixel): under a pixel
    // limit of 20 000 (a decode budget of 80 000 bytes) the 19 200-pixel image (115 200 bytes)
    // is refused as too_much_memory, while the same image in one interleaved scan is not.
    let tight = Options {
        limits: fitbox_core::Limits {
            max_pixels: 20_000,
            ..Default::default()
        },
        ..Options::default()
    };
    let err = preview(&split, &tight).unwrap_err();
    assert_eq!(err.code(), "too_much_memory", "{err}");
    let mut interleaved = Vec::new();
    jpeg_encoder::Encoder::new(&mut interleaved, 90)
        .encode(
            source.as_raw(),
            w as u16,
            h as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    preview(&interleaved, &tight).expect("one interleaved scan fits the budget");

    // The last (Cr) scan cut to 3 bytes and closed with EOI: jpeg-decoder would fill the rest
    // with zeros; the pipeline refuses it as truncated.
    let last_sos = split
        .windows(2)
        .rposition(|w| w == [0xFF, 0xDA])
        .expect("a scan");
    let mut cut = split[..last_sos + 10 + 3].to_vec();
    cut.extend_from_slice(&[0xFF, 0xD9]);
    let err = thumbnail(&cut, &Options::default()).unwrap_err();
    assert_eq!(err.code(), "truncated", "{err}");

    // A thumbnail of a thumbnail, at the same size (no resampling): the same picture.
    let photo = read("photos/mde_canon_eos_5d_mark_iii.jpg");
    let first = thumbnail(&photo, &Options::default()).unwrap();
    let first_px = preview(&photo, &Options::default()).unwrap();
    let again = preview(&first.bytes, &Options::default()).unwrap();
    assert_eq!((again.width, again.height), (first.width, first.height));
    let d = mean_abs_diff(&again.rgba, &first_px.rgba);
    assert!(
        d < 3.0,
        "thumbnail of a thumbnail: {d:.2} levels from the first"
    );
}
