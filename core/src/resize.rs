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

fn internal(e: &dyn std::fmt::Display) -> Error {
    Error::Internal(format!("resize: {e}"))
}

fn filter_type(filter: Filter) -> Result<fr::FilterType, Error> {
    Ok(match filter {
        Filter::Mitchell => fr::FilterType::Mitchell,
        _ => fr::FilterType::Custom(
            fr::Filter::new("lanczos2", lanczos2, 2.0).map_err(|e| internal(&e))?,
        ),
    })
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
    let src = fr::images::Image::from_vec_u8(width, height, data, pixel_type)
        .map_err(|e| internal(&e))?;
    let mut dst = fr::images::Image::new(dst_w, dst_h, pixel_type);
    let options = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(filter_type(filter)?))
        .use_alpha(layout == Layout::Rgba);
    fr::Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| internal(&e))?;
    Ok(dst.into_vec())
}

/// Shrink-on-load for a decoder that hands out rows (PNG): each strip of RGB rows is resampled
/// horizontally as it arrives, into a `dst_w x src_h` buffer, and one vertical pass then makes
/// `dst_w x dst_h`. The full-size image never exists in memory: for a 5120x2880 RGB PNG shrunk
/// to 400x225 that is 3.5 MB instead of 44 MB. The same fast_image_resize passes as [`resize`],
/// bit-exact on every platform, but in the other order (`resize` runs the vertical pass first
/// for u8 images), so its pixels can differ from `resize`'s by rounding: images take one path or
/// the other by their header alone, and the golden hashes pin both.
pub(crate) struct RowShrinker {
    src_w: u32,
    src_h: u32,
    dst_w: u32,
    dst_h: u32,
    rows_done: u32,
    /// Horizontally resampled rows: `dst_w x src_h` RGB.
    partial: Vec<u8>,
    resizer: fr::Resizer,
    options: fr::ResizeOptions,
}

impl RowShrinker {
    /// Rows per strip handed to [`RowShrinker::push`]: enough to amortise a resampler call.
    pub(crate) const STRIP_ROWS: u32 = 32;

    pub(crate) fn new(
        src_w: u32,
        src_h: u32,
        dst_w: u32,
        dst_h: u32,
        filter: Filter,
    ) -> Result<Self, Error> {
        if dst_w == 0 || dst_h == 0 || dst_w > src_w || dst_h > src_h {
            return Err(internal(&format!(
                "row shrink {src_w}x{src_h} -> {dst_w}x{dst_h} is not a reduction"
            )));
        }
        Ok(RowShrinker {
            src_w,
            src_h,
            dst_w,
            dst_h,
            rows_done: 0,
            partial: vec![0; dst_w as usize * src_h as usize * 3],
            resizer: fr::Resizer::new(),
            options: fr::ResizeOptions::new()
                .resize_alg(fr::ResizeAlg::Convolution(filter_type(filter)?)),
        })
    }

    /// Resample whole RGB rows (`src_w * 3` bytes each) horizontally. (Typed images and
    /// `resize_typed`: the untyped `resize` would instantiate fast_image_resize's one-pass
    /// kernels for every pixel type, +700 KB of wasm in the preview worker.)
    pub(crate) fn push(&mut self, rows: &[u8]) -> Result<(), Error> {
        let line = self.src_w as usize * 3;
        let n = (rows.len() / line) as u32;
        if !rows.len().is_multiple_of(line) || self.rows_done + n > self.src_h {
            return Err(internal(&"row shrink given a partial row or too many rows"));
        }
        if n == 0 {
            return Ok(());
        }
        let src = fr::images::TypedImageRef::<fr::pixels::U8x3>::from_buffer(self.src_w, n, rows)
            .map_err(|e| internal(&e))?;
        let out_line = self.dst_w as usize * 3;
        let start = self.rows_done as usize * out_line;
        let out = &mut self.partial[start..start + n as usize * out_line];
        let mut dst = fr::images::TypedImage::<fr::pixels::U8x3>::from_buffer(self.dst_w, n, out)
            .map_err(|e| internal(&e))?;
        self.resizer
            .resize_typed(&src, &mut dst, &self.options)
            .map_err(|e| internal(&e))?;
        self.rows_done += n;
        Ok(())
    }

    /// The vertical pass, once every row was pushed: `dst_w x dst_h` RGB.
    pub(crate) fn finish(mut self) -> Result<Vec<u8>, Error> {
        if self.rows_done != self.src_h {
            return Err(internal(&format!(
                "row shrink got {} of {} rows",
                self.rows_done, self.src_h
            )));
        }
        let src = fr::images::TypedImageRef::<fr::pixels::U8x3>::from_buffer(
            self.dst_w,
            self.src_h,
            &self.partial,
        )
        .map_err(|e| internal(&e))?;
        let mut out = vec![0u8; self.dst_w as usize * self.dst_h as usize * 3];
        let mut dst = fr::images::TypedImage::<fr::pixels::U8x3>::from_buffer(
            self.dst_w, self.dst_h, &mut out,
        )
        .map_err(|e| internal(&e))?;
        self.resizer
            .resize_typed(&src, &mut dst, &self.options)
            .map_err(|e| internal(&e))?;
        Ok(out)
    }
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

    fn noise(w: u32, h: u32) -> Vec<u8> {
        // A fixed pseudo-random RGB image (xorshift), detailed enough that rounding shows.
        let mut x = 0x9e37_79b9u32;
        (0..w * h * 3)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect()
    }

    fn shrink_in_strips(data: &[u8], w: u32, h: u32, dw: u32, dh: u32, rows: u32) -> Vec<u8> {
        let mut s = RowShrinker::new(w, h, dw, dh, Filter::Lanczos2).unwrap();
        for strip in data.chunks((w * 3 * rows) as usize) {
            s.push(strip).unwrap();
        }
        s.finish().unwrap()
    }

    #[test]
    fn row_shrinker_does_not_depend_on_the_strip_size() {
        let (w, h, dw, dh) = (301, 203, 47, 31);
        let data = noise(w, h);
        let whole = shrink_in_strips(&data, w, h, dw, dh, h);
        assert_eq!(whole.len(), (dw * dh * 3) as usize);
        for rows in [1, 7, 32, 202] {
            assert_eq!(
                shrink_in_strips(&data, w, h, dw, dh, rows),
                whole,
                "{rows} rows"
            );
        }
    }

    #[test]
    fn row_shrinker_is_the_same_resample_in_the_other_pass_order() {
        // Horizontal then vertical vs resize()'s vertical then horizontal: only rounding differs.
        let (w, h, dw, dh) = (640, 480, 160, 120);
        let data = noise(w, h);
        let rows = shrink_in_strips(&data, w, h, dw, dh, 32);
        let whole = resize(data, w, h, Layout::Rgb, dw, dh, Filter::Lanczos2).unwrap();
        let max = rows
            .iter()
            .zip(&whole)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(max <= 2, "largest difference {max}");
    }

    #[test]
    fn row_shrinker_refuses_misuse() {
        assert!(RowShrinker::new(10, 10, 20, 5, Filter::Lanczos2).is_err());
        let mut s = RowShrinker::new(10, 4, 5, 2, Filter::Lanczos2).unwrap();
        assert!(s.push(&[0; 29]).is_err(), "a partial row");
        s.push(&[0; 90]).unwrap();
        assert!(s.push(&[0; 60]).is_err(), "more rows than the image has");
        assert!(s.finish().is_err(), "one row missing");
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
