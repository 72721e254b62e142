//! fitbox's presign API: an axum [`Router`] that hands out short-lived signed upload URLs,
//! reports where an upload is, and serves the gallery one `ListObjectsV2` call per page.
//!
//! The same router runs in AWS Lambda (`src/main.rs`, through `lambda_http`) and locally inside
//! `fitbox serve`. Request and response types are [`fitbox_api`]'s; keys are
//! [`fitbox_api::keys`]'s. `openapi.yaml` beside this crate describes every route, and the
//! tests keep it true.
//!
//! # Routes
//!
//! | route | success | errors |
//! |---|---|---|
//! | `GET /api/config` | 200 [`ConfigResponse`] | |
//! | `POST /api/uploads` | 201 [`UploadTicket`] (array body: array of them) | 400, 413, 415, 422 |
//! | `GET /api/uploads/{id}` | 200 [`UploadStatus`] | 400, 404, 502, 503 |
//! | `GET /api/images?limit=&cursor=` | 200 [`ImagePage`] | 400, 401, 502, 503 |
//! | `DELETE /api/images/{id}` | 204 | 400, 401, 403, 404, 502, 503 |
//!
//! [`ConfigResponse`]: fitbox_api::ConfigResponse
//! [`UploadTicket`]: fitbox_api::UploadTicket
//! [`UploadStatus`]: fitbox_api::UploadStatus
//! [`ImagePage`]: fitbox_api::ImagePage
//!
//! Who may call what depends on the [`AccessMode`](auth::AccessMode) (see [`auth`]): in
//! `signed-in-upload` tickets, upload status and deletes need a caller; in `private` the gallery
//! too. A caller is an OpenID Connect token or an upload key in `Authorization: Bearer`.
//!
//! Every error body is `{"error": {"code", "message"}}`; see [`ApiError`] for the codes.
//! Unknown routes answer 404 and known routes with another method 405, both in JSON.
//!
//! # Configuration
//!
//! Environment variables, read once by [`Config::from_env`]:
#![doc = include_str!("config_table.md")]
//!
//! # Upload status of ids with nothing uploaded yet
//!
//! A ticketed id whose PUT has not arrived is `pending` while the ticket could still be used:
//! until the URL lifetime plus [`handlers::PENDING_GRACE`] (60 s) after the time encoded in the
//! id. After that an id with no object anywhere is `404 upload_not_found`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::RequestChecksumCalculation;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{self, MethodRouter};
use axum::Router;
use fitbox_service::s3::Timeouts;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub mod auth;
pub mod cdn;
pub mod config;
pub mod cursor;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod limit;

pub use auth::{AccessMode, Auth, Caller, Role};
pub use cdn::{CdnInvalidator, CloudFrontInvalidator};
pub use config::{Config, ConfigError};
pub use error::ApiError;

/// The wall clock, injectable for tests.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

impl<F: Fn() -> SystemTime + Send + Sync + 'static> Clock for F {
    fn now(&self) -> SystemTime {
        self()
    }
}

/// Random bits for new ids, injectable for tests.
pub trait Entropy: Send + Sync + 'static {
    /// 64 random bits, or why there are none.
    fn next_u64(&self) -> Result<u64, String>;
}

/// The operating system's random source.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn next_u64(&self) -> Result<u64, String> {
        getrandom::u64().map_err(|e| e.to_string())
    }
}

impl<F: Fn() -> u64 + Send + Sync + 'static> Entropy for F {
    fn next_u64(&self) -> Result<u64, String> {
        Ok(self())
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// S3 client (request checksums "when required", see [`AppState::new`]).
    pub s3: aws_sdk_s3::Client,
    /// The API's configuration.
    pub cfg: Arc<Config>,
    /// The clock (the system's, or a test's).
    pub clock: Arc<dyn Clock>,
    /// Randomness for ids (the OS's, or a test's).
    pub entropy: Arc<dyn Entropy>,
    /// Who is calling (mode, keys, OIDC verifier with its key cache).
    pub auth: Arc<Auth>,
    /// Removes a deleted image from the CDN's cache, when there is a CDN.
    pub cdn: Option<Arc<dyn CdnInvalidator>>,
    /// Tickets per client and caller (`None`: no limit).
    pub limits: Option<Arc<limit::Limits>>,
}

impl AppState {
    /// State with the system clock and OS randomness, and the callers `cfg` allows. The client
    /// is rebuilt with `RequestChecksumCalculation::WhenRequired`, so presigned PUTs never
    /// depend on checksum headers a browser or `curl -T` would not send. Fails only when no
    /// HTTP client for the OpenID issuer can be made.
    pub fn new(s3: aws_sdk_s3::Client, cfg: Arc<Config>) -> Result<Self, String> {
        let conf = s3
            .config()
            .to_builder()
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .build();
        let oidc = match &cfg.oidc {
            Some(o) => Some(auth::OidcVerifier::new(o.clone())?),
            None => None,
        };
        let auth = Auth {
            mode: cfg.access_mode,
            keys: cfg.upload_keys.clone(),
            oidc,
        };
        let limits =
            limit::Limits::new(cfg.rate_limit_per_minute, cfg.client_address).map(Arc::new);
        Ok(AppState {
            limits,
            s3: aws_sdk_s3::Client::from_conf(conf),
            cfg,
            clock: Arc::new(SystemClock),
            entropy: Arc::new(OsEntropy),

            auth: Arc::new(auth),
            cdn: None,
        })
    }

    /// Invalidate deleted images' paths with `cdn`.
    pub fn with_cdn(mut self, cdn: impl CdnInvalidator) -> Self {
        self.cdn = Some(Arc::new(cdn));
        self
    }

    /// Replace the clock (tests).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Replace the random source (tests).
    pub fn with_entropy(mut self, entropy: impl Entropy) -> Self {
        self.entropy = Arc::new(entropy);
        self
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// One S3 attempt ([`Timeouts::API`]).
pub const S3_ATTEMPT_TIMEOUT: Duration = Timeouts::API.attempt;
/// One S3 call, retries included ([`Timeouts::API`]).
pub const S3_OPERATION_TIMEOUT: Duration = Timeouts::API.operation;

/// An S3 client for the deployed function ([`fitbox_service::s3`]): credentials and region from
/// the environment, [`Timeouts::API`], path-style addressing at `cfg.s3_endpoint` when set.
pub async fn s3_client(cfg: &Config) -> aws_sdk_s3::Client {
    let sdk = fitbox_service::s3::aws_config().await;
    let conf = fitbox_service::s3::s3_config(&sdk, Timeouts::API, cfg.s3_endpoint.as_deref())
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired);
    aws_sdk_s3::Client::from_conf(conf.build())
}

/// The API's routes, each with its method and (OpenAPI-style) path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// `GET /api/config`
    Config,
    /// `POST /api/uploads`
    CreateUploads,
    /// `GET /api/uploads/{id}`
    UploadStatus,
    /// `GET /api/images`
    ListImages,
    /// `DELETE /api/images/{id}`
    DeleteImage,
}

impl Endpoint {
    /// Every route the router serves.
    pub const ALL: [Endpoint; 5] = [
        Endpoint::Config,
        Endpoint::CreateUploads,
        Endpoint::UploadStatus,
        Endpoint::ListImages,
        Endpoint::DeleteImage,
    ];

    /// The route's HTTP method.
    pub fn method(self) -> Method {
        match self {
            Endpoint::CreateUploads => Method::POST,
            Endpoint::Config | Endpoint::UploadStatus | Endpoint::ListImages => Method::GET,
            Endpoint::DeleteImage => Method::DELETE,
        }
    }

    /// The path template (the same syntax in axum and OpenAPI).
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Config => "/api/config",
            Endpoint::CreateUploads => "/api/uploads",
            Endpoint::UploadStatus => "/api/uploads/{id}",
            Endpoint::ListImages => "/api/images",
            Endpoint::DeleteImage => "/api/images/{id}",
        }
    }

    fn handler(self) -> MethodRouter<AppState> {
        match self {
            Endpoint::Config => routing::get(handlers::config),
            Endpoint::CreateUploads => routing::post(handlers::create_uploads),
            Endpoint::UploadStatus => routing::get(handlers::upload_status),
            Endpoint::ListImages => routing::get(handlers::list_images),
            Endpoint::DeleteImage => routing::delete(handlers::delete_image),
        }
    }
}

/// The whole API: every [`Endpoint`], JSON 404/405 fallbacks, a 64 KiB body limit, CORS for
/// `cfg.cors_origins`, and panics turned into JSON 500s.
pub fn router(state: AppState) -> Router {
    let mut paths: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for ep in Endpoint::ALL {
        match paths.iter_mut().find(|(p, _)| *p == ep.path()) {
            Some((_, mr)) => *mr = std::mem::take(mr).merge(ep.handler()),
            None => paths.push((ep.path(), ep.handler())),
        }
    }
    let mut app = Router::new();
    for (path, mr) in paths {
        app = app.route(path, mr);
    }
    let cors = cors_layer(&state.cfg.cors_origins);
    let app = app
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(request_timeout))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            origin_secret,
        ))
        .with_state(state);
    match cors {
        Some(cors) => app.layer(cors),
        None => app,
    }
}

/// CORS for exactly `origins` (none: no layer, so no `Access-Control-*` headers at all).
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::DELETE])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
            .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}

/// Longest time one request may take, reading its body included: a client that sends its
/// body byte by byte (slow loris) gets `408 request_timeout` instead of holding a task and a
/// connection for ever. (Slow *headers* are the HTTP server's business: API Gateway in AWS.)
/// Shorter than the presign function's timeout, so the answer is always this API's JSON.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);

async fn request_timeout(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::RequestTimeout(REQUEST_TIMEOUT.as_secs()).into_response(),
    }
}

/// Header CloudFront adds with the origin secret.
pub const ORIGIN_SECRET_HEADER: &str = "x-fitbox-origin-secret";

/// With `cfg.origin_secret`, refuse (403) requests that did not come through the CDN.
async fn origin_secret(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(secret) = &st.cfg.origin_secret {
        use sha2::Digest as _;
        // Compare digests, so the time taken says nothing about how much of the secret matched.
        let given = req
            .headers()
            .get(ORIGIN_SECRET_HEADER)
            .map(|v| sha2::Sha256::digest(v.as_bytes()));
        if given != Some(sha2::Sha256::digest(secret.as_bytes())) {
            return ApiError::Forbidden(
                "this address is not served directly; use the site's own address".into(),
            )
            .into_response();
        }
    }
    next.run(req).await
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    error::json_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    use axum::body::Body;
    use axum::http::Request;
    use fitbox_api::keys;
    use fitbox_api::{time::rfc3339_ms, UploadTicket};
    use tower::ServiceExt as _;

    use super::*;

    /// A client for an endpoint nothing listens on: presigning needs no network.
    fn offline_client() -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("ak", "sk", None, None, "test"))
            .endpoint_url("http://127.0.0.1:9")
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    #[tokio::test]
    async fn the_clock_and_the_randomness_are_injectable() {
        const NOW_MS: u64 = 1_795_910_400_000;
        let state = AppState::new(offline_client(), Arc::new(Config::new("up", "res")))
            .expect("state")
            .with_clock(|| UNIX_EPOCH + Duration::from_millis(NOW_MS))
            .with_entropy(|| 0xabc);
        let req = Request::post("/api/uploads")
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"filename":"a.jpg","content_type":"image/jpeg","size":10}"#,
            ))
            .expect("request");
        let res = router(state).oneshot(req).await.expect("infallible");
        assert_eq!(res.status(), StatusCode::CREATED);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        let ticket: UploadTicket = serde_json::from_slice(&body).expect("ticket");
        assert_eq!(ticket.id, keys::new_id(NOW_MS, 0xabc));
        assert_eq!(ticket.expires_at, rfc3339_ms(NOW_MS + 60_000));
        assert!(
            ticket.url.contains("X-Amz-Date=20261129T000000Z"),
            "{}",
            ticket.url
        );
        assert!(ticket.url.contains("X-Amz-Expires=60"), "{}", ticket.url);
        assert!(
            ticket
                .url
                .starts_with(&format!("http://127.0.0.1:9/up/uploads/{}?", ticket.id)),
            "{}",
            ticket.url
        );
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_json_500() {
        let app = Router::new()
            .route(
                "/boom",
                routing::get(|| async {
                    panic!("boom");
                    #[allow(unreachable_code)]
                    ""
                }),
            )
            .layer(CatchPanicLayer::custom(panic_response));
        let res = app
            .oneshot(Request::get("/boom").body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["error"]["code"], "internal");
    }
}
