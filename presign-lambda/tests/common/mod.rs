//! Test harness: an in-process S3 server (fitbox-local-s3) and the presign router on ephemeral
//! loopback ports, a reqwest client, and a check of every response against `openapi.yaml`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use fitbox_api::keys;
use fitbox_local_s3::{Faults, LocalS3, ObjectCreated, Options};
use fitbox_presign::{router, AppState, Config};
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

pub(crate) const UPLOADS: &str = "fitbox-uploads";
pub(crate) const RESIZED: &str = "fitbox-resized";
pub(crate) const ALLOWED_ORIGIN: &str = "https://app.example";

/// A running local stack.
pub(crate) struct Stack {
    /// `http://127.0.0.1:PORT` of the presign API.
    pub api: String,
    pub http: reqwest::Client,
    /// SDK client on the same S3 (no retries), for fixtures and checks.
    pub s3: aws_sdk_s3::Client,
    pub faults: Arc<Faults>,
    pub cfg: Arc<Config>,
    /// Milliseconds added to the API's clock (the S3 server keeps real time).
    pub clock_offset_ms: Arc<AtomicI64>,
    pub local: LocalS3,
    pub events: UnboundedReceiver<ObjectCreated>,
    /// Every CDN invalidation the API asked for: its paths.
    pub invalidations: Arc<Mutex<Vec<Vec<String>>>>,
    server: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Stack {
    pub(crate) async fn start() -> Stack {
        Stack::with(|_| {}).await
    }

    /// Start with a configuration changed by `tweak` (buckets, CORS origin preset).
    pub(crate) async fn with(tweak: impl FnOnce(&mut Config)) -> Stack {
        let dir = tempfile::tempdir().expect("temp dir");
        let faults = Arc::new(Faults::new(1));
        let mut opts = Options::new(dir.path());
        opts.buckets = vec![UPLOADS.into(), RESIZED.into()];
        opts.faults = Some(faults.clone());
        let (local, events) = LocalS3::start(opts).await.expect("local S3 starts");
        let mut cfg = Config::new(UPLOADS, RESIZED);
        cfg.cors_origins = vec![ALLOWED_ORIGIN.into()];
        tweak(&mut cfg);
        let cfg = Arc::new(cfg);
        let offset = Arc::new(AtomicI64::new(0));
        let clock_offset = offset.clone();
        let invalidations = Arc::new(Mutex::new(Vec::new()));
        let state = AppState::new(local.client_no_retry(), cfg.clone())
            .expect("state")
            .with_cdn(RecordingCdn(invalidations.clone()))
            .with_clock(move || {
                let off = clock_offset.load(Ordering::SeqCst);
                let now = SystemTime::now();
                if off >= 0 {
                    now + Duration::from_millis(off.unsigned_abs())
                } else {
                    now - Duration::from_millis(off.unsigned_abs())
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = router(state);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Stack {
            api: format!("http://{addr}"),
            http: reqwest::Client::new(),
            s3: local.client_no_retry(),
            faults,
            cfg,
            clock_offset_ms: offset,
            local,
            events,
            invalidations,
            server,
            _dir: dir,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    /// Send a request; `body` is `(content type, bytes)`.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Resp {
        let mut req = self.http.request(method, self.url(path));
        if let Some((ct, bytes)) = body {
            req = req.header(CONTENT_TYPE, ct).body(bytes);
        }
        Resp::read(req.send().await.expect("request")).await
    }

    pub(crate) async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Resp {
        self.send(
            Method::POST,
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    /// `POST /api/uploads` for one file; asserts 201 and returns the ticket.
    pub(crate) async fn ticket(&self, filename: &str, content_type: &str, size: u64) -> Value {
        let r = self
            .post_json(
                "/api/uploads",
                &json!({"filename": filename, "content_type": content_type, "size": size}),
            )
            .await;
        r.documented("POST", "/api/uploads");
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.json
    }

    /// PUT `bytes` to a ticket's URL with its headers (content-length follows from the body).
    pub(crate) async fn put_ticket(&self, ticket: &Value, bytes: Vec<u8>) -> reqwest::Response {
        let url = ticket["url"].as_str().expect("url");
        let mut req = self.http.put(url).body(bytes);
        for (k, v) in ticket["headers"].as_object().expect("headers") {
            if k != "content-length" {
                req = req.header(k.as_str(), v.as_str().expect("header value"));
            }
        }
        req.send().await.expect("PUT")
    }

    /// What the resizer leaves for a finished upload: a thumbnail at
    /// `images/{id}/{w}x{h}.jpg` with its metadata, the original deleted.
    pub(crate) async fn simulate_resized(&self, id: &str, w: u32, h: u32, body: &[u8]) -> String {
        let key = keys::image_key(&keys::upload_key(id), w, h, "jpg").expect("key");
        self.s3
            .put_object()
            .bucket(RESIZED)
            .key(&key)
            .content_type("image/jpeg")
            .metadata(keys::meta::WIDTH, w.to_string())
            .metadata(keys::meta::HEIGHT, h.to_string())
            .metadata(keys::meta::PIXEL_SHA256, pixel_sha(id))
            .body(body.to_vec().into())
            .send()
            .await
            .expect("put thumbnail");
        self.s3
            .delete_object()
            .bucket(UPLOADS)
            .key(keys::upload_key(id))
            .send()
            .await
            .expect("delete original");
        key
    }

    /// What the resizer leaves for a refused upload: the original moved to `rejected/{id}`
    /// with `reason` and `reason-code` metadata.
    pub(crate) async fn simulate_rejected(&self, id: &str, code: &str, reason: &str) {
        self.s3
            .copy_object()
            .bucket(UPLOADS)
            .copy_source(format!("{UPLOADS}/{}", keys::upload_key(id)))
            .key(format!("{}{id}", keys::REJECTED_PREFIX))
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .metadata(keys::meta::REASON, reason)
            .metadata(keys::meta::REASON_CODE, code)
            .send()
            .await
            .expect("copy to rejected/");
        self.s3
            .delete_object()
            .bucket(UPLOADS)
            .key(keys::upload_key(id))
            .send()
            .await
            .expect("delete original");
    }

    pub(crate) async fn stop(self) {
        self.server.abort();
        self.local.shutdown().await;
    }
}

/// A CDN that records what it is asked to invalidate.
struct RecordingCdn(Arc<Mutex<Vec<Vec<String>>>>);

impl fitbox_presign::CdnInvalidator for RecordingCdn {
    fn invalidate<'a>(
        &'a self,
        paths: Vec<String>,
        _reference: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        self.0.lock().expect("lock").push(paths);
        Box::pin(async { Ok(()) })
    }
}

/// A deterministic 64-hex "pixel hash" for a fixture id.
pub(crate) fn pixel_sha(id: &str) -> String {
    format!("{:0>64}", id)
}

/// A response, read whole.
pub(crate) struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// The body as JSON (`Null` if it is not JSON).
    pub json: Value,
}

impl Resp {
    pub(crate) async fn read(r: reqwest::Response) -> Resp {
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.text().await.expect("body");
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            json,
        }
    }

    pub(crate) fn content_type(&self) -> &str {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Assert this is the JSON error `{"error": {"code", "message"}}` with `status` and `code`,
    /// and that the error body matches the document's `ErrorBody`.
    pub(crate) fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.content_type(), "application/json", "{}", self.body);
        assert_eq!(self.json["error"]["code"], code, "body: {}", self.body);
        let msg = self.json["error"]["message"].as_str().unwrap_or("");
        assert!(!msg.is_empty(), "error message is empty: {}", self.body);
        validate(&schema_ref("ErrorBody"), &self.json);
    }

    /// Assert the document lists this status for `method template` and the body matches the
    /// schema it gives.
    pub(crate) fn documented(&self, method: &str, template: &str) {
        let schema = response_schema(method, template, self.status.as_u16());
        assert_eq!(self.content_type(), "application/json", "{}", self.body);
        validate(&schema, &self.json);
    }
}

/// `openapi.yaml` as JSON.
pub(crate) fn doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        serde_norway::from_str(include_str!("../../openapi.yaml")).expect("openapi.yaml parses")
    })
}

fn resolve(v: &Value) -> &Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let ptr = r.strip_prefix('#').expect("local $ref");
            doc()
                .pointer(ptr)
                .unwrap_or_else(|| panic!("dangling $ref {r}"))
        }
        None => v,
    }
}

/// The JSON schema of the documented response, panicking if the status is not documented.
pub(crate) fn response_schema(method: &str, template: &str, status: u16) -> Value {
    let op = doc()["paths"][template][method.to_ascii_lowercase()].clone();
    assert!(op.is_object(), "{method} {template} is not in openapi.yaml");
    let resp = op["responses"]
        .get(status.to_string())
        .unwrap_or_else(|| panic!("{method} {template} -> {status} is not in openapi.yaml"));
    resolve(resp)["content"]["application/json"]["schema"].clone()
}

pub(crate) fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// Validate `instance` against `schema` (which may `$ref` the document's components), formats
/// included.
pub(crate) fn validate(schema: &Value, instance: &Value) {
    let errors = schema_errors(schema, instance);
    assert!(
        errors.is_empty(),
        "response does not match openapi.yaml: {errors:?}\n{instance}"
    );
}

/// What is wrong with `instance` under `schema` (empty: valid).
pub(crate) fn schema_errors(schema: &Value, instance: &Value) -> Vec<String> {
    let mut root = schema.clone();
    let obj = root.as_object_mut().expect("schema is an object");
    obj.insert("components".into(), doc()["components"].clone());
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .expect("schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}
