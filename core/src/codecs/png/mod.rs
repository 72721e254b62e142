//! PNG: the errors of the png crate; [`rows`] reads rows for shrink-on-load. Other PNGs are
//! decoded whole by [`super::whole`].

pub(crate) mod rows;

use super::errors::{truncated_or_corrupt, IMAGE_TRUNCATION};
use crate::{Error, Format};

pub(crate) fn png_error(e: png::DecodingError) -> Error {
    let format = Format::Png;
    match e {
        png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::Truncated {
                format,
                detail: io.to_string(),
            }
        }
        png::DecodingError::LimitsExceeded => Error::Corrupt {
            format,
            detail: "decoding would need more memory than allowed (metadata or buffers)".into(),
        },
        other => truncated_or_corrupt(format, other.to_string(), IMAGE_TRUNCATION),
    }
}
