//! Configuration, read once at start-up from environment variables.
//!
//! The variables, each with its default (or "required") in parentheses:
//!
//! * `FITBOX_UPLOAD_BUCKET` (required): bucket of originals (`uploads/`, `rejected/`).
//! * `FITBOX_RESIZED_BUCKET` (required): bucket of thumbnails (`images/`).
//! * `FITBOX_BOX` (`400x400`): box to fit into, `WIDTHxHEIGHT` or one number for a square, sides
//!   1..=4096.
//! * `FITBOX_ENLARGE` (`false`): enlarge images smaller than the box (`true`/`false`).
//! * `FITBOX_QUALITY` (`85`): JPEG quality 1..=100.
//! * `FITBOX_MAX_BYTES` (`26214400`, 25 MiB): largest original in bytes; larger ones are rejected
//!   before download.
//! * `FITBOX_MAX_PIXELS` (`100000000`): most pixels (width x height) decoded.
//! * `FITBOX_S3_ENDPOINT` (unset: AWS): S3 endpoint URL, path-style (a local S3 server).
//! * `FITBOX_S3_TIMEOUT_SECS` (`5`): seconds an S3 call attempt (or a download) may take before
//!   it is abandoned and retried; decimals allowed, up to 300.
//!
//! The longest side limit is fitbox-core's default (32768). Empty values count as unset.

use std::time::Duration;

use fitbox_core::Options;
use fitbox_service::settings::Vars;

/// Default of [`Config::s3_timeout`]: generous for the largest original (25 MiB, well under a
/// second inside an AWS region), short enough that the SDK's three attempts (15 s) fit the
/// resize Lambda's 30 s timeout with the resize itself.
pub const DEFAULT_S3_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest accepted [`Config::s3_timeout`].
pub const MAX_S3_TIMEOUT: Duration = Duration::from_secs(300);

/// Parse `FITBOX_S3_TIMEOUT_SECS`: seconds, decimals allowed, more than 0 and at most 300.
pub fn parse_s3_timeout(v: &str) -> Result<Duration, String> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= MAX_S3_TIMEOUT.as_secs_f64())
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            format!(
                "expected seconds, more than 0 and at most {}",
                MAX_S3_TIMEOUT.as_secs()
            )
        })
}

/// Everything the resize function needs to know, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Bucket of originals: events are accepted only from it.
    pub upload_bucket: String,
    /// Bucket the thumbnails are written to.
    pub resized_bucket: String,
    /// Box, enlarge, quality and limits, passed to `fitbox_core::thumbnail`.
    pub options: Options,
    /// S3 endpoint URL (path-style) for a local S3 server; `None` for AWS.
    pub s3_endpoint: Option<String>,
    /// How long one S3 call attempt, or the download of an original, may take
    /// ([`fitbox_service::s3::Timeouts::per_attempt`]).
    pub s3_timeout: Duration,
}

pub use fitbox_service::settings::ConfigError;

impl Config {
    /// Defaults (fitbox-core's [`Options::default`]) for everything but the two buckets.
    pub fn new(upload_bucket: impl Into<String>, resized_bucket: impl Into<String>) -> Self {
        Config {
            upload_bucket: upload_bucket.into(),
            resized_bucket: resized_bucket.into(),
            options: Options::default(),
            s3_endpoint: None,
            s3_timeout: DEFAULT_S3_TIMEOUT,
        }
    }

    /// Read the process environment (see the module docs for the variables).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read variables through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars::new(get);
        let mut cfg = Config::new(
            vars.required("FITBOX_UPLOAD_BUCKET")?,
            vars.required("FITBOX_RESIZED_BUCKET")?,
        );
        cfg.options = vars.options()?;
        cfg.s3_endpoint = vars.http_url("FITBOX_S3_ENDPOINT")?;
        if let Some(v) = vars.get("FITBOX_S3_TIMEOUT_SECS") {
            cfg.s3_timeout = parse_s3_timeout(&v)
                .map_err(|reason| ConfigError::invalid("FITBOX_S3_TIMEOUT_SECS", &v, &reason))?;
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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
    fn defaults_come_from_core() {
        let cfg = Config::from_lookup(lookup(&BUCKETS)).expect("config");
        assert_eq!(cfg, Config::new("up", "res"));
        assert_eq!(cfg.options, Options::default());
        assert_eq!(cfg.options.box_width, 400);
        assert_eq!(cfg.options.limits.max_bytes, 25 * 1024 * 1024);
    }

    #[test]
    fn buckets_are_required() {
        assert_eq!(
            Config::from_lookup(lookup(&[])),
            Err(ConfigError::Missing("FITBOX_UPLOAD_BUCKET"))
        );
        assert_eq!(
            Config::from_lookup(lookup(&[BUCKETS[0], ("FITBOX_RESIZED_BUCKET", " ")])),
            Err(ConfigError::Missing("FITBOX_RESIZED_BUCKET"))
        );
    }

    #[test]
    fn every_variable_is_read() {
        let cfg = Config::from_lookup(lookup(&[
            BUCKETS[0],
            BUCKETS[1],
            ("FITBOX_BOX", "320x200"),
            ("FITBOX_ENLARGE", "true"),
            ("FITBOX_QUALITY", "70"),
            ("FITBOX_MAX_BYTES", "1000"),
            ("FITBOX_MAX_PIXELS", "5000"),
            ("FITBOX_S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("FITBOX_S3_TIMEOUT_SECS", "2.5"),
        ]))
        .expect("config");
        assert_eq!(cfg.s3_timeout, Duration::from_millis(2500));
        assert_eq!((cfg.options.box_width, cfg.options.box_height), (320, 200));
        assert!(cfg.options.enlarge);
        assert_eq!(cfg.options.quality, 70);
        assert_eq!(cfg.options.limits.max_bytes, 1000);
        assert_eq!(cfg.options.limits.max_pixels, 5000);
        assert_eq!(cfg.s3_endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        let square = Config::from_lookup(lookup(&[BUCKETS[0], BUCKETS[1], ("FITBOX_BOX", "64")]))
            .expect("config");
        assert_eq!(
            (square.options.box_width, square.options.box_height),
            (64, 64)
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("FITBOX_BOX", "wide"),
            ("FITBOX_BOX", "0x10"),
            ("FITBOX_BOX", "99999x10"),
            ("FITBOX_ENLARGE", "maybe"),
            ("FITBOX_QUALITY", "0"),
            ("FITBOX_QUALITY", "101"),
            ("FITBOX_MAX_BYTES", "-1"),
            ("FITBOX_MAX_PIXELS", "0"),
            ("FITBOX_S3_ENDPOINT", "127.0.0.1:9000"),
            ("FITBOX_S3_TIMEOUT_SECS", "0"),
            ("FITBOX_S3_TIMEOUT_SECS", "301"),
            ("FITBOX_S3_TIMEOUT_SECS", "soon"),
        ] {
            let err = Config::from_lookup(lookup(&[BUCKETS[0], BUCKETS[1], (var, value)]))
                .expect_err(value);
            assert!(
                matches!(err, ConfigError::Invalid { .. }),
                "{var}={value}: {err}"
            );
            let msg = err.to_string();
            assert!(msg.contains("FITBOX_"), "{msg}");
        }
    }
}
