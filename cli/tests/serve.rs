//! `fitbox serve` as a user runs it: the real binary as a child process on free ports, driven only
//! through its HTTP surfaces (the API, and the embedded S3 endpoint it prints, with the local
//! credentials). Needs `../shared/testdata`; fails loudly without it.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fitbox_core::api::{ImagePage, UploadStatus, UploadTicket};
use serde_json::Value;

mod support;
use support::{keys, testdata, Server, BIN, RESIZED_BUCKET, UPLOAD_BUCKET};

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

async fn gallery(http: &reqwest::Client, api: &str) -> Vec<fitbox_core::api::ImageEntry> {
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
            fitbox_core::api::UploadState::Ready { image } => {
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
    let cases = [
        ("sharp_truncated.jpg", "image/jpeg", "truncated"),
        ("sharp_truncated.png", "image/png", "truncated"),
        ("vips_truncated.gif", "image/gif", "truncated"),
        ("attsaver_broken_text.jpg", "image/jpeg", "not an image"),
        ("attsaver_ssrf_mvg.png", "image/png", "not an image"),
        ("pillow_broken.png", "image/png", "corrupt"),
    ];
    for (file, media, words) in cases {
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
    // And `fitbox upload` refuses the disguised text file before sending it.
    let out = Command::new(BIN)
        .arg("upload")
        .arg("--api")
        .arg(&server.api)
        .arg(edge.join("attsaver_broken_text.jpg"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("rejected: not an image"));

    assert!(
        server.stop().success(),
        "fitbox serve did not exit 0 on SIGTERM"
    );
}

/// The README's curl lines, run as written.
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

/// Kill -9 while 20 uploads are being resized, start again on the same data: every upload ends
/// up resized exactly once, nothing is lost or duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_and_restart_loses_nothing() {
    let data = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let edge = testdata().join("edge");
    let files: Vec<String> = (0..=8)
        .flat_map(|n| [format!("Landscape_{n}.jpg"), format!("Portrait_{n}.jpg")])
        .chain(["imagers_progressive_3.jpg".into(), "vips_cd1.1.jpg".into()])
        .collect();
    assert_eq!(files.len(), 20);
    let mut ids = Vec::new();
    {
        let server = Server::start(data.path());
        for f in &files {
            let t = ticket_and_put(
                &http,
                &server.api,
                f,
                std::fs::read(edge.join(f)).unwrap(),
                "image/jpeg",
            )
            .await;
            ids.push(t.id);
        }
        // Some may be done already; most are queued or in flight. Kill hard.
        let s3 = server.s3();
        let done_before = keys(&s3, RESIZED_BUCKET, "images/").await.len();
        eprintln!("{done_before} of 20 resized before the kill");
        drop(server); // SIGKILL
    }
    let server = Server::start(data.path());
    for id in &ids {
        let v = wait_final(&http, &server.api, id, Duration::from_secs(120)).await;
        assert_eq!(v["status"], "ready", "{v}");
    }
    let s3 = server.s3();
    let thumbs = keys(&s3, RESIZED_BUCKET, "images/").await;
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for k in &thumbs {
        let parsed =
            fitbox_core::keys::parse_image_key(k).unwrap_or_else(|| panic!("stray key {k}"));
        *per_id.entry(parsed.name.to_owned()).or_default() += 1;
    }
    assert_eq!(per_id.len(), 20, "{per_id:?}");
    assert!(
        per_id.values().all(|n| *n == 1),
        "duplicated thumbnails: {per_id:?}"
    );
    assert!(keys(&s3, UPLOAD_BUCKET, "uploads/").await.is_empty());
    assert!(keys(&s3, UPLOAD_BUCKET, "rejected/").await.is_empty());
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
