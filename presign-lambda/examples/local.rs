//! The presign API over an in-process S3 server, both on loopback, for trying the API with curl
//! and for `fuzz-api.sh`:
//!
//! ```text
//! cargo run -p fitbox-presign --example local [-- --port 8080]
//! ```
//!
//! Prints `api http://127.0.0.1:PORT` and `s3 http://127.0.0.1:PORT` (one per line, then a
//! blank line) and serves until Ctrl-C. Data lives in a temporary directory removed on exit.
//! Logs go to stderr (`RUST_LOG` filters them).

use std::io::Write as _;
use std::sync::Arc;

use fitbox_local_s3::{LocalS3, Options};
use fitbox_presign::{router, AppState, Config};

const UPLOADS: &str = "fitbox-uploads";
const RESIZED: &str = "fitbox-resized";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let mut port: u16 = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--port needs a number")?;
            }
            other => {
                return Err(format!("unknown argument {other:?}; usage: local [--port N]").into())
            }
        }
    }

    let dir = tempfile::tempdir()?;
    let mut opts = Options::new(dir.path());
    opts.buckets = vec![UPLOADS.into(), RESIZED.into()];
    let (s3, _events) = LocalS3::start(opts)
        .await
        .map_err(|e| format!("starting local S3: {e:#}"))?;

    let mut cfg = Config::new(UPLOADS, RESIZED);
    cfg.s3_endpoint = Some(s3.endpoint());
    let state = AppState::new(s3.client(), Arc::new(cfg))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "api http://{addr}")?;
        writeln!(out, "s3 {}", s3.endpoint())?;
        writeln!(out)?;
        out.flush()?;
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    s3.shutdown().await;
    Ok(())
}
