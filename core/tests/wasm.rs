//! The product's promise: the browser's preview (this crate compiled to wasm32 with simd128, run
//! in headless Chromium) has exactly the pixels the server stores. Each case's pixel SHA-256 must
//! equal the native one in `golden/pixel-sha256.txt`, which `tests/corpus.rs` checks natively.
//!
//! Run: `scripts/test-wasm.sh` (wasm-bindgen-test-runner + Debian's chromedriver).
#![cfg(target_arch = "wasm32")]

use fitbox_core::{preview, Options};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const GOLDEN: &str = include_str!("golden/pixel-sha256.txt");

macro_rules! cases {
    ($($rel:literal),* $(,)?) => {
        &[$((
            $rel,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/testdata/",
                $rel
            )) as &[u8]
        )),*]
    };
}

const CASES: &[(&str, &[u8])] = cases![
    "photos/mde_canon_eos_5d_mark_iii.jpg", // 22 MP baseline JPEG
    "photos/lomiri_seeding_by_Clements_Engelhardt.jpg", // progressive JPEG
    "photos/mde_canon_eos_1000d_orient6.jpg", // EXIF orientation 6
    "photos/jpegfiles_iphone_se2_display_p3.jpg", // Display P3 ICC
    "photos/mde_nikon_p7000_orient6.webp",  // lossy WebP with EXIF 6
    "photos/plasma_Altai_5120x2880.png",    // large PNG
    "photos/lomiri_Kleiber_by_Lukas_Baubkus.jpg", // 20 MP JPEG, 1/8 DCT-scaled decode
    "photos/lomiri_Wine_by_Jakkub_Mede.jpg", // progressive 2x1-subsampled JPEG, portrait
    "photos/libwebp_bryce_panorama.webp",   // 24 MP lossy WebP panorama
    "edge/sharp_Channel_digital_image_CMYK_color.jpg", // Adobe YCCK + CMYK ICC
    "edge/pillow_xmp_test_adobergb.jpg",    // Adobe RGB ICC
    "edge/widegamut_rgb-to-gbr-test.jpg",   // channel-swapping ICC
    "edge/pngsuite_basn6a16.png",           // 16-bit RGBA PNG
    "edge/vips_sample_16bit.png",           // 16-bit RGB PNG
    "edge/sharp_blackbug.png",              // RGBA with transparency
    "edge/imagers_anim.webp",               // animated WebP with alpha
    "edge/sharp_animated-loop-3.gif",       // animated GIF
    "edge/vips_cogs.gif",                   // GIF with transparency
    "edge/vips_cd1.1.jpg",                  // greyscale JPEG
    "edge/Landscape_5.jpg",                 // EXIF orientation 5 (transpose)
];

fn golden(rel: &str) -> &'static str {
    GOLDEN
        .lines()
        .find_map(|l| l.split_once(' ').filter(|(_, f)| *f == rel).map(|(h, _)| h))
        .unwrap_or_else(|| panic!("{rel} is not in the golden file"))
}

#[wasm_bindgen_test]
fn wasm_pixels_equal_native_pixels() {
    let mut mismatches = Vec::new();
    for (rel, bytes) in CASES {
        let p = preview(bytes, &Options::default()).unwrap_or_else(|e| panic!("{rel}: {e}"));
        if p.pixel_sha256 != golden(rel) {
            mismatches.push(format!(
                "{rel}: wasm {} native {}",
                p.pixel_sha256,
                golden(rel)
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[wasm_bindgen_test]
fn wasm_refuses_like_native() {
    let e = preview(b"test corrupt 'image'", &Options::default()).unwrap_err();
    assert_eq!(e.code(), "not_an_image");
    let truncated = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testdata/edge/sharp_truncated.jpg"
    ));
    assert_eq!(
        preview(truncated, &Options::default()).unwrap_err().code(),
        "truncated"
    );
}
