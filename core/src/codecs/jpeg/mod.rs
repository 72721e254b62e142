//! JPEG: zune-jpeg's strict decode at full size, jpeg-decoder for shrink-on-load (DCT-scaled
//! 1/2, 1/4, 1/8) and for one-scan-per-component files; [`markers`] walks the marker segments,
//! [`scans`] reads the frame and scans to leave out what a reduced scale never reads.

pub(crate) mod markers;
pub(crate) mod scans;

use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::errors::DecodeErrors;
use zune_jpeg::JpegDecoder;

use self::markers::{adobe_transform, scan_state, Scan};
use self::scans::Jpeg;
use super::errors::{by_message, Dependency};
use super::{exif_orientation, is_cmyk_profile, memory_budget};
use crate::fit::Target;
use crate::guard::check_dimensions;
use crate::pixels::{Decoded, Layout, Orientation};
use crate::{Error, Format, Limits};

/// zune-jpeg's error as fitbox's: by its variant where that says what happened (the data ran
/// out; a coding it does not decode), else by its message (see [`super::errors::MESSAGES`]).
pub(crate) fn jpeg_error(e: DecodeErrors) -> Error {
    let format = Format::Jpeg;
    match e {
        DecodeErrors::ExhaustedData => Error::Truncated {
            format,
            detail: e.to_string(),
        },
        DecodeErrors::Unsupported(s) => Error::UnsupportedVariant {
            format,
            detail: format!("{s:?}"),
        },
        other => by_message(Dependency::ZuneJpeg, format, other.to_string()),
    }
}

pub(crate) fn decode_jpeg(
    bytes: &[u8],
    limits: &Limits,
    target: Option<Target<'_>>,
) -> Result<Decoded, Error> {
    let base = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(limits.max_side as usize)
        .set_max_height(limits.max_side as usize);
    let mut header = JpegDecoder::new_with_options(ZCursor::new(bytes), base);
    header.decode_headers().map_err(jpeg_error)?;
    let info = header
        .info()
        .ok_or_else(|| Error::Internal("JPEG headers decoded without info".into()))?;
    let (width, height) = (info.width as u32, info.height as u32);
    check_dimensions(width, height, limits)?;
    if let Scan::TooShort(n) = scan_state(bytes, width, height) {
        return Err(Error::Truncated {
            format: Format::Jpeg,
            detail: format!("{n} bytes of scan data cannot hold a {width}x{height} image"),
        });
    }
    let input = header.input_colorspace().unwrap_or(ColorSpace::YCbCr);
    // A progressive file's coefficients stay in memory for the whole decode, on top of the
    // output, whatever size that is (zune-jpeg's peak is output + coefficients + a few MB,
    // measured in cli/tests/bounds.rs); an unreadable frame header counts as the worst case, every
    // component progressive at full resolution.
    let pixels = u64::from(width) * u64::from(height);
    let coefficients = scans::Frame::read(bytes).map_or_else(
        || pixels * u64::from(info.components.max(1)) * 2,
        |f| f.coefficient_bytes(),
    );
    let icc = header.icc_profile();
    let orientation = exif_orientation(header.exif().map(|e| e.as_slice()));
    let cmyk_profile = icc.as_deref().is_some_and(is_cmyk_profile);
    let four = matches!(input, ColorSpace::CMYK | ColorSpace::YCCK);

    if four && cmyk_profile {
        // Keep the raw CMYK so the embedded profile can convert it properly (after resizing:
        // 4 bytes per pixel at full size, and the coefficients of a progressive file).
        within_budget(pixels * 4 + coefficients, width, height, limits)?;
        let out = input; // CMYK -> CMYK or YCCK -> YCCK: raw samples, no conversion in zune.
        let mut dec =
            JpegDecoder::new_with_options(ZCursor::new(bytes), base.jpeg_set_out_colorspace(out));
        let mut data = dec.decode().map_err(jpeg_error)?;
        let adobe = adobe_transform(bytes);
        let layout = if input == ColorSpace::YCCK {
            Layout::Ycck
        } else {
            Layout::Cmyk
        };
        if input != ColorSpace::YCCK && adobe.is_some() {
            // Adobe writes CMYK inverted (255 = no ink).
            data.iter_mut().for_each(|v| *v = 255 - *v);
        }
        return Ok(Decoded {
            width,
            height,
            source_width: width,
            source_height: height,
            layout,
            data,
            icc,
            orientation,
        });
    }

    // jpeg-decoder takes two kinds of YCbCr, RGB and grey JPEG (CMYK/YCCK stays on zune-jpeg's
    // full-size path below), both needing the marker structure (`None` when it is not a plain
    // baseline or progressive file, which then takes only zune-jpeg's strict decode):
    // - shrink-on-load: those that will be shrunk at least 4x are decoded at 1/2, 1/4 or 1/8
    //   scale (see `dct_scale`);
    // - one scan per component (as jpeg-encoder writes with optimised Huffman tables):
    //   zune-jpeg 0.5.15 gets the colours of such 4:2:0 files wrong, jpeg-decoder does not.
    let structure = (!four).then(|| Jpeg::parse(bytes)).flatten();
    let mut by_jpeg_decoder = None;
    if let Some(jpeg) = &structure {
        if let Some(t) = target {
            let (need_w, need_h) = needed_size(width, height, orientation, t);
            by_jpeg_decoder = decode_jpeg_scaled(
                bytes,
                jpeg,
                (limits, coefficients),
                width,
                height,
                need_w,
                need_h,
            )?;
        }
        if by_jpeg_decoder.is_none() && jpeg.is_non_interleaved_sequential() {
            by_jpeg_decoder = decode_with_jpeg_decoder(
                bytes,
                jpeg,
                (limits, coefficients),
                width,
                height,
                width,
                height,
            )?;
        }
    }
    if let Some((data, w, h, layout)) = by_jpeg_decoder {
        return Ok(Decoded {
            width: w,
            height: h,
            source_width: width,
            source_height: height,
            layout,
            data,
            icc: icc.filter(|p| !is_cmyk_profile(p)),
            orientation,
        });
    }

    // Everything else decodes to RGB (grey is expanded; zune's own CMYK->RGB is the fallback
    // when a CMYK image carries no CMYK profile).
    within_budget(pixels * 3 + coefficients, width, height, limits)?;
    let mut dec = JpegDecoder::new_with_options(
        ZCursor::new(bytes),
        base.jpeg_set_out_colorspace(ColorSpace::RGB),
    );
    let data = dec.decode().map_err(jpeg_error)?;
    Ok(Decoded {
        width,
        height,
        source_width: width,
        source_height: height,
        layout: Layout::Rgb,
        data,
        // A CMYK profile cannot describe RGB data, and a profile for the wrong colour space is
        // ignored rather than misapplied.
        icc: icc.filter(|p| !four && !is_cmyk_profile(p)),
        orientation,
    })
}

/// Pixels jpeg-decoder made: the data, its width and height, and its layout.
pub(crate) type Pixels = (Vec<u8>, u32, u32, Layout);

/// The smallest decoded size (stored orientation) that still leaves the resampler a reduction
/// of at least 2x to the fitted size: DCT scaling alone is close to a box filter, so, as
/// libvips does, a real Lanczos2 reduction of at least 2x (its 4-tap support then spans at least
/// 8 decoded pixels per output pixel) does the final step and sets the quality.
pub(crate) fn needed_size(
    width: u32,
    height: u32,
    orientation: Orientation,
    t: Target<'_>,
) -> (u32, u32) {
    let f = t.fit(width, height, orientation);
    (f.width.saturating_mul(2), f.height.saturating_mul(2))
}

/// The largest DCT reduction (scale 1/8, 1/4 or 1/2) whose output is at least `need` on both
/// sides, as (n, width, height) for scale n/8; `None` when only the full size is. Output sides
/// round up, as in libjpeg.
pub(crate) fn dct_scale(
    width: u32,
    height: u32,
    need_w: u32,
    need_h: u32,
) -> Option<(u32, u32, u32)> {
    [1u32, 2, 4].into_iter().find_map(|num| {
        let (w, h) = (
            (width as u64 * num as u64).div_ceil(8) as u32,
            (height as u64 * num as u64).div_ceil(8) as u32,
        );
        (w >= need_w && h >= need_h).then_some((num, w, h))
    })
}

/// Decode at a reduced DCT scale with jpeg-decoder (built `platform_independent`, so its scaled
/// IDCT and colour conversion are the same integer code on x86_64, aarch64 and wasm32; see
/// determinism.md). `Ok(None)` when no reduction applies and the caller decodes at full size.
/// `budget`: the limits, and the bytes of a progressive file's coefficients
/// ([`scans::Frame::coefficient_bytes`]) that count against them.
pub(crate) fn decode_jpeg_scaled(
    bytes: &[u8],
    jpeg: &Jpeg,
    budget: (&Limits, u64),
    width: u32,
    height: u32,
    need_w: u32,
    need_h: u32,
) -> Result<Option<Pixels>, Error> {
    let Some((num, sw, sh)) = dct_scale(width, height, need_w, need_h) else {
        return Ok(None);
    };
    // A progressive JPEG's scans of coefficients the scaled IDCT never reads are left out
    // (same pixels, much less entropy decoding; see scans.rs).
    let kept = jpeg.without_scans_after(bytes, scans::last_needed(num));
    let input = kept.as_deref().unwrap_or(bytes);
    decode_with_jpeg_decoder(input, jpeg, budget, width, height, sw, sh)
}

/// Decode `bytes` (the file `jpeg` describes, or it with scans left out) with jpeg-decoder to
/// `sw`x`sh` (a DCT scale of `width`x`height`, or the full size) as RGB, or as YCbCr when the
/// frame's component ids say YCbCr (see [`Layout::YCbCr`]). `Ok(None)` when it does
/// not apply (not RGB or grey, or jpeg-decoder sees other dimensions): the caller then uses
/// zune-jpeg's strict decode. jpeg-decoder pads missing entropy-coded data instead of failing,
/// so every scan is first checked to be long enough for its blocks. `budget` as in
/// [`decode_jpeg_scaled`].
pub(crate) fn decode_with_jpeg_decoder(
    bytes: &[u8],
    jpeg: &Jpeg,
    (limits, coefficients): (&Limits, u64),
    width: u32,
    height: u32,
    sw: u32,
    sh: u32,
) -> Result<Option<Pixels>, Error> {
    use jpeg_decoder::PixelFormat;
    // No `scan_state` here: `decode_jpeg` has refused a too-short file already, and `Jpeg`
    // only parses files whose scans end in EOI.
    jpeg.check_scan_lengths()
        .map_err(|detail| Error::Truncated {
            format: Format::Jpeg,
            detail,
        })?;
    // Up to 3 bytes of component planes and 3 of RGB per output pixel, and a progressive
    // file's coefficients (2 bytes per sample at full size, whatever the scale).
    let out = u64::from(sw) * u64::from(sh);
    within_budget(out * 6 + coefficients, width, height, limits)?;
    let (Ok(rw), Ok(rh)) = (u16::try_from(sw), u16::try_from(sh)) else {
        return Ok(None);
    };
    let mut dec = jpeg_decoder::Decoder::new(bytes);
    dec.read_info().map_err(jd_error)?;
    let Some(info) = dec.info() else {
        return Ok(None);
    };
    if (info.width as u32, info.height as u32) != (width, height)
        || !matches!(info.pixel_format, PixelFormat::RGB24 | PixelFormat::L8)
    {
        return Ok(None);
    }
    let (ow, oh) = dec.scale(rw, rh).map_err(jd_error)?;
    if (ow as u32, oh as u32) != (sw, sh) {
        return Ok(None);
    }
    // Ids 1, 2, 3 are YCbCr to jpeg-decoder whatever else the file says. Its "RGB" transform
    // interleaves the planes unchanged (its `None` does not interleave), so the YCbCr to RGB
    // conversion can wait until after resampling (or enlarging), on the thumbnail's pixels only
    // (README, "Performance").
    let ycbcr = info.pixel_format == PixelFormat::RGB24 && jpeg.has_ycbcr_ids();
    if ycbcr {
        dec.set_color_transform(jpeg_decoder::ColorTransform::RGB);
    }
    let data = dec.decode().map_err(jd_error)?;
    Ok(Some(match info.pixel_format {
        PixelFormat::L8 => (
            data.iter().flat_map(|&v| [v, v, v]).collect(),
            sw,
            sh,
            Layout::Rgb,
        ),
        _ if ycbcr => (data, sw, sh, Layout::YCbCr),
        _ => (data, sw, sh, Layout::Rgb),
    }))
}

/// `Err(TooMuchMemory)` when decoding a `width`x`height` JPEG needs more than the budget.
pub(crate) fn within_budget(
    need: u64,
    width: u32,
    height: u32,
    limits: &Limits,
) -> Result<(), Error> {
    let budget = memory_budget(limits);
    if need > budget {
        return Err(Error::TooMuchMemory {
            format: Format::Jpeg,
            width,
            height,
            need_mb: need / 1_000_000,
            limit_mb: budget / 1_000_000,
        });
    }
    Ok(())
}

/// jpeg-decoder's error as fitbox's: by its variant where that says what happened (a read past
/// the end; a feature it does not decode), else by its message (see
/// [`super::errors::MESSAGES`]).
pub(crate) fn jd_error(e: jpeg_decoder::Error) -> Error {
    use jpeg_decoder::Error as E;
    let format = Format::Jpeg;
    match e {
        E::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => Error::Truncated {
            format,
            detail: io.to_string(),
        },
        E::Unsupported(u) => Error::UnsupportedVariant {
            format,
            detail: format!("{u:?}"),
        },
        other => by_message(Dependency::JpegDecoder, format, other.to_string()),
    }
}
