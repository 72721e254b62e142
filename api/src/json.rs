//! JSON types of the presign HTTP API, shared by the server (`fitbox-presign`), the browser app
//! (`fitbox-web`) and the script client (`fitbox upload`), so all three compile against one
//! definition. The OpenAPI document in `presign-lambda/openapi.yaml` describes the same shapes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Limits, Options, ACCEPTED_TYPES};

/// `GET /api/config`: what the browser previews with, so its preview equals the server's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigResponse {
    /// Width of the box thumbnails are fitted into.
    pub box_width: u32,
    /// Height of the box.
    pub box_height: u32,
    /// Whether images smaller than the box are enlarged.
    pub enlarge: bool,
    /// JPEG quality 1..=100.
    pub quality: u8,
    /// Largest accepted file, in bytes.
    pub max_bytes: u64,
    /// Most pixels (stored width x height) accepted.
    pub max_pixels: u64,
    /// Media types accepted for upload.
    pub accepted_types: Vec<String>,
    /// Who may do what, and how to sign in.
    #[serde(default)]
    pub access: AccessInfo,
}

/// What `GET /api/config` says about access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessInfo {
    /// `open`, `signed-in-upload` or `private`.
    pub mode: String,
    /// Whether uploading (and upload status and deleting) needs a caller.
    pub upload_needs_caller: bool,
    /// Whether looking at the gallery needs a caller.
    pub view_needs_caller: bool,
    /// Where people sign in, when an OpenID issuer is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcInfo>,
    /// Whether upload keys (`Authorization: Bearer fbk_...`) are accepted.
    pub upload_keys: bool,
}

impl Default for AccessInfo {
    fn default() -> Self {
        AccessInfo {
            mode: "open".into(),
            upload_needs_caller: false,
            view_needs_caller: false,
            oidc: None,
            upload_keys: false,
        }
    }
}

/// The OpenID Connect issuer and the web app's public client there (authorization code flow
/// with PKCE; the rest comes from `{issuer}/.well-known/openid-configuration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcInfo {
    /// The issuer's URL (`iss`).
    pub issuer: String,
    /// The web app's client id at the issuer.
    pub client_id: String,
    /// Scopes to ask for, space-separated.
    pub scopes: String,
}

impl ConfigResponse {
    /// The pipeline options these settings describe.
    pub fn options(&self) -> Options {
        Options {
            box_width: self.box_width,
            box_height: self.box_height,
            enlarge: self.enlarge,
            quality: self.quality,
            limits: Limits {
                max_bytes: self.max_bytes,
                max_pixels: self.max_pixels,
                ..Limits::default()
            },
        }
    }

    /// The settings that describe `opts`.
    pub fn from_options(opts: &Options) -> Self {
        ConfigResponse {
            box_width: opts.box_width,
            box_height: opts.box_height,
            enlarge: opts.enlarge,
            quality: opts.quality,
            max_bytes: opts.limits.max_bytes,
            max_pixels: opts.limits.max_pixels,
            accepted_types: ACCEPTED_TYPES.iter().map(|s| s.to_string()).collect(),
            access: AccessInfo::default(),
        }
    }
}

/// `POST /api/uploads` body (or one element of an array body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    /// The file's name as the person or script gave it.
    pub filename: String,
    /// The file's media type (one of the accepted ones).
    pub content_type: String,
    /// The file's size in bytes (signed into the PUT).
    pub size: u64,
}

/// A signed upload: PUT the file's bytes to `url` with exactly `headers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadTicket {
    /// The upload's id (also the image's id once resized).
    pub id: String,
    /// The object key the file is uploaded to (`uploads/{id}`).
    pub key: String,
    /// Always `PUT`.
    pub method: String,
    /// The presigned URL to PUT to.
    pub url: String,
    /// Headers the PUT must carry, with these exact values (they are signed).
    pub headers: BTreeMap<String, String>,
    /// RFC 3339 UTC time after which S3 refuses the URL.
    pub expires_at: String,
}

/// `GET /api/uploads/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatus {
    /// The upload's id.
    pub id: String,
    /// Where the upload is.
    #[serde(flatten)]
    pub state: UploadState,
}

/// Where an upload is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum UploadState {
    /// Uploaded (or about to be) and not yet resized.
    Pending,
    /// Resized.
    Ready {
        /// The thumbnail.
        image: ImageEntry,
    },
    /// Refused by the pipeline.
    Rejected {
        /// The error code (`truncated`, `too_many_pixels`, ...).
        code: String,
        /// Why, in a sentence that names the problem and the limit.
        reason: String,
    },
}

/// One thumbnail in the gallery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageEntry {
    /// The image's id (its upload's id).
    pub id: String,
    /// A link to the thumbnail (presigned, or on the CDN).
    pub url: String,
    /// Thumbnail width in pixels.
    pub width: u32,
    /// Thumbnail height in pixels.
    pub height: u32,
    /// Thumbnail size in bytes.
    pub bytes: u64,
    /// RFC 3339 UTC.
    pub created: String,
    /// The original's file name as the uploader gave it (base name only), when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// SHA-256 (hex) of the thumbnail's RGBA pixels; present in upload status answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixel_sha256: Option<String>,
    /// Whether the caller may delete this image (`DELETE /api/images/{id}`).
    #[serde(default)]
    pub can_delete: bool,
}

/// `GET /api/images`: one page, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagePage {
    /// The thumbnails on this page, newest first.
    pub images: Vec<ImageEntry>,
    /// Where the next page starts (`?cursor=`); `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Every error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The `error` member of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable, machine-readable code (`invalid_size`, `rate_limited`, ...).
    pub code: String,
    /// A sentence for people: the problem and the limit.
    pub message: String,
}

impl ErrorBody {
    /// An error answer with this code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_status_json_shape() {
        let s = UploadStatus {
            id: "x".into(),
            state: UploadState::Rejected {
                code: "truncated".into(),
                reason: "JPEG data is truncated".into(),
            },
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["status"], "rejected");
        assert_eq!(v["reason"], "JPEG data is truncated");
        let back: UploadStatus = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
        let p = serde_json::to_value(UploadStatus {
            id: "y".into(),
            state: UploadState::Pending,
        })
        .unwrap();
        assert_eq!(p, serde_json::json!({"id": "y", "status": "pending"}));
    }

    #[test]
    fn upload_request_refuses_unknown_fields() {
        let err = serde_json::from_str::<UploadRequest>(
            r#"{"filename":"a.jpg","content_type":"image/jpeg","size":1,"acl":"public-read"}"#,
        );
        assert!(err.is_err());
    }
}
