//! PNG shrink-on-load: rows handed to the resampler as they are inflated.

use std::io::Cursor;

use super::png_error;
use crate::codecs::{exif_orientation, is_rgb_profile, METADATA_BYTES};
use crate::fit::Target;
use crate::guard::check_dimensions;
use crate::pixels::{Decoded, Layout};
use crate::{Error, Format, Limits};

/// PNG shrink-on-load: the rows of a non-interlaced 8-bit RGB, palette (without transparency)
/// or grey PNG that is shrunk are handed to the resampler as they are inflated
/// ([`crate::pixels::RowSink`]), so the full-size image is never held: peak memory is the input
/// plus a window of rows under the filter instead of `width x height x 3`.
/// `Ok(None)` for every other PNG (interlaced, 16-bit, alpha, not shrinking): the caller decodes
/// it whole. Which path a PNG takes depends on its header alone, the same on every platform.
pub(crate) fn decode_png_shrunk(
    bytes: &[u8],
    limits: &Limits,
    t: Target<'_>,
) -> Result<Option<Decoded>, Error> {
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
    let mut shrinker = t.shrink.rows((width, height), (rw, rh))?;
    let line = width as usize * 3;
    let strip_rows = shrinker.strip_rows().min(height) as usize;
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
