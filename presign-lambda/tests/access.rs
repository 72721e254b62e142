//! Who may do what, in each mode, with tokens from a real OpenID provider.
//!
//! `tests/oidc/provider.mjs` runs npm's `oidc-provider` (a certified OpenID Connect
//! implementation) on loopback; `tests/oidc/token.mjs` signs people in through its real
//! authorization code + PKCE flow. Nothing here mints a valid token by hand. Three instances:
//!
//! * the issuer the API trusts (tokens for alice, bob and an admin);
//! * one started with the *same issuer name* but its own keys: a well-formed token, signed by a
//!   key the issuer does not list;
//! * one whose tokens live 1 s, for an expired token (the API under test takes no clock leeway
//!   for it, so the test need not wait 30 s).
//!
//! The `alg: none` token is the trusted issuer's token with its header swapped and signature
//! dropped: the classic forgery, which only a hand-made token can be.
//!
//! For every route and mode the exact status and error code are checked, `401`s carry
//! `WWW-Authenticate: Bearer`, and the store is checked after refusals: nothing stored, nothing
//! deleted.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Resp, Stack, RESIZED, UPLOADS};
use fitbox_api::keys;
use fitbox_presign::auth::{AccessMode, OidcConfig, LEEWAY_SECS};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A running `tests/oidc/provider.mjs`; killed when dropped (and it exits by itself when its
/// stdin, held here, closes).
struct Provider {
    child: Child,
    issuer: String,
    /// Where it listens (differs from `issuer` for the same-name instance).
    url: String,
}

impl Provider {
    fn start(args: &[&str]) -> Provider {
        let script = repo().join("tests/oidc/provider.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} with node ({e}); run scripts/setup.sh",
                    script.display()
                )
            });
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("provider's ready line");
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("provider's ready line {line:?}: {e}"));
        Provider {
            child,
            issuer: ready["issuer"].as_str().expect("issuer").to_string(),
            url: ready["url"].as_str().expect("url").to_string(),
        }
    }

    /// Sign `login` in through the provider's real code + PKCE flow.
    fn tokens(&self, login: &str) -> Tokens {
        let out = Command::new("node")
            .arg(repo().join("tests/oidc/token.mjs"))
            .args(["--issuer", &self.url, "--login", login])
            .output()
            .expect("node tests/oidc/token.mjs");
        assert!(
            out.status.success(),
            "token.mjs for {login}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("token JSON");
        Tokens {
            id: v["id_token"].as_str().expect("id_token").to_string(),
            access: v["access_token"]
                .as_str()
                .expect("access_token")
                .to_string(),
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Tokens {
    id: String,
    access: String,
}

/// The API trusting `issuer`'s ID tokens (`fitbox-web`) and access tokens (`fitbox-api`).
fn oidc(issuer: &str) -> OidcConfig {
    OidcConfig {
        issuer: issuer.to_string(),
        client_id: "fitbox-web".into(),
        audiences: vec!["fitbox-web".into(), "fitbox-api".into()],
        role_claim: "cognito:groups".into(),
        admin_group: "admin".into(),
        leeway_secs: LEEWAY_SECS,
    }
}

async fn stack(mode: AccessMode, oidc: OidcConfig) -> Stack {
    Stack::with(|cfg| {
        cfg.access_mode = mode;
        cfg.oidc = Some(oidc);
    })
    .await
}

/// The token with `alg: none` and no signature.
fn alg_none(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("payload");
    let header =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    format!("{header}.{payload}.")
}

async fn call(stack: &Stack, method: Method, path: &str, token: Option<&str>) -> Resp {
    let mut req = stack.http.request(method.clone(), stack.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if method == Method::POST {
        req = req.json(&json!({"filename": "cat.jpg", "content_type": "image/jpeg", "size": 3}));
    }
    Resp::read(req.send().await.expect("request")).await
}

fn assert_401(r: &Resp, token_given: bool, what: &str) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.body);
    r.assert_error(401, "unauthenticated");
    let www = r
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{what}: no WWW-Authenticate"));
    assert!(www.starts_with("Bearer realm=\"fitbox\""), "{what}: {www}");
    assert_eq!(www.contains("invalid_token"), token_given, "{what}: {www}");
}

/// An upload by `token`'s caller, resized as the resize function leaves it (owner record
/// included); returns its id.
async fn upload_as(stack: &Stack, token: Option<&str>) -> String {
    let r = call(stack, Method::POST, "/api/uploads", token).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ticket = r.json;
    let id = ticket["id"].as_str().expect("id").to_string();
    let put = stack.put_ticket(&ticket, b"abc".to_vec()).await;
    assert!(put.status().is_success(), "PUT {}", put.status());
    let original = stack
        .s3
        .head_object()
        .bucket(UPLOADS)
        .key(keys::upload_key(&id))
        .send()
        .await
        .expect("original");
    let owner = original
        .metadata()
        .and_then(|m| m.get(keys::meta::OWNER))
        .cloned()
        .expect("owner metadata, signed into the PUT");
    stack
        .s3
        .put_object()
        .bucket(UPLOADS)
        .key(format!("{}{id}", keys::OWNER_PREFIX))
        .metadata(keys::meta::OWNER, owner)
        .body(Vec::new().into())
        .send()
        .await
        .expect("owner record");
    stack.simulate_resized(&id, 40, 30, b"thumb").await;
    id
}

async fn stored(stack: &Stack, bucket: &str, prefix: &str) -> Vec<String> {
    stack
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("list")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_in_every_mode_with_every_kind_of_caller() {
    let trusted = Provider::start(&[]);
    let impostor = Provider::start(&["--issuer", &trusted.issuer]);
    let short = Provider::start(&["--ttl", "1"]);
    let alice = trusted.tokens("alice");
    let bob = trusted.tokens("bob");
    let admin = trusted.tokens("admin");
    let forged_key = impostor.tokens("alice");
    let expired = short.tokens("alice");
    let none = alg_none(&alice.id);
    // Alice's real header and signature over Bob's claims: only the signature check catches it.
    let spliced = {
        let a: Vec<&str> = alice.id.split('.').collect();
        let b: Vec<&str> = bob.id.split('.').collect();
        format!("{}.{}.{}", a[0], b[1], a[2])
    };

    // The expired token: its issuer's API takes no leeway, and the token has lived past 1 s.
    std::thread::sleep(Duration::from_millis(2100));
    let mut strict = oidc(&short.issuer);
    strict.leeway_secs = 0;
    let s = stack(AccessMode::SignedInUpload, strict).await;
    for token in [&expired.id, &expired.access] {
        let r = call(&s, Method::POST, "/api/uploads", Some(token)).await;
        assert_401(&r, true, "expired");
        assert!(r.body.contains("expired"), "{}", r.body);
    }
    assert!(stored(&s, UPLOADS, "").await.is_empty());
    s.stop().await;

    // Tokens for another audience: an API that takes only `fitbox-api` refuses ID tokens.
    let mut api_only = oidc(&trusted.issuer);
    api_only.audiences = vec!["fitbox-api".into()];
    let s = stack(AccessMode::SignedInUpload, api_only).await;
    let r = call(&s, Method::POST, "/api/uploads", Some(&alice.id)).await;
    assert_401(&r, true, "another audience");
    assert!(r.body.contains("audience"), "{}", r.body);
    let r = call(&s, Method::POST, "/api/uploads", Some(&alice.access)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    s.stop().await;

    for mode in AccessMode::ALL {
        let s = stack(mode, oidc(&trusted.issuer)).await;
        // Something of alice's and of bob's to look at and delete (made in open mode's way
        // when the mode is open: anonymous).
        let caller = |t: &Tokens| (mode != AccessMode::Open).then(|| t.access.clone());
        let a1 = upload_as(&s, caller(&alice).as_deref()).await;
        let a2 = upload_as(&s, caller(&alice).as_deref()).await;
        let b1 = upload_as(&s, caller(&bob).as_deref()).await;
        let before_uploads = stored(&s, UPLOADS, "").await;
        let before_images = stored(&s, RESIZED, "").await;

        // Bad tokens: 401 invalid_token on every route but the config, in every mode.
        for (what, token) in [
            ("signed by another key", forged_key.id.as_str()),
            ("alg none", none.as_str()),
            ("another's claims under a real signature", spliced.as_str()),
            ("garbage", "not-a-token"),
            (
                "unknown upload key",
                "fbk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ),
        ] {
            let r = call(&s, Method::GET, "/api/config", Some(token)).await;
            assert_eq!(r.status, StatusCode::OK, "{mode} {what}: config");
            for (method, path) in [
                (Method::POST, "/api/uploads".to_string()),
                (Method::GET, format!("/api/uploads/{a1}")),
                (Method::GET, "/api/images".to_string()),
                (Method::DELETE, format!("/api/images/{a1}")),
            ] {
                let r = call(&s, method.clone(), &path, Some(token)).await;
                assert_401(&r, true, &format!("{mode} {what}: {method} {path}"));
                if what.starts_with("another's claims") {
                    assert!(r.body.contains("signature"), "{}", r.body);
                }
            }
        }

        // No caller.
        let r = call(&s, Method::GET, "/api/config", None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json["access"]["mode"], mode.as_str());
        assert_eq!(r.json["access"]["oidc"]["issuer"], trusted.issuer.as_str());
        assert_eq!(r.json["access"]["oidc"]["client_id"], "fitbox-web");
        r.documented("GET", "/api/config");
        let post = call(&s, Method::POST, "/api/uploads", None).await;
        let status = call(&s, Method::GET, &format!("/api/uploads/{a1}"), None).await;
        let list = call(&s, Method::GET, "/api/images", None).await;
        let delete = call(&s, Method::DELETE, &format!("/api/images/{b1}"), None).await;
        match mode {
            AccessMode::Open => {
                assert_eq!(post.status, StatusCode::CREATED, "{}", post.body);
                assert_eq!(status.status, StatusCode::OK, "{}", status.body);
                assert_eq!(list.status, StatusCode::OK, "{}", list.body);
                let all = list.json["images"].as_array().expect("images");
                assert!(all.iter().all(|i| i["can_delete"] == true), "{}", list.body);
                assert_eq!(delete.status, StatusCode::NO_CONTENT, "{}", delete.body);
            }
            AccessMode::SignedInUpload => {
                assert_401(&post, false, "no caller: POST");
                assert_401(&status, false, "no caller: status");
                assert_eq!(list.status, StatusCode::OK, "{}", list.body);
                list.documented("GET", "/api/images");
                let all = list.json["images"].as_array().expect("images");
                assert_eq!(all.len(), 3);
                assert!(
                    all.iter().all(|i| i["can_delete"] == false),
                    "{}",
                    list.body
                );
                assert_401(&delete, false, "no caller: DELETE");
            }
            AccessMode::Private => {
                assert_401(&post, false, "no caller: POST");
                assert_401(&status, false, "no caller: status");
                assert_401(&list, false, "no caller: list");
                assert_401(&delete, false, "no caller: DELETE");
            }
        }
        if mode != AccessMode::Open {
            // Nothing was stored or deleted by any refused call.
            assert_eq!(stored(&s, UPLOADS, "").await, before_uploads, "{mode}");
            assert_eq!(stored(&s, RESIZED, "").await, before_images, "{mode}");
        }
        if mode == AccessMode::Open {
            s.stop().await;
            continue;
        }

        // Valid callers: ID token and access token both name alice.
        for token in [&alice.id, &alice.access] {
            let r = call(&s, Method::POST, "/api/uploads", Some(token)).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            let owner = r.json["headers"]["x-amz-meta-owner"]
                .as_str()
                .expect("owner");
            assert_eq!(keys::decode_filename(owner), "oidc:alice");
        }
        let r = call(
            &s,
            Method::GET,
            &format!("/api/uploads/{a1}"),
            Some(&alice.access),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json["image"]["can_delete"], true, "{}", r.body);
        let list = call(&s, Method::GET, "/api/images", Some(&alice.access)).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        list.documented("GET", "/api/images");
        let can_delete: Vec<(String, bool)> = list.json["images"]
            .as_array()
            .expect("images")
            .iter()
            .map(|i| {
                (
                    i["id"].as_str().expect("id").to_string(),
                    i["can_delete"].as_bool().expect("bool"),
                )
            })
            .collect();
        for (id, can) in &can_delete {
            assert_eq!(*can, *id != b1, "{mode}: alice and {id}: {can_delete:?}");
        }
        if mode == AccessMode::Private {
            // Signed links, never the public CDN path.
            let url = list.json["images"][0]["url"].as_str().expect("url");
            assert!(url.contains("X-Amz-Signature="), "{url}");
        }

        // Another uploader may not delete alice's image: 403, and it stays.
        let r = call(
            &s,
            Method::DELETE,
            &format!("/api/images/{a1}"),
            Some(&bob.access),
        )
        .await;
        r.assert_error(403, "forbidden");
        assert!(!stored(&s, RESIZED, &format!("images/{a1}/"))
            .await
            .is_empty());
        assert!(!stored(&s, UPLOADS, &format!("owners/{a1}"))
            .await
            .is_empty());
        // Alice may: 204, and every trace of it is gone.
        let r = call(
            &s,
            Method::DELETE,
            &format!("/api/images/{a1}"),
            Some(&alice.id),
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        // A tombstone stays, so nothing can bring it back.
        assert!(!stored(&s, UPLOADS, &format!("deleted/{a1}"))
            .await
            .is_empty());
        // The CDN was asked to drop the image's path (and nothing was asked for refusals).
        assert_eq!(
            *s.invalidations.lock().expect("lock"),
            vec![vec![format!("/images/{a1}/*")]],
            "{mode}"
        );
        assert!(stored(&s, RESIZED, &format!("images/{a1}/"))
            .await
            .is_empty());
        assert!(stored(&s, UPLOADS, &format!("owners/{a1}"))
            .await
            .is_empty());
        let r = call(
            &s,
            Method::DELETE,
            &format!("/api/images/{a1}"),
            Some(&alice.id),
        )
        .await;
        r.assert_error(404, "image_not_found");
        // An admin may delete anyone's.
        let r = call(
            &s,
            Method::DELETE,
            &format!("/api/images/{b1}"),
            Some(&admin.access),
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        assert!(stored(&s, RESIZED, &format!("images/{b1}/"))
            .await
            .is_empty());
        let list = call(&s, Method::GET, "/api/images", Some(&admin.id)).await;
        let left: Vec<&str> = list.json["images"]
            .as_array()
            .expect("images")
            .iter()
            .filter_map(|i| i["id"].as_str())
            .collect();
        assert_eq!(left, vec![a2.as_str()], "{mode}");
        assert!(list.json["images"][0]["can_delete"] == true);
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_keys_name_their_owner_and_the_issuer_being_down_is_503_then_cached() {
    // Keys: an uploader and an admin.
    let ci = fitbox_presign::auth::new_key("ci", fitbox_presign::Role::Uploader).expect("key");
    let ops = fitbox_presign::auth::new_key("ops", fitbox_presign::Role::Admin).expect("key");
    let provider = Provider::start(&[]);
    let alice = provider.tokens("alice");
    let issuer = provider.issuer.clone();
    let keys_line = format!("{},{}", ci.key.config_entry(), ops.key.config_entry());
    let s = Stack::with(|cfg| {
        cfg.access_mode = AccessMode::SignedInUpload;
        cfg.upload_keys = fitbox_presign::auth::UploadKeys::parse(&keys_line).expect("keys");
        cfg.oidc = Some(oidc(&issuer));
    })
    .await;
    let r = call(&s, Method::GET, "/api/config", None).await;
    assert_eq!(r.json["access"]["upload_keys"], true);
    let id = upload_as(&s, Some(&ci.secret)).await;
    let record = stored(&s, UPLOADS, &format!("owners/{id}")).await;
    assert_eq!(record.len(), 1);
    let head =
        s.s3.head_object()
            .bucket(UPLOADS)
            .key(&record[0])
            .send()
            .await
            .expect("head");
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("owner"))
            .map(|o| keys::decode_filename(o)),
        Some("key:ci".to_string())
    );
    // Alice (OIDC) may not delete the key's image; the admin key may.
    let r = call(
        &s,
        Method::DELETE,
        &format!("/api/images/{id}"),
        Some(&alice.id),
    )
    .await;
    r.assert_error(403, "forbidden");
    // The issuer goes away: the keys fetched for alice's first call stay in use.
    drop(provider);
    let r = call(&s, Method::GET, "/api/images", Some(&alice.id)).await;
    assert_eq!(r.status, StatusCode::OK, "cached keys: {}", r.body);
    let r = call(
        &s,
        Method::DELETE,
        &format!("/api/images/{id}"),
        Some(&ops.secret),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    s.stop().await;

    // An API that never reached the issuer answers 503 auth_unavailable for a token, quickly,
    // and still serves keys.
    let s = Stack::with(|cfg| {
        cfg.access_mode = AccessMode::SignedInUpload;
        cfg.upload_keys = fitbox_presign::auth::UploadKeys::parse(&keys_line).expect("keys");
        cfg.oidc = Some(oidc(&issuer));
    })
    .await;
    let started = Instant::now();
    let r = call(&s, Method::POST, "/api/uploads", Some(&alice.id)).await;
    r.assert_error(503, "auth_unavailable");
    assert!(started.elapsed() < Duration::from_secs(10));
    let r = call(&s, Method::POST, "/api/uploads", Some(&ci.secret)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    s.stop().await;
}

/// Behind CloudFront the API Gateway address must not be a way around the CDN: with an origin
/// secret configured, a request without CloudFront's header (or with another value) is 403.
#[tokio::test]
async fn without_the_cdns_origin_secret_every_route_is_403() {
    const SECRET: &str = "0123456789abcdef0123456789abcdef0123";
    let s = Stack::with(|cfg| cfg.origin_secret = Some(SECRET.into())).await;
    for value in [None, Some("wrong"), Some(&SECRET[..31])] {
        for path in ["/api/config", "/api/images", "/api/nope"] {
            let mut req = s.http.get(s.url(path));
            if let Some(v) = value {
                req = req.header(fitbox_presign::ORIGIN_SECRET_HEADER, v);
            }
            let r = Resp::read(req.send().await.expect("request")).await;
            r.assert_error(403, "forbidden");
        }
    }
    let r = Resp::read(
        s.http
            .get(s.url("/api/config"))
            .header(fitbox_presign::ORIGIN_SECRET_HEADER, SECRET)
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    s.stop().await;
}

/// 200 ticket requests from one address in a second: the first minute's allowance (120) is
/// served, the rest get `429 rate_limited` with `Retry-After`, and another address is still
/// served. Behind CloudFront and API Gateway the address is the one CloudFront appended to
/// `X-Forwarded-For`, not what the client wrote there itself. A batch counts one per file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_requests_are_limited_per_client_address() {
    let s = Stack::with(|cfg| {
        cfg.client_address = fitbox_presign::limit::ClientAddress::ForwardedFor(2);
    })
    .await;
    let ticket = |xff: &'static str| {
        let (http, url) = (s.http.clone(), s.url("/api/uploads"));
        async move {
            let r = http
                .post(url)
                .header("x-forwarded-for", xff)
                .json(&json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 3}))
                .send()
                .await
                .expect("request");
            Resp::read(r).await
        }
    };
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..200 {
        // The client claims to be 198.51.100.7; CloudFront appended its real address.
        set.spawn(ticket("198.51.100.7, 203.0.113.1, 130.176.0.1"));
    }
    let (mut served, mut limited) = (0, 0);
    while let Some(r) = set.join_next().await {
        let r = r.expect("join");
        match r.status.as_u16() {
            201 => served += 1,
            429 => {
                r.assert_error(429, "rate_limited");
                let wait: u64 = r.headers["retry-after"]
                    .to_str()
                    .expect("ascii")
                    .parse()
                    .expect("seconds");
                assert!((1..=60).contains(&wait), "{wait}");
                limited += 1;
            }
            other => panic!("{other}: {}", r.body),
        }
    }
    eprintln!(
        "200 requests in {:?}: {served} served, {limited} limited",
        started.elapsed()
    );
    assert!((120..=125).contains(&served), "{served}");
    assert_eq!(served + limited, 200);
    // Another address (same claimed one in front) is served.
    let r = ticket("198.51.100.7, 203.0.113.2, 130.176.0.1").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A batch counts per file: 100 files, then 21 single requests exhaust 120.
    let batch: Vec<Value> = (0..100)
        .map(|i| json!({"filename": format!("{i}.jpg"), "content_type": "image/jpeg", "size": 3}))
        .collect();
    let r = Resp::read(
        s.http
            .post(s.url("/api/uploads"))
            .header("x-forwarded-for", "203.0.113.3, 130.176.0.1")
            .json(&batch)
            .send()
            .await
            .expect("batch"),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mut last = StatusCode::CREATED;
    for _ in 0..21 {
        last = ticket("203.0.113.3, 130.176.0.1").await.status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    s.stop().await;
}
