//! `fitbox serve` as a user runs it: the real binary as a child process on free ports, driven only
//! through its HTTP surfaces (the API, and the embedded S3 endpoint it prints, with the local
//! credentials). Needs `../shared/testdata`; fails loudly without it.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fitbox_api::{ImagePage, UploadStatus, UploadTicket};
use serde_json::{json, Value};

mod support;
use support::{
    keys, run_measured, testdata, Launch, Server, StderrLog, BIN, RESIZED_BUCKET, UPLOAD_BUCKET,
};

/// One attempt per step: the stack has no injected faults here, so any failure is a bug.
async fn ticket_and_put(
    http: &reqwest::Client,
    api: &str,
    name: &str,
    bytes: Vec<u8>,
    media: &str,
) -> UploadTicket {
    support::ticket_and_put(http, api, name, bytes, media, 1).await
}

/// `fitbox thumbnail --json` on a file: (width, height, pixel_sha256).
fn cli_thumbnail(path: &Path) -> (u32, u32, String) {
    let out_file = std::env::temp_dir().join(format!("fitbox-serve-test-{}", std::process::id()));
    let out = Command::new(BIN)
        .arg("thumbnail")
        .arg(path)
        .arg("-o")
        .arg(&out_file)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let o = &v["output"];
    (
        o["width"].as_u64().unwrap() as u32,
        o["height"].as_u64().unwrap() as u32,
        o["pixel_sha256"].as_str().unwrap().to_owned(),
    )
}

/// The media type a browser would send for `path`, by its extension.
fn media_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        other => panic!("no media type for {other:?}"),
    }
}

/// The largest, slowest photo of the set (about 0.7 s to resize in a debug build).
fn slow_photo() -> PathBuf {
    testdata().join("photos/libwebp_bryce_panorama.webp")
}

/// What the embedded store logs at debug level (`RUST_LOG=fitbox_local_s3=debug`) for a
/// thumbnail of upload `id` written, and for its original deleted.
fn thumbnail_stored(id: &str) -> String {
    format!("stored s3://{RESIZED_BUCKET}/images/{id}/")
}
fn original_deleted(id: &str) -> String {
    format!("deleted s3://{UPLOAD_BUCKET}/uploads/{id}")
}

/// How many of `lines` contain `needle`.
fn count(lines: &[String], needle: &str) -> usize {
    lines.iter().filter(|l| l.contains(needle)).count()
}

async fn wait_final(http: &reqwest::Client, api: &str, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let v: Value = http
            .get(format!("{api}/api/uploads/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["status"] == "ready" || v["status"] == "rejected" {
            return v;
        }
        assert!(Instant::now() < deadline, "{id} still {v} after {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn gallery(http: &reqwest::Client, api: &str) -> Vec<fitbox_api::ImageEntry> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{api}/api/images?limit=100");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: ImagePage = http.get(url).send().await.unwrap().json().await.unwrap();
        all.extend(page.images);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return all,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_the_photo_set_and_broken_files() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let photos: Vec<PathBuf> = std::fs::read_dir(testdata().join("photos"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let started = Instant::now();
    let out = Command::new(BIN)
        .arg("upload")
        .arg("--api")
        .arg(&server.api)
        .arg("--json")
        .args(&photos)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("photo set: upload to ready in {elapsed:?}");
    let http = reqwest::Client::new();
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), photos.len());
    let listed = gallery(&http, &server.api).await;
    assert_eq!(listed.len(), photos.len());
    for (line, path) in lines.iter().zip(&photos) {
        assert_eq!(line["status"], "ready", "{line}");
        let (w, h, sha) = cli_thumbnail(path);
        let id = line["id"].as_str().unwrap();
        let entry = listed
            .iter()
            .find(|e| e.id == id)
            .unwrap_or_else(|| panic!("{id} not in the gallery"));
        assert_eq!((entry.width, entry.height), (w, h), "{}", path.display());
        let status: UploadStatus = http
            .get(format!("{}/api/uploads/{id}", server.api))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match status.state {
            fitbox_api::UploadState::Ready { image } => {
                assert_eq!(image.pixel_sha256.as_deref(), Some(sha.as_str()))
            }
            other => panic!("{other:?}"),
        }
        // The thumbnail is really there.
        let img = http.get(&entry.url).send().await.unwrap();
        assert_eq!(img.status(), 200);
        assert_eq!(img.bytes().await.unwrap().len() as u64, entry.bytes);
    }
    let s3 = server.s3();
    assert!(
        keys(&s3, UPLOAD_BUCKET, "uploads/").await.is_empty(),
        "originals left in uploads/"
    );

    // Broken and disguised files, sent past the client's own guard: the server rejects them
    // with a reason and keeps the original under rejected/.
    let edge = testdata().join("edge");
    // (file, media type sent, reason code, words of the reason)
    let cases = [
        (
            "sharp_truncated.jpg",
            "image/jpeg",
            "truncated",
            "truncated",
        ),
        ("sharp_truncated.png", "image/png", "truncated", "truncated"),
        ("vips_truncated.gif", "image/gif", "truncated", "truncated"),
        (
            "attsaver_broken_text.jpg",
            "image/jpeg",
            "not_an_image",
            "not an image",
        ),
        (
            "attsaver_ssrf_mvg.png",
            "image/png",
            "not_an_image",
            "not an image",
        ),
        ("pillow_broken.png", "image/png", "corrupt", "corrupt"),
        (
            "sharp_corrupt-header.jpg",
            "image/jpeg",
            "corrupt",
            "JPEG data is corrupt",
        ),
        // A 65536x65536 (4.3 GP) PNG in 522 kB: refused from its header, never decoded.
        (
            "sharp_65536-uint32-limit.png",
            "image/png",
            "too_many_pixels",
            "65536x65536",
        ),
        (
            "ljt_monkey12_12bit.jpg",
            "image/jpeg",
            "unsupported_variant",
            "12 bits",
        ),
        (
            "ljt_testimgari_arithmetic.jpg",
            "image/jpeg",
            "unsupported_variant",
            "arithmetic-coded",
        ),
    ];
    for (file, media, code, words) in cases {
        let t = ticket_and_put(
            &http,
            &server.api,
            file,
            std::fs::read(edge.join(file)).unwrap(),
            media,
        )
        .await;
        let v = wait_final(&http, &server.api, &t.id, Duration::from_secs(60)).await;
        assert_eq!(v["status"], "rejected", "{file}: {v}");
        assert_eq!(v["code"], code, "{file}: {v}");
        assert!(v["reason"].as_str().unwrap().contains(words), "{file}: {v}");
        let kept = s3
            .head_object()
            .bucket(UPLOAD_BUCKET)
            .key(format!("rejected/{}", t.id))
            .send()
            .await;
        let kept =
            kept.unwrap_or_else(|e| panic!("{file}: original not kept under rejected/: {e:?}"));
        assert_eq!(
            kept.content_length(),
            Some(std::fs::metadata(edge.join(file)).unwrap().len() as i64)
        );
    }
    // A real JPEG named .png, sent as image/png: the format comes from its bytes.
    let file = "attsaver_wrongextension.png";
    let t = ticket_and_put(
        &http,
        &server.api,
        file,
        std::fs::read(edge.join(file)).unwrap(),
        "image/png",
    )
    .await;
    let v = wait_final(&http, &server.api, &t.id, Duration::from_secs(60)).await;
    assert_eq!(v["status"], "ready", "{file}: {v}");
    assert_eq!(
        (v["image"]["width"].as_u64(), v["image"]["height"].as_u64()),
        (Some(299), Some(400)),
        "{file}: {v}"
    );
    let thumb = http
        .get(v["image"]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), 200);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg", "{file}");

    // And `fitbox upload` refuses the disguised text file before sending it: nothing new
    // reaches the store.
    let before = (
        keys(&s3, UPLOAD_BUCKET, "uploads/").await,
        keys(&s3, UPLOAD_BUCKET, "rejected/").await,
    );
    let text = edge.join("attsaver_broken_text.jpg");
    let out = Command::new(BIN)
        .arg("upload")
        .arg("--api")
        .arg(&server.api)
        .arg(&text)
        .output()
        .unwrap();
    // 3: refused, not failed (`fitbox upload --help`).
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "{}: rejected: not an image: text; fitbox accepts JPEG, PNG, WebP and GIF\n",
            text.display()
        )
    );
    let after = (
        keys(&s3, UPLOAD_BUCKET, "uploads/").await,
        keys(&s3, UPLOAD_BUCKET, "rejected/").await,
    );
    assert_eq!(before, after, "fitbox upload sent a file its guard refused");

    assert!(
        server.stop().success(),
        "fitbox serve did not exit 0 on SIGTERM"
    );
}

/// The README's curl lines, run as written.
/// `fitbox upload`'s exit status tells a failed file (1) from a refused image (3); `-` reads
/// one image from standard input; files are streamed from disk, so memory does not grow with
/// what is uploaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_streams_files_reads_stdin_and_tells_failures_from_refusals() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let upload = || {
        let mut cmd = Command::new(BIN);
        cmd.arg("upload").arg("--api").arg(&server.api);
        cmd
    };
    let photo = testdata().join("photos/jpegfiles_iphone_se2_display_p3.jpg");
    let text = testdata().join("edge/attsaver_broken_text.jpg");

    // Standard input, named by --name.
    let out = upload()
        .args(["--json", "--name", "cat.jpg", "-"])
        .stdin(std::fs::File::open(&photo).unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        (&line["file"], &line["status"]),
        (&json!("cat.jpg"), &json!("ready"))
    );
    assert_eq!(
        (&line["width"], &line["height"]),
        (&json!(400), &json!(300))
    );
    let id = line["id"].as_str().unwrap();
    let owner = server
        .s3()
        .head_object()
        .bucket(UPLOAD_BUCKET)
        .key(format!("owners/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(owner.metadata().unwrap()["filename"], "cat.jpg");

    // A file that cannot be read is a failure (1), and outweighs a refusal.
    let missing = data.path().join("missing.jpg");
    let out = upload().arg(&text).arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{}: rejected: not an image", text.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{}: failed: cannot read", missing.display())),
        "{stdout}"
    );
    // Standard input twice is a usage error (2), before anything is sent.
    assert_eq!(
        upload().args(["-", "-"]).output().unwrap().status.code(),
        Some(2)
    );

    // Eight files of 20 MB (the photo, padded after its end marker, which decoders ignore):
    // read whole before sending, as fitbox upload used to, they would take 160 MB.
    let mut big = std::fs::read(&photo).unwrap();
    big.resize(20 << 20, 0);
    let files: Vec<PathBuf> = (0..8)
        .map(|i| {
            let p = data.path().join(format!("big{i}.jpg"));
            std::fs::write(&p, &big).unwrap();
            p
        })
        .collect();
    drop(big);
    // The same client sending the photo alone: its own size (code, runtime, TLS, HTTP).
    let mut cmd = upload();
    cmd.args(["--json"]).arg(&photo);
    let alone = run_measured(cmd, Duration::from_secs(60));
    assert_eq!(alone.code, Some(0), "{}\n{}", alone.stdout, alone.stderr);
    let mut cmd = upload();
    cmd.args(["--parallel", "2", "--json"]).args(&files);
    let run = run_measured(cmd, Duration::from_secs(120));
    eprintln!(
        "fitbox upload, 8 x 20 MB: peak {} MB in {:?}; the photo alone: peak {} MB",
        run.peak_mb, run.elapsed, alone.peak_mb
    );
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.matches("\"status\":\"ready\"").count(),
        8,
        "{}",
        run.stdout
    );
    // Streamed, two at a time, a few 64 KiB pieces each: about the photo alone's peak. Read
    // whole, one file alone would add 20 MB, and all eight 160 MB.
    assert!(
        run.peak_mb < alone.peak_mb + 15,
        "fitbox upload peaked at {} MB for 8 x 20 MB files, {} MB for one small photo: \
         not streamed from disk",
        run.peak_mb,
        alone.peak_mb
    );
    assert!(server.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_curl_upload_works_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("<!-- curl-upload -->")
        .expect("README has no curl-upload block");
    let block = &readme[start..];
    let code = block
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("sh block");
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let photo = testdata().join("edge/Landscape_6.jpg");
    std::fs::copy(&photo, data.path().join("photo.jpg")).unwrap();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", code])
        .current_dir(data.path())
        .env("API", &server.api)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "README curl block failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ticket_id = stdout.lines().find_map(|l| {
        serde_json::from_str::<Value>(l)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_owned))
    });
    let id = ticket_id.expect("the block printed the upload status");
    let http = reqwest::Client::new();
    let v = wait_final(&http, &server.api, &id, Duration::from_secs(60)).await;
    assert_eq!(v["status"], "ready", "{v}");
    assert_eq!(
        (v["image"]["width"].as_u64(), v["image"]["height"].as_u64()),
        (Some(400), Some(267))
    );
}

/// Kill -9 right after 20 uploads (one worker, the slowest photo last, so several are still
/// queued or being resized), then start again on the same data with no periodic sweep before
/// the test ends: the start-up sweep finishes every unfinished upload, each exactly once, and
/// redoes none that was finished. The embedded store's own log (thumbnail writes, original
/// deletions) of both runs is the witness; the gallery lists every upload exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_and_restart_loses_nothing() {
    let data = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let edge = testdata().join("edge");
    let mut photos: Vec<PathBuf> = std::fs::read_dir(testdata().join("photos"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| *p != slow_photo())
        .collect();
    photos.sort();
    let files: Vec<PathBuf> = (0..=5)
        .map(|n| edge.join(format!("Landscape_{n}.jpg")))
        .chain((0..=4).map(|n| edge.join(format!("Portrait_{n}.jpg"))))
        .chain(photos)
        .chain([slow_photo()])
        .collect();
    assert_eq!(files.len(), 20);
    let store_log = || vec![("RUST_LOG", "warn,fitbox_local_s3=debug".to_owned())];

    let run1 = StderrLog::default();
    let server = Server::launch(
        data.path(),
        Launch {
            args: vec!["--workers", "1"],
            env: store_log(),
            on_stderr: run1.on_stderr(),
        },
    );
    let mut ids = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        let t = ticket_and_put(
            &http,
            &server.api,
            name,
            std::fs::read(f).unwrap(),
            media_type(f),
        )
        .await;
        ids.push(t.id);
    }
    server.kill(); // SIGKILL, right after the last PUT was answered
    let run1 = run1.lines();
    for id in &ids {
        assert_eq!(
            count(&run1, &format!("stored s3://{UPLOAD_BUCKET}/uploads/{id}")),
            1,
            "the store did not log the upload of {id}"
        );
    }
    // What the kill left is read from the store's files, not from its log: a file is renamed
    // into place before the line saying so is written, and the kill can fall between the two.
    let s3_root = data.path().join("s3");
    let thumbnail_on_disk = |id: &str| {
        std::fs::read_dir(s3_root.join(RESIZED_BUCKET).join("images").join(id))
            .map(|d| d.count() > 0)
            .unwrap_or(false)
    };
    let original_on_disk = |id: &str| {
        s3_root
            .join(UPLOAD_BUCKET)
            .join("uploads")
            .join(id)
            .exists()
    };
    let finished_before: HashSet<&String> = ids.iter().filter(|id| !original_on_disk(id)).collect();
    let thumbnail_before: HashSet<&String> =
        ids.iter().filter(|id| thumbnail_on_disk(id)).collect();
    for id in &finished_before {
        assert!(
            thumbnail_before.contains(id),
            "{id}: original deleted before its thumbnail was stored"
        );
    }
    eprintln!("{} of 20 finished before the kill", finished_before.len());
    assert!(
        finished_before.len() < ids.len(),
        "every upload was finished before the kill: the restart recovers nothing"
    );

    let run2 = StderrLog::default();
    let server = Server::launch(
        data.path(),
        Launch {
            args: vec!["--sweep-secs", "3600"],
            env: store_log(),
            on_stderr: run2.on_stderr(),
        },
    );
    for id in &ids {
        let v = wait_final(&http, &server.api, id, Duration::from_secs(120)).await;
        assert_eq!(v["status"], "ready", "{v}");
    }
    let listed = gallery(&http, &server.api).await;
    let mut listed_ids: Vec<&str> = listed.iter().map(|e| e.id.as_str()).collect();
    listed_ids.sort();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(
        listed_ids, expected,
        "the gallery must list every upload once"
    );
    let s3 = server.s3();
    let thumbs = keys(&s3, RESIZED_BUCKET, "images/").await;
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for k in &thumbs {
        let parsed =
            fitbox_api::keys::parse_image_key(k).unwrap_or_else(|| panic!("stray key {k}"));
        *per_id.entry(parsed.name.to_owned()).or_default() += 1;
    }
    assert_eq!(per_id.len(), 20, "{per_id:?}");
    assert!(
        per_id.values().all(|n| *n == 1),
        "duplicated thumbnails: {per_id:?}"
    );
    assert!(keys(&s3, UPLOAD_BUCKET, "uploads/").await.is_empty());
    assert!(keys(&s3, UPLOAD_BUCKET, "rejected/").await.is_empty());
    assert!(server.stop().success());

    // Each upload processed once: finished before the kill and left alone after, or recovered
    // by the start-up sweep (the only sweep of the second run): with one thumbnail write, or,
    // when the thumbnail was already stored, by deleting the original only.
    let run2 = run2.lines();
    for id in &ids {
        let (before, after) = (
            count(&run1, &thumbnail_stored(id)),
            count(&run2, &thumbnail_stored(id)),
        );
        assert!(
            before <= 1,
            "{id}: {before} thumbnail writes before the kill"
        );
        if finished_before.contains(id) {
            assert_eq!(
                after, 0,
                "{id} was finished before the kill, and resized again"
            );
        } else if thumbnail_before.contains(id) {
            // The thumbnail was stored before the kill, the original not yet deleted: the
            // restart deletes the original without resizing it again.
            assert_eq!(
                after, 0,
                "{id}: resized again although its thumbnail was stored"
            );
            assert_eq!(count(&run2, &original_deleted(id)), 1, "{id}");
        } else {
            assert_eq!(after, 1, "{id}: {after} thumbnail writes after the restart");
            assert_eq!(count(&run2, &original_deleted(id)), 1, "{id}");
        }
    }
}

/// The signal arrives while resizes are in flight: `fitbox serve` exits 0 after finishing
/// each of them (thumbnail stored, original deleted). Jobs not started stay untouched in
/// `uploads/` for the next start; nothing is left half-done.
async fn stop_while_resizing(signal: &str) {
    let data = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let log = StderrLog::default();
    let server = Server::launch(
        data.path(),
        Launch {
            args: vec!["--workers", "2", "--sweep-secs", "3600"],
            env: vec![(
                "RUST_LOG",
                "warn,fitbox::serve=debug,fitbox_local_s3=debug".to_owned(),
            )],
            on_stderr: log.on_stderr(),
        },
    );
    let bytes = std::fs::read(slow_photo()).unwrap();
    let mut ids = Vec::new();
    for i in 0..6 {
        let t = ticket_and_put(
            &http,
            &server.api,
            &format!("{i}.webp"),
            bytes.clone(),
            "image/webp",
        )
        .await;
        ids.push(t.id);
    }
    assert!(log.wait_for("resize started", Duration::from_secs(30)));
    let status = server.signal(signal);
    assert_eq!(status.code(), Some(0), "SIG{signal}: {status:?}");

    let lines = log.lines();
    let at = |needle: &str| lines.iter().position(|l| l.contains(needle));
    let stopping = at("fitbox: stopping").expect("no 'stopping' line");
    assert!(at("fitbox: stopped").is_some_and(|i| i > stopping));
    // s3s-fs keeps each object as a file named by its key.
    let s3_dir = data.path().join("s3");
    let mut in_flight = 0;
    for id in &ids {
        let original = s3_dir.join(UPLOAD_BUCKET).join("uploads").join(id);
        let thumbs: Vec<_> = std::fs::read_dir(s3_dir.join(RESIZED_BUCKET).join("images").join(id))
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        let started = lines
            .iter()
            .position(|l| l.contains("resize started") && l.contains(id.as_str()));
        match started {
            Some(started) => {
                let deleted = at(&original_deleted(id))
                    .unwrap_or_else(|| panic!("{id}: started, never finished"));
                assert!(!original.exists(), "{id}: original left behind");
                assert_eq!(thumbs.len(), 1, "{id}: thumbnails {thumbs:?}");
                if started < stopping && deleted > stopping {
                    in_flight += 1;
                }
            }
            None => {
                assert!(
                    original.exists(),
                    "{id}: not started, yet its original is gone"
                );
                assert!(thumbs.is_empty(), "{id}: not started, yet {thumbs:?}");
            }
        }
    }
    assert!(
        in_flight >= 1,
        "no resize was in flight when SIG{signal} arrived"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_resizes_in_flight_and_exits_0() {
    stop_while_resizing("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_finishes_resizes_in_flight_and_exits_0() {
    stop_while_resizing("INT").await;
}

/// A full queue holds uploads back: with one worker and room for one waiting job, the third
/// PUT is answered only once the worker has finished the first upload and taken the second.
/// Nothing is dropped: all three end up ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_holds_uploads_back() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::launch(
        data.path(),
        Launch {
            args: vec!["--workers", "1", "--queue", "1", "--sweep-secs", "3600"],
            ..Launch::default()
        },
    );
    let http = reqwest::Client::new();
    let s3 = server.s3();
    let bytes = std::fs::read(slow_photo()).unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let name = format!("{i}.webp");
        let put = ticket_and_put(&http, &server.api, &name, bytes.clone(), "image/webp");
        let t = tokio::time::timeout(Duration::from_secs(60), put)
            .await
            .unwrap_or_else(|_| panic!("PUT {i} still waiting after 60 s"));
        ids.push(t.id);
    }
    let done = keys(&s3, RESIZED_BUCKET, "images/").await;
    assert!(
        done.iter()
            .any(|k| k.starts_with(&format!("images/{}/", ids[0]))),
        "the third PUT was answered before the first upload was finished: no back-pressure \
         ({done:?})"
    );
    for id in &ids {
        let v = wait_final(&http, &server.api, id, Duration::from_secs(60)).await;
        assert_eq!(v["status"], "ready", "{v}");
    }
    assert!(server.stop().success());
}

/// `fitbox upload` without `--json`: one line per file, in the order given; exit status 3 when
/// the server refused a file (one the client's own guard let through, so it was sent) and
/// nothing failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_prints_plain_lines_and_fails_on_a_server_rejection() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let edge = testdata().join("edge");
    let (good, bad) = (
        edge.join("Landscape_6.jpg"),
        edge.join("sharp_truncated.jpg"),
    );
    let out = Command::new(BIN)
        .arg("upload")
        .arg("--api")
        .arg(&server.api)
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    // "FILE: ready WxH BYTES bytes URL"
    let rest = lines[0]
        .strip_prefix(&format!("{}: ready 400x267 ", good.display()))
        .unwrap_or_else(|| panic!("{stdout}"));
    let (bytes, url) = rest
        .split_once(" bytes ")
        .unwrap_or_else(|| panic!("{stdout}"));
    let http = reqwest::Client::new();
    let listed = gallery(&http, &server.api).await;
    assert_eq!(listed.len(), 1);
    // Both are signed links to the same object; their signatures differ when signed in
    // different seconds, so compare what they point at.
    let object = |u: &str| u.split('?').next().unwrap_or_default().to_string();
    assert_eq!(object(&listed[0].url), object(url), "{stdout}");
    assert_eq!(listed[0].bytes.to_string(), bytes);
    // "FILE: rejected: REASON", the server's reason.
    assert!(
        lines[1].starts_with(&format!(
            "{}: rejected: JPEG data is truncated",
            bad.display()
        )),
        "{stdout}"
    );
    let s3 = server.s3();
    assert_eq!(keys(&s3, UPLOAD_BUCKET, "rejected/").await.len(), 1);
    assert!(keys(&s3, UPLOAD_BUCKET, "uploads/").await.is_empty());
}

/// 100 concurrent presign + upload round trips of small real images, no errors, all listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_uploads() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let edge = testdata().join("edge");
    let small = [
        ("imagers_progressive_3.jpg", "image/jpeg"),
        ("vips_cd1.1.jpg", "image/jpeg"),
        ("sharp_with-alpha.png", "image/png"),
        ("sharp_grey-8bit-alpha.png", "image/png"),
        ("pillow_hopper_orientation_6.webp", "image/webp"),
        ("vips_cogs.gif", "image/gif"),
    ];
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (f, media) = small[i % small.len()];
        let bytes = std::fs::read(edge.join(f)).unwrap();
        let (http, api) = (http.clone(), server.api.clone());
        tasks.push(tokio::spawn(async move {
            ticket_and_put(&http, &api, &format!("{i}-{f}"), bytes, media)
                .await
                .id
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        ids.insert(t.await.expect("an upload failed"));
    }
    assert_eq!(ids.len(), 100);
    for id in &ids {
        let v = wait_final(&http, &server.api, id, Duration::from_secs(120)).await;
        assert_eq!(v["status"], "ready", "{v}");
    }
    let listed: HashSet<String> = gallery(&http, &server.api)
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(listed, ids);
}

/// A client that sends its headers slowly (slow-loris) loses its connection after the header
/// read timeout (10 s) instead of holding it for ever; other clients are served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_clients_are_cut_off() {
    use std::io::{Read, Write};
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let started = Instant::now();
    // A client that never finishes its headers, on the web/API port and on the S3 port (one
    // accept loop serves both).
    let slow = |url: &str| {
        let addr = url.trim_start_matches("http://").to_owned();
        std::thread::spawn(move || {
            let mut sock = std::net::TcpStream::connect(&addr).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            sock.write_all(b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .unwrap();
            let mut buf = Vec::new();
            // Ends (EOF, or a 408 then EOF) when the server gives up on the headers.
            // (A read error after 30 s means the server never let go: the timing assertion fails.)
            let _ = sock.read_to_end(&mut buf);
            (
                addr,
                String::from_utf8_lossy(&buf).into_owned(),
                started.elapsed(),
            )
        })
    };
    let handles = [slow(&server.api), slow(&server.s3)];
    // Meanwhile the server answers others.
    let ok = reqwest::get(format!("{}/api/config", server.api))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    for handle in handles {
        let (addr, answer, took) = tokio::task::spawn_blocking(move || handle.join().unwrap())
            .await
            .unwrap();
        assert!(
            took < Duration::from_secs(25),
            "{addr}: slow client held its connection for {took:?}"
        );
        assert!(
            took >= Duration::from_secs(9),
            "{addr}: cut off after only {took:?}"
        );
        assert!(
            !answer.contains(" 200 ") && !answer.contains(" 403 "),
            "{addr}: the incomplete request was answered: {answer}"
        );
    }
}

/// Open mode is for loopback only: `--host` anything else is refused before anything listens,
/// with a message naming the modes to use instead.
#[test]
fn open_mode_refuses_a_network_host() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--host",
            "192.0.2.10",
            "--port",
            "0",
            "--s3-port",
            "0",
        ])
        .arg("--data")
        .arg(data.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--host 192.0.2.10"), "{stderr}");
    assert!(stderr.contains("--auth keys"), "{stderr}");
    assert!(stderr.contains("--auth oidc"), "{stderr}");
    // An unspecified address cannot go into signed URLs, in any mode.
    let out = Command::new(BIN)
        .args(["serve", "--host", "0.0.0.0", "--auth", "keys", "--keys"])
        .arg(format!("ci:uploader:{}", "0".repeat(64)))
        .arg("--data")
        .arg(data.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("give the address people will use"),
        "{stderr}"
    );
    // Options that would be ignored are refused instead.
    for args in [
        vec!["--access", "private"],
        vec!["--oidc-issuer", "https://id.example"],
    ] {
        let out = Command::new(BIN)
            .arg("serve")
            .args(&args)
            .arg("--data")
            .arg(data.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("--auth"), "{stderr}");
    }
    // Keys mode with no key is refused too.
    let out = Command::new(BIN)
        .args(["serve", "--auth", "keys", "--port", "0", "--s3-port", "0"])
        .arg("--data")
        .arg(data.path())
        .env_remove("FITBOX_UPLOAD_KEYS")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("fitbox key create"), "{stderr}");
}

/// `fitbox key create` prints a key and the server's line; against `fitbox serve --auth keys`
/// with that line, `fitbox upload` without a key stops before sending (the config says a caller
/// is needed), with a wrong key exits non-zero with the server's refusal, and with `FITBOX_KEY`
/// uploads, recording the key's name as the owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_keys_from_key_create_to_upload() {
    let out = Command::new(BIN)
        .args(["key", "create", "--name", "ci"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("FITBOX_KEY="))
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_string();
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("FITBOX_UPLOAD_KEYS="))
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_string();
    assert!(key.starts_with("fbk_") && key.len() == 47, "{key}");
    assert!(
        line.starts_with("ci:uploader:") && !line.contains(&key[4..]),
        "{line}"
    );

    let data = tempfile::tempdir().unwrap();
    let server = Server::launch(
        data.path(),
        Launch {
            args: vec!["--auth", "keys"],
            env: vec![("FITBOX_UPLOAD_KEYS", line)],
            ..Launch::default()
        },
    );
    let photo = testdata().join("edge").join("Landscape_6.jpg");
    let upload = |key: Option<&str>| {
        let mut cmd = Command::new(BIN);
        cmd.args(["upload", "--api", &server.api])
            .arg(&photo)
            .env_remove("FITBOX_KEY");
        if let Some(k) = key {
            cmd.env("FITBOX_KEY", k);
        }
        cmd.output().unwrap()
    };
    let without = upload(None);
    let stderr = String::from_utf8_lossy(&without.stderr);
    assert_eq!(without.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("signed-in-upload"), "{stderr}");
    assert!(stderr.contains("FITBOX_KEY"), "{stderr}");
    let wrong = upload(Some("fbk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    let said = String::from_utf8_lossy(&wrong.stdout);
    assert_eq!(wrong.status.code(), Some(1), "{said}");
    assert!(said.contains("unknown upload key"), "{said}");
    let s3 = server.s3();
    assert!(keys(&s3, UPLOAD_BUCKET, "uploads/").await.is_empty());

    let with = upload(Some(&key));
    let said = String::from_utf8_lossy(&with.stdout);
    assert!(
        with.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&with.stderr)
    );
    assert!(said.contains(": ready 400x267 "), "{said}");
    let records = keys(&s3, UPLOAD_BUCKET, "owners/").await;
    assert_eq!(records.len(), 1, "{records:?}");
    let head = s3
        .head_object()
        .bucket(UPLOAD_BUCKET)
        .key(&records[0])
        .send()
        .await
        .unwrap();
    // Percent-encoded to ASCII like the file name (a subject may hold any character).
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("owner"))
            .map(|o| fitbox_api::keys::decode_filename(o)),
        Some("key:ci".to_string())
    );
}

/// The local server: fresh S3 credentials every run (the published defaults are refused), the
/// web port answers only its own host names (DNS rebinding), and every answer carries the
/// security headers, with a CSP that allows no inline script but by hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_server_credentials_host_check_and_security_headers() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let first_key = server.s3_key.clone();
    assert_ne!(first_key.0, "fitbox-local");
    let published = aws_sdk_s3::Client::from_conf(
        server
            .s3()
            .config()
            .to_builder()
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "fitbox-local",
                "fitbox-local-secret",
                None,
                None,
                "test",
            ))
            .build(),
    );
    let refused = published
        .list_objects_v2()
        .bucket(UPLOAD_BUCKET)
        .send()
        .await;
    assert!(refused.is_err(), "the published default keys must not work");
    assert!(keys(&server.s3(), UPLOAD_BUCKET, "").await.is_empty());
    let mode = std::fs::metadata(data.path().join("s3-credentials.json"))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077,
        0,
        "owner only"
    );

    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/api/config", server.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let csp = header("content-security-policy");
    let script_src = csp
        .split(';')
        .find(|d| d.trim().starts_with("script-src"))
        .unwrap_or_else(|| panic!("{csp}"));
    assert!(!script_src.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains(&server.s3),
        "connect-src names the S3 endpoint: {csp}"
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("referrer-policy"), "strict-origin-when-cross-origin");

    // Another host name pointing at this address: refused before anything else.
    let port = server.api.rsplit(':').next().unwrap();
    let r = http
        .get(format!("{}/api/config", server.api))
        .header("host", format!("rebind.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unknown_host");
    for ok in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let r = http
            .get(format!("{}/api/config", server.api))
            .header("host", ok.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{ok}");
    }
    drop(server);

    // A second run makes new keys.
    let again = Server::start(data.path());
    assert_ne!(again.s3_key, first_key);
}

/// `fitbox serve` limits tickets per connecting address: 200 requests from 127.0.0.1 give 429s
/// with `Retry-After` beyond the minute's 120, while 127.0.0.2 is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_are_limited_per_connecting_address() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let from = |ip: &str| {
        reqwest::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let body = serde_json::json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 3});
    let one = from("127.0.0.1");
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let (http, url, body) = (
            one.clone(),
            format!("{}/api/uploads", server.api),
            body.clone(),
        );
        set.spawn(async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            let retry = r.headers().get("retry-after").is_some();
            (r.status().as_u16(), retry)
        });
    }
    let (mut served, mut limited) = (0, 0);
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            (201, _) => served += 1,
            (429, true) => limited += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!((120..=125).contains(&served), "{served} served");
    assert_eq!(served + limited, 200);
    let other = from("127.0.0.2")
        .post(format!("{}/api/uploads", server.api))
        .header("host", server.api.trim_start_matches("http://"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 201);
}
