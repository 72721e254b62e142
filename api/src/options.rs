//! The pipeline's settings as data: the box, quality and limits that the server resizes with and
//! that `GET /api/config` hands the browser, so its preview runs with the very same ones.

use serde::{Deserialize, Serialize};

/// Default box side (the tutorial's 400x400).
pub const DEFAULT_BOX: u32 = 400;
/// Default JPEG quality.
pub const DEFAULT_QUALITY: u8 = 85;

/// What the guard refuses before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest input in bytes (default 25 MiB).
    pub max_bytes: u64,
    /// Most pixels (stored width x height; default 100 MP).
    pub max_pixels: u64,
    /// Longest side in pixels (default 32768).
    pub max_side: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 25 * 1024 * 1024,
            max_pixels: 100_000_000,
            max_side: 32_768,
        }
    }
}

/// Pipeline options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Width of the box the image is fitted into.
    pub box_width: u32,
    /// Height of the box.
    pub box_height: u32,
    /// Enlarge images smaller than the box (the tutorial's behaviour); off by default.
    pub enlarge: bool,
    /// JPEG quality 1..=100.
    pub quality: u8,
    /// What is refused before decoding.
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            box_width: DEFAULT_BOX,
            box_height: DEFAULT_BOX,
            enlarge: false,
            quality: DEFAULT_QUALITY,
            limits: Limits::default(),
        }
    }
}

/// Options out of range; the message names the value and the range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidOptions(pub String);

impl Options {
    /// Largest box side accepted.
    pub const MAX_BOX: u32 = 4096;

    /// Check ranges; every pipeline entry calls this first.
    pub fn validate(&self) -> Result<(), InvalidOptions> {
        let bad = |m: String| Err(InvalidOptions(m));
        if !(1..=Self::MAX_BOX).contains(&self.box_width)
            || !(1..=Self::MAX_BOX).contains(&self.box_height)
        {
            return bad(format!(
                "box {}x{} is out of range; each side must be 1..={}",
                self.box_width,
                self.box_height,
                Self::MAX_BOX
            ));
        }
        if !(1..=100).contains(&self.quality) {
            return bad(format!("quality {} is out of range 1..=100", self.quality));
        }
        if self.limits.max_bytes == 0 || self.limits.max_pixels == 0 || self.limits.max_side == 0 {
            return bad("limits must be positive".into());
        }
        Ok(())
    }
}
