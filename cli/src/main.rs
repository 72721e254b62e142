//! `fitbox`: the one user-facing binary.
//!
//! * `fitbox thumbnail INPUT -o OUTPUT` resizes one file with the same pipeline as the server.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod thumbnail;

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
    /// Resize one image file into the box (the server's exact pipeline).
    Thumbnail(thumbnail::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Thumbnail(args) => thumbnail::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fitbox: {e:#}");
            ExitCode::FAILURE
        }
    }
}
