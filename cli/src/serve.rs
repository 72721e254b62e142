//! `fitbox serve`: the whole stack in one process.
//!
//! * an embedded S3 server (`fitbox-local-s3`: s3s + s3s-fs, SigV4 checked, CORS for the web
//!   app) on 127.0.0.1, data under `--data`, both buckets created on start;
//! * the `fitbox-presign` router under `/api` and the built web app (`--dist`) at `/`, on one
//!   origin;
//! * the `fitbox-resize` library fed with the embedded store's object-created events for
//!   `uploads/`, through one bounded queue (`--queue`) and a small worker pool. Each job becomes
//!   an S3 event notification shaped as S3 sends it (one `ObjectCreated:Put` record, the key
//!   URL-encoded) and goes through `fitbox_resize::parse_event` and `handle_event`: the code
//!   path the Lambda runs. A sweep on start (and every `--sweep-secs`) picks up anything left in
//!   `uploads/` by an earlier run or by a failed attempt, so nothing is lost across a crash or
//!   restart.
//!
//! Back-pressure: the store puts each upload's event straight into the queue, and reserves its
//! slot before it stores the upload ([`fitbox_local_s3::EventQueue`]). While the queue is full,
//! a PUT to `uploads/` waits (body unread, no answer yet) until a worker takes a job; no event is
//! dropped and nothing is buffered beyond `--queue`. The workers' own writes (thumbnails,
//! `rejected/` copies) never wait, so they cannot block on their own queue.
//!
//! Who may do what (`--auth`): `open` (the default) lets anyone upload and delete, and is only
//! allowed on a loopback `--host`; `keys` takes upload keys (`fitbox key create`) and `oidc`
//! OpenID Connect tokens from `--oidc-issuer` (and keys too, when given). With `keys` or `oidc`
//! the mode is `--access signed-in-upload` (the default: anyone looks, callers upload and delete
//! their own) or `private`. It is the presign Lambda's own code: `FITBOX_ACCESS_MODE` and the
//! `FITBOX_OIDC_*` settings, taken from these options.
//!
//! Ctrl-C / SIGTERM: stop taking requests and work, finish the resizes in flight, exit 0.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use fitbox_api::keys;
use fitbox_local_s3::{EventQueue, LocalS3, ObjectCreated};
use fitbox_service::s3::Timeouts;
use tokio::sync::{mpsc, watch, Mutex};
use tower_http::services::{ServeDir, ServeFile};

use crate::thumbnail::parse_box;

/// Bucket of originals in the local stack.
pub(crate) const UPLOAD_BUCKET: &str = "fitbox-uploads";
/// Bucket of thumbnails in the local stack.
pub(crate) const RESIZED_BUCKET: &str = "fitbox-resized";

/// How callers are known (`--auth`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthKind {
    /// Nobody signs in; anyone may upload and delete (loopback only).
    Open,
    /// Upload keys only (`fitbox key create`; `--keys` / `FITBOX_UPLOAD_KEYS`).
    Keys,
    /// OpenID Connect tokens from `--oidc-issuer` (and upload keys, when given).
    Oidc,
}

/// What needs a caller when `--auth` is not `open`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone may look; uploading, upload status and deleting need a caller.
    SignedInUpload,
    /// Looking needs a caller too; image links are signed.
    Private,
}

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Address to listen on (web app, API and the embedded S3). Anything but loopback needs
    /// `--auth keys` or `--auth oidc`: on a network, open mode would let anyone upload.
    #[arg(long, default_value = "127.0.0.1", env = "FITBOX_HOST")]
    host: std::net::IpAddr,
    /// HTTP port for the web app and the API (0 picks a free port).
    #[arg(long, default_value_t = 8080, env = "FITBOX_PORT")]
    port: u16,
    /// Port of the embedded S3 server (0 picks a free port).
    #[arg(long, default_value_t = 9000, env = "FITBOX_S3_PORT")]
    s3_port: u16,
    /// Who may do what: `open` (anyone; loopback only), `keys` or `oidc`.
    #[arg(long, value_enum, default_value_t = AuthKind::Open, env = "FITBOX_AUTH")]
    auth: AuthKind,
    /// With `--auth keys|oidc`: whether looking at the gallery needs a caller too
    /// (default `signed-in-upload`).
    #[arg(long, value_enum, env = "FITBOX_ACCESS")]
    access: Option<Access>,
    /// Upload keys: `name:role:sha256hex` entries from `fitbox key create`, comma-separated.
    #[arg(
        long,
        env = "FITBOX_UPLOAD_KEYS",
        hide_env_values = true,
        default_value = ""
    )]
    keys: String,
    /// OpenID Connect issuer URL (`--auth oidc`).
    #[arg(long, env = "FITBOX_OIDC_ISSUER")]
    oidc_issuer: Option<String>,
    /// The web app's public client id at the issuer.
    #[arg(long, default_value = "fitbox-web", env = "FITBOX_OIDC_CLIENT_ID")]
    oidc_client_id: String,
    /// Accepted token audiences (`aud`, or `client_id`), comma-separated; default: the client id.
    #[arg(long, env = "FITBOX_OIDC_AUDIENCES")]
    oidc_audiences: Option<String>,
    /// Claim holding the caller's groups.
    #[arg(
        long,
        default_value = fitbox_presign::config::DEFAULT_ROLE_CLAIM,
        env = "FITBOX_OIDC_ROLE_CLAIM",
    )]
    oidc_role_claim: String,
    /// Group in that claim that makes a caller an admin.
    #[arg(
        long,
        default_value = fitbox_presign::config::DEFAULT_ADMIN_GROUP,
        env = "FITBOX_OIDC_ADMIN_GROUP",
    )]
    oidc_admin_group: String,
    /// Directory for the buckets; survives restarts.
    #[arg(long, default_value = "./fitbox-data", env = "FITBOX_DATA")]
    data: PathBuf,
    /// The built web app (`trunk build --release` writes `dist/`).
    #[arg(long, default_value = "./dist", env = "FITBOX_DIST")]
    dist: PathBuf,
    /// Resize workers (default: number of CPUs).
    #[arg(long, env = "FITBOX_WORKERS")]
    workers: Option<usize>,
    /// Resize jobs that may wait in the queue. When it is full, uploads wait: a PUT to the
    /// embedded S3 is answered once there is room (nothing is dropped).
    #[arg(long, default_value_t = 256)]
    queue: usize,
    /// Rescan `uploads/` for unfinished work this often (seconds).
    #[arg(long, default_value_t = 30)]
    sweep_secs: u64,
    /// The box to fit into, WIDTHxHEIGHT.
    #[arg(
        long = "box",
        default_value = "400x400",
        value_parser = parse_box,
        env = "FITBOX_BOX",
    )]
    box_size: (u32, u32),
    /// Enlarge images smaller than the box.
    #[arg(long, env = "FITBOX_ENLARGE")]
    enlarge: bool,
    /// JPEG quality, 1-100.
    #[arg(long, default_value_t = fitbox_core::DEFAULT_QUALITY, env = "FITBOX_QUALITY",
          value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: u8,
    /// Largest upload in bytes.
    #[arg(
        long,
        default_value_t = fitbox_core::Limits::default().max_bytes,
        env = "FITBOX_MAX_BYTES",
    )]
    max_bytes: u64,
    /// Most pixels an image may declare.
    #[arg(
        long,
        default_value_t = fitbox_core::Limits::default().max_pixels,
        env = "FITBOX_MAX_PIXELS",
    )]
    max_pixels: u64,
    /// Lifetime of signed upload URLs in seconds (a ticket is asked for just before each PUT).
    #[arg(
        long,
        default_value_t = fitbox_presign::config::DEFAULT_URL_TTL_SECS,
        env = "FITBOX_URL_TTL_SECS",
    )]
    url_ttl_secs: u64,
    /// Upload tickets a minute per client address and per signed-in caller (0: no limit).
    #[arg(long, default_value_t = fitbox_presign::limit::DEFAULT_PER_MINUTE,
          env = "FITBOX_RATE_LIMIT_PER_MINUTE")]
    rate_limit_per_minute: u32,
    /// Lifetime of signed image links in seconds.
    #[arg(long, default_value_t = fitbox_presign::config::DEFAULT_IMAGE_URL_TTL_SECS,
          env = "FITBOX_IMAGE_URL_TTL_SECS")]
    image_url_ttl_secs: u64,
    /// Give up on an S3 call attempt after this many seconds and retry it (the resize
    /// Lambda reads the same variable).
    #[arg(long, default_value_t = fitbox_resize::DEFAULT_S3_TIMEOUT.as_secs_f64(),
          env = "FITBOX_S3_TIMEOUT_SECS", value_parser = parse_timeout)]
    s3_timeout_secs: f64,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    fitbox_resize::parse_s3_timeout(s).map(|d| d.as_secs_f64())
}

impl Args {
    /// The mode, keys and issuer these options ask for, checked against `--host`.
    fn access(
        &self,
    ) -> anyhow::Result<(
        fitbox_presign::AccessMode,
        fitbox_presign::auth::UploadKeys,
        Option<fitbox_presign::auth::OidcConfig>,
    )> {
        use fitbox_presign::AccessMode;
        let keys = fitbox_presign::auth::UploadKeys::parse(&self.keys)
            .map_err(|e| anyhow::anyhow!("--keys / FITBOX_UPLOAD_KEYS: {e}"))?;
        if self.host.is_unspecified() {
            anyhow::bail!(
                "--host {}: give the address people will use (e.g. this machine's LAN address, \
                 192.168.1.5): it goes into the signed upload URLs and the allowed origins",
                self.host
            );
        }
        let mode = match (self.auth, self.access) {
            (AuthKind::Open, None) => AccessMode::Open,
            (AuthKind::Open, Some(_)) => anyhow::bail!(
                "--access needs --auth keys or --auth oidc: in open mode nobody signs in"
            ),
            (_, None | Some(Access::SignedInUpload)) => AccessMode::SignedInUpload,
            (_, Some(Access::Private)) => AccessMode::Private,
        };
        if self.auth != AuthKind::Oidc && self.oidc_issuer.is_some() {
            anyhow::bail!("--oidc-issuer needs --auth oidc");
        }
        if mode == AccessMode::Open && !self.host.is_loopback() {
            anyhow::bail!(
                "--host {}: on a network, open mode would let anyone there upload and delete \
                 images. Use --auth keys (with FITBOX_UPLOAD_KEYS from `fitbox key create`) or \
                 --auth oidc --oidc-issuer URL, or keep --host 127.0.0.1",
                self.host
            );
        }
        let oidc = match (self.auth, &self.oidc_issuer) {
            (AuthKind::Oidc, None) => anyhow::bail!("--auth oidc needs --oidc-issuer URL"),
            (AuthKind::Oidc, Some(issuer)) => {
                if !fitbox_service::settings::is_http_url(issuer) {
                    anyhow::bail!("--oidc-issuer {issuer:?}: expected an http(s) URL");
                }
                Some(fitbox_presign::auth::OidcConfig {
                    issuer: issuer.clone(),
                    client_id: self.oidc_client_id.clone(),
                    audiences: match &self.oidc_audiences {
                        Some(a) => a
                            .split(',')
                            .map(str::trim)
                            .filter(|a| !a.is_empty())
                            .map(str::to_string)
                            .collect(),
                        None => vec![self.oidc_client_id.clone()],
                    },
                    role_claim: self.oidc_role_claim.clone(),
                    admin_group: self.oidc_admin_group.clone(),
                    leeway_secs: fitbox_presign::auth::LEEWAY_SECS,
                })
            }
            _ => None,
        };
        if self.auth == AuthKind::Keys && keys.is_empty() {
            anyhow::bail!(
                "--auth keys needs at least one key: run `fitbox key create --name NAME` and pass \
                 its FITBOX_UPLOAD_KEYS line"
            );
        }
        Ok((mode, keys, oidc))
    }

    fn options(&self) -> fitbox_core::Options {
        fitbox_core::Options {
            box_width: self.box_size.0,
            box_height: self.box_size.1,
            enlarge: self.enlarge,
            quality: self.quality,
            limits: fitbox_core::Limits {
                max_bytes: self.max_bytes,
                max_pixels: self.max_pixels,
                ..fitbox_core::Limits::default()
            },
        }
    }
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let opts = args.options();
    opts.validate()?;
    let (access_mode, upload_keys, oidc) = args.access()?;
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create the data directory {}", args.data.display()))?;
    let data = args.data.canonicalize()?;
    let page = args.dist.join("index.html");
    if let Ok(html) = std::fs::read_to_string(&page) {
        if let Some(tag) = inline_script(&html) {
            anyhow::bail!(
                "{} has an inline script ({tag}...>), which the page's Content-Security-Policy \
                 blocks: rebuild it with `trunk build --release` (Trunk.toml's post_build hook, \
                 scripts/trunk-loader-hook.mjs, moves Trunk's loader into a file)",
                page.display()
            );
        }
    } else {
        tracing::warn!(
            dist = %args.dist.display(),
            "no web app at --dist (run `make run`, or `trunk build --release`); \
             serving the API only"
        );
    }

    // Bind the web port first: the S3 server's CORS origins name it.
    let http = tokio::net::TcpListener::bind((args.host, args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let http_addr = http.local_addr()?;
    let mut origins = vec![
        format!("http://127.0.0.1:{}", http_addr.port()),
        format!("http://localhost:{}", http_addr.port()),
    ];
    if !args.host.is_loopback() {
        origins.push(format!("http://{http_addr}"));
    }

    let mut s3_opts = fitbox_local_s3::Options::new(data.join("s3"));
    // Fresh credentials every run, never fixed published ones: anyone who can reach the port
    // must still hold a signature from this process. Written (owner-only) beside the data for
    // tools that want to look inside.
    let (access_key, secret_key) = (random_token(12)?, random_token(30)?);
    write_credentials(&data, &access_key, &secret_key)?;
    s3_opts.access_key = access_key;
    s3_opts.secret_key = secret_key;
    s3_opts.host = args.host;
    s3_opts.port = args.s3_port;
    s3_opts.cors_origins = origins.clone();
    s3_opts.buckets = vec![UPLOAD_BUCKET.into(), RESIZED_BUCKET.into()];
    s3_opts.faults = test_faults_from_env()?;
    // The resize queue: the store's object-created events for uploads/ and the sweeps' finds.
    let (queue_tx, queue_rx) = mpsc::channel::<ObjectCreated>(args.queue.max(1));
    let queue = EventQueue {
        tx: queue_tx.clone(),
        bucket: UPLOAD_BUCKET.into(),
        prefix: keys::UPLOAD_PREFIX.into(),
    };
    let s3 = LocalS3::start_with_queue(s3_opts, queue)
        .await
        .with_context(|| {
            format!(
                "cannot start the embedded S3 server on port {}",
                args.s3_port
            )
        })?;
    let s3_timeout = Duration::from_secs_f64(args.s3_timeout_secs);
    let client = s3.client_with_timeouts(Timeouts::per_attempt(s3_timeout).config());

    // The API: the same router the presign Lambda runs.
    let mut api_cfg = fitbox_presign::Config::new(UPLOAD_BUCKET, RESIZED_BUCKET);
    api_cfg.options = opts;
    api_cfg.url_ttl = Duration::from_secs(args.url_ttl_secs);
    api_cfg.image_url_ttl = Duration::from_secs(args.image_url_ttl_secs);
    api_cfg.rate_limit_per_minute = args.rate_limit_per_minute;
    api_cfg.cors_origins = origins;
    api_cfg.s3_endpoint = Some(s3.endpoint());
    api_cfg.access_mode = access_mode;
    api_cfg.upload_keys = upload_keys;
    api_cfg.oidc = oidc;
    api_cfg.check_access()?;
    let api = fitbox_presign::router(
        fitbox_presign::AppState::new(client.clone(), Arc::new(api_cfg))
            .map_err(|e| anyhow::anyhow!(e))?,
    );

    // The resizer: the same library the resize Lambda runs.
    let resize_cfg = Arc::new(resize_config(opts, s3_timeout));
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    let pool = Pool::start(
        client.clone(),
        resize_cfg,
        workers,
        queue_rx,
        stop_rx.clone(),
    );
    let sweeper = tokio::spawn(sweep_loop(
        client.clone(),
        queue_tx,
        Duration::from_secs(args.sweep_secs.max(1)),
        stop_rx.clone(),
    ));

    let s3_origin = s3.endpoint();
    let allowed_hosts = allowed_hosts(args.host, http_addr.port());
    let issuer_origin = api_issuer_origin(&args);
    let app = with_site(api, &args.dist);
    let app = protect(app, allowed_hosts, &s3_origin, issuer_origin.as_deref());

    println!("fitbox listening on http://{http_addr}");
    println!("fitbox access {access_mode}");
    println!("fitbox s3 endpoint {}", s3.endpoint());
    println!("fitbox data {}", data.display());
    tracing::info!(%http_addr, s3 = %s3.endpoint(), workers, "fitbox serve started");

    let server = tokio::spawn(serve_http(http, app, stop_rx.clone()));

    shutdown_signal().await;
    eprintln!("fitbox: stopping; finishing resizes in flight");
    let _ = stop_tx.send(true);
    let _ = server.await;
    sweeper.abort();
    pool.finish().await;
    s3.shutdown().await;
    eprintln!("fitbox: stopped");
    Ok(())
}

/// Test-only fault injection for the embedded S3 (hidden; used by `cli/tests/faults.rs`):
/// `FITBOX_FAULTS` in the format of [`fitbox_local_s3::Faults::from_spec`], and
/// `FITBOX_FAULTS_UNTIL_SECS=N` to turn every fault off N seconds after start. Unset (the normal
/// case): no faults. A malformed value is a start-up error.
fn test_faults_from_env() -> anyhow::Result<Option<Arc<fitbox_local_s3::Faults>>> {
    let Ok(spec) = std::env::var("FITBOX_FAULTS") else {
        return Ok(None);
    };
    let faults = Arc::new(
        fitbox_local_s3::Faults::from_spec(&spec)
            .map_err(|e| anyhow::anyhow!("FITBOX_FAULTS: {e}"))?,
    );
    if let Ok(secs) = std::env::var("FITBOX_FAULTS_UNTIL_SECS") {
        let secs: f64 = secs
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 1e9)
            .with_context(|| format!("FITBOX_FAULTS_UNTIL_SECS: {secs:?}"))?;
        let f = faults.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            f.clear();
            eprintln!("fitbox: test faults off");
        });
    }
    tracing::warn!(
        ?faults,
        "FITBOX_FAULTS: the embedded S3 fails calls on purpose"
    );
    Ok(Some(faults))
}

fn resize_config(opts: fitbox_core::Options, s3_timeout: Duration) -> fitbox_resize::Config {
    let mut cfg = fitbox_resize::Config::new(UPLOAD_BUCKET, RESIZED_BUCKET);
    cfg.options = opts;
    cfg.s3_timeout = s3_timeout;
    cfg
}

/// The API router, with the built web app (`dist`) answering every path outside `/api` (and
/// `index.html` for client-side routes). Unknown `/api/...` paths keep the API's JSON 404.
fn with_site(api: Router, dist: &std::path::Path) -> Router {
    use axum::response::IntoResponse;
    use tower::ServiceExt;
    let site = ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html")));
    api.fallback_service(tower::service_fn(move |req: axum::extract::Request| {
        let site = site.clone();
        async move {
            let path = req.uri().path();
            if path == "/api" || path.starts_with("/api/") {
                let uri = axum::extract::OriginalUri(req.uri().clone());
                let method = req.method().clone();
                return Ok::<_, std::convert::Infallible>(
                    fitbox_presign::handlers::not_found(method, uri)
                        .await
                        .into_response(),
                );
            }
            Ok(site.oneshot(req).await.into_response())
        }
    }))
}

/// `n` random bytes, hex: S3 access key ids and secrets for this run.
fn random_token(n: usize) -> anyhow::Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `DATA/s3-credentials.json`, readable by the owner only.
fn write_credentials(data: &std::path::Path, access: &str, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data.join("s3-credentials.json");
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let json = serde_json::json!({
        "endpoint_note": "credentials of the embedded S3 server of the running `fitbox serve`",
        "access_key_id": access,
        "secret_access_key": secret,
    });
    writeln!(f, "{json}")?;
    Ok(())
}

/// The `Host` values the web port answers: its own names only, so a page on another site cannot
/// reach it through DNS rebinding (a name of theirs that resolves to 127.0.0.1).
fn allowed_hosts(host: std::net::IpAddr, port: u16) -> Vec<String> {
    let mut hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    let own = match host {
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
    };
    if !hosts.contains(&own) {
        hosts.push(own);
    }
    // Browsers leave the default port out of `Host`.
    if port == 80 {
        let bare: Vec<String> = hosts
            .iter()
            .filter_map(|h| h.strip_suffix(":80").map(str::to_string))
            .collect();
        hosts.extend(bare);
    }
    hosts
}

/// `scheme://host[:port]` of the OpenID issuer, which the page calls to sign in.
fn api_issuer_origin(args: &Args) -> Option<String> {
    let issuer = args.oidc_issuer.as_deref()?;
    let (scheme, rest) = issuer.split_once("://")?;
    let authority = rest.split('/').next()?;
    Some(format!("{scheme}://{authority}"))
}

/// The Content-Security-Policy of the page: scripts only from this origin (Trunk's loader is a
/// file of its own, see `scripts/trunk-loader-hook.mjs`; no `unsafe-inline`), the same as the
/// CDN's in template.yaml; the embedded S3 (signed PUTs, thumbnails) and the issuer for
/// connections.
fn content_security_policy(s3: &str, issuer: Option<&str>) -> String {
    let issuer = issuer.map(|i| format!(" {i}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
         worker-src 'self' blob:; img-src 'self' blob: data: {s3}; \
         style-src 'self' 'unsafe-inline'; connect-src 'self' {s3}{issuer}; object-src 'none'; \
         base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The first inline `<script>` (one without `src`) of a built page, if any: the policy above
/// would block it, so a page built without Trunk.toml's hook is refused at start.
fn inline_script(html: &str) -> Option<&str> {
    let mut rest = html;
    while let Some(open) = rest.find("<script") {
        let after = &rest[open..];
        let tag = &after[..after.find('>')?];
        if !tag.contains(" src=") {
            return Some(tag);
        }
        rest = &after[tag.len()..];
    }
    None
}

/// The web port's guard: a `Host` it does not know is refused (400, before anything else), and
/// every answer carries the security headers the CDN sends in AWS.
fn protect(app: Router, hosts: Vec<String>, s3: &str, issuer: Option<&str>) -> Router {
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    let csp = HeaderValue::from_str(&content_security_policy(s3, issuer))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let hosts = Arc::new(hosts);
    app.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let (hosts, csp) = (hosts.clone(), csp.clone());
            async move {
                let host = req
                    .headers()
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if !hosts.contains(&host) {
                    let body = serde_json::json!({"error": {
                        "code": "unknown_host",
                        "message": format!(
                            "this server answers to {} only (Host {host:?} refused)",
                            hosts.join(", ")
                        ),
                    }});
                    return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
                }
                let mut resp = next.run(req).await;
                let h = resp.headers_mut();
                h.insert(header::CONTENT_SECURITY_POLICY, csp);
                h.insert(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                );
                h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
                h.insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("strict-origin-when-cross-origin"),
                );
                resp
            }
        },
    ))
}

/// Serve `app` on `listener` until `stop`, then let requests in flight finish (up to 30 s),
/// with the embedded S3 server's accept loop (unlike `axum::serve`, it bounds header reads:
/// [`fitbox_local_s3::HEADER_READ_TIMEOUT`]).
async fn serve_http(listener: tokio::net::TcpListener, app: Router, stop: watch::Receiver<bool>) {
    fitbox_local_s3::serve_connections(
        listener,
        hyper_util::service::TowerToHyperService::new(app),
        stop,
        Duration::from_secs(30),
    )
    .await
}

/// Resolves once `stop` says true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Every `every`, and once at start, queue whatever waits in `uploads/` (a page at a time;
/// waits while the queue is full).
async fn sweep_loop(
    s3: aws_sdk_s3::Client,
    tx: mpsc::Sender<ObjectCreated>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match sweep(&s3, &tx).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "sweep: queued unfinished uploads"),
            Err(e) => tracing::warn!(error = %e, "sweep: cannot list uploads/"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}

/// Queue every object under `uploads/`; how many.
async fn sweep(s3: &aws_sdk_s3::Client, tx: &mpsc::Sender<ObjectCreated>) -> anyhow::Result<usize> {
    let mut count = 0;
    let mut pages = s3
        .list_objects_v2()
        .bucket(UPLOAD_BUCKET)
        .prefix(keys::UPLOAD_PREFIX)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for obj in page?.contents() {
            let Some(key) = obj.key() else { continue };
            let job = ObjectCreated {
                bucket: UPLOAD_BUCKET.into(),
                key: key.to_owned(),
                size: obj.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
            };
            if tx.send(job).await.is_err() {
                return Ok(count); // the workers are gone: stopping
            }
            count += 1;
        }
    }
    Ok(count)
}

/// A fixed set of workers taking jobs from one bounded queue. A key that one worker is
/// processing is skipped by the others (events and sweeps may both name it; a later repeat
/// finds the original gone and its result in place: the library's repeated-delivery case).
struct Pool {
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Pool {
    fn start(
        s3: aws_sdk_s3::Client,
        cfg: Arc<fitbox_resize::Config>,
        workers: usize,
        rx: mpsc::Receiver<ObjectCreated>,
        stop: watch::Receiver<bool>,
    ) -> Pool {
        let rx = Arc::new(Mutex::new(rx));
        let busy = Arc::new(std::sync::Mutex::new(
            std::collections::HashSet::<String>::new(),
        ));
        let handles = (0..workers)
            .map(|_| {
                let (s3, cfg, rx, busy, stop) = (
                    s3.clone(),
                    cfg.clone(),
                    rx.clone(),
                    busy.clone(),
                    stop.clone(),
                );
                tokio::spawn(async move {
                    loop {
                        if *stop.borrow() {
                            return;
                        }
                        let job = {
                            let mut rx = rx.lock().await;
                            let mut stop = stop.clone();
                            // Stopping wins over a job that is ready too.
                            tokio::select! {
                                biased;
                                _ = stopped(&mut stop) => return,
                                j = rx.recv() => match j { Some(j) => j, None => return },
                            }
                        };
                        if !busy
                            .lock()
                            .map(|mut b| b.insert(job.key.clone()))
                            .unwrap_or(false)
                        {
                            continue; // another worker has it right now
                        }
                        tracing::debug!(key = %job.key, "resize started");
                        resize_with_retries(&s3, &cfg, &job).await;
                        if let Ok(mut b) = busy.lock() {
                            b.remove(&job.key);
                        }
                    }
                })
            })
            .collect();
        // The queue's receiver lives in the workers: once they have all returned, waiting
        // uploads are stored without an event (the next start's sweep finds them).
        Pool { handles }
    }

    /// Wait for the workers: once `stop` is set they take no new job and finish the ones in
    /// flight.
    async fn finish(self) {
        for h in self.handles {
            let _ = h.await;
        }
    }
}

/// The S3 event notification S3 would send the resize Lambda for `object`: one
/// `ObjectCreated:Put` record, its key URL-encoded as S3 encodes it.
fn s3_event(object: &ObjectCreated) -> serde_json::Value {
    use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
    let time = DateTime::from(std::time::SystemTime::now())
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into());
    serde_json::json!({ "Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": fitbox_local_s3::REGION,
        "eventTime": time,
        "eventName": "ObjectCreated:Put",
        "userIdentity": { "principalId": "fitbox-local" },
        "requestParameters": { "sourceIPAddress": "127.0.0.1" },
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "fitbox-serve",
            "bucket": {
                "name": object.bucket,
                "ownerIdentity": { "principalId": "fitbox-local" },
                "arn": format!("arn:aws:s3:::{}", object.bucket),
            },
            "object": {
                "key": fitbox_resize::encode_key(&object.key),
                "size": object.size,
            },
        },
    }]})
}

/// Hand `object`'s S3 event to the resize library as the Lambda does (`parse_event`, then
/// `handle_event`); a transient failure is retried a few times with backoff (like Lambda's
/// async retries), then left in `uploads/` for the next sweep.
async fn resize_with_retries(
    s3: &aws_sdk_s3::Client,
    cfg: &fitbox_resize::Config,
    object: &ObjectCreated,
) {
    let key = object.key.as_str();
    let event = match fitbox_resize::parse_event(s3_event(object)) {
        Ok(fitbox_resize::Incoming::Records(event)) => event,
        other => {
            tracing::error!(
                key,
                ?other,
                "cannot build the S3 event; left for the next sweep"
            );
            return;
        }
    };
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=4 {
        match fitbox_resize::handle_event(s3, cfg, &event).await {
            Ok(()) => {
                tracing::debug!(key, "resize done");
                return;
            }
            Err(e) => {
                tracing::warn!(key, attempt, error = %e, "resize failed; will retry");
                tokio::time::sleep(delay).await;
                delay *= 3;
            }
        }
    }
    tracing::warn!(key, "resize still failing; leaving it for the next sweep");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page Trunk's hook has been through loads scripts by `src` only; one with Trunk's inline
    /// loader (or any inline script) is found, so `serve` refuses it instead of a blank page.
    #[test]
    fn inline_scripts_are_found() {
        let hooked = r#"<head>
            <script type="module" src="/loader-0123.js" integrity="sha384-x"></script>
            <link rel="modulepreload" href="/app.js"></head>"#;
        assert_eq!(inline_script(hooked), None);
        let trunk = "<head><script type=\"module\">\nimport init from '/app.js';\n</script></head>";
        assert_eq!(inline_script(trunk), Some("<script type=\"module\""));
        let second = format!("{hooked}<script>alert(1)</script>");
        assert_eq!(inline_script(&second), Some("<script"));
        assert_eq!(inline_script("<p>no scripts</p>"), None);
        let csp = content_security_policy("http://127.0.0.1:9", None);
        let script = csp.split(';').find(|d| d.trim().starts_with("script-src"));
        assert_eq!(
            script.map(str::trim),
            Some("script-src 'self' 'wasm-unsafe-eval'")
        );
    }

    /// The record parses as the Lambda parses S3's, with the key encoded as S3 encodes it.
    #[test]
    fn jobs_become_s3_shaped_records() {
        let object = ObjectCreated {
            bucket: UPLOAD_BUCKET.into(),
            key: "uploads/a b+c\u{e9}".into(),
            size: 1234,
        };
        let Ok(fitbox_resize::Incoming::Records(event)) =
            fitbox_resize::parse_event(s3_event(&object))
        else {
            panic!("not an S3 event")
        };
        assert_eq!(event.records.len(), 1);
        let record = &event.records[0];
        assert_eq!(record.event_name.as_deref(), Some("ObjectCreated:Put"));
        assert_eq!(record.s3.bucket.name.as_deref(), Some(UPLOAD_BUCKET));
        assert_eq!(
            record.s3.object.key.as_deref(),
            Some("uploads/a+b%2Bc%C3%A9")
        );
        assert_eq!(record.s3.object.size, Some(1234));
        assert_eq!(
            fitbox_resize::decode_key(record.s3.object.key.as_deref().unwrap()).unwrap(),
            object.key
        );
    }
}
