//! Configuration, read once at start-up from environment variables.
//!
#![doc = include_str!("config_table.md")]

use std::time::Duration;

use fitbox_api::Options;
use fitbox_service::settings::{is_http_url, Vars};

use crate::auth::{AccessMode, OidcConfig, UploadKeys};

/// Longest lifetime S3 accepts for a presigned URL (7 days).
pub const MAX_URL_TTL_SECS: u64 = 7 * 24 * 3600;
/// Largest object one S3 PutObject accepts (5 GiB).
pub const MAX_PUT_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// Default lifetime of signed upload URLs: the web app and `fitbox upload` ask for a ticket just
/// before each PUT, and S3 checks the expiry when the request starts, so a long upload that
/// started in time completes. Short, so a leaked URL is soon useless.
pub const DEFAULT_URL_TTL_SECS: u64 = 60;
/// Default lifetime of signed image links (no CDN, or private mode): long enough for a gallery
/// page whose images load as they scroll into view.
pub const DEFAULT_IMAGE_URL_TTL_SECS: u64 = 900;

/// Everything the API needs to know, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Bucket of originals (`uploads/`, `rejected/`).
    pub upload_bucket: String,
    /// Bucket of thumbnails (`images/`).
    pub resized_bucket: String,
    /// Box, enlarge, quality and limits, as the resizer uses them.
    pub options: Options,
    /// Lifetime of signed upload (PUT) URLs.
    pub url_ttl: Duration,
    /// Lifetime of signed image (GET) links.
    pub image_url_ttl: Duration,
    /// Exact origins allowed by CORS; empty means no CORS headers at all.
    pub cors_origins: Vec<String>,
    /// Base URL of a CDN in front of the resized bucket, without a trailing `/`.
    pub cdn_base_url: Option<String>,
    /// S3 endpoint URL (path-style), for local stacks.
    pub s3_endpoint: Option<String>,
    /// What needs a caller.
    pub access_mode: AccessMode,
    /// The OpenID Connect issuer whose tokens name callers, if any.
    pub oidc: Option<OidcConfig>,
    /// Upload keys for scripts (hashes only).
    pub upload_keys: UploadKeys,
    /// CloudFront distribution whose cached copy of a deleted image is invalidated.
    pub cdn_distribution_id: Option<String>,
    /// When set, every request must carry it in `X-Fitbox-Origin-Secret` (CloudFront adds it),
    /// so the API Gateway address cannot be used around the CDN and its limits.
    pub origin_secret: Option<String>,
    /// Tickets a minute per client address and per caller (0: no limit).
    pub rate_limit_per_minute: u32,
    /// Where the client's address comes from.
    pub client_address: crate::limit::ClientAddress,
}

/// Default claim holding an OIDC caller's groups (Cognito's).
pub const DEFAULT_ROLE_CLAIM: &str = "cognito:groups";
/// Default group that makes an OIDC caller an admin.
pub const DEFAULT_ADMIN_GROUP: &str = "admin";

pub use fitbox_service::settings::ConfigError;

impl Config {
    /// Defaults for everything but the two buckets, in [`AccessMode::Open`] (tests and local
    /// stacks; [`Config::from_env`], what the Lambda reads, defaults to signed-in uploads).
    pub fn new(upload_bucket: impl Into<String>, resized_bucket: impl Into<String>) -> Self {
        Config {
            upload_bucket: upload_bucket.into(),
            resized_bucket: resized_bucket.into(),
            options: Options::default(),
            url_ttl: Duration::from_secs(DEFAULT_URL_TTL_SECS),
            image_url_ttl: Duration::from_secs(DEFAULT_IMAGE_URL_TTL_SECS),
            cors_origins: Vec::new(),
            cdn_base_url: None,
            s3_endpoint: None,
            access_mode: AccessMode::Open,
            oidc: None,
            upload_keys: UploadKeys::default(),
            cdn_distribution_id: None,
            origin_secret: None,
            rate_limit_per_minute: crate::limit::DEFAULT_PER_MINUTE,
            client_address: crate::limit::ClientAddress::Peer,
        }
    }

    /// Read the process environment (see the module docs for the variables).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read variables through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars::new(get);
        let var = |name: &'static str| vars.get(name);
        let invalid = ConfigError::invalid;

        let mut cfg = Config::new(
            vars.required("FITBOX_UPLOAD_BUCKET")?,
            vars.required("FITBOX_RESIZED_BUCKET")?,
        );
        cfg.options = vars.options()?;
        // A signed URL's lifetime: S3 accepts 1 s to 7 days.
        let url_ttl = |name: &'static str| -> Result<Option<Duration>, ConfigError> {
            let Some(v) = var(name) else {
                return Ok(None);
            };
            v.parse()
                .ok()
                .filter(|s| (1..=MAX_URL_TTL_SECS).contains(s))
                .map(|s| Some(Duration::from_secs(s)))
                .ok_or_else(|| {
                    invalid(
                        name,
                        &v,
                        "expected seconds in 1..=604800 (S3's limit is 7 days)",
                    )
                })
        };
        if let Some(ttl) = url_ttl("FITBOX_URL_TTL_SECS")? {
            cfg.url_ttl = ttl;
        }
        if let Some(ttl) = url_ttl("FITBOX_IMAGE_URL_TTL_SECS")? {
            cfg.image_url_ttl = ttl;
        }
        if let Some(v) = var("FITBOX_CORS_ORIGINS") {
            cfg.cors_origins = v
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(|o| {
                    normalize_origin(o).ok_or_else(|| {
                        invalid(
                            "FITBOX_CORS_ORIGINS",
                            o,
                            "expected scheme://host[:port] origins separated by commas",
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        cfg.cdn_base_url = vars
            .http_url("FITBOX_CDN_BASE_URL")?
            .map(|v| v.trim_end_matches('/').to_string());
        cfg.s3_endpoint = vars.http_url("FITBOX_S3_ENDPOINT")?;
        // A deployed API is never open by accident: without FITBOX_ACCESS_MODE uploads need
        // a caller.
        cfg.access_mode = match var("FITBOX_ACCESS_MODE") {
            None => AccessMode::SignedInUpload,
            Some(v) => AccessMode::parse(&v).ok_or_else(|| {
                invalid(
                    "FITBOX_ACCESS_MODE",
                    &v,
                    "expected open, signed-in-upload or private",
                )
            })?,
        };
        if let Some(issuer) = vars.http_url("FITBOX_OIDC_ISSUER")? {
            let client_id = vars.required("FITBOX_OIDC_CLIENT_ID")?;
            let audiences = match var("FITBOX_OIDC_AUDIENCES") {
                Some(v) => v
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect(),
                None => vec![client_id.clone()],
            };
            cfg.oidc = Some(OidcConfig {
                // Exactly as tokens carry it in `iss` (Auth0's ends with a `/`).
                issuer,
                client_id,
                audiences,
                role_claim: var("FITBOX_OIDC_ROLE_CLAIM")
                    .unwrap_or_else(|| DEFAULT_ROLE_CLAIM.into()),
                admin_group: var("FITBOX_OIDC_ADMIN_GROUP")
                    .unwrap_or_else(|| DEFAULT_ADMIN_GROUP.into()),
                leeway_secs: crate::auth::LEEWAY_SECS,
            });
        }
        if let Some(v) = var("FITBOX_UPLOAD_KEYS") {
            cfg.upload_keys =
                UploadKeys::parse(&v).map_err(|e| invalid("FITBOX_UPLOAD_KEYS", "...", &e))?;
        }
        cfg.cdn_distribution_id = var("FITBOX_CDN_DISTRIBUTION_ID");
        if let Some(secret) = var("FITBOX_ORIGIN_SECRET") {
            if secret.len() < 32 {
                return Err(invalid(
                    "FITBOX_ORIGIN_SECRET",
                    "(hidden)",
                    "use at least 32 characters (openssl rand -hex 32)",
                ));
            }
            cfg.origin_secret = Some(secret);
        }
        if let Some(v) = var("FITBOX_RATE_LIMIT_PER_MINUTE") {
            cfg.rate_limit_per_minute =
                v.parse().ok().filter(|n| *n <= 1_000_000).ok_or_else(|| {
                    invalid(
                        "FITBOX_RATE_LIMIT_PER_MINUTE",
                        &v,
                        "expected tickets a minute per client, 0 (no limit) to 1000000",
                    )
                })?;
        }
        if let Some(v) = var("FITBOX_CLIENT_ADDRESS") {
            cfg.client_address = crate::limit::ClientAddress::parse(&v).ok_or_else(|| {
                invalid(
                    "FITBOX_CLIENT_ADDRESS",
                    &v,
                    "expected peer, cloudfront or x-forwarded-for:N (N trusted proxies, 1 to 10)",
                )
            })?;
        }
        cfg.check_access()?;
        if cfg.options.limits.max_bytes > MAX_PUT_BYTES {
            return Err(invalid(
                "FITBOX_MAX_BYTES",
                &cfg.options.limits.max_bytes.to_string(),
                "a single signed PUT carries at most 5 GiB",
            ));
        }
        Ok(cfg)
    }
}

impl Config {
    /// A mode that needs callers needs a way to name them: an issuer or upload keys.
    pub fn check_access(&self) -> Result<(), ConfigError> {
        if self.access_mode != AccessMode::Open
            && self.oidc.is_none()
            && self.upload_keys.is_empty()
        {
            return Err(ConfigError::invalid(
                "FITBOX_ACCESS_MODE",
                self.access_mode.as_str(),
                "nobody could sign in: set FITBOX_OIDC_ISSUER (and FITBOX_OIDC_CLIENT_ID) or \
                 FITBOX_UPLOAD_KEYS (from `fitbox key create`)",
            ));
        }
        Ok(())
    }
}

/// An origin is `scheme://host[:port]`, no path; a trailing `/` is dropped.
fn normalize_origin(s: &str) -> Option<String> {
    let s = s.trim_end_matches('/');
    if !is_http_url(s) {
        return None;
    }
    let authority = s.split_once("://")?.1;
    if authority.contains(['/', '?', '#', '*']) || !s.is_ascii() {
        return None;
    }
    Some(s.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const BUCKETS: [(&str, &str); 2] = [
        ("FITBOX_UPLOAD_BUCKET", "up"),
        ("FITBOX_RESIZED_BUCKET", "res"),
    ];

    const KEY: &str =
        "ci:uploader:0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn defaults_apply() {
        let mut pairs = BUCKETS.to_vec();
        pairs.push(("FITBOX_UPLOAD_KEYS", KEY));
        let cfg = Config::from_lookup(lookup(&pairs)).unwrap();
        let mut want = Config::new("up", "res");
        want.access_mode = AccessMode::SignedInUpload;
        want.upload_keys = UploadKeys::parse(KEY).unwrap();
        assert_eq!(cfg, want);
        assert_eq!(cfg.url_ttl, Duration::from_secs(60));
        assert_eq!(cfg.image_url_ttl, Duration::from_secs(900));
        assert_eq!(cfg.options.box_width, 400);
        assert_eq!(cfg.options.box_height, 400);
        assert!(cfg.cors_origins.is_empty());
    }

    #[test]
    fn a_mode_with_callers_needs_a_way_to_name_them() {
        let err = Config::from_lookup(lookup(&BUCKETS)).unwrap_err();
        assert!(err.to_string().contains("FITBOX_UPLOAD_KEYS"), "{err}");
        let mut pairs = BUCKETS.to_vec();
        pairs.push(("FITBOX_ACCESS_MODE", "open"));
        assert_eq!(
            Config::from_lookup(lookup(&pairs)).unwrap().access_mode,
            AccessMode::Open
        );
        pairs.pop();
        pairs.extend([
            ("FITBOX_ACCESS_MODE", "private"),
            ("FITBOX_OIDC_ISSUER", "https://id.example/pool/"),
        ]);
        assert_eq!(
            Config::from_lookup(lookup(&pairs)),
            Err(ConfigError::Missing("FITBOX_OIDC_CLIENT_ID"))
        );
        pairs.push(("FITBOX_OIDC_CLIENT_ID", "web"));
        let cfg = Config::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(cfg.access_mode, AccessMode::Private);
        let oidc = cfg.oidc.expect("oidc");
        assert_eq!(
            oidc.issuer, "https://id.example/pool/",
            "kept as tokens carry it"
        );
        assert_eq!(oidc.audiences, vec!["web"]);
        assert_eq!(oidc.role_claim, "cognito:groups");
        assert_eq!(oidc.admin_group, "admin");
    }

    #[test]
    fn buckets_are_required() {
        assert_eq!(
            Config::from_lookup(lookup(&[])),
            Err(ConfigError::Missing("FITBOX_UPLOAD_BUCKET"))
        );
        assert_eq!(
            Config::from_lookup(lookup(&[("FITBOX_UPLOAD_BUCKET", "up")])),
            Err(ConfigError::Missing("FITBOX_RESIZED_BUCKET"))
        );
    }

    #[test]
    fn every_variable_is_read() {
        let mut pairs = BUCKETS.to_vec();
        pairs.extend([
            ("FITBOX_BOX", "320x200"),
            ("FITBOX_ENLARGE", "true"),
            ("FITBOX_QUALITY", "70"),
            ("FITBOX_MAX_BYTES", "1000"),
            ("FITBOX_MAX_PIXELS", "5000"),
            ("FITBOX_URL_TTL_SECS", "30"),
            ("FITBOX_IMAGE_URL_TTL_SECS", "120"),
            (
                "FITBOX_CORS_ORIGINS",
                "https://a.example, http://127.0.0.1:8080/",
            ),
            ("FITBOX_CDN_BASE_URL", "https://cdn.example/"),
            ("FITBOX_S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("FITBOX_ACCESS_MODE", "signed-in-upload"),
            ("FITBOX_OIDC_ISSUER", "https://id.example"),
            ("FITBOX_OIDC_CLIENT_ID", "web"),
            ("FITBOX_OIDC_AUDIENCES", "web, api"),
            ("FITBOX_OIDC_ROLE_CLAIM", "groups"),
            ("FITBOX_OIDC_ADMIN_GROUP", "owners"),
            ("FITBOX_UPLOAD_KEYS", KEY),
            ("FITBOX_CDN_DISTRIBUTION_ID", "E123"),
            ("FITBOX_ORIGIN_SECRET", "0123456789abcdef0123456789abcdef"),
            ("FITBOX_RATE_LIMIT_PER_MINUTE", "30"),
            ("FITBOX_CLIENT_ADDRESS", "cloudfront"),
        ]);
        let cfg = Config::from_lookup(lookup(&pairs)).unwrap();
        let oidc = cfg.oidc.clone().expect("oidc");
        assert_eq!(oidc.audiences, vec!["web", "api"]);
        assert_eq!(
            (oidc.role_claim.as_str(), oidc.admin_group.as_str()),
            ("groups", "owners")
        );
        assert!(!cfg.upload_keys.is_empty());
        assert_eq!(cfg.cdn_distribution_id.as_deref(), Some("E123"));
        assert_eq!(cfg.origin_secret.as_deref().map(str::len), Some(32));
        assert_eq!(cfg.rate_limit_per_minute, 30);
        assert_eq!(cfg.client_address, crate::limit::ClientAddress::CloudFront);
        assert_eq!((cfg.options.box_width, cfg.options.box_height), (320, 200));
        assert!(cfg.options.enlarge);
        assert_eq!(cfg.options.quality, 70);
        assert_eq!(cfg.options.limits.max_bytes, 1000);
        assert_eq!(cfg.options.limits.max_pixels, 5000);
        assert_eq!(cfg.url_ttl, Duration::from_secs(30));
        assert_eq!(cfg.image_url_ttl, Duration::from_secs(120));
        assert_eq!(
            cfg.cors_origins,
            vec!["https://a.example", "http://127.0.0.1:8080"]
        );
        assert_eq!(cfg.cdn_base_url.as_deref(), Some("https://cdn.example"));
        assert_eq!(cfg.s3_endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        let square = Config::from_lookup(lookup(&[
            BUCKETS[0],
            BUCKETS[1],
            ("FITBOX_BOX", "64"),
            ("FITBOX_UPLOAD_KEYS", KEY),
        ]))
        .unwrap();
        assert_eq!(
            (square.options.box_width, square.options.box_height),
            (64, 64)
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_variable_named() {
        for (var, value) in [
            ("FITBOX_BOX", "wide"),
            ("FITBOX_BOX", "0x10"),
            ("FITBOX_BOX", "99999x10"),
            ("FITBOX_ENLARGE", "maybe"),
            ("FITBOX_QUALITY", "0"),
            ("FITBOX_QUALITY", "300"),
            ("FITBOX_MAX_BYTES", "-1"),
            ("FITBOX_MAX_BYTES", "0"),
            ("FITBOX_MAX_BYTES", "5368709121"),
            ("FITBOX_URL_TTL_SECS", "0"),
            ("FITBOX_URL_TTL_SECS", "604801"),
            ("FITBOX_IMAGE_URL_TTL_SECS", "0"),
            ("FITBOX_CORS_ORIGINS", "*"),
            ("FITBOX_CORS_ORIGINS", "https://a.example/path"),
            ("FITBOX_CORS_ORIGINS", "a.example"),
            ("FITBOX_CDN_BASE_URL", "cdn.example"),
            ("FITBOX_S3_ENDPOINT", "localhost:9000"),
            ("FITBOX_ACCESS_MODE", "public"),
            ("FITBOX_OIDC_ISSUER", "id.example"),
            ("FITBOX_UPLOAD_KEYS", "ci:root:00"),
            ("FITBOX_ORIGIN_SECRET", "short"),
            ("FITBOX_RATE_LIMIT_PER_MINUTE", "many"),
            ("FITBOX_CLIENT_ADDRESS", "x-real-ip"),
        ] {
            let mut pairs = BUCKETS.to_vec();
            if var != "FITBOX_UPLOAD_KEYS" {
                pairs.push(("FITBOX_UPLOAD_KEYS", KEY));
            }
            pairs.push((var, value));
            let err = Config::from_lookup(lookup(&pairs)).expect_err(value);
            assert!(
                matches!(err, ConfigError::Invalid { .. }),
                "{var}={value}: {err}"
            );
        }
    }
}
