//! Taking a deleted image out of the CDN's cache.
//!
//! Thumbnails are served with a year-long `Cache-Control`, so a deleted image would stay in
//! CloudFront's edge caches. [`CloudFrontInvalidator`] asks CloudFront to drop the image's paths
//! (one `CreateInvalidation` per delete; the first 1,000 paths a month are free). Tests and local
//! stacks plug in their own [`CdnInvalidator`].

use std::future::Future;
use std::pin::Pin;

/// Something that drops cached copies of paths (`/images/{id}/*`).
pub trait CdnInvalidator: Send + Sync + 'static {
    /// Ask for `paths` to be dropped; an error says why it could not be asked.
    fn invalidate<'a>(
        &'a self,
        paths: Vec<String>,
        reference: String,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// CloudFront's `CreateInvalidation` on one distribution.
#[derive(Debug, Clone)]
pub struct CloudFrontInvalidator {
    /// CloudFront's client (the Lambda's role).
    pub client: aws_sdk_cloudfront::Client,
    /// The distribution whose cache is invalidated.
    pub distribution_id: String,
}

impl CloudFrontInvalidator {
    /// A client from the environment's credentials (the Lambda's role).
    pub async fn from_env(distribution_id: String) -> Self {
        let sdk = fitbox_service::s3::aws_config().await;
        let conf = aws_sdk_cloudfront::config::Builder::from(&sdk)
            .timeout_config(fitbox_service::s3::Timeouts::API.config())
            .build();
        CloudFrontInvalidator {
            client: aws_sdk_cloudfront::Client::from_conf(conf),
            distribution_id,
        }
    }
}

impl CdnInvalidator for CloudFrontInvalidator {
    fn invalidate<'a>(
        &'a self,
        paths: Vec<String>,
        reference: String,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
            let quantity = i32::try_from(paths.len()).map_err(|_| "too many paths".to_string())?;
            let paths = Paths::builder()
                .quantity(quantity)
                .set_items(Some(paths))
                .build()
                .map_err(|e| e.to_string())?;
            let batch = InvalidationBatch::builder()
                .paths(paths)
                .caller_reference(reference)
                .build()
                .map_err(|e| e.to_string())?;
            self.client
                .create_invalidation()
                .distribution_id(&self.distribution_id)
                .invalidation_batch(batch)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    use aws_sdk_cloudfront::error::ProvideErrorMetadata as _;
                    format!(
                        "CloudFront CreateInvalidation failed: {}",
                        e.code().unwrap_or("no answer")
                    )
                })
        })
    }
}
