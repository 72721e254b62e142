//! The README's two-step curl upload, run exactly as written (bash, curl, jq) against a local
//! stack that takes uploads from callers only, with an upload key in `FITBOX_KEY`: ask for a
//! ticket, `curl -T` the file to its URL, ask for the status and a page.

mod common;

use std::process::Command;

use common::{Stack, UPLOADS};
use fitbox_api::keys;

fn readme_sh_block() -> String {
    let readme = include_str!("../README.md");
    let start = readme
        .find("## Upload with curl")
        .expect("README has an 'Upload with curl' section");
    let rest = &readme[start..];
    let open = rest.find("```sh\n").expect("a ```sh block") + "```sh\n".len();
    let len = rest[open..].find("```").expect("closing fence");
    rest[open..open + len].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_curl_upload_works_as_written() {
    let key = fitbox_presign::auth::new_key("script", fitbox_presign::Role::Uploader).expect("key");
    let line = key.key.config_entry();
    let stack = Stack::with(|cfg| {
        cfg.access_mode = fitbox_presign::AccessMode::SignedInUpload;
        cfg.upload_keys = fitbox_presign::auth::UploadKeys::parse(&line).expect("keys");
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("my photo.jpg"), &bytes).expect("write file");

    let script = format!(
        "set -euo pipefail\n{}\necho\necho \"ID=$ID\"\n",
        readme_sh_block()
    );
    let api = stack.api.clone();
    let cwd = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(cwd)
            .env("API", api)
            .env("FILE", "my photo.jpg")
            .env("FITBOX_KEY", &key.secret)
            .output()
    })
    .await
    .expect("join")
    .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");

    let id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ID="))
        .expect("ID printed");
    assert!(keys::is_valid_id(id), "{id}");
    assert!(
        stdout.contains(&format!("{{\"id\":\"{id}\",\"status\":\"pending\"}}")),
        "{stdout}"
    );
    assert!(stdout.contains("\"images\":[]"), "{stdout}");
    let head = stack
        .s3
        .head_object()
        .bucket(UPLOADS)
        .key(keys::upload_key(id))
        .send()
        .await
        .expect("the upload landed");
    assert_eq!(head.content_length(), Some(bytes.len() as i64));
    assert_eq!(head.content_type(), Some("image/jpeg"));
    let name = &head.metadata().expect("metadata")[keys::meta::FILENAME];
    assert_eq!(keys::decode_filename(name), "my photo.jpg");
    let owner = &head.metadata().expect("metadata")[keys::meta::OWNER];
    assert_eq!(keys::decode_filename(owner), "key:script");
    stack.stop().await;
}
