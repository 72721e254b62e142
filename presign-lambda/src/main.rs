//! The Lambda function: the `fitbox-presign` router behind `lambda_http` (API Gateway / function
//! URL events). Configuration is read once at start-up; logs are JSON for CloudWatch.

use std::sync::Arc;

use fitbox_presign::{router, s3_client, AppState, CloudFrontInvalidator, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // JSON lines when the function's LoggingConfig says `LogFormat: JSON` (template.yaml).
    lambda_http::tracing::init_default_subscriber();
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
