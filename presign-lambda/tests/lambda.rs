//! The Lambda binary end to end: it is started as a child process against a fake Lambda Runtime
//! API (the HTTP protocol a real Lambda host speaks) and configured only through environment
//! variables, like in AWS. API Gateway (HTTP API, payload 2.0) events go in; the router's
//! answers, served over the in-process S3, come out.

mod common;

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use common::{Stack, RESIZED, UPLOADS};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};

#[derive(Clone)]
struct Runtime {
    events: Arc<Mutex<VecDeque<(String, Value)>>>,
    more: Arc<Notify>,
    answers: mpsc::UnboundedSender<(String, String, Value)>,
}

async fn next(State(rt): State<Runtime>) -> impl IntoResponse {
    loop {
        let popped = rt.events.lock().ok().and_then(|mut q| q.pop_front());
        if let Some((id, event)) = popped {
            let mut h = HeaderMap::new();
            h.insert("lambda-runtime-aws-request-id", id.parse().expect("hv"));
            h.insert(
                "lambda-runtime-deadline-ms",
                "4102444800000".parse().expect("hv"),
            );
            h.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:fitbox-presign"
                    .parse()
                    .expect("hv"),
            );
            return (StatusCode::OK, h, event.to_string());
        }
        rt.more.notified().await;
    }
}

async fn answer(
    State(rt): State<Runtime>,
    Path((id, kind)): Path<(String, String)>,
    body: String,
) -> StatusCode {
    let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let _ = rt.answers.send((id, kind, v));
    StatusCode::ACCEPTED
}

async fn init_error(State(rt): State<Runtime>, body: String) -> StatusCode {
    let _ = rt
        .answers
        .send(("init".into(), "error".into(), Value::String(body)));
    StatusCode::ACCEPTED
}

fn http_api_event(method: &str, path: &str, query: &str, body: Option<&str>) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "content-type": "application/json"
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "test"
            },
            "requestId": "r1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "29/Nov/2026:00:00:00 +0000",
            "timeEpoch": 1795910400000u64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_binary_serves_api_gateway_events_with_the_same_router() {
    let stack = Stack::start().await;
    stack
        .simulate_resized(
            &fitbox_api::keys::new_id(1_795_910_400_000, 3),
            40,
            30,
            b"t",
        )
        .await;

    // Configured as in AWS: the default mode (signed-in uploads) with upload keys, and the
    // client address taken as the template takes it (`cloudfront`), 2 tickets a minute.
    let key = fitbox_presign::auth::new_key("ci", fitbox_presign::Role::Uploader).expect("key");
    let other = fitbox_presign::auth::new_key("ci2", fitbox_presign::Role::Uploader).expect("key");

    let (tx, mut answers) = mpsc::unbounded_channel();
    let rt = Runtime {
        events: Arc::new(Mutex::new(VecDeque::new())),
        more: Arc::new(Notify::new()),
        answers: tx,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(rt.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let runtime_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let child = Command::new(env!("CARGO_BIN_EXE_fitbox-presign"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "fitbox-presign")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/fitbox-presign")
        .env("AWS_REGION", fitbox_local_s3::REGION)
        .env("AWS_ACCESS_KEY_ID", fitbox_local_s3::DEFAULT_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", fitbox_local_s3::DEFAULT_SECRET_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("FITBOX_UPLOAD_BUCKET", UPLOADS)
        .env("FITBOX_RESIZED_BUCKET", RESIZED)
        .env("FITBOX_BOX", "320x240")
        .env("FITBOX_S3_ENDPOINT", stack.local.endpoint())
        .env(
            "FITBOX_UPLOAD_KEYS",
            format!("{},{}", key.key.config_entry(), other.key.config_entry()),
        )
        .env("FITBOX_CLIENT_ADDRESS", "cloudfront")
        .env("FITBOX_RATE_LIMIT_PER_MINUTE", "2")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the lambda binary");
    let _child = Killed(child);

    let mut invoke = async |event: Value| -> Value {
        let id = format!("req-{}", rand_id());
        rt.events
            .lock()
            .expect("queue")
            .push_back((id.clone(), event));
        rt.more.notify_waiters();
        rt.more.notify_one();
        let (got_id, kind, body) = tokio::time::timeout(Duration::from_secs(30), answers.recv())
            .await
            .expect("the function answers within 30 s")
            .expect("channel open");
        assert_eq!(
            (got_id.as_str(), kind.as_str()),
            (id.as_str(), "response"),
            "{body}"
        );
        body
    };

    let r = invoke(http_api_event("GET", "/api/config", "", None)).await;
    assert_eq!(r["statusCode"], 200, "{r}");
    let body: Value = serde_json::from_str(r["body"].as_str().expect("body")).expect("json");
    assert_eq!(
        (body["box_width"].clone(), body["box_height"].clone()),
        (json!(320), json!(240))
    );

    // Reads S3 through the endpoint from FITBOX_S3_ENDPOINT with env credentials.
    let r = invoke(http_api_event("GET", "/api/images", "limit=5", None)).await;
    assert_eq!(r["statusCode"], 200, "{r}");
    let page: Value = serde_json::from_str(r["body"].as_str().expect("body")).expect("json");
    assert_eq!(page["images"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["images"][0]["width"], 40);

    let upload = Some(r#"{"filename":"a.jpg","content_type":"image/jpeg","size":3}"#);
    // Without a caller: 401 with the scheme to use.
    let r = invoke(http_api_event("POST", "/api/uploads", "", upload)).await;
    assert_eq!(r["statusCode"], 401, "{r}");
    let www = r["headers"]["www-authenticate"]
        .as_str()
        .unwrap_or_default();
    assert!(www.starts_with("Bearer"), "{r}");
    // A ticket request as it reaches the function through CloudFront and the HTTP API:
    // CloudFront appended the viewer's address, the gateway its own source (192.0.2.1, the
    // event's requestContext.http.sourceIp) after it; anything before is the client's own.
    let ticket_from = |secret: &str, xff: &str| {
        let mut event = http_api_event("POST", "/api/uploads", "", upload);
        event["headers"]["authorization"] = json!(format!("Bearer {secret}"));
        event["headers"]["x-forwarded-for"] = json!(xff);
        event
    };
    let r = invoke(ticket_from(&key.secret, "203.0.113.9, 192.0.2.1")).await;
    assert_eq!(r["statusCode"], 201, "{r}");
    let ticket_response = r;
    let r = invoke(ticket_from(&key.secret, "10.0.0.1, 203.0.113.9, 192.0.2.1")).await;
    assert_eq!(r["statusCode"], 201, "{r}");
    // The viewer's third ticket this minute: 429 whatever it writes in front, and whichever
    // key it holds (the other key's own allowance is untouched).
    let r = invoke(ticket_from(
        &other.secret,
        "10.0.0.2, 203.0.113.9, 192.0.2.1",
    ))
    .await;
    assert_eq!(r["statusCode"], 429, "{r}");
    assert!(r["headers"]["retry-after"].as_str().is_some(), "{r}");
    // Another viewer is served, even one that writes the first viewer's address in front.
    let r = invoke(ticket_from(
        &other.secret,
        "203.0.113.9, 198.51.100.4, 192.0.2.1",
    ))
    .await;
    assert_eq!(r["statusCode"], 201, "{r}");
    let r = ticket_response;
    let ticket: Value = serde_json::from_str(r["body"].as_str().expect("body")).expect("json");
    let put = stack
        .http
        .put(ticket["url"].as_str().expect("url"))
        .header("content-type", "image/jpeg")
        .header(
            "x-amz-meta-filename",
            ticket["headers"]["x-amz-meta-filename"]
                .as_str()
                .expect("meta"),
        )
        .header(
            "x-amz-meta-owner",
            ticket["headers"]["x-amz-meta-owner"]
                .as_str()
                .expect("owner"),
        )
        .header("if-none-match", "*")
        .body(b"abc".to_vec())
        .send()
        .await
        .expect("PUT");
    assert_eq!(put.status(), reqwest::StatusCode::OK);

    let r = invoke(http_api_event("GET", "/api/nope", "", None)).await;
    assert_eq!(r["statusCode"], 404, "{r}");
    let body: Value = serde_json::from_str(r["body"].as_str().expect("body")).expect("json");
    assert_eq!(body["error"]["code"], "not_found");
    stack.stop().await;
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}
