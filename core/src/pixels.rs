//! The bottom of the pipeline's module graph: what decoded pixels are and the traits through
//! which shrink-on-load codecs hand rows and planes to the resampler. Depends on nothing else
//! in the crate but [`Error`].

use crate::Error;

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
    /// EXIF orientation 1..=8 (1 when absent or invalid).
    pub orientation: u8,
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
