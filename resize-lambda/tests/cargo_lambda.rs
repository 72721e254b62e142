//! The real `fitbox-resize` binary under `cargo lambda watch` (the Lambda runtime API emulator),
//! fed real S3 events with `cargo lambda invoke`, against the in-process S3 server through
//! `FITBOX_S3_ENDPOINT`. This proves the `lambda_runtime` wiring, not only the library.
//!
//! Needs `cargo lambda` on PATH (`pip install cargo-lambda`). Skipped only when
//! `FITBOX_SKIP_CARGO_LAMBDA=1`.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use fitbox_core::keys;
use fitbox_local_s3::{FaultKind, Op};

/// Build + start of the function can take minutes on a busy 2-core machine.
const INVOKE_DEADLINE: Duration = Duration::from_secs(1200);

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Kills the whole process group of `cargo lambda watch` (it spawns `cargo run` and the
/// function) when dropped.
struct Watch {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Watch {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Our children only: the watch's process group, plus (by pid) what it started in a
        // session of its own, as long as those pids still name the same programs.
        let id = self.child.id();
        let family = descendants(id);
        let alive = |pid: u32, comm: &str| {
            processes()
                .iter()
                .any(|(p, _, c)| *p == pid && c.as_str() == comm)
        };
        for signal in ["-TERM", "-KILL"] {
            let mut targets = vec![format!("-{id}")];
            targets.extend(
                family
                    .iter()
                    .filter(|(pid, comm)| alive(*pid, comm))
                    .map(|(pid, _)| pid.to_string()),
            );
            for target in &targets {
                let _ = std::process::Command::new("kill")
                    .args([signal, "--", target])
                    .stderr(Stdio::null())
                    .status();
            }
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until {
                let exited = matches!(self.child.try_wait(), Ok(Some(_)));
                if exited && !family.iter().any(|(pid, comm)| alive(*pid, comm)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// `(pid, ppid, comm)` of every process.
fn processes() -> Vec<(u32, u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // pid (comm) state ppid ...
            let (head, rest) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1.to_owned();
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid, comm))
        })
        .collect()
}

/// Every process descended from `root` (cargo lambda starts the function in a session of
/// its own, so the process group alone does not reach it).
fn descendants(root: u32) -> Vec<(u32, String)> {
    let all = processes();
    let mut found: Vec<(u32, String)> = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, ppid, comm) in &all {
            if *ppid == parent && !found.iter().any(|(p, _)| p == pid) {
                found.push((*pid, comm.clone()));
                frontier.push(*pid);
            }
        }
    }
    found
}

/// VmHWM (peak resident memory) of the `fitbox-resize` process started by the watch.
/// Reported for sizing the Lambda's memory, not asserted.
fn function_peak_rss_kib(watch: u32) -> Option<u64> {
    let (pid, _) = descendants(watch)
        .into_iter()
        .find(|(_, comm)| comm == "fitbox-resize")?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Invoked {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// `cargo lambda invoke`, retried while the emulator is not listening yet.
async fn invoke(port: u16, event_file: &Path, watch: &Watch) -> Invoked {
    let deadline = Instant::now() + INVOKE_DEADLINE;
    loop {
        let out = tokio::time::timeout(
            INVOKE_DEADLINE,
            tokio::process::Command::new(cargo())
                .args(["lambda", "invoke", "fitbox-resize", "-A", "127.0.0.1", "-P"])
                .arg(port.to_string())
                .arg("-F")
                .arg(event_file)
                .args(["-o", "json"])
                .kill_on_drop(true)
                .output(),
        )
        .await
        .unwrap_or_else(|_| panic!("cargo lambda invoke timed out; watch log:\n{}", watch.log()))
        .expect("running cargo lambda invoke");
        let inv = Invoked {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let not_up = !inv.ok
            && (inv.stderr.contains("onnection refused")
                || inv.stderr.contains("error sending request")
                || inv.stderr.contains("error trying to connect"));
        if !not_up {
            return inv;
        }
        assert!(
            Instant::now() < deadline,
            "cargo lambda watch never answered; invoke said:\n{}\nwatch log:\n{}",
            inv.stderr,
            watch.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_under_cargo_lambda_watch_resizes_an_invoked_s3_event() {
    if std::env::var("FITBOX_SKIP_CARGO_LAMBDA").as_deref() == Ok("1") {
        eprintln!("skipped: FITBOX_SKIP_CARGO_LAMBDA=1");
        return;
    }
    let version = std::process::Command::new(cargo())
        .args(["lambda", "--version"])
        .output();
    match version {
        Ok(o) if o.status.success() => {
            eprintln!("using {}", String::from_utf8_lossy(&o.stdout).trim());
        }
        other => panic!(
            "`cargo lambda` is required for this test (install: `pip install cargo-lambda`; \
             skip with FITBOX_SKIP_CARGO_LAMBDA=1): {other:?}"
        ),
    }

    let env = start().await;
    // The photo with the highest peak memory (24 MP WebP: no shrink-on-load).
    let photo = read("photos/libwebp_bryce_panorama.webp");
    let key = "uploads/lambda ü+%.webp";
    env.upload(key, &photo, Some("IMG_0001.JPG")).await;
    let work = tempfile::tempdir().expect("tempdir");
    let event_file = work.path().join("event.json");
    // The key as S3 sends it in the event.
    let event = s3_put_event(&[(UPLOAD_BUCKET, "uploads/lambda+%C3%BC%2B%25.webp")]);
    std::fs::write(&event_file, event.to_string()).expect("event file");

    let port = free_port();
    let log = work.path().join("watch.log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let mut cmd = std::process::Command::new(cargo());
    cmd.args([
        "lambda",
        "watch",
        "--ignore-changes",
        "-A",
        "127.0.0.1",
        "-P",
    ])
    .arg(port.to_string())
    .current_dir(env!("CARGO_MANIFEST_DIR"))
    .env("FITBOX_UPLOAD_BUCKET", UPLOAD_BUCKET)
    .env("FITBOX_RESIZED_BUCKET", RESIZED_BUCKET)
    .env("FITBOX_S3_ENDPOINT", env.s3.endpoint())
    .env("AWS_ACCESS_KEY_ID", fitbox_local_s3::DEFAULT_ACCESS_KEY)
    .env("AWS_SECRET_ACCESS_KEY", fitbox_local_s3::DEFAULT_SECRET_KEY)
    .env("AWS_REGION", fitbox_local_s3::REGION)
    .env("AWS_EC2_METADATA_DISABLED", "true")
    .env_remove("AWS_PROFILE")
    .env_remove("AWS_SESSION_TOKEN")
    .env("RUST_LOG", "info")
    .stdin(Stdio::null())
    .stdout(log_file.try_clone().expect("log file"))
    .stderr(log_file);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let watch = Watch {
        child: cmd.spawn().expect("spawning cargo lambda watch"),
        log,
    };

    // 1. The upload is resized by the binary.
    let inv = invoke(port, &event_file, &watch).await;
    assert!(
        inv.ok && inv.stdout == "null",
        "invoke failed: stdout {:?}\nstderr {}\nwatch log:\n{}",
        inv.stdout,
        inv.stderr,
        watch.log()
    );
    let want = fitbox_core::thumbnail(&photo, &env.cfg.options).expect("core");
    let thumb_key = keys::image_key(key, want.width, want.height, want.format.ext()).expect("key");
    let thumb = env
        .get(RESIZED_BUCKET, &thumb_key)
        .await
        .unwrap_or_else(|| panic!("no thumbnail {thumb_key}; watch log:\n{}", watch.log()));
    assert!(
        thumb.bytes == want.bytes,
        "thumbnail differs from fitbox-core's"
    );
    assert_eq!(thumb.meta("pixel-sha256"), Some(want.pixel_sha256.as_str()));
    assert_eq!(thumb.meta("filename"), Some("IMG_0001.JPG"));
    assert!(
        env.get(UPLOAD_BUCKET, key).await.is_none(),
        "original deleted"
    );
    match function_peak_rss_kib(watch.child.id()) {
        Some(kib) => eprintln!("fitbox-resize peak RSS after the 24 MP WebP: {kib} KiB"),
        None => eprintln!("fitbox-resize process not found for a peak-RSS reading"),
    }
    // The binary logs JSON lines with the stage timings.
    let log = watch.log();
    let resized = ResizedLine::find(&log);
    let (fields, line) = (&resized.fields, &resized.line);
    let num = |f: &str| resized.num(f);
    for f in [
        "download_ms",
        "decode_ms",
        "resize_ms",
        "color_ms",
        "encode_ms",
        "thumbnail_ms",
        "upload_ms",
        "delete_ms",
        "total_ms",
    ] {
        let ms = num(f);
        assert!(
            ms.is_finite() && (0.0..60_000.0).contains(&ms),
            "{f} = {ms} in {line}"
        );
    }
    // A 24 MP WebP takes real time to decode and resample.
    assert!(num("decode_ms") > 1.0 && num("resize_ms") > 0.0, "{line}");
    let stages = num("decode_ms") + num("resize_ms") + num("color_ms") + num("encode_ms");
    assert!(stages <= num("thumbnail_ms") + 0.005, "{line}");
    assert!(num("thumbnail_ms") <= num("total_ms"), "{line}");
    assert_eq!(fields["key"], key);
    assert_eq!(num("source_bytes"), photo.len() as f64);
    assert_eq!(
        (num("source_width"), num("source_height")),
        (want.source.width as f64, want.source.height as f64)
    );
    assert_eq!(
        (num("width"), num("height")),
        (want.width as f64, want.height as f64)
    );
    assert_eq!(num("output_bytes"), want.bytes.len() as f64);

    // 2. The same event again: a repeated delivery, success without work.
    env.faults.reset_counters();
    let inv = invoke(port, &event_file, &watch).await;
    assert!(
        inv.ok && inv.stdout == "null",
        "{} {}",
        inv.stdout,
        inv.stderr
    );
    assert_eq!(env.faults.calls(Op::Put), 0);

    // 3. S3 failing on the thumbnail write: the invocation fails (Lambda would retry) and the
    //    original stays; with S3 healthy, the retry succeeds.
    let key2 = "uploads/second.jpg";
    env.upload(key2, &read("edge/Portrait_2.jpg"), None).await;
    let event2 = work.path().join("event2.json");
    std::fs::write(
        &event2,
        s3_put_event(&[(UPLOAD_BUCKET, "uploads/second.jpg")]).to_string(),
    )
    .expect("event file");
    env.faults.fail(Op::Put, 1.0, FaultKind::SlowDown);
    let inv = invoke(port, &event2, &watch).await;
    assert!(!inv.ok, "expected a failed invocation: {}", inv.stdout);
    let said = format!("{}{}", inv.stdout, inv.stderr);
    assert!(said.contains("records failed"), "{said}");
    assert!(
        env.get(UPLOAD_BUCKET, key2).await.is_some(),
        "original kept"
    );
    env.faults.clear();
    let inv = invoke(port, &event2, &watch).await;
    assert!(inv.ok, "retry failed: {} {}", inv.stdout, inv.stderr);
    assert!(env.get(UPLOAD_BUCKET, key2).await.is_none());
    assert_eq!(
        env.list(RESIZED_BUCKET, "images/second.jpg/").await.len(),
        1
    );
    drop(watch);
}
