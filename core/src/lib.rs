//! fitbox-core: one best-fit thumbnail pipeline, compiled to native code for the server and to
//! wasm32 for the browser, so the preview a person sees is, pixel for pixel, what is stored.
//!
//! Pure and synchronous: bytes in, pixels and bytes out; no I/O, no clock, no randomness.
//!
//! The steps, each a module:
//! [`guard`] (magic bytes, declared dimensions, limits) -> `decode` -> [`fit`] (box arithmetic
//! on the EXIF-oriented size) -> `resize` (Lanczos2 / Mitchell, premultiplied alpha) ->
//! `color` (YCbCr and ICC to sRGB) -> [`orient`] (EXIF 1..=8) -> SHA-256 of the RGBA pixels ->
//! `encode`.
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

#![forbid(unsafe_code)]

mod codecs;
mod color;
mod encode;
mod error;
pub mod fit;
pub mod guard;
pub mod orient;
mod pixels;
mod resize;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::pixels::{Layout, RowSink, Shrink, Yuv420};

pub use error::Error;
pub use fitbox_api::{Format, Limits, Options, OutputFormat, DEFAULT_BOX, DEFAULT_QUALITY};
pub use pixels::Orientation;

/// What the input was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// The format the bytes are (sniffed, not the file name's).
    pub format: Format,
    /// Stored width (before EXIF orientation).
    pub width: u32,
    /// Stored height.
    pub height: u32,
    /// EXIF orientation (upright when absent).
    pub orientation: Orientation,
}

/// The thumbnail's pixels, before encoding: what the browser draws as its preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// Width in pixels (upright).
    pub width: u32,
    /// Height in pixels (upright).
    pub height: u32,
    /// Straight-alpha RGBA, `width * height * 4` bytes, row-major, upright, sRGB.
    pub rgba: Vec<u8>,
    /// Whether every alpha is 255 (the thumbnail will be a JPEG; otherwise a PNG).
    pub opaque: bool,
    /// Lowercase hex SHA-256 of `rgba`: the identity the browser compares with the server's.
    pub pixel_sha256: String,
    /// What the input was.
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
    /// The encoded JPEG or PNG.
    pub bytes: Vec<u8>,
    /// JPEG (opaque) or PNG (with transparency).
    pub format: OutputFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Lowercase hex SHA-256 of the RGBA pixels (the preview's).
    pub pixel_sha256: String,
    /// What the input was.
    pub source: SourceInfo,
}

impl Thumbnail {
    /// `image/jpeg` or `image/png`.
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
    opts.validate().map_err(|e| Error::InvalidOptions(e.0))?;
    let probe = guard::probe(bytes, &opts.limits)?;
    observe(Stage::Probed);
    let target = fit::Target {
        box_width: opts.box_width,
        box_height: opts.box_height,
        enlarge: opts.enlarge,
        shrink: &Steps,
    };
    let mut d = codecs::decode(bytes, &probe, &opts.limits, Some(target))?;
    if d.layout == Layout::Ycck {
        // At full size, before resampling: the ink values the CMYK profile describes.
        color::ycc::ycck_to_cmyk(&mut d.data);
        d.layout = Layout::Cmyk;
    }
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
        Layout::Rgba => pixels,
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

/// The resampler and colour steps as shrink-on-load codecs call them ([`Shrink`]).
pub(crate) struct Steps;

impl Shrink for Steps {
    fn rows(&self, from: (u32, u32), to: (u32, u32)) -> Result<Box<dyn RowSink>, Error> {
        let rows = resize::RowShrinker::new(from.0, from.1, to.0, to.1, fit::Filter::Lanczos2)?;
        Ok(Box::new(rows))
    }

    fn vp8(&self, planes: Yuv420, to: (u32, u32)) -> Result<Vec<u8>, Error> {
        let [y, u, v] = resize::resample_yuv420(&planes, to)?;
        drop(planes);
        Ok(color::ycc::vp8_planes_to_rgb(&y, &u, &v))
    }
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
