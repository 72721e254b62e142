//! `openapi.yaml` and the README stay true to the code.

mod common;

use std::collections::BTreeSet;

use fitbox_presign::{ApiError, Endpoint};
use reqwest::Method;
use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn doc_operations() -> BTreeSet<(String, String)> {
    let paths = common::doc()["paths"].as_object().expect("paths");
    let mut ops = BTreeSet::new();
    for (path, item) in paths {
        for (method, _) in item.as_object().expect("path item") {
            assert!(METHODS.contains(&method.as_str()), "{path}: {method}");
            ops.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    ops
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let routes: BTreeSet<(String, String)> = Endpoint::ALL
        .iter()
        .map(|e| (e.method().to_string(), e.path().to_string()))
        .collect();
    assert_eq!(routes, doc_operations());
}

#[test]
fn every_ref_resolves_and_every_error_code_is_listed() {
    fn walk(v: &Value, refs: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    refs.push(r.clone());
                }
                m.values().for_each(|x| walk(x, refs));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, refs)),
            _ => {}
        }
    }
    let mut refs = Vec::new();
    walk(common::doc(), &mut refs);
    assert!(refs.len() > 10);
    for r in refs {
        let ptr = r.strip_prefix('#').expect("local ref");
        assert!(common::doc().pointer(ptr).is_some(), "dangling {r}");
    }
    let documented: BTreeSet<&str> = common::doc()
        .pointer("/components/schemas/ErrorBody/properties/error/properties/code/enum")
        .and_then(Value::as_array)
        .expect("code enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let codes: BTreeSet<&str> = ApiError::CODES.iter().copied().collect();
    assert_eq!(codes, documented);
}

#[test]
fn readme_lists_the_configuration_the_code_reads() {
    let readme = include_str!("../README.md");
    let table = include_str!("../src/config_table.md");
    assert!(
        readme.contains(table.trim()),
        "README.md must contain src/config_table.md verbatim"
    );
    for line in table.lines().skip(2) {
        let var = line.split('`').nth(1).expect("variable name");
        assert!(
            include_str!("../src/config.rs").contains(&format!("\"{var}\"")),
            "{var} is documented but not read"
        );
    }
}

#[test]
fn the_schema_check_refuses_what_the_document_does_not_allow() {
    use common::{response_schema, schema_errors, schema_ref};
    use serde_json::json;
    let err = schema_ref("ErrorBody");
    assert!(schema_errors(
        &err,
        &json!({"error": {"code": "not_found", "message": "m"}})
    )
    .is_empty());
    for bad in [
        json!({"error": {"code": "made_up", "message": "m"}}),
        json!({"error": {"code": "not_found"}}),
        json!({"error": "x"}),
        json!("text"),
    ] {
        assert!(!schema_errors(&err, &bad).is_empty(), "{bad}");
    }
    let page = response_schema("GET", "/api/images", 200);
    let entry = json!({"id": "a", "url": "http://x/y", "width": 1, "height": 1, "bytes": 0,
        "created": "2026-01-01T00:00:00.000Z", "can_delete": false});
    assert!(schema_errors(&page, &json!({"images": [entry], "next_cursor": null})).is_empty());
    let mut bad_date = entry.clone();
    bad_date["created"] = json!("yesterday");
    for bad in [
        json!({"images": [bad_date]}),
        json!({"images": [bad_date], "next_cursor": null}),
        json!({"images": [{"id": "a"}], "next_cursor": null}),
    ] {
        assert!(!schema_errors(&page, &bad).is_empty(), "{bad}");
    }
    let status = response_schema("GET", "/api/uploads/{id}", 200);
    let id = "0123456789abcdef0123456789a";
    assert!(schema_errors(&status, &json!({"id": id, "status": "pending"})).is_empty());
    assert!(!schema_errors(&status, &json!({"id": id, "status": "done"})).is_empty());
    assert!(!schema_errors(&status, &json!({"id": id, "status": "ready"})).is_empty());
}

/// Every documented operation answers through the real router (no route is missing), and
/// methods the document does not list for a path answer 405.
#[tokio::test]
async fn the_live_router_serves_exactly_the_documented_operations() {
    let stack = common::Stack::start().await;
    let ops = doc_operations();
    let paths: BTreeSet<&String> = ops.iter().map(|(_, p)| p).collect();
    for path in paths {
        let concrete = path.replace("{id}", "0123456789abcdef0123456789a");
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            let m = Method::from_bytes(method.as_bytes()).expect("method");
            let body = (method == "POST").then(|| ("application/json", b"{}".to_vec()));
            let r = stack.send(m, &concrete, body).await;
            let code = r.json["error"]["code"].as_str().unwrap_or("");
            assert_ne!(code, "not_found", "{method} {path}");
            if ops.contains(&(method.to_string(), path.clone())) {
                assert_ne!(code, "method_not_allowed", "{method} {path}");
                r.documented(method, path);
            } else {
                r.assert_error(405, "method_not_allowed");
            }
        }
    }
    stack.stop().await;
}

/// The API's own deadlines fit inside each other and inside the function's: an S3 call gives
/// up (503 storage_unavailable) before the request timeout answers 408, and both before the
/// presign function's timeout in `template.yaml` would make API Gateway answer with its own
/// error page instead of this API's JSON.
#[test]
fn timeouts_fit_inside_each_other_and_inside_the_function() {
    use std::time::Duration;
    let text = include_str!("../../template.yaml");
    let yaml: serde_norway::Value = serde_norway::from_str(text).expect("template.yaml");
    let function_secs = yaml["Resources"]["PresignFunction"]["Properties"]["Timeout"]
        .as_u64()
        .expect("PresignFunction Timeout in seconds");
    let function = Duration::from_secs(function_secs);
    assert!(
        fitbox_presign::S3_ATTEMPT_TIMEOUT < fitbox_presign::S3_OPERATION_TIMEOUT,
        "attempt within the call"
    );
    assert!(
        fitbox_presign::S3_OPERATION_TIMEOUT < fitbox_presign::REQUEST_TIMEOUT,
        "an S3 call ends before the request timeout"
    );
    assert!(
        fitbox_presign::auth::ISSUER_TIMEOUT < fitbox_presign::REQUEST_TIMEOUT,
        "a key fetch ends before the request timeout"
    );
    assert!(
        fitbox_presign::REQUEST_TIMEOUT + Duration::from_secs(1) < function,
        "the request timeout answers before the function ({function_secs} s) is stopped"
    );
}
