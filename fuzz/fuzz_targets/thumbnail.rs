//! The whole pipeline (`fitbox_core::thumbnail`, encode included) with box, quality and
//! enlarge taken from the input's first bytes, so odd boxes (1xN, enlarging) are covered.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (knobs, image) = data.split_at(3);
    let opts = fitbox_core::Options {
        box_width: 1 + u32::from(knobs[0] & 63),
        box_height: 1 + u32::from(knobs[1] & 63),
        enlarge: knobs[2] & 0x80 != 0,
        quality: 1 + (knobs[2] & 0x7f) % 100,
        limits: fitbox_core::Limits {
            max_bytes: 1 << 20,
            max_pixels: 4_000_000,
            max_side: 8192,
        },
    };
    if let Ok(t) = fitbox_core::thumbnail(image, &opts) {
        assert!(t.width >= 1 && t.height >= 1);
        assert!(t.width <= opts.box_width && t.height <= opts.box_height);
        assert!(!t.bytes.is_empty());
        // The output is an image fitbox itself accepts.
        let again = fitbox_core::probe(&t.bytes, &opts.limits).expect("own output probes");
        assert_eq!((again.width, again.height), (t.width, t.height));
    }
});
