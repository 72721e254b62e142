//! Request fuzzing: `fuzz-api.sh` runs schemathesis (from PyPI, bounded) against `openapi.yaml`
//! and this test's server (the router over an in-process S3 with a few thumbnails, a pending and
//! a rejected upload in it). Any 5xx or any response that breaks the document fails the test.
//! python3 is required: without it the script exits non-zero and this test fails loudly.

mod common;

use std::process::Command;

use common::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_errors_or_undocumented_answers() {
    // The ticket limit is tested in access.rs; here it would only cut the exploration short.
    let stack = Stack::with(|cfg| cfg.rate_limit_per_minute = 0).await;
    // Something in every state, so answers carry real entries.
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        let ticket = stack.ticket(&format!("{id}.jpg"), "image/jpeg", 3).await;
        let id = ticket["id"].as_str().expect("id").to_string();
        assert!(stack
            .put_ticket(&ticket, b"abc".to_vec())
            .await
            .status()
            .is_success());
        match i {
            0 => {
                stack.simulate_resized(&id, 40, 30, b"thumb").await;
            }
            1 => {
                stack
                    .simulate_rejected(&id, "truncated", "data is truncated")
                    .await
            }
            _ => {}
        }
    }

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-api.sh");
    let api = stack.api.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(script)
            .args(["--url", &api, "--max-examples", "30", "--seed", "1"])
            .output()
    })
    .await
    .expect("join")
    .expect("run bash fuzz-api.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "fuzz-api.sh failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("fuzz-api: "))
        .unwrap_or_else(|| panic!("no summary line:\n{stdout}"));
    let requests: u64 = summary
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad summary: {summary}"));
    eprintln!("{summary}");
    assert!(
        requests >= 100,
        "schemathesis made only {requests} requests:\n{stdout}"
    );
    stack.stop().await;
}
