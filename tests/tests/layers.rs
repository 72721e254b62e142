//! fitbox-core's module graph goes one way (issue #17): each module of the pipeline may use only
//! the modules below it, so codecs never call into the resampler or colour, and nothing calls
//! back into the crate root. Read from the sources, leaving out everything from `mod tests` on
//! (tests may reach across), so a new `use` that makes a circle fails here, in `make test`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each top-level module of fitbox-core and what it may use (besides itself and `error`).
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("pixels", &[]),
    ("orient", &["pixels"]),
    ("guard", &[]),
    ("fit", &["orient", "pixels"]),
    ("codecs", &["pixels", "fit", "guard"]),
    ("resize", &["pixels", "fit"]),
    ("color", &["pixels"]),
    ("encode", &[]),
    (
        "lib",
        &[
            "pixels", "orient", "guard", "fit", "codecs", "resize", "color", "encode",
        ],
    ),
];

/// What `crate::NAME` means when NAME is not a module: an item of the crate root (`lib`), or a
/// re-export from another crate (not part of the graph).
const ROOT_ITEMS: &[&str] = &[
    "Stage",
    "SourceInfo",
    "Preview",
    "Thumbnail",
    "Steps",
    "probe",
    "preview",
    "thumbnail",
    "preview_observed",
    "thumbnail_observed",
    "sha256_hex",
];
const REEXPORTS: &[&str] = &[
    "Error",
    "Format",
    "Limits",
    "Options",
    "OutputFormat",
    "DEFAULT_BOX",
    "DEFAULT_QUALITY",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read core/src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`codecs/jpeg/mod.rs` -> `codecs`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a path");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// The modules a file's code uses through `crate::` paths (including `use crate::{a, b::c}`).
fn uses(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').expect("closed use group");
            group[..end]
                .split(',')
                .map(|n| n.trim().split("::").next().unwrap_or("").trim())
                .collect()
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            vec![&rest[..end]]
        };
        for name in names.into_iter().filter(|n| !n.is_empty()) {
            if REEXPORTS.contains(&name) {
                if name == "Error" {
                    found.insert("error".to_string());
                }
            } else if ROOT_ITEMS.contains(&name) {
                found.insert("lib".to_string());
            } else {
                found.insert(name.to_string());
            }
        }
    }
    found
}

#[test]
fn core_modules_use_only_the_modules_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 10, "core/src has {} files", files.len());
    let mut broken = Vec::new();
    let mut seen = BTreeSet::new();
    for file in &files {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let module = module_of(&src, file);
        seen.insert(module.clone());
        let text = std::fs::read_to_string(file).expect("read source");
        let code = text.split("\nmod tests").next().unwrap_or("");
        let allowed = ALLOWED
            .iter()
            .find(|(m, _)| *m == module)
            .unwrap_or_else(|| panic!("{module} is not in ALLOWED: place it in the graph"))
            .1;
        for used in uses(code) {
            if used != module && used != "error" && !allowed.contains(&used.as_str()) {
                broken.push(format!("{} uses crate::{used}", file.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "modules reaching up or sideways:\n{}",
        broken.join("\n")
    );
    let listed: BTreeSet<String> = ALLOWED.iter().map(|(m, _)| m.to_string()).collect();
    assert_eq!(seen, listed, "every module of ALLOWED exists, and no other");
}

#[test]
fn the_check_sees_a_circle() {
    // What the decoder did before the split: it called the resampler and colour itself.
    let old = "use crate::resize::RowShrinker;\nlet c = crate::color::vp8_yuv_to_rgb(y, u, v);";
    let found = uses(old);
    assert!(
        found.contains("resize") && found.contains("color"),
        "{found:?}"
    );
    assert_eq!(
        uses("use crate::{Error, Format, Limits};\nuse crate::pixels::{Decoded, Layout};"),
        ["error", "pixels"].map(String::from).into()
    );
    assert_eq!(uses("crate::Steps"), ["lib"].map(String::from).into());
}
