//! Shared helpers: an embedded S3 server with the two buckets, test data, S3 look-ups.
#![allow(dead_code)]

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use fitbox_local_s3::{Faults, LocalS3, ObjectCreated, Options};
use fitbox_resize::Config;
use tokio::sync::mpsc::UnboundedReceiver;

pub(crate) const UPLOAD_BUCKET: &str = "fitbox-uploads";
pub(crate) const RESIZED_BUCKET: &str = "fitbox-resized";

/// The shared test data directory (`FITBOX_TESTDATA` overrides). Panics when missing: these
/// tests must never pass by skipping.
pub(crate) use fitbox_tests::testdata;

pub(crate) use fitbox_tests::read;

/// Every file in `photos/`, sorted by name.
pub(crate) fn photos() -> Vec<(String, Vec<u8>)> {
    let dir = testdata().join("photos");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert!(
        names.len() >= 5,
        "expected the photo set in {}",
        dir.display()
    );
    names
        .into_iter()
        .map(|n| {
            let bytes = read(&format!("photos/{n}"));
            (n, bytes)
        })
        .collect()
}

pub(crate) struct Env {
    pub dir: tempfile::TempDir,
    pub s3: LocalS3,
    pub events: UnboundedReceiver<ObjectCreated>,
    pub faults: Arc<Faults>,
    pub client: aws_sdk_s3::Client,
    pub cfg: Config,
}

pub(crate) async fn start() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = Arc::new(Faults::new(3));
    let mut opts = Options::new(dir.path().join("s3"));
    opts.buckets = vec![UPLOAD_BUCKET.into(), RESIZED_BUCKET.into()];
    opts.faults = Some(faults.clone());
    let (s3, events) = LocalS3::start(opts).await.expect("start local S3");
    let client = s3.client();
    let mut cfg = Config::new(UPLOAD_BUCKET, RESIZED_BUCKET);
    cfg.s3_endpoint = Some(s3.endpoint());
    Env {
        dir,
        s3,
        events,
        faults,
        client,
        cfg,
    }
}

impl Env {
    /// Upload an original as the presigned PUT would (type and file name metadata).
    pub(crate) async fn upload(&self, key: &str, bytes: &[u8], filename: Option<&str>) {
        let mut req = self
            .client
            .put_object()
            .bucket(UPLOAD_BUCKET)
            .key(key)
            .content_type("image/jpeg")
            .body(ByteStream::from(bytes.to_vec()));
        if let Some(f) = filename {
            req = req.metadata("filename", f);
        }
        req.send().await.expect("upload original");
    }

    pub(crate) async fn get(&self, bucket: &str, key: &str) -> Option<Object> {
        match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => {
                let content_type = o.content_type().map(str::to_owned);
                let cache_control = o.cache_control().map(str::to_owned);
                let metadata = o.metadata().cloned().unwrap_or_default();
                let bytes = o.body.collect().await.expect("body").into_bytes().to_vec();
                Some(Object {
                    bytes,
                    content_type,
                    cache_control,
                    metadata,
                })
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => None,
            Err(e) => panic!("GET {bucket}/{key}: {e:?}"),
        }
    }

    pub(crate) async fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .unwrap_or_else(|e| panic!("list {bucket}/{prefix}: {e:?}"));
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }
}

#[derive(Debug)]
pub(crate) struct Object {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub metadata: std::collections::HashMap<String, String>,
}

impl Object {
    pub(crate) fn meta(&self, name: &str) -> Option<&str> {
        self.metadata.get(name).map(String::as_str)
    }
}

/// The AWS documented "S3 Put" sample event (Lambda console test template), verbatim.
pub(crate) const S3_PUT_SAMPLE: &str = include_str!("../fixtures/s3-put.json");

/// The sample event with one record per `(bucket, key as S3 sends it)`.
pub(crate) fn s3_put_event(records: &[(&str, &str)]) -> serde_json::Value {
    let mut event: serde_json::Value = serde_json::from_str(S3_PUT_SAMPLE).expect("sample JSON");
    let template = event["Records"][0].clone();
    let list: Vec<serde_json::Value> = records
        .iter()
        .map(|(bucket, raw_key)| {
            let mut r = template.clone();
            r["s3"]["bucket"]["name"] = (*bucket).into();
            r["s3"]["bucket"]["arn"] = format!("arn:aws:s3:::{bucket}").into();
            r["s3"]["object"]["key"] = (*raw_key).into();
            r
        })
        .collect();
    event["Records"] = list.into();
    event
}

/// The Lambda's JSON `"resized"` log line, found in a log of many lines.
pub(crate) struct ResizedLine {
    pub line: String,
    pub fields: serde_json::Value,
}

impl ResizedLine {
    /// The first JSON line of `log` that reports a resize; panics, showing the log, when none.
    pub(crate) fn find(log: &str) -> Self {
        let line = log
            .lines()
            .find(|l| l.starts_with('{') && l.contains("\"resized\""))
            .unwrap_or_else(|| panic!("no JSON \"resized\" log line in:\n{log}"));
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
        ResizedLine {
            line: line.to_owned(),
            fields: v["fields"].clone(),
        }
    }

    /// A numeric field; panics when it is missing or not a number.
    pub(crate) fn num(&self, name: &str) -> f64 {
        self.fields[name]
            .as_f64()
            .unwrap_or_else(|| panic!("{name} missing or not a number in {}", self.line))
    }
}
