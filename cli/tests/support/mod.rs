//! What the `fitbox serve` tests share: the real binary started as a child process on free
//! ports, its printed URLs, an S3 client for its embedded server, and listing helpers.

#![allow(dead_code)] // each test binary uses part of it

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use fitbox_api::{UploadRequest, UploadTicket};

pub(crate) use fitbox_tests::testdata;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_fitbox");
pub(crate) const UPLOAD_BUCKET: &str = "fitbox-uploads";
pub(crate) const RESIZED_BUCKET: &str = "fitbox-resized";

/// How to start a server beyond the defaults (free ports, `--sweep-secs 2` unless `args` names
/// it, no web app).
#[derive(Default)]
pub(crate) struct Launch<'a> {
    pub args: Vec<&'a str>,
    pub env: Vec<(&'a str, String)>,
    /// Each line the server writes to stderr (default: passed through to the test's stderr).
    pub on_stderr: Option<Box<dyn FnMut(String) + Send>>,
}

/// A running `fitbox serve`; killed on drop.
pub(crate) struct Server {
    child: Child,
    /// Reads stderr into `Launch::on_stderr`; joined once the child has exited.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    pub api: String,
    pub s3: String,
    /// The S3 credentials this run made (`DATA/s3-credentials.json`).
    pub s3_key: (String, String),
}

/// Every line a server writes to stderr, in order, shared with an `on_stderr` that records them
/// (and passes them through to the test's stderr).
#[derive(Clone, Default)]
pub(crate) struct StderrLog(Arc<Mutex<Vec<String>>>);

impl StderrLog {
    pub(crate) fn on_stderr(&self) -> Option<Box<dyn FnMut(String) + Send>> {
        let lines = self.0.clone();
        Some(Box::new(move |line: String| {
            eprintln!("{line}");
            lines.lock().unwrap().push(line);
        }))
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Wait up to `within` for a line containing `needle`; whether one came.
    pub(crate) fn wait_for(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.0.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Server {
    pub(crate) fn start(data: &Path) -> Server {
        Server::launch(data, Launch::default())
    }

    pub(crate) fn launch(data: &Path, launch: Launch<'_>) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--port", "0", "--s3-port", "0"]);
        if !launch.args.contains(&"--sweep-secs") {
            cmd.args(["--sweep-secs", "2"]);
        }
        cmd.args(&launch.args)
            .arg("--data")
            .arg(data)
            .arg("--dist")
            .arg(data.join("no-dist"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped());
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        cmd.stderr(if launch.on_stderr.is_some() {
            Stdio::piped()
        } else {
            Stdio::inherit()
        });
        let mut child = cmd.spawn().expect("start fitbox serve");
        let stderr_reader = launch.on_stderr.map(|mut on_line| {
            let stderr = child.stderr.take().expect("stderr");
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    on_line(line);
                }
            })
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut api, mut s3) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while api.is_none() || s3.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("fitbox serve printed no URLs in 30 s");
            if let Some(u) = line.strip_prefix("fitbox listening on ") {
                api = Some(u.to_owned());
            } else if let Some(u) = line.strip_prefix("fitbox s3 endpoint ") {
                s3 = Some(u.to_owned());
            }
        }
        let creds: serde_json::Value = serde_json::from_slice(
            &std::fs::read(data.join("s3-credentials.json")).expect("s3-credentials.json"),
        )
        .expect("credentials JSON");
        let field = |k: &str| creds[k].as_str().expect("credential").to_string();
        Server {
            child,
            stderr_reader,
            api: api.unwrap(),
            s3: s3.unwrap(),
            s3_key: (field("access_key_id"), field("secret_access_key")),
        }
    }

    /// An SDK client for the embedded S3 server, with the local credentials.
    pub(crate) fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.s3)
            .force_path_style(true)
            .credentials_provider(Credentials::new(
                &self.s3_key.0,
                &self.s3_key.1,
                None,
                None,
                "test",
            ))
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// SIGTERM, and the exit status.
    pub(crate) fn stop(self) -> std::process::ExitStatus {
        self.signal("TERM")
    }

    /// Send `signal` (`TERM`, `INT`, ...) and wait up to 60 s for the exit status; the
    /// `on_stderr` callback has seen every line when this returns.
    pub(crate) fn signal(mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(&pid)
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                self.join_stderr();
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "fitbox serve did not stop within 60 s of SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, as a crash would; the `on_stderr` callback has seen every line when this
    /// returns.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.join_stderr();
    }

    fn join_stderr(&mut self) {
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every key under `prefix`; a failed listing is retried (faults tests fail S3 calls).
pub(crate) async fn keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let mut last_error = String::new();
    for _ in 0..20 {
        let mut out = Vec::new();
        let mut pages = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut ok = true;
        while let Some(page) = pages.next().await {
            match page {
                Ok(p) => out.extend(
                    p.contents()
                        .iter()
                        .filter_map(|o| o.key().map(str::to_owned)),
                ),
                Err(e) => {
                    last_error = format!("{e:?}");
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot list {bucket}/{prefix}: {last_error}");
}

/// Ask `api` for an upload ticket, then PUT `bytes` to its signed URL with its headers. Each of
/// the two steps is tried up to `attempts` times while it fails transiently (a 5xx or a
/// connection error), with a growing pause; any other answer, or the last failure, panics with
/// the status and body.
pub(crate) async fn ticket_and_put(
    http: &reqwest::Client,
    api: &str,
    name: &str,
    bytes: Vec<u8>,
    media: &str,
    attempts: u32,
) -> UploadTicket {
    let req = UploadRequest {
        filename: name.into(),
        content_type: media.into(),
        size: bytes.len() as u64,
    };
    let pause = |attempt: u32| Duration::from_millis(50 * u64::from(attempt.min(10)));
    let mut ticket = None;
    for attempt in 0..attempts {
        tokio::time::sleep(pause(attempt)).await;
        let last = attempt + 1 == attempts;
        match http
            .post(format!("{api}/api/uploads"))
            .json(&req)
            .send()
            .await
        {
            Ok(r) if r.status() == 201 => {
                ticket = Some(r.json::<UploadTicket>().await.expect("ticket JSON"));
                break;
            }
            Ok(r) if r.status().is_server_error() && !last => continue,
            Ok(r) => panic!(
                "{name}: POST /api/uploads: {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ),
            Err(_) if !last => continue,
            Err(e) => panic!("{name}: POST /api/uploads: {e}"),
        }
    }
    let ticket = ticket.unwrap_or_else(|| panic!("{name}: no ticket"));
    for attempt in 0..attempts {
        tokio::time::sleep(pause(attempt)).await;
        let last = attempt + 1 == attempts;
        let mut put = http.put(&ticket.url).body(bytes.clone());
        for (k, v) in &ticket.headers {
            put = put.header(k, v);
        }
        match put.send().await {
            Ok(r) if r.status().is_success() => return ticket,
            // The ticket's PUT carries If-None-Match: *: after an attempt whose answer was lost
            // (the connection dropped after the write), S3 says the object is already there.
            Ok(r) if r.status() == 412 && attempt > 0 => return ticket,
            Ok(r) if r.status().is_server_error() && !last => continue,
            Ok(r) => panic!(
                "{name}: PUT: {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ),
            Err(_) if !last => continue,
            Err(e) => panic!("{name}: PUT: {e}"),
        }
    }
    unreachable!("the last attempt returns or panics")
}

/// A finished child: its exit code, output and peak resident memory.
pub(crate) struct Measured {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident memory in MB (`ru_maxrss` from `wait4`, what `/usr/bin/time -f %M`
    /// prints).
    pub peak_mb: u64,
    pub elapsed: Duration,
}

/// Run `cmd` to its end, killed after `limit`, with its output captured, and measure its peak
/// resident memory.
// `wait4` through libc: std's `Child` does not report resource usage (and is never waited on).
#[allow(unsafe_code, clippy::zombie_processes)]
pub(crate) fn run_measured(mut cmd: Command, limit: Duration) -> Measured {
    use std::io::Read;
    // Linux carries the spawning process's peak resident set across exec into the child's
    // `ru_maxrss`: reset this process's own (`VmHWM`) first, so what the test holds in memory
    // does not count as the child's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child");
    let pipe = |p: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = p {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    };
    let out = pipe(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = pipe(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: plain FFI; `rusage` is a POD struct the kernel fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not yet reaped (std's `Child` is never waited on).
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        if start.elapsed() > limit {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Measured {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        // Linux reports ru_maxrss in KiB.
        peak_mb: (usage.ru_maxrss as u64) / 1024,
        elapsed: start.elapsed(),
    }
}
