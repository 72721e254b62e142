//! fitbox-core: one best-fit thumbnail pipeline, compiled to native code for the server and to
//! wasm32 for the browser, so the preview a person sees is, pixel for pixel, what is stored.
//!
//! Pure and synchronous: bytes in, pixels and bytes out; no I/O, no clock, no randomness.
//!
//! The steps, each a module:
//! [`guard`] (magic bytes, declared dimensions, limits) -> `decode` -> [`fit`] (box arithmetic
//! on the EXIF-oriented size) -> `resize` (Lanczos2 / Mitchell, premultiplied alpha) ->
//! `color` (YCbCr and ICC to sRGB) -> [`orient`] (EXIF 1..=8) -> SHA-256 of the RGBA pixels -> `encode`.
//!
//! Orientation and colour conversion run *after* resampling: on a 400 px image instead of a
//! 24 MP one. Turning last gives the picture turning first would (bit-exact when the size is
//! kept; when shrinking, the two resampling passes swap and round differently, a few levels at
//! hard edges: `tests/variants.rs`); converting colour after resampling is what libvips'
//! thumbnailer does too. A YCbCr JPEG decoded by jpeg-decoder (shrink-on-load, or one scan per
//! component) stays YCbCr through the resampler, and a lossy WebP that is shrunk is resampled
//! plane by plane: only the thumbnail's pixels are converted to RGB (within rounding of
//! converting first: a mean of 0.2-0.7 levels).
//!
//! Policies: images already inside the box keep their size unless `enlarge` is set; animated
//! GIF, WebP and APNG give their first frame; truncated or corrupt data is refused (a partial
//! decode is never stored); PNG EXIF is honoured only in an `eXIf` chunk (ImageMagick's
//! `Raw profile type exif` text chunk is ignored, like most decoders do).

pub mod api;
mod color;
mod decode;
mod encode;
mod error;
pub mod fit;
pub mod guard;
#[cfg(target_os = "linux")]
pub mod hugepages;
mod jpeg_scans;
pub mod keys;
pub mod orient;
mod resize;
pub mod settings;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use error::Error;

/// Default box side (the tutorial's 400x400).
pub const DEFAULT_BOX: u32 = 400;
/// Default JPEG quality.
pub const DEFAULT_QUALITY: u8 = 85;

/// Input formats fitbox accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Format {
    Jpeg,
    Png,
    Webp,
    Gif,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::Webp => "WebP",
            Format::Gif => "GIF",
        }
    }
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
            Format::Gif => "image/gif",
        }
    }
    /// Lowercase name, as in JSON and S3 metadata.
    pub fn id(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Gif => "gif",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Output formats: JPEG for opaque results, PNG for results with transparency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Jpeg,
    Png,
}

impl OutputFormat {
    pub fn media_type(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Png => "image/png",
        }
    }
    pub fn ext(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Png => "png",
        }
    }
    pub fn id(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpeg",
            OutputFormat::Png => "png",
        }
    }
}

/// What the guard refuses before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest input in bytes (default 25 MiB).
    pub max_bytes: u64,
    /// Most pixels (stored width x height; default 100 MP).
    pub max_pixels: u64,
    /// Longest side in pixels (default 32768).
    pub max_side: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 25 * 1024 * 1024,
            max_pixels: 100_000_000,
            max_side: 32_768,
        }
    }
}

/// Pipeline options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    pub box_width: u32,
    pub box_height: u32,
    /// Enlarge images smaller than the box (the tutorial's behaviour); off by default.
    pub enlarge: bool,
    /// JPEG quality 1..=100.
    pub quality: u8,
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            box_width: DEFAULT_BOX,
            box_height: DEFAULT_BOX,
            enlarge: false,
            quality: DEFAULT_QUALITY,
            limits: Limits::default(),
        }
    }
}

impl Options {
    /// Largest box side accepted.
    pub const MAX_BOX: u32 = 4096;

    /// Check ranges; every pipeline entry calls this first.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::InvalidOptions(m));
        if !(1..=Self::MAX_BOX).contains(&self.box_width)
            || !(1..=Self::MAX_BOX).contains(&self.box_height)
        {
            return bad(format!(
                "box {}x{} is out of range; each side must be 1..={}",
                self.box_width,
                self.box_height,
                Self::MAX_BOX
            ));
        }
        if !(1..=100).contains(&self.quality) {
            return bad(format!("quality {} is out of range 1..=100", self.quality));
        }
        if self.limits.max_bytes == 0 || self.limits.max_pixels == 0 || self.limits.max_side == 0 {
            return bad("limits must be positive".into());
        }
        Ok(())
    }
}

/// What the input was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub format: Format,
    /// Stored width and height (before EXIF orientation).
    pub width: u32,
    pub height: u32,
    /// EXIF orientation 1..=8 (1 when absent).
    pub orientation: u8,
}

/// The thumbnail's pixels, before encoding: what the browser draws as its preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub width: u32,
    pub height: u32,
    /// Straight-alpha RGBA, `width * height * 4` bytes, row-major, upright, sRGB.
    pub rgba: Vec<u8>,
    /// Whether every alpha is 255 (the thumbnail will be a JPEG; otherwise a PNG).
    pub opaque: bool,
    /// Lowercase hex SHA-256 of `rgba`: the identity the browser compares with the server's.
    pub pixel_sha256: String,
    pub source: SourceInfo,
}

impl Preview {
    /// The format [`thumbnail`] will encode these pixels as.
    pub fn output_format(&self) -> OutputFormat {
        if self.opaque {
            OutputFormat::Jpeg
        } else {
            OutputFormat::Png
        }
    }
}

/// An encoded thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub bytes: Vec<u8>,
    pub format: OutputFormat,
    pub width: u32,
    pub height: u32,
    pub pixel_sha256: String,
    pub source: SourceInfo,
}

impl Thumbnail {
    pub fn media_type(&self) -> &'static str {
        self.format.media_type()
    }
}

/// Run the guard only: format and declared dimensions, checked against the limits.
/// Cheap (reads headers only); `fitbox upload` and the browser use it to refuse early.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<guard::Probe, Error> {
    guard::probe(bytes, limits)
}

/// A step of the pipeline, reported to the observer of [`preview_observed`] and
/// [`thumbnail_observed`] right after it finished (the caller reads its own clock: core does no
/// I/O and has no clock on wasm32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Options validated and the header checked against the limits.
    Probed,
    /// Pixels decoded (possibly at a reduced JPEG scale, or, for a PNG that is shrunk, already
    /// resampled row by row so that [`Stage::Resized`] follows at once) with orientation and ICC
    /// profile.
    Decoded,
    /// Resampled to the fitted size.
    Resized,
    /// Converted to sRGB and to RGBA.
    Coloured,
    /// Turned upright and hashed: the preview is complete.
    Oriented,
    /// Encoded to JPEG or PNG (only [`thumbnail_observed`]).
    Encoded,
}

/// Every step but encoding: the pixels of the thumbnail and their SHA-256.
pub fn preview(bytes: &[u8], opts: &Options) -> Result<Preview, Error> {
    preview_observed(bytes, opts, &mut |_| {})
}

/// [`preview`], calling `observe` after each [`Stage`] (for timing breakdowns).
pub fn preview_observed(
    bytes: &[u8],
    opts: &Options,
    observe: &mut dyn FnMut(Stage),
) -> Result<Preview, Error> {
    opts.validate()?;
    let probe = guard::probe(bytes, &opts.limits)?;
    observe(Stage::Probed);
    let target = decode::Target {
        box_width: opts.box_width,
        box_height: opts.box_height,
        enlarge: opts.enlarge,
    };
    let d = decode::decode(bytes, &probe, &opts.limits, Some(target))?;
    observe(Stage::Decoded);
    let source = SourceInfo {
        format: probe.format,
        width: d.source_width,
        height: d.source_height,
        orientation: d.orientation,
    };
    // Fit the stored size; `d` may hold fewer pixels (JPEG shrink-on-load) or already the
    // fitted size (PNG shrink-on-load). Resample in stored orientation.
    let f = fit::fit_stored(
        d.source_width,
        d.source_height,
        d.orientation,
        opts.box_width,
        opts.box_height,
        opts.enlarge,
    );
    let (rw, rh) = (f.width, f.height);
    let resized = resize::resize(d.data, d.width, d.height, d.layout, rw, rh, f.filter)?;
    observe(Stage::Resized);
    let (pixels, layout) = color::to_srgb(resized, d.layout, d.icc.as_deref());
    let rgba = match layout {
        decode::Layout::Rgba => pixels,
        _ => pixels
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
    };
    observe(Stage::Coloured);
    let (rgba, width, height) = orient::apply_rgba(rgba, rw, rh, d.orientation);
    let opaque = rgba.chunks_exact(4).all(|p| p[3] == 255);
    let pixel_sha256 = hex(&Sha256::digest(&rgba));
    observe(Stage::Oriented);
    Ok(Preview {
        width,
        height,
        rgba,
        opaque,
        pixel_sha256,
        source,
    })
}

/// The whole pipeline: guard, decode, fit, resize, colour, orient, encode.
pub fn thumbnail(bytes: &[u8], opts: &Options) -> Result<Thumbnail, Error> {
    thumbnail_observed(bytes, opts, &mut |_| {})
}

/// [`thumbnail`], calling `observe` after each [`Stage`].
pub fn thumbnail_observed(
    bytes: &[u8],
    opts: &Options,
    observe: &mut dyn FnMut(Stage),
) -> Result<Thumbnail, Error> {
    let p = preview_observed(bytes, opts, observe)?;
    let (bytes, format) = encode::encode(&p.rgba, p.width, p.height, p.opaque, opts.quality)?;
    observe(Stage::Encoded);
    Ok(Thumbnail {
        bytes,
        format,
        width: p.width,
        height: p.height,
        pixel_sha256: p.pixel_sha256,
        source: p.source,
    })
}

/// Lowercase hex SHA-256 of any bytes (used for pixel identities).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}
