//! `fitbox key create`: a new upload key for scripts.
//!
//! The key (`fbk_...`, 256 random bits) is printed once and stored nowhere; the server is given
//! only its SHA-256, as a `name:role:sha256hex` entry of `FITBOX_UPLOAD_KEYS` (`fitbox serve
//! --auth keys`, or the template's `UploadKeys` parameter). Scripts send the key as
//! `Authorization: Bearer` (`fitbox upload` reads it from `FITBOX_KEY`).

use std::process::ExitCode;

use fitbox_presign::Role;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Make a new key; prints the key (once) and the line to configure on the server.
    Create {
        /// The key's name: recorded as the owner of what it uploads (`key:NAME`).
        #[arg(long)]
        name: String,
        /// `uploader` (upload, delete its own uploads) or `admin` (delete anything).
        #[arg(long, default_value = "uploader", value_parser = parse_role)]
        role: Role,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("{s:?}: expected uploader or admin"))
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Create { name, role } => {
            let made = fitbox_presign::auth::new_key(&name, role).map_err(anyhow::Error::msg)?;
            eprintln!(
                "fitbox: new {} key {name:?}. It is shown only now; keep it secret. Scripts send \
                 it as FITBOX_KEY (fitbox upload) or `Authorization: Bearer` (curl).",
                role.as_str()
            );
            println!("FITBOX_KEY={}", made.secret);
            eprintln!(
                "fitbox: the server needs only this line (add the entry to FITBOX_UPLOAD_KEYS, \
                 comma-separated, or to the template's UploadKeys parameter):"
            );
            println!("FITBOX_UPLOAD_KEYS={}", made.key.config_entry());
            Ok(ExitCode::SUCCESS)
        }
    }
}
