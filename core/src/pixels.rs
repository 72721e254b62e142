//! The bottom of the pipeline's module graph: what decoded pixels are and the traits through
//! which shrink-on-load codecs hand rows and planes to the resampler. Depends on nothing else
//! in the crate but [`Error`]. [`Orientation`] is public (re-exported at the crate root).

use serde::{Deserialize, Serialize};

use crate::Error;

/// EXIF orientation (TIFF tag 274): how the stored pixels are turned to show the picture
/// upright.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum Orientation {
    /// 1: stored upright (also when a file says nothing, or something invalid).
    #[default]
    Normal,
    /// 2: mirrored left to right.
    FlipHorizontal,
    /// 3: upside down.
    Rotate180,
    /// 4: mirrored top to bottom.
    FlipVertical,
    /// 5: mirrored along the diagonal from the top left.
    Transpose,
    /// 6: shown turned a quarter turn clockwise.
    Rotate90,
    /// 7: mirrored along the diagonal from the top right.
    Transverse,
    /// 8: shown turned a quarter turn anticlockwise.
    Rotate270,
}

impl Orientation {
    /// Every orientation, in EXIF order (1..=8).
    pub const ALL: [Orientation; 8] = [
        Orientation::Normal,
        Orientation::FlipHorizontal,
        Orientation::Rotate180,
        Orientation::FlipVertical,
        Orientation::Transpose,
        Orientation::Rotate90,
        Orientation::Transverse,
        Orientation::Rotate270,
    ];

    /// The orientation of EXIF value `v` (1..=8).
    pub fn from_exif(v: u8) -> Option<Orientation> {
        Orientation::ALL
            .get(usize::from(v).checked_sub(1)?)
            .copied()
    }

    /// The EXIF value, 1..=8.
    pub fn exif(self) -> u8 {
        self as u8 + 1
    }

    /// Whether turning upright swaps width and height (5..=8).
    pub fn swaps_sides(self) -> bool {
        self.exif() >= 5
    }
}

impl From<Orientation> for u8 {
    fn from(o: Orientation) -> u8 {
        o.exif()
    }
}

impl TryFrom<u8> for Orientation {
    type Error = String;

    fn try_from(v: u8) -> Result<Orientation, String> {
        Orientation::from_exif(v).ok_or_else(|| format!("EXIF orientation {v} is not 1..=8"))
    }
}

impl std::fmt::Display for Orientation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.exif())
    }
}

/// Channel layout of decoded pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// 8-bit RGB.
    Rgb,
    /// A JPEG's own YCbCr (JFIF: BT.601, full range), upsampled and interleaved but not yet
    /// converted: resampled as it is, and turned into RGB afterwards on the thumbnail's pixels
    /// only (`color::to_srgb`), instead of on every decoded pixel.
    YCbCr,
    /// Straight (not premultiplied) alpha.
    Rgba,
    /// CMYK ink values (0 = no ink), to be converted with the image's CMYK ICC profile.
    Cmyk,
    /// Adobe YCCK as a JPEG stores it: the pipeline turns it into [`Layout::Cmyk`] at full size,
    /// right after decoding (`color::ycc::ycck_to_cmyk`).
    Ycck,
}

impl Layout {
    pub(crate) fn channels(self) -> usize {
        match self {
            Layout::Rgb | Layout::YCbCr => 3,
            Layout::Rgba | Layout::Cmyk | Layout::Ycck => 4,
        }
    }
}

/// Pixels as decoded, in stored (not yet EXIF-oriented) orientation.
pub(crate) struct Decoded {
    /// Size of `data`: the stored size, or less after JPEG shrink-on-load.
    pub width: u32,
    pub height: u32,
    /// The image's stored size (what the headers say and what the box is fitted to).
    pub source_width: u32,
    pub source_height: u32,
    pub layout: Layout,
    pub data: Vec<u8>,
    pub icc: Option<Vec<u8>>,
    /// EXIF orientation (upright when absent or invalid).
    pub orientation: Orientation,
}

/// A VP8 frame's picture as three compact planes (no macroblock padding): Y at `size`, U and V at
/// half that, rounded up.
pub(crate) struct Yuv420 {
    /// Luma, `size.0 x size.1` bytes.
    pub y: Vec<u8>,
    /// Blue-difference chroma, `size.0.div_ceil(2) x size.1.div_ceil(2)` bytes.
    pub u: Vec<u8>,
    /// Red-difference chroma, as `u`.
    pub v: Vec<u8>,
    /// The picture's size.
    pub size: (u32, u32),
    /// The rectangle of the chroma planes that stands for the picture (left, top, width,
    /// height in chroma samples): for an odd size it ends inside their last sample.
    pub chroma: (f64, f64, f64, f64),
}

/// Where a codec that reads rows hands them: RGB rows, a strip at a time.
pub(crate) trait RowSink {
    /// Rows per [`RowSink::push`] that suit the sink.
    fn strip_rows(&self) -> u32;
    /// The next rows, top to bottom (whole RGB rows).
    fn push(&mut self, rows: &[u8]) -> Result<(), Error>;
    /// Every row was pushed: the result.
    fn finish(self: Box<Self>) -> Result<Vec<u8>, Error>;
}

/// The pipeline's resampler as shrink-on-load codecs see it (`lib.rs` implements it with
/// `resize` and `color`): codecs read rows and planes, and never resample or convert colour
/// themselves, so the module graph goes one way.
pub(crate) trait Shrink {
    /// A sink for the RGB rows of a `from` image, resampled with Lanczos2 to `to`.
    fn rows(&self, from: (u32, u32), to: (u32, u32)) -> Result<Box<dyn RowSink>, Error>;
    /// The planes of a VP8 frame, resampled with Lanczos2 to `to` and converted to RGB.
    fn vp8(&self, planes: Yuv420, to: (u32, u32)) -> Result<Vec<u8>, Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orientations_are_the_exif_values() {
        for v in 1..=8 {
            let o = Orientation::from_exif(v).unwrap();
            assert_eq!(o.exif(), v);
            assert_eq!(o.swaps_sides(), v >= 5);
            assert_eq!(serde_json::to_value(o).unwrap(), v);
        }
        assert_eq!(Orientation::default(), Orientation::Normal);
        assert_eq!(Orientation::from_exif(6), Some(Orientation::Rotate90));
        for bad in [0, 9, 255] {
            assert_eq!(Orientation::from_exif(bad), None);
            assert!(serde_json::from_value::<Orientation>(bad.into()).is_err());
        }
    }
}
