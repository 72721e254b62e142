//! The resize library against a real S3 protocol server (s3s + s3s-fs, SigV4 checked) on an
//! ephemeral loopback port, driven by the real aws-sdk-s3 client.

mod common;

use aws_lambda_events::s3::S3Event;
use common::*;
use fitbox_api::keys;
use fitbox_local_s3::{FaultKind, Op};
use fitbox_resize::{handle_event, process_record, Error, Outcome, TransientError, CACHE_CONTROL};

/// Assert a finished resize: thumbnail equal to `fitbox_core::thumbnail` on the same bytes,
/// with the right headers and metadata; original gone; nothing rejected.
async fn assert_resized(env: &Env, key: &str, original: &[u8], filename: Option<&str>) -> String {
    let want = fitbox_core::thumbnail(original, &env.cfg.options).expect("core thumbnail");
    let thumb_key =
        keys::image_key(key, want.width, want.height, want.format.ext()).expect("image key");
    let prefix = keys::image_prefix(key).expect("prefix");
    assert_eq!(
        env.list(RESIZED_BUCKET, &prefix).await,
        std::slice::from_ref(&thumb_key),
        "exactly one thumbnail for {key}"
    );
    let got = env
        .get(RESIZED_BUCKET, &thumb_key)
        .await
        .unwrap_or_else(|| panic!("thumbnail {thumb_key} missing"));
    assert!(
        got.bytes == want.bytes,
        "thumbnail bytes of {key} differ from fitbox-core's"
    );
    assert_eq!(got.content_type.as_deref(), Some(want.media_type()));
    assert_eq!(got.cache_control.as_deref(), Some(CACHE_CONTROL));
    assert_eq!(got.meta("width"), Some(want.width.to_string().as_str()));
    assert_eq!(got.meta("height"), Some(want.height.to_string().as_str()));
    assert_eq!(got.meta("source-format"), Some(want.source.format.id()));
    assert_eq!(
        got.meta("source-width"),
        Some(want.source.width.to_string().as_str())
    );
    assert_eq!(
        got.meta("source-height"),
        Some(want.source.height.to_string().as_str())
    );
    assert_eq!(got.meta("pixel-sha256"), Some(want.pixel_sha256.as_str()));
    // Nothing identifying on what the public sees; the file name is in the owner record.
    assert_eq!(got.meta("filename"), None);
    assert_eq!(got.meta("owner"), None);
    let record = env
        .get(UPLOAD_BUCKET, &keys::owner_key(key).expect("owner key"))
        .await
        .unwrap_or_else(|| panic!("no owner record for {key}"));
    assert_eq!(record.meta("filename"), filename);
    assert!(
        env.get(UPLOAD_BUCKET, key).await.is_none(),
        "original {key} still in uploads/"
    );
    assert!(env.list(UPLOAD_BUCKET, "rejected/").await.is_empty());
    thumb_key
}

#[tokio::test]
async fn aws_sample_put_event_with_spaces_plus_unicode_and_percent() {
    let env = start().await;
    let jpeg = read("edge/Landscape_1.jpg");
    let png = read("edge/sharp_with-alpha.png");
    // (key as stored, key as S3 event notifications send it: form-URL-encoded)
    let cases: [(&str, &str, &[u8]); 5] = [
        (
            "uploads/my summer photo.jpg",
            "uploads/my+summer+photo.jpg",
            &jpeg,
        ),
        ("uploads/a+b=c.png", "uploads/a%2Bb%3Dc.png", &png),
        (
            "uploads/ünï 日本.jpg",
            "uploads/%C3%BCn%C3%AF+%E6%97%A5%E6%9C%AC.jpg",
            &jpeg,
        ),
        ("uploads/100% pure.jpg", "uploads/100%25+pure.jpg", &jpeg),
        ("uploads/pct%20lit.jpg", "uploads/pct%2520lit.jpg", &jpeg),
    ];
    for (key, _, bytes) in &cases {
        env.upload(key, bytes, Some("Mein Foto (1).jpg")).await;
    }
    let mut records: Vec<(&str, &str)> = cases
        .iter()
        .map(|(_, raw, _)| (UPLOAD_BUCKET, *raw))
        .collect();
    // The sample's own key, "test%2Fkey" = "test/key": outside uploads/, ignored.
    records.push((UPLOAD_BUCKET, "test%2Fkey"));
    let event: S3Event = serde_json::from_value(s3_put_event(&records)).expect("S3Event");
    assert_eq!(event.records.len(), 6);
    assert_eq!(
        event.records[0].event_name.as_deref(),
        Some("ObjectCreated:Put")
    );

    handle_event(&env.client, &env.cfg, &event)
        .await
        .expect("event handled");
    for (key, _, bytes) in &cases {
        assert_resized(&env, key, bytes, Some("Mein Foto (1).jpg")).await;
    }
    assert!(env.list(UPLOAD_BUCKET, "uploads/").await.is_empty());
    // The PNG with alpha stays a PNG.
    let png_thumbs = env.list(RESIZED_BUCKET, "images/a+b=c.png/").await;
    assert!(png_thumbs[0].ends_with(".png"), "{png_thumbs:?}");
}

#[tokio::test]
async fn the_verbatim_sample_event_parses_and_is_ignored() {
    let env = start().await;
    let event: S3Event = serde_json::from_str(S3_PUT_SAMPLE).expect("the AWS sample parses");
    // Bucket "example-bucket", key "test/key": neither ours nor under uploads/.
    handle_event(&env.client, &env.cfg, &event)
        .await
        .expect("ignored, not failed");
    assert_eq!(env.faults.calls(Op::Get), 0);
}

#[tokio::test]
async fn real_photos_are_resized_with_core_pixels_and_originals_deleted() {
    let env = start().await;
    for (name, bytes) in photos() {
        let key = format!("uploads/{name}");
        env.upload(&key, &bytes, Some(&name)).await;
        let out = process_record(
            &env.client,
            &env.cfg,
            UPLOAD_BUCKET,
            &fitbox_resize::encode_key(&key),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let Outcome::Resized(r) = out else {
            panic!("{name}: expected Resized, got {out:?}")
        };
        let want = fitbox_core::thumbnail(&bytes, &env.cfg.options).expect("core");
        assert_eq!(r.pixel_sha256, want.pixel_sha256, "{name}");
        assert_eq!((r.width, r.height), (want.width, want.height), "{name}");
        assert!(
            r.width.max(r.height) == 400,
            "{name}: {}x{}",
            r.width,
            r.height
        );
        assert_eq!(r.source_bytes, bytes.len() as u64);
        let thumb_key = assert_resized(&env, &key, &bytes, Some(&name)).await;
        assert_eq!(r.thumbnail_key, thumb_key);
        eprintln!(
            "{name:48} {:>5}x{:<5} -> {:>3}x{:<3} download {:>7.1} ms  \
             thumbnail {:>7.1} ms (decode {:>6.1}, resize {:>5.1}, colour {:>4.1}, \
             encode {:>4.1})  upload {:>6.1} ms  delete {:>5.1} ms",
            r.source.width,
            r.source.height,
            r.width,
            r.height,
            r.timings.download.as_secs_f64() * 1e3,
            r.timings.thumbnail.as_secs_f64() * 1e3,
            r.timings.decode.as_secs_f64() * 1e3,
            r.timings.resize.as_secs_f64() * 1e3,
            r.timings.color.as_secs_f64() * 1e3,
            r.timings.encode.as_secs_f64() * 1e3,
            r.timings.upload.as_secs_f64() * 1e3,
            r.timings.delete.as_secs_f64() * 1e3,
        );
    }
    assert!(env.list(UPLOAD_BUCKET, "uploads/").await.is_empty());
}

#[tokio::test]
async fn the_same_event_twice_is_done_once() {
    let env = start().await;
    let bytes = read("photos/lomiri_Wine_by_Jakkub_Mede.jpg");
    let key = "uploads/twice.jpg";
    env.upload(key, &bytes, None).await;
    let event: S3Event =
        serde_json::from_value(s3_put_event(&[(UPLOAD_BUCKET, "uploads/twice.jpg")]))
            .expect("event");
    handle_event(&env.client, &env.cfg, &event)
        .await
        .expect("first");
    let thumb = assert_resized(&env, key, &bytes, None).await;
    env.faults.reset_counters();
    handle_event(&env.client, &env.cfg, &event)
        .await
        .expect("second");
    // The second delivery only looked: no writes, no deletes.
    assert_eq!(env.faults.calls(Op::Put), 0);
    assert_eq!(env.faults.calls(Op::Delete), 0);
    assert_eq!(
        process_record(&env.client, &env.cfg, UPLOAD_BUCKET, "uploads/twice.jpg")
            .await
            .expect("third"),
        Outcome::AlreadyDone { found: thumb }
    );
    assert_resized(&env, key, &bytes, None).await;

    // A rejected upload delivered twice: the second finds rejected/NAME.
    env.upload(
        "uploads/bad twice",
        &read("edge/attsaver_broken_text.jpg"),
        None,
    )
    .await;
    let first = process_record(&env.client, &env.cfg, UPLOAD_BUCKET, "uploads/bad+twice")
        .await
        .expect("first");
    assert!(matches!(first, Outcome::Rejected { .. }), "{first:?}");
    assert_eq!(
        process_record(&env.client, &env.cfg, UPLOAD_BUCKET, "uploads/bad+twice")
            .await
            .expect("second"),
        Outcome::AlreadyDone {
            found: "rejected/bad twice".into()
        }
    );

    // Gone with nothing made from it (deleted by hand): Missing, not an error.
    assert_eq!(
        process_record(&env.client, &env.cfg, UPLOAD_BUCKET, "uploads/never")
            .await
            .expect("missing"),
        Outcome::Missing
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_events_for_one_key_converge() {
    let env = start().await;
    let files = [
        "photos/lomiri_Wine_by_Jakkub_Mede.jpg",
        "edge/Portrait_3.jpg",
        "edge/sharp_truncated.jpg",
    ];
    for round in 0..3 {
        for (i, file) in files.iter().enumerate() {
            let bytes = read(file);
            let key = format!("uploads/race-{round}-{i}");
            env.upload(&key, &bytes, None).await;
            let (a, b) = tokio::join!(
                process_record(&env.client, &env.cfg, UPLOAD_BUCKET, &key),
                process_record(&env.client, &env.cfg, UPLOAD_BUCKET, &key),
            );
            let (a, b) = (a.expect("first"), b.expect("second"));
            let rejected = file.contains("truncated");
            for o in [&a, &b] {
                let ok = match o {
                    Outcome::Resized(_) => !rejected,
                    Outcome::Rejected { .. } => rejected,
                    Outcome::AlreadyDone { .. } => true,
                    _ => false,
                };
                assert!(ok, "{key}: {a:?} / {b:?}");
            }
            assert!(
                !matches!(
                    (&a, &b),
                    (Outcome::AlreadyDone { .. }, Outcome::AlreadyDone { .. })
                ),
                "someone must have done the work"
            );
            if rejected {
                let rk = keys::rejected_key(&key).expect("rejected key");
                let copy = env.get(UPLOAD_BUCKET, &rk).await.expect("rejected copy");
                assert_eq!(copy.bytes, bytes);
                assert!(env.get(UPLOAD_BUCKET, &key).await.is_none());
                assert!(env
                    .list(RESIZED_BUCKET, &keys::image_prefix(&key).expect("p"))
                    .await
                    .is_empty());
            } else {
                let prefix = keys::image_prefix(&key).expect("prefix");
                assert_eq!(env.list(RESIZED_BUCKET, &prefix).await.len(), 1);
                let want = fitbox_core::thumbnail(&bytes, &env.cfg.options).expect("core");
                let got = env
                    .get(RESIZED_BUCKET, &env.list(RESIZED_BUCKET, &prefix).await[0])
                    .await
                    .expect("thumb");
                assert!(got.bytes == want.bytes);
                assert!(env.get(UPLOAD_BUCKET, &key).await.is_none());
            }
        }
    }
}

#[tokio::test]
async fn truncated_jpeg_and_disguised_text_are_moved_to_rejected_with_a_reason() {
    let env = start().await;
    let cases = [
        (
            "edge/sharp_truncated.jpg",
            "uploads/kaputt ü+%.jpg",
            "truncated",
            "truncated",
        ),
        (
            "edge/attsaver_broken_text.jpg",
            "uploads/text.jpg",
            "not_an_image",
            "not an image",
        ),
    ];
    for (file, key, code, words) in cases {
        let bytes = read(file);
        env.upload(key, &bytes, Some("holiday.jpg")).await;
        let out = process_record(
            &env.client,
            &env.cfg,
            UPLOAD_BUCKET,
            &fitbox_resize::encode_key(key),
        )
        .await
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        let rk = keys::rejected_key(key).expect("rejected key");
        let Outcome::Rejected {
            rejected_key,
            code: got_code,
            reason,
        } = out
        else {
            panic!("{file}: expected Rejected, got {out:?}")
        };
        assert_eq!(rejected_key, rk);
        assert_eq!(got_code, code);

        let copy = env
            .get(UPLOAD_BUCKET, &rk)
            .await
            .unwrap_or_else(|| panic!("{rk} missing"));
        assert_eq!(copy.bytes, bytes, "the rejected copy is the original");
        assert_eq!(copy.meta("reason-code"), Some(code));
        assert_eq!(copy.meta("filename"), Some("holiday.jpg"));
        assert_eq!(copy.content_type.as_deref(), Some("image/jpeg"));
        let stored_reason = copy.meta("reason").expect("reason");
        assert_eq!(stored_reason, reason);
        let readable = keys::decode_filename(stored_reason);
        let core_err = fitbox_core::thumbnail(&bytes, &env.cfg.options).expect_err("core refuses");
        assert_eq!(readable, core_err.to_string());
        assert!(readable.contains(words), "{readable}");
        assert!(stored_reason.is_ascii() && stored_reason.len() <= 1024);

        assert!(
            env.get(UPLOAD_BUCKET, key).await.is_none(),
            "original moved"
        );
        assert!(env
            .list(RESIZED_BUCKET, &keys::image_prefix(key).expect("p"))
            .await
            .is_empty());
        eprintln!("{file}: rejected, reason {readable:?}");
    }
}

#[tokio::test]
async fn oversized_uploads_are_rejected_by_content_length() {
    let mut env = start().await;
    env.cfg.options.limits.max_bytes = 100_000;
    let bytes = read("edge/Landscape_2.jpg");
    assert!(bytes.len() > 100_000);
    env.upload("uploads/big.jpg", &bytes, None).await;
    let out = process_record(&env.client, &env.cfg, UPLOAD_BUCKET, "uploads/big.jpg")
        .await
        .expect("rejected, not failed");
    let Outcome::Rejected { code, reason, .. } = out else {
        panic!("expected Rejected, got {out:?}")
    };
    assert_eq!(code, "too_many_bytes");
    let want = fitbox_core::Error::TooManyBytes {
        size: bytes.len() as u64,
        limit: 100_000,
    };
    assert_eq!(keys::decode_filename(&reason), want.to_string());
    let copy = env
        .get(UPLOAD_BUCKET, "rejected/big.jpg")
        .await
        .expect("rejected copy");
    assert_eq!(copy.bytes, bytes);
    assert!(env.get(UPLOAD_BUCKET, "uploads/big.jpg").await.is_none());
}

#[tokio::test]
async fn an_injected_failure_on_the_thumbnail_write_keeps_the_original_and_a_retry_succeeds() {
    let env = start().await;
    let bytes = read("photos/lomiri_Wine_by_Jakkub_Mede.jpg");
    let key = "uploads/flaky.jpg";
    env.upload(key, &bytes, Some("wine.jpg")).await;
    let event: S3Event =
        serde_json::from_value(s3_put_event(&[(UPLOAD_BUCKET, "uploads/flaky.jpg")]))
            .expect("event");

    // Every thumbnail PUT fails with 500 (the client's own retries included).
    env.faults.fail(Op::Put, 1.0, FaultKind::InternalError);
    env.faults
        .only_prefix(Op::Put, Some(&format!("{RESIZED_BUCKET}/images/")));
    let err = process_record(&env.client, &env.cfg, UPLOAD_BUCKET, "uploads/flaky.jpg")
        .await
        .expect_err("transient");
    match &err {
        TransientError::S3 { op, code, .. } => {
            assert_eq!(*op, "PutObject");
            assert_eq!(code.as_deref(), Some("InternalError"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(env.faults.injected(Op::Put) >= 1);
    let err = handle_event(&env.client, &env.cfg, &event)
        .await
        .expect_err("the event fails, so Lambda retries it");
    assert!(
        matches!(
            err,
            Error::Transient {
                failed: 1,
                total: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let original = env.get(UPLOAD_BUCKET, key).await.expect("original kept");
    assert_eq!(original.bytes, bytes);
    assert!(env.list(RESIZED_BUCKET, "images/").await.is_empty());
    assert!(env.list(UPLOAD_BUCKET, "rejected/").await.is_empty());

    // The retry, with S3 healthy again.
    env.faults.clear();
    handle_event(&env.client, &env.cfg, &event)
        .await
        .expect("retry");
    assert_resized(&env, key, &bytes, Some("wine.jpg")).await;
}

#[tokio::test]
async fn failures_on_download_and_delete_are_transient_too() {
    let env = start().await;
    let bytes = read("edge/Portrait_1.jpg");
    env.upload("uploads/d.jpg", &bytes, None).await;
    let c = &env.s3.client_no_retry();

    env.faults.fail_next(Op::Get, 1, FaultKind::SlowDown);
    let err = process_record(c, &env.cfg, UPLOAD_BUCKET, "uploads/d.jpg")
        .await
        .expect_err("GET throttled");
    assert!(
        matches!(
            &err,
            TransientError::S3 { op: "GetObject", code: Some(c), .. } if c == "SlowDown"
        ),
        "{err:?}"
    );
    assert!(env.get(UPLOAD_BUCKET, "uploads/d.jpg").await.is_some());

    // The thumbnail is written but the delete fails: the original stays, the retry rewrites
    // the same thumbnail and deletes.
    env.faults
        .fail_next(Op::Delete, 1, FaultKind::InternalError);
    let err = process_record(c, &env.cfg, UPLOAD_BUCKET, "uploads/d.jpg")
        .await
        .expect_err("delete failed");
    assert!(
        matches!(
            &err,
            TransientError::S3 {
                op: "DeleteObject",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(env.get(UPLOAD_BUCKET, "uploads/d.jpg").await.is_some());
    assert_eq!(env.list(RESIZED_BUCKET, "images/d.jpg/").await.len(), 1);
    let out = process_record(c, &env.cfg, UPLOAD_BUCKET, "uploads/d.jpg")
        .await
        .expect("retry");
    assert!(matches!(out, Outcome::Resized(_)), "{out:?}");
    assert_resized(&env, "uploads/d.jpg", &bytes, None).await;

    // A failed move to rejected/ keeps the original too.
    env.upload("uploads/t.jpg", &read("edge/sharp_truncated.jpg"), None)
        .await;
    env.faults.fail_next(Op::Copy, 1, FaultKind::InternalError);
    let err = process_record(c, &env.cfg, UPLOAD_BUCKET, "uploads/t.jpg")
        .await
        .expect_err("copy failed");
    assert!(
        matches!(
            &err,
            TransientError::S3 {
                op: "CopyObject",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(env.get(UPLOAD_BUCKET, "uploads/t.jpg").await.is_some());
    assert!(env.list(UPLOAD_BUCKET, "rejected/").await.is_empty());
    let out = process_record(c, &env.cfg, UPLOAD_BUCKET, "uploads/t.jpg")
        .await
        .expect("retry");
    assert!(matches!(out, Outcome::Rejected { .. }), "{out:?}");
}

#[tokio::test]
async fn keys_outside_uploads_and_other_buckets_are_ignored() {
    let env = start().await;
    let jpeg = read("edge/Landscape_0.jpg");
    for key in [
        "other/x.jpg",
        "rejected/x.jpg",
        "uploads-not/x.jpg",
        "x.jpg",
    ] {
        env.upload(key, &jpeg, None).await;
    }
    env.faults.reset_counters();
    let records = [
        (UPLOAD_BUCKET, "other/x.jpg"),
        (UPLOAD_BUCKET, "rejected/x.jpg"),
        (UPLOAD_BUCKET, "uploads-not/x.jpg"),
        (UPLOAD_BUCKET, "x.jpg"),
        (UPLOAD_BUCKET, "uploads/"),
        (UPLOAD_BUCKET, "uploads/%FF.jpg"),
        (UPLOAD_BUCKET, "uploads/100%.jpg"),
        // The function's own output must never trigger it.
        (RESIZED_BUCKET, "images/x/400x300.jpg"),
        (RESIZED_BUCKET, "uploads/x.jpg"),
    ];
    for (bucket, raw) in records {
        let out = process_record(&env.client, &env.cfg, bucket, raw)
            .await
            .expect("ignored");
        assert!(
            matches!(out, Outcome::Ignored { .. }),
            "{bucket}/{raw}: {out:?}"
        );
    }
    let event: S3Event = serde_json::from_value(s3_put_event(&records)).expect("event");
    handle_event(&env.client, &env.cfg, &event)
        .await
        .expect("ignored");
    for op in Op::ALL {
        assert_eq!(
            env.faults.calls(op),
            0,
            "{op:?}: no S3 call for ignored keys"
        );
    }
    for key in [
        "other/x.jpg",
        "rejected/x.jpg",
        "uploads-not/x.jpg",
        "x.jpg",
    ] {
        assert!(
            env.get(UPLOAD_BUCKET, key).await.is_some(),
            "{key} untouched"
        );
    }
    assert!(env.list(RESIZED_BUCKET, "").await.is_empty());

    // Records that are not ObjectCreated are skipped by handle_event.
    env.upload("uploads/removed.jpg", &jpeg, None).await;
    let mut ev = s3_put_event(&[(UPLOAD_BUCKET, "uploads/removed.jpg")]);
    ev["Records"][0]["eventName"] = "ObjectRemoved:Delete".into();
    let event: S3Event = serde_json::from_value(ev).expect("event");
    handle_event(&env.client, &env.cfg, &event)
        .await
        .expect("skipped");
    assert!(env
        .get(UPLOAD_BUCKET, "uploads/removed.jpg")
        .await
        .is_some());
}

/// An S3 that answers GetObject with its headers and the first bytes of the body, then goes
/// silent (a stalled connection): the download gives up after `Config::s3_timeout` with a
/// transient error (so Lambda retries), and nothing is written or deleted.
#[tokio::test]
async fn a_download_that_stalls_mid_body_times_out_as_transient() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                seen.lock()
                    .unwrap()
                    .push(head.lines().next().unwrap_or_default().to_owned());
                // 1000 bytes promised, 10 sent, then silence (the socket stays open).
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n\
                          Content-Length: 1000\r\n\r\n\xFF\xD8\xFF\xE0\0\x10JFIF",
                    )
                    .await;
                tokio::time::sleep(Duration::from_secs(60)).await;
                drop(sock);
            });
        }
    });

    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "k", "s", None, None, "test",
        ))
        .build();
    let client = aws_sdk_s3::Client::from_conf(conf);
    let mut cfg = fitbox_resize::Config::new(UPLOAD_BUCKET, RESIZED_BUCKET);
    cfg.s3_timeout = Duration::from_millis(500);

    let started = Instant::now();
    let err = process_record(&client, &cfg, UPLOAD_BUCKET, "uploads/stalled")
        .await
        .expect_err("a stalled download is a failure");
    let took = started.elapsed();
    match &err {
        TransientError::Download { key, message, .. } => {
            assert_eq!(key, "uploads/stalled");
            assert!(message.contains("FITBOX_S3_TIMEOUT_SECS"), "{message}");
        }
        other => panic!("expected a download timeout, got {other:?}"),
    }
    // It waited for the deadline, and did not wait for the server's 60 s.
    assert!(
        took >= cfg.s3_timeout && took < Duration::from_secs(30),
        "{took:?}"
    );
    // One GET and nothing else: no write, no copy, no delete after a failed download.
    let requests = requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with("GET /fitbox-uploads/uploads/stalled"),
        "{requests:?}"
    );
}

/// A ticket URL used again after its upload was resized (S3's If-None-Match only holds while the
/// original waits): the second copy is dropped without a decode or any write, and the thumbnail
/// stays the first one. A key copied in by hand (not an API id) is still resized again: it may be
/// a new picture under an old name.
#[tokio::test]
async fn a_second_upload_of_an_id_already_resized_costs_no_decode() {
    let env = start().await;
    let first = read("edge/Landscape_1.jpg");
    let id = keys::new_id(1_795_910_400_000, 42);
    let key = keys::upload_key(&id);
    env.upload(&key, &first, Some("a.jpg")).await;
    let out = process_record(&env.client, &env.cfg, UPLOAD_BUCKET, &key)
        .await
        .expect("first");
    assert!(matches!(out, Outcome::Resized(_)), "{out:?}");
    let thumb = assert_resized(&env, &key, &first, Some("a.jpg")).await;
    let stored = env.get(RESIZED_BUCKET, &thumb).await.expect("thumbnail");

    // The same key again, another picture.
    env.upload(&key, &read("edge/Portrait_2.jpg"), Some("a.jpg"))
        .await;
    env.faults.reset_counters();
    let out = process_record(&env.client, &env.cfg, UPLOAD_BUCKET, &key)
        .await
        .expect("second");
    assert_eq!(
        out,
        Outcome::AlreadyDone {
            found: thumb.clone()
        }
    );
    assert_eq!(env.faults.calls(Op::Put), 0, "nothing written");
    assert_eq!(env.faults.calls(Op::Delete), 1, "the second copy deleted");
    assert!(env.get(UPLOAD_BUCKET, &key).await.is_none());
    let after = env.get(RESIZED_BUCKET, &thumb).await.expect("thumbnail");
    assert!(after.bytes == stored.bytes, "the first thumbnail stays");

    // A hand-named key is resized again.
    let manual = "uploads/holiday.jpg";
    env.upload(manual, &first, None).await;
    process_record(&env.client, &env.cfg, UPLOAD_BUCKET, manual)
        .await
        .expect("first");
    env.upload(manual, &first, None).await;
    let out = process_record(&env.client, &env.cfg, UPLOAD_BUCKET, manual)
        .await
        .expect("again");
    assert!(matches!(out, Outcome::Resized(_)), "{out:?}");
}

/// `DELETE /api/images/{id}` leaves a tombstone `deleted/{id}`: an upload arriving after it (a
/// replayed upload URL) is dropped without a resize, and a resize that was already running when
/// the image was deleted takes back what it wrote.
#[tokio::test]
async fn a_deleted_image_is_never_brought_back() {
    let env = start().await;
    let bytes = read("edge/Landscape_1.jpg");
    let tombstone = |id: &str| format!("{}{id}", keys::DELETED_PREFIX);
    let put_tombstone = |id: String| {
        let client = env.client.clone();
        async move {
            client
                .put_object()
                .bucket(UPLOAD_BUCKET)
                .key(tombstone(&id))
                .body(aws_sdk_s3::primitives::ByteStream::from_static(b""))
                .send()
                .await
                .expect("tombstone");
        }
    };

    // 1. Deleted before the upload arrives.
    let id = keys::new_id(1_795_910_400_000, 7);
    let key = keys::upload_key(&id);
    put_tombstone(id.clone()).await;
    env.upload(&key, &bytes, Some("gone.jpg")).await;
    let out = process_record(&env.client, &env.cfg, UPLOAD_BUCKET, &key)
        .await
        .expect("processed");
    assert_eq!(out, Outcome::Deleted);
    assert!(env.get(UPLOAD_BUCKET, &key).await.is_none());
    assert!(env
        .list(RESIZED_BUCKET, &format!("images/{id}/"))
        .await
        .is_empty());
    assert!(env
        .list(UPLOAD_BUCKET, &format!("owners/{id}"))
        .await
        .is_empty());

    // 2. Deleted while the resize writes: every PUT takes 1.5 s, the tombstone lands while the
    //    owner record and the thumbnail are still being written.
    let id = keys::new_id(1_795_910_400_000, 8);
    let key = keys::upload_key(&id);
    env.upload(&key, &bytes, Some("late.jpg")).await;
    env.faults.fail(
        Op::Put,
        1.0,
        FaultKind::Delay(std::time::Duration::from_millis(1500)),
    );
    let resize = {
        let (client, cfg, key) = (env.client.clone(), env.cfg.clone(), key.clone());
        tokio::spawn(async move { process_record(&client, &cfg, UPLOAD_BUCKET, &key).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    put_tombstone(id.clone()).await;
    let out = resize.await.expect("join").expect("processed");
    env.faults.clear();
    assert_eq!(out, Outcome::Deleted);
    assert!(env.get(UPLOAD_BUCKET, &key).await.is_none());
    assert!(env
        .list(RESIZED_BUCKET, &format!("images/{id}/"))
        .await
        .is_empty());
    assert!(env
        .list(UPLOAD_BUCKET, &format!("owners/{id}"))
        .await
        .is_empty());
}
