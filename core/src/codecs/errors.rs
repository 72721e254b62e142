//! Decoder errors that carry only a message: which words mean "the data ended early". Each
//! phrase has a test that makes the decoder say it, so a reworded message upstream fails a test
//! instead of silently turning a `truncated` answer into `corrupt`.

use crate::{Error, Format};

/// A decoder's error message, as [`Error::Truncated`] when it contains one of `truncation`'s
/// phrases (lowercase; decoders say "data ends early" in their own words), else
/// [`Error::Corrupt`].
pub(crate) fn truncated_or_corrupt(format: Format, msg: String, truncation: &[&str]) -> Error {
    let lower = msg.to_ascii_lowercase();
    if truncation.iter().any(|t| lower.contains(t)) {
        Error::Truncated {
            format,
            detail: msg,
        }
    } else {
        Error::Corrupt {
            format,
            detail: msg,
        }
    }
}

/// Phrases of the `image` crate's decoders (and png's) that mean the data ended early.
pub(crate) const IMAGE_TRUNCATION: &[&str] = &[
    "eof",
    "end of file",
    "truncated",
    "unexpected end",
    "no more data",
];
