//! Typed client of the presign API (`fetch`), on `fitbox_api`'s types.

use fitbox_api::{ConfigResponse, ErrorBody, ImagePage, UploadRequest, UploadStatus, UploadTicket};
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

use crate::retry::{parse_retry_after, Failure};
use crate::urls::ApiBase;
use crate::util::js_message;

/// Why a call to the API failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No answer at all (offline, connection refused, CORS).
    Network(String),
    /// The API answered with an error status and (usually) an error body.
    Http {
        /// The HTTP status code.
        status: u16,
        /// The error body's code (e.g. `too_many_bytes`); `http` when the body was not one.
        code: String,
        /// The error body's message, to show; a generic text when the body was not one.
        message: String,
        /// The answer's `Retry-After`, in ms from when it came ([`crate::retry`]).
        retry_after_ms: Option<u32>,
    },
    /// The answer was not the JSON we expect.
    Decode(String),
}

impl ApiError {
    /// Whether there was no answer at all (offline, refused, CORS): asking again may succeed.
    pub fn is_network(&self) -> bool {
        matches!(self, ApiError::Network(_))
    }

    /// A client error: asking again with the same request cannot succeed (`408` and `429`
    /// are not refusals: they ask to come back later).
    pub fn is_refusal(&self) -> bool {
        matches!(self, ApiError::Http { status, .. }
            if (400..500).contains(status) && !crate::retry::is_temporary_status(*status))
    }

    /// The failure as the retry policy sees it; `None` for an answer that is no HTTP error
    /// (not the JSON expected), which asking again would not change.
    pub fn failure(&self) -> Option<Failure> {
        match self {
            ApiError::Network(_) => Some(Failure::Network),
            ApiError::Http {
                status,
                retry_after_ms,
                ..
            } => Some(Failure::Status {
                status: *status,
                retry_after_ms: *retry_after_ms,
            }),
            ApiError::Decode(_) => None,
        }
    }

    /// The API wants a caller (or a fresh sign-in).
    pub fn needs_sign_in(&self) -> bool {
        self.status() == Some(401)
    }

    /// The HTTP status of an error answer; `None` for network and decode errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Build the error for a non-2xx answer from its status and body.
    pub fn from_answer(status: u16, body: &str) -> ApiError {
        let (code, message) = match serde_json::from_str::<ErrorBody>(body) {
            Ok(b) => (b.error.code, b.error.message),
            Err(_) => ("http".into(), format!("the server answered {status}")),
        };
        ApiError::Http {
            status,
            code,
            message,
            retry_after_ms: None,
        }
    }

    /// The error with the answer's `Retry-After` header value, read as [`crate::retry`] says.
    pub fn with_retry_after(mut self, header: Option<&str>) -> ApiError {
        if let ApiError::Http { retry_after_ms, .. } = &mut self {
            *retry_after_ms = header.and_then(|v| parse_retry_after(v, js_sys::Date::now()));
        }
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Network(m) => write!(f, "cannot reach the server ({m})"),
            ApiError::Http { message, .. } => f.write_str(message),
            ApiError::Decode(m) => write!(f, "unexpected answer from the server: {m}"),
        }
    }
}

/// The API client: cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    /// Where the API is: the page's own origin or another one.
    pub base: ApiBase,
}

impl Client {
    /// A client of the API at `base`.
    pub fn new(base: ApiBase) -> Self {
        Client { base }
    }

    /// `GET /api/config`: the server's limits, thumbnail box and sign-in settings.
    pub async fn config(&self) -> Result<ConfigResponse, ApiError> {
        get_json(&self.base.config()).await
    }

    /// `POST /api/uploads`: a signed ticket to upload one file.
    pub async fn create_upload(&self, req: &UploadRequest) -> Result<UploadTicket, ApiError> {
        let body = serde_json::to_string(req).map_err(|e| ApiError::Decode(e.to_string()))?;
        send_json("POST", &self.base.uploads(), Some(&body)).await
    }

    /// `POST /api/uploads` with an array: a ticket for each file, in order (at most 100).
    pub async fn create_uploads(
        &self,
        reqs: &[UploadRequest],
    ) -> Result<Vec<UploadTicket>, ApiError> {
        let body = serde_json::to_string(reqs).map_err(|e| ApiError::Decode(e.to_string()))?;
        send_json("POST", &self.base.uploads(), Some(&body)).await
    }

    /// `GET /api/uploads/{id}`: whether the upload's thumbnail is pending, ready or refused.
    pub async fn upload_status(&self, id: &str) -> Result<UploadStatus, ApiError> {
        get_json(&self.base.upload_status(id)).await
    }

    /// `GET /api/images`: one gallery page, newest first, of at most `limit` images after
    /// `cursor`.
    pub async fn images(&self, limit: u32, cursor: Option<&str>) -> Result<ImagePage, ApiError> {
        get_json(&self.base.images(limit, cursor)).await
    }

    /// `DELETE /api/images/{id}` (204, no body).
    pub async fn delete_image(&self, id: &str) -> Result<(), ApiError> {
        let answer = fetch_text("DELETE", &self.base.image(id), None)
            .await
            .map_err(|e| ApiError::Network(js_message(&e)))?;
        if (200..300).contains(&answer.status) {
            Ok(())
        } else {
            Err(answer.error())
        }
    }
}

async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, ApiError> {
    send_json("GET", url, None).await
}

async fn send_json<T: DeserializeOwned>(
    method: &str,
    url: &str,
    body: Option<&str>,
) -> Result<T, ApiError> {
    let answer = fetch_text(method, url, body)
        .await
        .map_err(|e| ApiError::Network(js_message(&e)))?;
    if !(200..300).contains(&answer.status) {
        return Err(answer.error());
    }
    serde_json::from_str(&answer.text).map_err(|e| ApiError::Decode(e.to_string()))
}

/// An HTTP answer, read.
struct Answer {
    status: u16,
    text: String,
    retry_after: Option<String>,
}

impl Answer {
    /// The error for a non-2xx answer.
    fn error(&self) -> ApiError {
        ApiError::from_answer(self.status, &self.text).with_retry_after(self.retry_after.as_deref())
    }
}

async fn fetch_text(
    method: &str,
    url: &str,
    body: Option<&str>,
) -> Result<Answer, wasm_bindgen::JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    init.set_method(method);
    let headers = Headers::new()?;
    headers.append("accept", "application/json")?;
    // The signed-in person's token goes to the API only (never to the signed storage URLs).
    if let Some(token) = crate::auth::bearer().await {
        headers.append("authorization", &format!("Bearer {token}"))?;
    }
    if let Some(b) = body {
        headers.append("content-type", "application/json")?;
        init.set_body(&wasm_bindgen::JsValue::from_str(b));
    }
    init.set_headers(&headers);
    let resp: Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await?
        .dyn_into()?;
    let text = JsFuture::from(resp.text()?).await?;
    Ok(Answer {
        status: resp.status(),
        text: text.as_string().unwrap_or_default(),
        retry_after: resp.headers().get("retry-after").ok().flatten(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn error_bodies_become_messages() {
        let e = ApiError::from_answer(
            413,
            concat!(
                r#"{"error":{"code":"too_many_bytes","#,
                r#""message":"the file is 30.0 MiB; the limit is 25.0 MiB"}}"#,
            ),
        );
        assert!(e.is_refusal());
        assert_eq!(e.status(), Some(413));
        assert_eq!(e.to_string(), "the file is 30.0 MiB; the limit is 25.0 MiB");
        let e = ApiError::from_answer(502, "<html>Bad gateway</html>");
        assert!(!e.is_refusal());
        assert_eq!(e.to_string(), "the server answered 502");
        assert!(ApiError::Network("x".into()).is_network());
    }

    #[wasm_bindgen_test]
    fn busy_answers_are_no_refusals_and_carry_retry_after() {
        let body = r#"{"error":{"code":"rate_limited","message":"too many uploads"}}"#;
        let e = ApiError::from_answer(429, body).with_retry_after(Some("3"));
        assert!(!e.is_refusal());
        assert_eq!(
            e.failure(),
            Some(Failure::Status {
                status: 429,
                retry_after_ms: Some(3_000)
            })
        );
        assert!(!ApiError::from_answer(408, "").is_refusal());
        let e = ApiError::from_answer(503, "").with_retry_after(Some("never"));
        assert_eq!(
            e.failure(),
            Some(Failure::Status {
                status: 503,
                retry_after_ms: None
            })
        );
        assert_eq!(
            ApiError::Network("x".into()).failure(),
            Some(Failure::Network)
        );
        assert_eq!(ApiError::Decode("x".into()).failure(), None);
    }
}
