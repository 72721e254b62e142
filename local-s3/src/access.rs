//! Access policy: refuse anonymous calls (like s3s' default), and refuse presigned requests
//! that carry `x-amz-*` headers the signature does not cover.
//!
//! s3s verifies only the headers listed in `X-Amz-SignedHeaders`; anything else is passed
//! through, so without this an uploader holding a presigned PUT could attach arbitrary
//! `x-amz-meta-*` metadata. AWS refuses such requests (403, "headers present in the request
//! which were not signed"); so does this.

use s3s::access::{S3Access, S3AccessContext};
use s3s::{s3_error, S3Result};

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
    fn finds_unsigned_amz_headers_only_on_presigned_requests() {
        let uri: http::Uri =
            "/b/k?x-id=PutObject&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost&X-Amz-Signature=ab"
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
