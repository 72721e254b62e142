//! `fitbox serve` while its embedded S3 fails calls on purpose (the hidden, test-only
//! `FITBOX_FAULTS` option of `cli/src/serve.rs`): real small images from
//! `../shared/testdata/edge` are uploaded through the API (tickets, then a signed PUT retried on
//! 5xx and network errors) and resized while 20 % (or `FITBOX_FAULT_RATE`) of GetObject,
//! PutObject (the uploads' signed PUTs included), CopyObject and DeleteObject calls fail, each in
//! one of five ways drawn at random: 500 InternalError, 503 SlowDown, the connection closed
//! without an answer, the connection closed *after* the operation took effect (the client cannot
//! know it happened), or silence for longer than the server's S3 timeout, then a closed
//! connection. Faults stop after a while; the sweeps and retries must finish the rest. The
//! injected faults are counted from the server's log (one `fault injected: Op bucket/key kind`
//! line each) and every operation and every kind must occur.
//!
//! Checked:
//! * every upload ends resized or rejected, exactly once: exactly one thumbnail key or one
//!   `rejected/` object per id, never both, and the outcome is the one `fitbox_core::thumbnail`
//!   gives for the same bytes (a failed GET never turns into a wrongful rejection);
//! * no original is deleted before its thumbnail exists: while the test runs it repeatedly lists
//!   `uploads/` and *then* the thumbnails; any uploaded id missing from the first listing must
//!   be in the second;
//! * nothing is left in `uploads/` at the end; all within [`DEADLINE`].
//!
//! Two sizes, the same checks: `make test` uploads 80 images with faults on for 30 s (with half
//! of the few COPY calls failing, so every operation and every kind of fault still occurs);
//! `make soak` (`FITBOX_SOAK=full`) uploads 200 with faults on for 45 s.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The suite's size: [`Size::FULL`] with `FITBOX_SOAK=full` (`make soak`), else [`Size::CI`].
#[derive(Debug, Clone, Copy)]
struct Size {
    /// Images uploaded, 8 at a time.
    uploads: usize,
    /// Faults are on for this long after start.
    fault_secs: u64,
    /// Least fraction of COPY calls that fail.
    copy_floor: f64,
}

impl Size {
    const FULL: Size = Size {
        uploads: 200,
        fault_secs: 45,
        copy_floor: 0.0,
    };
    // Faults stay on for as long as a run's resizes take (18 s with faults for 15 s; about 33 s
    // with 30 s): COPY calls come only from refused uploads, and with a 15 s window a slow run
    // once handled every refused file after it, so no COPY fault occurred and a check failed.
    const CI: Size = Size {
        uploads: 80,
        fault_secs: 30,
        copy_floor: 0.5,
    };

    fn from_env() -> Size {
        match std::env::var("FITBOX_SOAK").as_deref() {
            Ok("full") => Size::FULL,
            Ok(other) if !other.is_empty() => panic!("FITBOX_SOAK={other}: only 'full' is known"),
            _ => Size::CI,
        }
    }
}
/// The fraction of GET, PUT, COPY and DELETE calls that fail: 0.2, or `FITBOX_FAULT_RATE` (to try
/// the stack at other rates by hand); COPY at least `copy_floor` (only refused uploads are
/// copied, a few per run at the CI size, and every operation must meet faults).
fn fault_spec(copy_floor: f64) -> String {
    let rate: f64 = std::env::var("FITBOX_FAULT_RATE")
        .map(|r| r.parse().expect("FITBOX_FAULT_RATE: a fraction"))
        .unwrap_or(0.2);
    assert!(
        (0.0..1.0).contains(&rate),
        "FITBOX_FAULT_RATE {rate}: 0 <= rate < 1"
    );
    let copy = rate.max(copy_floor);
    format!(
        "get={rate},put={rate},copy={copy},delete={rate},\
         seed=7,kind=500+503+drop+drop-after+hang:2500"
    )
}
const FAULT_KINDS: [&str; 5] = ["500", "503", "drop", "drop-after", "hang"];
/// The server's S3 attempt timeout: shorter than the hang, so hung calls time out and retry.
const S3_TIMEOUT_SECS: &str = "1";
const DEADLINE: Duration = Duration::from_secs(180);

mod support;
use support::{keys, testdata, Launch, Server, RESIZED_BUCKET, UPLOAD_BUCKET};

fn media_type(bytes: &[u8], path: &Path) -> &'static str {
    match fitbox_core::guard::sniff(bytes) {
        Ok(f) => f.media_type(),
        Err(_) => match path.extension().and_then(|e| e.to_str()) {
            Some("png") => "image/png",
            Some("gif") => "image/gif",
            Some("webp") => "image/webp",
            _ => "image/jpeg",
        },
    }
}

#[derive(Default)]
struct Seen {
    /// Ids whose PUT succeeded.
    uploaded: BTreeSet<String>,
}

/// Ids (thumbnails and rejections) present right now: `images/{id}/...` and `rejected/{id}`.
async fn finished(s3: &aws_sdk_s3::Client) -> (BTreeMap<String, Vec<String>>, BTreeSet<String>) {
    let mut thumbs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for k in keys(s3, RESIZED_BUCKET, "images/").await {
        let p = fitbox_api::keys::parse_image_key(&k).expect("thumbnail key");
        thumbs.entry(p.name.to_owned()).or_default().push(k.clone());
    }
    let rejected = keys(s3, UPLOAD_BUCKET, "rejected/")
        .await
        .into_iter()
        .map(|k| k.trim_start_matches("rejected/").to_owned())
        .collect();
    (thumbs, rejected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_survive_s3_faults_and_nothing_is_lost() {
    let Size {
        uploads,
        fault_secs,
        copy_floor,
    } = Size::from_env();
    let started = Instant::now();
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata().join("edge"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            std::fs::metadata(p)
                .map(|m| m.len() <= 400_000)
                .unwrap_or(false)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty());
    // What the pipeline says about each file, without any S3 in the way.
    let opts = fitbox_core::Options::default();
    let expected: HashMap<PathBuf, bool> = files
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).unwrap();
            (p.clone(), fitbox_core::thumbnail(&bytes, &opts).is_ok())
        })
        .collect();

    let data = tempfile::tempdir().unwrap();
    let injected = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let counts = injected.clone();
    let server = Server::launch(
        data.path(),
        Launch {
            args: vec!["--workers", "2", "--s3-timeout-secs", S3_TIMEOUT_SECS],
            env: vec![
                (
                    "RUST_LOG",
                    "error,fitbox=off,fitbox_resize=off,fitbox_local_s3=error".into(),
                ),
                ("FITBOX_FAULTS", fault_spec(copy_floor)),
                ("FITBOX_FAULTS_UNTIL_SECS", fault_secs.to_string()),
            ],
            on_stderr: Some(Box::new(move |line: String| {
                if let Some(rest) = line.split("fault injected: ").nth(1) {
                    // "Op bucket/key kind"
                    let mut words = rest.split(' ');
                    let op = words.next().unwrap_or("?").to_owned();
                    let kind = words.nth(1).unwrap_or("?").to_owned();
                    let mut counts = counts.lock().unwrap();
                    *counts.entry(op).or_default() += 1;
                    *counts.entry(format!("kind {kind}")).or_default() += 1;
                } else if !line.contains("s3s::service") && !line.contains("injected fault") {
                    eprintln!("{line}");
                }
            })),
        },
    );
    let s3 = server.s3();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Watcher: list uploads/ first, then the outcomes; an uploaded id gone from uploads/ must
    // already have its outcome.
    let watcher = {
        let (s3, seen, stop) = (s3.clone(), seen.clone(), stop.clone());
        tokio::spawn(async move {
            let mut rounds = 0u32;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let uploaded = seen.lock().unwrap().uploaded.clone();
                let waiting: BTreeSet<String> = keys(&s3, UPLOAD_BUCKET, "uploads/")
                    .await
                    .into_iter()
                    .map(|k| k.trim_start_matches("uploads/").to_owned())
                    .collect();
                let (thumbs, rejected) = finished(&s3).await;
                for id in uploaded.difference(&waiting) {
                    assert!(
                        thumbs.contains_key(id) || rejected.contains(id),
                        "original of {id} is gone but it has neither a thumbnail \
                         nor a rejected copy"
                    );
                }
                rounds += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            rounds
        })
    };

    // The uploads, 8 at a time.
    let jobs: Vec<(usize, PathBuf)> = (0..uploads)
        .map(|i| (i, files[i % files.len()].clone()))
        .collect();
    let mut ids: Vec<(String, PathBuf)> = Vec::new();
    for chunk in jobs.chunks(8) {
        let mut set = tokio::task::JoinSet::new();
        for (i, path) in chunk.iter().cloned() {
            let (http, api, seen) = (http.clone(), server.api.clone(), seen.clone());
            set.spawn(async move {
                let bytes = std::fs::read(&path).unwrap();
                let media = media_type(&bytes, &path);
                let name = format!("{i}-{}", path.file_name().unwrap().to_string_lossy());
                // Ticket and PUT, each retried up to 40 times on 5xx and connection errors.
                let id = support::ticket_and_put(&http, &api, &name, bytes, media, 40)
                    .await
                    .id;
                seen.lock().unwrap().uploaded.insert(id.clone());
                (id, path)
            });
        }
        while let Some(r) = set.join_next().await {
            ids.push(r.unwrap());
        }
    }
    let uploaded_in = started.elapsed();
    assert_eq!(ids.len(), uploads);
    assert_eq!(
        ids.iter().map(|(id, _)| id).collect::<BTreeSet<_>>().len(),
        uploads,
        "ids are unique"
    );

    // Wait for every id to be finished and uploads/ to be empty.
    loop {
        let waiting = keys(&s3, UPLOAD_BUCKET, "uploads/").await;
        let (thumbs, rejected) = finished(&s3).await;
        let done = ids
            .iter()
            .filter(|(id, _)| thumbs.contains_key(id) || rejected.contains(id))
            .count();
        if waiting.is_empty() && done == uploads {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "after {:?}: {} of {uploads} finished, {} still in uploads/ ({:?}...)",
            started.elapsed(),
            done,
            waiting.len(),
            waiting.iter().take(3).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let rounds = watcher
        .await
        .expect("watcher found an original deleted too early");

    let (thumbs, rejected) = finished(&s3).await;
    let (mut resized, mut refused) = (0, 0);
    for (id, path) in &ids {
        let t = thumbs.get(id).map_or(0, Vec::len);
        let r = usize::from(rejected.contains(id));
        assert_eq!(
            t + r,
            1,
            "{id} ({}): {t} thumbnails, {r} rejections",
            path.display()
        );
        assert_eq!(
            t == 1,
            expected[path],
            "{id} ({}): resized={} but the pipeline says ok={}",
            path.display(),
            t == 1,
            expected[path]
        );
        if t == 1 {
            resized += 1;
        } else {
            refused += 1;
        }
    }
    let strays: Vec<_> = thumbs
        .keys()
        .filter(|k| !ids.iter().any(|(id, _)| id == *k))
        .collect();
    assert!(strays.is_empty(), "thumbnails of unknown ids: {strays:?}");
    assert!(keys(&s3, UPLOAD_BUCKET, "uploads/").await.is_empty());
    let injected = injected.lock().unwrap().clone();
    eprintln!(
        "faults {} for {fault_secs}s: {uploads} uploads in {uploaded_in:?}, all finished in {:?}: \
         {resized} resized, {refused} rejected, {rounds} watcher rounds; injected {injected:?}",
        fault_spec(copy_floor),
        started.elapsed()
    );
    for op in ["Get", "Put", "Copy", "Delete"] {
        assert!(
            injected.get(op).copied().unwrap_or(0) > 0,
            "no {op} fault was injected: {injected:?}"
        );
    }
    for kind in FAULT_KINDS {
        assert!(
            injected.get(&format!("kind {kind}")).copied().unwrap_or(0) > 0,
            "no fault of kind {kind} was injected: {injected:?}"
        );
    }
    assert!(started.elapsed() < DEADLINE);
}
