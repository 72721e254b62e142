//! Style rules rustfmt does not enforce: no line of Rust source over 100 columns, comments and
//! string literals included (rustfmt wraps code only).

use std::path::{Path, PathBuf};

/// Longest line, in characters.
const MAX_COLUMNS: usize = 100;

/// Every `.rs` file of the repository, outside build output and installed tools.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a source folder") {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if path.is_dir() {
            let skip = matches!(
                name.as_deref(),
                Some("target" | "node_modules" | ".tools" | ".git" | "dist" | "corpus")
            );
            if !skip {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `path:line: N columns` for each line over the limit.
fn long_lines(path: &Path, text: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.chars().count() > MAX_COLUMNS)
        .map(|(n, l)| {
            format!(
                "{}:{}: {} columns",
                path.display(),
                n + 1,
                l.chars().count()
            )
        })
        .collect()
}

#[test]
fn no_rust_line_is_over_100_columns() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 50, "found only {} Rust files", files.len());
    let long: Vec<String> = files
        .iter()
        .flat_map(|f| long_lines(f, &std::fs::read_to_string(f).expect("read source")))
        .collect();
    assert!(
        long.is_empty(),
        "lines over {MAX_COLUMNS} columns:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_check_counts_characters_not_bytes() {
    let p = Path::new("x.rs");
    assert!(long_lines(p, &"é".repeat(100)).is_empty());
    assert_eq!(
        long_lines(p, &format!("ok\n{}", "x".repeat(101))),
        ["x.rs:2: 101 columns"]
    );
}
