//! Whole-image decoding through the `image` crate's decoders: GIF, and every PNG or WebP that is
//! not shrunk on load. Bounds memory before decoding.

use std::io::Cursor;

use image::{ColorType, DynamicImage, ImageDecoder};

use super::errors::{by_message, Dependency};
use super::{exif_orientation, is_rgb_profile, memory_budget, METADATA_BYTES};
use crate::guard::check_dimensions;
use crate::pixels::{Decoded, Layout};
use crate::{Error, Format, Limits};

/// The `image` crate's error decoding `format` as fitbox's: by its variant where that says what
/// happened (limits, an unsupported feature, a read past the end), else by the message of the
/// decoder it wraps (see [`super::errors::MESSAGES`]).
pub(crate) fn image_error(format: Format, e: image::ImageError) -> Error {
    use image::error::{ImageError as E, LimitErrorKind};
    match e {
        E::Limits(l) => match l.kind() {
            LimitErrorKind::DimensionError => Error::BadDimensions {
                width: 0,
                height: 0,
                why: "the decoder refused the declared dimensions".into(),
            },
            _ => Error::Corrupt {
                format,
                detail: format!("decoding would need more memory than allowed ({l})"),
            },
        },
        E::Unsupported(u) => Error::UnsupportedVariant {
            format,
            detail: u.to_string(),
        },
        E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => Error::Truncated {
            format,
            detail: io.to_string(),
        },
        other => by_message(Dependency::under_image(format), format, other.to_string()),
    }
}

pub(crate) fn decode_with_image(
    bytes: &[u8],
    format: Format,
    limits: &Limits,
) -> Result<Decoded, Error> {
    let err = |e| image_error(format, e);
    let mut il = image::Limits::default();
    il.max_image_width = Some(limits.max_side);
    il.max_image_height = Some(limits.max_side);
    // Room for the largest allowed image at 16-bit RGBA, the worst case of these decoders.
    il.max_alloc = Some(limits.max_pixels.saturating_mul(8).max(64 << 20));
    let cursor = Cursor::new(bytes);
    match format {
        Format::Png => {
            // Metadata (iCCP, text) is inflated while the header is read: bound it from the
            // start, or a 1 KB iCCP chunk inflates to hundreds of MB (cli/tests/bounds.rs).
            let mut header = image::Limits::default();
            header.max_alloc = Some(METADATA_BYTES);
            let mut d = image::codecs::png::PngDecoder::with_limits(cursor, header).map_err(err)?;
            d.set_limits(il).map_err(err)?;
            finish(d, format, limits)
        }
        Format::Webp => {
            let mut d = image::codecs::webp::WebPDecoder::new(cursor).map_err(err)?;
            d.set_limits(il).map_err(err)?;
            finish(d, format, limits)
        }
        Format::Gif => {
            let mut d = image::codecs::gif::GifDecoder::new(cursor).map_err(err)?;
            d.set_limits(il).map_err(err)?;
            finish(d, format, limits)
        }
        Format::Jpeg => unreachable!("JPEG is decoded by decode_jpeg"),
    }
}

/// Peak bytes held at once by [`finish`] and the resampler for `pixels` decoded as `ct`: the
/// decoder's buffer plus its 8-bit copy; with alpha, RGBA plus either its RGB copy (opaque) or
/// the resampler's premultiplied copy.
pub(crate) fn peak_bytes(ct: ColorType, pixels: u64) -> u64 {
    let decoded = pixels.saturating_mul(u64::from(ct.bytes_per_pixel()));
    if ct.has_alpha() {
        let to_rgba = if ct == ColorType::Rgba8 {
            0
        } else {
            pixels.saturating_mul(4)
        };
        decoded
            .saturating_add(to_rgba)
            .max(pixels.saturating_mul(8))
    } else {
        let to_rgb = if ct == ColorType::Rgb8 {
            0
        } else {
            pixels.saturating_mul(3)
        };
        decoded.saturating_add(to_rgb)
    }
}

pub(crate) fn finish(
    mut d: impl ImageDecoder,
    format: Format,
    limits: &Limits,
) -> Result<Decoded, Error> {
    let err = |e| image_error(format, e);
    let (width, height) = d.dimensions();
    check_dimensions(width, height, limits)?;
    let need = peak_bytes(d.color_type(), u64::from(width) * u64::from(height));
    let budget = memory_budget(limits);
    if need > budget {
        return Err(Error::TooMuchMemory {
            format,
            width,
            height,
            need_mb: need / 1_000_000,
            limit_mb: budget / 1_000_000,
        });
    }
    let icc = d.icc_profile().map_err(err)?;
    // Read EXIF ourselves: some writers (Pillow among them) put an `Exif\0\0` prefix in WebP's
    // EXIF chunk, which the decoders' own orientation lookup does not expect.
    let exif = d.exif_metadata().unwrap_or(None);
    let orientation = exif_orientation(exif.as_deref());
    let has_alpha = d.color_type().has_alpha();
    let grey = matches!(
        d.color_type(),
        ColorType::L8 | ColorType::L16 | ColorType::La8 | ColorType::La16
    );
    let img = DynamicImage::from_decoder(d).map_err(err)?;
    // A grey profile cannot be applied to the RGB we expand grey into; grey stays grey.
    let icc = icc.filter(|p| !grey && is_rgb_profile(p));
    let (layout, data) = if has_alpha {
        let rgba = img.into_rgba8();
        if rgba.pixels().all(|p| p.0[3] == 255) {
            (
                Layout::Rgb,
                DynamicImage::ImageRgba8(rgba).into_rgb8().into_raw(),
            )
        } else {
            (Layout::Rgba, rgba.into_raw())
        }
    } else {
        (Layout::Rgb, img.into_rgb8().into_raw())
    };
    Ok(Decoded {
        width,
        height,
        source_width: width,
        source_height: height,
        layout,
        data,
        icc,
        orientation,
    })
}
