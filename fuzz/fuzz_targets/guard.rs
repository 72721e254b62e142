//! `fitbox_core::probe` (sniff + declared dimensions + limits) on any bytes: never panics, and
//! whatever it accepts is inside the limits.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = fitbox_core::Limits::default();
    if let Ok(p) = fitbox_core::probe(data, &limits) {
        assert!(p.width > 0 && p.height > 0, "{p:?}");
        assert!(p.width <= limits.max_side && p.height <= limits.max_side, "{p:?}");
        assert!(u64::from(p.width) * u64::from(p.height) <= limits.max_pixels, "{p:?}");
    }
    // Tight limits too: the guard must refuse, not misbehave, on the same bytes.
    let tight = fitbox_core::Limits {
        max_bytes: 4096,
        max_pixels: 4096,
        max_side: 64,
    };
    if let Ok(p) = fitbox_core::probe(data, &tight) {
        assert!(u64::from(p.width) * u64::from(p.height) <= tight.max_pixels, "{p:?}");
    }
});
