//! `fitbox`: the one user-facing binary.
//!
//! * `fitbox serve` runs the whole stack locally on an embedded S3 server.
//! * `fitbox thumbnail INPUT -o OUTPUT` resizes one file with the server's exact pipeline.
//! * `fitbox upload FILE...` is the script client of the HTTP API.
//! * `fitbox key create --name NAME` makes an upload key for scripts.

/// Large buffers on transparent huge pages (fitbox_service::hugepages): fewer page faults.
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOC: fitbox_service::hugepages::HugePageAlloc = fitbox_service::hugepages::HugePageAlloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[cfg(feature = "server")]
mod key;
#[cfg(feature = "server")]
mod serve;
mod thumbnail;
#[cfg(feature = "server")]
mod upload;

#[derive(Parser)]
#[command(
    name = "fitbox",
    version,
    about = "Best-fit image thumbnails, locally or on AWS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole stack locally: web app, API, embedded S3 and resize workers.
    #[cfg(feature = "server")]
    Serve(Box<serve::Args>),
    /// Resize one image file into the box (the server's exact pipeline).
    Thumbnail(thumbnail::Args),
    /// Upload image files through the API and wait for their thumbnails.
    #[cfg(feature = "server")]
    Upload(upload::Args),
    /// Upload keys for scripts (`fitbox key create --name ci`).
    #[cfg(feature = "server")]
    Key(key::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Thumbnail(args) => thumbnail::run(args),
        #[cfg(feature = "server")]
        Command::Serve(args) => {
            init_tracing("info");
            runtime().and_then(|rt| rt.block_on(serve::run(*args)).map(|()| ExitCode::SUCCESS))
        }
        #[cfg(feature = "server")]
        Command::Key(args) => key::run(args),
        #[cfg(feature = "server")]
        Command::Upload(args) => {
            init_tracing("warn");
            runtime().and_then(|rt| rt.block_on(upload::run(args)))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fitbox: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "server")]
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Human-readable logs on stderr; `RUST_LOG` overrides the level.
#[cfg(feature = "server")]
fn init_tracing(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
