//! The integer YCbCr maths, one place for all three kinds: JPEG's JFIF YCbCr (full range), VP8's
//! BT.601 limited range, and Adobe's YCCK. Integer arithmetic only: the same on every target.

/// R = Y + 1.402 Cr', G = Y - 0.34414 Cb' - 0.71414 Cr', B = Y + 1.772 Cb' (Cb' = Cb - 128),
/// in jpeg-decoder's 20-bit fixed point with its rounding, so that converting its planes here
/// gives exactly the RGB it would have made (libjpeg's 16-bit constants differ from it by one
/// level in G for a few dozen (Cb, Cr) pairs). Integer arithmetic only: the same everywhere.
pub(crate) fn ycbcr_to_rgb(mut data: Vec<u8>) -> Vec<u8> {
    // round(c * 2^20) for each coefficient, as jpeg-decoder computes them.
    const R_CR: i32 = 1_470_104;
    const G_CB: i32 = 360_857;
    const G_CR: i32 = 748_830;
    const B_CB: i32 = 1_858_077;
    let clamp = |v: i32| (v >> 20).clamp(0, 255) as u8;
    for px in data.chunks_exact_mut(3) {
        let y = (i32::from(px[0]) << 20) + (1 << 19);
        let cb = i32::from(px[1]) - 128;
        let cr = i32::from(px[2]) - 128;
        px[0] = clamp(y + R_CR * cr);
        px[1] = clamp(y - G_CB * cb - G_CR * cr);
        px[2] = clamp(y + B_CB * cb);
    }
    data
}

/// One VP8 (WebP lossy) pixel to RGB: BT.601 limited range, in libwebp's integer arithmetic
/// (`VP8YUVToR` and friends; image-webp uses the same), so a WebP shrunk on load has the colours
/// of one decoded whole: R = 1.164 (Y - 16) + 1.596 (V - 128),
/// G = 1.164 (Y - 16) - 0.391 (U - 128) - 0.813 (V - 128), B = 1.164 (Y - 16) + 2.018 (U - 128).
pub(crate) fn vp8_yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    // x * c / 256 with 14-bit coefficients, then 6 fractional bits dropped.
    let mul = |x: u8, c: i32| (i32::from(x) * c) >> 8;
    let clip = |v: i32| (v >> 6).clamp(0, 255) as u8;
    let luma = mul(y, 19_077);
    [
        clip(luma + mul(v, 26_149) - 14_234),
        clip(luma - mul(u, 6_419) - mul(v, 13_320) + 8_708),
        clip(luma + mul(u, 33_050) - 17_685),
    ]
}

/// A VP8 picture's resampled planes (same size each) to interleaved RGB.
pub(crate) fn vp8_planes_to_rgb(y: &[u8], u: &[u8], v: &[u8]) -> Vec<u8> {
    y.iter()
        .zip(u)
        .zip(v)
        .flat_map(|((&y, &u), &v)| vp8_yuv_to_rgb(y, u, v))
        .collect()
}

/// Adobe YCCK (transform 2) to CMYK ink values, in place: YCbCr -> RGB (JFIF, integer), then
/// C = R, M = G, Y = B, K = 255 - K (Adobe stores the inverted values).
pub(crate) fn ycck_to_cmyk(data: &mut [u8]) {
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
