//! The worker's warm-up: small images, drawn for this (see `warmup/make.py`), run through the
//! pipeline when the worker starts, so the browser compiles the hot code with its optimising
//! tier before the first real file arrives. A browser runs new wasm code in a baseline tier
//! first and recompiles a function once it has run enough; a decoder's loop over a whole image is
//! one call, so without a warm-up most of the first photo would decode at baseline speed.
//!
//! Each entry is one route a camera photo takes: a DCT-scaled JPEG decode (1/4 and 1/2, then a
//! Lanczos2 shrink), a camera's JPEG (4:2:2 chroma, an ICC profile to convert from, an EXIF
//! rotation), a progressive JPEG, a lossy WebP and an RGB PNG, each fitted to a box small enough
//! that the same reduction steps run as for a photo into 400x400. Platform-neutral, so
//! the native tests (`tests/tests/warmup.rs`) check that every entry decodes by its route.

use fitbox_core::{Format, Options};

/// One warm-up image.
pub(crate) struct Entry {
    /// What the entry warms, for messages.
    pub(crate) name: &'static str,
    /// The file.
    pub(crate) bytes: &'static [u8],
    /// Its format.
    pub(crate) format: Format,
    /// The side of the square box it is fitted to.
    pub(crate) side: u32,
}

/// Every route a photo into a 400x400 box takes. The JPEGs are 384x288: into a 48 box they
/// need 96x72 (decoded at DCT scale 1/4), into a 72 box 144x108 (scale 1/2). The PNG is 192x144.
pub(crate) const ENTRIES: &[Entry] = &[
    Entry {
        name: "baseline JPEG, DCT scale 1/4",
        bytes: include_bytes!("../warmup/baseline.jpg"),
        format: Format::Jpeg,
        side: 48,
    },
    Entry {
        name: "baseline JPEG, DCT scale 1/2",
        bytes: include_bytes!("../warmup/baseline.jpg"),
        format: Format::Jpeg,
        side: 72,
    },
    Entry {
        name: "camera JPEG: 4:2:2, Display P3 profile, EXIF orientation 6, DCT scale 1/2",
        bytes: include_bytes!("../warmup/camera.jpg"),
        format: Format::Jpeg,
        side: 72,
    },
    Entry {
        name: "progressive JPEG",
        bytes: include_bytes!("../warmup/progressive.jpg"),
        format: Format::Jpeg,
        side: 72,
    },
    Entry {
        name: "lossy WebP",
        bytes: include_bytes!("../warmup/lossy.webp"),
        format: Format::Webp,
        side: 72,
    },
    Entry {
        name: "RGB PNG",
        bytes: include_bytes!("../warmup/rgb.png"),
        format: Format::Png,
        side: 64,
    },
];

/// The options an entry is previewed with: the defaults, fitted to its box.
pub(crate) fn options(entry: &Entry) -> Options {
    Options {
        box_width: entry.side,
        box_height: entry.side,
        ..Options::default()
    }
}

/// At least this many rounds.
pub(crate) const MIN_ROUNDS: usize = 5;
/// At most this many rounds.
pub(crate) const MAX_ROUNDS: usize = 30;
/// No new round starts after this long, in ms.
pub(crate) const MAX_MS: f64 = 4000.0;

/// Whether the warm-up may stop after `rounds` (per round, each entry's time in ms, in
/// [`ENTRIES`]' order): at least [`MIN_ROUNDS`], and in the last round every entry took no less
/// than 95 % of its fastest time before: no route is still getting faster (its optimised code is
/// in). Judged per entry, as one route (WebP, say) may still be on its way up while the others,
/// which take most of a round, are done.
pub(crate) fn settled(rounds: &[Vec<f64>]) -> bool {
    let Some((last, before)) = rounds.split_last() else {
        return false;
    };
    rounds.len() >= MIN_ROUNDS
        && last.iter().enumerate().all(|(e, ms)| {
            let fastest = before
                .iter()
                .filter_map(|r| r.get(e).copied())
                .fold(f64::MAX, f64::min);
            *ms >= 0.95 * fastest
        })
}
