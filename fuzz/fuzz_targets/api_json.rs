//! The presign API's request parsing: `UploadRequest` JSON bodies (one or an array), gallery
//! cursors, ids, thumbnail keys and file-name metadata round-trips.
#![no_main]
use fitbox_api::UploadRequest;
use fitbox_api::keys;
use libfuzzer_sys::fuzz_target;

// The presign crate's cursor module, compiled from its own source file (it only needs
// fitbox-api and base64); its unit tests are cfg(test) and stay out.
#[path = "../../presign-lambda/src/cursor.rs"]
#[allow(dead_code)]
mod cursor;

fuzz_target!(|data: &[u8]| {
    // JSON bodies: never panic; what parses re-serialises to an equal value.
    if let Ok(req) = serde_json::from_slice::<UploadRequest>(data) {
        let s = serde_json::to_vec(&req).unwrap();
        assert_eq!(serde_json::from_slice::<UploadRequest>(&s).unwrap(), req);
    }
    if let Ok(reqs) = serde_json::from_slice::<Vec<UploadRequest>>(data) {
        let s = serde_json::to_vec(&reqs).unwrap();
        assert_eq!(serde_json::from_slice::<Vec<UploadRequest>>(&s).unwrap(), reqs);
    }
    let _ = serde_json::from_slice::<serde_json::Value>(data);

    let Ok(text) = std::str::from_utf8(data) else {
        // Lossy text still exercises the string functions.
        let text = String::from_utf8_lossy(data);
        strings(&text);
        return;
    };
    strings(text);
});

fn strings(text: &str) {
    // Cursors: a decoded cursor obeys its documented shape, and re-encodes to itself.
    if let Some(key) = cursor::decode(text) {
        assert!(key.starts_with(keys::IMAGE_PREFIX) && key.len() > keys::IMAGE_PREFIX.len());
        assert!(key.len() <= 1024 && !key.chars().any(char::is_control));
    }
    if text.starts_with(keys::IMAGE_PREFIX)
        && text.len() > keys::IMAGE_PREFIX.len()
        && text.len() <= 1024
    {
        let c = cursor::after_key(text);
        if !text.chars().any(char::is_control) {
            let back = cursor::decode(&c);
            assert!(back.is_some(), "{text:?} -> {c:?}");
        }
    }

    // Ids.
    if keys::is_valid_id(text) {
        assert_eq!(text.len(), keys::ID_LEN);
        let _ = keys::created_ms(text);
        let up = keys::upload_key(text);
        let img = keys::image_key(&up, 400, 300, "jpg").unwrap();
        let parsed = keys::parse_image_key(&img).unwrap();
        assert_eq!(parsed.name, text);
        assert_eq!((parsed.width, parsed.height, parsed.ext), (400, 300, "jpg"));
    }

    // Thumbnail keys: parse, rebuild, parse again to the same thing.
    if let Some(k) = keys::parse_image_key(text) {
        assert!(k.width > 0 && k.height > 0 && !k.name.is_empty() && !k.ext.is_empty());
        let rebuilt = format!(
            "{}{}/{}x{}.{}",
            keys::IMAGE_PREFIX,
            k.name,
            k.width,
            k.height,
            k.ext
        );
        assert_eq!(keys::parse_image_key(&rebuilt), Some(k));
    }

    // Upload keys.
    if let Some(name) = keys::upload_name(text) {
        assert!(!name.is_empty());
        let _ = keys::rejected_key(text).unwrap();
        let _ = keys::image_prefix(text).unwrap();
    }

    // File names: sanitised is printable ASCII within 200 bytes with no directory part, and
    // decodes to the base name (minus control characters) unless it was cut.
    let s = keys::sanitize_filename(text);
    assert!(s.len() <= 200, "{}", s.len());
    assert!(s.bytes().all(|b| (0x20..0x7f).contains(&b)), "{s:?}");
    assert!(!s.contains('/') && !s.contains('\\'), "{s:?}");
    let decoded = keys::decode_filename(&s);
    let base: String = text
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    // A cut ends before a character whose escapes do not fit (up to 12 bytes for 4-byte UTF-8).
    if s.len() + 12 <= keys::MAX_FILENAME_BYTES {
        assert_eq!(decoded, base, "{text:?} -> {s:?}");
    }
    // Idempotent on its own output's decoding.
    let _ = keys::decode_filename(text);
}
