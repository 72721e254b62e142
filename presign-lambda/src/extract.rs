//! Request extractors whose rejections are [`ApiError`]s, so axum's plain-text rejections never
//! reach a client.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};

use crate::error::ApiError;

/// Largest request body accepted (64 KiB: 100 upload requests with long file names fit).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A body declared over [`MAX_BODY_BYTES`] but at most this long is read and thrown away
/// before the `413` is sent, so that the client, still sending, sees the answer rather than a
/// broken pipe. A longer declared body is refused at once, unread.
pub const DRAIN_BYTES: u64 = 8 * 1024 * 1024;

/// A JSON request body, checked for `Content-Type: application/json`, size and syntax.
pub struct JsonBody(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::NotJson);
        }
        // A declared length over the limit is refused on the length alone (the body limit by
        // itself would wait for the bytes, or for the request timeout, on a huge declaration).
        if let Some(n) = declared_length(req.headers()).filter(|n| *n > MAX_BODY_BYTES as u64) {
            if n <= DRAIN_BYTES {
                drain(req.into_body(), DRAIN_BYTES).await;
            }
            return Err(ApiError::BodyTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|rejection| match rejection {
                BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                    ApiError::BodyTooLarge {
                        limit: MAX_BODY_BYTES,
                    }
                }
                other => ApiError::InvalidJson(format!("the body could not be read: {other}")),
            })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::InvalidJson(e.to_string()))
    }
}

/// Read and drop up to `limit` bytes of `body`, keeping none of them.
async fn drain(body: axum::body::Body, limit: u64) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut seen = 0u64;
    while seen <= limit {
        match body.frame().await {
            Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => break,
        }
    }
}

/// The `Content-Length` header as a number, if present and valid (hyper has already refused
/// malformed ones).
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `application/json`, with or without parameters such as `charset=utf-8`.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn json_content_types() {
        for (value, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("text/plain", false),
            ("application/jsonx", false),
            ("multipart/form-data; boundary=x", false),
        ] {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json(&h), ok, "{value}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
