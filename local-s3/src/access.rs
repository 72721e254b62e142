//! Access policy: refuse anonymous calls (like s3s' default), refuse presigned requests
//! that carry `x-amz-*` headers the signature does not cover, and refuse object keys that a
//! file-system store must not see.
//!
//! s3s verifies only the headers listed in `X-Amz-SignedHeaders`; anything else is passed
//! through, so without this an uploader holding a presigned PUT could attach arbitrary
//! `x-amz-meta-*` metadata. AWS refuses such requests (403, "headers present in the request
//! which were not signed"); so does this.

use s3s::access::{S3Access, S3AccessContext};
use s3s::path::S3Path;
use s3s::{s3_error, S3Result};

/// Longest key S3 accepts, in bytes.
pub(crate) const MAX_KEY_BYTES: usize = 1024;
/// Longest key segment (between `/`s): the file-name limit of the file systems the store uses.
pub(crate) const MAX_SEGMENT_BYTES: usize = 255;

/// Why `key` may not reach the file system: `.` or `..` segments (they would walk the
/// directory tree), empty segments (`a//b`, a leading or trailing `/`), NUL, a segment over
/// [`MAX_SEGMENT_BYTES`] or a key over [`MAX_KEY_BYTES`].
pub(crate) fn bad_key(key: &str) -> Option<String> {
    if key.len() > MAX_KEY_BYTES {
        return Some(format!(
            "the key is {} bytes; the limit is {MAX_KEY_BYTES}",
            key.len()
        ));
    }
    if key.contains('\0') {
        return Some("the key contains a NUL character".into());
    }
    for segment in key.split('/') {
        match segment {
            "" => {
                return Some(
                    "the key has an empty segment (a leading, trailing or double /)".into(),
                )
            }
            "." | ".." => return Some(format!("the key has a {segment:?} segment")),
            s if s.len() > MAX_SEGMENT_BYTES => {
                return Some(format!(
                    "a key segment is {} bytes; the limit is {MAX_SEGMENT_BYTES}",
                    s.len()
                ))
            }
            _ => {}
        }
    }
    None
}

/// The key of an `x-amz-copy-source` header (`bucket/key` or `/bucket/key`, percent-encoded).
fn copy_source_key(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get("x-amz-copy-source")?.to_str().ok()?;
    let path = value.split('?').next()?.trim_start_matches('/');
    let (_, key) = path.split_once('/')?;
    Some(
        percent_encoding::percent_decode_str(key)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

pub(crate) struct Policy;

/// The lower-case header names listed in a presigned URL's `X-Amz-SignedHeaders`, or `None`
/// when the request is not query-signed.
pub(crate) fn presigned_signed_headers(uri: &http::Uri) -> Option<Vec<String>> {
    let query = uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("X-Amz-SignedHeaders"))
        .map(|(_, v)| {
            v.split(';')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect()
        })
}

/// The first `x-amz-*` header of a query-signed request that is not signed.
pub(crate) fn unsigned_amz_header(uri: &http::Uri, headers: &http::HeaderMap) -> Option<String> {
    let signed = presigned_signed_headers(uri)?;
    headers
        .keys()
        .map(http::HeaderName::as_str)
        .find(|name| name.starts_with("x-amz-") && !signed.iter().any(|s| s == name))
        .map(str::to_owned)
}

#[async_trait::async_trait]
impl S3Access for Policy {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        }
        if let S3Path::Object { key, .. } = cx.s3_path() {
            if let Some(why) = bad_key(key) {
                return Err(s3_error!(InvalidArgument, "refused key: {why}"));
            }
        }
        if let Some(key) = copy_source_key(cx.headers()) {
            if let Some(why) = bad_key(&key) {
                return Err(s3_error!(InvalidArgument, "refused copy source: {why}"));
            }
        }
        if let Some(name) = unsigned_amz_header(cx.uri(), cx.headers()) {
            return Err(s3_error!(
                AccessDenied,
                "There were headers present in the request which were not signed: {name}"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_could_walk_the_file_system_are_refused() {
        for ok in [
            "uploads/abc",
            "images/a b+c/1x1.jpg",
            "rejected/ü",
            "a...b/.x/x.",
        ] {
            assert_eq!(bad_key(ok), None, "{ok}");
        }
        let long = "x".repeat(256);
        for bad in [
            "uploads/../etc",
            "../x",
            "uploads/./x",
            ".",
            "uploads//x",
            "/uploads/x",
            "uploads/",
            "",
            "uploads/a\0b",
            long.as_str(),
        ] {
            assert!(bad_key(bad).is_some(), "{bad:?}");
        }
        assert!(bad_key(&"a/".repeat(600)).is_some());
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-amz-copy-source",
            "/b/uploads/%2E%2E/x".parse().expect("v"),
        );
        assert_eq!(copy_source_key(&h).as_deref(), Some("uploads/../x"));
    }

    #[test]
    fn finds_unsigned_amz_headers_only_on_presigned_requests() {
        let uri: http::Uri =
            "/b/k?x-id=PutObject&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost\
             &X-Amz-Signature=ab"
                .parse()
                .expect("uri");
        let mut h = http::HeaderMap::new();
        h.insert("content-type", "image/jpeg".parse().expect("v"));
        assert_eq!(unsigned_amz_header(&uri, &h), None);
        h.insert("x-amz-meta-evil", "1".parse().expect("v"));
        assert_eq!(
            unsigned_amz_header(&uri, &h).as_deref(),
            Some("x-amz-meta-evil")
        );

        let plain: http::Uri = "/b/k?x-id=PutObject".parse().expect("uri");
        assert_eq!(unsigned_amz_header(&plain, &h), None);

        let signed_meta: http::Uri = "/b/k?X-Amz-SignedHeaders=host%3Bx-amz-meta-evil"
            .parse()
            .expect("uri");
        assert_eq!(unsigned_amz_header(&signed_meta, &h), None);
    }
}
