//! The decoders' tests: routes, limits, refusals, and pixels against reference decoders. Tests
//! may reach across modules (the resampler, colour) to compare routes.

use std::io::Cursor;

use zune_core::bytestream::ZCursor;
use zune_jpeg::JpegDecoder;

use super::webp::riff::*;
use super::webp::*;
use super::whole::*;
use super::*;
use crate::fit::Filter;
use crate::pixels::{Layout, Shrink, Yuv420};
use crate::resize::resize;

/// A `side`x`side` box, shrinking only.
fn fit_box(side: u32) -> Target<'static> {
    Target {
        box_width: side,
        box_height: side,
        enlarge: false,
        shrink: &crate::Steps,
    }
}

/// A VP8 frame resampled to `to` as RGB, as the pipeline does it, with the chroma rectangle
/// `chroma`.
fn resample_vp8(
    frame: image_webp::vp8::Frame,
    size: (u32, u32),
    to: (u32, u32),
    chroma: (f64, f64, f64, f64),
) -> Result<Vec<u8>, Error> {
    crate::Steps.vp8(vp8_planes(frame, size, chroma)?, to)
}

fn shrunk(bytes: &[u8], side: u32) -> Decoded {
    let limits = Limits::default();
    let probe = crate::guard::probe(bytes, &limits).unwrap();
    decode(bytes, &probe, &limits, Some(fit_box(side))).unwrap()
}

/// A file of `core/tests/fixtures`.
fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A smooth `side`x`side` JPEG made here: CMYK (4:4:4, Adobe-inverted as jpeg-encoder
/// writes it) or RGB at 4:4:4, baseline or progressive, with `icc` embedded.
fn made_jpeg(side: u16, cmyk: bool, progressive: bool, icc: Option<&[u8]>) -> Vec<u8> {
    let n = usize::from(side);
    let channels = if cmyk { 4 } else { 3 };
    let pixels: Vec<u8> = (0..n * n * channels)
        .map(|i| ((i / channels) % n * 255 / n) as u8 ^ (i % channels) as u8)
        .collect();
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 85);
    enc.set_progressive(progressive);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
    if let Some(icc) = icc {
        enc.add_icc_profile(icc).unwrap();
    }
    let colour = if cmyk {
        jpeg_encoder::ColorType::Cmyk
    } else {
        jpeg_encoder::ColorType::Rgb
    };
    enc.encode(&pixels, side, side, colour).unwrap();
    out
}

/// Full-size decodes count every buffer against the budget (4 bytes x `max_pixels`): the
/// output (RGB 3 bytes, raw CMYK 4 bytes per pixel) and, for a progressive file, every
/// coefficient (2 bytes per sample, held until the last scan). Refused before decoding,
/// naming what it needs and the limit; the same sizes as baseline files pass.
#[test]
fn progressive_coefficients_and_cmyk_count_against_the_budget() {
    // 1000x1000 at 4:4:4: 3 MB of RGB, 4 MB of CMYK; a progressive file adds coefficients
    // of 6 MB (RGB) or 8 MB (CMYK).
    let limits = Limits {
        max_pixels: 2_000_000, // budget 8 MB
        ..Limits::default()
    };
    let profile = {
        let edge = fitbox_tests::read("edge/sharp_Channel_digital_image_CMYK_color.jpg");
        let mut d = JpegDecoder::new(ZCursor::new(&edge[..]));
        d.decode_headers().unwrap();
        d.icc_profile()
            .expect("the SWOP profile of the CMYK edge file")
    };
    let full = |bytes: &[u8]| {
        let probe = crate::guard::probe(bytes, &limits).unwrap();
        decode(bytes, &probe, &limits, None)
    };
    for (name, cmyk, icc, need_mb) in [
        ("RGB", false, None, 9),
        ("CMYK, no profile (zune converts)", true, None, 11),
        (
            "CMYK with its profile (raw CMYK kept)",
            true,
            Some(&profile[..]),
            12,
        ),
    ] {
        let baseline = full(&made_jpeg(1000, cmyk, false, icc))
            .unwrap_or_else(|e| panic!("baseline {name}: {e}"));
        assert_eq!((baseline.width, baseline.height), (1000, 1000), "{name}");
        match full(&made_jpeg(1000, cmyk, true, icc)) {
            Err(Error::TooMuchMemory {
                need_mb: need,
                limit_mb: 8,
                ..
            }) => assert_eq!(need, need_mb, "progressive {name}"),
            other => panic!("progressive {name}: {:?}", other.map(|d| d.layout)),
        }
    }
    // Shrink-on-load (jpeg-decoder at 1/8 scale, 125x125) still holds the full-size
    // coefficients: 6 MB of them and 0.09 MB of planes and RGB, over a 6 MB budget.
    let bytes = made_jpeg(1000, false, true, None);
    let small = |max_pixels| Limits {
        max_pixels,
        ..Limits::default()
    };
    let probe = crate::guard::probe(&bytes, &small(1_500_000)).unwrap();
    assert!(matches!(
        decode(&bytes, &probe, &small(1_500_000), Some(fit_box(50))),
        Err(Error::TooMuchMemory {
            need_mb: 6,
            limit_mb: 6,
            ..
        })
    ));
    let d = decode(&bytes, &probe, &small(2_000_000), Some(fit_box(50))).unwrap();
    assert!(d.width < 1000, "decoded at a reduced scale");
}

/// The frame header is read for every frame type, CMYK included, and progressive files
/// hold their coefficients: per component, whole MCUs of 8x8 blocks of 2-byte values.
#[test]
fn frame_headers_give_the_coefficient_bytes() {
    use super::jpeg::scans::Frame;
    let f = Frame::read(&made_jpeg(100, true, true, None)).unwrap();
    assert!(f.progressive);
    assert_eq!(f.coefficient_bytes(), 4 * 13 * 13 * 64 * 2);
    let f = Frame::read(&made_jpeg(100, true, false, None)).unwrap();
    assert!(!f.progressive);
    assert_eq!(f.coefficient_bytes(), 0);
    // 4:2:0: luma padded to 16x16 MCUs, chroma at half size.
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 85);
    enc.set_progressive(true);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    enc.encode(
        &[128; 100 * 100 * 3],
        100,
        100,
        jpeg_encoder::ColorType::Rgb,
    )
    .unwrap();
    let f = Frame::read(&out).unwrap();
    assert_eq!(f.coefficient_bytes(), (14 * 14 + 2 * 7 * 7) * 64 * 2);
    assert_eq!(
        Frame::read(b"\xFF\xD8\xFF\xDA\x00\x02"),
        None,
        "a scan before any frame"
    );
    assert_eq!(Frame::read(b"\xFF\xD8\xFF\xE0\x00"), None, "cut short");
    assert_eq!(Frame::read(b"GIF89a"), None);
}

/// `d` resampled to `w`x`h` with Lanczos2, as the pipeline resamples a whole decode.
fn resampled(d: Decoded, w: u32, h: u32) -> Vec<u8> {
    resize(d.data, d.width, d.height, d.layout, w, h, Filter::Lanczos2).unwrap()
}

/// jpeg-decoder's own RGB (its colour conversion) at `w`x`h`, a DCT scale of the file.
fn jpeg_decoder_rgb(bytes: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut dec = jpeg_decoder::Decoder::new(bytes);
    dec.read_info().unwrap();
    assert_eq!(dec.scale(w as u16, h as u16).unwrap(), (w as u16, h as u16));
    dec.decode().unwrap()
}

/// (largest, mean) absolute difference of two equally long byte strings.
fn difference(a: &[u8], b: &[u8]) -> (u8, f64) {
    assert_eq!(a.len(), b.len());
    let max = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    (max, sum as f64 / a.len() as f64)
}

/// JPEGs shrunk on load keep their YCbCr through the resampler and are converted to RGB
/// after it: the planes are jpeg-decoder's own (converted at the decoded size they give
/// exactly its RGB), and resampling before converting changes the thumbnail by no more than
/// rounding and clamping do.
#[test]
fn shrunk_ycbcr_jpegs_are_converted_after_resampling() {
    for rel in [
        "photos/mde_canon_eos_5d_mark_iii.jpg",
        "photos/jpegfiles_iphone_se2_display_p3.jpg",
        "photos/lomiri_Wine_by_Jakkub_Mede.jpg",
        "photos/lomiri_Kleiber_by_Lukas_Baubkus.jpg",
        "photos/lomiri_seeding_by_Clements_Engelhardt.jpg",
        "photos/mde_canon_eos_1000d_orient6.jpg",
        "edge/Landscape_6.jpg",
    ] {
        let bytes = fitbox_tests::read(rel);
        let d = shrunk(&bytes, 400);
        assert_eq!(d.layout, Layout::YCbCr, "{rel}");
        assert!(
            d.width < d.source_width,
            "{rel} is decoded at a reduced scale"
        );
        let own = jpeg_decoder_rgb(&bytes, d.width, d.height);
        let (converted, _) = crate::color::to_srgb(d.data.clone(), Layout::YCbCr, None);
        assert!(
            converted == own,
            "{rel}: converted planes differ from jpeg-decoder's RGB"
        );

        let (w, h) = (d.width.div_ceil(4), d.height.div_ceil(4));
        let late = resize(
            d.data,
            d.width,
            d.height,
            Layout::YCbCr,
            w,
            h,
            Filter::Lanczos2,
        );
        let (late, _) = crate::color::to_srgb(late.unwrap(), Layout::YCbCr, None);
        let early = resize(own, d.width, d.height, Layout::Rgb, w, h, Filter::Lanczos2);
        let (max, mean) = difference(&late, &early.unwrap());
        // Measured: max 3-7, mean 0.21-0.37 (YCbCr rounded to 8 bits once more).
        assert!(max <= 8 && mean < 0.5, "{rel}: max {max}, mean {mean}");
    }
}

/// Lossy WebPs that are shrunk take the plane route: it agrees with decoding the whole
/// image to RGB and resampling that within the rounding of the two routes (chroma resampled
/// from its own half size instead of from a bilinear upsampling).
#[test]
fn shrunk_lossy_webps_resample_their_planes() {
    let odd = fixture("seeding_301x201.webp");
    let jpeg = fitbox_tests::read("photos/jpegfiles_iphone_se2_display_p3.jpg");
    let mut header = JpegDecoder::new(ZCursor::new(&jpeg));
    header.decode_headers().unwrap();
    let p3 = header.icc_profile().unwrap();
    let p7000 = fitbox_tests::read("photos/mde_nikon_p7000_orient6.webp");
    for (rel, bytes, side) in [
        ("p7000", p7000.clone(), 400),
        (
            "bryce",
            fitbox_tests::read("photos/libwebp_bryce_panorama.webp"),
            400,
        ),
        (
            "hopper",
            fitbox_tests::read("edge/pillow_hopper_orientation_6.webp"),
            45,
        ),
        // Odd width and height: the chroma planes' last sample is half outside.
        ("odd", odd, 100),
        ("p7000 with a P3 profile", webp_with_iccp(&p7000, &p3), 400),
    ] {
        let d = shrunk(&bytes, side);
        let whole = decode_with_image(&bytes, Format::Webp, &Limits::default()).unwrap();
        assert_eq!(
            (d.source_width, d.source_height),
            (whole.width, whole.height)
        );
        assert!(
            d.width < whole.width && d.height < whole.height,
            "{rel} is shrunk"
        );
        assert_eq!(d.layout, Layout::Rgb);
        assert_eq!(d.orientation, whole.orientation, "{rel}");
        assert_eq!(d.icc, whole.icc, "{rel}");
        if rel.contains("P3") {
            assert_eq!(d.icc.as_deref(), Some(&p3[..]));
        }
        let early = resampled(whole, d.width, d.height);
        let (max, mean) = difference(&d.data, &early);
        // Measured: max 5-9, mean 0.30-0.72.
        assert!(max <= 16 && mean < 1.0, "{rel}: max {max}, mean {mean}");
    }
}

/// The chroma planes are resampled from where they stand: a window that starts or ends half
/// a chroma sample off, or (odd sizes) covers the whole last sample, takes the result further
/// from the whole-image route's, on the odd-sized fixture and on a photo.
#[test]
fn webp_chroma_is_resampled_from_where_it_stands() {
    for (name, bytes, (rw, rh)) in [
        ("odd", fixture("seeding_301x201.webp"), (100, 67)),
        (
            "p7000",
            fitbox_tests::read("photos/mde_nikon_p7000_orient6.webp"),
            (400, 300),
        ),
    ] {
        let whole = decode_with_image(&bytes, Format::Webp, &Limits::default()).unwrap();
        let (w, h) = (whole.width, whole.height);
        let reference = resampled(whole, rw, rh);
        let error = |crop: (f64, f64, f64, f64)| {
            let vp8 = riff_chunk(&bytes, b"VP8 ").unwrap();
            let frame = image_webp::vp8::Vp8Decoder::decode_frame(Cursor::new(vp8)).unwrap();
            let rgb = resample_vp8(frame, (w, h), (rw, rh), crop).unwrap();
            difference(&rgb, &reference).1
        };
        let (cw, ch) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
        let right = error((0.0, 0.0, cw, ch));
        let mut wrong = vec![
            (0.5, 0.0, cw - 0.5, ch),
            (0.0, 0.0, cw - 0.5, ch),
            (0.0, 0.5, cw, ch - 0.5),
            (0.0, 0.0, cw, ch - 0.5),
        ];
        if w % 2 == 1 {
            wrong.push((0.0, 0.0, cw.ceil(), ch.ceil()));
        }
        for crop in wrong {
            let off = error(crop);
            assert!(right < off, "{name}: {right} vs {off} from {crop:?}");
        }
        // And the route itself is this resampling.
        let d = shrunk(&bytes, rw.max(rh));
        assert_eq!((d.width, d.height), (rw, rh), "{name}");
        assert_eq!(difference(&d.data, &reference).1, right, "{name}");
    }
}

/// `webp` (an extended WebP) with `profile` in an ICCP chunk after its VP8X chunk.
fn webp_with_iccp(webp: &[u8], profile: &[u8]) -> Vec<u8> {
    assert_eq!(&webp[12..16], b"VP8X");
    let mut out = webp[..30].to_vec();
    out[20] |= 0x20; // the ICC flag
    out.extend_from_slice(b"ICCP");
    out.extend_from_slice(&(profile.len() as u32).to_le_bytes());
    out.extend_from_slice(profile);
    if profile.len() % 2 == 1 {
        out.push(0);
    }
    out.extend_from_slice(&webp[30..]);
    let riff = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    out
}

/// `vp8_yuv_to_rgb` is image-webp's own conversion: with nearest-sample chroma, each pixel
/// image-webp decodes equals the conversion of its Y and the U, V of its 2x2 block.
#[test]
fn vp8_conversion_is_image_webps() {
    let bytes = fitbox_tests::read("edge/pillow_hopper_orientation_6.webp");
    let frame = image_webp::vp8::Vp8Decoder::decode_frame(Cursor::new(
        riff_chunk(&bytes, b"VP8 ").unwrap(),
    ))
    .unwrap();
    let mut dec = image_webp::WebPDecoder::new(Cursor::new(&bytes)).unwrap();
    dec.set_lossy_upsampling(image_webp::UpsamplingMethod::Simple);
    let mut rgb = vec![0; dec.output_buffer_size().unwrap()];
    dec.read_image(&mut rgb).unwrap();
    let (w, h) = (usize::from(frame.width), usize::from(frame.height));
    let stride = w.next_multiple_of(16);
    let mut colours = std::collections::HashSet::new();
    for y in 0..h {
        for x in 0..w {
            let c = (y / 2) * stride / 2 + x / 2;
            let want = crate::color::ycc::vp8_yuv_to_rgb(
                frame.ybuf[y * stride + x],
                frame.ubuf[c],
                frame.vbuf[c],
            );
            let i = (y * w + x) * 3;
            assert_eq!(rgb[i..i + 3], want, "pixel {x},{y}");
            colours.insert(want);
        }
    }
    assert!(colours.len() > 1000, "a real picture, not one colour");
}

/// libwebp (the plane route) and image-webp's VP8 decoder give the same planes on every lossy
/// still WebP of the test data and the fixtures, the odd-sized one included.
#[test]
fn libwebp_planes_are_image_webps() {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for dir in ["photos", "edge"] {
        let root = fitbox_tests::testdata().join(dir);
        for entry in std::fs::read_dir(&root).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "webp") {
                files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.push((
        "seeding_301x201.webp".into(),
        fixture("seeding_301x201.webp"),
    ));
    let mut compared = 0;
    for (name, bytes) in files {
        let mut dec = image_webp::WebPDecoder::new(Cursor::new(&bytes)).unwrap();
        if dec.is_animated() || dec.has_alpha() || !dec.is_lossy() {
            continue;
        }
        let (w, h) = dec.dimensions();
        let frame = image_webp::vp8::Vp8Decoder::decode_frame(Cursor::new(
            riff_chunk(&bytes, b"VP8 ").unwrap(),
        ))
        .unwrap();
        let theirs = vp8_planes(frame, (w, h), (0.0, 0.0, 0.0, 0.0)).unwrap();
        let ours = fitbox_libwebp::decode_yuv(&bytes, w, h).unwrap();
        assert!(ours.y == theirs.y, "{name}: Y differs");
        assert!(
            ours.u == theirs.u && ours.v == theirs.v,
            "{name}: U or V differs"
        );
        compared += 1;
    }
    // Both photos, the 13x1, 1x1 and orientation-6 edge files and the fixture.
    assert!(compared >= 6, "{compared} WebPs compared");
}

/// A VP8 frame header that disagrees with the container's size is refused before the
/// decoder allocates planes for it; a file cut short is refused, not padded.
#[test]
fn bad_lossy_webps_are_refused_on_the_plane_route() {
    let bytes = fitbox_tests::read("edge/pillow_hopper_orientation_6.webp");
    let at = bytes
        .windows(3)
        .position(|w| w == [0x9d, 0x01, 0x2a])
        .unwrap();
    let mut wide = bytes.clone();
    wide[at + 3..at + 5].copy_from_slice(&16_000u16.to_le_bytes());
    let limits = Limits::default();
    let t = fit_box(45);
    match decode_webp_shrunk(&wide, &limits, t) {
        Err(Error::Corrupt { detail, .. }) => {
            assert!(detail.contains("16000x128"), "{detail}")
        }
        other => panic!("{:?}", other.map(|d| d.map(|d| (d.width, d.height)))),
    }
    // Cut inside the VP8 chunk: refused as cut short, with or without a box, naming the
    // chunk.
    let photo = fitbox_tests::read("photos/mde_nikon_p7000_orient6.webp");
    let vp8 = riff_chunk(&photo, b"VP8 ").unwrap();
    let end = vp8.as_ptr() as usize - photo.as_ptr() as usize + vp8.len();
    for cut in [end / 3, end * 2 / 3, end - 10] {
        let short = &photo[..cut];
        let probe = crate::guard::probe(short, &limits).unwrap();
        let target = fit_box(400);
        for target in [Some(target), None] {
            match decode(short, &probe, &limits, target) {
                Err(Error::Truncated { detail, .. }) => {
                    assert!(detail.starts_with("the VP8 chunk declares"), "{detail}")
                }
                other => panic!("cut at {cut}: {:?}", other.map(|d| (d.width, d.height))),
            }
        }
    }
}

/// A metadata chunk that declares more bytes than the file holds is refused before
/// image-webp allocates its declared size (found by `scripts/fuzz.sh`: 4 GB for an EXIF
/// chunk in a 3.6 KB file).
#[test]
fn webp_chunks_longer_than_the_file_are_refused_first() {
    let bytes = fitbox_tests::read("edge/pillow_hopper_orientation_6.webp");
    let exif = riff_chunk(&bytes, b"EXIF").expect("the file has EXIF");
    let at = exif.as_ptr() as usize - bytes.as_ptr() as usize - 4;
    let mut huge = bytes.clone();
    huge[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let limits = Limits::default();
    let probe = crate::guard::probe(&huge, &limits).unwrap();
    let target = fit_box(45);
    for target in [Some(target), None] {
        match decode(&huge, &probe, &limits, target) {
            Err(Error::Truncated { detail, .. }) => {
                assert!(
                    detail.contains("EXIF chunk declares 4294967280 bytes"),
                    "{detail}"
                )
            }
            other => panic!("{:?}", other.map(|d| (d.width, d.height))),
        }
    }
}

/// Bytes after the RIFF data are ignored, as image-webp and libwebp ignore them, even when
/// they look like a chunk header declaring more than the file holds; a chunk inside the
/// first animation frame that runs past the end is refused like a top-level one.
#[test]
fn webp_chunk_checks_follow_what_image_webp_reads() {
    let limits = Limits::default();
    let target = fit_box(400);
    let p7000 = fitbox_tests::read("photos/mde_nikon_p7000_orient6.webp");
    let riff_end = 8 + u32::from_le_bytes(p7000[4..8].try_into().unwrap()) as usize;
    assert_eq!((riff_end, &p7000[12..16]), (p7000.len(), &b"VP8X"[..]));
    let simple = fixture("seeding_301x201.webp");
    assert_eq!(&simple[12..16], b"VP8 ");
    for (name, file, tail) in [
        (
            "zeros, then EXIF",
            &p7000,
            &b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0EXIF\xf0\xff\xff\xff"[..],
        ),
        (
            "an unknown chunk",
            &p7000,
            &b"junk\xf0\xff\xff\xff trailing"[..],
        ),
        (
            "EXIF after a simple file",
            &simple,
            &b"EXIF\xf0\xff\xff\xff"[..],
        ),
    ] {
        let junk = [&file[..], tail].concat();
        assert_eq!(riff_overrun(&junk), None, "{name}");
        let probe = crate::guard::probe(&junk, &limits).unwrap();
        let d = decode(&junk, &probe, &limits, Some(fit_box(100)));
        assert!(d.is_ok(), "{name}: {:?}", d.err());
    }
    // image-webp walks an extended file to the RIFF size counted from the end of the VP8X
    // chunk: with a long VP8X chunk that reaches past the RIFF data, where an EXIF chunk
    // declaring 4 GB is found and refused.
    let mut long = p7000[..30].to_vec();
    long[16..20].copy_from_slice(&2010u32.to_le_bytes());
    long.extend_from_slice(&[0; 2000]);
    long.extend_from_slice(&p7000[30..]);
    let riff = (long.len() - 8) as u32;
    long[4..8].copy_from_slice(&riff.to_le_bytes());
    long.extend_from_slice(b"JUNK\x40\0\0\0");
    long.extend_from_slice(&[0; 64]);
    long.extend_from_slice(b"EXIF\xf0\xff\xff\xff");
    let why = riff_overrun(&long).expect("refused");
    assert!(
        why.starts_with("the EXIF chunk declares 4294967280"),
        "{why}"
    );

    // An animation whose first frame holds an ICCP sub-chunk declaring 4 GB.
    let small = fitbox_tests::read("edge/libwebp_small_1x1.webp");
    let vp8 = riff_chunk(&small, b"VP8 ").unwrap();
    let mut frame = vec![0u8; 16];
    frame[6..9].copy_from_slice(&[0, 0, 0]); // 1x1: width - 1 and height - 1 are 0
    frame.extend_from_slice(b"ICCP\xf0\xff\xff\xff");
    frame.extend_from_slice(&[0; 8]);
    frame.extend_from_slice(b"VP8 ");
    frame.extend_from_slice(&(vp8.len() as u32).to_le_bytes());
    frame.extend_from_slice(vp8);
    let mut body = b"WEBP".to_vec();
    let mut chunk = |kind: &[u8; 4], payload: &[u8]| {
        body.extend_from_slice(kind);
        body.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        body.extend_from_slice(payload);
        if payload.len() % 2 == 1 {
            body.push(0);
        }
    };
    chunk(b"VP8X", &[0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    chunk(b"ANIM", &[0, 0, 0, 0, 0, 0]);
    chunk(b"ANMF", &frame);
    let mut anim = b"RIFF".to_vec();
    anim.extend_from_slice(&(body.len() as u32).to_le_bytes());
    anim.extend_from_slice(&body);
    let why = riff_overrun(&anim).expect("refused");
    assert!(
        why.starts_with("in the first frame, the ICCP chunk declares"),
        "{why}"
    );
    let probe = crate::guard::probe(&anim, &limits).unwrap();
    for target in [Some(target), None] {
        assert!(matches!(
            decode(&anim, &probe, &limits, target),
            Err(Error::Truncated { .. })
        ));
    }
}

/// A VP8 chunk whose declared size matches its shortened data (so the RIFF structure is
/// whole) is refused as corrupt on both routes by the VP8 decoder itself: libwebp (shrinking)
/// and image-webp (whole).
#[test]
fn a_short_vp8_frame_is_refused_on_both_routes() {
    let photo = fitbox_tests::read("photos/mde_nikon_p7000_orient6.webp");
    let vp8 = riff_chunk(&photo, b"VP8 ").unwrap();
    let start = vp8.as_ptr() as usize - photo.as_ptr() as usize;
    let limits = Limits::default();
    let target = fit_box(400);
    for keep in [vp8.len() / 3, vp8.len() * 2 / 3] {
        let keep = keep & !1;
        let mut short = photo[..start].to_vec();
        short[start - 4..start].copy_from_slice(&(keep as u32).to_le_bytes());
        short.extend_from_slice(&vp8[..keep]);
        short.extend_from_slice(&photo[start + vp8.len() + (vp8.len() & 1)..]);
        let riff = (short.len() - 8) as u32;
        short[4..8].copy_from_slice(&riff.to_le_bytes());
        assert_eq!(riff_overrun(&short), None);
        let probe = crate::guard::probe(&short, &limits).unwrap();
        for (target, says) in [
            (Some(target), "not enough data"),
            (None, "Corrupt bitstream"),
        ] {
            match decode(&short, &probe, &limits, target) {
                Err(Error::Corrupt { detail, .. }) => assert!(detail.contains(says), "{detail}"),
                other => panic!("{keep}: {:?}", other.map(|d| (d.width, d.height))),
            }
        }
    }
}

/// `bytes` with the frame's and the first scan's component ids 1, 2, 3 renamed to `ids`.
fn with_component_ids(bytes: &[u8], ids: [u8; 3]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut i = 2;
    loop {
        let len = u16::from_be_bytes([out[i + 2], out[i + 3]]) as usize;
        match out[i + 1] {
            0xC0..=0xC2 => {
                for (k, id) in ids.iter().enumerate() {
                    assert_eq!(out[i + 10 + 3 * k], k as u8 + 1);
                    out[i + 10 + 3 * k] = *id;
                }
            }
            0xDA => {
                for (k, id) in ids.iter().enumerate() {
                    assert_eq!(out[i + 5 + 2 * k], k as u8 + 1);
                    out[i + 5 + 2 * k] = *id;
                }
                return out;
            }
            _ => {}
        }
        i += 2 + len;
    }
}

/// Only ids 1, 2, 3 are certainly YCbCr to jpeg-decoder; with others (here 'R', 'G', 'B')
/// it chooses the conversion itself and the pixels come out as the RGB it made.
#[test]
fn other_component_ids_leave_the_conversion_to_jpeg_decoder() {
    let bytes = fitbox_tests::read("edge/Landscape_6.jpg");
    let rgb = with_component_ids(&bytes, *b"RGB");
    let d = shrunk(&rgb, 400);
    assert_eq!(d.layout, Layout::Rgb);
    assert!(d.width < d.source_width);
    assert!(d.data == jpeg_decoder_rgb(&rgb, d.width, d.height));
    // The same file with its own ids is YCbCr: the renaming is what changed the route.
    assert_eq!(shrunk(&bytes, 400).layout, Layout::YCbCr);
}

/// The picture of an image-webp VP8 frame (`width x height`) as compact planes: the decoder's are
/// whole macroblocks wide and high, and only the picture's pixels are kept (in place, row by
/// row: each row moves to an earlier or the same place).
fn vp8_planes(
    frame: image_webp::vp8::Frame,
    (width, height): (u32, u32),
    chroma: (f64, f64, f64, f64),
) -> Result<Yuv420, Error> {
    let stride = width.next_multiple_of(16) as usize;
    let (cw, ch) = (width.div_ceil(2) as usize, height.div_ceil(2) as usize);
    let compact = |mut plane: Vec<u8>, stride: usize, w: usize, h: usize| {
        if plane.len() < stride * h {
            return Err(Error::Internal("VP8 plane smaller than its picture".into()));
        }
        for row in 1..h {
            plane.copy_within(row * stride..row * stride + w, row * w);
        }
        plane.truncate(w * h);
        Ok(plane)
    };
    let (w, h) = (width as usize, height as usize);
    Ok(Yuv420 {
        y: compact(frame.ybuf, stride, w, h)?,
        u: compact(frame.ubuf, stride / 2, cw, ch)?,
        v: compact(frame.vbuf, stride / 2, cw, ch)?,
        size: (width, height),
        chroma,
    })
}
