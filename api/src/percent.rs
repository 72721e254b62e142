//! Percent-encoding, one place for every use in fitbox, on the `percent-encoding` crate (the
//! `url` crate's own encoder): URL components and paths, S3 metadata values, and decoding them.
//! Non-ASCII is always encoded, one `%XX` (upper-case hex) per UTF-8 byte.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - _ . ~`).
pub const COMPONENT: &AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// [`COMPONENT`], keeping `/`: an object key in a URL path or a `CopySource`.
pub const PATH: &AsciiSet = &COMPONENT.remove(b'/');

/// [`COMPONENT`], keeping `:` and `@`: owners (`oidc:SUB`, `key:NAME`) in S3 metadata.
pub const OWNER: &AsciiSet = &COMPONENT.remove(b':').remove(b'@');

/// [`COMPONENT`], keeping the space and `()+,`: file names in S3 metadata, still readable.
pub const FILENAME: &AsciiSet = &COMPONENT
    .remove(b' ')
    .remove(b'(')
    .remove(b')')
    .remove(b'+')
    .remove(b',');

/// Controls and `%` only: printable ASCII messages in S3 metadata stay as they are.
pub const MESSAGE: &AsciiSet = &CONTROLS.add(b'%');

/// Like `encodeURIComponent` (which also leaves `!'()*`; those are encoded here, which every
/// server accepts).
pub fn encode_component(s: &str) -> String {
    encode(s, COMPONENT)
}

/// An object key for a URL path or an `x-amz-copy-source` value: `/` kept.
pub fn encode_path(key: &str) -> String {
    encode(key, PATH)
}

/// `s` with every character of `set` (and all non-ASCII) encoded.
pub fn encode(s: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(s, set).to_string()
}

/// `s` encoded with `set`, cut to at most `max` bytes without splitting a character's escapes.
pub fn encode_within(s: &str, set: &'static AsciiSet, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    let mut buf = [0u8; 4];
    for ch in s.chars() {
        let before = out.len();
        out.extend(utf8_percent_encode(ch.encode_utf8(&mut buf), set));
        if out.len() > max {
            out.truncate(before);
            break;
        }
    }
    out
}

/// Decode `%XX` escapes (a `%` not followed by two hex digits stays as it is); bytes that are not
/// UTF-8 become U+FFFD.
pub fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_set_keeps_what_it_says() {
        let s = "a-_.~/:@ ()+,%é!";
        assert_eq!(
            encode_component(s),
            "a-_.~%2F%3A%40%20%28%29%2B%2C%25%C3%A9%21"
        );
        assert_eq!(encode_path(s), "a-_.~/%3A%40%20%28%29%2B%2C%25%C3%A9%21");
        assert_eq!(encode(s, OWNER), "a-_.~%2F:@%20%28%29%2B%2C%25%C3%A9%21");
        assert_eq!(encode(s, FILENAME), "a-_.~%2F%3A%40 ()+,%25%C3%A9%21");
        assert_eq!(encode("50% off\n\té", MESSAGE), "50%25 off%0A%09%C3%A9");
    }

    #[test]
    fn cut_never_splits_a_character() {
        assert_eq!(encode_within("ééé", COMPONENT, 13), "%C3%A9%C3%A9");
        assert_eq!(encode_within("ab", COMPONENT, 1), "a");
        assert_eq!(encode_within("ab", COMPONENT, 0), "");
    }

    #[test]
    fn decode_is_lossless_for_what_was_encoded_and_lenient_otherwise() {
        for s in ["日本 語.jpg", "oidc:auth0|abc def", "x%41y"] {
            assert_eq!(decode(&encode_component(s)), s);
        }
        assert_eq!(decode("100%.jpg"), "100%.jpg");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%FF"), "\u{FFFD}");
    }
}
