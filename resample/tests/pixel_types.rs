//! Each pixel type through [`resample`]. An integration test, not a unit test: a unit-test build
//! of this crate would compile fast_image_resize's kernels a second time (about 45 s of a 2-core
//! machine in `make test`), so the library has `test = false` (see Cargo.toml).

use fitbox_resample::{fr, resample, Channels};

/// Each pixel type resamples (a flat image stays flat, every channel its own value), and
/// a wrong buffer size is an error naming it. That the pixels are those of the untyped call
/// is checked by fitbox-core's golden hashes (core/tests/golden), which this crate's
/// introduction left unchanged.
#[test]
fn resamples_each_pixel_type() {
    let options = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Mitchell))
        .use_alpha(true);
    for channels in [Channels::One, Channels::Three, Channels::Four] {
        let n = channels.count();
        let pixel: Vec<u8> = [200, 100, 50, 255][..n].to_vec();
        let src = pixel.repeat(37 * 23);
        let mut out = vec![0; 10 * 6 * n];
        resample(
            &mut fr::Resizer::new(),
            channels,
            &src,
            (37, 23),
            &mut out,
            (10, 6),
            &options,
        )
        .unwrap();
        assert_eq!(out, pixel.repeat(10 * 6), "{channels:?}");
    }
    let mut small = vec![0; 3];
    let err = resample(
        &mut fr::Resizer::new(),
        Channels::Three,
        &[0; 12],
        (2, 2),
        &mut small,
        (2, 1),
        &options,
    );
    assert!(err.unwrap_err().contains("destination 2x1"));
}
