//! Best-fit box arithmetic, as in the original tutorial: keep the ratio, compare the source
//! ratio with the box ratio, round the derived side to nearest, never a 0-px side. Lanczos2 when
//! shrinking, Mitchell when enlarging. All integer arithmetic, so every target agrees.

use crate::pixels::Orientation;

/// Which resampling filter a fit needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Filter {
    /// Same size: no resampling at all.
    None,
    /// Shrinking: Lanczos with 2 lobes.
    Lanczos2,
    /// Enlarging: Mitchell-Netravali, B = C = 1/3.
    Mitchell,
}

/// The size a source gets in the box, and the filter that makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    /// Fitted width.
    pub width: u32,
    /// Fitted height.
    pub height: u32,
    /// The filter that makes it.
    pub filter: Filter,
}

/// Fit `src_w x src_h` into `box_w x box_h`. With `enlarge == false` an image that already fits
/// keeps its size. All inputs must be at least 1.
pub fn fit(src_w: u32, src_h: u32, box_w: u32, box_h: u32, enlarge: bool) -> Fit {
    let (sw, sh) = (src_w.max(1) as u64, src_h.max(1) as u64);
    let (bw, bh) = (box_w.max(1) as u64, box_h.max(1) as u64);
    if !enlarge && sw <= bw && sh <= bh {
        return Fit {
            width: sw as u32,
            height: sh as u32,
            filter: Filter::None,
        };
    }
    // Round-to-nearest of a / b for positive integers.
    let div_round = |a: u64, b: u64| (2 * a + b) / (2 * b);
    let (w, h) = if sw * bh > bw * sh {
        // Source is wider than the box: width fills the box.
        (bw, div_round(bw * sh, sw).max(1))
    } else {
        (div_round(bh * sw, sh).max(1), bh)
    };
    let filter = if w == sw && h == sh {
        Filter::None
    } else if w < sw || h < sh {
        Filter::Lanczos2
    } else {
        Filter::Mitchell
    };
    Fit {
        width: w as u32,
        height: h as u32,
        filter,
    }
}

/// [`fit`] for an image stored `width x height` and shown turned by EXIF `orientation`: the box
/// is fitted to the size as shown, and the result is given back in stored orientation, the
/// size the pixels are resampled to before they are turned. The one place that decides it, for
/// the pipeline and for the decoders' shrink-on-load alike.
pub(crate) fn fit_stored(
    width: u32,
    height: u32,
    orientation: Orientation,
    box_w: u32,
    box_h: u32,
    enlarge: bool,
) -> Fit {
    let (shown_w, shown_h) = crate::orient::displayed(width, height, orientation);
    let f = fit(shown_w, shown_h, box_w, box_h, enlarge);
    let (w, h) = crate::orient::displayed(f.width, f.height, orientation);
    Fit {
        width: w,
        height: h,
        filter: f.filter,
    }
}

/// The box the decoded image will be fitted into; lets JPEG decode at a reduced DCT scale.
#[derive(Clone, Copy)]
pub(crate) struct Target<'a> {
    pub box_width: u32,
    pub box_height: u32,
    pub enlarge: bool,
    /// The resampler shrink-on-load codecs hand rows and planes to.
    pub shrink: &'a dyn crate::pixels::Shrink,
}

impl Target<'_> {
    /// What the pipeline will resample an image of this stored size to ([`fit_stored`]).
    pub(crate) fn fit(self, width: u32, height: u32, orientation: Orientation) -> Fit {
        fit_stored(
            width,
            height,
            orientation,
            self.box_width,
            self.box_height,
            self.enlarge,
        )
    }

    /// The fitted size when it is a Lanczos2 reduction on both sides, the case shrink-on-load
    /// (PNG rows, WebP planes) resamples while decoding; `None` otherwise.
    pub(crate) fn reduction(
        self,
        width: u32,
        height: u32,
        orientation: Orientation,
    ) -> Option<(u32, u32)> {
        let f = self.fit(width, height, orientation);
        (f.filter == Filter::Lanczos2 && f.width < width && f.height < height)
            .then_some((f.width, f.height))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            // (src, box, enlarge) -> (out, filter)
            (
                (5760, 3840),
                (400, 400),
                false,
                (400, 267),
                Filter::Lanczos2,
            ),
            (
                (3840, 5760),
                (400, 400),
                false,
                (267, 400),
                Filter::Lanczos2,
            ),
            (
                (6028, 3391),
                (400, 400),
                false,
                (400, 225),
                Filter::Lanczos2,
            ),
            (
                (11158, 2156),
                (400, 400),
                false,
                (400, 77),
                Filter::Lanczos2,
            ),
            (
                (4000, 4000),
                (400, 400),
                false,
                (400, 400),
                Filter::Lanczos2,
            ),
            ((400, 300), (400, 400), false, (400, 300), Filter::None),
            ((256, 1), (400, 400), false, (256, 1), Filter::None),
            ((100000, 1), (400, 400), false, (400, 1), Filter::Lanczos2),
            ((1, 100000), (400, 400), false, (1, 400), Filter::Lanczos2),
            ((1, 1), (400, 400), false, (1, 1), Filter::None),
            // The tutorial's enlarging branch.
            ((200, 100), (400, 400), true, (400, 200), Filter::Mitchell),
            ((100, 200), (400, 400), true, (200, 400), Filter::Mitchell),
            ((1, 1), (400, 400), true, (400, 400), Filter::Mitchell),
            ((400, 400), (400, 400), true, (400, 400), Filter::None),
            ((13, 1), (400, 400), true, (400, 31), Filter::Mitchell),
            // A non-square box.
            (
                (1000, 1000),
                (400, 200),
                false,
                (200, 200),
                Filter::Lanczos2,
            ),
            ((1000, 250), (400, 200), false, (400, 100), Filter::Lanczos2),
            // Wider than the box but shorter: width shrinks, height shrinks.
            ((800, 100), (400, 400), false, (400, 50), Filter::Lanczos2),
        ];
        for ((sw, sh), (bw, bh), enlarge, (w, h), filter) in cases {
            assert_eq!(
                fit(sw, sh, bw, bh, enlarge),
                Fit {
                    width: w,
                    height: h,
                    filter
                },
                "{sw}x{sh} into {bw}x{bh} enlarge={enlarge}"
            );
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #[test]
        fn fits_keeps_ratio_never_zero(sw in 1u32..100_000, sh in 1u32..100_000,
                                       bw in 1u32..2000, bh in 1u32..2000, enlarge: bool) {
            use proptest::prelude::*;
            let f = fit(sw, sh, bw, bh, enlarge);
            prop_assert!(f.width >= 1 && f.height >= 1);
            let fits_already = sw <= bw && sh <= bh;
            if !enlarge && fits_already {
                prop_assert_eq!((f.width, f.height), (sw, sh));
            } else {
                prop_assert!(f.width <= bw && f.height <= bh);
                // One side touches the box.
                prop_assert!(f.width == bw || f.height == bh);
                // Ratio kept within rounding: the derived side is within 0.5 px (or clamped to 1).
                let (sw, sh, w, h) = (sw as f64, sh as f64, f.width as f64, f.height as f64);
                if f.width == bw {
                    let exact = w * sh / sw;
                    prop_assert!((h - exact).abs() <= 0.5 + 1e-9 || h == 1.0);
                } else {
                    let exact = h * sw / sh;
                    prop_assert!((w - exact).abs() <= 0.5 + 1e-9 || w == 1.0);
                }
            }
            if !enlarge {
                prop_assert!(f.width <= sw.max(1) && f.height <= sh.max(1));
                prop_assert!(f.filter != Filter::Mitchell);
            }
        }
    }
}
