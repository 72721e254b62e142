//! fitbox-core's calls into [fast_image_resize], behind one non-generic function.
//!
//! fast_image_resize's convolution kernels are generic over the pixel type and the SIMD path,
//! so they are compiled (monomorphised) in the crate that names the concrete pixel type. In
//! fitbox-core that was most of the crate's code: about a minute of a 2-core machine at
//! opt-level 3 for each build of fitbox-core, and again for its unit-test build. Here they are
//! compiled once, for the three pixel types fitbox uses, and fitbox-core (and its tests) only
//! call [`resample`]. Same library calls, so the same pixels.

pub use fast_image_resize as fr;

/// 8-bit samples per pixel of the images [`resample`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// One plane (WebP's Y, U or V).
    One,
    /// RGB or YCbCr.
    Three,
    /// RGBA (with `use_alpha`, premultiplied while resampling) or CMYK.
    Four,
}

impl Channels {
    /// Channels per pixel.
    pub fn count(self) -> usize {
        match self {
            Channels::One => 1,
            Channels::Three => 3,
            Channels::Four => 4,
        }
    }
}

/// Resample `src` (`src_size` pixels of `channels`, tightly packed) into `dst` (`dst_size`) with
/// `options` (filter, crop, alpha), reusing `resizer`'s buffers: `Resizer::resize_typed` for the
/// pixel type, what the untyped `Resizer::resize` calls too.
pub fn resample(
    resizer: &mut fr::Resizer,
    channels: Channels,
    src: &[u8],
    src_size: (u32, u32),
    dst: &mut [u8],
    dst_size: (u32, u32),
    options: &fr::ResizeOptions,
) -> Result<(), String> {
    match channels {
        Channels::One => typed::<fr::pixels::U8>(resizer, src, src_size, dst, dst_size, options),
        Channels::Three => {
            typed::<fr::pixels::U8x3>(resizer, src, src_size, dst, dst_size, options)
        }
        Channels::Four => typed::<fr::pixels::U8x4>(resizer, src, src_size, dst, dst_size, options),
    }
}

fn typed<P: fr::PixelTrait>(
    resizer: &mut fr::Resizer,
    src: &[u8],
    (width, height): (u32, u32),
    dst: &mut [u8],
    (dst_w, dst_h): (u32, u32),
    options: &fr::ResizeOptions,
) -> Result<(), String> {
    let src = fr::images::TypedImageRef::<P>::from_buffer(width, height, src)
        .map_err(|e| format!("source {width}x{height}: {e}"))?;
    let mut dst = fr::images::TypedImage::<P>::from_buffer(dst_w, dst_h, dst)
        .map_err(|e| format!("destination {dst_w}x{dst_h}: {e}"))?;
    resizer
        .resize_typed(&src, &mut dst, options)
        .map_err(|e| e.to_string())
}
