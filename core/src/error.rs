//! The one error type of the pipeline. Every message names the problem and, where one applies,
//! the limit and the value found. [`Error::code`] and [`Error::http_status`] are the single
//! place where an error becomes an API answer.

use crate::Format;

/// Why an image was refused (or, rarely, why the pipeline failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Zero bytes.
    #[error("the file is empty")]
    Empty,
    /// More bytes than [`crate::Limits::max_bytes`].
    #[error(
        "the file is {} ({size} bytes); the limit is {} ({limit} bytes)",
        human_bytes(*size),
        human_bytes(*limit)
    )]
    TooManyBytes {
        /// The file's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// More pixels than [`crate::Limits::max_pixels`].
    #[error(
        "image is {width}x{height} ({}); the limit is {}",
        megapixels(*width as u64 * *height as u64),
        megapixels(*limit)
    )]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The pixel limit.
        limit: u64,
    },
    /// A side of zero pixels, or longer than [`crate::Limits::max_side`].
    #[error("image is {width}x{height}: {why}")]
    BadDimensions {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// What is wrong with them.
        why: String,
    },
    /// A real image format that fitbox does not accept (HEIC, AVIF, TIFF, SVG, ...).
    #[error("unsupported format: {detected}; fitbox accepts JPEG, PNG, WebP and GIF")]
    Unsupported {
        /// What the bytes are.
        detected: String,
    },
    /// Not an image at all (text, scripts, unknown binary data).
    #[error("not an image: {what}; fitbox accepts JPEG, PNG, WebP and GIF")]
    NotAnImage {
        /// What the bytes look like.
        what: String,
    },
    /// Inside the pixel limit, but decoding and resizing it would need more memory than the
    /// decode budget (4 bytes x [`crate::Limits::max_pixels`]): e.g. a 100 MP GIF canvas, which
    /// decodes to RGBA and is copied once.
    #[error(
        "{format} image is {width}x{height} and needs about {need_mb} MB to decode and resize; \
         the limit is {limit_mb} MB (4 bytes per pixel of the pixel limit)"
    )]
    TooMuchMemory {
        /// The format.
        format: Format,
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// Memory the decode and resize would need, in MB.
        need_mb: u64,
        /// The budget, in MB.
        limit_mb: u64,
    },
    /// An accepted format, but a variant fitbox cannot decode (12-bit or arithmetic JPEG).
    #[error("unsupported {format} variant: {detail}")]
    UnsupportedVariant {
        /// The format.
        format: Format,
        /// Which variant.
        detail: String,
    },
    /// The data ends before the image does.
    #[error("{format} data is truncated: {detail}")]
    Truncated {
        /// The format.
        format: Format,
        /// The decoder's words.
        detail: String,
    },
    /// The data is damaged.
    #[error("{format} data is corrupt: {detail}")]
    Corrupt {
        /// The format.
        format: Format,
        /// The decoder's words.
        detail: String,
    },
    /// The caller's options are out of range.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// The pipeline itself failed (never caused by the input alone).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A short, stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Empty => "empty",
            Error::TooManyBytes { .. } => "too_many_bytes",
            Error::TooManyPixels { .. } => "too_many_pixels",
            Error::BadDimensions { .. } => "bad_dimensions",
            Error::Unsupported { .. } => "unsupported_format",
            Error::NotAnImage { .. } => "not_an_image",
            Error::TooMuchMemory { .. } => "too_much_memory",
            Error::UnsupportedVariant { .. } => "unsupported_variant",
            Error::Truncated { .. } => "truncated",
            Error::Corrupt { .. } => "corrupt",
            Error::InvalidOptions(_) => "invalid_options",
            Error::Internal(_) => "internal",
        }
    }

    /// The HTTP status an API answers with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Empty | Error::InvalidOptions(_) => 400,
            Error::TooManyBytes { .. }
            | Error::TooManyPixels { .. }
            | Error::TooMuchMemory { .. } => 413,
            Error::Unsupported { .. } | Error::NotAnImage { .. } => 415,
            Error::BadDimensions { .. }
            | Error::UnsupportedVariant { .. }
            | Error::Truncated { .. }
            | Error::Corrupt { .. } => 422,
            Error::Internal(_) => 500,
        }
    }

    /// Whether the input itself is at fault (a retry with the same bytes cannot succeed).
    pub fn is_input_error(&self) -> bool {
        !matches!(self, Error::Internal(_) | Error::InvalidOptions(_))
    }
}

fn human_bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else if n >= 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}

fn megapixels(n: u64) -> String {
    let mp = n as f64 / 1e6;
    if mp >= 10.0 {
        format!("{mp:.0} MP")
    } else {
        format!("{mp:.1} MP")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_value_and_limit() {
        let e = Error::TooManyPixels {
            width: 20000,
            height: 14000,
            limit: 100_000_000,
        };
        assert_eq!(
            e.to_string(),
            "image is 20000x14000 (280 MP); the limit is 100 MP"
        );
        assert_eq!(e.http_status(), 413);
        let e = Error::TooManyBytes {
            size: 30 * 1024 * 1024,
            limit: 25 * 1024 * 1024,
        };
        assert_eq!(
            e.to_string(),
            "the file is 30.0 MiB (31457280 bytes); the limit is 25.0 MiB (26214400 bytes)"
        );
    }
}
