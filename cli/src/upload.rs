//! `fitbox upload FILE... [--api URL]`: the script client.
//!
//! Each file is checked with fitbox-core's guard first (with the server's own limits from
//! `GET /api/config`), so a file the server would refuse is reported at once and never sent.
//! The rest go `--parallel` at a time: each asks for its own ticket (`POST /api/uploads`, one per
//! file, just before sending, so a long list never outlives a signed URL), is PUT to its signed
//! URL with a progress bar, and is followed with `GET /api/uploads/{id}` until ready or
//! rejected. One line per file on stdout, in the order given (`FILE: ready WxH BYTES bytes URL`,
//! `FILE: rejected: REASON` or `FILE: failed: WHY`; `--json`: one object per line); exit status 1
//! if any file was rejected or failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fitbox_api::{
    ConfigResponse, ErrorBody, UploadRequest, UploadState, UploadStatus, UploadTicket,
};
use futures_util::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Image files to upload.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Base URL of the fitbox API (the `fitbox serve` URL, or the deployed site).
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "FITBOX_API")]
    api: String,
    /// Uploads at a time.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Give up waiting for a file's thumbnail after this many seconds.
    #[arg(long, default_value_t = 300)]
    wait_secs: u64,
    /// Print one JSON object per file instead of a text line.
    #[arg(long)]
    json: bool,
    /// Upload key (`fitbox key create`), sent as `Authorization: Bearer` to the API (never to
    /// the storage the signed URLs point at). Needed unless the API is open.
    #[arg(long, env = "FITBOX_KEY", hide_env_values = true)]
    key: Option<String>,
}

/// Adds the caller's key to API requests.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Api {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(k) => req.bearer_auth(k),
            None => req,
        }
    }
}

/// What happened to one file.
enum Outcome {
    Ready {
        url: String,
        width: u32,
        height: u32,
        bytes: u64,
        id: String,
    },
    Rejected(String),
    Failed(String),
}

pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let api = args.api.trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()?;
    let api = Api {
        http: http.clone(),
        base: api,
        key: args.key.clone().filter(|k| !k.trim().is_empty()),
    };
    let config: ConfigResponse = get_json(api.request(reqwest::Method::GET, "/api/config"))
        .await
        .with_context(|| format!("cannot reach the fitbox API at {}", api.base))?;
    if config.access.upload_needs_caller && api.key.is_none() {
        bail!(
            "the API at {} takes uploads from signed-in callers only ({} mode): set FITBOX_KEY \
             to an upload key (`fitbox key create` on the server's side) or pass --key",
            api.base,
            config.access.mode
        );
    }
    let limits = config.options().limits;

    // 1. Read and guard every file locally.
    let mut outcomes: Vec<Option<Outcome>> = Vec::new();
    let mut to_send = Vec::new();
    for (i, path) in args.files.iter().enumerate() {
        outcomes.push(None);
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                outcomes[i] = Some(Outcome::Failed(format!("cannot read: {e}")));
                continue;
            }
        };
        match fitbox_core::probe(&bytes, &limits) {
            Ok(p) => to_send.push((i, p.format.media_type(), bytes)),
            Err(e) => outcomes[i] = Some(Outcome::Rejected(e.to_string())),
        }
    }

    // 2. Ticket, PUT with progress, then wait for the result; a few files at a time. Each file
    //    asks for its ticket just before sending, so a long queue never outlives a URL.
    let bars = MultiProgress::new();
    let style =
        ProgressStyle::with_template("{prefix:30!} {bar:30} {bytes:>10}/{total_bytes:10} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    let wait = Duration::from_secs(args.wait_secs);
    let jobs = to_send.into_iter().map(|(i, media_type, bytes)| {
        let request = UploadRequest {
            filename: args.files[i]
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            content_type: media_type.to_string(),
            size: bytes.len() as u64,
        };
        let bar = bars.add(ProgressBar::new(bytes.len() as u64));
        bar.set_style(style.clone());
        bar.set_prefix(args.files[i].display().to_string());
        let (http, api) = (http.clone(), api.clone());
        async move {
            let outcome = match ticket(&api, &request).await {
                Ok(ticket) => send_one(&http, &api, ticket, bytes, &bar, wait).await,
                Err(e) => Outcome::Failed(format!("{e:#}")),
            };
            bar.finish_and_clear();
            (i, outcome)
        }
    });
    let mut stream = futures_util::stream::iter(jobs).buffer_unordered(args.parallel.max(1));
    while let Some((i, outcome)) = stream.next().await {
        outcomes[i] = Some(outcome);
    }

    // 3. One line per file, in the order given.
    let mut failed = false;
    for (path, outcome) in args.files.iter().zip(outcomes) {
        let name = path.display().to_string();
        let outcome = outcome.unwrap_or(Outcome::Failed("not processed".into()));
        failed |= !matches!(outcome, Outcome::Ready { .. });
        if args.json {
            let v = match &outcome {
                Outcome::Ready {
                    url,
                    width,
                    height,
                    bytes,
                    id,
                } => serde_json::json!({
                    "file": name, "status": "ready", "id": id, "url": url,
                    "width": width, "height": height, "bytes": bytes }),
                Outcome::Rejected(r) => {
                    serde_json::json!({"file": name, "status": "rejected", "reason": r})
                }
                Outcome::Failed(r) => {
                    serde_json::json!({"file": name, "status": "failed", "reason": r})
                }
            };
            println!("{v}");
        } else {
            match outcome {
                Outcome::Ready {
                    url,
                    width,
                    height,
                    bytes,
                    ..
                } => {
                    println!("{name}: ready {width}x{height} {bytes} bytes {url}")
                }
                Outcome::Rejected(r) => println!("{name}: rejected: {r}"),
                Outcome::Failed(r) => println!("{name}: failed: {r}"),
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn ticket(api: &Api, req: &UploadRequest) -> anyhow::Result<UploadTicket> {
    let resp = api
        .request(reqwest::Method::POST, "/api/uploads")
        .json(req)
        .send()
        .await
        .context("cannot ask for an upload ticket")?;
    json_or_error(resp).await.context("upload ticket refused")
}

async fn send_one(
    http: &reqwest::Client,
    api: &Api,
    ticket: UploadTicket,
    bytes: Vec<u8>,
    bar: &ProgressBar,
    wait: Duration,
) -> Outcome {
    // Stream the body in 64 KiB pieces so the bar moves as bytes leave.
    let total = bytes.len() as u64;
    let data = bytes::Bytes::from(bytes);
    let chunks: Vec<bytes::Bytes> = (0..data.len())
        .step_by(64 * 1024)
        .map(|start| data.slice(start..(start + 64 * 1024).min(data.len())))
        .collect();
    let progress = bar.clone();
    let body = futures_util::stream::iter(chunks).map(move |c| {
        progress.inc(c.len() as u64);
        Ok::<_, std::io::Error>(c)
    });
    let mut req = http.put(&ticket.url).body(reqwest::Body::wrap_stream(body));
    for (k, v) in &ticket.headers {
        req = req.header(k, v);
    }
    // reqwest sends a streamed body chunked unless told the length; S3 signed it.
    req = req.header(reqwest::header::CONTENT_LENGTH, total);
    match req.send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            return Outcome::Failed(format!("upload refused ({status}): {}", text.trim()));
        }
        Err(e) => return Outcome::Failed(format!("upload failed: {e}")),
    }
    bar.set_message("processing");
    let deadline = Instant::now() + wait;
    let mut delay = Duration::from_millis(100);
    loop {
        let status = api.request(reqwest::Method::GET, &format!("/api/uploads/{}", ticket.id));
        match get_json::<UploadStatus>(status).await {
            Ok(UploadStatus {
                state: UploadState::Ready { image },
                ..
            }) => {
                return Outcome::Ready {
                    url: image.url,
                    width: image.width,
                    height: image.height,
                    bytes: image.bytes,
                    id: ticket.id,
                }
            }
            Ok(UploadStatus {
                state: UploadState::Rejected { reason, .. },
                ..
            }) => return Outcome::Rejected(reason),
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "status poll failed; retrying"),
        }
        if Instant::now() > deadline {
            return Outcome::Failed(format!("no result after {} s", wait.as_secs()));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    req: reqwest::RequestBuilder,
) -> anyhow::Result<T> {
    json_or_error(req.send().await?).await
}

async fn json_or_error<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
) -> anyhow::Result<T> {
    let status = resp.status();
    let text = resp.text().await?;
    if status.is_success() {
        return serde_json::from_str(&text).with_context(|| format!("unexpected answer: {text}"));
    }
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(e) => bail!("{status}: {} ({})", e.error.message, e.error.code),
        Err(_) => bail!("{status}: {}", text.trim()),
    }
}
