//! The object-key scheme, shared by the presign API, the resize function and the CLI.
//!
//! * An upload id is 27 lowercase hex characters: 11 for `MAX_MS - created_ms` (so ids sort
//!   **newest first** in S3's ascending lexical listing) followed by 16 random ones.
//! * Originals live at `uploads/{id}` in the upload bucket.
//! * A thumbnail lives at `images/{id}/{width}x{height}.{ext}` in the resized bucket: one
//!   `ListObjectsV2` call with prefix `images/` returns a page newest first *with* dimensions,
//!   and a repeated event for the same upload rewrites the same key (the pipeline is
//!   deterministic).
//! * Refused originals are moved to `rejected/{id}` in the upload bucket.
//! * Who uploaded what: `owners/{id}` in the upload bucket, an empty object whose metadata holds
//!   the owner and the file name. The resize function writes it before the thumbnail, so the
//!   publicly served thumbnail carries nothing that identifies anyone.
//! * Deleted images leave a tombstone, `deleted/{id}` in the upload bucket.
//!
//! Keys that were not made by this scheme (someone copied `uploads/my photo.jpg` in by hand)
//! still work: the part after `uploads/` is kept as the "name" and used in the other prefixes.
//!
//! Pure functions: the caller supplies the clock and the randomness.

use crate::percent;

/// Prefix of originals waiting to be resized (upload bucket).
pub const UPLOAD_PREFIX: &str = "uploads/";
/// Prefix of refused originals (upload bucket).
pub const REJECTED_PREFIX: &str = "rejected/";
/// Prefix of thumbnails (resized bucket).
pub const IMAGE_PREFIX: &str = "images/";
/// Prefix of owner records (upload bucket).
pub const OWNER_PREFIX: &str = "owners/";
/// Prefix of tombstones of deleted images (upload bucket): `deleted/{id}`, written by
/// `DELETE /api/images/{id}` before anything is removed, so a resize in flight or a replayed
/// upload URL cannot bring the image back. They expire after a few days (longer than any
/// upload URL lives).
pub const DELETED_PREFIX: &str = "deleted/";

/// Length of an id made by [`new_id`].
pub const ID_LEN: usize = 27;
const TIME_HEX: usize = 11;
/// Largest millisecond timestamp an id can carry (2^44 - 1 ms, about the year 2527).
pub const MAX_MS: u64 = (1 << 44) - 1;

/// S3 user-metadata names (without the `x-amz-meta-` prefix) written by the resize function
/// and the presign API.
pub mod meta {
    /// Original file name as the uploader gave it, percent-encoded to ASCII.
    pub const FILENAME: &str = "filename";
    /// Thumbnail width in pixels.
    pub const WIDTH: &str = "width";
    /// Thumbnail height in pixels.
    pub const HEIGHT: &str = "height";
    /// The original's format ([`crate::Format::id`]).
    pub const SOURCE_FORMAT: &str = "source-format";
    /// The original's stored width.
    pub const SOURCE_WIDTH: &str = "source-width";
    /// The original's stored height.
    pub const SOURCE_HEIGHT: &str = "source-height";
    /// SHA-256 (hex) of the thumbnail's RGBA pixels.
    pub const PIXEL_SHA256: &str = "pixel-sha256";
    /// Why an original was rejected (on objects under `rejected/`).
    pub const REASON: &str = "reason";
    /// Machine-readable error code of a rejection.
    pub const REASON_CODE: &str = "reason-code";
    /// Who asked for the upload ticket: `oidc:{sub}`, `key:{name}` or `anonymous`,
    /// percent-encoded to ASCII like [`FILENAME`]. Signed into the upload's PUT, so the uploader
    /// cannot change it; on originals, refused copies and owner records, never on thumbnails.
    pub const OWNER: &str = "owner";
}

/// A new upload id for `now_ms` (milliseconds since the Unix epoch) and 64 random bits.
/// Later times give ids that sort *before* earlier ones.
pub fn new_id(now_ms: u64, random: u64) -> String {
    let inverted = MAX_MS - now_ms.min(MAX_MS);
    format!("{inverted:0TIME_HEX$x}{random:016x}")
}

/// Whether `s` has the exact shape of an id made by [`new_id`].
pub fn is_valid_id(s: &str) -> bool {
    s.len() == ID_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The creation time (ms since the epoch) encoded in a well-formed id.
pub fn created_ms(id: &str) -> Option<u64> {
    if !is_valid_id(id) {
        return None;
    }
    let inverted = u64::from_str_radix(&id[..TIME_HEX], 16).ok()?;
    MAX_MS.checked_sub(inverted)
}

/// `uploads/{id}`.
pub fn upload_key(id: &str) -> String {
    format!("{UPLOAD_PREFIX}{id}")
}

/// The name part of an upload key (`uploads/NAME` -> `NAME`), or `None` for keys outside
/// `uploads/` or with an empty name. The resize function ignores such keys.
pub fn upload_name(upload_key: &str) -> Option<&str> {
    upload_key
        .strip_prefix(UPLOAD_PREFIX)
        .filter(|name| !name.is_empty() && !name.ends_with('/'))
}

/// `rejected/NAME` for an upload key `uploads/NAME`.
pub fn rejected_key(upload_key: &str) -> Option<String> {
    upload_name(upload_key).map(|name| format!("{REJECTED_PREFIX}{name}"))
}

/// Longest owner (`oidc:SUB`, `key:NAME`) recorded, in bytes before encoding.
pub const MAX_OWNER_BYTES: usize = 512;

/// An owner as S3 metadata: every byte but ASCII letters, digits and `-_.~:@` percent-encoded,
/// losslessly (unlike [`sanitize_filename`], which keeps a base name), so that two subjects never
/// meet in one value. [`decode_filename`] reads it back. `None` over [`MAX_OWNER_BYTES`].
pub fn encode_owner(owner: &str) -> Option<String> {
    (owner.len() <= MAX_OWNER_BYTES).then(|| percent::encode(owner, percent::OWNER))
}

/// `deleted/NAME` for an upload key `uploads/NAME`.
pub fn deleted_key(upload_key: &str) -> Option<String> {
    upload_name(upload_key).map(|name| format!("{DELETED_PREFIX}{name}"))
}

/// `owners/NAME` for an upload key `uploads/NAME`.
pub fn owner_key(upload_key: &str) -> Option<String> {
    upload_name(upload_key).map(|name| format!("{OWNER_PREFIX}{name}"))
}

/// The prefix under which the thumbnail of `uploads/NAME` lives: `images/NAME/`.
pub fn image_prefix(upload_key: &str) -> Option<String> {
    upload_name(upload_key).map(|name| format!("{IMAGE_PREFIX}{name}/"))
}

/// `images/NAME/{width}x{height}.{ext}` for an upload key `uploads/NAME`.
pub fn image_key(upload_key: &str, width: u32, height: u32, ext: &str) -> Option<String> {
    image_prefix(upload_key).map(|p| format!("{p}{width}x{height}.{ext}"))
}

/// What a thumbnail key says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageKey<'a> {
    /// The upload's name (an id for keys made by this scheme).
    pub name: &'a str,
    /// Width from the key.
    pub width: u32,
    /// Height from the key.
    pub height: u32,
    /// File extension (`jpg`, `png`).
    pub ext: &'a str,
}

/// Parse `images/NAME/{w}x{h}.{ext}`.
pub fn parse_image_key(key: &str) -> Option<ImageKey<'_>> {
    let rest = key.strip_prefix(IMAGE_PREFIX)?;
    let (name, file) = rest.rsplit_once('/')?;
    if name.is_empty() {
        return None;
    }
    let (dims, ext) = file.rsplit_once('.')?;
    let (w, h) = dims.split_once('x')?;
    let width: u32 = w.parse().ok().filter(|v| *v > 0)?;
    let height: u32 = h.parse().ok().filter(|v| *v > 0)?;
    if ext.is_empty() {
        return None;
    }
    Some(ImageKey {
        name,
        width,
        height,
        ext,
    })
}

/// Longest file name recorded, in bytes after encoding.
pub const MAX_FILENAME_BYTES: usize = 200;

/// Percent-encode a client-supplied file name into printable ASCII for S3 metadata, after
/// dropping any directory part and control characters, and cutting it to
/// [`MAX_FILENAME_BYTES`].
pub fn sanitize_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let base: String = base.chars().filter(|c| !c.is_control()).collect();
    percent::encode_within(&base, percent::FILENAME, MAX_FILENAME_BYTES)
}

/// Decode what [`sanitize_filename`] or [`encode_owner`] wrote (lossy for invalid UTF-8).
pub fn decode_filename(meta: &str) -> String {
    percent::decode(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_round_trip_losslessly() {
        for owner in [
            "oidc:alice",
            "oidc:tenant/42",
            "oidc:42",
            "oidc:auth0|abc def",
            "key:ci",
            "oidc:ü%41",
        ] {
            let enc = encode_owner(owner).expect("short");
            assert!(enc.bytes().all(|b| b.is_ascii_graphic()), "{enc}");
            assert_eq!(decode_filename(&enc), owner);
        }
        assert_ne!(encode_owner("oidc:tenant/42"), encode_owner("oidc:42"));
        assert!(encode_owner(&"x".repeat(MAX_OWNER_BYTES + 1)).is_none());
    }

    #[test]
    fn ids_sort_newest_first_and_round_trip_time() {
        let older = new_id(1_700_000_000_000, 0xffff_ffff_ffff_ffff);
        let newer = new_id(1_700_000_000_001, 0);
        assert!(newer < older, "{newer} should sort before {older}");
        assert_eq!(older.len(), ID_LEN);
        assert!(is_valid_id(&older));
        assert_eq!(created_ms(&older), Some(1_700_000_000_000));
        assert_eq!(created_ms(&newer), Some(1_700_000_000_001));
    }

    #[test]
    fn invalid_ids_are_refused() {
        for bad in [
            "",
            "abc",
            &"g".repeat(ID_LEN),
            &"A".repeat(ID_LEN),
            "../../etc/passwd",
        ] {
            assert!(!is_valid_id(bad), "{bad}");
            assert_eq!(created_ms(bad), None);
        }
    }

    #[test]
    fn key_scheme_round_trips() {
        let id = new_id(1_800_000_000_000, 42);
        let up = upload_key(&id);
        assert_eq!(up, format!("uploads/{id}"));
        assert_eq!(rejected_key(&up).unwrap(), format!("rejected/{id}"));
        let key = image_key(&up, 400, 267, "jpg").unwrap();
        assert_eq!(key, format!("images/{id}/400x267.jpg"));
        let parsed = parse_image_key(&key).unwrap();
        assert_eq!(
            parsed,
            ImageKey {
                name: &id,
                width: 400,
                height: 267,
                ext: "jpg"
            }
        );
    }

    #[test]
    fn keys_outside_uploads_have_no_derived_keys() {
        for k in [
            "images/x/1x1.jpg",
            "rejected/x",
            "uploads/",
            "uploads/dir/",
            "other",
        ] {
            assert_eq!(upload_name(k), None, "{k}");
            assert_eq!(image_prefix(k), None);
            assert_eq!(rejected_key(k), None);
        }
        assert_eq!(
            upload_name("uploads/my photo+1 ü.jpg"),
            Some("my photo+1 ü.jpg")
        );
    }

    #[test]
    fn bad_image_keys_do_not_parse() {
        for k in [
            "images/x/0x1.jpg",
            "images/x/1x.jpg",
            "images/x/axb.jpg",
            "images//1x1.jpg",
            "images/x/1x1",
            "uploads/x/1x1.jpg",
        ] {
            assert_eq!(parse_image_key(k), None, "{k}");
        }
    }

    #[test]
    fn filenames_are_sanitised_and_decoded() {
        assert_eq!(sanitize_filename("C:\\Users\\me\\cat.jpg"), "cat.jpg");
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("a\u{0}b\nc.png"), "abc.png");
        let s = sanitize_filename("日本 語.jpg");
        assert!(s.is_ascii());
        assert_eq!(decode_filename(&s), "日本 語.jpg");
        assert_eq!(decode_filename("100%.jpg"), "100%.jpg");
        assert!(sanitize_filename(&"é".repeat(500)).len() <= 200);
        // Cut before a character whose escapes would not fit, never inside them.
        let cut = sanitize_filename(&format!("{}\u{e492c}", "a".repeat(189)));
        assert_eq!(cut, "a".repeat(189));
    }
}
