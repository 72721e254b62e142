//! Warm, in-process time per image: `cargo run --release -p fitbox-core --example warm -- [--runs N] FILE...`
//!
//! Reads each file once, runs the whole pipeline (`fitbox_core::thumbnail`, 400x400 box, JPEG q85)
//! once to warm up, then N times (default 7), and prints one line per file:
//! `file<TAB>median_ms<TAB>min_ms<TAB>out_bytes<TAB>WxH`. Single thread, like the server's worker.
//!
//! Set `FITBOX_WARM_STAGES=1` to also print a per-step breakdown (probe+decode, resize,
//! colour+orient, encode): a bare full-size decode, then `preview` (everything but encoding),
//! then `thumbnail`; differences of medians, so approximate.

use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Full-size decode with the decoder (and options) the pipeline uses: zune-jpeg to RGB for JPEG,
/// `image` for the rest.
fn decode_only(bytes: &[u8]) {
    use zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions};
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let o = DecoderOptions::default()
            .set_strict_mode(true)
            .jpeg_set_out_colorspace(ColorSpace::RGB);
        let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), o);
        std::hint::black_box(d.decode().expect("decode"));
    } else {
        std::hint::black_box(image::load_from_memory(bytes).expect("decode"));
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 7usize;
    if args.first().map(String::as_str) == Some("--runs") && args.len() > 1 {
        runs = args[1].parse().expect("--runs N");
        args.drain(..2);
    }
    let opts = fitbox_core::Options::default();
    let stages = std::env::var_os("FITBOX_WARM_STAGES").is_some();
    for path in &args {
        let bytes = std::fs::read(path).expect("read input");
        let warm = fitbox_core::thumbnail(&bytes, &opts).expect("thumbnail");
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let out = fitbox_core::thumbnail(&bytes, &opts).expect("thumbnail");
            times.push(t.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(out);
        }
        let min = times.iter().cloned().fold(f64::INFINITY, f64::min);
        let med = median(times);
        print!(
            "{path}\t{med:.1}\t{min:.1}\t{}\t{}x{}",
            warm.bytes.len(),
            warm.width,
            warm.height
        );
        if stages {
            let mut pre = Vec::with_capacity(runs);
            for _ in 0..runs {
                let t = Instant::now();
                std::hint::black_box(fitbox_core::preview(&bytes, &opts).expect("preview"));
                pre.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let pre = median(pre);
            let mut dec = Vec::with_capacity(runs);
            for _ in 0..runs {
                let t = Instant::now();
                decode_only(&bytes);
                dec.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let dec = median(dec);
            print!(
                "\tdecode {dec:.1} ms, resize+colour+orient {:.1} ms, encode {:.1} ms",
                pre - dec,
                med - pre
            );
        }
        println!();
    }
}
