//! The AWS Lambda adapter of fitbox-resize: read the configuration and build the S3 client
//! once, then hand every S3 event to the library.

/// Large buffers on transparent huge pages (fitbox_service::hugepages): fewer page faults.
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOC: fitbox_service::hugepages::HugePageAlloc = fitbox_service::hugepages::HugePageAlloc;

use fitbox_resize::{handle_event, parse_event, s3_client, Config, Incoming};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON lines when the function's LoggingConfig says `LogFormat: JSON` (template.yaml).
    lambda_runtime::tracing::init_default_subscriber();

    let cfg = Config::from_env()?;
    let s3 = s3_client(&cfg).await;
    tracing::info!(
        upload_bucket = %cfg.upload_bucket,
        resized_bucket = %cfg.resized_bucket,
        box_width = cfg.options.box_width,
        box_height = cfg.options.box_height,
        max_bytes = cfg.options.limits.max_bytes,
        endpoint = cfg.s3_endpoint.as_deref().unwrap_or("aws"),
        "fitbox-resize ready"
    );
    let (s3, cfg) = (&s3, &cfg);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            match parse_event(event.payload)? {
                Incoming::Records(ev) => handle_event(s3, cfg, &ev).await?,
                Incoming::TestEvent => tracing::info!("s3:TestEvent; nothing to do"),
            }
            Ok::<(), Error>(())
        },
    ))
    .await
}
