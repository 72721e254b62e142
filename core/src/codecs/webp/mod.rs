//! WebP: the RIFF container checked before any decoder reads it ([`riff`]), and the VP8 planes of
//! a lossy still image for shrink-on-load, decoded by libwebp ([`fitbox_libwebp`]). Every other
//! WebP is decoded whole by [`super::whole`] (image-webp).

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

/// WebP shrink-on-load, for a still, opaque, lossy WebP that is shrunk: libwebp gives the Y plane
/// and the half-size U and V planes (the planes image-webp's VP8 decoder gives too, 2-3x
/// faster); each is resampled with Lanczos2 straight
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
    // (libwebp reads its size from these same header bytes, and checks it again.)
    let planes = match fitbox_libwebp::decode_yuv(bytes, width, height) {
        Ok(planes) => planes,
        // libwebp reads the file as something else than image-webp did (or leaves out a
        // feature it uses): the whole-image route, image-webp's alone, decides.
        Err(fitbox_libwebp::Vp8Error::NotThis(_)) => return Ok(None),
        Err(e) => return Err(libwebp_error(e)),
    };
    // The chroma planes stand for half the picture's width and height, which for an odd size
    // ends inside their last sample: that is where their resampling window ends too.
    let chroma = (0.0, 0.0, f64::from(width) / 2.0, f64::from(height) / 2.0);
    let planes = Yuv420 {
        y: planes.y,
        u: planes.u,
        v: planes.v,
        size: (width, height),
        chroma,
    };
    let data = t.shrink.vp8(planes, (rw, rh))?;
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

/// libwebp's refusal as fitbox's. The container was checked first: a file cut short is refused
/// there as truncated ([`riff`]), so a frame whose data ends early sits in a whole container
/// with sizes that agree, and is corrupt, as image-webp (the whole-image route) says too.
fn libwebp_error(e: fitbox_libwebp::Vp8Error) -> Error {
    use fitbox_libwebp::Vp8Error as E;
    let format = Format::Webp;
    match e {
        E::Truncated(detail) | E::Corrupt(detail) | E::NotThis(detail) => {
            Error::Corrupt { format, detail }
        }
        E::OutOfMemory => Error::Internal("libwebp could not allocate its working memory".into()),
        E::Internal(detail) => Error::Internal(detail),
    }
}
