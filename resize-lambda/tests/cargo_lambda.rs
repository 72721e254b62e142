//! The real `fitbox-resize` binary driven by `cargo lambda watch` (the Lambda runtime API
//! emulator), fed real S3 events with `cargo lambda invoke`, against the in-process S3 server
//! through `FITBOX_S3_ENDPOINT`. This proves the `lambda_runtime` wiring, not only the library.
//!
//! The emulator runs with `--only-lambda-apis`: it serves the runtime API and the invoke API but
//! does not build the function itself. The function is the binary `cargo test` already built for
//! this test (`CARGO_BIN_EXE_fitbox-resize`), started here with the variables the emulator names,
//! as Lambda starts a `provided.al2023` bootstrap. (Letting `cargo lambda watch` build it meant a
//! second build of the whole dependency tree with other settings: about 5 minutes on 2 cores.)
//!
//! Needs `cargo lambda` on PATH (`pip install cargo-lambda`). Skipped only when
//! `FITBOX_SKIP_CARGO_LAMBDA=1`.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use fitbox_api::keys;
use fitbox_local_s3::{FaultKind, Op};

/// Start of the emulator and the function; generous for a busy 2-core machine.
const INVOKE_DEADLINE: Duration = Duration::from_secs(120);

/// The function name the emulator serves with `--only-lambda-apis` (it prints it at start).
const FUNCTION_NAME: &str = "_";

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// A child process (its own process group) killed, group and all, when dropped; its stdout
/// and stderr go to `log`.
struct Child {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Child {
    fn spawn(mut cmd: std::process::Command, log: std::path::PathBuf) -> Child {
        let file = std::fs::File::create(&log).expect("log file");
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        Child { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// VmHWM (peak resident memory) of the process. Reported for sizing the Lambda's memory,
    /// not asserted.
    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        for signal in ["-TERM", "-KILL"] {
            let _ = std::process::Command::new("kill")
                .args([signal, "--", &group])
                .stderr(Stdio::null())
                .status();
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// What the emulator and the function said, for failure messages.
struct Logs<'a> {
    watch: &'a Child,
    function: &'a Child,
}

impl Logs<'_> {
    fn all(&self) -> String {
        format!(
            "--- cargo lambda watch:\n{}\n--- fitbox-resize:\n{}",
            self.watch.log(),
            self.function.log()
        )
    }
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
async fn invoke(port: u16, event_file: &Path, logs: &Logs<'_>) -> Invoked {
    let deadline = Instant::now() + INVOKE_DEADLINE;
    loop {
        let out = tokio::time::timeout(
            INVOKE_DEADLINE,
            tokio::process::Command::new(cargo())
                .args(["lambda", "invoke", FUNCTION_NAME, "-A", "127.0.0.1", "-P"])
                .arg(port.to_string())
                .arg("-F")
                .arg(event_file)
                .args(["-o", "json"])
                .kill_on_drop(true)
                .output(),
        )
        .await
        .unwrap_or_else(|_| panic!("cargo lambda invoke timed out;\n{}", logs.all()))
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
            "cargo lambda watch never answered; invoke said:\n{}\n{}",
            inv.stderr,
            logs.all()
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
    let mut cmd = std::process::Command::new(cargo());
    cmd.args([
        "lambda",
        "watch",
        "--only-lambda-apis",
        "-A",
        "127.0.0.1",
        "-P",
    ])
    .arg(port.to_string())
    .current_dir(env!("CARGO_MANIFEST_DIR"))
    .env("RUST_LOG", "info");
    let watch = Child::spawn(cmd, work.path().join("watch.log"));
    // The function polls the runtime API as soon as it starts and exits if nobody answers, as
    // on Lambda: start it once the emulator listens.
    let deadline = Instant::now() + INVOKE_DEADLINE;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "cargo lambda watch never listened on {port}:\n{}",
            watch.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The function, with the variables the emulator asks for (it prints them at start) and the
    // Lambda's own configuration.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fitbox-resize"));
    cmd.env(
        "AWS_LAMBDA_RUNTIME_API",
        format!("http://127.0.0.1:{port}/.rt"),
    )
    .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
    .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
    .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
    .env("FITBOX_UPLOAD_BUCKET", UPLOAD_BUCKET)
    .env("FITBOX_RESIZED_BUCKET", RESIZED_BUCKET)
    .env("FITBOX_S3_ENDPOINT", env.s3.endpoint())
    .env("AWS_ACCESS_KEY_ID", fitbox_local_s3::DEFAULT_ACCESS_KEY)
    .env("AWS_SECRET_ACCESS_KEY", fitbox_local_s3::DEFAULT_SECRET_KEY)
    .env("AWS_REGION", fitbox_local_s3::REGION)
    .env("AWS_EC2_METADATA_DISABLED", "true")
    .env_remove("AWS_PROFILE")
    .env_remove("AWS_SESSION_TOKEN")
    // What Lambda sets for the template's `LoggingConfig: {LogFormat: JSON}`.
    .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
    .env("RUST_LOG", "info");
    let function = Child::spawn(cmd, work.path().join("function.log"));
    let logs = Logs {
        watch: &watch,
        function: &function,
    };

    // 1. The upload is resized by the binary.
    let inv = invoke(port, &event_file, &logs).await;
    assert!(
        inv.ok && inv.stdout == "null",
        "invoke failed: stdout {:?}\nstderr {}\n{}",
        inv.stdout,
        inv.stderr,
        logs.all()
    );
    let want = fitbox_core::thumbnail(&photo, &env.cfg.options).expect("core");
    let thumb_key = keys::image_key(key, want.width, want.height, want.format.ext()).expect("key");
    let thumb = env
        .get(RESIZED_BUCKET, &thumb_key)
        .await
        .unwrap_or_else(|| panic!("no thumbnail {thumb_key};\n{}", logs.all()));
    assert!(
        thumb.bytes == want.bytes,
        "thumbnail differs from fitbox-core's"
    );
    assert_eq!(thumb.meta("pixel-sha256"), Some(want.pixel_sha256.as_str()));
    assert_eq!(
        thumb.meta("filename"),
        None,
        "nothing identifying on the thumbnail"
    );
    let record = env
        .get(UPLOAD_BUCKET, &keys::owner_key(key).expect("owner key"))
        .await
        .expect("owner record");
    assert_eq!(record.meta("filename"), Some("IMG_0001.JPG"));
    assert!(
        env.get(UPLOAD_BUCKET, key).await.is_none(),
        "original deleted"
    );
    match function.peak_rss_kib() {
        Some(kib) => eprintln!("fitbox-resize peak RSS after the 24 MP WebP: {kib} KiB"),
        None => eprintln!("fitbox-resize process not found for a peak-RSS reading"),
    }
    // The binary logs JSON lines with the stage timings.
    let log = function.log();
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
    let inv = invoke(port, &event_file, &logs).await;
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
    let inv = invoke(port, &event2, &logs).await;
    assert!(!inv.ok, "expected a failed invocation: {}", inv.stdout);
    let said = format!("{}{}", inv.stdout, inv.stderr);
    assert!(said.contains("records failed"), "{said}");
    assert!(
        env.get(UPLOAD_BUCKET, key2).await.is_some(),
        "original kept"
    );
    env.faults.clear();
    let inv = invoke(port, &event2, &logs).await;
    assert!(inv.ok, "retry failed: {} {}", inv.stdout, inv.stderr);
    assert!(env.get(UPLOAD_BUCKET, key2).await.is_none());
    assert_eq!(
        env.list(RESIZED_BUCKET, "images/second.jpg/").await.len(),
        1
    );
    drop(function);
    drop(watch);
}
