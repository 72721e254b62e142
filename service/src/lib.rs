//! fitbox-service: what the native services share (the resize function, the presign API and
//! `fitbox serve`, which runs both): their `FITBOX_*` settings, the one S3 client builder and its
//! timeouts, the allocator, and duration helpers for logs and arithmetic.
//!
//! Logging is lambda_runtime's own subscriber set-up
//! (`lambda_runtime::tracing::init_default_subscriber`), which follows the function's
//! `LoggingConfig` (`LogFormat: JSON` in `template.yaml`).

// The one `unsafe` in the workspace: a `GlobalAlloc` can only be written with it.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub mod hugepages;
#[cfg(feature = "s3")]
pub mod s3;
pub mod settings;

use std::time::Duration;

/// Whole milliseconds, saturating (for timestamps and windows).
pub fn whole_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds with three decimals (for log fields: `12.345`).
pub fn ms_f64(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}
