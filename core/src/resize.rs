//! Resampling with fast_image_resize: AVX2/SSE4.1 on x86_64, NEON on aarch64 and simd128 on
//! wasm32, all bit-exact with each other (integer fixed point after f64 weights). Alpha is
//! premultiplied while resampling so transparent edges get no dark fringes.

use fast_image_resize as fr;

use crate::decode::Layout;
use crate::fit::Filter;
use crate::Error;

/// Lanczos with two lobes. Uses `libm` so the weights never depend on the platform's libm.
fn lanczos2(x: f64) -> f64 {
    fn sinc(x: f64) -> f64 {
        if x == 0.0 {
            1.0
        } else {
            let a = x * std::f64::consts::PI;
            libm::sin(a) / a
        }
    }
    if x.abs() < 2.0 {
        sinc(x) * sinc(x / 2.0)
    } else {
        0.0
    }
}

/// Resample `data` (`width x height`, `layout`) to `dst_w x dst_h` with `filter`.
pub(crate) fn resize(
    data: Vec<u8>,
    width: u32,
    height: u32,
    layout: Layout,
    dst_w: u32,
    dst_h: u32,
    filter: Filter,
) -> Result<Vec<u8>, Error> {
    if (width, height) == (dst_w, dst_h) || filter == Filter::None {
        return Ok(data);
    }
    let pixel_type = match layout {
        Layout::Rgb => fr::PixelType::U8x3,
        Layout::Rgba | Layout::Cmyk => fr::PixelType::U8x4,
    };
    let internal = |e: &dyn std::fmt::Display| Error::Internal(format!("resize: {e}"));
    let src = fr::images::Image::from_vec_u8(width, height, data, pixel_type)
        .map_err(|e| internal(&e))?;
    let mut dst = fr::images::Image::new(dst_w, dst_h, pixel_type);
    let filter_type = match filter {
        Filter::Mitchell => fr::FilterType::Mitchell,
        _ => fr::FilterType::Custom(
            fr::Filter::new("lanczos2", lanczos2, 2.0).map_err(|e| internal(&e))?,
        ),
    };
    let options = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(filter_type))
        .use_alpha(layout == Layout::Rgba);
    fr::Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| internal(&e))?;
    Ok(dst.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanczos2_shape() {
        assert_eq!(lanczos2(0.0), 1.0);
        assert!(lanczos2(1.0).abs() < 1e-12);
        assert!(lanczos2(2.0).abs() < 1e-12);
        assert!(lanczos2(1.5) < 0.0);
        assert_eq!(lanczos2(2.5), 0.0);
    }

    #[test]
    fn transparent_pixels_do_not_darken_edges() {
        // Left half opaque white, right half fully transparent black: the resized opaque
        // pixels must stay white (premultiplied resampling), not turn grey.
        let (w, h) = (64u32, 8u32);
        let mut data = vec![0u8; (w * h * 4) as usize];
        for y in 0..h {
            for x in 0..w / 2 {
                let i = ((y * w + x) * 4) as usize;
                data[i..i + 4].copy_from_slice(&[255, 255, 255, 255]);
            }
        }
        let out = resize(data, w, h, Layout::Rgba, 16, 2, Filter::Lanczos2).unwrap();
        for px in out.chunks_exact(4) {
            if px[3] > 0 {
                assert!(px[0] >= 250, "fringe: {px:?}");
            }
        }
    }
}
