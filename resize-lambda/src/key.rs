//! Object keys as S3 events carry them, and the encodings S3 requests need.

use fitbox_api::percent;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Why a key from an event cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A `%` not followed by two hex digits.
    #[error("bad percent escape at byte {at} of {raw:?}")]
    BadEscape {
        /// The key as the event sent it.
        raw: String,
        /// Byte offset of the bad escape.
        at: usize,
    },
    /// The decoded bytes are not UTF-8 (S3 keys always are).
    #[error("decoded key is not UTF-8: {raw:?}")]
    NotUtf8 {
        /// The key as the event sent it.
        raw: String,
    },
}

/// Decode an object key as S3 event notifications send it: form-URL-encoded, so `+` is a
/// space and `%XX` is a byte (`my+photo%2B1.jpg` -> `my photo+1.jpg`).
///
/// Strict: a malformed escape or bytes that are not UTF-8 are an error (S3 never sends them;
/// the caller logs and ignores the record).
pub fn decode_key(raw: &str) -> Result<String, KeyError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
                match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                    (Some(hi), Some(lo)) => {
                        // Two hex digits: at most 0xff.
                        out.push(u8::try_from(hi * 16 + lo).unwrap_or(u8::MAX));
                        i += 3;
                    }
                    _ => {
                        return Err(KeyError::BadEscape {
                            raw: raw.to_owned(),
                            at: i,
                        })
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| KeyError::NotUtf8 {
        raw: raw.to_owned(),
    })
}

/// Characters S3 event notifications leave as they are (besides letters and digits).
const EVENT_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'*')
    .remove(b'/')
    .remove(b' ');

/// Encode a key the way S3 event notifications do (the inverse of [`decode_key`]):
/// space -> `+`, `+` -> `%2B`, non-ASCII -> `%XX` per UTF-8 byte, `/` kept.
/// `fitbox serve` uses this to turn its own object-created events into S3-shaped ones.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, EVENT_KEEP)
        .to_string()
        .replace(' ', "+")
}

/// `bucket/key` for CopyObject's `x-amz-copy-source`, key percent-encoded. The SDK sends the
/// value as given; S3 (and s3s) URL-decode it, so raw non-ASCII or a literal `%20` in a key
/// would break or change the source.
pub fn copy_source(bucket: &str, key: &str) -> String {
    format!("{bucket}/{}", percent::encode_path(key))
}

/// Longest `reason` metadata value written, in bytes.
pub const MAX_REASON_BYTES: usize = 1024;

/// A message made safe for an S3 metadata value: printable ASCII kept (a `%` becomes `%25`),
/// everything else percent-encoded per UTF-8 byte, cut to [`MAX_REASON_BYTES`] without
/// splitting a character. Decode with `fitbox_api::keys::decode_filename`.
pub fn metadata_safe(msg: &str) -> String {
    percent::encode_within(msg.trim(), percent::MESSAGE, MAX_REASON_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_s3_sends() {
        let cases = [
            ("uploads/abc", "uploads/abc"),
            ("uploads/my+photo.jpg", "uploads/my photo.jpg"),
            ("uploads/a%2Bb.jpg", "uploads/a+b.jpg"),
            ("uploads/100%25.jpg", "uploads/100%.jpg"),
            ("uploads/pct%2520lit.jpg", "uploads/pct%20lit.jpg"),
            (
                "uploads/%C3%BCn%C3%AF+%E6%97%A5%E6%9C%AC.jpg",
                "uploads/ünï 日本.jpg",
            ),
            ("test%2Fkey", "test/key"),
            ("Happy%20Face.jpg", "Happy Face.jpg"),
            ("uploads/%c3%bc", "uploads/ü"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_key(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn refuses_bad_escapes_and_non_utf8() {
        for raw in ["uploads/100%", "uploads/%2", "uploads/%zz", "%"] {
            assert!(
                matches!(decode_key(raw), Err(KeyError::BadEscape { .. })),
                "{raw}"
            );
        }
        for raw in ["uploads/%FF", "uploads/%C3", "%80abc"] {
            assert!(
                matches!(decode_key(raw), Err(KeyError::NotUtf8 { .. })),
                "{raw}"
            );
        }
    }

    #[test]
    fn encode_is_the_inverse_of_decode() {
        for key in [
            "uploads/with space.jpg",
            "uploads/a+b.jpg",
            "uploads/ünï/日本 語.jpg",
            "uploads/100%.jpg",
            "uploads/pct%20lit.jpg",
            "uploads/dir/a b+c%d é~!'()*.txt",
        ] {
            let enc = encode_key(key);
            assert!(enc.is_ascii() && !enc.contains(' '), "{enc}");
            assert_eq!(decode_key(&enc).as_deref(), Ok(key));
        }
        assert_eq!(
            encode_key("uploads/my photo+1.jpg"),
            "uploads/my+photo%2B1.jpg"
        );
    }

    #[test]
    fn copy_source_encodes_the_key_only() {
        assert_eq!(copy_source("up", "uploads/abc"), "up/uploads/abc");
        assert_eq!(
            copy_source("up", "uploads/a b+%20ü"),
            "up/uploads/a%20b%2B%2520%C3%BC"
        );
    }

    #[test]
    fn reasons_are_ascii_and_bounded() {
        assert_eq!(
            metadata_safe("JPEG data is truncated"),
            "JPEG data is truncated"
        );
        assert_eq!(metadata_safe("50% ü\n"), "50%25 %C3%BC");
        let long = metadata_safe(&"é".repeat(2000));
        assert!(long.len() <= MAX_REASON_BYTES && long.is_ascii());
        assert!(
            long.ends_with("%A9"),
            "no split escape: {}",
            &long[long.len() - 6..]
        );
        let s = metadata_safe("tab\there ok %");
        assert_eq!(fitbox_api::keys::decode_filename(&s), "tab\there ok %");
    }
}
