//! The embedded S3 server driven by the real aws-sdk-s3 client and by plain HTTP (reqwest),
//! as a browser would send presigned uploads.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use fitbox_local_s3::{FaultKind, Faults, LocalS3, ObjectCreated, Op, Options};
use tokio::sync::mpsc::UnboundedReceiver;

const ORIGIN: &str = "http://127.0.0.1:8080";

struct Env {
    _dir: tempfile::TempDir,
    s3: LocalS3,
    events: UnboundedReceiver<ObjectCreated>,
}

async fn start_with(f: impl FnOnce(&mut Options)) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = Options::new(dir.path().join("s3"));
    opts.buckets = vec!["uploads".into(), "resized".into()];
    f(&mut opts);
    let (s3, events) = LocalS3::start(opts).await.expect("start local S3");
    Env {
        _dir: dir,
        s3,
        events,
    }
}

async fn start() -> Env {
    start_with(|_| {}).await
}

async fn next_event(rx: &mut UnboundedReceiver<ObjectCreated>) -> ObjectCreated {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an ObjectCreated event within 5 s")
        .expect("event channel open")
}

/// A successful put of a marker object, then its event: proves that nothing was sent for
/// the calls before it (the channel is ordered).
async fn assert_no_event_before_marker(env: &mut Env) {
    env.s3
        .client()
        .put_object()
        .bucket("uploads")
        .key("marker")
        .body(ByteStream::from_static(b"m"))
        .send()
        .await
        .expect("marker put");
    let ev = next_event(&mut env.events).await;
    assert_eq!(
        (ev.bucket.as_str(), ev.key.as_str()),
        ("uploads", "marker"),
        "an event was sent for a failed or non-creating call: {ev:?}"
    );
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn put_get_list_head_via_sdk_and_put_fires_event() {
    let mut env = start().await;
    let c = env.s3.client();
    assert!(env.s3.endpoint().starts_with("http://127.0.0.1:"));
    assert_eq!(env.s3.addr().ip().to_string(), "127.0.0.1");

    let keys = [
        "uploads/with space.jpg",
        "uploads/a+b.jpg",
        "uploads/ünï 日本.jpg",
        "uploads/100%.jpg",
    ];
    for (i, key) in keys.iter().enumerate() {
        let body = vec![i as u8; 10 + i];
        c.put_object()
            .bucket("uploads")
            .key(*key)
            .content_type("image/jpeg")
            .metadata("filename", "cat.jpg")
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("put");
        let ev = next_event(&mut env.events).await;
        assert_eq!(
            ev,
            ObjectCreated {
                bucket: "uploads".into(),
                key: (*key).into(),
                size: body.len() as u64
            }
        );
        let got = c
            .get_object()
            .bucket("uploads")
            .key(*key)
            .send()
            .await
            .expect("get");
        assert_eq!(got.content_type(), Some("image/jpeg"));
        assert_eq!(
            got.metadata()
                .and_then(|m| m.get("filename"))
                .map(String::as_str),
            Some("cat.jpg")
        );
        let bytes = got.body.collect().await.expect("body").into_bytes();
        assert_eq!(bytes.as_ref(), body.as_slice());
    }

    let listed = c
        .list_objects_v2()
        .bucket("uploads")
        .prefix("uploads/")
        .send()
        .await
        .expect("list");
    let mut got: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    got.sort_unstable();
    let mut want = keys.to_vec();
    want.sort_unstable();
    assert_eq!(got, want);

    let err = c
        .head_object()
        .bucket("uploads")
        .key("uploads/missing")
        .send()
        .await
        .expect_err("HEAD of a missing key");
    assert!(
        err.as_service_error().is_some_and(|e| e.is_not_found()),
        "{err:?}"
    );

    // Buckets from Options exist; a second start on the same root keeps the data.
    let buckets = c.list_buckets().send().await.expect("list buckets");
    let mut names: Vec<_> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["resized", "uploads"]);
    let root = env._dir.path().join("s3");
    env.s3.shutdown().await;
    let mut opts = Options::new(root);
    opts.buckets = vec!["uploads".into()];
    let (s3, _rx) = LocalS3::start(opts).await.expect("restart");
    let got = s3
        .client()
        .get_object()
        .bucket("uploads")
        .key(keys[0])
        .send()
        .await
        .expect("data survives a restart");
    assert_eq!(got.content_length(), Some(10));
    s3.shutdown().await;
}

#[tokio::test]
async fn anonymous_and_wrongly_signed_requests_are_refused() {
    let env = start().await;
    let resp = http()
        .get(format!("{}/uploads/x", env.s3.endpoint()))
        .send()
        .await
        .expect("anonymous GET");
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.expect("body").contains("AccessDenied"));

    let bad = aws_sdk_s3::Client::from_conf(
        env.s3
            .client()
            .config()
            .to_builder()
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "fitbox-local",
                "wrong-secret",
                None,
                None,
                "test",
            ))
            .build(),
    );
    let err = bad
        .list_objects_v2()
        .bucket("uploads")
        .send()
        .await
        .expect_err("wrong secret");
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err:?}");
}

async fn presign_put(s3: &LocalS3, key: &str, len: i64, ty: &str) -> reqwest::Url {
    let req = s3
        .client()
        .put_object()
        .bucket("uploads")
        .key(key)
        .content_length(len)
        .content_type(ty)
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).expect("config"))
        .await
        .expect("presign");
    let signed = req
        .uri()
        .split_once("X-Amz-SignedHeaders=")
        .map(|(_, rest)| rest.split('&').next().unwrap_or(""))
        .unwrap_or("");
    assert_eq!(
        signed,
        "content-length%3Bcontent-type%3Bhost",
        "{}",
        req.uri()
    );
    reqwest::Url::parse(req.uri()).expect("presigned url")
}

#[tokio::test]
async fn presigned_put_checks_length_type_and_unsigned_amz_headers() {
    let mut env = start().await;
    let key = "uploads/pre signed+ü%.jpg";
    let url = presign_put(&env.s3, key, 5, "image/jpeg").await;

    // Wrong length (longer and shorter) and wrong or missing type: 403, nothing stored.
    for (body, ty) in [
        (&b"123456"[..], Some("image/jpeg")),
        (&b"123"[..], Some("image/jpeg")),
        (&b"12345"[..], Some("image/png")),
        (&b"12345"[..], None),
    ] {
        let mut req = http().put(url.clone()).body(body.to_vec());
        if let Some(ty) = ty {
            req = req.header("content-type", ty);
        }
        let resp = req.send().await.expect("PUT");
        assert_eq!(resp.status(), 403, "body {} bytes, type {ty:?}", body.len());
        let text = resp.text().await.expect("body");
        assert!(text.contains("SignatureDoesNotMatch"), "{text}");
    }

    // An extra x-amz-meta-* header the signature does not cover: refused (AWS does too).
    let resp = http()
        .put(url.clone())
        .header("content-type", "image/jpeg")
        .header("x-amz-meta-evil", "1")
        .body(b"12345".to_vec())
        .send()
        .await
        .expect("PUT");
    assert_eq!(resp.status(), 403);
    let text = resp.text().await.expect("body");
    assert!(
        text.contains("AccessDenied") && text.contains("x-amz-meta-evil"),
        "{text}"
    );

    let c = env.s3.client();
    let err = c
        .head_object()
        .bucket("uploads")
        .key(key)
        .send()
        .await
        .expect_err("nothing stored by refused PUTs");
    assert!(err.as_service_error().is_some_and(|e| e.is_not_found()));
    assert_no_event_before_marker(&mut env).await;

    // Exactly what was signed: 200 with an ETag, stored, event sent.
    let resp = http()
        .put(url)
        .header("content-type", "image/jpeg")
        .body(b"12345".to_vec())
        .send()
        .await
        .expect("PUT");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("etag"));
    let ev = next_event(&mut env.events).await;
    assert_eq!(
        ev,
        ObjectCreated {
            bucket: "uploads".into(),
            key: key.into(),
            size: 5
        }
    );
    let head = c
        .head_object()
        .bucket("uploads")
        .key(key)
        .send()
        .await
        .expect("stored");
    assert_eq!(head.content_type(), Some("image/jpeg"));
    assert!(
        head.metadata().is_none_or(|m| m.is_empty()),
        "{:?}",
        head.metadata()
    );
}

#[tokio::test]
async fn cors_preflight_and_exposed_etag() {
    let env = start_with(|o| o.cors_origins = vec![ORIGIN.into()]).await;
    let url = presign_put(&env.s3, "uploads/cors.jpg", 5, "image/jpeg").await;

    let resp = http()
        .request(reqwest::Method::OPTIONS, url.clone())
        .header("origin", ORIGIN)
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("preflight");
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    assert_eq!(get("access-control-allow-origin"), ORIGIN);
    let methods = get("access-control-allow-methods");
    for m in ["get", "put", "head"] {
        assert!(methods.contains(m), "{methods}");
    }
    assert_eq!(get("access-control-allow-headers"), "content-type");
    assert_eq!(get("access-control-max-age"), "3600");

    // Another origin gets no allow-origin.
    let resp = http()
        .request(reqwest::Method::OPTIONS, url.clone())
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .expect("preflight");
    assert!(!resp.headers().contains_key("access-control-allow-origin"));

    // The real PUT from the page: ETag readable by the script.
    let resp = http()
        .put(url)
        .header("origin", ORIGIN)
        .header("content-type", "image/jpeg")
        .body(b"12345".to_vec())
        .send()
        .await
        .expect("PUT");
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(
        h.get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some(ORIGIN)
    );
    assert_eq!(
        h.get("access-control-expose-headers")
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("etag")
    );
    assert!(h.contains_key("etag"));

    // SDK calls still verify through the layer.
    env.s3
        .client()
        .head_object()
        .bucket("uploads")
        .key("uploads/cors.jpg")
        .send()
        .await
        .expect("head");
}

#[tokio::test]
async fn without_cors_origins_there_is_no_cors() {
    let env = start().await;
    let resp = http()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/uploads/x", env.s3.endpoint()),
        )
        .header("origin", ORIGIN)
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .expect("preflight");
    assert_ne!(resp.status(), 200);
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
}

/// Percent-encode the key part of `bucket/key` for CopySource (the SDK does not).
fn copy_source(bucket: &str, key: &str) -> String {
    format!("{bucket}/{}", fitbox_api::percent::encode_path(key))
}

#[tokio::test]
async fn hook_fires_on_copy_and_multipart_only_on_success() {
    let mut env = start().await;
    let c = env.s3.client();
    let src = "uploads/src ü+%.jpg";
    c.put_object()
        .bucket("uploads")
        .key(src)
        .body(ByteStream::from_static(b"original"))
        .send()
        .await
        .expect("put");
    assert_eq!(next_event(&mut env.events).await.key, src);

    c.copy_object()
        .bucket("uploads")
        .key("rejected/src ü+%.jpg")
        .copy_source(copy_source("uploads", src))
        .metadata("reason", "test")
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .send()
        .await
        .expect("copy");
    assert_eq!(
        next_event(&mut env.events).await,
        ObjectCreated {
            bucket: "uploads".into(),
            key: "rejected/src ü+%.jpg".into(),
            size: 8
        }
    );

    // A failed copy (missing source), a delete and a get: no events.
    c.copy_object()
        .bucket("uploads")
        .key("rejected/none")
        .copy_source("uploads/uploads/none")
        .send()
        .await
        .expect_err("copy of a missing source");
    c.delete_object()
        .bucket("uploads")
        .key(src)
        .send()
        .await
        .expect("delete");
    assert_no_event_before_marker(&mut env).await;

    // Multipart: the event comes with CompleteMultipartUpload, with the final size.
    let up = c
        .create_multipart_upload()
        .bucket("uploads")
        .key("uploads/multi")
        .send()
        .await
        .expect("create mpu");
    let id = up.upload_id().expect("upload id");
    let part = c
        .upload_part()
        .bucket("uploads")
        .key("uploads/multi")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from(vec![7u8; 1000]))
        .send()
        .await
        .expect("part");
    c.complete_multipart_upload()
        .bucket("uploads")
        .key("uploads/multi")
        .upload_id(id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("complete");
    assert_eq!(
        next_event(&mut env.events).await,
        ObjectCreated {
            bucket: "uploads".into(),
            key: "uploads/multi".into(),
            size: 1000
        }
    );
}

#[tokio::test]
async fn faults_produce_the_configured_errors_and_count_calls() {
    let faults = Arc::new(Faults::new(7));
    let mut env = start_with(|o| o.faults = Some(faults.clone())).await;
    let c = env.s3.client_no_retry();
    let put = |key: &'static str| {
        c.put_object()
            .bucket("resized")
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
    };

    // Countdown narrowed to a prefix: only the thumbnail write fails, once, with 503.
    faults.fail_next(Op::Put, 1, FaultKind::SlowDown);
    faults.only_prefix(Op::Put, Some("resized/images/"));
    put("other").await.expect("not eligible");
    let err = put("images/a").await.expect_err("injected");
    assert_eq!(err.code(), Some("SlowDown"), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    put("images/a").await.expect("countdown used up");
    assert_eq!(faults.calls(Op::Put), 3);
    assert_eq!(faults.injected(Op::Put), 1);
    // The failed put stored nothing and sent no event (only the two successes did).
    assert_eq!(next_event(&mut env.events).await.key, "other");
    assert_eq!(next_event(&mut env.events).await.key, "images/a");

    // A rate of 1.0 with InternalError on GetObject: 500 every time, until cleared.
    faults.fail(Op::Get, 1.0, FaultKind::InternalError);
    for _ in 0..3 {
        let err = c
            .get_object()
            .bucket("resized")
            .key("other")
            .send()
            .await
            .expect_err("injected");
        assert_eq!(err.code(), Some("InternalError"));
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    }
    assert_eq!(faults.injected(Op::Get), 3);
    faults.clear();
    c.get_object()
        .bucket("resized")
        .key("other")
        .send()
        .await
        .expect("cleared");

    // Delay: the call succeeds, later.
    faults.fail_next(Op::Head, 1, FaultKind::Delay(Duration::from_millis(300)));
    let t = std::time::Instant::now();
    c.head_object()
        .bucket("resized")
        .key("other")
        .send()
        .await
        .expect("delayed head");
    assert!(t.elapsed() >= Duration::from_millis(300));

    // Copy, delete and list faults.
    for op in [Op::Copy, Op::Delete, Op::List] {
        faults.fail_next(op, 1, FaultKind::SlowDown);
    }
    let err = c
        .copy_object()
        .bucket("resized")
        .key("copy")
        .copy_source("resized/other")
        .send()
        .await
        .expect_err("copy fault");
    assert_eq!(err.code(), Some("SlowDown"));
    let err = c
        .delete_object()
        .bucket("resized")
        .key("other")
        .send()
        .await
        .expect_err("delete fault");
    assert_eq!(err.code(), Some("SlowDown"));
    let err = c
        .list_objects_v2()
        .bucket("resized")
        .send()
        .await
        .expect_err("list fault");
    assert_eq!(err.code(), Some("SlowDown"));
    // Nothing was deleted by the failed delete.
    c.head_object()
        .bucket("resized")
        .key("other")
        .send()
        .await
        .expect("still there");

    // The default client retries a 503: the server sees more than one call.
    faults.reset_counters();
    faults.fail_next(Op::Put, 1, FaultKind::SlowDown);
    env.s3
        .client()
        .put_object()
        .bucket("resized")
        .key("retried")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("retried after one 503");
    assert_eq!(faults.calls(Op::Put), 2);
}

/// `true` when the object is there (HEAD 200), `false` on 404.
async fn exists(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> bool {
    match c.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => true,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => false,
        Err(e) => panic!("HEAD {bucket}/{key}: {e:?}"),
    }
}

#[tokio::test]
async fn network_faults_drop_the_connection_before_or_after_the_operation_or_hang() {
    use aws_sdk_s3::config::timeout::TimeoutConfig;
    use aws_sdk_s3::error::SdkError;

    let faults = Arc::new(Faults::new(11));
    let mut env = start_with(|o| o.faults = Some(faults.clone())).await;
    let c = env.s3.client_no_retry();
    let put = |key: &'static str| {
        c.put_object()
            .bucket("uploads")
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
    };

    // Drop: no answer at all (a dispatch failure, not an HTTP status), nothing stored.
    faults.fail_next(Op::Put, 1, FaultKind::Drop);
    let err = put("dropped").await.expect_err("dropped connection");
    assert!(
        matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        ),
        "a closed connection, not an answer: {err:?}"
    );
    assert!(err.raw_response().is_none(), "{err:?}");
    assert!(!exists(&c, "uploads", "dropped").await);

    // DropAfter: the client sees the same failure, but the object was stored (and announced).
    faults.fail_next(Op::Put, 1, FaultKind::DropAfter);
    let err = put("stored").await.expect_err("dropped after the write");
    assert!(err.raw_response().is_none(), "{err:?}");
    assert!(exists(&c, "uploads", "stored").await);
    assert_eq!(next_event(&mut env.events).await.key, "stored");

    // DropAfter on a delete: gone, though the client was told nothing.
    faults.fail_next(Op::Delete, 1, FaultKind::DropAfter);
    c.delete_object()
        .bucket("uploads")
        .key("stored")
        .send()
        .await
        .expect_err("dropped after the delete");
    assert!(!exists(&c, "uploads", "stored").await);

    // Hang: a client with a shorter attempt timeout gives up on the silent attempt and its
    // retry succeeds; the hung attempt itself never writes, even after the hang ends.
    // The retry comes after the SDK's back-off (up to about a second): the hang is longer.
    let hang = Duration::from_secs(4);
    faults.fail_next(Op::Put, 1, FaultKind::Hang(hang));
    let impatient = env.s3.client_with_timeouts(
        TimeoutConfig::builder()
            .operation_attempt_timeout(Duration::from_millis(200))
            .build(),
    );
    let t = std::time::Instant::now();
    impatient
        .put_object()
        .bucket("uploads")
        .key("hung")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("the retry after the timed-out attempt succeeds");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < hang,
        "one attempt timed out, then a retry, before the hang ended: {took:?}"
    );
    assert_eq!(next_event(&mut env.events).await.key, "hung");
    tokio::time::sleep(hang).await;
    assert_no_event_before_marker(&mut env).await;
    assert_eq!(faults.injected(Op::Put), 3);
    assert_eq!(faults.injected(Op::Delete), 1);
}

/// `start_with_queue`: a write under the queue's bucket and prefix waits for a free slot before
/// it is stored, so a full queue holds the client's request (no event dropped, none buffered
/// beyond the capacity); writes elsewhere send no event and never wait; once the receiver is
/// gone, writes are stored without an event.
#[tokio::test]
async fn a_bounded_queue_holds_writes_back_until_there_is_room() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = Options::new(dir.path().join("s3"));
    opts.buckets = vec!["uploads".into(), "resized".into()];
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let queue = fitbox_local_s3::EventQueue {
        tx,
        bucket: "uploads".into(),
        prefix: "uploads/".into(),
    };
    let s3 = LocalS3::start_with_queue(opts, queue)
        .await
        .expect("start local S3");
    let c = s3.client();
    let put = |bucket: &'static str, key: &'static str| {
        let c = c.clone();
        async move {
            c.put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from_static(b"abc"))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}"))
        }
    };

    // The first fills the queue.
    tokio::time::timeout(Duration::from_secs(5), put("uploads", "uploads/a"))
        .await
        .expect("the first PUT is answered at once")
        .expect("put a");
    // The second waits, unstored, while the queue is full.
    let second = tokio::spawn(put("uploads", "uploads/b"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !second.is_finished(),
        "a PUT was answered while the queue was full"
    );
    assert!(!exists(&c, "uploads", "uploads/b").await);
    // Writes the queue does not want are neither held nor queued.
    for (bucket, key) in [("resized", "images/a/1x1.jpg"), ("uploads", "rejected/a")] {
        tokio::time::timeout(Duration::from_secs(5), put(bucket, key))
            .await
            .unwrap_or_else(|_| panic!("a write to {bucket}/{key} waited for the queue"))
            .expect("put elsewhere");
    }

    // Room: the waiting PUT goes through, in order, nothing dropped.
    let ev = rx.recv().await.expect("event a");
    assert_eq!(
        ev,
        ObjectCreated {
            bucket: "uploads".into(),
            key: "uploads/a".into(),
            size: 3
        }
    );
    tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("the waiting PUT is answered once there is room")
        .expect("task")
        .expect("put b");
    let ev = rx.recv().await.expect("event b");
    assert_eq!(ev.key, "uploads/b");
    assert!(rx.try_recv().is_err(), "an event for a write elsewhere");

    // Nobody listens any more: writes are stored without waiting.
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), put("uploads", "uploads/c"))
        .await
        .expect("a PUT waited for a queue nobody reads")
        .expect("put c");
    assert!(exists(&c, "uploads", "uploads/c").await);
    s3.shutdown().await;
}

/// Keys that could walk or break the file system are refused with 400 before they reach it, on
/// PutObject, GetObject and as a CopyObject source; nothing is written outside the buckets.
#[tokio::test]
async fn keys_with_dot_segments_empty_segments_nul_or_long_segments_are_400() {
    let env = start().await;
    let s3 = env.s3.client();
    let long = format!("uploads/{}", "x".repeat(256));
    for key in [
        "uploads/../../escaped",
        "uploads/./x",
        "../resized/x",
        "uploads//x",
        "uploads/x/",
        "uploads/a\0b",
        long.as_str(),
    ] {
        let err = s3
            .put_object()
            .bucket("uploads")
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .expect_err(key);
        let status = err.raw_response().map(|r| r.status().as_u16());
        assert_eq!(status, Some(400), "{key:?}: {err:?}");
        assert_eq!(err.code(), Some("InvalidArgument"), "{key:?}");
        let err = s3
            .get_object()
            .bucket("uploads")
            .key(key)
            .send()
            .await
            .expect_err(key);
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    }
    s3.put_object()
        .bucket("uploads")
        .key("uploads/fine")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("a normal key");
    let err = s3
        .copy_object()
        .bucket("uploads")
        .key("uploads/copy")
        .copy_source("uploads/uploads/%2E%2E/fine")
        .send()
        .await
        .expect_err("dot-dot copy source");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    let root = env._dir.path();
    assert!(!root.join("escaped").exists() && !root.join("s3/escaped").exists());
}
