//! Colour: convert pixels that carry an ICC profile (Display P3, Adobe RGB, CMYK, ...) to sRGB
//! with moxcms, in its fixed-point path (bit-identical on x86_64, aarch64 and wasm32 for RGB
//! profiles; see `shared/notes/determinism.md`); CMYK profiles go through qcms, whose CMYK path
//! is identical on all three targets. A profile that cannot be parsed is ignored
//! (the pixels are taken as sRGB) rather than failing the upload.

use moxcms::{ColorProfile, Layout as CmsLayout, TransformOptions};

use crate::decode::Layout;

/// Convert `data` to sRGB in place (RGB/RGBA) or into RGB (CMYK). Returns the new layout.
pub(crate) fn to_srgb(data: Vec<u8>, layout: Layout, icc: Option<&[u8]>) -> (Vec<u8>, Layout) {
    match (layout, icc) {
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
