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

/// One PNG chunk: length, type, data, CRC-32 of type and data. For tests that build PNGs byte
/// by byte (hostile or unusual chunks an encoder would not write).
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let len = u32::try_from(data.len()).expect("PNG chunk over 4 GiB");
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    let mut c = Vec::with_capacity(data.len() + 12);
    c.extend_from_slice(&len.to_be_bytes());
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    c.extend_from_slice(&crc.finalize().to_be_bytes());
    c
}
