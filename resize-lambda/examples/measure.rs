//! Per-stage times of the resize library and the process's peak memory.
//!
//! `cargo run -p fitbox-resize --example measure [--release] -- [--split] FILE...`
//!
//! Each file is uploaded to an embedded S3 server and processed with `process_record`, as the
//! Lambda would. With `--split`, `fitbox_core::preview` (guard + decode + resize + orient +
//! colour) is also timed on its own, so encode time is about `thumbnail - preview` (this
//! extra run raises the peak memory; leave it off when measuring memory).

use std::time::Instant;

use fitbox_local_s3::{LocalS3, Options};
use fitbox_resize::{encode_key, process_record, Config, Outcome};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut split = false;
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        if arg == "--split" {
            split = true;
        } else {
            files.push(arg);
        }
    }
    if files.is_empty() {
        return Err("usage: measure [--split] FILE...".into());
    }

    let dir = tempfile::tempdir()?;
    let mut opts = Options::new(dir.path().join("s3"));
    opts.buckets = vec!["fitbox-uploads".into(), "fitbox-resized".into()];
    let (s3, _events) = LocalS3::start(opts).await?;
    let client = s3.client();
    let cfg = Config::new("fitbox-uploads", "fitbox-resized");
    println!("baseline peak RSS: {} KiB", peak_rss_kib().unwrap_or(0));
    println!(
        "{:44} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "file", "bytes", "source", "download", "thumb", "preview", "upload", "delete", "total"
    );
    for path in &files {
        let bytes = std::fs::read(path)?;
        let name = std::path::Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.clone());
        let preview_ms = if split {
            let t = Instant::now();
            fitbox_core::preview(&bytes, &cfg.options)?;
            format!("{:.1}", t.elapsed().as_secs_f64() * 1e3)
        } else {
            "-".into()
        };
        let key = format!("uploads/{name}");
        client
            .put_object()
            .bucket("fitbox-uploads")
            .key(&key)
            .body(bytes.clone().into())
            .send()
            .await?;
        drop(bytes);
        match process_record(&client, &cfg, "fitbox-uploads", &encode_key(&key)).await? {
            Outcome::Resized(r) => {
                let t = r.timings;
                let f = |d: std::time::Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
                println!(
                    "{:44} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                    name,
                    r.source_bytes,
                    format!("{}x{}", r.source.width, r.source.height),
                    f(t.download),
                    f(t.thumbnail),
                    preview_ms,
                    f(t.upload),
                    f(t.delete),
                    f(t.total)
                );
            }
            other => println!("{name}: {other:?}"),
        }
    }
    println!("peak RSS: {} KiB", peak_rss_kib().unwrap_or(0));
    s3.shutdown().await;
    Ok(())
}
