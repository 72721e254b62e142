//! The route handlers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::presigning::PresigningConfig;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use fitbox_api::keys;
use fitbox_api::time::rfc3339_ms;
use fitbox_api::{
    AccessInfo, ConfigResponse, ImageEntry, ImagePage, OidcInfo, UploadRequest, UploadState,
    UploadStatus, UploadTicket, ACCEPTED_TYPES,
};
use fitbox_service::whole_ms as ms;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{AccessMode, Caller, Role};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::{cursor, AppState};

/// Owner recorded for uploads in [`AccessMode::Open`], where nobody signs in.
pub const ANONYMOUS: &str = "anonymous";
/// Scopes the web app asks the OpenID issuer for.
pub const OIDC_SCOPES: &str = "openid email profile";

/// Most upload requests in one array body.
pub const MAX_BATCH: usize = 100;
/// Gallery page size when `limit` is not given.
pub const DEFAULT_PAGE: u32 = 30;
/// Largest gallery page.
pub const MAX_PAGE: u32 = 100;
/// How long after its ticket was issued an id with nothing uploaded yet still counts as
/// `pending`: the URL lifetime plus this allowance for a PUT that started just before expiry.
pub const PENDING_GRACE: Duration = Duration::from_secs(60);
/// Tolerated clock difference for ids that claim to be from the future.
const FUTURE_SKEW_MS: u64 = 60_000;

fn ms_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(ms).unwrap_or(0)
}

/// `GET /api/config`: the pipeline's settings and who may do what. Needs no caller in any
/// mode: the page reads it to know whether to offer sign-in.
pub async fn config(State(st): State<AppState>) -> Json<ConfigResponse> {
    let mut resp = ConfigResponse::from_options(&st.cfg.options);
    let mode = st.auth.mode;
    resp.access = AccessInfo {
        mode: mode.as_str().into(),
        upload_needs_caller: mode.changes_need_caller(),
        view_needs_caller: mode.viewing_needs_caller(),
        oidc: st.cfg.oidc.as_ref().map(|o| OidcInfo {
            issuer: o.issuer.clone(),
            client_id: o.client_id.clone(),
            scopes: OIDC_SCOPES.into(),
        }),
        upload_keys: !st.cfg.upload_keys.is_empty(),
    };
    Json(resp)
}

/// The owner recorded on an upload made by `caller` (anonymous in open mode).
fn owner_of(caller: Option<&Caller>) -> String {
    caller.map_or_else(|| ANONYMOUS.to_string(), |c| c.owner.clone())
}

/// `POST /api/uploads`: one request object gives one ticket, an array gives an array.
pub async fn create_uploads(
    State(st): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let caller = st
        .auth
        .require(&headers, st.auth.mode.changes_need_caller())
        .await?;
    let owner = owner_of(caller.as_ref());
    // Counted once the request is known to be valid (a refused request costs nothing), one
    // per file, before anything is signed.
    let take = |files: usize| match &st.limits {
        Some(limits) => limits.take(&headers, &extensions, caller.as_ref(), files),
        None => Ok(()),
    };
    match body {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(ApiError::EmptyBatch);
            }
            if items.len() > MAX_BATCH {
                return Err(ApiError::TooManyFiles {
                    count: items.len(),
                    max: MAX_BATCH,
                });
            }
            let item_err = |index| {
                move |e: ApiError| ApiError::Item {
                    index,
                    source: Box::new(e),
                }
            };
            let mut requests = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let req = parse_request(item)
                    .and_then(|r| validate(&st, r))
                    .map_err(item_err(index))?;
                requests.push(req);
            }
            take(requests.len())?;
            let mut tickets = Vec::with_capacity(requests.len());
            for (index, req) in requests.iter().enumerate() {
                tickets.push(
                    presign_put(&st, req, &owner)
                        .await
                        .map_err(item_err(index))?,
                );
            }
            Ok((StatusCode::CREATED, Json(tickets)).into_response())
        }
        Value::Object(_) => {
            let req = validate(&st, parse_request(body)?)?;
            take(1)?;
            let ticket = presign_put(&st, &req, &owner).await?;
            let location = format!("/api/uploads/{}", ticket.id);
            Ok((
                StatusCode::CREATED,
                [(header::LOCATION, location)],
                Json(ticket),
            )
                .into_response())
        }
        _ => Err(ApiError::InvalidBody(
            "expected an object {filename, content_type, size} or an array of them".into(),
        )),
    }
}

fn parse_request(mut v: Value) -> Result<UploadRequest, ApiError> {
    let Some(obj) = v.as_object_mut() else {
        return Err(ApiError::InvalidBody(
            "expected an object {filename, content_type, size}".into(),
        ));
    };
    // JSON has one number type: `1024.0` is the integer 1024 (as in JSON Schema).
    if let Some(size) = obj.get_mut("size") {
        if let Some(f) = size.as_f64().filter(|_| size.is_f64()) {
            if f.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&f) {
                *size = Value::from(f as u64);
            }
        }
    }
    serde_json::from_value(v).map_err(|e| ApiError::InvalidBody(e.to_string()))
}

fn validate(st: &AppState, req: UploadRequest) -> Result<UploadRequest, ApiError> {
    if !ACCEPTED_TYPES.contains(&req.content_type.as_str()) {
        let mut shown = req.content_type;
        shown.truncate(shown.floor_char_boundary(100));
        return Err(ApiError::UnsupportedMediaType(shown));
    }
    if req.size == 0 {
        return Err(ApiError::EmptyFile);
    }
    let max = st.cfg.options.limits.max_bytes;
    if req.size > max {
        return Err(ApiError::FileTooLarge {
            size: req.size,
            max,
        });
    }
    Ok(req)
}

/// The file name as it goes into the signed `x-amz-meta-filename` header: sanitised to
/// printable ASCII, with spaces percent-encoded too (SigV4 trims and folds spaces in header
/// values, which would make an honest upload fail its signature check).
pub fn filename_metadata(name: &str) -> String {
    keys::sanitize_filename(name).replace(' ', "%20")
}

async fn presign_put(
    st: &AppState,
    req: &UploadRequest,
    owner: &str,
) -> Result<UploadTicket, ApiError> {
    let now = st.clock.now();
    let now_ms = ms_since_epoch(now);
    let random = st
        .entropy
        .next_u64()
        .map_err(|e| ApiError::Internal(format!("no randomness for the id: {e}")))?;
    let id = keys::new_id(now_ms, random);
    let key = keys::upload_key(&id);
    let size = i64::try_from(req.size)
        .map_err(|_| ApiError::Internal("size does not fit a Content-Length".into()))?;
    let mut put = st
        .s3
        .put_object()
        .bucket(&st.cfg.upload_bucket)
        .key(&key)
        .content_length(size)
        .content_type(&req.content_type);
    let filename = filename_metadata(&req.filename);
    if !filename.is_empty() {
        put = put.metadata(keys::meta::FILENAME, filename);
    }
    // Signed like the rest: a client that changes or drops it fails S3's signature check.
    let owner = keys::encode_owner(owner).ok_or_else(|| {
        ApiError::Forbidden(format!(
            "the caller's name is over {} bytes; it cannot be recorded as an owner",
            keys::MAX_OWNER_BYTES
        ))
    })?;
    put = put.metadata(keys::meta::OWNER, owner);
    // One upload per ticket: S3 refuses (412) a second PUT while the first is stored, and the
    // resize function drops a copy that arrives after the thumbnail was made.
    put = put.if_none_match("*");
    let presigned = put
        .presigned(presigning(now, st.cfg.url_ttl)?)
        .await
        .map_err(|e| ApiError::Internal(format!("signing the upload failed: {e}")))?;
    let headers = presigned
        .headers()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    Ok(UploadTicket {
        id,
        key,
        method: "PUT".into(),
        url: presigned.uri().to_string(),
        headers,
        expires_at: rfc3339_ms(now_ms.saturating_add(ms(st.cfg.url_ttl))),
    })
}

fn presigning(start: SystemTime, ttl: Duration) -> Result<PresigningConfig, ApiError> {
    PresigningConfig::builder()
        .start_time(start)
        .expires_in(ttl)
        .build()
        .map_err(|e| ApiError::Internal(format!("presigning config: {e}")))
}

/// `GET /api/uploads/{id}`.
///
/// Looks, in order, for a thumbnail under `images/{id}/` (ready), `rejected/{id}` (rejected) and
/// `uploads/{id}` (pending). An id with none of these is `pending` while its ticket can still be
/// used (issued less than the URL lifetime plus [`PENDING_GRACE`] ago, per the time in the id),
/// else `404`.
pub async fn upload_status(
    State(st): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<UploadStatus>, ApiError> {
    let caller = st
        .auth
        .require(&headers, st.auth.mode.changes_need_caller())
        .await?;
    let id = valid_id(path)?;
    let found = |state| {
        Ok(Json(UploadStatus {
            id: id.clone(),
            state,
        }))
    };
    if let Some(state) = finished(&st, &id, caller.as_ref()).await? {
        return found(state);
    }
    if head(&st, &st.cfg.upload_bucket, &keys::upload_key(&id))
        .await?
        .is_some()
    {
        return found(UploadState::Pending);
    }
    let now_ms = ms_since_epoch(st.clock.now());
    let window = ms(st.cfg.url_ttl + PENDING_GRACE);
    let ticket_usable = keys::created_ms(&id).is_some_and(|created| {
        created <= now_ms.saturating_add(FUTURE_SKEW_MS) && now_ms <= created.saturating_add(window)
    });
    if ticket_usable {
        return found(UploadState::Pending);
    }
    // The resizer may have moved the original between the calls above: look once more.
    if let Some(state) = finished(&st, &id, caller.as_ref()).await? {
        return found(state);
    }
    Err(ApiError::UploadNotFound(id))
}

/// The id in the path, checked.
fn valid_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::InvalidPath(e.body_text()))?;
    if !keys::is_valid_id(&id) {
        let mut shown = id;
        shown.truncate(shown.floor_char_boundary(64));
        return Err(ApiError::InvalidId(shown));
    }
    Ok(id)
}

/// Ready or rejected, if the pipeline is done with `id`.
async fn finished(
    st: &AppState,
    id: &str,
    caller: Option<&Caller>,
) -> Result<Option<UploadState>, ApiError> {
    let prefix = format!("{}{id}/", keys::IMAGE_PREFIX);
    let listed = st
        .s3
        .list_objects_v2()
        .bucket(&st.cfg.resized_bucket)
        .prefix(&prefix)
        .max_keys(10)
        .send()
        .await
        .map_err(|e| ApiError::from_s3("ListObjectsV2", &e))?;
    let thumb = listed.contents().iter().find_map(|o| {
        let key = o.key()?;
        keys::parse_image_key(key)
            .filter(|k| k.name == id)
            .map(|k| (key.to_string(), k.width, k.height))
    });
    if let Some((key, width, height)) = thumb {
        if let Some(h) = head(st, &st.cfg.resized_bucket, &key).await? {
            let image = ImageEntry {
                id: id.to_string(),
                url: image_url(st, &key).await?,
                width,
                height,
                bytes: h.bytes,
                created: created(id, h.last_modified_ms),
                name: None,
                pixel_sha256: h.meta(keys::meta::PIXEL_SHA256),
                can_delete: false,
            };
            let image = with_owner_records(st, caller, vec![image]).await?.remove(0);
            return Ok(Some(UploadState::Ready { image }));
        }
    }
    let rejected = format!("{}{id}", keys::REJECTED_PREFIX);
    if let Some(h) = head(st, &st.cfg.upload_bucket, &rejected).await? {
        // The resizer always writes `reason-code`. Without it the copy is still being written
        // (the local store, s3s-fs, writes an object's metadata just after its data): pending.
        let Some(code) = h.meta(keys::meta::REASON_CODE) else {
            return Ok(None);
        };
        return Ok(Some(UploadState::Rejected {
            code,
            reason: h
                .meta(keys::meta::REASON)
                .map(|r| keys::decode_filename(&r))
                .unwrap_or_else(|| "the image could not be processed".into()),
        }));
    }
    Ok(None)
}

struct Head {
    bytes: u64,
    last_modified_ms: Option<u64>,
    metadata: std::collections::HashMap<String, String>,
}

impl Head {
    fn meta(&self, name: &str) -> Option<String> {
        self.metadata
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

/// HeadObject; `None` when the object does not exist.
async fn head(st: &AppState, bucket: &str, key: &str) -> Result<Option<Head>, ApiError> {
    match st.s3.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(Some(Head {
            bytes: out
                .content_length()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            last_modified_ms: out.last_modified().and_then(date_ms),
            metadata: out.metadata().cloned().unwrap_or_default(),
        })),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
        Err(e) => Err(ApiError::from_s3("HeadObject", &e)),
    }
}

fn date_ms(d: &aws_sdk_s3::primitives::DateTime) -> Option<u64> {
    u64::try_from(d.to_millis().ok()?).ok()
}

/// RFC 3339 creation time: from the id when it is one of ours, else the object's LastModified.
fn created(name: &str, last_modified_ms: Option<u64>) -> String {
    rfc3339_ms(
        keys::created_ms(name)
            .or(last_modified_ms)
            .unwrap_or_default(),
    )
}

/// Where a browser fetches a thumbnail: `{cdn}/{key}`, or a presigned GET (always in
/// [`AccessMode::Private`], whose images must not be reachable without a signature).
async fn image_url(st: &AppState, key: &str) -> Result<String, ApiError> {
    if let Some(base) = &st.cfg.cdn_base_url {
        if st.auth.mode != AccessMode::Private {
            return Ok(format!("{base}/{}", fitbox_api::percent::encode_path(key)));
        }
    }
    let presigned = st
        .s3
        .get_object()
        .bucket(&st.cfg.resized_bucket)
        .key(key)
        .presigned(presigning(st.clock.now(), st.cfg.image_url_ttl)?)
        .await
        .map_err(|e| ApiError::Internal(format!("signing the image URL failed: {e}")))?;
    Ok(presigned.uri().to_string())
}

/// Query of `GET /api/images`; values are checked by hand for precise errors.
#[derive(Debug, Deserialize)]
pub struct ImagesQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET /api/images?limit=&cursor=`: one `ListObjectsV2` call per page, newest first.
pub async fn list_images(
    State(st): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ImagesQuery>, QueryRejection>,
) -> Result<Json<ImagePage>, ApiError> {
    let caller = st
        .auth
        .require(&headers, st.auth.mode.viewing_needs_caller())
        .await?;
    let Query(q) = query.map_err(|e| ApiError::InvalidQuery(e.body_text()))?;
    let limit = match q.limit.as_deref() {
        None | Some("") => DEFAULT_PAGE,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                let mut shown = v.to_string();
                shown.truncate(shown.floor_char_boundary(32));
                ApiError::InvalidLimit {
                    value: shown,
                    max: MAX_PAGE,
                }
            })?,
    };
    let start_after = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(cursor::decode(c).ok_or(ApiError::InvalidCursor)?),
    };
    let max_keys = i32::try_from(limit).unwrap_or(DEFAULT_PAGE as i32);
    let out = st
        .s3
        .list_objects_v2()
        .bucket(&st.cfg.resized_bucket)
        .prefix(keys::IMAGE_PREFIX)
        .max_keys(max_keys)
        .set_start_after(start_after)
        .send()
        .await
        .map_err(|e| ApiError::from_s3("ListObjectsV2", &e))?;

    let mut images: Vec<ImageEntry> = Vec::with_capacity(out.contents().len());
    for obj in out.contents() {
        let Some(key) = obj.key() else { continue };
        let Some(parsed) = keys::parse_image_key(key) else {
            continue;
        };
        // A second thumbnail of the same upload (e.g. another box size) is not a second image.
        if images.last().is_some_and(|prev| prev.id == parsed.name) {
            continue;
        }
        images.push(ImageEntry {
            id: parsed.name.to_string(),
            url: image_url(&st, key).await?,
            width: parsed.width,
            height: parsed.height,
            bytes: obj.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
            created: created(parsed.name, obj.last_modified().and_then(date_ms)),
            name: None,
            pixel_sha256: None,
            can_delete: false,
        });
    }
    let images = with_owner_records(&st, caller.as_ref(), images).await?;
    let next_cursor = if out.is_truncated() == Some(true) {
        out.contents()
            .iter()
            .filter_map(|o| o.key())
            .next_back()
            .map(cursor::after_key)
    } else {
        None
    };
    Ok(Json(ImagePage {
        images,
        next_cursor,
    }))
}

/// What the owner records `owners/{id}` (read concurrently, one HeadObject each) say of the
/// images: their file names, and whether `caller` may delete each: everyone in open mode,
/// admins always, an uploader the images whose record names them, nobody else. The owner
/// itself is never shown.
async fn with_owner_records(
    st: &AppState,
    caller: Option<&Caller>,
    mut images: Vec<ImageEntry>,
) -> Result<Vec<ImageEntry>, ApiError> {
    let records =
        futures_util::future::join_all(images.iter().map(|i| owner_record(st, &i.id))).await;
    let everyone = st.auth.mode == AccessMode::Open;
    for (image, record) in images.iter_mut().zip(records) {
        let record = record?;
        image.name = record.name;
        image.can_delete = match caller {
            _ if everyone => true,
            Some(c) if c.role == Role::Admin => true,
            Some(c) => c.may_delete(record.owner.as_deref()),
            None => false,
        };
    }
    Ok(images)
}

/// What an owner record holds; all `None` when there is none.
#[derive(Default)]
struct OwnerRecord {
    owner: Option<String>,
    name: Option<String>,
}

/// The owner record `owners/{id}`, decoded.
async fn owner_record(st: &AppState, id: &str) -> Result<OwnerRecord, ApiError> {
    let key = format!("{}{id}", keys::OWNER_PREFIX);
    let Some(h) = head(st, &st.cfg.upload_bucket, &key).await? else {
        return Ok(OwnerRecord::default());
    };
    Ok(OwnerRecord {
        owner: h.meta(keys::meta::OWNER).map(|o| keys::decode_filename(&o)),
        name: h
            .meta(keys::meta::FILENAME)
            .map(|f| keys::decode_filename(&f))
            .filter(|f| !f.is_empty()),
    })
}

/// `DELETE /api/images/{id}`: leaves a tombstone `deleted/{id}`, then removes the thumbnails, any
/// original or refused copy and the owner record of `id`, when the caller owns it or is an admin
/// (anyone in open mode), then asks the CDN to drop its cached copies. `204` when done; `404`
/// when nothing is stored under `id`.
///
/// The owner comes from the owner record, else from the refused copy or the original still
/// waiting (whose metadata the ticket signed). Images with no owner anywhere (stored before
/// owners were recorded) are deleted by admins only. The owner record goes last, so a delete
/// that fails half-way can be repeated by the same caller.
pub async fn delete_image(
    State(st): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let caller = st
        .auth
        .require(&headers, st.auth.mode.changes_need_caller())
        .await?;
    let id = valid_id(path)?;
    let upload_bucket = &st.cfg.upload_bucket;
    let original = keys::upload_key(&id);
    let rejected = format!("{}{id}", keys::REJECTED_PREFIX);
    let owner_key = format!("{}{id}", keys::OWNER_PREFIX);
    let thumbs = list_keys(
        &st,
        &st.cfg.resized_bucket,
        &format!("{}{id}/", keys::IMAGE_PREFIX),
    )
    .await?;

    let record = head(&st, upload_bucket, &owner_key).await?;
    let refused = head(&st, upload_bucket, &rejected).await?;
    let waiting = head(&st, upload_bucket, &original).await?;
    if thumbs.is_empty() && record.is_none() && refused.is_none() && waiting.is_none() {
        return Err(ApiError::ImageNotFound(id));
    }
    let owner = [&record, &refused, &waiting]
        .into_iter()
        .flatten()
        .find_map(|h| h.meta(keys::meta::OWNER))
        .map(|o| keys::decode_filename(&o));
    let allowed = match &caller {
        None => st.auth.mode == AccessMode::Open,
        Some(c) => st.auth.mode == AccessMode::Open || c.may_delete(owner.as_deref()),
    };
    if !allowed {
        return Err(ApiError::Forbidden(format!(
            "image {id} belongs to someone else; only its owner or an admin may delete it"
        )));
    }

    // The tombstone first: a resize still running, or the upload URL used again, sees it and
    // leaves nothing behind (the resize function checks before and after it writes).
    st.s3
        .put_object()
        .bucket(upload_bucket)
        .key(format!("{}{id}", keys::DELETED_PREFIX))
        .body(Vec::new().into())
        .send()
        .await
        .map_err(|e| ApiError::from_s3("PutObject", &e))?;
    for key in &thumbs {
        delete(&st, &st.cfg.resized_bucket, key).await?;
    }
    for (exists, key) in [
        (refused.is_some(), &rejected),
        (waiting.is_some(), &original),
    ] {
        if exists {
            delete(&st, upload_bucket, key).await?;
        }
    }
    if record.is_some() {
        delete(&st, upload_bucket, &owner_key).await?;
    }
    if let (Some(cdn), false) = (&st.cdn, thumbs.is_empty()) {
        let paths = vec![format!("/{}{id}/*", keys::IMAGE_PREFIX)];
        let reference = format!("delete-{id}-{}", ms_since_epoch(st.clock.now()));
        // The image is gone from the store; a CDN that cannot be asked now still expires it.
        if let Err(e) = cdn.invalidate(paths, reference).await {
            tracing::error!(id, error = %e, "deleted, but the CDN invalidation failed");
        }
    }
    tracing::info!(
        id,
        by = caller.as_ref().map_or(ANONYMOUS, |c| c.owner.as_str()),
        thumbnails = thumbs.len(),
        "image deleted"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Every key under `prefix` (an id has one or a few thumbnails).
async fn list_keys(st: &AppState, bucket: &str, prefix: &str) -> Result<Vec<String>, ApiError> {
    let out = st
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .max_keys(100)
        .send()
        .await
        .map_err(|e| ApiError::from_s3("ListObjectsV2", &e))?;
    Ok(out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect())
}

async fn delete(st: &AppState, bucket: &str, key: &str) -> Result<(), ApiError> {
    st.s3
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| ApiError::from_s3("DeleteObject", &e))
}

/// Fallback for paths no route matches.
pub async fn not_found(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    let mut path = uri.path().to_string();
    path.truncate(path.floor_char_boundary(200));
    ApiError::RouteNotFound {
        method: method.to_string(),
        path,
    }
}

/// Fallback for known paths with a method they do not serve (axum adds the `Allow` header).
pub async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filename_metadata_is_ascii_without_spaces() {
        assert_eq!(filename_metadata("my  cat.jpg"), "my%20%20cat.jpg");
        assert_eq!(keys::decode_filename(&filename_metadata(" a b ")), " a b ");
        let m = filename_metadata("日本\t語.png");
        assert!(m.bytes().all(|b| b.is_ascii_graphic()), "{m}");
    }

    #[test]
    fn key_paths_are_encoded() {
        assert_eq!(
            fitbox_api::percent::encode_path("images/abc/400x300.jpg"),
            "images/abc/400x300.jpg"
        );
        assert_eq!(
            fitbox_api::percent::encode_path("images/a b+c/1x1.jpg"),
            "images/a%20b%2Bc/1x1.jpg"
        );
    }

    #[test]
    fn created_prefers_the_id() {
        let id = keys::new_id(1_795_910_400_123, 1);
        assert_eq!(created(&id, Some(5)), "2026-11-29T00:00:00.123Z");
        assert_eq!(created("foreign", Some(1_000)), "1970-01-01T00:00:01.000Z");
    }
}
