//! PNG: the errors of the png crate; [`rows`] reads rows for shrink-on-load. Other PNGs are
//! decoded whole by [`super::whole`].

pub(crate) mod rows;

use super::errors::{by_message, Dependency};
use crate::{Error, Format};

/// png's error as fitbox's: by its variant where that says what happened (a read past the end;
/// the limits), else by its message (see [`super::errors::MESSAGES`]: png's `FormatError` keeps
/// its kind private).
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
        other => by_message(Dependency::Png, format, other.to_string()),
    }
}
