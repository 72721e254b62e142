//! fitbox-tests: cross-crate tests live in `tests/` (the template security test) and browser
//! end-to-end tests in `e2e/` (playwright-core against a real `fitbox serve`).
//!
//! The library holds what the other crates' tests share (a dev-dependency of each): where the
//! shared test images are.

use std::path::PathBuf;

/// The shared test images (`photos/`, `edge/`, `MANIFEST.md`): `$FITBOX_TESTDATA`, else
/// `shared/testdata` beside the repository. Panics, naming the place and the variable, when it
/// is missing: tests that need real images fail loudly instead of skipping.
pub fn testdata() -> PathBuf {
    let dir = std::env::var_os("FITBOX_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/testdata"
            ))
        });
    assert!(
        dir.join("MANIFEST.md").is_file()
            && dir.join("photos").is_dir()
            && dir.join("edge").is_dir(),
        "test data not found at {} (set FITBOX_TESTDATA to the shared/testdata folder holding \
         MANIFEST.md, photos/ and edge/)",
        dir.display()
    );
    dir
}

/// Bytes of a test-data file, e.g. `edge/sharp_truncated.jpg`; panics naming the file.
pub fn read(rel: &str) -> Vec<u8> {
    let path = testdata().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read test data {}: {e}", path.display()))
}
