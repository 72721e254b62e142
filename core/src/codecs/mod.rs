//! Decoding: bytes to 8-bit pixels, plus what the later steps need (ICC profile, EXIF
//! orientation). JPEG goes straight to zune-jpeg (strict mode, so truncated data is an error, not
//! a half-grey photo), except that a JPEG shrunk at least 4x is decoded at 1/2, 1/4 or 1/8 DCT
//! scale by jpeg-decoder (shrink-on-load; zune-jpeg still reads its headers, ICC and EXIF);
//! a PNG that is shrunk (8-bit RGB, palette or grey, not interlaced) is read row by row with png
//! and resampled as it is inflated (shrink-on-load, [`png::rows`]); other PNGs, WebP and
//! GIF go through the `image` crate's decoders. Animated GIF,
//! WebP and APNG: the first frame (documented policy).
//!
//! One folder or file per format: [`jpeg`] (zune-jpeg, jpeg-decoder, the marker walker and the
//! scan tools), [`png`] (its errors, and [`png::rows`]: shrink-on-load row by row), [`webp`]
//! (the RIFF checks, and VP8 planes for shrink-on-load), and [`whole`]: the `image` crate's
//! whole-image decoders, which serve GIF and every PNG or WebP not shrunk on load. Codecs hand
//! back an image, rows or planes (through [`crate::pixels::Shrink`]) and never call into
//! `resize` or `color`. [`errors`]: the one table of decoder messages classified by their words.

pub(crate) mod errors;
pub(crate) mod jpeg;
pub(crate) mod png;
pub(crate) mod webp;
pub(crate) mod whole;

use self::jpeg::decode_jpeg;
use self::png::rows::decode_png_shrunk;
use self::webp::decode_webp_shrunk;
use self::webp::riff::riff_overrun;
use self::whole::decode_with_image;
use crate::fit::Target;
use crate::guard::{check_dimensions, Probe};
use crate::pixels::{Decoded, Orientation};
use crate::{Error, Format, Limits};

/// Whether an ICC profile describes RGB (its data colour space field says so).
pub(crate) fn is_rgb_profile(icc: &[u8]) -> bool {
    icc.get(16..20) == Some(b"RGB ")
}

pub(crate) fn decode(
    bytes: &[u8],
    probe: &Probe,
    limits: &Limits,
    target: Option<Target<'_>>,
) -> Result<Decoded, Error> {
    // Both WebP routes: image-webp would allocate what such a chunk declares.
    if let Some(detail) = (probe.format == Format::Webp)
        .then(|| riff_overrun(bytes))
        .flatten()
    {
        return Err(Error::Truncated {
            format: Format::Webp,
            detail,
        });
    }
    let decoded = match probe.format {
        Format::Jpeg => decode_jpeg(bytes, limits, target)?,
        Format::Png => match target {
            Some(t) => match decode_png_shrunk(bytes, limits, t)? {
                Some(d) => d,
                None => decode_with_image(bytes, Format::Png, limits)?,
            },
            None => decode_with_image(bytes, Format::Png, limits)?,
        },
        Format::Webp => match target {
            Some(t) => match decode_webp_shrunk(bytes, limits, t)? {
                Some(d) => d,
                None => decode_with_image(bytes, Format::Webp, limits)?,
            },
            None => decode_with_image(bytes, Format::Webp, limits)?,
        },
        Format::Gif => decode_with_image(bytes, probe.format, limits)?,
    };
    // The decoder's own idea of the size must also pass the guard (headers can disagree).
    check_dimensions(decoded.width, decoded.height, limits)?;
    let expected = decoded.width as usize * decoded.height as usize * decoded.layout.channels();
    if decoded.data.len() != expected {
        return Err(Error::Corrupt {
            format: probe.format,
            detail: format!(
                "decoder returned {} bytes for {}x{}",
                decoded.data.len(),
                decoded.width,
                decoded.height
            ),
        });
    }
    Ok(decoded)
}

/// The EXIF orientation of an EXIF block (TIFF header first, or with an `Exif\0\0` prefix);
/// upright when absent or invalid.
pub(crate) fn exif_orientation(exif: Option<&[u8]>) -> Orientation {
    exif.map(|e| e.strip_prefix(b"Exif\0\0").unwrap_or(e))
        .and_then(image::metadata::Orientation::from_exif_chunk)
        .and_then(|o| Orientation::from_exif(o.to_exif()))
        .unwrap_or_default()
}

/// The colour space signature of an ICC profile is at bytes 16..20.
pub(crate) fn is_cmyk_profile(icc: &[u8]) -> bool {
    icc.get(16..20) == Some(b"CMYK")
}

/// What a PNG decoder may allocate for metadata and its own buffers while reading the header.
pub(crate) const METADATA_BYTES: u64 = 64 << 20;

/// Most memory one image may need to decode and resize: `max_pixels` of RGBA (400 MB at the
/// default 100 MP), so the resize of any accepted image fits a 512 MB Lambda.
pub(crate) fn memory_budget(limits: &Limits) -> u64 {
    limits.max_pixels.saturating_mul(4)
}

#[cfg(test)]
mod tests;
