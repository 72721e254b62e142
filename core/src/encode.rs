//! Encoding: opaque results as baseline JPEG (jpeg-encoder, optimised Huffman tables, 4:2:0;
//! all-grey images as single-channel JPEG), results with any transparency as PNG. Nothing but
//! pixels is written: no EXIF, XMP, GPS, ICC or comments (the pixels are already sRGB).

use crate::{Error, OutputFormat};

/// Encode `rgba` (`w x h`, straight alpha). `opaque` says whether every alpha is 255.
pub(crate) fn encode(
    rgba: &[u8],
    w: u32,
    h: u32,
    opaque: bool,
    quality: u8,
) -> Result<(Vec<u8>, OutputFormat), Error> {
    let internal = |e: &dyn std::fmt::Display| Error::Internal(format!("encode: {e}"));
    if opaque {
        let (Ok(w16), Ok(h16)) = (u16::try_from(w), u16::try_from(h)) else {
            return Err(Error::Internal(format!("{w}x{h} is too large for JPEG")));
        };
        let grey = rgba.chunks_exact(4).all(|p| p[0] == p[1] && p[1] == p[2]);
        let (pixels, color) = if grey {
            (
                rgba.chunks_exact(4).map(|p| p[0]).collect::<Vec<u8>>(),
                jpeg_encoder::ColorType::Luma,
            )
        } else {
            (
                rgba.chunks_exact(4)
                    .flat_map(|p| [p[0], p[1], p[2]])
                    .collect::<Vec<u8>>(),
                jpeg_encoder::ColorType::Rgb,
            )
        };
        let mut out = Vec::with_capacity(pixels.len() / 8);
        let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
        enc.set_optimized_huffman_tables(true);
        enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
        enc.encode(&pixels, w16, h16, color)
            .map_err(|e| internal(&e))?;
        Ok((out, OutputFormat::Jpeg))
    } else {
        use image::ImageEncoder;
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new_with_quality(
            &mut out,
            image::codecs::png::CompressionType::Default,
            image::codecs::png::FilterType::Adaptive,
        )
        .write_image(rgba, w, h, image::ExtendedColorType::Rgba8)
        .map_err(|e| internal(&e))?;
        Ok((out, OutputFormat::Png))
    }
}
