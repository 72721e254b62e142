//! Colour: convert pixels that carry an ICC profile (Display P3, Adobe RGB, CMYK, ...) to sRGB
//! with moxcms, in its fixed-point path (bit-identical on x86_64, aarch64 and wasm32 for RGB
//! profiles; see `shared/notes/determinism.md`); CMYK profiles go through qcms, whose CMYK path
//! is identical on all three targets. A profile that cannot be parsed is ignored
//! (the pixels are taken as sRGB) rather than failing the upload.

use moxcms::{ColorProfile, Layout as CmsLayout, TransformOptions};

pub(crate) mod ycc;

use self::ycc::{ycbcr_to_rgb, ycck_to_cmyk};
use crate::pixels::Layout;

/// Convert `data` to sRGB in place (RGB/RGBA) or into RGB (CMYK, YCbCr). Returns the new layout.
pub(crate) fn to_srgb(data: Vec<u8>, layout: Layout, icc: Option<&[u8]>) -> (Vec<u8>, Layout) {
    match (layout, icc) {
        // The profile describes the RGB the YCbCr codes.
        (Layout::YCbCr, _) => to_srgb(ycbcr_to_rgb(data), Layout::Rgb, icc),
        // The pipeline converts YCCK at full size, before resampling; here only for completeness.
        (Layout::Ycck, _) => {
            let mut data = data;
            ycck_to_cmyk(&mut data);
            to_srgb(data, Layout::Cmyk, icc)
        }
        (Layout::Cmyk, Some(icc)) => match cmyk_to_srgb(&data, icc) {
            Some(rgb) => (rgb, Layout::Rgb),
            None => (naive_cmyk_to_rgb(&data), Layout::Rgb),
        },
        (Layout::Cmyk, None) => (naive_cmyk_to_rgb(&data), Layout::Rgb),
        (Layout::Rgb | Layout::Rgba, Some(icc)) if !is_srgb(icc) => {
            let (l, ch) = if layout == Layout::Rgb {
                (CmsLayout::Rgb, 3)
            } else {
                (CmsLayout::Rgba, 4)
            };
            match convert(&data, icc, l, l, ch) {
                Some(out) => (out, layout),
                None => (data, layout),
            }
        }
        _ => (data, layout),
    }
}

/// Profiles that describe sRGB itself need no transform (most camera JPEGs and PNGs).
fn is_srgb(icc: &[u8]) -> bool {
    // The profile description tag is free text; the common sRGB profiles all say "sRGB" and
    // none of the wide-gamut ones do ("Display P3", "Adobe RGB (1998)", "ProPhoto RGB").
    let Ok(p) = ColorProfile::new_from_slice(icc) else {
        return true; // unparseable: treated as sRGB, see module docs
    };
    let desc = format!("{:?}", p.description).to_ascii_lowercase();
    desc.contains("srgb") && !desc.contains("gamut") && !desc.contains("linear")
}

fn convert(
    data: &[u8],
    icc: &[u8],
    src: CmsLayout,
    dst: CmsLayout,
    dst_channels: usize,
) -> Option<Vec<u8>> {
    let profile = ColorProfile::new_from_slice(icc).ok()?;
    let srgb = ColorProfile::new_srgb();
    let options = TransformOptions {
        prefer_fixed_point: true,
        ..TransformOptions::default()
    };
    let t = profile
        .create_transform_8bit(src, &srgb, dst, options)
        .ok()?;
    let src_channels = if src == CmsLayout::Rgb { 3 } else { 4 };
    let mut out = vec![0u8; data.len() / src_channels * dst_channels];
    t.transform(data, &mut out).ok()?;
    Some(out)
}

/// CMYK with its profile to sRGB through qcms (see the crate's Cargo.toml for why not moxcms).
fn cmyk_to_srgb(data: &[u8], icc: &[u8]) -> Option<Vec<u8>> {
    let src = qcms::Profile::new_from_slice(icc, false)?;
    let dst = qcms::Profile::new_sRGB();
    let t = qcms::Transform::new_to(
        &src,
        &dst,
        qcms::DataType::CMYK,
        qcms::DataType::RGB8,
        qcms::Intent::Perceptual,
    )?;
    let mut out = vec![0u8; data.len() / 4 * 3];
    t.convert(&data[..data.len() / 4 * 4], &mut out);
    Some(out)
}

/// JFIF YCbCr (BT.601, full range) to RGB, in place:
/// CMYK ink values to RGB without a profile: R = (255 - C)(255 - K) / 255, rounded.
fn naive_cmyk_to_rgb(data: &[u8]) -> Vec<u8> {
    let mul = |a: u8, b: u8| ((a as u32 * b as u32 + 127) / 255) as u8;
    let mut out = Vec::with_capacity(data.len() / 4 * 3);
    for px in data.chunks_exact(4) {
        let k = 255 - px[3];
        out.extend_from_slice(&[
            mul(255 - px[0], k),
            mul(255 - px[1], k),
            mul(255 - px[2], k),
        ]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ycbcr_to_rgb_is_the_jfif_formula() {
        // Greys (Cb = Cr = 128) stay exactly themselves.
        let greys: Vec<u8> = (0..=255u8).flat_map(|y| [y, 128, 128]).collect();
        let want: Vec<u8> = (0..=255u8).flat_map(|y| [y, y, y]).collect();
        assert_eq!(ycbcr_to_rgb(greys), want);
        // Everywhere else within rounding of the JFIF equations in floating point, and each
        // channel from the right inputs (a swapped Cb/Cr or sign would be tens of levels off).
        let mut worst = 0.0f64;
        for y in (0..=255u8).step_by(5) {
            for cb in (0..=255u8).step_by(5) {
                for cr in (0..=255u8).step_by(5) {
                    let got = ycbcr_to_rgb(vec![y, cb, cr]);
                    let (y, cb, cr) = (f64::from(y), f64::from(cb) - 128.0, f64::from(cr) - 128.0);
                    let want = [
                        y + 1.402 * cr,
                        y - 0.344_136 * cb - 0.714_136 * cr,
                        y + 1.772 * cb,
                    ];
                    for (g, w) in got.iter().zip(want) {
                        worst = worst.max((f64::from(*g) - w.clamp(0.0, 255.0)).abs());
                    }
                }
            }
        }
        assert!(worst <= 0.51, "off by {worst}");
    }

    #[test]
    fn ycbcr_is_converted_before_the_profile_is_applied() {
        // A Display P3 profile on YCbCr pixels: the same as converting to RGB first.
        let photo = fitbox_tests::read("photos/jpegfiles_iphone_se2_display_p3.jpg");
        let mut header = zune_jpeg::JpegDecoder::new(zune_core::bytestream::ZCursor::new(&photo));
        header.decode_headers().unwrap();
        let profile = header
            .icc_profile()
            .expect("the photo carries its P3 profile");
        let ycc: Vec<u8> = (0..=255u8).flat_map(|v| [v, 255 - v, v / 2 + 64]).collect();
        let rgb = ycbcr_to_rgb(ycc.clone());
        let via_rgb = to_srgb(rgb.clone(), Layout::Rgb, Some(&profile));
        assert_ne!(via_rgb.0, rgb, "the profile changes these pixels");
        let direct = to_srgb(ycc, Layout::YCbCr, Some(&profile));
        assert_eq!(direct, via_rgb);
        assert_eq!(direct.1, Layout::Rgb);
    }
}
