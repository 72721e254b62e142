//! The one way fitbox's services build their S3 client: credentials and region from the
//! environment (`aws-config`'s default chain: the Lambda's role, a profile, IMDS), the timeouts
//! of the caller's [`Timeouts`], and an optional S3-compatible endpoint in path style (the local
//! S3 of `fitbox serve`, MinIO).

use std::time::Duration;

use aws_sdk_s3::config::timeout::TimeoutConfig;

/// How long one service waits on S3 (and the other AWS APIs it calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting.
    pub connect: Duration,
    /// One attempt, until the response headers arrive.
    pub attempt: Duration,
    /// A whole call, its retries included.
    pub operation: Duration,
}

impl Timeouts {
    /// The presign API: an attempt 3 s, a whole call 6 s, so that a stuck S3 call ends in
    /// `503 storage_unavailable` before the API's own request timeout (8 s) answers `408`, and
    /// both before the function's timeout (10 s in `template.yaml`, checked by a test) would make
    /// API Gateway answer with its own error page.
    pub const API: Timeouts = Timeouts {
        connect: Duration::from_secs(2),
        attempt: Duration::from_secs(3),
        operation: Duration::from_secs(6),
    };

    /// For a per-attempt `attempt` (the resize function's `FITBOX_S3_TIMEOUT_SECS`): connecting
    /// at most 3 s (or `attempt` if shorter), a whole call with the SDK's standard 3 attempts
    /// three times `attempt` plus a second for back-off.
    pub fn per_attempt(attempt: Duration) -> Timeouts {
        Timeouts {
            connect: attempt.min(Duration::from_secs(3)),
            attempt,
            operation: attempt * 3 + Duration::from_secs(1),
        }
    }

    /// As the SDK takes them.
    pub fn config(self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// The shared AWS configuration from the environment.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The S3 client's configuration: `sdk`'s credentials and region, `timeouts`, and when
/// `endpoint` is set, that endpoint in path style. Callers add what is theirs before `build()`.
pub fn s3_config(
    sdk: &aws_config::SdkConfig,
    timeouts: Timeouts,
    endpoint: Option<&str>,
) -> aws_sdk_s3::config::Builder {
    let conf = aws_sdk_s3::config::Builder::from(sdk).timeout_config(timeouts.config());
    match endpoint {
        Some(endpoint) => conf.endpoint_url(endpoint).force_path_style(true),
        None => conf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_attempt_timeouts_bound_connect_and_whole_calls() {
        let t = Timeouts::per_attempt(Duration::from_secs(5));
        assert_eq!(t.connect, Duration::from_secs(3));
        assert_eq!(t.operation, Duration::from_secs(16));
        let short = Timeouts::per_attempt(Duration::from_millis(500));
        assert_eq!(short.connect, Duration::from_millis(500));
        let c = Timeouts::API.config();
        assert_eq!(c.operation_attempt_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(c.operation_timeout(), Some(Duration::from_secs(6)));
    }
}
