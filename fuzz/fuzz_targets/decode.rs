//! Guard + decode + resize + orient + colour (`fitbox_core::preview`) into a small box, with
//! limits small enough that one input fits the fuzzer's memory and time limits (a 512 MB Lambda
//! holds the real limits; `cli/tests/bounds.rs` checks those).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = fitbox_core::Options {
        box_width: 32,
        box_height: 32,
        limits: fitbox_core::Limits {
            max_bytes: 1 << 20,
            max_pixels: 4_000_000,
            max_side: 8192,
        },
        ..Default::default()
    };
    if let Ok(p) = fitbox_core::preview(data, &opts) {
        assert_eq!(p.rgba.len(), p.width as usize * p.height as usize * 4);
        assert!(p.width >= 1 && p.height >= 1);
        assert!(p.width <= 32 && p.height <= 32, "{}x{}", p.width, p.height);
    }
});
