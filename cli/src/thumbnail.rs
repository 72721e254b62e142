//! `fitbox thumbnail INPUT -o OUTPUT [--box 400x400] [--enlarge] [--quality 85] [--json]`
//!
//! `-` reads the image from standard input or writes the thumbnail to standard output. Exit
//! status: [`EXIT_CODES`].

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use fitbox_core::{Options, OutputFormat, Thumbnail};
use serde_json::json;

/// The exit status of `fitbox thumbnail`, shown by `fitbox thumbnail --help`.
pub(crate) const EXIT_CODES: &str =
    "Exit status: 0 the thumbnail was written; 1 the input could not \
be read or the output not written (nothing is left half-written), or the output's name says \
another format; 2 a bad flag or argument; 3 the image was refused (not an image, corrupt, \
or over a limit; the message names the problem and the limit).";

/// Exit status for an image that fitbox-core refuses (2 is clap's, for a bad flag).
pub(crate) const EXIT_REFUSED: u8 = 3;

#[derive(clap::Args)]
#[command(after_help = EXIT_CODES)]
pub(crate) struct Args {
    /// Image file to resize (JPEG, PNG, WebP or GIF; the format is read from the content),
    /// or - for standard input.
    input: PathBuf,
    /// Where to write the thumbnail, or - for standard output (the summary then goes to
    /// standard error). The thumbnail is JPEG for opaque images and PNG when there is
    /// transparency: a name ending in .jpg, .jpeg or .png must say the format written (other
    /// image extensions are refused too).
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
pub(crate) fn parse_box(s: &str) -> Result<(u32, u32), String> {
    fitbox_service::settings::parse_box(s)
        .filter(|(w, h)| (1..=Options::MAX_BOX).contains(w) && (1..=Options::MAX_BOX).contains(h))
        .ok_or_else(|| {
            format!(
                "box must be WIDTHxHEIGHT with sides 1..={}, got {s:?}",
                Options::MAX_BOX
            )
        })
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = Options {
        box_width: args.box_size.0,
        box_height: args.box_size.1,
        enlarge: args.enlarge,
        quality: args.quality,
        ..Options::default()
    };
    let bytes = if is_dash(&args.input) {
        // At most one byte over the limit: fitbox-core then refuses it, naming the limit.
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .take(opts.limits.max_bytes.saturating_add(1))
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        buf
    } else {
        std::fs::read(&args.input)
            .with_context(|| format!("cannot read {}", args.input.display()))?
    };
    let thumb = match fitbox_core::thumbnail(&bytes, &opts) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("fitbox: {}: {e}", args.input.display());
            return Ok(ExitCode::from(EXIT_REFUSED));
        }
    };
    let to_stdout = is_dash(&args.output);
    if !to_stdout {
        check_extension(&args.output, thumb.format)?;
        write_atomically(&args.output, &thumb.bytes)?;
    }
    let summary = if args.json {
        summary_json(&thumb).to_string()
    } else {
        let s = &thumb.source;
        format!(
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
        )
    };
    if to_stdout {
        let mut out = std::io::stdout().lock();
        out.write_all(&thumb.bytes)
            .and_then(|()| out.flush())
            .context("cannot write standard output")?;
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}

fn is_dash(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// An output named like an image must be named for the format written: never JPEG bytes in a
/// `.png` file. Other names (none, `.out`, `.thumb`, ...) take whatever is written.
fn check_extension(path: &Path, format: OutputFormat) -> anyhow::Result<()> {
    let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
        return Ok(());
    };
    let ext = ext.to_ascii_lowercase();
    let named = match ext.as_str() {
        "jpg" | "jpeg" | "jpe" | "jfif" => Some(OutputFormat::Jpeg),
        "png" => Some(OutputFormat::Png),
        "webp" | "gif" | "avif" | "heic" | "heif" | "bmp" | "tif" | "tiff" => None,
        _ => return Ok(()),
    };
    if named == Some(format) {
        return Ok(());
    }
    let why = match format {
        OutputFormat::Jpeg => "the image is opaque",
        OutputFormat::Png => "the image has transparency",
    };
    anyhow::bail!(
        "{}: the thumbnail is {} ({why}), not .{ext}: name the output .{} or write it to - \
         (standard output); nothing written",
        path.display(),
        format.id().to_uppercase(),
        format.ext()
    )
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
