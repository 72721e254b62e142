//! Warm, in-process time per image:
//! `cargo run --release -p fitbox --example warm -- [--runs N] [--box N] FILE...`
//!
//! Reads each file once, runs the whole pipeline (`fitbox_core::thumbnail`, NxN box, default
//! 400x400, JPEG q85)
//! once to warm up, then N times (default 7), and prints one line per file:
//! `file<TAB>median_ms<TAB>min_ms<TAB>out_bytes<TAB>WxH`. Single thread, like the server's worker.
//!
//! Set `FITBOX_WARM_STAGES=1` to also print a per-step breakdown (median of each step over the
//! same runs, from `fitbox_core::thumbnail_observed`): probe, decode (at the scale the pipeline
//! really uses), resize, colour, orient+hash, encode.

/// Large buffers on transparent huge pages (fitbox_service::hugepages): fewer page faults.
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOC: fitbox_service::hugepages::HugePageAlloc = fitbox_service::hugepages::HugePageAlloc;

use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 7usize;
    if args.first().map(String::as_str) == Some("--runs") && args.len() > 1 {
        runs = args[1].parse().expect("--runs N");
        args.drain(..2);
    }
    let mut opts = fitbox_core::Options::default();
    if args.first().map(String::as_str) == Some("--box") && args.len() > 1 {
        let side = args[1].parse().expect("--box N");
        (opts.box_width, opts.box_height) = (side, side);
        args.drain(..2);
    }
    let stages = std::env::var_os("FITBOX_WARM_STAGES").is_some();
    for path in &args {
        let bytes = std::fs::read(path).expect("read input");
        let warm = fitbox_core::thumbnail(&bytes, &opts).expect("thumbnail");
        let mut times = Vec::with_capacity(runs);
        // Per run: the time of each stage, in the order reported.
        let mut steps: Vec<Vec<(fitbox_core::Stage, f64)>> = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let mut last = t;
            let mut run = Vec::new();
            let out = fitbox_core::thumbnail_observed(&bytes, &opts, &mut |stage| {
                if stages {
                    let now = Instant::now();
                    run.push((stage, (now - last).as_secs_f64() * 1e3));
                    last = now;
                }
            })
            .expect("thumbnail");
            times.push(t.elapsed().as_secs_f64() * 1e3);
            steps.push(run);
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
            let names: Vec<String> = steps[0]
                .iter()
                .enumerate()
                .map(|(i, (stage, _))| {
                    let ms = median(steps.iter().map(|run| run[i].1).collect());
                    format!("{} {ms:.1} ms", format!("{stage:?}").to_lowercase())
                })
                .collect();
            print!("\t{}", names.join(", "));
        }
        println!();
    }
}
