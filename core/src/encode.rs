//! Encoding: opaque results as baseline JPEG (jpeg-encoder; all-grey images as single-channel
//! JPEG), results with any transparency as PNG.
//!
//! The JPEG is 4:2:0 with each chroma sample the average of its 2x2 pixels, as libjpeg does
//! (jpeg-encoder's default takes the top-left pixel, which scores worse in DSSIM at the same
//! size), in one interleaved scan with the standard Huffman tables, as libjpeg and libvips
//! write by default. jpeg-encoder's optimised tables would save a few per cent of the bytes
//! (README, "Performance"), but it then writes one scan per component, and zune-jpeg 0.5 (the JPEG
//! decoder of the `image` crate, and of fitbox itself) decodes such 4:2:0 files with wrong colours;
//! every thumbnail must read back correctly in the decoders Rust users have.
//!
//! Nothing but pixels is written: no EXIF, XMP, GPS, ICC or comments (the pixels are already sRGB).

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
        enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
        enc.set_chroma_subsampling_method(jpeg_encoder::ChromaSubsamplingMethod::Average);
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| x.abs_diff(*y) as f64)
            .sum::<f64>()
            / a.len() as f64
    }

    /// One-pixel red and blue stripes: every 2x2 chroma block holds both colours. Averaged
    /// chroma keeps the stripes' mean colour (purple); top-left sampling would keep only red
    /// (the first column), shifting the mean by ~60 levels in red and blue.
    #[test]
    fn chroma_is_the_average_of_each_2x2_block() {
        let (w, h) = (64u32, 48u32);
        let rgba: Vec<u8> = (0..w * h)
            .flat_map(|i| match (i % w) % 2 {
                0 => [200, 40, 60, 255],
                _ => [60, 40, 200, 255],
            })
            .collect();
        let (jpeg, format) = encode(&rgba, w, h, true, 85).unwrap();
        assert_eq!(format, OutputFormat::Jpeg);
        let back = jpeg_decoder::Decoder::new(&jpeg[..]).decode().unwrap();
        let mean = |c: usize| {
            back.iter()
                .skip(c)
                .step_by(3)
                .map(|&v| v as f64)
                .sum::<f64>()
                / (w * h) as f64
        };
        for (c, want) in [(0, 130.0), (2, 130.0)] {
            let got = mean(c);
            assert!(
                (got - want).abs() < 12.0,
                "channel {c}: mean {got:.1}, want ~{want}"
            );
        }
    }

    /// A 4:2:0 thumbnail reads back with the right colours in zune-jpeg (the `image` crate's
    /// JPEG decoder, and fitbox's own) as in jpeg-decoder: one interleaved scan. With
    /// jpeg-encoder's optimised Huffman tables (one scan per component) zune-jpeg 0.5.15 was off
    /// by ~120 levels on average.
    #[test]
    fn every_rust_decoder_reads_the_jpeg_back() {
        let (w, h) = (203u32, 117u32);
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                [
                    (x * 255 / w) as u8,
                    (y * 255 / h) as u8,
                    ((x + y) * 2 % 256) as u8,
                ]
            })
            .collect();
        let rgba: Vec<u8> = rgb
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect();
        let (jpeg, _) = encode(&rgba, w, h, true, 85).unwrap();
        let zune = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
            .unwrap()
            .to_rgb8()
            .into_raw();
        let parsed = crate::codecs::jpeg::scans::Jpeg::parse(&jpeg).expect("a plain baseline JPEG");
        assert!(
            !parsed.is_non_interleaved_sequential(),
            "one interleaved scan"
        );
        let jd = jpeg_decoder::Decoder::new(&jpeg[..]).decode().unwrap();
        for (name, back) in [("zune-jpeg", zune), ("jpeg-decoder", jd)] {
            let d = mean_abs_diff(&back, &rgb);
            assert!(d < 4.0, "{name}: mean difference {d:.2} levels");
        }
    }
}
