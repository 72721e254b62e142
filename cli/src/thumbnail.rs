//! `fitbox thumbnail INPUT -o OUTPUT [--box 400x400] [--enlarge] [--quality 85] [--json]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use fitbox_core::{Options, Thumbnail};
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    /// Image file to resize (JPEG, PNG, WebP or GIF; the format is read from the content).
    input: PathBuf,
    /// Where to write the thumbnail (JPEG for opaque images, PNG when there is transparency).
    #[arg(short, long)]
    output: PathBuf,
    /// The box to fit into, WIDTHxHEIGHT.
    #[arg(long = "box", default_value = "400x400", value_parser = parse_box)]
    box_size: (u32, u32),
    /// Enlarge images smaller than the box (Mitchell filter), as the original tutorial did.
    #[arg(long)]
    enlarge: bool,
    /// JPEG quality, 1-100.
    #[arg(long, default_value_t = fitbox_core::DEFAULT_QUALITY,
          value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: u8,
    /// Print a JSON object instead of a one-line summary.
    #[arg(long)]
    json: bool,
}

/// Parse `WIDTHxHEIGHT` (or one number for a square box).
pub fn parse_box(s: &str) -> Result<(u32, u32), String> {
    fitbox_core::settings::parse_box(s)
        .filter(|(w, h)| (1..=Options::MAX_BOX).contains(w) && (1..=Options::MAX_BOX).contains(h))
        .ok_or_else(|| {
            format!(
                "box must be WIDTHxHEIGHT with sides 1..={}, got {s:?}",
                Options::MAX_BOX
            )
        })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let opts = Options {
        box_width: args.box_size.0,
        box_height: args.box_size.1,
        enlarge: args.enlarge,
        quality: args.quality,
        ..Options::default()
    };
    let thumb = match fitbox_core::thumbnail(&bytes, &opts) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("fitbox: {}: {e}", args.input.display());
            return Ok(ExitCode::from(2));
        }
    };
    write_atomically(&args.output, &thumb.bytes)?;
    if args.json {
        println!("{}", summary_json(&thumb));
    } else {
        let s = &thumb.source;
        println!(
            "{} -> {}: {} {}x{} (orientation {}) -> {} {}x{}, {} bytes, pixels sha256 {}",
            args.input.display(),
            args.output.display(),
            s.format.name(),
            s.width,
            s.height,
            s.orientation,
            thumb.format.id().to_uppercase(),
            thumb.width,
            thumb.height,
            thumb.bytes.len(),
            thumb.pixel_sha256
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn summary_json(t: &Thumbnail) -> serde_json::Value {
    json!({
        "source": {
            "format": t.source.format.id(),
            "width": t.source.width,
            "height": t.source.height,
            "orientation": t.source.orientation,
        },
        "output": {
            "format": t.format.id(),
            "media_type": t.media_type(),
            "width": t.width,
            "height": t.height,
            "bytes": t.bytes.len(),
            "pixel_sha256": t.pixel_sha256,
        }
    })
}

/// Write to a temporary file beside the target and rename, so a failure never leaves half a file.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.fitbox-tmp", name.to_string_lossy()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_box;

    #[test]
    fn box_parsing() {
        assert_eq!(parse_box("400x300"), Ok((400, 300)));
        assert_eq!(parse_box("256"), Ok((256, 256)));
        assert!(parse_box("0x5").is_err());
        assert!(parse_box("10000x10").is_err());
        assert!(parse_box("axb").is_err());
    }
}
