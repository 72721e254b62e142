//! The preview worker's warm-up images (web/worker/warmup/): each decodes by the route it is
//! there to warm, and the stopping rule stops when no route is getting faster. The worker's own
//! table is compiled in here (it is platform-neutral), so what is checked is what it runs.

#[path = "../../web/worker/src/warmup.rs"]
mod warmup;

use fitbox_core::Format;
use warmup::{options, settled, ENTRIES, MAX_MS, MAX_ROUNDS, MIN_ROUNDS};

/// Whether a JPEG's frame is progressive (SOF2), read from its markers.
fn progressive(jpeg: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let marker = jpeg[i + 1];
        if matches!(marker, 0xC0..=0xC3) {
            return marker == 0xC2;
        }
        i += 2 + usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
    }
    panic!("no frame header");
}

#[test]
fn every_warm_up_image_takes_its_route() {
    let mut kinds = Vec::new();
    for e in ENTRIES {
        let p = fitbox_core::preview(e.bytes, &options(e))
            .unwrap_or_else(|err| panic!("{}: {err}", e.name));
        assert_eq!(p.source.format, e.format, "{}", e.name);
        // A shrink into the box, as for a photo: the resampler runs, not a copy.
        assert_eq!(p.width.max(p.height), e.side, "{}", e.name);
        assert!(
            p.source.width > 2 * e.side,
            "{}: not a reduction of 2x or more",
            e.name
        );
        if e.format == Format::Jpeg {
            assert_eq!(
                progressive(e.bytes),
                e.name.contains("progressive"),
                "{}",
                e.name
            );
            // The DCT scale the entry's name promises: the smallest of 1/8, 1/4, 1/2 whose
            // output is still at least twice the fitted size (core's jpeg::dct_scale).
            let (fit_w, fit_h) = if p.source.orientation.swaps_sides() {
                (p.height, p.width)
            } else {
                (p.width, p.height)
            };
            let scale = [8, 4, 2].into_iter().find(|d| {
                p.source.width.div_ceil(*d) >= 2 * fit_w
                    && p.source.height.div_ceil(*d) >= 2 * fit_h
            });
            let scale = scale.unwrap_or_else(|| panic!("{}: decodes at full size", e.name));
            if !e.name.contains("progressive") {
                assert!(
                    e.name.contains(&format!("1/{scale}")),
                    "{}: scale 1/{scale}",
                    e.name
                );
            }
        }
        kinds.push((e.format, e.name.contains("progressive")));
        if e.name.starts_with("camera") {
            camera(e, &p);
        }
    }
    // Every format a camera photo comes in, and a progressive JPEG.
    for want in [
        (Format::Jpeg, false),
        (Format::Jpeg, true),
        (Format::Webp, false),
        (Format::Png, false),
    ] {
        assert!(kinds.contains(&want), "no warm-up image for {want:?}");
    }
}

/// The camera JPEG takes a camera's detours: 4:2:2 chroma, its ICC profile converted (the same
/// file without the profile gives other pixels) and its EXIF orientation applied.
fn camera(e: &warmup::Entry, p: &fitbox_core::Preview) {
    assert_eq!(p.source.orientation.exif(), 6);
    assert!(p.height > p.width, "turned upright");
    // The frame's sampling factors: Y 2x1, Cb and Cr 1x1.
    let sof = e
        .bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("SOF0");
    let comps = &e.bytes[sof + 10..sof + 19];
    assert_eq!([comps[1], comps[4], comps[7]], [0x21, 0x11, 0x11], "4:2:2");
    // Without its ICC profile (APP2 segments), the same file previews to other pixels.
    let mut plain = e.bytes[..2].to_vec();
    let mut i = 2;
    while e.bytes[i] == 0xFF && e.bytes[i + 1] != 0xDA {
        let len = 2 + usize::from(u16::from_be_bytes([e.bytes[i + 2], e.bytes[i + 3]]));
        if e.bytes[i + 1] != 0xE2 {
            plain.extend_from_slice(&e.bytes[i..i + len]);
        }
        i += len;
    }
    assert!(plain.len() < i, "the file has an ICC profile");
    plain.extend_from_slice(&e.bytes[i..]);
    let q = fitbox_core::preview(&plain, &options(e)).unwrap();
    assert_eq!((q.width, q.height), (p.width, p.height));
    assert_ne!(
        q.pixel_sha256, p.pixel_sha256,
        "the Display P3 profile changes nothing"
    );
}

#[test]
fn warm_up_stops_when_no_route_is_getting_faster() {
    let flat = |n: usize| vec![vec![10.0, 20.0]; n];
    assert!(!settled(&[]));
    // Too few rounds, however flat.
    assert!(!settled(&flat(MIN_ROUNDS - 1)));
    assert!(settled(&flat(MIN_ROUNDS)));
    // One route still getting faster by more than 5 % keeps it going, however small its share.
    let mut r = flat(MIN_ROUNDS);
    r.last_mut().unwrap()[0] = 9.0;
    assert!(!settled(&r));
    // Noise within 5 %, or slower: settled.
    r.last_mut().unwrap()[0] = 9.6;
    assert!(settled(&r));
    r.last_mut().unwrap()[1] = 40.0;
    assert!(settled(&r));
    // Bounded whatever the rounds do.
    const { assert!(MIN_ROUNDS <= MAX_ROUNDS && MAX_MS <= 5000.0) };
}
