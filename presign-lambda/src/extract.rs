//! Request extractors whose rejections are [`ApiError`]s, so axum's plain-text rejections never
//! reach a client.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};

use crate::error::ApiError;

/// Largest request body accepted (64 KiB: 100 upload requests with long file names fit).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body, checked for `Content-Type: application/json`, size and syntax.
pub struct JsonBody(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::NotJson);
        }
        // A declared length over the limit is refused at once, before any of the body is read
        // (the body limit alone would wait for the bytes, or for the request timeout).
        if declared_length(req.headers()).is_some_and(|n| n > MAX_BODY_BYTES as u64) {
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
