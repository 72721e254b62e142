//! Gallery page cursors.
//!
//! A cursor is the `StartAfter` key of the next `ListObjectsV2` call, base64url-encoded
//! (no padding). After a page whose last thumbnail is `images/{id}/{w}x{h}.{ext}` it is
//! `images/{id}/~`: `~` sorts after every `{w}x{h}.{ext}` file name, so the next page starts at
//! the next upload and one upload never straddles two pages. A decoded cursor must start with
//! `images/`, be at most 1024 bytes (S3's key limit) and hold no control characters; anything else
//! is a `400 invalid_cursor`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use fitbox_api::keys::{self, IMAGE_PREFIX};

const MAX_KEY_BYTES: usize = 1024;

/// The cursor that continues after a page whose last listed key is `last_key`.
pub fn after_key(last_key: &str) -> String {
    let start_after = match keys::parse_image_key(last_key) {
        Some(k) => format!("{IMAGE_PREFIX}{}/~", k.name),
        None => last_key.to_string(),
    };
    URL_SAFE_NO_PAD.encode(start_after)
}

/// The `StartAfter` key a cursor stands for, or `None` if it is not a cursor this API made.
pub fn decode(cursor: &str) -> Option<String> {
    if cursor.len() > MAX_KEY_BYTES * 4 / 3 + 4 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let key = String::from_utf8(bytes).ok()?;
    let valid = key.starts_with(IMAGE_PREFIX)
        && key.len() > IMAGE_PREFIX.len()
        && key.len() <= MAX_KEY_BYTES
        && !key.chars().any(char::is_control);
    valid.then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_skips_the_whole_upload() {
        let id = keys::new_id(1_800_000_000_000, 7);
        let c = after_key(&format!("images/{id}/400x300.jpg"));
        assert!(c
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let start_after = decode(&c).unwrap();
        assert_eq!(start_after, format!("images/{id}/~"));
        assert!(start_after.as_str() > format!("images/{id}/4096x4096.png").as_str());
        let next = keys::new_id(1_799_999_999_999, 0);
        assert!(start_after.as_str() < format!("images/{next}/1x1.jpg").as_str());
    }

    #[test]
    fn foreign_keys_continue_after_themselves() {
        let c = after_key("images/odd key");
        assert_eq!(decode(&c).as_deref(), Some("images/odd key"));
    }

    #[test]
    fn bad_cursors_are_refused() {
        for bad in [
            "",
            "!!!",
            "a",
            &URL_SAFE_NO_PAD.encode("uploads/x"),
            &URL_SAFE_NO_PAD.encode("images/"),
            &URL_SAFE_NO_PAD.encode("images/a\nb"),
            &URL_SAFE_NO_PAD.encode([0xff, 0xfe]),
            &URL_SAFE_NO_PAD.encode(format!("images/{}", "x".repeat(2000))),
            &"A".repeat(10_000),
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
