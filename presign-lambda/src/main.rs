//! The Lambda function: the `fitbox-presign` router behind `lambda_http` (API Gateway / function
//! URL events). Configuration is read once at start-up; logs are JSON for CloudWatch.

use std::sync::Arc;

use fitbox_presign::{router, s3_client, AppState, CloudFrontInvalidator, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .init();
    let cfg = Config::from_env()?;
    let s3 = s3_client(&cfg).await;
    let cdn = match &cfg.cdn_distribution_id {
        Some(id) => Some(CloudFrontInvalidator::from_env(id.clone()).await),
        None => None,
    };
    let mut state = AppState::new(s3, Arc::new(cfg))?;
    if let Some(cdn) = cdn {
        state = state.with_cdn(cdn);
    }
    lambda_http::run(router(state)).await
}
