//! Configuration, read once at start-up from environment variables.
//!
#![doc = include_str!("config_table.md")]

use std::time::Duration;

use fitbox_core::settings::{is_http_url, Vars};
use fitbox_core::Options;

/// Longest lifetime S3 accepts for a presigned URL (7 days).
pub const MAX_URL_TTL_SECS: u64 = 7 * 24 * 3600;
/// Largest object one S3 PutObject accepts (5 GiB).
pub const MAX_PUT_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// Default lifetime of signed URLs.
pub const DEFAULT_URL_TTL_SECS: u64 = 300;

/// Everything the API needs to know, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Bucket of originals (`uploads/`, `rejected/`).
    pub upload_bucket: String,
    /// Bucket of thumbnails (`images/`).
    pub resized_bucket: String,
    /// Box, enlarge, quality and limits, as the resizer uses them.
    pub options: Options,
    /// Lifetime of signed URLs.
    pub url_ttl: Duration,
    /// Exact origins allowed by CORS; empty means no CORS headers at all.
    pub cors_origins: Vec<String>,
    /// Base URL of a CDN in front of the resized bucket, without a trailing `/`.
    pub cdn_base_url: Option<String>,
    /// S3 endpoint URL (path-style), for local stacks.
    pub s3_endpoint: Option<String>,
}

pub use fitbox_core::settings::ConfigError;

impl Config {
    /// Defaults for everything but the two buckets.
    pub fn new(upload_bucket: impl Into<String>, resized_bucket: impl Into<String>) -> Self {
        Config {
            upload_bucket: upload_bucket.into(),
            resized_bucket: resized_bucket.into(),
            options: Options::default(),
            url_ttl: Duration::from_secs(DEFAULT_URL_TTL_SECS),
            cors_origins: Vec::new(),
            cdn_base_url: None,
            s3_endpoint: None,
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
        if let Some(v) = var("FITBOX_URL_TTL_SECS") {
            let secs: u64 = v
                .parse()
                .ok()
                .filter(|s| (1..=MAX_URL_TTL_SECS).contains(s))
                .ok_or_else(|| {
                    invalid(
                        "FITBOX_URL_TTL_SECS",
                        &v,
                        "expected seconds in 1..=604800 (S3's limit is 7 days)",
                    )
                })?;
            cfg.url_ttl = Duration::from_secs(secs);
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

    #[test]
    fn defaults_apply() {
        let cfg = Config::from_lookup(lookup(&BUCKETS)).unwrap();
        assert_eq!(cfg, Config::new("up", "res"));
        assert_eq!(cfg.url_ttl, Duration::from_secs(300));
        assert_eq!(cfg.options.box_width, 400);
        assert_eq!(cfg.options.box_height, 400);
        assert!(cfg.cors_origins.is_empty());
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
            ("FITBOX_URL_TTL_SECS", "60"),
            (
                "FITBOX_CORS_ORIGINS",
                "https://a.example, http://127.0.0.1:8080/",
            ),
            ("FITBOX_CDN_BASE_URL", "https://cdn.example/"),
            ("FITBOX_S3_ENDPOINT", "http://127.0.0.1:9000"),
        ]);
        let cfg = Config::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!((cfg.options.box_width, cfg.options.box_height), (320, 200));
        assert!(cfg.options.enlarge);
        assert_eq!(cfg.options.quality, 70);
        assert_eq!(cfg.options.limits.max_bytes, 1000);
        assert_eq!(cfg.options.limits.max_pixels, 5000);
        assert_eq!(cfg.url_ttl, Duration::from_secs(60));
        assert_eq!(
            cfg.cors_origins,
            vec!["https://a.example", "http://127.0.0.1:8080"]
        );
        assert_eq!(cfg.cdn_base_url.as_deref(), Some("https://cdn.example"));
        assert_eq!(cfg.s3_endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        let square =
            Config::from_lookup(lookup(&[BUCKETS[0], BUCKETS[1], ("FITBOX_BOX", "64")])).unwrap();
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
            ("FITBOX_CORS_ORIGINS", "*"),
            ("FITBOX_CORS_ORIGINS", "https://a.example/path"),
            ("FITBOX_CORS_ORIGINS", "a.example"),
            ("FITBOX_CDN_BASE_URL", "cdn.example"),
            ("FITBOX_S3_ENDPOINT", "localhost:9000"),
        ] {
            let mut pairs = BUCKETS.to_vec();
            pairs.push((var, value));
            let err = Config::from_lookup(lookup(&pairs)).expect_err(value);
            assert!(
                matches!(err, ConfigError::Invalid { .. }),
                "{var}={value}: {err}"
            );
        }
    }
}
