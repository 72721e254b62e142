//! fitbox-resize: the authoritative resize. One S3 "object created" record in, one thumbnail
//! out, nothing lost on the way.
//!
//! For each record ([`process_record`]):
//!
//! 1. **Decode the key** as S3 sends it (`+` is a space, `%XX` a byte; [`decode_key`]). Keys
//!    outside `uploads/` of the upload bucket are ignored with a log line, so the function can
//!    never trigger itself.
//! 2. **GetObject** the original and check its `Content-Length` against
//!    `FITBOX_MAX_BYTES` before reading the body (bodies are also cut off at the limit).
//!    A missing original is a repeated delivery when its thumbnail (`images/NAME/`) or its
//!    `rejected/NAME` copy exists: [`Outcome::AlreadyDone`].
//!    An original whose id already has a thumbnail or a refusal is a ticket URL used again after
//!    the resize (the ticket's `If-None-Match: *` only holds while the original waits): it is
//!    deleted without a decode ([`Outcome::AlreadyDone`]). An original whose id has a tombstone
//!    (`deleted/NAME`, left by `DELETE /api/images/{id}`) is deleted too ([`Outcome::Deleted`]);
//!    the tombstone is looked for again after the thumbnail is written, and what this run wrote
//!    is taken back if the image was deleted meanwhile.
//! 3. **`fitbox_core::thumbnail_observed`** on a blocking thread, timing each stage.
//! 4. **PutObject** the owner record `owners/NAME` in the upload bucket: an empty object whose
//!    metadata `owner` and `filename` are the original's (the presign API signed them into the
//!    upload), so the API can tell who may delete the image. Written first, so every thumbnail
//!    has one.
//! 5. **PutObject** the thumbnail to the resized bucket at `images/NAME/{w}x{h}.{ext}`
//!    (deterministic, so a repeated event rewrites the same object) with its `Content-Type`,
//!    `Cache-Control: public, max-age=31536000, immutable` and metadata `width`, `height`,
//!    `source-format`, `source-width`, `source-height` and `pixel-sha256`. Nothing identifying
//!    (file name, owner) goes on the thumbnail: anyone who sees the picture sees its headers.
//! 6. Only then **DeleteObject** the original.
//!
//! Input fitbox-core refuses (corrupt, truncated, not an image, unsupported, over a limit) is
//! **moved** to `rejected/NAME` in the upload bucket: CopyObject with metadata `reason`
//! (the error message, ASCII-safe, at most 1 KiB), `reason-code` (`Error::code`), `filename`
//! and `owner`, then DeleteObject of the original; the record succeeds (a retry cannot help).
//!
//! Anything else (S3 errors, throttling, timeouts, a failed body read) is a
//! [`TransientError`]: the original stays where it was and [`handle_event`] returns an error so
//! Lambda retries the event.
//!
//! Every step is idempotent, so duplicate and concurrent deliveries of one record converge:
//! the same thumbnail bytes under the same key, one original deleted (deleting a missing key
//! succeeds).
//!
//! Logs are `tracing` events (JSON in Lambda): key, source size, format and dimensions, output
//! dimensions and size, and milliseconds spent downloading, decoding, resizing, converting
//! colour and turning upright, encoding (the stages of `fitbox_core::thumbnail_observed`, and
//! their sum `thumbnail_ms`), uploading and deleting ([`Timings`]).
//!
//! Configuration: see [`config`] (environment variables and their defaults).
//!
//! The S3 calls need: GetObject and DeleteObject on `uploads/*`, PutObject on `rejected/*`
//! and `owners/*` (CopyObject reads the source with GetObject), PutObject on the resized
//! bucket's `images/*`,
//! and ListBucket on both buckets (a repeated delivery is recognised by listing, so no
//! GetObject permission on `rejected/*` is needed, and a missing key is 404, not 403).

pub mod config;
mod key;

use std::time::{Duration, Instant};

use aws_lambda_events::s3::S3Event;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::MetadataDirective;
use fitbox_api::keys::{self, meta};
use fitbox_service::ms_f64 as ms;
use fitbox_service::s3::Timeouts;

pub use config::{parse_s3_timeout, Config, ConfigError, DEFAULT_S3_TIMEOUT, MAX_S3_TIMEOUT};
pub use key::{copy_source, decode_key, encode_key, metadata_safe, KeyError, MAX_REASON_BYTES};

/// `Cache-Control` of every thumbnail: its key changes whenever its content could.
pub const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// Time spent in each stage of a resize.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// GetObject until the last body byte.
    pub download: Duration,
    /// `fitbox_core::thumbnail`: guard, decode, resize, colour, orient, encode.
    pub thumbnail: Duration,
    /// Of `thumbnail`, up to [`fitbox_core::Stage::Decoded`]: header check and decode.
    pub decode: Duration,
    /// Of `thumbnail`, up to [`fitbox_core::Stage::Resized`]: resampling to the fitted size.
    pub resize: Duration,
    /// Of `thumbnail`, up to [`fitbox_core::Stage::Oriented`]: conversion to sRGB, turning
    /// upright and the pixel hash.
    pub color: Duration,
    /// Of `thumbnail`, up to [`fitbox_core::Stage::Encoded`]: JPEG or PNG encoding.
    pub encode: Duration,
    /// PutObject of the thumbnail.
    pub upload: Duration,
    /// DeleteObject of the original.
    pub delete: Duration,
    /// The whole record.
    pub total: Duration,
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The thumbnail was written and the original deleted.
    Resized(Resized),
    /// fitbox-core refused the input; the original now lives at `rejected_key`.
    Rejected {
        /// Where the refused original now lives.
        rejected_key: String,
        /// `fitbox_core::Error::code`.
        code: String,
        /// The error message (as written to metadata, ASCII-safe).
        reason: String,
    },
    /// A repeated delivery: the original is gone and `found` (thumbnail or rejected copy)
    /// exists.
    AlreadyDone {
        /// The key found.
        found: String,
    },
    /// The original is gone and nothing was made from it (deleted by someone else).
    Missing,
    /// The image was deleted (`deleted/NAME` exists): the original, and anything this run made
    /// before it saw the tombstone, were removed.
    Deleted,
    /// Not for this function (key outside `uploads/`, another bucket, an undecodable key).
    Ignored {
        /// Why it was ignored.
        why: String,
    },
}

/// A finished resize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resized {
    /// Key of the thumbnail in the resized bucket.
    pub thumbnail_key: String,
    /// Thumbnail width.
    pub width: u32,
    /// Thumbnail height.
    pub height: u32,
    /// Encoded size of the thumbnail.
    pub bytes: u64,
    /// Size of the original.
    pub source_bytes: u64,
    /// What the original was.
    pub source: fitbox_core::SourceInfo,
    /// SHA-256 (hex) of the thumbnail's RGBA pixels.
    pub pixel_sha256: String,
    /// How long each step took.
    pub timings: Timings,
}

/// A failure a retry may fix. The original is left where it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransientError {
    /// An S3 call failed (network, throttling, 5xx, permissions).
    #[error("S3 {op} s3://{bucket}/{key} failed: {message}")]
    S3 {
        /// The S3 operation (`GetObject`, ...).
        op: &'static str,
        /// Its bucket.
        bucket: String,
        /// Its key.
        key: String,
        /// S3 error code (`SlowDown`, `InternalError`, ...), when the service answered.
        code: Option<String>,
        /// The error, with the SDK's context.
        message: String,
    },
    /// Reading the original's body failed part way.
    #[error("reading s3://{bucket}/{key} failed: {message}")]
    Download {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What failed.
        message: String,
    },
    /// fitbox-core failed for a reason that is not the input's fault.
    #[error("thumbnail of {key} failed: {source}")]
    Pipeline {
        /// The original's key.
        key: String,
        /// The pipeline's error.
        source: fitbox_core::Error,
    },
    /// The blocking resize task did not finish (panicked or was cancelled).
    #[error("thumbnail task of {key} did not finish: {message}")]
    Task {
        /// The original's key.
        key: String,
        /// What happened to the task.
        message: String,
    },
}

impl TransientError {
    fn s3<E, R>(op: &'static str, bucket: &str, key: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        TransientError::S3 {
            op,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            code: err.code().map(str::to_owned),
            message: DisplayErrorContext(&err).to_string(),
        }
    }
}

/// Why [`handle_event`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Some records hit transient failures; the event should be retried (every record is
    /// idempotent, so the ones that succeeded are harmless to redo).
    #[error("{failed} of {total} records failed (retry the event); first: {first}")]
    Transient {
        /// Records that failed.
        failed: usize,
        /// Records in the event.
        total: usize,
        /// The first failure.
        first: TransientError,
    },
}

/// Build the S3 client: the AWS default chain (environment, profile, IMDS/ECS, region), the
/// timeouts of [`Timeouts::per_attempt`] for [`Config::s3_timeout`], and when
/// [`Config::s3_endpoint`] is set, that endpoint in path style.
pub async fn s3_client(cfg: &Config) -> aws_sdk_s3::Client {
    let sdk = fitbox_service::s3::aws_config().await;
    let timeouts = Timeouts::per_attempt(cfg.s3_timeout);
    let conf = fitbox_service::s3::s3_config(&sdk, timeouts, cfg.s3_endpoint.as_deref());
    aws_sdk_s3::Client::from_conf(conf.build())
}

/// What a Lambda invocation of the resize function can receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// An S3 event notification.
    Records(S3Event),
    /// The `s3:TestEvent` S3 sends once when a notification is configured (no records).
    TestEvent,
}

/// Parse an invocation payload: an S3 event, or S3's one-off test event.
pub fn parse_event(payload: serde_json::Value) -> Result<Incoming, serde_json::Error> {
    if payload.get("Records").is_none()
        && payload.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent")
    {
        return Ok(Incoming::TestEvent);
    }
    serde_json::from_value(payload).map(Incoming::Records)
}

/// Process every record of an S3 event. Records that are not `ObjectCreated:*` are skipped.
/// Returns an error when any record hit a transient failure (after trying all of them).
pub async fn handle_event(
    s3: &aws_sdk_s3::Client,
    cfg: &Config,
    event: &S3Event,
) -> Result<(), Error> {
    let total = event.records.len();
    let mut failures = Vec::new();
    for record in &event.records {
        let name = record.event_name.as_deref().unwrap_or("ObjectCreated:");
        if !name.trim_start_matches("s3:").starts_with("ObjectCreated:") {
            tracing::info!(event_name = name, "not an object-created record; ignored");
            continue;
        }
        let (Some(bucket), Some(raw_key)) = (
            record.s3.bucket.name.as_deref(),
            record.s3.object.key.as_deref(),
        ) else {
            tracing::warn!("record without bucket name or object key; ignored");
            continue;
        };
        if let Err(e) = process_record(s3, cfg, bucket, raw_key).await {
            tracing::error!(
                bucket,
                raw_key,
                error = %e,
                "record failed; the event will be retried"
            );
            failures.push(e);
        }
    }
    let failed = failures.len();
    match failures.into_iter().next() {
        None => Ok(()),
        Some(first) => Err(Error::Transient {
            failed,
            total,
            first,
        }),
    }
}

/// Process one record: `bucket` and the object key exactly as the S3 event carries it
/// (URL-encoded). See the crate docs for the steps.
pub async fn process_record(
    s3: &aws_sdk_s3::Client,
    cfg: &Config,
    bucket: &str,
    key_as_s3_sends_it: &str,
) -> Result<Outcome, TransientError> {
    let started = Instant::now();
    let key = match decode_key(key_as_s3_sends_it) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(
                bucket,
                raw_key = key_as_s3_sends_it,
                error = %e,
                "undecodable key; ignored"
            );
            return Ok(Outcome::Ignored { why: e.to_string() });
        }
    };
    if bucket != cfg.upload_bucket {
        let why = format!(
            "bucket {bucket} is not the upload bucket {}",
            cfg.upload_bucket
        );
        tracing::warn!(bucket, key = %key, "{why}; ignored");
        return Ok(Outcome::Ignored { why });
    }
    if keys::upload_name(&key).is_none() {
        let why = format!("key is outside {}", keys::UPLOAD_PREFIX);
        tracing::info!(bucket, key = %key, "{why}; ignored");
        return Ok(Outcome::Ignored { why });
    }
    let max_bytes = cfg.options.limits.max_bytes;

    // ---- download, size checked first ----
    let t = Instant::now();
    let got = match s3.get_object().bucket(bucket).key(&key).send().await {
        Ok(o) => o,
        Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => {
            return gone(s3, cfg, &key).await;
        }
        Err(e) => return Err(TransientError::s3("GetObject", bucket, &key, e)),
    };
    let original = Original {
        filename: got
            .metadata()
            .and_then(|m| m.get(meta::FILENAME))
            .map(|f| safe_filename(f)),
        owner: got
            .metadata()
            .and_then(|m| m.get(meta::OWNER))
            .map(|f| safe_filename(f)),
        content_type: got.content_type().map(str::to_owned),
        e_tag: got.e_tag().map(str::to_owned),
    };
    // A deleted image: whatever arrives under its id (a resize that was waiting, the upload URL
    // used again) is dropped, never resized.
    if is_deleted(s3, cfg, &key).await? {
        drop(got);
        delete_object(s3, bucket, &key).await?;
        tracing::warn!(key = %key, "the image was deleted; its upload was dropped");
        return Ok(Outcome::Deleted);
    }
    // Already processed: a run that stored the thumbnail but stopped before deleting the
    // original, or the ticket URL used again after the resize (its PUT carries
    // `If-None-Match: *`, which stops a second write only while the original still waits). The
    // thumbnail (or refusal) exists, so the original is deleted without a decode. Only for ids
    // the API made: a key copied in by hand may be a new picture under an old name.
    if keys::upload_name(&key).is_some_and(keys::is_valid_id) {
        if let Some(found) = already_done(s3, cfg, &key).await? {
            drop(got);
            delete_object(s3, bucket, &key).await?;
            tracing::warn!(
                key = %key,
                found = %found,
                "already processed (a restart after a crash, or the upload URL used again); \
                 the original is deleted without a new resize"
            );
            return Ok(Outcome::AlreadyDone { found });
        }
    }
    let declared = got.content_length().and_then(|n| u64::try_from(n).ok());
    if let Some(size) = declared.filter(|s| *s > max_bytes) {
        drop(got);
        let err = fitbox_core::Error::TooManyBytes {
            size,
            limit: max_bytes,
        };
        return reject(s3, cfg, &key, &err, &original).await;
    }
    let capacity = usize::try_from(declared.unwrap_or(0).min(max_bytes)).unwrap_or(0);
    let mut data = Vec::with_capacity(capacity);
    let mut body = got.body;
    // The SDK's attempt timeout ends when the headers arrive; the body gets its own deadline
    // (a stalled connection must not hold the function until its own timeout).
    let download_deadline = tokio::time::Instant::now() + cfg.s3_timeout;
    loop {
        let next = tokio::time::timeout_at(download_deadline, body.try_next()).await;
        let chunk = match next {
            Ok(Ok(Some(c))) => c,
            Ok(Ok(None)) => break,
            Ok(Err(e)) => {
                return Err(TransientError::Download {
                    bucket: bucket.to_owned(),
                    key,
                    message: DisplayErrorContext(&e).to_string(),
                })
            }
            Err(_) => {
                return Err(TransientError::Download {
                    bucket: bucket.to_owned(),
                    key,
                    message: format!(
                        "download not finished after {:?} (FITBOX_S3_TIMEOUT_SECS)",
                        cfg.s3_timeout
                    ),
                })
            }
        };
        let so_far = (data.len() + chunk.len()) as u64;
        if so_far > max_bytes {
            drop(body);
            let err = fitbox_core::Error::TooManyBytes {
                size: declared.unwrap_or(so_far).max(so_far),
                limit: max_bytes,
            };
            return reject(s3, cfg, &key, &err, &original).await;
        }
        data.extend_from_slice(&chunk);
    }
    let download = t.elapsed();
    let source_bytes = data.len() as u64;

    // ---- decode, resize, encode ----
    let t = Instant::now();
    let opts = cfg.options;
    let result = tokio::task::spawn_blocking(move || thumbnail_timed(&data, &opts))
        .await
        .map_err(|e| TransientError::Task {
            key: key.clone(),
            message: e.to_string(),
        })?;
    let (thumb, stages) = match result {
        Ok(t) => t,
        Err(e) if e.is_input_error() => return reject(s3, cfg, &key, &e, &original).await,
        Err(e) => return Err(TransientError::Pipeline { key, source: e }),
    };
    let thumbnail = t.elapsed();

    // ---- upload ----
    let Some(thumbnail_key) = keys::image_key(&key, thumb.width, thumb.height, thumb.format.ext())
    else {
        // upload_name was checked above; image_key derives from it.
        return Ok(Outcome::Ignored {
            why: format!("no thumbnail key for {key}"),
        });
    };
    let out_bytes = thumb.bytes.len() as u64;
    let t = Instant::now();
    if let Some(owner_key) = keys::owner_key(&key) {
        let mut record = s3
            .put_object()
            .bucket(bucket)
            .key(&owner_key)
            .content_type("application/octet-stream");
        if let Some(o) = &original.owner {
            record = record.metadata(meta::OWNER, o);
        }
        if let Some(f) = &original.filename {
            record = record.metadata(meta::FILENAME, f);
        }
        record
            .body(ByteStream::from_static(b""))
            .send()
            .await
            .map_err(|e| TransientError::s3("PutObject", bucket, &owner_key, e))?;
    }
    let put = s3
        .put_object()
        .bucket(&cfg.resized_bucket)
        .key(&thumbnail_key)
        .content_type(thumb.media_type())
        .cache_control(CACHE_CONTROL)
        .metadata(meta::WIDTH, thumb.width.to_string())
        .metadata(meta::HEIGHT, thumb.height.to_string())
        .metadata(meta::SOURCE_FORMAT, thumb.source.format.id())
        .metadata(meta::SOURCE_WIDTH, thumb.source.width.to_string())
        .metadata(meta::SOURCE_HEIGHT, thumb.source.height.to_string())
        .metadata(meta::PIXEL_SHA256, thumb.pixel_sha256.as_str());
    put.body(ByteStream::from(thumb.bytes))
        .send()
        .await
        .map_err(|e| TransientError::s3("PutObject", &cfg.resized_bucket, &thumbnail_key, e))?;
    let upload = t.elapsed();

    // Deleted while this run was working: take back what it wrote.
    if is_deleted(s3, cfg, &key).await? {
        delete_object(s3, &cfg.resized_bucket, &thumbnail_key).await?;
        if let Some(owner_key) = keys::owner_key(&key) {
            delete_object(s3, bucket, &owner_key).await?;
        }
        delete_object(s3, bucket, &key).await?;
        tracing::warn!(key = %key, "the image was deleted while it was resized; nothing kept");
        return Ok(Outcome::Deleted);
    }

    // ---- only now: delete the original ----
    let t = Instant::now();
    delete_object(s3, bucket, &key).await?;
    let delete = t.elapsed();

    let timings = Timings {
        download,
        thumbnail,
        decode: stages.decode,
        resize: stages.resize,
        color: stages.color,
        encode: stages.encode,
        upload,
        delete,
        total: started.elapsed(),
    };
    tracing::info!(
        key = %key,
        thumbnail_key = %thumbnail_key,
        source_bytes,
        source_format = thumb.source.format.id(),
        source_width = thumb.source.width,
        source_height = thumb.source.height,
        orientation = thumb.source.orientation.exif(),
        width = thumb.width,
        height = thumb.height,
        output_bytes = out_bytes,
        download_ms = ms(download),
        thumbnail_ms = ms(thumbnail),
        decode_ms = ms(stages.decode),
        resize_ms = ms(stages.resize),
        color_ms = ms(stages.color),
        encode_ms = ms(stages.encode),
        upload_ms = ms(upload),
        delete_ms = ms(delete),
        total_ms = ms(timings.total),
        "resized"
    );
    Ok(Outcome::Resized(Resized {
        thumbnail_key,
        width: thumb.width,
        height: thumb.height,
        bytes: out_bytes,
        source_bytes,
        source: thumb.source,
        pixel_sha256: thumb.pixel_sha256,
        timings,
    }))
}

/// The stages of one `fitbox_core::thumbnail` call.
#[derive(Default)]
struct Stages {
    decode: Duration,
    resize: Duration,
    color: Duration,
    encode: Duration,
}

/// `fitbox_core::thumbnail`, timing each stage with the pipeline's observer.
fn thumbnail_timed(
    data: &[u8],
    opts: &fitbox_core::Options,
) -> Result<(fitbox_core::Thumbnail, Stages), fitbox_core::Error> {
    use fitbox_core::Stage;
    let mut stages = Stages::default();
    let mut last = Instant::now();
    let thumb = fitbox_core::thumbnail_observed(data, opts, &mut |stage| {
        let now = Instant::now();
        let spent = now - last;
        last = now;
        match stage {
            Stage::Probed | Stage::Decoded => stages.decode += spent,
            Stage::Resized => stages.resize += spent,
            Stage::Coloured | Stage::Oriented => stages.color += spent,
            Stage::Encoded => stages.encode += spent,
            _ => {}
        }
    })?;
    Ok((thumb, stages))
}

/// What the original carried that the thumbnail or the rejected copy keeps.
struct Original {
    filename: Option<String>,
    owner: Option<String>,
    content_type: Option<String>,
    e_tag: Option<String>,
}

/// The presign API writes `filename` already sanitised; anything else (an upload made some
/// other way) is made safe again.
fn safe_filename(f: &str) -> String {
    if f.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        f.to_owned()
    } else {
        keys::sanitize_filename(f)
    }
}

/// The original is gone: a repeated delivery if its result exists.
async fn gone(s3: &aws_sdk_s3::Client, cfg: &Config, key: &str) -> Result<Outcome, TransientError> {
    match already_done(s3, cfg, key).await? {
        Some(found) => {
            tracing::info!(key, found = %found, "original already processed; repeated delivery");
            Ok(Outcome::AlreadyDone { found })
        }
        None => {
            tracing::warn!(key, "original is gone and nothing was made from it");
            Ok(Outcome::Missing)
        }
    }
}

/// Whether `DELETE /api/images/{id}` left a tombstone for this upload (`deleted/NAME`; one
/// listing, which needs only ListBucket). Only ids the API made can be deleted through it.
async fn is_deleted(
    s3: &aws_sdk_s3::Client,
    cfg: &Config,
    key: &str,
) -> Result<bool, TransientError> {
    if !keys::upload_name(key).is_some_and(keys::is_valid_id) {
        return Ok(false);
    }
    let Some(tombstone) = keys::deleted_key(key) else {
        return Ok(false);
    };
    let out = s3
        .list_objects_v2()
        .bucket(&cfg.upload_bucket)
        .prefix(&tombstone)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| TransientError::s3("ListObjectsV2", &cfg.upload_bucket, &tombstone, e))?;
    Ok(out
        .contents()
        .iter()
        .any(|o| o.key() == Some(tombstone.as_str())))
}

/// DeleteObject; a failure is transient (the record is retried).
async fn delete_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<(), TransientError> {
    s3.delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| TransientError::s3("DeleteObject", bucket, key, e))
}

/// The thumbnail (any object under `images/NAME/`) or the `rejected/NAME` copy, if one exists.
/// Listing needs only ListBucket, and a missing object is then an empty list, not a 403.
async fn already_done(
    s3: &aws_sdk_s3::Client,
    cfg: &Config,
    key: &str,
) -> Result<Option<String>, TransientError> {
    if let Some(prefix) = keys::image_prefix(key) {
        let out = s3
            .list_objects_v2()
            .bucket(&cfg.resized_bucket)
            .prefix(&prefix)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| TransientError::s3("ListObjectsV2", &cfg.resized_bucket, &prefix, e))?;
        if let Some(found) = out.contents().first().and_then(|o| o.key()) {
            return Ok(Some(found.to_owned()));
        }
    }
    if let Some(rejected) = keys::rejected_key(key) {
        // `rejected/NAME` sorts before any longer key it prefixes, so one key suffices.
        let out = s3
            .list_objects_v2()
            .bucket(&cfg.upload_bucket)
            .prefix(&rejected)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| TransientError::s3("ListObjectsV2", &cfg.upload_bucket, &rejected, e))?;
        if out
            .contents()
            .iter()
            .any(|o| o.key() == Some(rejected.as_str()))
        {
            return Ok(Some(rejected));
        }
    }
    Ok(None)
}

/// Move a refused original to `rejected/NAME` with the reason; the record succeeds.
async fn reject(
    s3: &aws_sdk_s3::Client,
    cfg: &Config,
    key: &str,
    err: &fitbox_core::Error,
    original: &Original,
) -> Result<Outcome, TransientError> {
    let bucket = cfg.upload_bucket.as_str();
    let Some(rejected_key) = keys::rejected_key(key) else {
        return Ok(Outcome::Ignored {
            why: format!("key is outside {}", keys::UPLOAD_PREFIX),
        });
    };
    let reason = metadata_safe(&err.to_string());
    let mut copy = s3
        .copy_object()
        .bucket(bucket)
        .key(&rejected_key)
        .copy_source(copy_source(bucket, key))
        .metadata_directive(MetadataDirective::Replace)
        .metadata(meta::REASON, reason.as_str())
        .metadata(meta::REASON_CODE, err.code());
    if let Some(f) = &original.filename {
        copy = copy.metadata(meta::FILENAME, f);
    }
    if let Some(o) = &original.owner {
        copy = copy.metadata(meta::OWNER, o);
    }
    if let Some(ct) = &original.content_type {
        copy = copy.content_type(ct);
    }
    // Move the very object that was judged: a different one under the same key fails (412)
    // and the retry judges it afresh.
    if let Some(tag) = &original.e_tag {
        copy = copy.copy_source_if_match(tag);
    }
    match copy.send().await {
        Ok(_) => {}
        Err(e) if e.code() == Some("NoSuchKey") => return gone(s3, cfg, key).await,
        Err(e) => return Err(TransientError::s3("CopyObject", bucket, &rejected_key, e)),
    }
    delete_object(s3, bucket, key).await?;
    tracing::warn!(
        key,
        rejected_key = %rejected_key,
        code = err.code(),
        reason = %err,
        "rejected"
    );
    Ok(Outcome::Rejected {
        rejected_key,
        code: err.code().to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_events_are_recognised() {
        let v = serde_json::json!({
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2024-01-01T00:00:00.000Z",
            "Bucket": "b",
            "RequestId": "r",
            "HostId": "h"
        });
        assert_eq!(parse_event(v).expect("parse"), Incoming::TestEvent);
        assert!(parse_event(serde_json::json!({"foo": 1})).is_err());
    }

    #[test]
    fn filenames_stay_ascii() {
        assert_eq!(safe_filename("cat (1).jpg"), "cat (1).jpg");
        assert!(safe_filename("日本.jpg").is_ascii());
    }
}
