//! Decoding: bytes to 8-bit pixels, plus what the later steps need (ICC profile, EXIF
//! orientation). JPEG goes straight to zune-jpeg (strict mode, so truncated data is an error, not
//! a half-grey photo), except that a JPEG shrunk at least 4x is decoded at 1/2, 1/4 or 1/8 DCT
//! scale by jpeg-decoder (shrink-on-load; zune-jpeg still reads its headers, ICC and EXIF);
//! a PNG that is shrunk (8-bit RGB, palette or grey, not interlaced) is read row by row with png
//! and resampled as it is inflated (shrink-on-load, [`decode_png_shrunk`]); other PNGs, WebP and
//! GIF go through the `image` crate's decoders. Animated GIF,
//! WebP and APNG: the first frame (documented policy).

use std::io::Cursor;

use image::{ColorType, DynamicImage, ImageDecoder};
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::errors::DecodeErrors;
use zune_jpeg::JpegDecoder;

use crate::fit::{Filter, Fit};
use crate::guard::{check_dimensions, Probe};
use crate::jpeg_scans::Jpeg;
use crate::resize::RowShrinker;
use crate::{Error, Format, Limits};

/// Channel layout of decoded pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Rgb,
    /// A JPEG's own YCbCr (JFIF: BT.601, full range), upsampled and interleaved but not yet
    /// converted: resampled as it is, and turned into RGB afterwards on the thumbnail's pixels
    /// only (`color::to_srgb`), instead of on every decoded pixel.
    YCbCr,
    /// Straight (not premultiplied) alpha.
    Rgba,
    /// CMYK ink values (0 = no ink), to be converted with the image's CMYK ICC profile.
    Cmyk,
}

impl Layout {
    pub(crate) fn channels(self) -> usize {
        match self {
            Layout::Rgb | Layout::YCbCr => 3,
            Layout::Rgba | Layout::Cmyk => 4,
        }
    }
}

/// Pixels as decoded, in stored (not yet EXIF-oriented) orientation.
pub(crate) struct Decoded {
    /// Size of `data`: the stored size, or less after JPEG shrink-on-load.
    pub width: u32,
    pub height: u32,
    /// The image's stored size (what the headers say and what the box is fitted to).
    pub source_width: u32,
    pub source_height: u32,
    pub layout: Layout,
    pub data: Vec<u8>,
    pub icc: Option<Vec<u8>>,
    /// EXIF orientation 1..=8 (1 when absent or invalid).
    pub orientation: u8,
}

/// The box the decoded image will be fitted into; lets JPEG decode at a reduced DCT scale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    pub box_width: u32,
    pub box_height: u32,
    pub enlarge: bool,
}

impl Target {
    /// What the pipeline will resample an image of this stored size to ([`crate::fit::fit_stored`]).
    fn fit(self, width: u32, height: u32, orientation: u8) -> Fit {
        crate::fit::fit_stored(
            width,
            height,
            orientation,
            self.box_width,
            self.box_height,
            self.enlarge,
        )
    }

    /// The fitted size when it is a Lanczos2 reduction on both sides, the case shrink-on-load
    /// (PNG rows, WebP planes) resamples while decoding; `None` otherwise.
    fn reduction(self, width: u32, height: u32, orientation: u8) -> Option<(u32, u32)> {
        let f = self.fit(width, height, orientation);
        (f.filter == Filter::Lanczos2 && f.width < width && f.height < height)
            .then_some((f.width, f.height))
    }
}

/// Whether an ICC profile describes RGB (its data colour space field says so).
fn is_rgb_profile(icc: &[u8]) -> bool {
    icc.get(16..20) == Some(b"RGB ")
}

pub(crate) fn decode(
    bytes: &[u8],
    probe: &Probe,
    limits: &Limits,
    target: Option<Target>,
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

fn jpeg_error(e: DecodeErrors) -> Error {
    let msg = e.to_string();
    let lower = msg.to_ascii_lowercase();
    let format = Format::Jpeg;
    if matches!(e, DecodeErrors::ExhaustedData)
        || lower.contains("premature end")
        || lower.contains("no more bytes")
        || lower.contains("eof")
        || lower.contains("exhausted")
    {
        Error::Truncated {
            format,
            detail: msg,
        }
    } else if let DecodeErrors::Unsupported(s) = &e {
        Error::UnsupportedVariant {
            format,
            detail: format!("{s:?}"),
        }
    } else if lower.contains("`dac`") || lower.contains("arithmetic") {
        Error::UnsupportedVariant {
            format,
            detail: "arithmetic-coded JPEG".into(),
        }
    } else if lower.contains("8-bit") || lower.contains("12 bit") || lower.contains("precision") {
        Error::UnsupportedVariant {
            format,
            detail: msg,
        }
    } else {
        Error::Corrupt {
            format,
            detail: msg,
        }
    }
}

fn decode_jpeg(bytes: &[u8], limits: &Limits, target: Option<Target>) -> Result<Decoded, Error> {
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
    let coefficients = crate::jpeg_scans::Frame::read(bytes).map_or_else(
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
        if input == ColorSpace::YCCK {
            ycck_to_cmyk(&mut data);
        } else if adobe.is_some() {
            // Adobe writes CMYK inverted (255 = no ink).
            data.iter_mut().for_each(|v| *v = 255 - *v);
        }
        return Ok(Decoded {
            width,
            height,
            source_width: width,
            source_height: height,
            layout: Layout::Cmyk,
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
type Pixels = (Vec<u8>, u32, u32, Layout);

/// The smallest decoded size (stored orientation) that still leaves the resampler a reduction
/// of at least 2x to the fitted size: DCT scaling alone is close to a box filter, so, as
/// libvips does, a real Lanczos2 reduction of at least 2x (its 4-tap support then spans at least
/// 8 decoded pixels per output pixel) does the final step and sets the quality.
fn needed_size(width: u32, height: u32, orientation: u8, t: Target) -> (u32, u32) {
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
/// ([`crate::jpeg_scans::Frame::coefficient_bytes`]) that count against them.
fn decode_jpeg_scaled(
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
    // (same pixels, much less entropy decoding; see jpeg_scans.rs).
    let kept = jpeg.without_scans_after(bytes, crate::jpeg_scans::last_needed(num));
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
fn decode_with_jpeg_decoder(
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
    // conversion can wait until after resampling (or enlarging): on the 1/4-scale decodes of
    // the benchmark photos that saves 6-8 % of the time.
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
fn within_budget(need: u64, width: u32, height: u32, limits: &Limits) -> Result<(), Error> {
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

/// What the entropy-coded data of a JPEG looks like, judged without decoding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// An EOI marker follows the first scan, with at least one bit per 8x8 luma block.
    Complete,
    /// No EOI after the first scan: cut off (zune-jpeg's strict decode tells for sure).
    NoEnd,
    /// An EOI, but fewer bits than blocks: no JPEG can code that, the data was cut.
    TooShort(u64),
}

/// Judge the scan data: every 8x8 block costs at least one bit of Huffman code in any JPEG,
/// baseline or progressive. Markers before the first scan are walked segment by segment (an
/// EXIF thumbnail inside APP1 has its own SOS/EOI, which must not count); inside entropy-coded
/// data a literal FF is always stuffed as FF 00, so FF D9 there is a real marker.
fn scan_state(bytes: &[u8], width: u32, height: u32) -> Scan {
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return Scan::NoEnd;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        if marker == 0xDA {
            let Some(rest) = bytes.get(i + 2 + len..) else {
                return Scan::NoEnd;
            };
            let Some(end) = rest.windows(2).rposition(|w| w == [0xFF, 0xD9]) else {
                return Scan::NoEnd;
            };
            let blocks = (width as u64).div_ceil(8) * (height as u64).div_ceil(8);
            return if end as u64 * 8 >= blocks {
                Scan::Complete
            } else {
                Scan::TooShort(end as u64)
            };
        }
        i += 2 + len;
    }
    Scan::NoEnd
}

fn jd_error(e: jpeg_decoder::Error) -> Error {
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
        other => truncated_or_corrupt(format, other.to_string(), &["eof", "end of", "premature"]),
    }
}

/// A decoder's error message, as [`Error::Truncated`] when it contains one of `truncation`'s
/// phrases (lowercase; decoders say "data ends early" in their own words), else
/// [`Error::Corrupt`].
fn truncated_or_corrupt(format: Format, msg: String, truncation: &[&str]) -> Error {
    let lower = msg.to_ascii_lowercase();
    if truncation.iter().any(|t| lower.contains(t)) {
        Error::Truncated {
            format,
            detail: msg,
        }
    } else {
        Error::Corrupt {
            format,
            detail: msg,
        }
    }
}

/// EXIF orientation 1..=8 from an EXIF block (TIFF header first, or with an `Exif\0\0` prefix);
/// 1 when absent or invalid.
fn exif_orientation(exif: Option<&[u8]>) -> u8 {
    exif.map(|e| e.strip_prefix(b"Exif\0\0").unwrap_or(e))
        .and_then(image::metadata::Orientation::from_exif_chunk)
        .map(|o| o.to_exif())
        .unwrap_or(1)
}

/// The colour space signature of an ICC profile is at bytes 16..20.
fn is_cmyk_profile(icc: &[u8]) -> bool {
    icc.get(16..20) == Some(b"CMYK")
}

/// The transform byte of an Adobe APP14 segment, if the JPEG has one before its first scan.
fn adobe_transform(bytes: &[u8]) -> Option<u8> {
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        if marker == 0xEE && len >= 14 {
            let seg = bytes.get(i + 4..i + 2 + len)?;
            if seg.starts_with(b"Adobe") {
                return seg.get(11).copied();
            }
        }
        i += 2 + len;
    }
    None
}

/// Adobe YCCK (transform 2) to CMYK ink values, in place: YCbCr -> RGB (JFIF, integer), then
/// C = R, M = G, Y = B, K = 255 - K (Adobe stores the inverted values).
fn ycck_to_cmyk(data: &mut [u8]) {
    for px in data.chunks_exact_mut(4) {
        let y = px[0] as i32;
        let cb = px[1] as i32 - 128;
        let cr = px[2] as i32 - 128;
        // Fixed point with 16 fractional bits, rounded.
        let r = y + ((91_881 * cr + 32_768) >> 16);
        let g = y - ((22_554 * cb + 46_802 * cr - 32_768) >> 16);
        let b = y + ((116_130 * cb + 32_768) >> 16);
        px[0] = r.clamp(0, 255) as u8;
        px[1] = g.clamp(0, 255) as u8;
        px[2] = b.clamp(0, 255) as u8;
        px[3] = 255 - px[3];
    }
}

fn image_error(format: Format, e: image::ImageError) -> Error {
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
        other => truncated_or_corrupt(format, other.to_string(), IMAGE_TRUNCATION),
    }
}

fn decode_with_image(bytes: &[u8], format: Format, limits: &Limits) -> Result<Decoded, Error> {
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

/// WebP shrink-on-load, for a still, opaque, lossy WebP that is shrunk: image-webp's VP8 decoder
/// gives the Y plane and the half-size U and V planes; each is resampled with Lanczos2 straight
/// to the fitted size and only then converted to RGB (libwebp's integer BT.601 conversion). The
/// whole-image route instead upsamples the chroma and converts every pixel to a full-size RGB
/// image (3 bytes per pixel more, 72 MB for a 24 MP panorama) before resampling it.
/// `Ok(None)` for every other WebP (lossless, alpha, animated, not shrinking): the caller decodes
/// it whole. The route depends on the file's headers alone, the same on every platform.
fn decode_webp_shrunk(bytes: &[u8], limits: &Limits, t: Target) -> Result<Option<Decoded>, Error> {
    let err = |e: image_webp::DecodingError| match e {
        image_webp::DecodingError::IoError(io)
            if io.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            Error::Truncated {
                format: Format::Webp,
                detail: io.to_string(),
            }
        }
        other => truncated_or_corrupt(Format::Webp, other.to_string(), IMAGE_TRUNCATION),
    };
    let mut dec = image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(err)?;
    if dec.is_animated() || dec.has_alpha() || !dec.is_lossy() {
        return Ok(None);
    }
    let (width, height) = dec.dimensions();
    check_dimensions(width, height, limits)?;
    // As the whole-image route (`finish`): unreadable EXIF is no EXIF.
    let orientation = exif_orientation(dec.exif_metadata().ok().flatten().as_deref());
    let Some((rw, rh)) = t.reduction(width, height, orientation) else {
        return Ok(None);
    };
    let icc = dec
        .icc_profile()
        .map_err(err)?
        .filter(|p| is_rgb_profile(p));
    let Some(vp8) = riff_chunk(bytes, b"VP8 ") else {
        return Ok(None);
    };
    // The VP8 decoder sizes its planes from its own frame header: it must be the picture the
    // container declares (and the guard checked) before anything is allocated.
    let frame_size = match vp8.get(3..10) {
        Some([0x9d, 0x01, 0x2a, w0, w1, h0, h1]) => (
            u32::from(u16::from_le_bytes([*w0, *w1]) & 0x3fff),
            u32::from(u16::from_le_bytes([*h0, *h1]) & 0x3fff),
        ),
        _ => return Ok(None),
    };
    if frame_size != (width, height) {
        return Err(Error::Corrupt {
            format: Format::Webp,
            detail: format!(
                "the VP8 frame is {}x{} but the file says {width}x{height}",
                frame_size.0, frame_size.1
            ),
        });
    }
    // (The decoder reads its size from these same header bytes.)
    let frame = image_webp::vp8::Vp8Decoder::decode_frame(Cursor::new(vp8)).map_err(err)?;
    // The chroma planes stand for half the picture's width and height, which for an odd size
    // ends inside their last sample: that is where their resampling window ends too.
    let chroma = (0.0, 0.0, f64::from(width) / 2.0, f64::from(height) / 2.0);
    let data = resample_vp8(frame, (width, height), (rw, rh), chroma)?;
    Ok(Some(Decoded {
        width: rw,
        height: rh,
        source_width: width,
        source_height: height,
        layout: Layout::Rgb,
        data,
        icc,
        orientation,
    }))
}

/// The picture of a decoded VP8 frame (`width x height`) resampled to `rw x rh` as RGB: each
/// plane apart with Lanczos2, luma whole and chroma from the `chroma` rectangle of its planes,
/// then converted.
fn resample_vp8(
    frame: image_webp::vp8::Frame,
    (width, height): (u32, u32),
    (rw, rh): (u32, u32),
    chroma: (f64, f64, f64, f64),
) -> Result<Vec<u8>, Error> {
    // The decoder's planes are whole macroblocks wide and high; keep the picture's pixels only.
    let stride = width.next_multiple_of(16) as usize;
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    let luma = (0.0, 0.0, f64::from(width), f64::from(height));
    let planes = [
        (frame.ybuf, stride, (width, height), luma),
        (frame.ubuf, stride / 2, (cw, ch), chroma),
        (frame.vbuf, stride / 2, (cw, ch), chroma),
    ];
    let mut resampled = Vec::with_capacity(3);
    for (mut plane, stride, (w, h), crop) in planes {
        let (wu, hu) = (w as usize, h as usize);
        if plane.len() < stride * hu {
            return Err(Error::Internal("VP8 plane smaller than its picture".into()));
        }
        // In place, row by row (each row moves to an earlier or the same place).
        for row in 1..hu {
            plane.copy_within(row * stride..row * stride + wu, row * wu);
        }
        plane.truncate(wu * hu);
        resampled.push(crate::resize::resample_plane(
            &plane,
            (w, h),
            crop,
            (rw, rh),
        )?);
    }
    Ok(resampled[0]
        .iter()
        .zip(&resampled[1])
        .zip(&resampled[2])
        .flat_map(|((&y, &u), &v)| crate::color::vp8_yuv_to_rgb(y, u, v))
        .collect())
}

/// What is wrong when a RIFF chunk image-webp indexes runs past the end of the file: a file cut
/// short. image-webp allocates a metadata chunk's declared size before reading it (4 GB for a
/// few bytes of input), so every chunk it may index is checked first, walking as image-webp 0.2
/// walks: a simple file's one chunk; in an extended (VP8X) file, the chunks that start before
/// its end of walk (the RIFF size counted from the end of the VP8X chunk) whose kind it knows,
/// and the first two sub-chunks of the first animation frame. Anything else image-webp skips
/// without reading, and so is left alone here (trailing bytes, chunks of unknown kinds).
fn riff_overrun(bytes: &[u8]) -> Option<String> {
    const INDEXED: [&[u8; 4]; 9] = [
        b"VP8 ", b"VP8L", b"VP8X", b"ANIM", b"ANMF", b"ALPH", b"ICCP", b"EXIF", b"XMP ",
    ];
    let header = |at: usize| riff_header(bytes, at);
    let overrun = |kind: &[u8; 4], size: u64, payload: usize| {
        let left = (bytes.len() - payload) as u64;
        (size > left).then(|| {
            let name = String::from_utf8_lossy(kind).trim_end().to_string();
            format!("the {name} chunk declares {size} bytes but the file has {left} more")
        })
    };
    // Where the chunk declaring `size` bytes at `payload` ends, padding included.
    let next = |payload: usize, size: u64| payload + size as usize + (size & 1) as usize;

    let (kind, size, payload) = header(12)?;
    if let Some(why) = overrun(kind, size, payload) {
        return Some(why);
    }
    if kind != b"VP8X" {
        return None;
    }
    let riff = u64::from(u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?));
    let mut at = next(payload, size);
    let end = (at as u64).saturating_add(riff.saturating_sub(12));
    let mut first_frame = true;
    while (at as u64) < end {
        let Some((kind, size, payload)) = header(at) else {
            break;
        };
        if let Some(why) = overrun(kind, size, payload) {
            // image-webp seeks past a chunk it does not know, and then finds the file's end.
            return INDEXED.contains(&kind).then_some(why);
        }
        if kind == b"ANMF" && first_frame {
            first_frame = false;
            // Sub-chunks after the 16-byte frame header, as image-webp reads them.
            let frame_end = payload + size as usize;
            let mut sub = payload + 16;
            for _ in 0..2 {
                let Some((kind, size, p)) = header(sub) else {
                    break;
                };
                if let Some(why) = overrun(kind, size, p) {
                    return Some(format!("in the first frame, {why}"));
                }
                sub = next(p, size);
                if sub + 8 > frame_end {
                    break;
                }
            }
        }
        at = next(payload, size);
    }
    None
}

/// The RIFF chunk header at `at`: its kind, declared size and payload start; `None` past the end.
fn riff_header(bytes: &[u8], at: usize) -> Option<(&[u8; 4], u64, usize)> {
    let h = bytes.get(at..at.checked_add(8)?)?;
    let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    Some((h[..4].try_into().ok()?, u64::from(size), at + 8))
}

/// The payload of the first RIFF chunk of this kind in a WebP file (after its 12-byte header);
/// `None` when there is none, or it runs past the end of the file.
fn riff_chunk<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    let mut at = 12usize;
    while let Some((k, size, payload)) = riff_header(bytes, at) {
        let size = usize::try_from(size).ok()?;
        let data = bytes.get(payload..payload.checked_add(size)?)?;
        if k == kind {
            return Some(data);
        }
        at = payload + size + (size & 1);
    }
    None
}

/// PNG shrink-on-load: the rows of a non-interlaced 8-bit RGB, palette (without transparency)
/// or grey PNG that is shrunk are resampled as they are inflated ([`RowShrinker`]), so the
/// full-size image is never held: peak memory is the input plus a window of rows under the
/// filter instead of `width x height x 3` (about 4 MB instead of 44 MB for a 5120x2880 PNG to
/// 400x225).
/// `Ok(None)` for every other PNG (interlaced, 16-bit, alpha, not shrinking): the caller decodes
/// it whole. Which path a PNG takes depends on its header alone, the same on every platform.
fn decode_png_shrunk(bytes: &[u8], limits: &Limits, t: Target) -> Result<Option<Decoded>, Error> {
    let mut dec = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: METADATA_BYTES as usize,
        },
    );
    // Read text chunks as the `image` crate's decoder does, so both paths refuse the same files.
    dec.set_ignore_text_chunk(false);
    let header = dec.read_header_info().map_err(png_error)?;
    let (width, height) = (header.width, header.height);
    check_dimensions(width, height, limits)?;
    // What the header alone rules out, before read_info inflates any metadata (the whole-image
    // decoder would read it all again). Palette and grey with tRNS show up after read_info.
    let colour_ok = matches!(
        header.color_type,
        png::ColorType::Rgb | png::ColorType::Grayscale | png::ColorType::Indexed
    );
    if !colour_ok || header.interlaced || header.bit_depth == png::BitDepth::Sixteen {
        return Ok(None);
    }
    dec.set_transformations(png::Transformations::EXPAND);
    let mut reader = dec.read_info().map_err(png_error)?;
    let grey = match reader.output_color_type() {
        (png::ColorType::Rgb, png::BitDepth::Eight) => false,
        (png::ColorType::Grayscale, png::BitDepth::Eight) => true,
        _ => return Ok(None),
    };
    let info = reader.info();
    let orientation = exif_orientation(info.exif_metadata.as_deref());
    let Some((rw, rh)) = t.reduction(width, height, orientation) else {
        return Ok(None);
    };
    // A grey profile cannot be applied to the RGB we expand grey into; grey stays grey.
    let icc = info
        .icc_profile
        .as_deref()
        .filter(|p| !grey && is_rgb_profile(p))
        .map(<[u8]>::to_vec);
    let mut shrinker = RowShrinker::new(width, height, rw, rh, Filter::Lanczos2)?;
    let line = width as usize * 3;
    let strip_rows = RowShrinker::STRIP_ROWS.min(height) as usize;
    let mut strip = vec![0u8; line * strip_rows];
    let mut grey_row = vec![0u8; if grey { width as usize } else { 0 }];
    let mut filled = 0;
    for _ in 0..height {
        let row = &mut strip[filled * line..(filled + 1) * line];
        let got = if grey {
            let got = reader.read_row(&mut grey_row).map_err(png_error)?;
            for (px, &v) in row.chunks_exact_mut(3).zip(&grey_row) {
                px.fill(v);
            }
            got
        } else {
            reader.read_row(row).map_err(png_error)?
        };
        if got.is_none() {
            return Err(Error::Truncated {
                format: Format::Png,
                detail: "the image data ends before its last row".into(),
            });
        }
        filled += 1;
        if filled == strip_rows {
            shrinker.push(&strip)?;
            filled = 0;
        }
    }
    shrinker.push(&strip[..filled * line])?;
    // One more read finishes the image data and checks its end, as a whole-image decode does:
    // a PNG cut inside its last IDAT (checksum gone) is refused on both paths.
    let extra = if grey {
        reader.read_row(&mut grey_row)
    } else {
        reader.read_row(&mut strip[..line])
    };
    if extra.map_err(png_error)?.is_some() {
        return Err(Error::Corrupt {
            format: Format::Png,
            detail: "more image rows than the header declares".into(),
        });
    }
    Ok(Some(Decoded {
        width: rw,
        height: rh,
        source_width: width,
        source_height: height,
        layout: Layout::Rgb,
        data: shrinker.finish()?,
        icc,
        orientation,
    }))
}

fn png_error(e: png::DecodingError) -> Error {
    let format = Format::Png;
    match e {
        png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::Truncated {
                format,
                detail: io.to_string(),
            }
        }
        png::DecodingError::LimitsExceeded => Error::Corrupt {
            format,
            detail: "decoding would need more memory than allowed (metadata or buffers)".into(),
        },
        other => truncated_or_corrupt(format, other.to_string(), IMAGE_TRUNCATION),
    }
}

/// Phrases of the `image` crate's decoders (and png's) that mean the data ended early.
const IMAGE_TRUNCATION: &[&str] = &[
    "eof",
    "end of file",
    "truncated",
    "unexpected end",
    "no more data",
];

/// What a PNG decoder may allocate for metadata and its own buffers while reading the header.
const METADATA_BYTES: u64 = 64 << 20;

/// Most memory one image may need to decode and resize: `max_pixels` of RGBA (400 MB at the
/// default 100 MP), so the resize of any accepted image fits a 512 MB Lambda.
fn memory_budget(limits: &Limits) -> u64 {
    limits.max_pixels.saturating_mul(4)
}

/// Peak bytes held at once by [`finish`] and the resampler for `pixels` decoded as `ct`: the
/// decoder's buffer plus its 8-bit copy; with alpha, RGBA plus either its RGB copy (opaque) or
/// the resampler's premultiplied copy.
fn peak_bytes(ct: ColorType, pixels: u64) -> u64 {
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

fn finish(mut d: impl ImageDecoder, format: Format, limits: &Limits) -> Result<Decoded, Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::Filter;
    use crate::resize::resize;

    /// A `side`x`side` box, shrinking only.
    fn fit_box(side: u32) -> Target {
        Target {
            box_width: side,
            box_height: side,
            enlarge: false,
        }
    }

    fn shrunk(bytes: &[u8], side: u32) -> Decoded {
        let limits = Limits::default();
        let probe = crate::guard::probe(bytes, &limits).unwrap();
        decode(bytes, &probe, &limits, Some(fit_box(side))).unwrap()
    }

    /// A file of `core/tests/fixtures`.
    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A smooth `side`x`side` JPEG made here: CMYK (4:4:4, Adobe-inverted as jpeg-encoder
    /// writes it) or RGB at 4:4:4, baseline or progressive, with `icc` embedded.
    fn made_jpeg(side: u16, cmyk: bool, progressive: bool, icc: Option<&[u8]>) -> Vec<u8> {
        let n = usize::from(side);
        let channels = if cmyk { 4 } else { 3 };
        let pixels: Vec<u8> = (0..n * n * channels)
            .map(|i| ((i / channels) % n * 255 / n) as u8 ^ (i % channels) as u8)
            .collect();
        let mut out = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut out, 85);
        enc.set_progressive(progressive);
        enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
        if let Some(icc) = icc {
            enc.add_icc_profile(icc).unwrap();
        }
        let colour = if cmyk {
            jpeg_encoder::ColorType::Cmyk
        } else {
            jpeg_encoder::ColorType::Rgb
        };
        enc.encode(&pixels, side, side, colour).unwrap();
        out
    }

    /// Full-size decodes count every buffer against the budget (4 bytes x `max_pixels`): the
    /// output (RGB 3 bytes, raw CMYK 4 bytes per pixel) and, for a progressive file, every
    /// coefficient (2 bytes per sample, held until the last scan). Refused before decoding,
    /// naming what it needs and the limit; the same sizes as baseline files pass.
    #[test]
    fn progressive_coefficients_and_cmyk_count_against_the_budget() {
        // 1000x1000 at 4:4:4: 3 MB of RGB, 4 MB of CMYK; a progressive file adds coefficients
        // of 6 MB (RGB) or 8 MB (CMYK).
        let limits = Limits {
            max_pixels: 2_000_000, // budget 8 MB
            ..Limits::default()
        };
        let profile = {
            let edge = fitbox_tests::read("edge/sharp_Channel_digital_image_CMYK_color.jpg");
            let mut d = JpegDecoder::new(ZCursor::new(&edge[..]));
            d.decode_headers().unwrap();
            d.icc_profile()
                .expect("the SWOP profile of the CMYK edge file")
        };
        let full = |bytes: &[u8]| {
            let probe = crate::guard::probe(bytes, &limits).unwrap();
            decode(bytes, &probe, &limits, None)
        };
        for (name, cmyk, icc, need_mb) in [
            ("RGB", false, None, 9),
            ("CMYK, no profile (zune converts)", true, None, 11),
            (
                "CMYK with its profile (raw CMYK kept)",
                true,
                Some(&profile[..]),
                12,
            ),
        ] {
            let baseline = full(&made_jpeg(1000, cmyk, false, icc))
                .unwrap_or_else(|e| panic!("baseline {name}: {e}"));
            assert_eq!((baseline.width, baseline.height), (1000, 1000), "{name}");
            match full(&made_jpeg(1000, cmyk, true, icc)) {
                Err(Error::TooMuchMemory {
                    need_mb: need,
                    limit_mb: 8,
                    ..
                }) => assert_eq!(need, need_mb, "progressive {name}"),
                other => panic!("progressive {name}: {:?}", other.map(|d| d.layout)),
            }
        }
        // Shrink-on-load (jpeg-decoder at 1/8 scale, 125x125) still holds the full-size
        // coefficients: 6 MB of them and 0.09 MB of planes and RGB, over a 6 MB budget.
        let bytes = made_jpeg(1000, false, true, None);
        let small = |max_pixels| Limits {
            max_pixels,
            ..Limits::default()
        };
        let probe = crate::guard::probe(&bytes, &small(1_500_000)).unwrap();
        assert!(matches!(
            decode(&bytes, &probe, &small(1_500_000), Some(fit_box(50))),
            Err(Error::TooMuchMemory {
                need_mb: 6,
                limit_mb: 6,
                ..
            })
        ));
        let d = decode(&bytes, &probe, &small(2_000_000), Some(fit_box(50))).unwrap();
        assert!(d.width < 1000, "decoded at a reduced scale");
    }

    /// The frame header is read for every frame type, CMYK included, and progressive files
    /// hold their coefficients: per component, whole MCUs of 8x8 blocks of 2-byte values.
    #[test]
    fn frame_headers_give_the_coefficient_bytes() {
        use crate::jpeg_scans::Frame;
        let f = Frame::read(&made_jpeg(100, true, true, None)).unwrap();
        assert!(f.progressive);
        assert_eq!(f.coefficient_bytes(), 4 * 13 * 13 * 64 * 2);
        let f = Frame::read(&made_jpeg(100, true, false, None)).unwrap();
        assert!(!f.progressive);
        assert_eq!(f.coefficient_bytes(), 0);
        // 4:2:0: luma padded to 16x16 MCUs, chroma at half size.
        let mut out = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut out, 85);
        enc.set_progressive(true);
        enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
        enc.encode(
            &[128; 100 * 100 * 3],
            100,
            100,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
        let f = Frame::read(&out).unwrap();
        assert_eq!(f.coefficient_bytes(), (14 * 14 + 2 * 7 * 7) * 64 * 2);
        assert_eq!(
            Frame::read(b"\xFF\xD8\xFF\xDA\x00\x02"),
            None,
            "a scan before any frame"
        );
        assert_eq!(Frame::read(b"\xFF\xD8\xFF\xE0\x00"), None, "cut short");
        assert_eq!(Frame::read(b"GIF89a"), None);
    }

    /// `d` resampled to `w`x`h` with Lanczos2, as the pipeline resamples a whole decode.
    fn resampled(d: Decoded, w: u32, h: u32) -> Vec<u8> {
        resize(d.data, d.width, d.height, d.layout, w, h, Filter::Lanczos2).unwrap()
    }

    /// jpeg-decoder's own RGB (its colour conversion) at `w`x`h`, a DCT scale of the file.
    fn jpeg_decoder_rgb(bytes: &[u8], w: u32, h: u32) -> Vec<u8> {
        let mut dec = jpeg_decoder::Decoder::new(bytes);
        dec.read_info().unwrap();
        assert_eq!(dec.scale(w as u16, h as u16).unwrap(), (w as u16, h as u16));
        dec.decode().unwrap()
    }

    /// (largest, mean) absolute difference of two equally long byte strings.
    fn difference(a: &[u8], b: &[u8]) -> (u8, f64) {
        assert_eq!(a.len(), b.len());
        let max = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
        let sum: u64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        (max, sum as f64 / a.len() as f64)
    }

    /// JPEGs shrunk on load keep their YCbCr through the resampler and are converted to RGB
    /// after it: the planes are jpeg-decoder's own (converted at the decoded size they give
    /// exactly its RGB), and resampling before converting changes the thumbnail by no more than
    /// rounding and clamping do.
    #[test]
    fn shrunk_ycbcr_jpegs_are_converted_after_resampling() {
        for rel in [
            "photos/mde_canon_eos_5d_mark_iii.jpg",
            "photos/jpegfiles_iphone_se2_display_p3.jpg",
            "photos/lomiri_Wine_by_Jakkub_Mede.jpg",
            "photos/lomiri_Kleiber_by_Lukas_Baubkus.jpg",
            "photos/lomiri_seeding_by_Clements_Engelhardt.jpg",
            "photos/mde_canon_eos_1000d_orient6.jpg",
            "edge/Landscape_6.jpg",
        ] {
            let bytes = fitbox_tests::read(rel);
            let d = shrunk(&bytes, 400);
            assert_eq!(d.layout, Layout::YCbCr, "{rel}");
            assert!(
                d.width < d.source_width,
                "{rel} is decoded at a reduced scale"
            );
            let own = jpeg_decoder_rgb(&bytes, d.width, d.height);
            let (converted, _) = crate::color::to_srgb(d.data.clone(), Layout::YCbCr, None);
            assert!(
                converted == own,
                "{rel}: converted planes differ from jpeg-decoder's RGB"
            );

            let (w, h) = (d.width.div_ceil(4), d.height.div_ceil(4));
            let late = resize(
                d.data,
                d.width,
                d.height,
                Layout::YCbCr,
                w,
                h,
                Filter::Lanczos2,
            );
            let (late, _) = crate::color::to_srgb(late.unwrap(), Layout::YCbCr, None);
            let early = resize(own, d.width, d.height, Layout::Rgb, w, h, Filter::Lanczos2);
            let (max, mean) = difference(&late, &early.unwrap());
            // Measured: max 3-7, mean 0.21-0.37 (YCbCr rounded to 8 bits once more).
            assert!(max <= 8 && mean < 0.5, "{rel}: max {max}, mean {mean}");
        }
    }

    /// Lossy WebPs that are shrunk take the plane route: it agrees with decoding the whole
    /// image to RGB and resampling that within the rounding of the two routes (chroma resampled
    /// from its own half size instead of from a bilinear upsampling).
    #[test]
    fn shrunk_lossy_webps_resample_their_planes() {
        let odd = fixture("seeding_301x201.webp");
        let jpeg = fitbox_tests::read("photos/jpegfiles_iphone_se2_display_p3.jpg");
        let mut header = JpegDecoder::new(ZCursor::new(&jpeg));
        header.decode_headers().unwrap();
        let p3 = header.icc_profile().unwrap();
        let p7000 = fitbox_tests::read("photos/mde_nikon_p7000_orient6.webp");
        for (rel, bytes, side) in [
            ("p7000", p7000.clone(), 400),
            (
                "bryce",
                fitbox_tests::read("photos/libwebp_bryce_panorama.webp"),
                400,
            ),
            (
                "hopper",
                fitbox_tests::read("edge/pillow_hopper_orientation_6.webp"),
                45,
            ),
            // Odd width and height: the chroma planes' last sample is half outside.
            ("odd", odd, 100),
            ("p7000 with a P3 profile", webp_with_iccp(&p7000, &p3), 400),
        ] {
            let d = shrunk(&bytes, side);
            let whole = decode_with_image(&bytes, Format::Webp, &Limits::default()).unwrap();
            assert_eq!(
                (d.source_width, d.source_height),
                (whole.width, whole.height)
            );
            assert!(
                d.width < whole.width && d.height < whole.height,
                "{rel} is shrunk"
            );
            assert_eq!(d.layout, Layout::Rgb);
            assert_eq!(d.orientation, whole.orientation, "{rel}");
            assert_eq!(d.icc, whole.icc, "{rel}");
            if rel.contains("P3") {
                assert_eq!(d.icc.as_deref(), Some(&p3[..]));
            }
            let early = resampled(whole, d.width, d.height);
            let (max, mean) = difference(&d.data, &early);
            // Measured: max 5-9, mean 0.30-0.72.
            assert!(max <= 16 && mean < 1.0, "{rel}: max {max}, mean {mean}");
        }
    }

    /// The chroma planes are resampled from where they stand: a window that starts or ends half
    /// a chroma sample off, or (odd sizes) covers the whole last sample, takes the result further
    /// from the whole-image route's, on the odd-sized fixture and on a photo.
    #[test]
    fn webp_chroma_is_resampled_from_where_it_stands() {
        for (name, bytes, (rw, rh)) in [
            ("odd", fixture("seeding_301x201.webp"), (100, 67)),
            (
                "p7000",
                fitbox_tests::read("photos/mde_nikon_p7000_orient6.webp"),
                (400, 300),
            ),
        ] {
            let whole = decode_with_image(&bytes, Format::Webp, &Limits::default()).unwrap();
            let (w, h) = (whole.width, whole.height);
            let reference = resampled(whole, rw, rh);
            let error = |crop: (f64, f64, f64, f64)| {
                let vp8 = riff_chunk(&bytes, b"VP8 ").unwrap();
                let frame = image_webp::vp8::Vp8Decoder::decode_frame(Cursor::new(vp8)).unwrap();
                let rgb = resample_vp8(frame, (w, h), (rw, rh), crop).unwrap();
                difference(&rgb, &reference).1
            };
            let (cw, ch) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
            let right = error((0.0, 0.0, cw, ch));
            let mut wrong = vec![
                (0.5, 0.0, cw - 0.5, ch),
                (0.0, 0.0, cw - 0.5, ch),
                (0.0, 0.5, cw, ch - 0.5),
                (0.0, 0.0, cw, ch - 0.5),
            ];
            if w % 2 == 1 {
                wrong.push((0.0, 0.0, cw.ceil(), ch.ceil()));
            }
            for crop in wrong {
                let off = error(crop);
                assert!(right < off, "{name}: {right} vs {off} from {crop:?}");
            }
            // And the route itself is this resampling.
            let d = shrunk(&bytes, rw.max(rh));
            assert_eq!((d.width, d.height), (rw, rh), "{name}");
            assert_eq!(difference(&d.data, &reference).1, right, "{name}");
        }
    }

    /// `webp` (an extended WebP) with `profile` in an ICCP chunk after its VP8X chunk.
    fn webp_with_iccp(webp: &[u8], profile: &[u8]) -> Vec<u8> {
        assert_eq!(&webp[12..16], b"VP8X");
        let mut out = webp[..30].to_vec();
        out[20] |= 0x20; // the ICC flag
        out.extend_from_slice(b"ICCP");
        out.extend_from_slice(&(profile.len() as u32).to_le_bytes());
        out.extend_from_slice(profile);
        if profile.len() % 2 == 1 {
            out.push(0);
        }
        out.extend_from_slice(&webp[30..]);
        let riff = (out.len() - 8) as u32;
        out[4..8].copy_from_slice(&riff.to_le_bytes());
        out
    }

    /// `vp8_yuv_to_rgb` is image-webp's own conversion: with nearest-sample chroma, each pixel
    /// image-webp decodes equals the conversion of its Y and the U, V of its 2x2 block.
    #[test]
    fn vp8_conversion_is_image_webps() {
        let bytes = fitbox_tests::read("edge/pillow_hopper_orientation_6.webp");
        let frame = image_webp::vp8::Vp8Decoder::decode_frame(Cursor::new(
            riff_chunk(&bytes, b"VP8 ").unwrap(),
        ))
        .unwrap();
        let mut dec = image_webp::WebPDecoder::new(Cursor::new(&bytes)).unwrap();
        dec.set_lossy_upsampling(image_webp::UpsamplingMethod::Simple);
        let mut rgb = vec![0; dec.output_buffer_size().unwrap()];
        dec.read_image(&mut rgb).unwrap();
        let (w, h) = (usize::from(frame.width), usize::from(frame.height));
        let stride = w.next_multiple_of(16);
        let mut colours = std::collections::HashSet::new();
        for y in 0..h {
            for x in 0..w {
                let c = (y / 2) * stride / 2 + x / 2;
                let want = crate::color::vp8_yuv_to_rgb(
                    frame.ybuf[y * stride + x],
                    frame.ubuf[c],
                    frame.vbuf[c],
                );
                let i = (y * w + x) * 3;
                assert_eq!(rgb[i..i + 3], want, "pixel {x},{y}");
                colours.insert(want);
            }
        }
        assert!(colours.len() > 1000, "a real picture, not one colour");
    }

    /// A VP8 frame header that disagrees with the container's size is refused before the
    /// decoder allocates planes for it; a file cut short is refused, not padded.
    #[test]
    fn bad_lossy_webps_are_refused_on_the_plane_route() {
        let bytes = fitbox_tests::read("edge/pillow_hopper_orientation_6.webp");
        let at = bytes
            .windows(3)
            .position(|w| w == [0x9d, 0x01, 0x2a])
            .unwrap();
        let mut wide = bytes.clone();
        wide[at + 3..at + 5].copy_from_slice(&16_000u16.to_le_bytes());
        let limits = Limits::default();
        let t = fit_box(45);
        match decode_webp_shrunk(&wide, &limits, t) {
            Err(Error::Corrupt { detail, .. }) => {
                assert!(detail.contains("16000x128"), "{detail}")
            }
            other => panic!("{:?}", other.map(|d| d.map(|d| (d.width, d.height)))),
        }
        // Cut inside the VP8 chunk: refused as cut short, with or without a box, naming the
        // chunk.
        let photo = fitbox_tests::read("photos/mde_nikon_p7000_orient6.webp");
        let vp8 = riff_chunk(&photo, b"VP8 ").unwrap();
        let end = vp8.as_ptr() as usize - photo.as_ptr() as usize + vp8.len();
        for cut in [end / 3, end * 2 / 3, end - 10] {
            let short = &photo[..cut];
            let probe = crate::guard::probe(short, &limits).unwrap();
            let target = fit_box(400);
            for target in [Some(target), None] {
                match decode(short, &probe, &limits, target) {
                    Err(Error::Truncated { detail, .. }) => {
                        assert!(detail.starts_with("the VP8 chunk declares"), "{detail}")
                    }
                    other => panic!("cut at {cut}: {:?}", other.map(|d| (d.width, d.height))),
                }
            }
        }
    }

    /// A metadata chunk that declares more bytes than the file holds is refused before
    /// image-webp allocates its declared size (found by `scripts/fuzz.sh`: 4 GB for an EXIF
    /// chunk in a 3.6 KB file).
    #[test]
    fn webp_chunks_longer_than_the_file_are_refused_first() {
        let bytes = fitbox_tests::read("edge/pillow_hopper_orientation_6.webp");
        let exif = riff_chunk(&bytes, b"EXIF").expect("the file has EXIF");
        let at = exif.as_ptr() as usize - bytes.as_ptr() as usize - 4;
        let mut huge = bytes.clone();
        huge[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let limits = Limits::default();
        let probe = crate::guard::probe(&huge, &limits).unwrap();
        let target = fit_box(45);
        for target in [Some(target), None] {
            match decode(&huge, &probe, &limits, target) {
                Err(Error::Truncated { detail, .. }) => {
                    assert!(
                        detail.contains("EXIF chunk declares 4294967280 bytes"),
                        "{detail}"
                    )
                }
                other => panic!("{:?}", other.map(|d| (d.width, d.height))),
            }
        }
    }

    /// Bytes after the RIFF data are ignored, as image-webp and libwebp ignore them, even when
    /// they look like a chunk header declaring more than the file holds; a chunk inside the
    /// first animation frame that runs past the end is refused like a top-level one.
    #[test]
    fn webp_chunk_checks_follow_what_image_webp_reads() {
        let limits = Limits::default();
        let target = fit_box(400);
        let p7000 = fitbox_tests::read("photos/mde_nikon_p7000_orient6.webp");
        let riff_end = 8 + u32::from_le_bytes(p7000[4..8].try_into().unwrap()) as usize;
        assert_eq!((riff_end, &p7000[12..16]), (p7000.len(), &b"VP8X"[..]));
        let simple = fixture("seeding_301x201.webp");
        assert_eq!(&simple[12..16], b"VP8 ");
        for (name, file, tail) in [
            (
                "zeros, then EXIF",
                &p7000,
                &b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0EXIF\xf0\xff\xff\xff"[..],
            ),
            (
                "an unknown chunk",
                &p7000,
                &b"junk\xf0\xff\xff\xff trailing"[..],
            ),
            (
                "EXIF after a simple file",
                &simple,
                &b"EXIF\xf0\xff\xff\xff"[..],
            ),
        ] {
            let junk = [&file[..], tail].concat();
            assert_eq!(riff_overrun(&junk), None, "{name}");
            let probe = crate::guard::probe(&junk, &limits).unwrap();
            let d = decode(&junk, &probe, &limits, Some(fit_box(100)));
            assert!(d.is_ok(), "{name}: {:?}", d.err());
        }
        // image-webp walks an extended file to the RIFF size counted from the end of the VP8X
        // chunk: with a long VP8X chunk that reaches past the RIFF data, where an EXIF chunk
        // declaring 4 GB is found and refused.
        let mut long = p7000[..30].to_vec();
        long[16..20].copy_from_slice(&2010u32.to_le_bytes());
        long.extend_from_slice(&[0; 2000]);
        long.extend_from_slice(&p7000[30..]);
        let riff = (long.len() - 8) as u32;
        long[4..8].copy_from_slice(&riff.to_le_bytes());
        long.extend_from_slice(b"JUNK\x40\0\0\0");
        long.extend_from_slice(&[0; 64]);
        long.extend_from_slice(b"EXIF\xf0\xff\xff\xff");
        let why = riff_overrun(&long).expect("refused");
        assert!(
            why.starts_with("the EXIF chunk declares 4294967280"),
            "{why}"
        );

        // An animation whose first frame holds an ICCP sub-chunk declaring 4 GB.
        let small = fitbox_tests::read("edge/libwebp_small_1x1.webp");
        let vp8 = riff_chunk(&small, b"VP8 ").unwrap();
        let mut frame = vec![0u8; 16];
        frame[6..9].copy_from_slice(&[0, 0, 0]); // 1x1: width - 1 and height - 1 are 0
        frame.extend_from_slice(b"ICCP\xf0\xff\xff\xff");
        frame.extend_from_slice(&[0; 8]);
        frame.extend_from_slice(b"VP8 ");
        frame.extend_from_slice(&(vp8.len() as u32).to_le_bytes());
        frame.extend_from_slice(vp8);
        let mut body = b"WEBP".to_vec();
        let mut chunk = |kind: &[u8; 4], payload: &[u8]| {
            body.extend_from_slice(kind);
            body.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            body.extend_from_slice(payload);
            if payload.len() % 2 == 1 {
                body.push(0);
            }
        };
        chunk(b"VP8X", &[0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        chunk(b"ANIM", &[0, 0, 0, 0, 0, 0]);
        chunk(b"ANMF", &frame);
        let mut anim = b"RIFF".to_vec();
        anim.extend_from_slice(&(body.len() as u32).to_le_bytes());
        anim.extend_from_slice(&body);
        let why = riff_overrun(&anim).expect("refused");
        assert!(
            why.starts_with("in the first frame, the ICCP chunk declares"),
            "{why}"
        );
        let probe = crate::guard::probe(&anim, &limits).unwrap();
        for target in [Some(target), None] {
            assert!(matches!(
                decode(&anim, &probe, &limits, target),
                Err(Error::Truncated { .. })
            ));
        }
    }

    /// A VP8 chunk whose declared size matches its shortened data (so the RIFF structure is
    /// whole) is refused on both routes by the VP8 decoder itself.
    #[test]
    fn a_short_vp8_frame_is_refused_on_both_routes() {
        let photo = fitbox_tests::read("photos/mde_nikon_p7000_orient6.webp");
        let vp8 = riff_chunk(&photo, b"VP8 ").unwrap();
        let start = vp8.as_ptr() as usize - photo.as_ptr() as usize;
        let limits = Limits::default();
        let target = fit_box(400);
        for keep in [vp8.len() / 3, vp8.len() * 2 / 3] {
            let keep = keep & !1;
            let mut short = photo[..start].to_vec();
            short[start - 4..start].copy_from_slice(&(keep as u32).to_le_bytes());
            short.extend_from_slice(&vp8[..keep]);
            short.extend_from_slice(&photo[start + vp8.len() + (vp8.len() & 1)..]);
            let riff = (short.len() - 8) as u32;
            short[4..8].copy_from_slice(&riff.to_le_bytes());
            assert_eq!(riff_overrun(&short), None);
            let probe = crate::guard::probe(&short, &limits).unwrap();
            for target in [Some(target), None] {
                match decode(&short, &probe, &limits, target) {
                    Err(Error::Corrupt { detail, .. }) => {
                        assert!(detail.contains("Corrupt bitstream"), "{detail}")
                    }
                    other => panic!("{keep}: {:?}", other.map(|d| (d.width, d.height))),
                }
            }
        }
    }

    /// `bytes` with the frame's and the first scan's component ids 1, 2, 3 renamed to `ids`.
    fn with_component_ids(bytes: &[u8], ids: [u8; 3]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let mut i = 2;
        loop {
            let len = u16::from_be_bytes([out[i + 2], out[i + 3]]) as usize;
            match out[i + 1] {
                0xC0..=0xC2 => {
                    for (k, id) in ids.iter().enumerate() {
                        assert_eq!(out[i + 10 + 3 * k], k as u8 + 1);
                        out[i + 10 + 3 * k] = *id;
                    }
                }
                0xDA => {
                    for (k, id) in ids.iter().enumerate() {
                        assert_eq!(out[i + 5 + 2 * k], k as u8 + 1);
                        out[i + 5 + 2 * k] = *id;
                    }
                    return out;
                }
                _ => {}
            }
            i += 2 + len;
        }
    }

    /// Only ids 1, 2, 3 are certainly YCbCr to jpeg-decoder; with others (here 'R', 'G', 'B')
    /// it chooses the conversion itself and the pixels come out as the RGB it made.
    #[test]
    fn other_component_ids_leave_the_conversion_to_jpeg_decoder() {
        let bytes = fitbox_tests::read("edge/Landscape_6.jpg");
        let rgb = with_component_ids(&bytes, *b"RGB");
        let d = shrunk(&rgb, 400);
        assert_eq!(d.layout, Layout::Rgb);
        assert!(d.width < d.source_width);
        assert!(d.data == jpeg_decoder_rgb(&rgb, d.width, d.height));
        // The same file with its own ids is YCbCr: the renaming is what changed the route.
        assert_eq!(shrunk(&bytes, 400).layout, Layout::YCbCr);
    }
}
