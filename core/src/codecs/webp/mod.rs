//! WebP: the RIFF container checked before any decoder reads it ([`riff`]), and the VP8 planes of
//! a lossy still image for shrink-on-load. Every other WebP is decoded whole by
//! [`super::whole`].

pub(crate) mod riff;

use std::io::Cursor;

use self::riff::riff_chunk;
use super::errors::{by_message, Dependency};
use super::{exif_orientation, is_rgb_profile};
use crate::fit::Target;
use crate::guard::check_dimensions;
use crate::pixels::{Decoded, Layout, Yuv420};
use crate::{Error, Format, Limits};

/// image-webp's error as fitbox's: by its variant where that says what happened (a read past
/// the end), else by its message (see [`super::errors::MESSAGES`]).
pub(crate) fn webp_error(e: image_webp::DecodingError) -> Error {
    use image_webp::DecodingError as E;
    let format = Format::Webp;
    match e {
        E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => Error::Truncated {
            format,
            detail: io.to_string(),
        },
        other => by_message(Dependency::ImageWebp, format, other.to_string()),
    }
}

/// WebP shrink-on-load, for a still, opaque, lossy WebP that is shrunk: image-webp's VP8 decoder
/// gives the Y plane and the half-size U and V planes; each is resampled with Lanczos2 straight
/// to the fitted size and only then converted to RGB (libwebp's integer BT.601 conversion). The
/// whole-image route instead upsamples the chroma and converts every pixel to a full-size RGB
/// image (3 bytes per pixel more, 72 MB for a 24 MP panorama) before resampling it.
/// `Ok(None)` for every other WebP (lossless, alpha, animated, not shrinking): the caller decodes
/// it whole. The route depends on the file's headers alone, the same on every platform.
pub(crate) fn decode_webp_shrunk(
    bytes: &[u8],
    limits: &Limits,
    t: Target<'_>,
) -> Result<Option<Decoded>, Error> {
    let mut dec = image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(webp_error)?;
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
        .map_err(webp_error)?
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
    let frame = image_webp::vp8::Vp8Decoder::decode_frame(Cursor::new(vp8)).map_err(webp_error)?;
    // The chroma planes stand for half the picture's width and height, which for an odd size
    // ends inside their last sample: that is where their resampling window ends too.
    let chroma = (0.0, 0.0, f64::from(width) / 2.0, f64::from(height) / 2.0);
    let data = t
        .shrink
        .vp8(vp8_planes(frame, (width, height), chroma)?, (rw, rh))?;
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

/// The picture of a decoded VP8 frame (`width x height`) as compact planes: the decoder's are
/// whole macroblocks wide and high, and only the picture's pixels are kept (in place, row by
/// row: each row moves to an earlier or the same place).
pub(crate) fn vp8_planes(
    frame: image_webp::vp8::Frame,
    (width, height): (u32, u32),
    chroma: (f64, f64, f64, f64),
) -> Result<Yuv420, Error> {
    let stride = width.next_multiple_of(16) as usize;
    let (cw, ch) = (width.div_ceil(2) as usize, height.div_ceil(2) as usize);
    let compact = |mut plane: Vec<u8>, stride: usize, w: usize, h: usize| {
        if plane.len() < stride * h {
            return Err(Error::Internal("VP8 plane smaller than its picture".into()));
        }
        for row in 1..h {
            plane.copy_within(row * stride..row * stride + w, row * w);
        }
        plane.truncate(w * h);
        Ok(plane)
    };
    let (w, h) = (width as usize, height as usize);
    Ok(Yuv420 {
        y: compact(frame.ybuf, stride, w, h)?,
        u: compact(frame.ubuf, stride / 2, cw, ch)?,
        v: compact(frame.vbuf, stride / 2, cw, ch)?,
        size: (width, height),
        chroma,
    })
}
