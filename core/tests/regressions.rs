//! Inputs that once made the pipeline use too much memory (or crash, or hang), found by the
//! fuzzers (`scripts/fuzz.sh`) and the bound tests (`cli/tests/bounds.rs`). Each input is
//! committed under `tests/regressions/`; each must now finish quickly with a result or a clear
//! error, within a memory bound.

use fitbox_core::{Error, Options};

fn input(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/regressions/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Peak resident memory of this process so far, in MB (Linux; 0 elsewhere).
fn hwm_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// One test, run in order, so the process's memory high-water mark belongs to each step.
#[test]
fn regressions() {
    let opts = Options::default();

    // A 1x1 PNG whose iCCP chunk inflates to 160 MiB: the PNG decoder used to inflate it whole
    // (550 MB peak for a 256 MiB one). Now metadata is bounded to 64 MiB and the profile dropped.
    let before = hwm_mb();
    let t =
        fitbox_core::thumbnail(&input("png_iccp_bomb.png"), &opts).expect("the pixels are fine");
    assert_eq!((t.width, t.height), (1, 1));
    let grew = hwm_mb().saturating_sub(before);
    assert!(grew < 120, "iCCP bomb: peak memory grew by {grew} MB");

    // A GIF with a 10000x10000 logical screen (100 MP, inside the pixel limit) around a 1x1
    // frame: decoding composes an RGBA canvas (400 MB) and copies it (800 MB peak, over a 512 MB
    // Lambda). Now refused by the decode memory budget before any allocation.
    let before = hwm_mb();
    match fitbox_core::thumbnail(&input("gif_huge_screen.gif"), &opts) {
        Err(e @ Error::TooMuchMemory { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("10000x10000") && msg.contains("MB"), "{msg}");
            assert_eq!((e.code(), e.http_status()), ("too_much_memory", 413));
        }
        other => panic!("{other:?}"),
    }
    let grew = hwm_mb().saturating_sub(before);
    assert!(grew < 50, "huge GIF screen: peak memory grew by {grew} MB");
    // Smaller limits scale the budget: the same GIF under a 10 MP limit is refused as too big.
    let small = Options {
        limits: fitbox_core::Limits {
            max_pixels: 10_000_000,
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(matches!(
        fitbox_core::probe(&input("gif_huge_screen.gif"), &small.limits),
        Err(Error::TooManyPixels { .. })
    ));
}
