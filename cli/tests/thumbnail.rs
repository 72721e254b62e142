//! `fitbox thumbnail` as a user runs it: the real binary on files of the shared test corpus
//! (`../shared/testdata`). What it writes must be exactly `fitbox_core::thumbnail`'s output for
//! the same options, its `--json` and one-line summaries must describe that file, and on bad
//! input or bad flags it must write nothing at all.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fitbox_core::{thumbnail, Options, Thumbnail};
use fitbox_tests::{read, testdata};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_fitbox");

fn run(input: &Path, output: &Path, flags: &[&str]) -> Output {
    Command::new(BIN)
        .arg("thumbnail")
        .arg(input)
        .arg("-o")
        .arg(output)
        .args(flags)
        .output()
        .expect("run fitbox")
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "fitbox failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json_of(out: &Output) -> Value {
    ok(out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
    serde_json::from_str(&text).expect("JSON")
}

fn core(rel: &str, opts: &Options) -> Thumbnail {
    thumbnail(&read(rel), opts).expect("fitbox-core")
}

/// Every entry of a directory (the test's own temporary one).
fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn json_describes_the_source_and_the_file_written() {
    let dir = tempfile::tempdir().unwrap();
    // (file, source object expected, output format)
    let cases = [
        (
            "edge/Landscape_6.jpg",
            json!({"format": "jpeg", "width": 1200, "height": 1800, "orientation": 6}),
            "jpeg",
        ),
        (
            "photos/mde_nikon_p7000_orient6.webp",
            Value::Null, // checked against fitbox-core below
            "jpeg",
        ),
        (
            "edge/sharp_blackbug.png",
            json!({"format": "png", "width": 2048, "height": 1536, "orientation": 1}),
            "png",
        ),
        ("edge/vips_cogs.gif", Value::Null, "png"),
    ];
    for (rel, source, format) in cases {
        let out_file = dir.path().join(format!("{}.out", rel.replace('/', "_")));
        let v = json_of(&run(&testdata().join(rel), &out_file, &["--json"]));
        let want = core(rel, &Options::default());
        let s = &want.source;
        let from_core = json!({
            "format": s.format.id(),
            "width": s.width,
            "height": s.height,
            "orientation": s.orientation,
        });
        assert_eq!(v["source"], from_core, "{rel}");
        if !source.is_null() {
            assert_eq!(v["source"], source, "{rel}");
        }
        let written = std::fs::read(&out_file).expect("output written");
        let o = &v["output"];
        assert_eq!(o["format"], format, "{rel}");
        assert_eq!(
            o["media_type"],
            format!("image/{format}"),
            "{rel}: media type"
        );
        assert_eq!(
            o["bytes"].as_u64(),
            Some(written.len() as u64),
            "{rel}: output.bytes is the file's size"
        );
        assert_eq!(
            (o["width"].as_u64(), o["height"].as_u64()),
            (Some(want.width as u64), Some(want.height as u64)),
            "{rel}"
        );
        assert_eq!(o["pixel_sha256"], want.pixel_sha256.as_str(), "{rel}");
        assert!(
            written == want.bytes,
            "{rel}: file differs from fitbox-core's"
        );
        let magic: &[u8] = if format == "png" {
            b"\x89PNG"
        } else {
            b"\xFF\xD8\xFF"
        };
        assert!(written.starts_with(magic), "{rel}: not a {format} file");
    }
}

#[test]
fn summary_is_one_line_naming_source_output_and_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let input = testdata().join("edge/Landscape_6.jpg");
    let out_file = dir.path().join("thumb.jpg");
    let out = run(&input, &out_file, &[]);
    ok(&out);
    let want = core("edge/Landscape_6.jpg", &Options::default());
    let size = std::fs::metadata(&out_file).unwrap().len();
    assert_eq!(size, want.bytes.len() as u64);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "{} -> {}: JPEG 1200x1800 (orientation 6) -> JPEG 400x267, {size} bytes, \
             pixels sha256 {}\n",
            input.display(),
            out_file.display(),
            want.pixel_sha256
        )
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Refused input, unreadable input and bad flags: non-zero exit, a message on stderr, and the
/// output path untouched: absent when it was absent (no temporary file left beside it either),
/// and an existing file keeps its content.
#[test]
fn bad_input_or_flags_write_nothing() {
    let good = testdata().join("edge/Landscape_1.jpg");
    let refused = [
        "edge/sharp_truncated.jpg",
        "edge/attsaver_broken_text.jpg",
        "edge/ljt_monkey12_12bit.jpg",
        "edge/pillow_broken.png",
        "edge/sharp_65536-uint32-limit.png",
    ];
    let mut runs: Vec<(String, PathBuf, Vec<&str>, Option<String>)> = refused
        .iter()
        .map(|rel| {
            let e = thumbnail(&read(rel), &Options::default()).expect_err(rel);
            (
                rel.to_string(),
                testdata().join(rel),
                vec![],
                Some(e.to_string()),
            )
        })
        .collect();
    runs.push((
        "missing input".into(),
        testdata().join("edge/no-such-file.jpg"),
        vec![],
        Some("no-such-file.jpg".into()),
    ));
    runs.push(("a directory".into(), testdata().join("edge"), vec![], None));
    for flags in [
        &["--quality", "0"][..],
        &["--quality", "101"],
        &["--box", "0x10"],
        &["--box", "5000x10"],
        &["--box", "wide"],
    ] {
        runs.push((format!("{flags:?}"), good.clone(), flags.to_vec(), None));
    }
    for (what, input, flags, message) in runs {
        let dir = tempfile::tempdir().unwrap();
        let out_file = dir.path().join("out.jpg");
        let out = run(&input, &out_file, &flags);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: exit status {}", out.status);
        assert!(!stderr.trim().is_empty(), "{what}: nothing on stderr");
        if let Some(m) = message {
            assert!(stderr.contains(&m), "{what}: stderr {stderr:?} lacks {m:?}");
        }
        assert!(out.stdout.is_empty(), "{what}: stdout {:?}", out.stdout);
        assert!(!out_file.exists(), "{what}: output written");
        assert!(
            entries(dir.path()).is_empty(),
            "{what}: left {:?}",
            entries(dir.path())
        );

        // An existing output file is left as it was.
        std::fs::write(&out_file, b"earlier thumbnail").unwrap();
        let out = run(&input, &out_file, &flags);
        assert!(!out.status.success(), "{what}");
        assert_eq!(
            std::fs::read(&out_file).unwrap(),
            b"earlier thumbnail",
            "{what}"
        );
        assert_eq!(entries(dir.path()), vec![out_file.clone()], "{what}");
    }
}

/// `--box`, `--enlarge` and `--quality` do what the README says, and the file is exactly
/// fitbox-core's with the same options.
#[test]
fn box_enlarge_and_quality_flags_change_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    let mut go = |rel: &str, flags: &[&str], opts: Options| -> (Value, Vec<u8>) {
        n += 1;
        let out_file = dir.path().join(format!("{n}.out"));
        let mut all = flags.to_vec();
        all.push("--json");
        let v = json_of(&run(&testdata().join(rel), &out_file, &all));
        let written = std::fs::read(&out_file).unwrap();
        let want = thumbnail(&read(rel), &opts).unwrap();
        assert!(
            written == want.bytes,
            "{rel} {flags:?}: differs from fitbox-core's"
        );
        assert_eq!(v["output"]["bytes"].as_u64(), Some(written.len() as u64));
        (v, written)
    };
    let dims = |v: &Value| {
        (
            v["output"]["width"].as_u64().unwrap(),
            v["output"]["height"].as_u64().unwrap(),
        )
    };
    let with = |f: &dyn Fn(&mut Options)| {
        let mut o = Options::default();
        f(&mut o);
        o
    };
    let landscape = "edge/Landscape_1.jpg"; // 1800x1200

    // --box: a wide box is limited by its height, a square one by the width; default 400x400.
    let (v, _) = go(landscape, &[], Options::default());
    assert_eq!(dims(&v), (400, 267));
    let (v, _) = go(
        landscape,
        &["--box", "300x100"],
        with(&|o| (o.box_width, o.box_height) = (300, 100)),
    );
    assert_eq!(dims(&v), (150, 100));
    let (v, _) = go(
        landscape,
        &["--box", "120"],
        with(&|o| (o.box_width, o.box_height) = (120, 120)),
    );
    assert_eq!(dims(&v), (120, 80));

    // --enlarge: a 256x192 image keeps its size unless asked, then fills the box.
    let small = "edge/sharp_with-alpha.png";
    let (v, _) = go(small, &[], Options::default());
    assert_eq!(dims(&v), (256, 192));
    let (v, _) = go(small, &["--enlarge"], with(&|o| o.enlarge = true));
    assert_eq!(dims(&v), (400, 300));
    let (v, _) = go(
        small,
        &["--enlarge", "--box", "512x512"],
        with(&|o| {
            o.enlarge = true;
            (o.box_width, o.box_height) = (512, 512)
        }),
    );
    assert_eq!(dims(&v), (512, 384));

    // --quality: the same pixels (the identity is taken before encoding), smaller files at
    // lower quality, and the quality really used (a default run equals --quality 85).
    let (q30, f30) = go(landscape, &["--quality", "30"], with(&|o| o.quality = 30));
    let (q85, f85) = go(landscape, &["--quality", "85"], Options::default());
    let (q95, f95) = go(landscape, &["--quality", "95"], with(&|o| o.quality = 95));
    let (_, fdefault) = go(landscape, &[], Options::default());
    assert_eq!(f85, fdefault);
    assert_eq!(q30["output"]["pixel_sha256"], q85["output"]["pixel_sha256"]);
    assert_eq!(q95["output"]["pixel_sha256"], q85["output"]["pixel_sha256"]);
    assert!(
        f30.len() < f85.len() && f85.len() < f95.len(),
        "sizes at quality 30/85/95: {} {} {}",
        f30.len(),
        f85.len(),
        f95.len()
    );
}

/// The exit status says what happened (`fitbox thumbnail --help` lists it): 3 for a refused
/// image, 2 only for clap's bad flags, 1 for files that cannot be read or written.
#[test]
fn exit_status_tells_refusal_from_bad_flags_and_io() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("t.out");
    let code = |input: &Path, flags: &[&str]| run(input, &out_file, flags).status.code();
    assert_eq!(
        code(&testdata().join("edge/sharp_truncated.jpg"), &[]),
        Some(3)
    );
    assert_eq!(
        code(&testdata().join("edge/pillow_broken.png"), &[]),
        Some(3)
    );
    let good = testdata().join("edge/Landscape_1.jpg");
    assert_eq!(code(&good, &["--quality", "0"]), Some(2));
    assert_eq!(
        code(&testdata().join("edge/no-such-file.jpg"), &[]),
        Some(1)
    );
    assert_eq!(code(&good, &[]), Some(0));
    let help = Command::new(BIN)
        .args(["thumbnail", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for want in [
        "Exit status: 0",
        "2 a bad flag",
        "3 the image was refused",
        "standard input",
    ] {
        assert!(help.contains(want), "--help lacks {want:?}: {help}");
    }
}

/// `-` reads the image from standard input and writes the thumbnail to standard output, with
/// the summary on standard error; the bytes are fitbox-core's.
#[test]
fn dash_means_standard_input_and_output() {
    use std::io::Write as _;
    use std::process::Stdio;
    let rel = "edge/Landscape_1.jpg";
    let mut child = Command::new(BIN)
        .args(["thumbnail", "-", "-o", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = read(rel);
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    ok(&out);
    let want = core(rel, &Options::default());
    assert!(
        out.stdout == want.bytes,
        "stdout is not fitbox-core's thumbnail"
    );
    let v: Value = serde_json::from_str(String::from_utf8_lossy(&out.stderr).trim()).unwrap();
    assert_eq!(v["output"]["pixel_sha256"], want.pixel_sha256.as_str());

    // Standard input over the size limit (25 MiB): refused with 3, naming the limit; the CLI
    // reads at most one byte past it.
    let limit = Options::default().limits.max_bytes as usize;
    let mut big = read(rel);
    big.resize(limit + 4096, 0);
    let mut child = Command::new(BIN)
        .args(["thumbnail", "-", "-o", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The CLI stops reading at the limit, so the end of this write may find the pipe closed.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&big);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.starts_with("fitbox: -: "), "{stderr}");
    assert!(
        stderr.contains(&limit.to_string()),
        "{stderr:?} does not name the limit {limit}"
    );
    assert!(
        out.stdout.is_empty(),
        "refused, yet wrote {} bytes",
        out.stdout.len()
    );
}

/// A name ending in .png, .jpg or .jpeg gets that format or nothing: never JPEG bytes in a
/// `.png` file. Other image extensions are refused too; other names take what is written.
#[test]
fn output_name_must_match_the_format_written() {
    let dir = tempfile::tempdir().unwrap();
    let opaque = testdata().join("edge/Landscape_1.jpg");
    let transparent = testdata().join("edge/sharp_blackbug.png");
    let refused = [
        (
            &opaque,
            "t.png",
            "the thumbnail is JPEG (the image is opaque), not .png",
        ),
        (&opaque, "t.WEBP", "not .webp"),
        (
            &transparent,
            "t.jpg",
            "the thumbnail is PNG (the image has transparency), not .jpg",
        ),
        (&transparent, "t.jpeg", "name the output .png"),
    ];
    for (input, name, message) in refused {
        let out_file = dir.path().join(name);
        let out = run(input, &out_file, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains(message),
            "{name}: {stderr:?} lacks {message:?}"
        );
        assert!(
            entries(dir.path()).is_empty(),
            "{name}: left {:?}",
            entries(dir.path())
        );
    }
    for (input, name, magic) in [
        (&opaque, "t.jpg", &b"\xFF\xD8\xFF"[..]),
        (&opaque, "t.JPEG", b"\xFF\xD8\xFF"),
        (&opaque, "t", b"\xFF\xD8\xFF"),
        (&opaque, "t.thumb", b"\xFF\xD8\xFF"),
        (&transparent, "t.png", b"\x89PNG"),
    ] {
        let out_file = dir.path().join(name);
        ok(&run(input, &out_file, &[]));
        assert!(
            std::fs::read(&out_file).unwrap().starts_with(magic),
            "{name}"
        );
    }
}
