#![cfg(not(target_arch = "wasm32"))]
//! Every file of the shared test corpus (`../shared/testdata`, see its MANIFEST.md) goes through
//! the pipeline and must behave as its manifest row expects: output size and format, or the kind
//! of error. Missing test data is a failure, never a skip.

use fitbox_core::{preview, thumbnail, Options, OutputFormat};

use fitbox_tests::testdata;

use fitbox_tests::read;

#[derive(Debug)]
enum Expect {
    Ok(u32, u32, OutputFormat),
    Err(&'static str),
}
use Expect::*;
use OutputFormat::{Jpeg, Png};

const EXPECTED: &[(&str, Expect)] = &[
    (
        "photos/jpegfiles_iphone_se2_display_p3.jpg",
        Ok(400, 300, Jpeg),
    ),
    ("photos/libwebp_bryce_panorama.webp", Ok(400, 77, Jpeg)),
    (
        "photos/lomiri_Kleiber_by_Lukas_Baubkus.jpg",
        Ok(400, 225, Jpeg),
    ),
    ("photos/lomiri_Wine_by_Jakkub_Mede.jpg", Ok(267, 400, Jpeg)),
    (
        "photos/lomiri_seeding_by_Clements_Engelhardt.jpg",
        Ok(400, 225, Jpeg),
    ),
    ("photos/mde_canon_eos_1000d_orient6.jpg", Ok(267, 400, Jpeg)),
    ("photos/mde_canon_eos_5d_mark_iii.jpg", Ok(400, 267, Jpeg)),
    ("photos/mde_nikon_p7000_orient6.webp", Ok(300, 400, Jpeg)),
    ("photos/plasma_Altai_5120x2880.png", Ok(400, 225, Jpeg)),
    ("edge/Landscape_0.jpg", Ok(400, 267, Jpeg)),
    ("edge/Landscape_1.jpg", Ok(400, 267, Jpeg)),
    ("edge/Landscape_2.jpg", Ok(400, 267, Jpeg)),
    ("edge/Landscape_3.jpg", Ok(400, 267, Jpeg)),
    ("edge/Landscape_4.jpg", Ok(400, 267, Jpeg)),
    ("edge/Landscape_5.jpg", Ok(400, 267, Jpeg)),
    ("edge/Landscape_6.jpg", Ok(400, 267, Jpeg)),
    ("edge/Landscape_7.jpg", Ok(400, 267, Jpeg)),
    ("edge/Landscape_8.jpg", Ok(400, 267, Jpeg)),
    ("edge/Portrait_0.jpg", Ok(267, 400, Jpeg)),
    ("edge/Portrait_1.jpg", Ok(267, 400, Jpeg)),
    ("edge/Portrait_2.jpg", Ok(267, 400, Jpeg)),
    ("edge/Portrait_3.jpg", Ok(267, 400, Jpeg)),
    ("edge/Portrait_4.jpg", Ok(267, 400, Jpeg)),
    ("edge/Portrait_5.jpg", Ok(267, 400, Jpeg)),
    ("edge/Portrait_6.jpg", Ok(267, 400, Jpeg)),
    ("edge/Portrait_7.jpg", Ok(267, 400, Jpeg)),
    ("edge/Portrait_8.jpg", Ok(267, 400, Jpeg)),
    ("edge/attsaver_broken_text.jpg", Err("not_an_image")),
    ("edge/attsaver_ssrf_mvg.png", Err("not_an_image")),
    ("edge/attsaver_wrongextension.png", Ok(299, 400, Jpeg)),
    ("edge/imagers_anim.webp", Ok(200, 200, Png)),
    ("edge/imagers_apng_ball.png", Ok(100, 100, Png)),
    ("edge/imagers_interlaced.gif", Ok(32, 32, Jpeg)),
    ("edge/imagers_progressive_3.jpg", Ok(400, 289, Jpeg)),
    ("edge/its_interlaced_gray_alpha_icc.png", Ok(160, 278, Png)),
    ("edge/libpng_gray-8_256x1.png", Ok(256, 1, Jpeg)),
    ("edge/libwebp_small_13x1.webp", Ok(13, 1, Jpeg)),
    ("edge/libwebp_small_1x1.webp", Ok(1, 1, Jpeg)),
    ("edge/ljt_monkey12_12bit.jpg", Err("unsupported_variant")),
    (
        "edge/ljt_testimgari_arithmetic.jpg",
        Err("unsupported_variant"),
    ),
    ("edge/mde_iphone_xr_1x1.jpg", Ok(1, 1, Jpeg)),
    ("edge/pillow_broken.png", Err("corrupt")),
    (
        "edge/pillow_exif_imagemagick_orientation.png",
        Ok(400, 400, Jpeg),
    ),
    ("edge/pillow_hopper_orientation_6.webp", Ok(128, 128, Jpeg)),
    ("edge/pillow_orientation_rectangle.jpg", Ok(1, 2, Jpeg)),
    ("edge/pillow_tRNS_null_1x1.png", Ok(1, 1, Png)),
    ("edge/pillow_xmp_test_adobergb.jpg", Ok(400, 214, Jpeg)),
    ("edge/pngsuite_basn6a16.png", Ok(32, 32, Png)),
    ("edge/pngsuite_ftbbn3p08.png", Ok(32, 32, Png)),
    ("edge/pngsuite_ibasn6a16.png", Ok(32, 32, Png)),
    ("edge/sharp_65536-uint32-limit.png", Err("too_many_pixels")),
    (
        "edge/sharp_Channel_digital_image_CMYK_color.jpg",
        Ok(400, 266, Jpeg),
    ),
    ("edge/sharp_animated-loop-3.gif", Ok(370, 285, Jpeg)),
    ("edge/sharp_animated-loop-3.webp", Ok(370, 285, Jpeg)),
    ("edge/sharp_blackbug.png", Ok(400, 300, Png)),
    ("edge/sharp_corrupt-header.jpg", Err("corrupt")),
    ("edge/sharp_full-transparent.png", Ok(300, 300, Png)),
    ("edge/sharp_gain-map_ultrahdr.jpg", Ok(400, 225, Jpeg)),
    ("edge/sharp_grey-8bit-alpha.png", Ok(400, 300, Png)),
    ("edge/sharp_grey-plus-alpha.gif", Ok(2, 1, Png)),
    ("edge/sharp_p3.png", Ok(8, 8, Jpeg)),
    ("edge/sharp_truncated.jpg", Err("truncated")),
    ("edge/sharp_truncated.png", Err("truncated")),
    ("edge/sharp_with-alpha.png", Ok(256, 192, Png)),
    ("edge/vips_cd1.1.jpg", Ok(400, 281, Jpeg)),
    ("edge/vips_cogs.gif", Ok(85, 77, Png)),
    ("edge/vips_sample_16bit.png", Ok(262, 400, Jpeg)),
    ("edge/vips_truncated.gif", Err("truncated")),
    ("edge/widegamut_rgb-to-gbr-test.jpg", Ok(400, 400, Jpeg)),
];

#[test]
fn every_corpus_file_is_listed() {
    let root = testdata();
    let mut missing = Vec::new();
    for dir in ["photos", "edge"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let name = format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy());
            if !EXPECTED.iter().any(|(f, _)| *f == name) {
                missing.push(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "corpus files without an expectation: {missing:?}"
    );
}

#[test]
fn corpus_behaves_as_the_manifest_expects() {
    let opts = Options::default();
    let mut failures = Vec::new();
    for (file, expect) in EXPECTED {
        let bytes = read(file);
        let got = thumbnail(&bytes, &opts);
        match (expect, &got) {
            (Ok(w, h, fmt), Result::Ok(t)) => {
                if (t.width, t.height, t.format) != (*w, *h, *fmt) {
                    failures.push(format!(
                        "{file}: got {}x{} {:?}, expected {w}x{h} {fmt:?}",
                        t.width, t.height, t.format
                    ));
                }
                // The encoded bytes decode to the same size, and carry no metadata segments.
                let decoded = image::load_from_memory(&t.bytes)
                    .unwrap_or_else(|e| panic!("{file}: output does not decode: {e}"));
                assert_eq!((decoded.width(), decoded.height()), (*w, *h), "{file}");
                if *fmt == Jpeg {
                    assert!(!contains(&t.bytes, b"Exif\0"), "{file}: EXIF in output");
                    assert!(
                        !contains(&t.bytes, b"http://ns.adobe.com/xap"),
                        "{file}: XMP in output"
                    );
                }
            }
            (Err(code), Result::Err(e)) => {
                if e.code() != *code {
                    failures.push(format!(
                        "{file}: got error {} ({e}), expected {code}",
                        e.code()
                    ));
                }
                assert!(
                    e.http_status() >= 400 && e.http_status() < 500,
                    "{file}: {e}"
                );
                assert!(e.to_string().len() > 10, "{file}: message too thin: {e}");
            }
            (_, got) => failures.push(format!("{file}: expected {expect:?}, got {got:?}")),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Mean absolute difference per channel between two RGBA images of the same size.
fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as u64)
        .sum();
    sum as f64 / a.len() as f64
}

/// The 18 EXIF test photos are one scene each (landscape, portrait) stored in 8 orientations:
/// once turned upright, every one must look like orientation 1, and clearly unlike a wrong turn.
#[test]
fn all_exif_orientations_come_out_upright() {
    let opts = Options::default();
    for set in ["Landscape", "Portrait"] {
        let reference = preview(&read(&format!("edge/{set}_1.jpg")), &opts).unwrap();
        // A mirrored reference: what a missing flip would look like.
        let mirrored = mirror(&reference.rgba, reference.width, reference.height);
        let wrong = mean_abs_diff(&reference.rgba, &mirrored);
        for n in 0..=8 {
            let p = preview(&read(&format!("edge/{set}_{n}.jpg")), &opts).unwrap();
            assert_eq!(
                (p.width, p.height),
                (reference.width, reference.height),
                "{set}_{n}"
            );
            let d = mean_abs_diff(&p.rgba, &reference.rgba);
            // Each file is a separate JPEG encode of the same scene with a digit drawn on it:
            // upright copies differ by a few levels, a wrong turn by tens.
            assert!(
                d < 6.0,
                "{set}_{n}: mean difference {d:.2} from {set}_1 (mirror gives {wrong:.2})"
            );
            assert!(
                wrong > 3.0 * d.max(1.0),
                "{set}_{n}: test cannot tell a mirror ({wrong:.2}) from {d:.2}"
            );
            assert_eq!(
                p.source.orientation.exif(),
                if n == 0 { 1 } else { n },
                "{set}_{n}"
            );
        }
    }
}

fn mirror(rgba: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(rgba.len());
    for y in 0..h as usize {
        let row = &rgba[y * w as usize * 4..(y + 1) * w as usize * 4];
        for px in row.chunks_exact(4).rev() {
            out.extend_from_slice(px);
        }
    }
    out
}

/// 5x5-pixel averages at 9 points (quarter positions) of an RGBA image.
fn samples(rgba: &[u8], w: u32, h: u32) -> Vec<[f64; 3]> {
    let mut out = Vec::new();
    for fy in [0.25, 0.5, 0.75] {
        for fx in [0.25, 0.5, 0.75] {
            let (x0, y0) = ((fx * w as f64) as i64, (fy * h as f64) as i64);
            let mut acc = [0.0; 3];
            for y in y0 - 2..=y0 + 2 {
                for x in x0 - 2..=x0 + 2 {
                    let i = ((y * w as i64 + x) * 4) as usize;
                    for (k, a) in acc.iter_mut().enumerate() {
                        *a += rgba[i + k] as f64 / 25.0;
                    }
                }
            }
            out.push(acc);
        }
    }
    out
}

/// Colour-managed files compared with libvips + lcms2 (`vipsthumbnail -s 400x400 -e srgb`,
/// libvips 8.14.1, sampled the same way). A dropped or misapplied profile misses by far more.
#[test]
fn icc_and_cmyk_inputs_are_converted_to_srgb() {
    type S = [(u8, u8, u8); 9];
    let cases: [(&str, S, f64); 4] = [
        (
            "edge/sharp_Channel_digital_image_CMYK_color.jpg",
            [
                (133, 128, 128),
                (119, 115, 109),
                (92, 91, 89),
                (127, 141, 101),
                (135, 141, 108),
                (96, 100, 105),
                (76, 91, 60),
                (61, 67, 74),
                (162, 170, 182),
            ],
            8.0,
        ),
        (
            "photos/jpegfiles_iphone_se2_display_p3.jpg",
            [
                (140, 179, 235),
                (154, 193, 243),
                (133, 169, 222),
                (149, 182, 232),
                (134, 168, 219),
                (162, 190, 235),
                (30, 44, 49),
                (137, 162, 205),
                (138, 164, 208),
            ],
            3.0,
        ),
        (
            "edge/pillow_xmp_test_adobergb.jpg",
            [
                (141, 138, 137),
                (145, 141, 140),
                (134, 130, 132),
                (150, 87, 101),
                (167, 178, 168),
                (151, 148, 150),
                (141, 147, 107),
                (134, 131, 132),
                (129, 128, 129),
            ],
            4.0,
        ),
        (
            "edge/widegamut_rgb-to-gbr-test.jpg",
            [
                (255, 198, 0),
                (255, 48, 47),
                (255, 0, 203),
                (125, 255, 0),
                (129, 159, 176),
                (138, 0, 255),
                (61, 255, 114),
                (0, 239, 255),
                (210, 213, 255),
            ],
            8.0,
        ),
    ];
    for (file, expected, tolerance) in cases {
        let p = preview(&read(file), &Options::default()).unwrap();
        let got = samples(&p.rgba, p.width, p.height);
        let mut sum = 0.0;
        for (g, e) in got.iter().zip(expected.iter()) {
            sum +=
                (g[0] - e.0 as f64).abs() + (g[1] - e.1 as f64).abs() + (g[2] - e.2 as f64).abs();
        }
        let mean = sum / 27.0;
        assert!(
            mean <= tolerance,
            "{file}: mean difference {mean:.1} from libvips (tolerance {tolerance}); got {got:?}"
        );
    }
}

#[test]
fn grey_stays_grey_and_transparency_is_kept() {
    let opts = Options::default();
    let grey = preview(&read("edge/vips_cd1.1.jpg"), &opts).unwrap();
    assert!(grey
        .rgba
        .chunks_exact(4)
        .all(|p| p[0] == p[1] && p[1] == p[2]));
    let t = thumbnail(&read("edge/vips_cd1.1.jpg"), &opts).unwrap();
    assert_eq!(
        image::load_from_memory(&t.bytes).unwrap().color(),
        image::ColorType::L8
    );

    let bug = preview(&read("edge/sharp_blackbug.png"), &opts).unwrap();
    let transparent = bug.rgba.chunks_exact(4).filter(|p| p[3] == 0).count();
    assert!(transparent > 1000, "blackbug lost its transparency");
    let empty = preview(&read("edge/sharp_full-transparent.png"), &opts).unwrap();
    assert!(empty.rgba.chunks_exact(4).all(|p| p[3] == 0));

    // 16-bit input reduced to 8-bit properly: not noise, not byte-swapped garbage. The photo is
    // mostly smooth, so neighbouring pixels stay close.
    let deep = preview(&read("edge/vips_sample_16bit.png"), &opts).unwrap();
    let w = deep.width as usize * 4;
    let jumps = deep
        .rgba
        .chunks_exact(4)
        .zip(deep.rgba[4..].chunks_exact(4))
        .enumerate()
        .filter(|(i, (a, b))| (i + 1) * 4 % w != 0 && (a[1] as i32 - b[1] as i32).abs() > 64)
        .count();
    assert!(
        jumps < deep.rgba.len() / 4 / 50,
        "16-bit PNG looks like noise: {jumps} jumps"
    );
}

#[test]
fn enlarge_uses_the_tutorials_branch() {
    let opts = Options {
        enlarge: true,
        ..Options::default()
    };
    let t = thumbnail(&read("edge/sharp_with-alpha.png"), &opts).unwrap();
    assert_eq!((t.width, t.height), (400, 300));
    let t = thumbnail(&read("edge/libwebp_small_13x1.webp"), &opts).unwrap();
    assert_eq!((t.width, t.height), (400, 31));
}

#[test]
fn limits_refuse_before_decoding() {
    let tiny = Options {
        limits: fitbox_core::Limits {
            max_pixels: 1_000_000,
            ..Default::default()
        },
        ..Options::default()
    };
    let e = thumbnail(&read("photos/mde_canon_eos_5d_mark_iii.jpg"), &tiny).unwrap_err();
    assert_eq!(
        e.to_string(),
        "image is 5760x3840 (22 MP); the limit is 1.0 MP"
    );
    let small = Options {
        limits: fitbox_core::Limits {
            max_bytes: 1000,
            ..Default::default()
        },
        ..Options::default()
    };
    let e = thumbnail(&read("edge/Landscape_1.jpg"), &small).unwrap_err();
    assert_eq!(e.code(), "too_many_bytes");
    assert_eq!(e.http_status(), 413);
}

#[test]
fn same_input_same_pixels() {
    let bytes = read("edge/imagers_progressive_3.jpg");
    let a = preview(&bytes, &Options::default()).unwrap();
    let b = thumbnail(&bytes, &Options::default()).unwrap();
    assert_eq!(a.pixel_sha256, b.pixel_sha256);
    assert_eq!(a.pixel_sha256, fitbox_core::sha256_hex(&a.rgba));
}

/// The pixel identity of every accepted corpus file, as committed in `golden/pixel-sha256.txt`.
/// The wasm32 test (`tests/wasm.rs`, headless Chromium) and the aarch64 check (qemu) compare
/// against the same file, so native == wasm == aarch64 holds through it. After an intended
/// pipeline change, regenerate it with `FITBOX_BLESS=1 cargo test -p fitbox-core --test corpus`
/// and say why in the commit.
#[test]
fn pixel_hashes_match_the_golden_file() {
    let golden_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/pixel-sha256.txt");
    let mut lines = Vec::new();
    for (file, expect) in EXPECTED {
        if let Ok(..) = expect {
            let p = preview(&read(file), &Options::default()).unwrap();
            lines.push(format!("{} {file}", p.pixel_sha256));
        }
    }
    let fresh = lines.join("\n") + "\n";
    if std::env::var_os("FITBOX_BLESS").is_some() {
        std::fs::write(golden_path, &fresh).unwrap();
    }
    let golden =
        std::fs::read_to_string(golden_path).expect("golden file missing: run with FITBOX_BLESS=1");
    for (got, want) in fresh.lines().zip(golden.lines()) {
        assert_eq!(got, want, "pixel hash changed");
    }
    assert_eq!(fresh.lines().count(), golden.lines().count());
}

/// Truncation is refused on every JPEG path, including shrink-on-load (whose decoder would pad
/// missing data with grey): cut a photo inside its last scan, in the middle, and just before the
/// end.
#[test]
fn truncated_jpegs_are_refused_on_every_path() {
    for file in [
        "edge/Landscape_1.jpg",
        "photos/mde_canon_eos_5d_mark_iii.jpg",
        "edge/imagers_progressive_3.jpg",
    ] {
        let bytes = read(file);
        let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
        for cut in [
            last_sos + 20,
            last_sos + 40,
            bytes.len() / 2,
            bytes.len() - 10,
        ] {
            let e = preview(&bytes[..cut], &Options::default())
                .err()
                .unwrap_or_else(|| panic!("{file} cut at {cut} of {} was accepted", bytes.len()));
            assert_eq!(e.code(), "truncated", "{file} cut at {cut}: {e}");
        }
    }
}

/// A JPEG whose header declares 8000x8000 but whose scan is 4 bytes and an end-of-image
/// marker: decoders pad such data with grey. Refused as truncated, not stored as a grey photo.
#[test]
fn early_end_of_image_is_refused() {
    let src = read("edge/pillow_orientation_rectangle.jpg");
    let mut out = src[..2].to_vec();
    let mut i = 2;
    while i + 4 <= src.len() {
        let marker = src[i + 1];
        let len = u16::from_be_bytes([src[i + 2], src[i + 3]]) as usize;
        let mut seg = src[i..i + 2 + len].to_vec();
        if marker == 0xC0 {
            seg[5..7].copy_from_slice(&8000u16.to_be_bytes());
            seg[7..9].copy_from_slice(&8000u16.to_be_bytes());
        }
        out.extend_from_slice(&seg);
        if marker == 0xDA {
            out.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 0xFF, 0xD9]);
            break;
        }
        i += 2 + len;
    }
    let e = preview(&out, &Options::default()).unwrap_err();
    assert_eq!(e.code(), "truncated", "{e}");
    assert!(e.to_string().contains("8000x8000"), "{e}");
}
