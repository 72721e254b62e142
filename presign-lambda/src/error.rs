//! Every way a request can fail, each mapped to exactly one HTTP status and error code here.
//!
//! The body is always `{"error": {"code", "message"}}` ([`fitbox_api::ErrorBody`]).
//! Client mistakes are 4xx; only S3 trouble (502/503) and bugs (500) are 5xx.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fitbox_api::ErrorBody;

/// A failed request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400 `invalid_json`: the body is not JSON at all.
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// 422 `invalid_body`: JSON of the wrong shape (unknown or missing field, wrong type).
    #[error("request body has the wrong shape: {0}")]
    InvalidBody(String),
    /// 413 `body_too_large`.
    #[error("request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 415 `unsupported_content_type`: the request's own Content-Type is not JSON.
    #[error("request Content-Type must be application/json")]
    NotJson,
    /// 415 `unsupported_media_type`: the file's declared type is not accepted.
    #[error(
        "content_type {0:?} is not accepted; use one of {list}",
        list = fitbox_api::format::accepted_types_list()
    )]
    UnsupportedMediaType(String),
    /// 400 `invalid_size`: a file of 0 bytes.
    #[error("size must be at least 1 byte")]
    EmptyFile,
    /// 413 `file_too_large`.
    #[error("size {size} bytes is over the limit of {max} bytes")]
    FileTooLarge {
        /// The declared size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// 400 `empty_batch`.
    #[error("the array of uploads is empty")]
    EmptyBatch,
    /// 413 `too_many_files`.
    #[error("{count} uploads in one request; at most {max} are allowed")]
    TooManyFiles {
        /// Files in the request.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// One element of an array body failed; status and code are the element's.
    #[error("item {index}: {source}")]
    Item {
        /// The element's index in the array.
        index: usize,
        /// What is wrong with it.
        #[source]
        source: Box<ApiError>,
    },
    /// 400 `invalid_id`.
    #[error("{0:?} is not an upload id (27 lowercase hex characters)")]
    InvalidId(String),
    /// 400 `invalid_limit`.
    #[error("limit must be a whole number from 1 to {max}, got {value:?}")]
    InvalidLimit {
        /// The value given.
        value: String,
        /// The largest allowed.
        max: u32,
    },
    /// 400 `invalid_cursor`.
    #[error("cursor is not one this API returned")]
    InvalidCursor,
    /// 400 `invalid_query`.
    #[error("query string is malformed: {0}")]
    InvalidQuery(String),
    /// 400 `invalid_path`.
    #[error("path is malformed: {0}")]
    InvalidPath(String),
    /// 404 `upload_not_found`.
    #[error("no upload with id {0}, or its ticket expired unused")]
    UploadNotFound(String),
    /// 404 `not_found`.
    #[error("no such route: {method} {path}")]
    RouteNotFound {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
    },
    /// 405 `method_not_allowed`.
    #[error("method {0} is not allowed on this route")]
    MethodNotAllowed(String),
    /// 503 `storage_unavailable`: S3 could not be reached, timed out, or is throttling / failing.
    #[error("storage is unavailable ({0}); try again shortly")]
    StorageUnavailable(String),
    /// 502 `storage_error`: S3 refused the call (e.g. missing bucket, denied access).
    #[error("storage refused the request ({0})")]
    Storage(String),
    /// 401 `unauthenticated`: no caller where one is needed, or a bad key or token (the
    /// answer carries `WWW-Authenticate: Bearer`, with `error="invalid_token"` when a token was
    /// given).
    #[error("{reason}")]
    Unauthenticated {
        /// Why, for the caller.
        reason: String,
        /// Whether a token was given (then `error="invalid_token"`).
        token_given: bool,
    },
    /// 403 `forbidden`: the caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `image_not_found`: nothing stored under this id.
    #[error("no image or upload with id {0}")]
    ImageNotFound(String),
    /// 503 `auth_unavailable`: the OpenID issuer's keys cannot be fetched and none are cached.
    /// The detail is logged, not sent.
    #[error(
        "sign-in cannot be checked right now (the sign-in service's keys are unavailable); \
         try again shortly"
    )]
    AuthUnavailable(String),
    /// 429 `rate_limited`: this client or caller asked for more tickets than its allowance;
    /// `Retry-After` says when to try again.
    #[error("too many upload requests; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a ticket is allowed again.
        retry_after_secs: u64,
    },
    /// 408 `request_timeout`: the request was not received and answered within the limit (s).
    #[error("the request was not received and answered within {0} s")]
    RequestTimeout(u64),
    /// 500 `internal`.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// Every `error.code` this API can answer with (also listed in `openapi.yaml`).
    pub const CODES: [&'static str; 26] = [
        "invalid_json",
        "invalid_body",
        "body_too_large",
        "unsupported_content_type",
        "unsupported_media_type",
        "invalid_size",
        "file_too_large",
        "empty_batch",
        "too_many_files",
        "invalid_id",
        "invalid_limit",
        "invalid_cursor",
        "invalid_query",
        "invalid_path",
        "upload_not_found",
        "not_found",
        "method_not_allowed",
        "storage_unavailable",
        "storage_error",
        "unauthenticated",
        "forbidden",
        "image_not_found",
        "auth_unavailable",
        "request_timeout",
        "rate_limited",
        "internal",
    ];

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            InvalidJson(_)
            | EmptyFile
            | EmptyBatch
            | InvalidId(_)
            | InvalidLimit { .. }
            | InvalidCursor
            | InvalidQuery(_)
            | InvalidPath(_) => StatusCode::BAD_REQUEST,
            InvalidBody(_) => StatusCode::UNPROCESSABLE_ENTITY,
            BodyTooLarge { .. } | FileTooLarge { .. } | TooManyFiles { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            NotJson | UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Item { source, .. } => source.status(),
            Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Forbidden(_) => StatusCode::FORBIDDEN,
            UploadNotFound(_) | RouteNotFound { .. } | ImageNotFound(_) => StatusCode::NOT_FOUND,
            MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            StorageUnavailable(_) | AuthUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Storage(_) => StatusCode::BAD_GATEWAY,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable `error.code`.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            InvalidBody(_) => "invalid_body",
            BodyTooLarge { .. } => "body_too_large",
            NotJson => "unsupported_content_type",
            UnsupportedMediaType(_) => "unsupported_media_type",
            EmptyFile => "invalid_size",
            FileTooLarge { .. } => "file_too_large",
            EmptyBatch => "empty_batch",
            TooManyFiles { .. } => "too_many_files",
            Item { source, .. } => source.code(),
            InvalidId(_) => "invalid_id",
            InvalidLimit { .. } => "invalid_limit",
            InvalidCursor => "invalid_cursor",
            InvalidQuery(_) => "invalid_query",
            InvalidPath(_) => "invalid_path",
            UploadNotFound(_) => "upload_not_found",
            RouteNotFound { .. } => "not_found",
            MethodNotAllowed(_) => "method_not_allowed",
            StorageUnavailable(_) => "storage_unavailable",
            Storage(_) => "storage_error",
            Unauthenticated { .. } => "unauthenticated",
            Forbidden(_) => "forbidden",
            ImageNotFound(_) => "image_not_found",
            AuthUnavailable(_) => "auth_unavailable",
            RequestTimeout(_) => "request_timeout",
            RateLimited { .. } => "rate_limited",
            Internal(_) => "internal",
        }
    }

    /// Map a failed S3 call (`op` names it, e.g. `ListObjectsV2`).
    pub fn from_s3<E>(op: &str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match err {
            SdkError::TimeoutError(_) => ApiError::StorageUnavailable(format!("S3 {op} timed out")),
            SdkError::DispatchFailure(_) => {
                ApiError::StorageUnavailable(format!("S3 {op} could not connect"))
            }
            SdkError::ConstructionFailure(_) => {
                ApiError::Internal(format!("S3 {op} request could not be built"))
            }
            _ => {
                let status = err.raw_response().map(|r| r.status().as_u16());
                let code = err.code().unwrap_or("unknown error");
                let what = match status {
                    Some(s) => format!("S3 {op} answered {s} {code}"),
                    None => format!("S3 {op} failed: {code}"),
                };
                if status.is_some_and(|s| s >= 500) || code == "SlowDown" {
                    ApiError::StorageUnavailable(what)
                } else {
                    ApiError::Storage(what)
                }
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = self.code(), error = %self, "request failed");
        } else {
            tracing::debug!(code = self.code(), error = %self, "request refused");
        }
        let mut resp = json_error(status, self.code(), &self.to_string());
        if let ApiError::RateLimited { retry_after_secs } = &self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if let ApiError::Unauthenticated { token_given, .. } = &self {
            // RFC 6750 section 3: the scheme, and what was wrong with a token that was sent.
            let value = if *token_given {
                format!(
                    "Bearer realm=\"fitbox\", error=\"invalid_token\", error_description=\"{}\"",
                    self.to_string().replace(['"', '\\'], "'")
                )
            } else {
                "Bearer realm=\"fitbox\"".to_string()
            };
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}

/// A JSON error response (also used for panics, where there is no [`ApiError`]).
pub(crate) fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::to_vec(&ErrorBody::new(code, message))
        .unwrap_or_else(|_| br#"{"error":{"code":"internal","message":"error"}}"#.to_vec());
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_errors_keep_the_inner_status_and_code() {
        let e = ApiError::Item {
            index: 3,
            source: Box::new(ApiError::FileTooLarge { size: 9, max: 5 }),
        };
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(e.code(), "file_too_large");
        assert_eq!(
            e.to_string(),
            "item 3: size 9 bytes is over the limit of 5 bytes"
        );
    }

    /// One value of every variant; the match makes a new variant a compile error here.
    fn one_of_each() -> Vec<ApiError> {
        let all = vec![
            ApiError::InvalidJson(String::new()),
            ApiError::InvalidBody(String::new()),
            ApiError::BodyTooLarge { limit: 1 },
            ApiError::NotJson,
            ApiError::UnsupportedMediaType(String::new()),
            ApiError::EmptyFile,
            ApiError::FileTooLarge { size: 2, max: 1 },
            ApiError::EmptyBatch,
            ApiError::TooManyFiles { count: 2, max: 1 },
            ApiError::InvalidId(String::new()),
            ApiError::InvalidLimit {
                value: String::new(),
                max: 1,
            },
            ApiError::InvalidCursor,
            ApiError::InvalidQuery(String::new()),
            ApiError::InvalidPath(String::new()),
            ApiError::UploadNotFound(String::new()),
            ApiError::RouteNotFound {
                method: String::new(),
                path: String::new(),
            },
            ApiError::MethodNotAllowed(String::new()),
            ApiError::StorageUnavailable(String::new()),
            ApiError::Storage(String::new()),
            ApiError::Unauthenticated {
                reason: String::new(),
                token_given: false,
            },
            ApiError::Forbidden(String::new()),
            ApiError::ImageNotFound(String::new()),
            ApiError::AuthUnavailable(String::new()),
            ApiError::RequestTimeout(1),
            ApiError::RateLimited {
                retry_after_secs: 1,
            },
            ApiError::Internal(String::new()),
            ApiError::Item {
                index: 0,
                source: Box::new(ApiError::EmptyFile),
            },
        ];
        for e in &all {
            match e {
                ApiError::InvalidJson(_)
                | ApiError::InvalidBody(_)
                | ApiError::BodyTooLarge { .. }
                | ApiError::NotJson
                | ApiError::UnsupportedMediaType(_)
                | ApiError::EmptyFile
                | ApiError::FileTooLarge { .. }
                | ApiError::EmptyBatch
                | ApiError::TooManyFiles { .. }
                | ApiError::Item { .. }
                | ApiError::InvalidId(_)
                | ApiError::InvalidLimit { .. }
                | ApiError::InvalidCursor
                | ApiError::InvalidQuery(_)
                | ApiError::InvalidPath(_)
                | ApiError::UploadNotFound(_)
                | ApiError::RouteNotFound { .. }
                | ApiError::MethodNotAllowed(_)
                | ApiError::StorageUnavailable(_)
                | ApiError::Storage(_)
                | ApiError::Unauthenticated { .. }
                | ApiError::Forbidden(_)
                | ApiError::ImageNotFound(_)
                | ApiError::AuthUnavailable(_)
                | ApiError::RequestTimeout(_)
                | ApiError::RateLimited { .. }
                | ApiError::Internal(_) => {}
            }
        }
        all
    }

    #[test]
    fn codes_are_listed_and_only_s3_and_bugs_are_5xx() {
        let all = one_of_each();
        let mut codes: Vec<&str> = all.iter().map(ApiError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        let mut listed = ApiError::CODES.to_vec();
        listed.sort_unstable();
        assert_eq!(codes, listed);
        for e in &all {
            let server_side = matches!(
                e,
                ApiError::StorageUnavailable(_)
                    | ApiError::Storage(_)
                    | ApiError::AuthUnavailable(_)
                    | ApiError::Internal(_)
            );
            assert_eq!(e.status().is_server_error(), server_side, "{e:?}");
            assert!(e.status().is_client_error() || server_side, "{e:?}");
        }
    }
}
