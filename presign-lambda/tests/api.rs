//! The presign API against a real (in-process) S3 server and a real HTTP client.

mod common;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Stack, ALLOWED_ORIGIN, RESIZED, UPLOADS};
use fitbox_api::keys;
use fitbox_local_s3::{FaultKind, Op};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_millis() as u64
}

fn s3_code(body: &str) -> &str {
    body.split("<Code>")
        .nth(1)
        .and_then(|s| s.split("</Code>").next())
        .unwrap_or("")
}

#[tokio::test]
async fn config_reports_the_resize_settings() {
    let stack = Stack::with(|c| {
        c.options.box_width = 320;
        c.options.box_height = 200;
        c.options.limits.max_bytes = 1234;
    })
    .await;
    let r = stack.get("/api/config").await;
    assert_eq!(r.status, StatusCode::OK);
    r.documented("GET", "/api/config");
    assert_eq!(r.json["box_width"], 320);
    assert_eq!(r.json["box_height"], 200);
    assert_eq!(r.json["max_bytes"], 1234);
    assert_eq!(r.json["enlarge"], false);
    assert_eq!(
        r.json["accepted_types"],
        json!(["image/jpeg", "image/png", "image/webp", "image/gif"])
    );
    let head = stack.send(Method::HEAD, "/api/config", None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    stack.stop().await;
}

#[tokio::test]
async fn a_ticket_url_takes_exactly_the_declared_bytes_and_type() {
    let stack = Stack::start().await;
    let bytes = b"\xff\xd8\xff\xe0 pretend jpeg".to_vec();
    let size = bytes.len() as u64;
    let ticket = stack.ticket("../My  cat ü.jpg", "image/jpeg", size).await;
    let id = ticket["id"].as_str().expect("id").to_string();
    assert!(keys::is_valid_id(&id));
    assert_eq!(ticket["key"], format!("uploads/{id}"));
    assert_eq!(ticket["method"], "PUT");
    assert_eq!(ticket["headers"]["content-type"], "image/jpeg");
    assert_eq!(ticket["headers"]["content-length"], size.to_string());
    assert_eq!(
        ticket["headers"]["x-amz-meta-filename"],
        "My%20%20cat%20%C3%BC.jpg"
    );
    // Open mode: the owner is recorded as anonymous, and signed like the rest.
    assert_eq!(ticket["headers"]["x-amz-meta-owner"], "anonymous");
    // One upload per ticket.
    assert_eq!(ticket["headers"]["if-none-match"], "*");
    let url = ticket["url"].as_str().expect("url").to_string();
    let signed = url
        .split("X-Amz-SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("signed headers");
    assert_eq!(
        signed,
        "content-length%3Bcontent-type%3Bhost%3Bif-none-match%3B\
         x-amz-meta-filename%3Bx-amz-meta-owner"
    );

    let refused = |what: &'static str, r: reqwest::Response| async move {
        let status = r.status();
        let body = r.text().await.expect("body");
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
        body
    };
    // One byte more, one byte less.
    for len in [bytes.len() + 1, bytes.len() - 1] {
        let body = refused(
            "other size",
            stack.put_ticket(&ticket, vec![b'x'; len]).await,
        )
        .await;
        assert_eq!(s3_code(&body), "SignatureDoesNotMatch");
    }
    // Another content type.
    let r = stack
        .http
        .put(&url)
        .header("content-type", "image/png")
        .header("x-amz-meta-filename", "My%20%20cat%20%C3%BC.jpg")
        .header("x-amz-meta-owner", "anonymous")
        .header("if-none-match", "*")
        .body(bytes.clone())
        .send()
        .await
        .expect("PUT");
    assert_eq!(
        s3_code(&refused("other type", r).await),
        "SignatureDoesNotMatch"
    );
    // No file-name metadata, or another value.
    for meta in [None, Some("evil.jpg")] {
        let mut req = stack
            .http
            .put(&url)
            .header("content-type", "image/jpeg")
            .header("x-amz-meta-owner", "anonymous")
            .header("if-none-match", "*")
            .body(bytes.clone());
        if let Some(m) = meta {
            req = req.header("x-amz-meta-filename", m);
        }
        let body = refused("other metadata", req.send().await.expect("PUT")).await;
        assert_eq!(s3_code(&body), "SignatureDoesNotMatch");
    }
    // Tampered signature.
    let tampered = {
        let (head, sig) = url.rsplit_once("X-Amz-Signature=").expect("signature");
        let mut sig = sig.to_string();
        let last = sig.pop().expect("non-empty");
        sig.push(if last == '0' { '1' } else { '0' });
        format!("{head}X-Amz-Signature={sig}")
    };
    let mut t = ticket.clone();
    t["url"] = Value::String(tampered);
    let body = refused("tampered", stack.put_ticket(&t, bytes.clone()).await).await;
    assert_eq!(s3_code(&body), "SignatureDoesNotMatch");
    // The same signature for another key.
    let other = keys::new_id(now_ms(), 1);
    let mut t = ticket.clone();
    t["url"] = Value::String(url.replace(&id, &other));
    let body = refused("other key", stack.put_ticket(&t, bytes.clone()).await).await;
    assert_eq!(s3_code(&body), "SignatureDoesNotMatch");
    // An unsigned x-amz-meta header smuggled in.
    let mut req = stack.http.put(&url).body(bytes.clone());
    for (k, v) in ticket["headers"].as_object().expect("headers") {
        if k != "content-length" {
            req = req.header(k.as_str(), v.as_str().expect("str"));
        }
    }
    let r = req
        .header("x-amz-meta-evil", "1")
        .send()
        .await
        .expect("PUT");
    refused("unsigned metadata", r).await;

    // Nothing was stored by any refused attempt.
    for key in [format!("uploads/{id}"), format!("uploads/{other}")] {
        let head = stack
            .s3
            .head_object()
            .bucket(UPLOADS)
            .key(&key)
            .send()
            .await;
        assert!(head.is_err(), "{key} exists after refused PUTs");
    }

    // The exact bytes and type go through.
    let r = stack.put_ticket(&ticket, bytes.clone()).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let head = stack
        .s3
        .head_object()
        .bucket(UPLOADS)
        .key(format!("uploads/{id}"))
        .send()
        .await
        .expect("uploaded object");
    assert_eq!(head.content_length(), Some(size as i64));
    assert_eq!(head.content_type(), Some("image/jpeg"));
    let meta = head.metadata().expect("metadata");
    assert_eq!(
        keys::decode_filename(&meta[keys::meta::FILENAME]),
        "My  cat ü.jpg"
    );
    assert_eq!(meta[keys::meta::OWNER], "anonymous", "open mode");
    assert_eq!(meta.len(), 2, "only the signed metadata: {meta:?}");
    let etag = head.e_tag().map(str::to_string);

    // The same URL again, with other bytes of the same length: S3 refuses (412), and the
    // stored object is still the first one.
    let mut again = bytes.clone();
    again[0] ^= 0xff;
    let r = stack.put_ticket(&ticket, again).await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        s3_code(&r.text().await.unwrap_or_default()),
        "PreconditionFailed"
    );
    let head = stack
        .s3
        .head_object()
        .bucket(UPLOADS)
        .key(format!("uploads/{id}"))
        .send()
        .await
        .expect("uploaded object");
    assert_eq!(
        head.e_tag().map(str::to_string),
        etag,
        "the first upload stays"
    );
    // Without the signed If-None-Match the URL does not work at all.
    let mut req = stack.http.put(&url).body(bytes.clone());
    for (k, v) in ticket["headers"].as_object().expect("headers") {
        if k != "content-length" && k != "if-none-match" {
            req = req.header(k.as_str(), v.as_str().expect("str"));
        }
    }
    let body = refused("no if-none-match", req.send().await.expect("PUT")).await;
    assert_eq!(s3_code(&body), "SignatureDoesNotMatch");
    stack.stop().await;
}

#[tokio::test]
async fn an_expired_ticket_is_refused_by_s3() {
    let stack = Stack::with(|c| c.url_ttl = Duration::from_secs(1)).await;
    let ticket = stack.ticket("a.png", "image/png", 3).await;
    let expires = ticket["expires_at"].as_str().expect("expires_at");
    assert!(expires.ends_with('Z'), "{expires}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = stack.put_ticket(&ticket, b"png".to_vec()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body = r.text().await.expect("body");
    assert_eq!(s3_code(&body), "AccessDenied", "{body}");
    assert!(body.contains("expired"), "{body}");
    // A fresh ticket with the same lifetime works when used at once.
    let ticket = stack.ticket("a.png", "image/png", 3).await;
    let r = stack.put_ticket(&ticket, b"png".to_vec()).await;
    assert_eq!(r.status(), StatusCode::OK);
    stack.stop().await;
}

#[tokio::test]
async fn an_array_body_gets_an_array_of_tickets() {
    let stack = Stack::start().await;
    let files: Vec<Value> = (0..5)
        .map(|i| {
            json!({
                "filename": format!("f{i}.webp"),
                "content_type": "image/webp",
                "size": 10 + i
            })
        })
        .collect();
    let r = stack.post_json("/api/uploads", &Value::Array(files)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.documented("POST", "/api/uploads");
    let tickets = r.json.as_array().expect("array");
    assert_eq!(tickets.len(), 5);
    let ids: HashSet<&str> = tickets.iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids.len(), 5, "ids are unique");
    for (i, t) in tickets.iter().enumerate() {
        assert_eq!(t["headers"]["content-length"], (10 + i).to_string());
        assert_eq!(t["headers"]["x-amz-meta-filename"], format!("f{i}.webp"));
        let put = stack.put_ticket(t, vec![7u8; 10 + i]).await;
        assert_eq!(put.status(), StatusCode::OK);
    }
    // `3.0` is the integer 3 in JSON; `3.5` is not a size.
    let r = stack
        .post_json(
            "/api/uploads",
            &json!({"filename": "f", "content_type": "image/png", "size": 3.0}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json["headers"]["content-length"], "3");
    stack
        .post_json(
            "/api/uploads",
            &json!({"filename": "f", "content_type": "image/png", "size": 3.5}),
        )
        .await
        .assert_error(422, "invalid_body");
    // Exactly 100 is fine.
    let many: Vec<Value> = (0..100)
        .map(|_| json!({"filename": "x.gif", "content_type": "image/gif", "size": 1}))
        .collect();
    let r = stack.post_json("/api/uploads", &Value::Array(many)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json.as_array().map(Vec::len), Some(100));
    stack.stop().await;
}

/// Put `n` thumbnails made at distinct times; returns their ids newest first.
async fn put_thumbnails(stack: &Stack, n: usize) -> Vec<String> {
    let base = now_ms() - 10_000_000;
    let ids: Vec<String> = (0..n)
        .map(|i| keys::new_id(base + (i as u64) * 1000, i as u64 * 7919))
        .collect();
    let mut set = tokio::task::JoinSet::new();
    for (i, id) in ids.iter().enumerate() {
        let s3 = stack.s3.clone();
        let key = format!("images/{id}/{}x{}.jpg", 100 + i, 50 + i % 7);
        set.spawn(async move {
            s3.put_object()
                .bucket(RESIZED)
                .key(key)
                .content_type("image/jpeg")
                .body(vec![1u8; 10 + i % 5].into())
                .send()
                .await
                .expect("put thumbnail");
        });
        if set.len() >= 16 {
            set.join_next().await;
        }
    }
    while set.join_next().await.is_some() {}
    let mut newest_first = ids;
    newest_first.reverse();
    newest_first
}

#[tokio::test]
async fn the_gallery_pages_newest_first_one_list_call_per_page() {
    let stack = Stack::start().await;
    let expected = put_thumbnails(&stack, 250).await;

    let mut seen: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/images?limit=100&cursor={c}"),
            None => "/api/images?limit=100".to_string(),
        };
        let lists_before = stack.faults.calls(Op::List);
        let r = stack.get(&path).await;
        assert_eq!(
            stack.faults.calls(Op::List) - lists_before,
            1,
            "one ListObjectsV2 per page"
        );
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.documented("GET", "/api/images");
        let images = r.json["images"].as_array().expect("images").clone();
        pages.push(images.len());
        seen.extend(images);
        match r.json["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages.len() < 10, "runaway paging");
    }
    assert_eq!(pages, vec![100, 100, 50]);
    let ids: Vec<&str> = seen.iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(ids.len(), 250);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        250,
        "no duplicates"
    );
    assert_eq!(ids, expected, "all of them, newest first");
    let created: Vec<&str> = seen.iter().filter_map(|i| i["created"].as_str()).collect();
    assert!(
        created.windows(2).all(|w| w[0] > w[1]),
        "created descending"
    );
    // Dimensions and size come from the listing.
    let first = &seen[0];
    let n = 249;
    assert_eq!(first["width"], 100 + n);
    assert_eq!(first["height"], 50 + n % 7);
    assert_eq!(first["bytes"], 10 + n % 5);
    // The URL is a working presigned GET.
    let img = stack
        .http
        .get(first["url"].as_str().expect("url"))
        .send()
        .await
        .expect("GET");
    assert_eq!(img.status(), StatusCode::OK);
    assert_eq!(img.bytes().await.expect("bytes").len(), 10 + n % 5);

    // Default page size is 30.
    let r = stack.get("/api/images").await;
    assert_eq!(r.json["images"].as_array().map(Vec::len), Some(30));
    stack.stop().await;
}

#[tokio::test]
async fn the_gallery_names_images_from_their_owner_records() {
    let stack = Stack::start().await;
    let ids = put_thumbnails(&stack, 2).await;
    // The record the resize function writes: owner and file name, percent-encoded.
    stack
        .s3
        .put_object()
        .bucket(UPLOADS)
        .key(format!("{}{}", keys::OWNER_PREFIX, ids[0]))
        .metadata(keys::meta::OWNER, "anonymous")
        .metadata(
            keys::meta::FILENAME,
            "Beach%20at%20dawn%20%C3%A9t%C3%A9.jpg",
        )
        .body(Vec::new().into())
        .send()
        .await
        .expect("owner record");
    let r = stack.get("/api/images").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.documented("GET", "/api/images");
    let images = r.json["images"].as_array().expect("images");
    assert_eq!(images[0]["id"], ids[0].as_str());
    assert_eq!(images[0]["name"], "Beach at dawn été.jpg");
    assert!(
        images[1].get("name").is_none(),
        "no record, no name: {}",
        images[1]
    );
    // The owner is never shown.
    assert!(!r.body.contains("anonymous"), "{}", r.body);
    stack.stop().await;
}

#[tokio::test]
async fn the_gallery_skips_strays_merges_sizes_and_uses_the_cdn() {
    let stack = Stack::with(|c| c.cdn_base_url = Some("https://cdn.example".into())).await;
    let ids = put_thumbnails(&stack, 3).await;
    // A second size of the newest upload, and keys that are not thumbnails.
    for key in [
        format!("images/{}/9x9.png", ids[0]),
        "images/readme.txt".to_string(),
        "images/zz/0x0.jpg".to_string(),
    ] {
        stack
            .s3
            .put_object()
            .bucket(RESIZED)
            .key(key)
            .body(b"x".to_vec().into())
            .send()
            .await
            .expect("put");
    }
    let mut all = Vec::new();
    let mut cursor = String::new();
    for _ in 0..10 {
        let r = stack
            .get(&format!("/api/images?limit=1&cursor={cursor}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.documented("GET", "/api/images");
        all.extend(r.json["images"].as_array().expect("images").clone());
        match r.json["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let got: Vec<&str> = all.iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(got, ids, "each upload once, strays skipped");
    let url = all[0]["url"].as_str().expect("url");
    assert!(
        url.starts_with(&format!("https://cdn.example/images/{}/", ids[0])),
        "{url}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn status_moves_from_pending_to_ready() {
    let stack = Stack::start().await;
    let ticket = stack.ticket("p.jpg", "image/jpeg", 4).await;
    let id = ticket["id"].as_str().expect("id").to_string();
    let path = format!("/api/uploads/{id}");
    let status = |r: &common::Resp| r.json["status"].as_str().unwrap_or("").to_string();

    // Ticketed, not uploaded yet.
    let r = stack.get(&path).await;
    r.documented("GET", "/api/uploads/{id}");
    assert_eq!(r.json, json!({"id": id, "status": "pending"}));
    // Uploaded, not resized yet.
    assert_eq!(
        stack.put_ticket(&ticket, b"abcd".to_vec()).await.status(),
        StatusCode::OK
    );
    let r = stack.get(&path).await;
    assert_eq!(status(&r), "pending");
    // Even long after the ticket expired, an uploaded original is pending.
    stack.clock_offset_ms.store(3_600_000, Ordering::SeqCst);
    assert_eq!(status(&stack.get(&path).await), "pending");
    stack.clock_offset_ms.store(0, Ordering::SeqCst);
    // Resized.
    let thumb = b"thumbnail bytes";
    let key = stack.simulate_resized(&id, 400, 300, thumb).await;
    let r = stack.get(&path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.documented("GET", "/api/uploads/{id}");
    assert_eq!(status(&r), "ready");
    let image = &r.json["image"];
    assert_eq!(image["id"], id.as_str());
    assert_eq!(image["width"], 400);
    assert_eq!(image["height"], 300);
    assert_eq!(image["bytes"], thumb.len());
    assert_eq!(image["pixel_sha256"], common::pixel_sha(&id));
    let created = keys::created_ms(&id).expect("created");
    assert_eq!(image["created"], fitbox_api::time::rfc3339_ms(created));
    let url = image["url"].as_str().expect("url");
    assert!(url.contains(&key), "{url}");
    let got = stack.http.get(url).send().await.expect("GET");
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(&got.bytes().await.expect("bytes")[..], thumb);
    stack.stop().await;
}

#[tokio::test]
async fn status_moves_from_pending_to_rejected() {
    let stack = Stack::start().await;
    let ticket = stack.ticket("bad.png", "image/png", 3).await;
    let id = ticket["id"].as_str().expect("id").to_string();
    let path = format!("/api/uploads/{id}");
    assert_eq!(
        stack.put_ticket(&ticket, b"xyz".to_vec()).await.status(),
        StatusCode::OK
    );
    assert_eq!(stack.get(&path).await.json["status"], "pending");
    stack
        .simulate_rejected(&id, "unrecognised", "not an image: caf%C3%A9 at 100%25")
        .await;
    let r = stack.get(&path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.documented("GET", "/api/uploads/{id}");
    assert_eq!(
        r.json,
        json!({
            "id": id,
            "status": "rejected",
            "code": "unrecognised",
            "reason": "not an image: café at 100%"
        })
    );
    stack.stop().await;
}

#[tokio::test]
async fn unused_tickets_expire_into_404_and_unknown_ids_are_404() {
    let stack = Stack::with(|c| c.url_ttl = Duration::from_secs(30)).await;
    let ticket = stack.ticket("n.gif", "image/gif", 1).await;
    let path = format!("/api/uploads/{}", ticket["id"].as_str().expect("id"));
    assert_eq!(stack.get(&path).await.json["status"], "pending");
    // Still pending within TTL + 60 s grace ...
    stack.clock_offset_ms.store(85_000, Ordering::SeqCst);
    assert_eq!(stack.get(&path).await.json["status"], "pending");
    // ... and gone after.
    stack.clock_offset_ms.store(95_000, Ordering::SeqCst);
    let r = stack.get(&path).await;
    r.assert_error(404, "upload_not_found");
    r.documented("GET", "/api/uploads/{id}");
    stack.clock_offset_ms.store(0, Ordering::SeqCst);

    let old = keys::new_id(now_ms() - 86_400_000, 5);
    stack
        .get(&format!("/api/uploads/{old}"))
        .await
        .assert_error(404, "upload_not_found");
    let future = keys::new_id(now_ms() + 86_400_000, 5);
    stack
        .get(&format!("/api/uploads/{future}"))
        .await
        .assert_error(404, "upload_not_found");
    stack.stop().await;
}

#[tokio::test]
async fn every_documented_client_error() {
    let stack = Stack::with(|c| c.options.limits.max_bytes = 1000).await;
    let up = "/api/uploads";
    let ok = json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 5});
    let raw = |ct: Option<&'static str>, body: Vec<u8>| {
        let stack = &stack;
        async move {
            match ct {
                Some(ct) => stack.send(Method::POST, up, Some((ct, body))).await,
                None => {
                    let r = stack
                        .http
                        .post(stack.url(up))
                        .body(body)
                        .send()
                        .await
                        .expect("POST");
                    common::Resp::read(r).await
                }
            }
        }
    };
    let json_body = |v: &Value| v.to_string().into_bytes();
    let cases: Vec<(common::Resp, u16, &str)> = vec![
        (
            raw(Some("application/json"), b"{\"filename\":".to_vec()).await,
            400,
            "invalid_json",
        ),
        (
            raw(Some("application/json"), Vec::new()).await,
            400,
            "invalid_json",
        ),
        (
            raw(Some("application/json"), b"\xff\xfe".to_vec()).await,
            400,
            "invalid_json",
        ),
        (
            raw(None, json_body(&ok)).await,
            415,
            "unsupported_content_type",
        ),
        (
            raw(Some("text/plain"), json_body(&ok)).await,
            415,
            "unsupported_content_type",
        ),
        (
            raw(Some("application/x-www-form-urlencoded"), b"a=b".to_vec()).await,
            415,
            "unsupported_content_type",
        ),
        (
            raw(Some("application/json"), vec![b' '; 64 * 1024 + 1]).await,
            413,
            "body_too_large",
        ),
        (
            stack
                .post_json(
                    up,
                    &json!({
                        "filename": "a.jpg",
                        "content_type": "image/jpeg",
                        "size": 5,
                        "acl": "public-read"
                    }),
                )
                .await,
            422,
            "invalid_body",
        ),
        (
            stack
                .post_json(up, &json!({"filename": "a.jpg", "size": 5}))
                .await,
            422,
            "invalid_body",
        ),
        (
            stack
                .post_json(
                    up,
                    &json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": -1}),
                )
                .await,
            422,
            "invalid_body",
        ),
        (
            stack
                .post_json(
                    up,
                    &json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": "5"}),
                )
                .await,
            422,
            "invalid_body",
        ),
        (
            stack
                .post_json(
                    up,
                    &json!({"filename": 7, "content_type": "image/jpeg", "size": 5}),
                )
                .await,
            422,
            "invalid_body",
        ),
        (
            stack.post_json(up, &json!("a.jpg")).await,
            422,
            "invalid_body",
        ),
        (stack.post_json(up, &json!(null)).await, 422, "invalid_body"),
        (stack.post_json(up, &json!([5])).await, 422, "invalid_body"),
        (
            stack
                .post_json(
                    up,
                    &json!({"filename": "a.svg", "content_type": "image/svg+xml", "size": 5}),
                )
                .await,
            415,
            "unsupported_media_type",
        ),
        (
            stack
                .post_json(
                    up,
                    &json!({"filename": "a.jpg", "content_type": "IMAGE/JPEG", "size": 5}),
                )
                .await,
            415,
            "unsupported_media_type",
        ),
        (
            stack
                .post_json(
                    up,
                    &json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 0}),
                )
                .await,
            400,
            "invalid_size",
        ),
        (
            stack
                .post_json(
                    up,
                    &json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 1001}),
                )
                .await,
            413,
            "file_too_large",
        ),
        (stack.post_json(up, &json!([])).await, 400, "empty_batch"),
        (
            stack
                .post_json(up, &Value::Array(vec![ok.clone(); 101]))
                .await,
            413,
            "too_many_files",
        ),
        (
            stack
                .post_json(
                    up,
                    &json!([
                        ok.clone(),
                        {"filename": "b", "content_type": "image/jpeg", "size": 0}
                    ]),
                )
                .await,
            400,
            "invalid_size",
        ),
    ];
    for (i, (r, status, code)) in cases.iter().enumerate() {
        eprintln!("case {i}: {status} {code}");
        r.assert_error(*status, code);
        r.documented("POST", up);
    }
    // A failing element is named by its index.
    let last = &cases[cases.len() - 1].0;
    assert!(
        last.json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("item 1: ")),
        "{}",
        last.body
    );
    // The file-size limit is stated.
    assert!(cases[18].0.body.contains("1000"), "{}", cases[18].0.body);

    // Status.
    for bad in [
        "xyz",
        "0123456789ABCDEF0123456789A",
        "0123456789abcdef0123456789ab",
        "..%2F..%2Fetc",
        "%20",
    ] {
        let r = stack.get(&format!("/api/uploads/{bad}")).await;
        r.assert_error(400, "invalid_id");
        r.documented("GET", "/api/uploads/{id}");
    }
    let r = stack.get("/api/uploads/%FF%FE").await;
    r.assert_error(400, "invalid_path");
    r.documented("GET", "/api/uploads/{id}");

    // Gallery.
    for q in ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1.5"] {
        let r = stack.get(&format!("/api/images?{q}")).await;
        r.assert_error(400, "invalid_limit");
        r.documented("GET", "/api/images");
    }
    for c in ["%%%", "bm90LWEtY3Vyc29y", "dXBsb2Fkcy94", "!"] {
        let r = stack.get(&format!("/api/images?cursor={c}")).await;
        r.assert_error(400, "invalid_cursor");
        r.documented("GET", "/api/images");
    }
    let r = stack.get("/api/images?limit=1&limit=2").await;
    r.assert_error(400, "invalid_query");
    r.documented("GET", "/api/images");

    // Unknown routes and methods.
    for path in ["/", "/api", "/api/nope", "/api/images/", "/api/uploads/x/y"] {
        stack.get(path).await.assert_error(404, "not_found");
    }
    for (method, path, allow) in [
        (Method::POST, "/api/images", "GET,HEAD"),
        (Method::PUT, "/api/uploads", "POST"),
        (
            Method::DELETE,
            "/api/uploads/0123456789abcdef0123456789a",
            "GET,HEAD",
        ),
        (Method::POST, "/api/config", "GET,HEAD"),
    ] {
        let r = stack.send(method, path, None).await;
        r.assert_error(405, "method_not_allowed");
        assert_eq!(
            r.headers.get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{path}"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn s3_trouble_is_502_or_503_with_a_clear_message() {
    let stack = Stack::start().await;
    let id = keys::new_id(now_ms(), 9);
    let status_path = format!("/api/uploads/{id}");

    stack.faults.fail_next(Op::List, 1, FaultKind::SlowDown);
    let r = stack.get("/api/images").await;
    r.assert_error(503, "storage_unavailable");
    r.documented("GET", "/api/images");
    assert!(r.body.contains("ListObjectsV2"), "{}", r.body);

    stack
        .faults
        .fail_next(Op::Head, 1, FaultKind::InternalError);
    let r = stack.get(&status_path).await;
    r.assert_error(503, "storage_unavailable");
    r.documented("GET", "/api/uploads/{id}");
    assert!(r.body.contains("HeadObject"), "{}", r.body);
    stack.faults.clear();

    // Creating tickets needs no S3 call, so it works while S3 is failing.
    stack.faults.set_rate(Op::List, 1.0);
    stack.faults.set_rate(Op::Head, 1.0);
    stack.ticket("a.jpg", "image/jpeg", 1).await;
    stack.faults.clear();
    stack.stop().await;

    // A bucket that does not exist: S3 refuses, 502.
    let stack = Stack::with(|c| c.resized_bucket = "no-such-bucket".into()).await;
    let r = stack.get("/api/images").await;
    r.assert_error(502, "storage_error");
    r.documented("GET", "/api/images");
    assert!(r.body.contains("NoSuchBucket"), "{}", r.body);

    // S3 gone altogether: 503.
    let Stack {
        local, api, http, ..
    } = stack;
    local.shutdown().await;
    let r = common::Resp::read(
        http.get(format!("{api}/api/images"))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    r.assert_error(503, "storage_unavailable");
}

#[tokio::test]
async fn cors_answers_preflight_for_configured_origins_only() {
    let stack = Stack::start().await;
    let preflight = |origin: &'static str| {
        stack
            .http
            .request(Method::OPTIONS, stack.url("/api/uploads"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight(ALLOWED_ORIGIN).await.expect("preflight");
    assert_eq!(ok.status(), StatusCode::OK);
    let h = ok.headers();
    assert_eq!(h["access-control-allow-origin"], ALLOWED_ORIGIN);
    let methods = h["access-control-allow-methods"].to_str().expect("ascii");
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    let allowed = h["access-control-allow-headers"].to_str().expect("ascii");
    assert!(allowed.contains("content-type"), "{allowed}");

    let other = preflight("https://evil.example").await.expect("preflight");
    assert!(
        other.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        other.headers()
    );

    // Simple requests (and errors) carry the header for the allowed origin only.
    for (path, status) in [("/api/config", 200), ("/api/nope", 404)] {
        let r = stack
            .http
            .get(stack.url(path))
            .header("origin", ALLOWED_ORIGIN)
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.headers()["access-control-allow-origin"], ALLOWED_ORIGIN);
        // The page reads a 429's Retry-After and a 401's WWW-Authenticate across origins.
        let exposed = r.headers()["access-control-expose-headers"]
            .to_str()
            .expect("ascii")
            .to_ascii_lowercase();
        assert!(
            exposed.contains("retry-after") && exposed.contains("www-authenticate"),
            "{exposed}"
        );
        let r = stack
            .http
            .get(stack.url(path))
            .header("origin", "https://evil.example")
            .send()
            .await
            .expect("GET");
        assert!(r.headers().get("access-control-allow-origin").is_none());
    }
    stack.stop().await;

    // No origins configured: no CORS headers at all.
    let stack = Stack::with(|c| c.cors_origins.clear()).await;
    let r = stack
        .http
        .get(stack.url("/api/config"))
        .header("origin", ALLOWED_ORIGIN)
        .send()
        .await
        .expect("GET");
    assert!(r.headers().get("access-control-allow-origin").is_none());
    stack.stop().await;
}
