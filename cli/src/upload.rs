//! `fitbox upload FILE... [--api URL]`: the script client.
//!
//! Each file is checked with fitbox-core's guard first (with the server's own limits from
//! `GET /api/config`), so a file the server would refuse is reported at once and never sent;
//! the check reads a file's first [`HEAD_BYTES`] (all of it only when its header lies further).
//! The rest go `--parallel` at a time: each asks for its own ticket (`POST /api/uploads`, one per
//! file, just before sending, so a long list never outlives a signed URL), is streamed from disk
//! to its signed URL with a progress bar (memory stays a few chunks per upload, whatever the
//! files weigh), and is followed with `GET /api/uploads/{id}` until ready or rejected. `-` reads
//! one image from standard input (named by `--name`). One line per file on stdout, in the order
//! given (`FILE: ready WxH BYTES bytes URL`, `FILE: rejected: REASON` or `FILE: failed: WHY`;
//! `--json`: one object per line). Exit status: [`EXIT_CODES`].

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fitbox_api::{
    ConfigResponse, ErrorBody, UploadRequest, UploadState, UploadStatus, UploadTicket,
};
use futures_util::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// The exit status of `fitbox upload`, shown by `fitbox upload --help`.
pub(crate) const EXIT_CODES: &str = "Exit status: 0 every file is in the gallery; 1 at least one \
file failed: it could not be read, the API or the storage could not be reached or refused the \
request, or no thumbnail came in time (trying again may help; the API itself being unreachable \
is 1 too); 2 a bad flag or argument; 3 no file failed, but at least one image was refused (not \
an image, corrupt, or over a limit, found before sending or by the server's resize; sending it \
again will not help).";

/// How much of a file is read to check it before it is sent.
pub(crate) const HEAD_BYTES: u64 = 256 * 1024;

/// Bytes per piece of a streamed upload (the progress bar moves a piece at a time).
const CHUNK_BYTES: usize = 64 * 1024;

#[derive(clap::Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub(crate) struct Args {
    /// Image files to upload, or - for one image from standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The file name to give the image read from standard input (`-`).
    #[arg(long, default_value = "stdin")]
    name: String,
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

/// Where a checked file's bytes come from when it is sent.
enum Body {
    /// Streamed from this file when its turn comes.
    File(PathBuf),
    /// Standard input, read (up to one byte over the limit) before the checks.
    Memory(bytes::Bytes),
}

/// A file that passed the guard, ready to send.
struct Checked {
    index: usize,
    media_type: &'static str,
    size: u64,
    body: Body,
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
    if args.files.iter().filter(|p| is_dash(p)).count() > 1 {
        eprintln!("fitbox upload: - (standard input) can be given once");
        return Ok(ExitCode::from(2));
    }
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

    // 1. Guard every file locally, reading no more of it than the check needs.
    let mut outcomes: Vec<Option<Outcome>> = Vec::new();
    let mut to_send = Vec::new();
    for (index, path) in args.files.iter().enumerate() {
        outcomes.push(None);
        let checked = if is_dash(path) {
            read_stdin(limits.max_bytes).and_then(|bytes| {
                let bytes = bytes::Bytes::from(bytes);
                guard(
                    &bytes,
                    bytes.len() as u64,
                    &limits,
                    Body::Memory(bytes.clone()),
                )
            })
        } else {
            check_file(path, &limits)
        };
        match checked {
            Ok((media_type, size, body)) => to_send.push(Checked {
                index,
                media_type,
                size,
                body,
            }),
            Err(outcome) => outcomes[index] = Some(outcome),
        }
    }

    // 2. Ticket, PUT with progress, then wait for the result; a few files at a time. Each file
    //    asks for its ticket just before sending, so a long queue never outlives a URL.
    let bars = MultiProgress::new();
    let style =
        ProgressStyle::with_template("{prefix:30!} {bar:30} {bytes:>10}/{total_bytes:10} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    let wait = Duration::from_secs(args.wait_secs);
    let jobs = to_send.into_iter().map(|file| {
        let request = UploadRequest {
            filename: upload_name(&args.files[file.index], &args.name),
            content_type: file.media_type.to_string(),
            size: file.size,
        };
        let bar = bars.add(ProgressBar::new(file.size));
        bar.set_style(style.clone());
        bar.set_prefix(display_name(&args.files[file.index], &args.name));
        let (http, api) = (http.clone(), api.clone());
        async move {
            let outcome = match ticket(&api, &request).await {
                Ok(ticket) => send_one(&http, &api, ticket, &file, &bar, wait).await,
                Err(e) => Outcome::Failed(format!("{e:#}")),
            };
            bar.finish_and_clear();
            (file.index, outcome)
        }
    });
    let mut stream = futures_util::stream::iter(jobs).buffer_unordered(args.parallel.max(1));
    while let Some((i, outcome)) = stream.next().await {
        outcomes[i] = Some(outcome);
    }

    // 3. One line per file, in the order given.
    let (mut failed, mut refused) = (false, false);
    for (path, outcome) in args.files.iter().zip(outcomes) {
        let name = display_name(path, &args.name);
        let outcome = outcome.unwrap_or(Outcome::Failed("not processed".into()));
        failed |= matches!(outcome, Outcome::Failed(_));
        refused |= matches!(outcome, Outcome::Rejected(_));
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
    } else if refused {
        ExitCode::from(crate::thumbnail::EXIT_REFUSED)
    } else {
        ExitCode::SUCCESS
    })
}

fn is_dash(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// How a file is named in the output and to the API: `--name` for standard input.
fn display_name(path: &Path, stdin_name: &str) -> String {
    if is_dash(path) {
        stdin_name.to_string()
    } else {
        path.display().to_string()
    }
}

/// The file name sent to the API (its last component; `--name` for standard input).
fn upload_name(path: &Path, stdin_name: &str) -> String {
    if is_dash(path) {
        stdin_name.to_string()
    } else {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Standard input, at most one byte over `max_bytes` (the guard then names the limit).
fn read_stdin(max_bytes: u64) -> Result<Vec<u8>, Outcome> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| Outcome::Failed(format!("cannot read standard input: {e}")))?;
    Ok(buf)
}

/// The guard on `head` (the first bytes of a file of `size` bytes, or all of them).
fn guard(
    head: &[u8],
    size: u64,
    limits: &fitbox_core::Limits,
    body: Body,
) -> Result<(&'static str, u64, Body), Outcome> {
    let refuse = |e: fitbox_core::Error| Outcome::Rejected(e.to_string());
    if size > limits.max_bytes {
        return Err(refuse(fitbox_core::Error::TooManyBytes {
            size,
            limit: limits.max_bytes,
        }));
    }
    let probe = fitbox_core::probe(head, limits).map_err(refuse)?;
    Ok((probe.format.media_type(), size, body))
}

/// Check a file from its first [`HEAD_BYTES`]; when the guard cannot decide from those (a header
/// further in, behind large metadata), from the whole file, which is then dropped again.
fn check_file(
    path: &Path,
    limits: &fitbox_core::Limits,
) -> Result<(&'static str, u64, Body), Outcome> {
    let cannot_read = |e: std::io::Error| Outcome::Failed(format!("cannot read: {e}"));
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    let size = file.metadata().map_err(cannot_read)?.len();
    let mut head = Vec::new();
    file.take(HEAD_BYTES)
        .read_to_end(&mut head)
        .map_err(cannot_read)?;
    let body = || Body::File(path.to_owned());
    match guard(&head, size, limits, body()) {
        Err(Outcome::Rejected(_)) if (head.len() as u64) < size && size <= limits.max_bytes => {
            let whole = std::fs::read(path).map_err(cannot_read)?;
            guard(&whole, size, limits, body())
        }
        checked => checked,
    }
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
    file: &Checked,
    bar: &ProgressBar,
    wait: Duration,
) -> Outcome {
    let progress = bar.clone();
    let count = move |c: Result<bytes::Bytes, std::io::Error>| {
        if let Ok(c) = &c {
            progress.inc(c.len() as u64);
        }
        c
    };
    let body = match &file.body {
        Body::File(path) => match tokio::fs::File::open(path).await {
            Ok(f) => reqwest::Body::wrap_stream(
                tokio_util::io::ReaderStream::with_capacity(f, CHUNK_BYTES).map(count),
            ),
            Err(e) => return Outcome::Failed(format!("cannot read: {e}")),
        },
        Body::Memory(data) => {
            let chunks: Vec<_> = (0..data.len())
                .step_by(CHUNK_BYTES)
                .map(|start| Ok(data.slice(start..(start + CHUNK_BYTES).min(data.len()))))
                .collect();
            reqwest::Body::wrap_stream(futures_util::stream::iter(chunks).map(count))
        }
    };
    let mut req = http.put(&ticket.url).body(body);
    for (k, v) in &ticket.headers {
        req = req.header(k, v);
    }
    // reqwest sends a streamed body chunked unless told the length; S3 signed it (a file that
    // changed size since it was checked is refused by the storage, and reported as failed).
    req = req.header(reqwest::header::CONTENT_LENGTH, file.size);
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
