//! The resize function's "resized" log line, as the Lambda binary formats it (JSON). Its own test
//! binary: the subscriber is global, with no other test running beside it.

mod common;

use common::*;
use fitbox_resize::{process_record, Outcome};

/// A `tracing` writer into a shared buffer (the test reads the JSON lines back).
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The "resized" log line, formatted as the Lambda binary formats it (JSON), carries the
/// source size and dimensions, the output dimensions and size, and the time of every stage:
/// download, decode, resize, colour, encode (their sum within `thumbnail_ms`), upload, delete.
#[tokio::test]
async fn resized_log_line_has_sizes_dimensions_and_stage_times() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("fitbox_resize=info"))
        .with_current_span(false)
        .with_target(false)
        .with_writer(move || writer.clone())
        .finish();
    // The process's one subscriber: this test binary holds this test alone, so no other test
    // can reach the "resized" event first on a thread without it and leave its interest cached
    // as "never" (which a thread-local subscriber in resize.rs did, now and then).
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let env = start().await;
    let bytes = read("edge/Landscape_6.jpg"); // 1200x1800 stored, orientation 6
    let key = "uploads/logged.jpg";
    env.upload(key, &bytes, None).await;
    let out = process_record(&env.client, &env.cfg, UPLOAD_BUCKET, key)
        .await
        .expect("process");
    let Outcome::Resized(r) = out else {
        panic!("expected Resized, got {out:?}")
    };
    let want = fitbox_core::thumbnail(&bytes, &env.cfg.options).expect("core");

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).expect("UTF-8 logs");
    let resized = ResizedLine::find(&text);
    let (f, line) = (&resized.fields, &resized.line);
    let num = |name: &str| resized.num(name);
    assert_eq!(f["key"], key);
    assert_eq!(num("source_bytes"), bytes.len() as f64);
    assert_eq!(f["source_format"], "jpeg");
    assert_eq!(
        (num("source_width"), num("source_height")),
        (1200.0, 1800.0)
    );
    assert_eq!(
        (num("source_width"), num("source_height")),
        (want.source.width as f64, want.source.height as f64)
    );
    assert_eq!(num("orientation"), 6.0);
    assert_eq!((num("width"), num("height")), (400.0, 267.0));
    assert_eq!(
        (num("width"), num("height")),
        (want.width as f64, want.height as f64)
    );
    assert_eq!(num("output_bytes"), want.bytes.len() as f64);

    let stage = ["decode_ms", "resize_ms", "color_ms", "encode_ms"];
    let all = [
        "download_ms",
        "thumbnail_ms",
        "upload_ms",
        "delete_ms",
        "total_ms",
    ];
    for name in stage.iter().chain(&all) {
        let ms = num(name);
        assert!(
            ms.is_finite() && (0.0..60_000.0).contains(&ms),
            "{name} = {ms} in {line}"
        );
    }
    // Decoding a 2 MP JPEG, resampling it and encoding the result each take measurable time.
    for name in ["decode_ms", "resize_ms", "encode_ms"] {
        assert!(num(name) > 0.0, "{name} is 0 in {line}");
    }
    // The stages are parts of the thumbnail call, which is part of the whole record (each value
    // rounded to a microsecond).
    let stages: f64 = stage.iter().map(|n| num(n)).sum();
    assert!(
        stages <= num("thumbnail_ms") + 0.005,
        "stages {stages} > thumbnail_ms in {line}"
    );
    let parts = num("download_ms") + num("thumbnail_ms") + num("upload_ms") + num("delete_ms");
    assert!(
        parts <= num("total_ms") + 0.005,
        "parts {parts} > total_ms in {line}"
    );
    // The log says what the returned timings say.
    let ms = |d: std::time::Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    assert_eq!(num("decode_ms"), ms(r.timings.decode));
    assert_eq!(num("resize_ms"), ms(r.timings.resize));
    assert_eq!(num("color_ms"), ms(r.timings.color));
    assert_eq!(num("encode_ms"), ms(r.timings.encode));
    assert_eq!(num("thumbnail_ms"), ms(r.timings.thumbnail));
}
