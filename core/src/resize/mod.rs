//! Resampling with fast_image_resize: AVX2/SSE4.1 on x86_64, NEON on aarch64 and simd128 on
//! wasm32, all bit-exact with each other (integer fixed point after f64 weights). Alpha is
//! premultiplied while resampling so transparent edges get no dark fringes.

use fitbox_resample::{fr, resample, Channels};

use crate::fit::Filter;
use crate::pixels::{Layout, RowSink, Yuv420};
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
    let channels = match layout {
        Layout::Rgb | Layout::YCbCr => Channels::Three,
        Layout::Rgba | Layout::Cmyk | Layout::Ycck => Channels::Four,
    };
    let options = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(filter_type(filter)?))
        .use_alpha(layout == Layout::Rgba);
    resampled(channels, &data, (width, height), (dst_w, dst_h), &options)
}

/// `src` (`size`, `channels`) resampled into a new buffer of `dst` pixels with `options`.
fn resampled(
    channels: Channels,
    src: &[u8],
    size: (u32, u32),
    dst: (u32, u32),
    options: &fr::ResizeOptions,
) -> Result<Vec<u8>, Error> {
    let mut out = vec![0u8; dst.0 as usize * dst.1 as usize * channels.count()];
    resample(
        &mut fr::Resizer::new(),
        channels,
        src,
        size,
        &mut out,
        dst,
        options,
    )
    .map_err(|e| internal(&e))?;
    Ok(out)
}

/// Resample one 8-bit plane (`width x height`, tightly packed) to `dst_w x dst_h` with
/// Lanczos2, reading only the `crop` rectangle (left, top, width, height; fractional: the
/// half-size chroma plane of an odd-sized 4:2:0 image covers half a pixel more than the picture).
/// For WebP shrink-on-load, where luma and the two chroma planes are resampled apart, each from its
/// own size: luma is always reduced, chroma may be enlarged (a 1000 px wide picture fitted to 800
/// takes its 500 chroma columns to 800).
pub(crate) fn resample_plane(
    plane: &[u8],
    (width, height): (u32, u32),
    (left, top, crop_w, crop_h): (f64, f64, f64, f64),
    (dst_w, dst_h): (u32, u32),
) -> Result<Vec<u8>, Error> {
    let options = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(filter_type(Filter::Lanczos2)?))
        .crop(left, top, crop_w, crop_h);
    resampled(
        Channels::One,
        plane,
        (width, height),
        (dst_w, dst_h),
        &options,
    )
}

/// Shrink-on-load for a decoder that hands out rows (PNG). Output rows are made in groups as
/// soon as the source rows under their filter window have arrived, each group by the same
/// two-pass resample as [`resize`] (vertical pass first) on a crop of the rows held, and the rows
/// no later group needs are dropped. The full-size image never exists in memory: for a 5120x2880
/// RGB PNG shrunk to 400x225, a window of about 260 rows (4 MB) instead of 44 MB. The window
/// always covers the whole filter support, and the library clamps windows only at the view's
/// edges, which are the image's own where it matters, so each output row has the taps and
/// weights it has in [`resize`]. The pixels are usually identical to [`resize`]'s; they can
/// differ by one level where a group's fixed-point precision (fast_image_resize derives it from
/// the largest weight in the call) differs from the whole image's
/// (`shrinking_rows_matches_resizing_the_whole_image`).
pub(crate) struct RowShrinker {
    src_w: u32,
    src_h: u32,
    dst_w: u32,
    dst_h: u32,
    /// Source rows per output row, and the filter's reach in source rows.
    scale: f64,
    reach: f64,
    /// Source rows `held_from ..` (whole RGB rows).
    held: Vec<u8>,
    held_from: u32,
    rows_in: u32,
    /// Output rows done so far, and the output.
    rows_out: u32,
    out: Vec<u8>,
    resizer: fr::Resizer,
    alg: fr::ResizeAlg,
}

impl RowShrinker {
    /// Rows per strip handed to [`RowShrinker::push`]: enough to amortise a call.
    pub(crate) const STRIP_ROWS: u32 = 32;
    /// Output rows made per resampler call.
    const GROUP: u32 = 16;
    /// Lanczos2's support in output pixels (the kernel is stretched by `scale` when shrinking).
    const SUPPORT: f64 = 2.0;

    pub(crate) fn new(
        src_w: u32,
        src_h: u32,
        dst_w: u32,
        dst_h: u32,
        filter: Filter,
    ) -> Result<Self, Error> {
        if filter != Filter::Lanczos2 || dst_w == 0 || dst_h == 0 || dst_w > src_w || dst_h > src_h
        {
            return Err(internal(&format!(
                "row shrink {src_w}x{src_h} -> {dst_w}x{dst_h} ({filter:?}) is not a reduction"
            )));
        }
        let scale = f64::from(src_h) / f64::from(dst_h);
        Ok(RowShrinker {
            src_w,
            src_h,
            dst_w,
            dst_h,
            scale,
            reach: Self::SUPPORT * scale,
            held: Vec::new(),
            held_from: 0,
            rows_in: 0,
            rows_out: 0,
            out: vec![0; dst_w as usize * dst_h as usize * 3],
            resizer: fr::Resizer::new(),
            alg: fr::ResizeAlg::Convolution(filter_type(filter)?),
        })
    }

    /// Source rows `lo..hi` that output rows `j0..j1` read (with a row to spare on each side).
    fn window(&self, j0: u32, j1: u32) -> (u32, u32) {
        let lo = (f64::from(j0) * self.scale - self.reach).floor() - 1.0;
        let hi = (f64::from(j1) * self.scale + self.reach).ceil() + 1.0;
        (lo.max(0.0) as u32, hi.min(f64::from(self.src_h)) as u32)
    }

    /// Take whole RGB rows (`src_w * 3` bytes each), in order.
    pub(crate) fn push(&mut self, rows: &[u8]) -> Result<(), Error> {
        let line = self.src_w as usize * 3;
        let n = (rows.len() / line) as u32;
        if !rows.len().is_multiple_of(line) || self.rows_in + n > self.src_h {
            return Err(internal(&"row shrink given a partial row or too many rows"));
        }
        self.held.extend_from_slice(rows);
        self.rows_in += n;
        self.emit()
    }

    /// Make every output group whose source rows are all in, then drop rows no group needs.
    fn emit(&mut self) -> Result<(), Error> {
        let line = self.src_w as usize * 3;
        let out_line = self.dst_w as usize * 3;
        while self.rows_out < self.dst_h {
            let (j0, j1) = (self.rows_out, (self.rows_out + Self::GROUP).min(self.dst_h));
            let (lo, hi) = self.window(j0, j1);
            if hi > self.rows_in {
                break;
            }
            let from = (lo - self.held_from) as usize * line;
            let out = &mut self.out[j0 as usize * out_line..j1 as usize * out_line];
            // The crop in the view's rows; at the bottom edge `j1 * scale` can round past it.
            let top = f64::from(j0) * self.scale - f64::from(lo);
            let height = (f64::from(j1 - j0) * self.scale).min(f64::from(hi - lo) - top);
            let options = fr::ResizeOptions::new().resize_alg(self.alg).crop(
                0.0,
                top,
                f64::from(self.src_w),
                height,
            );
            resample(
                &mut self.resizer,
                Channels::Three,
                &self.held[from..from + (hi - lo) as usize * line],
                (self.src_w, hi - lo),
                out,
                (self.dst_w, j1 - j0),
                &options,
            )
            .map_err(|e| internal(&e))?;
            self.rows_out = j1;
            let keep_from = if j1 < self.dst_h {
                self.window(j1, (j1 + Self::GROUP).min(self.dst_h)).0
            } else {
                self.rows_in
            };
            if keep_from > self.held_from {
                self.held
                    .drain(..(keep_from - self.held_from) as usize * line);
                self.held_from = keep_from;
            }
        }
        Ok(())
    }

    /// The output, once every row was pushed: `dst_w x dst_h` RGB.
    pub(crate) fn finish(self) -> Result<Vec<u8>, Error> {
        if self.rows_in != self.src_h || self.rows_out != self.dst_h {
            return Err(internal(&format!(
                "row shrink got {} of {} rows",
                self.rows_in, self.src_h
            )));
        }
        Ok(self.out)
    }
}

impl RowSink for RowShrinker {
    fn strip_rows(&self) -> u32 {
        RowShrinker::STRIP_ROWS
    }

    fn push(&mut self, rows: &[u8]) -> Result<(), Error> {
        RowShrinker::push(self, rows)
    }

    fn finish(self: Box<Self>) -> Result<Vec<u8>, Error> {
        RowShrinker::finish(*self)
    }
}

/// Each plane of a VP8 picture resampled with Lanczos2 to `to`: luma whole, chroma from the
/// rectangle of its planes that stands for the picture.
pub(crate) fn resample_yuv420(p: &Yuv420, to: (u32, u32)) -> Result<[Vec<u8>; 3], Error> {
    let (w, h) = p.size;
    let chroma_size = (w.div_ceil(2), h.div_ceil(2));
    let luma = (0.0, 0.0, f64::from(w), f64::from(h));
    Ok([
        resample_plane(&p.y, (w, h), luma, to)?,
        resample_plane(&p.u, chroma_size, p.chroma, to)?,
        resample_plane(&p.v, chroma_size, p.chroma, to)?,
    ])
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
    fn shrinking_rows_matches_resizing_the_whole_image() {
        // Odd sizes and ratios, tall and wide, mild and strong reductions, a 1-row output. Seen:
        // identical but for 640x480 -> 160x120 (344 of 57600 values one level off).
        for (w, h, dw, dh) in [
            (640, 480, 160, 120),
            (301, 203, 47, 31),
            (1000, 3000, 133, 400),
            (5120, 2880, 400, 225),
            (400, 1999, 80, 399),
            (97, 1000, 9, 1),
            (64, 64, 63, 63),
        ] {
            let data = noise(w, h);
            let rows = shrink_in_strips(&data, w, h, dw, dh, RowShrinker::STRIP_ROWS);
            let whole = resize(data, w, h, Layout::Rgb, dw, dh, Filter::Lanczos2).unwrap();
            let max = rows.iter().zip(&whole).map(|(a, b)| a.abs_diff(*b)).max();
            let differ = rows.iter().zip(&whole).filter(|(a, b)| a != b).count();
            assert!(
                max <= Some(1) && differ * 50 <= rows.len(),
                "{w}x{h} -> {dw}x{dh}: max {max:?}, {differ} of {} differ",
                rows.len()
            );
        }
    }

    #[test]
    fn row_shrinker_refuses_misuse() {
        assert!(RowShrinker::new(10, 10, 20, 5, Filter::Lanczos2).is_err());
        assert!(RowShrinker::new(10, 10, 5, 5, Filter::Mitchell).is_err());
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
