//! fitbox-local-s3: a real S3 protocol server in-process, for `fitbox serve` and the tests.
//!
//! [`s3s`] parses the S3 REST protocol and checks SigV4 (headers and presigned URLs) like AWS
//! does; [`s3s_fs`] stores objects as files under [`Options::root`]. On top of that:
//!
//! * **Object-created events**: every successful PutObject, CopyObject and
//!   CompleteMultipartUpload sends an [`ObjectCreated`] on the channel returned by
//!   [`LocalS3::start`] (any key; consumers filter by prefix). Failed writes send nothing.
//!   [`LocalS3::start_with_queue`] sends them instead into a bounded queue the caller owns,
//!   for one bucket and key prefix only, with back-pressure: while the queue is full, a write
//!   there waits for space before it is stored (and answered). No event is dropped.
//! * **Presigned uploads stay honest**: a query-signed request carrying an `x-amz-*` header
//!   that the signature does not cover (e.g. an `x-amz-meta-*` the uploader added) is refused
//!   with 403 AccessDenied, as AWS does. s3s alone would store it.
//! * **CORS** for browsers PUTting to presigned URLs ([`Options::cors_origins`]): GET, PUT,
//!   HEAD from the exact origins given, request headers mirrored, `ETag` exposed.
//! * **Fault injection** ([`Faults`]): fail chosen operations with error answers, delays,
//!   dropped connections or silent hangs; count calls.
//!
//! The server binds `127.0.0.1` only. Anonymous requests are refused.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let dir = std::env::temp_dir().join("fitbox-demo");
//! let mut opts = fitbox_local_s3::Options::new(&dir);
//! opts.buckets = vec!["uploads".into()];
//! let (s3, mut created) = fitbox_local_s3::LocalS3::start(opts).await?;
//! s3.client()
//!     .put_object()
//!     .bucket("uploads")
//!     .key("uploads/a")
//!     .body(b"hi".to_vec().into())
//!     .send()
//!     .await?;
//! let ev = created.recv().await;
//! s3.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Pitfalls of s3s-fs worth knowing (see `shared/notes/s3-local.md`): keys map to file paths,
//! so `a` and `a/b` cannot both exist, `.`/`..`/empty segments alias other keys, and segments
//! over 255 bytes fail. CopySource must be percent-encoded by the caller (the SDK does not).

mod access;
mod faults;
mod store;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

pub use faults::{FaultKind, Faults, Op};

/// Default access key of the local server.
pub const DEFAULT_ACCESS_KEY: &str = "fitbox-local";
/// Default secret key of the local server.
pub const DEFAULT_SECRET_KEY: &str = "fitbox-local-secret";
/// Region the clients sign for.
pub const REGION: &str = "us-east-1";
/// `Access-Control-Max-Age` of CORS preflight answers, in seconds.
pub const CORS_MAX_AGE_SECS: u64 = 3600;
/// How long [`LocalS3::shutdown`] waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How to start a [`LocalS3`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Directory holding the buckets (created if missing).
    pub root: PathBuf,
    /// Address to listen on: 127.0.0.1 unless `fitbox serve --host` asks for another.
    pub host: std::net::IpAddr,
    /// Port on `host`; 0 picks a free one.
    pub port: u16,
    /// Access key id clients sign with.
    pub access_key: String,
    /// Secret key clients sign with.
    pub secret_key: String,
    /// Exact origins allowed by CORS (e.g. `http://127.0.0.1:8080`); empty = no CORS layer.
    pub cors_origins: Vec<String>,
    /// Buckets created on start if missing.
    pub buckets: Vec<String>,
    /// Fault-injection knobs, shared with the caller.
    pub faults: Option<Arc<Faults>>,
}

impl Options {
    /// Port 0, the default keys, no CORS, no buckets, no faults.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Options {
            root: root.into(),
            host: Ipv4Addr::LOCALHOST.into(),
            port: 0,
            access_key: DEFAULT_ACCESS_KEY.to_owned(),
            secret_key: DEFAULT_SECRET_KEY.to_owned(),
            cors_origins: Vec::new(),
            buckets: Vec::new(),
            faults: None,
        }
    }
}

/// An object that now exists: sent after a successful PutObject (SDK or presigned),
/// CopyObject or CompleteMultipartUpload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    /// The bucket the object was stored in.
    pub bucket: String,
    /// Its key.
    pub key: String,
    /// Size of the stored object in bytes.
    pub size: u64,
}

/// A bounded queue for object-created events with back-pressure
/// ([`LocalS3::start_with_queue`]).
///
/// Only writes to `bucket` under `prefix` send an event. Each of them first waits for a free
/// slot in `tx` (its capacity is the bound), then stores the object, then fills the slot: a
/// full queue holds the client's request unanswered, with its body unread, instead of
/// buffering events without bound, and an event is never dropped. Other writes send nothing and
/// never wait, so a consumer that writes elsewhere (thumbnails, `rejected/` copies) can never
/// block on its own queue. When the receiver is gone, writes are stored without an event.
#[derive(Debug, Clone)]
pub struct EventQueue {
    /// Where events go (a full channel makes the PUT wait).
    pub tx: mpsc::Sender<ObjectCreated>,
    /// Only objects created in this bucket...
    pub bucket: String,
    /// ... under this prefix are sent.
    pub prefix: String,
}

/// A running server. Dropping it stops accepting connections at once; [`shutdown`]
/// (Self::shutdown) also lets requests in flight finish.
#[derive(Debug)]
pub struct LocalS3 {
    addr: SocketAddr,
    access_key: String,
    secret_key: String,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl LocalS3 {
    /// Bind 127.0.0.1:`opts.port`, create the buckets, and serve until shut down.
    /// The receiver yields an [`ObjectCreated`] per successful write.
    pub async fn start(
        opts: Options,
    ) -> anyhow::Result<(LocalS3, mpsc::UnboundedReceiver<ObjectCreated>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let s3 = LocalS3::start_inner(opts, store::Events::Unbounded(tx)).await?;
        Ok((s3, rx))
    }

    /// Like [`start`](Self::start), but the object-created events of `queue.bucket` under
    /// `queue.prefix` go into `queue.tx` with back-pressure (see [`EventQueue`]); other writes
    /// send none.
    pub async fn start_with_queue(opts: Options, queue: EventQueue) -> anyhow::Result<LocalS3> {
        LocalS3::start_inner(opts, store::Events::Queue(queue)).await
    }

    async fn start_inner(opts: Options, events: store::Events) -> anyhow::Result<LocalS3> {
        tokio::fs::create_dir_all(&opts.root)
            .await
            .with_context(|| format!("creating S3 data directory {}", opts.root.display()))?;
        for bucket in &opts.buckets {
            anyhow::ensure!(
                valid_bucket_name(bucket),
                "invalid bucket name {bucket:?}: use 3-63 characters a-z, 0-9, '-' and '.'"
            );
            // s3s-fs keeps a bucket as a directory under the root.
            tokio::fs::create_dir_all(opts.root.join(bucket))
                .await
                .with_context(|| format!("creating bucket directory for {bucket}"))?;
        }
        let fs = s3s_fs::FileSystem::new(&opts.root).map_err(|e| {
            anyhow::anyhow!("opening S3 data directory {}: {e:?}", opts.root.display())
        })?;
        let store = store::Store {
            fs: Arc::new(fs),
            events,
            faults: opts.faults.clone(),
        };
        let mut builder = S3ServiceBuilder::new(store);
        builder.set_auth(SimpleAuth::from_single(
            opts.access_key.as_str(),
            opts.secret_key.as_str(),
        ));
        builder.set_access(access::Policy);
        let s3 = builder.build();

        let cors = if opts.cors_origins.is_empty() {
            None
        } else {
            let origins = opts
                .cors_origins
                .iter()
                .map(|o| {
                    http::HeaderValue::from_str(o)
                        .with_context(|| format!("invalid CORS origin {o:?}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Some(
                CorsLayer::new()
                    .allow_origin(AllowOrigin::list(origins))
                    .allow_methods([http::Method::GET, http::Method::PUT, http::Method::HEAD])
                    .allow_headers(AllowHeaders::mirror_request())
                    .expose_headers([http::header::ETAG])
                    .max_age(Duration::from_secs(CORS_MAX_AGE_SECS)),
            )
        };
        let service = tower::ServiceBuilder::new().option_layer(cors).service(s3);

        let listener = TcpListener::bind((opts.host, opts.port))
            .await
            .with_context(|| format!("binding {}:{}", opts.host, opts.port))?;
        let addr = listener.local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(serve_connections(
            listener,
            faults::DropConnections::new(TowerToHyperService::new(service)),
            stop_rx,
            SHUTDOWN_GRACE,
        ));
        tracing::debug!(%addr, root = %opts.root.display(), "local S3 listening");
        Ok(LocalS3 {
            addr,
            access_key: opts.access_key,
            secret_key: opts.secret_key,
            stop,
            task: Some(task),
        })
    }

    /// `http://HOST:PORT` (`http://127.0.0.1:PORT` unless another host was asked for).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn config(&self) -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(Credentials::new(
                self.access_key.clone(),
                self.secret_key.clone(),
                None,
                None,
                "fitbox-local-s3",
            ))
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
    }

    /// An SDK client for this server: path-style, us-east-1, static credentials, checksums
    /// only when required, the SDK's default retries.
    pub fn client(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(self.config().build())
    }

    /// Like [`client`](Self::client) with these timeouts (connect, per attempt, per
    /// operation): what a long-running user of this server, such as `fitbox serve`, wants.
    pub fn client_with_timeouts(&self, timeouts: TimeoutConfig) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(self.config().timeout_config(timeouts).build())
    }

    /// Like [`client`](Self::client) without retries: one injected fault, one failed call.
    pub fn client_no_retry(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(self.config().retry_config(RetryConfig::disabled()).build())
    }

    /// Stop accepting, let requests in flight finish (up to [`SHUTDOWN_GRACE`]), return.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "local S3 server task failed");
            }
        }
    }
}

impl Drop for LocalS3 {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// AWS's basic bucket-name rules (what s3s checks on CreateBucket).
fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphanumeric)
        && name
            .as_bytes()
            .last()
            .is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
}

/// How long a client may take to send a request's headers before its connection is closed:
/// a slow-header client must not hold a connection for ever.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serve `service` on `listener` (HTTP/1 and HTTP/2, header reads bounded by
/// [`HEADER_READ_TIMEOUT`]) until `stop` turns true, then let requests in flight finish for up
/// to `grace`. The accept loop of this S3 server and of `fitbox serve`'s web app and API.
pub async fn serve_connections<S, B>(
    listener: TcpListener,
    service: S,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) where
    S: hyper::service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((sock, peer)) => {
                    // The peer's address as a request extension (`SocketAddr`): the API limits
                    // tickets per client address.
                    let svc = service.clone();
                    let with_peer = hyper::service::service_fn(
                        move |mut req: http::Request<hyper::body::Incoming>| {
                            req.extensions_mut().insert(peer);
                            hyper::service::Service::call(&svc, req)
                        },
                    );
                    let conn = builder
                        .serve_connection(TokioIo::new(sock), with_peer)
                        .into_owned();
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            // (the guard `wait_for` returns is not Send: drop it inside)
            _ = async { drop(stop.wait_for(|s| *s).await) } => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {grace:?}; stopping anyway");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["uploads", "fitbox-resized", "a.b.c", "abc"] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in ["ab", "Uploads", "-abc", "abc-", "a..b", "a_b", "../x", ""] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }
}
