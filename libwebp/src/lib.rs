//! The Y, U and V planes of a lossy WebP, decoded by libwebp (the reference VP8 decoder, C,
//! vendored by `libwebp-sys`), behind one safe function: [`decode_yuv`].
//!
//! VP8 decoding is specified to the bit (RFC 6386), and libwebp's SSE2, NEON and plain C paths
//! give identical planes; image-webp's VP8 decoder gives the same planes too on every WebP of the
//! test data (fitbox-core's `libwebp_planes_are_image_webps` test). The same C is compiled for
//! x86_64, aarch64 and wasm32 (with Debian's clang against wasi-libc's headers, see
//! `.cargo/config.toml`); in wasm32 its allocations come from Rust's allocator (`wasm_alloc`).
//!
//! Measured on this project's machine (2 cores), planes of the test data's lossy WebPs, best of
//! 5, decode only: 24 MP panorama 726 -> 313 ms natively (x86_64, SSE2), 1408 -> 670 ms in
//! wasm32 (Node's V8); 10 MP camera photo 176 -> 53 ms natively, 312 -> 212 ms in wasm32.
//! clang's autovectorisation for simd128 gained nothing there (libwebp has no wasm SIMD code).
//!
//! This crate and its allocator shim hold the workspace's unsafe code for WebP: the calls into
//! libwebp, on buffers this crate allocates and sizes.
#![allow(unsafe_code)]

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod wasm_alloc;

use libwebp_sys as sys;

/// The picture's planes, compact: Y `width x height`, U and V `ceil(width/2) x ceil(height/2)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planes {
    /// Luma, one byte per pixel, rows `width` long.
    pub y: Vec<u8>,
    /// Blue-difference chroma, rows `ceil(width/2)` long.
    pub u: Vec<u8>,
    /// Red-difference chroma, rows `ceil(width/2)` long.
    pub v: Vec<u8>,
}

/// Why libwebp did not give the planes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vp8Error {
    /// The data ends before the picture does.
    Truncated(String),
    /// The data is not a valid lossy WebP.
    Corrupt(String),
    /// Not what this function decodes (lossless, alpha, animation, a feature libwebp leaves
    /// out) or not what the caller said (another size): the caller may decode it another way.
    NotThis(String),
    /// libwebp could not allocate its working memory.
    OutOfMemory,
    /// A mistake on this side: the library is not the one these bindings were made for, or it
    /// refused the buffers it was given.
    Internal(String),
}

impl std::fmt::Display for Vp8Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Vp8Error::Truncated(s)
            | Vp8Error::Corrupt(s)
            | Vp8Error::NotThis(s)
            | Vp8Error::Internal(s) => f.write_str(s),
            Vp8Error::OutOfMemory => f.write_str("libwebp ran out of memory"),
        }
    }
}

impl std::error::Error for Vp8Error {}

/// What libwebp's status code says, in words.
fn status(code: sys::VP8StatusCode, what: &str) -> Result<(), Vp8Error> {
    use sys::VP8StatusCode as S;
    match code {
        S::VP8_STATUS_OK => Ok(()),
        S::VP8_STATUS_NOT_ENOUGH_DATA => Err(Vp8Error::Truncated(format!(
            "{what}: the data ends before the picture (libwebp: not enough data)"
        ))),
        S::VP8_STATUS_OUT_OF_MEMORY => Err(Vp8Error::OutOfMemory),
        S::VP8_STATUS_UNSUPPORTED_FEATURE => Err(Vp8Error::NotThis(format!(
            "{what}: libwebp does not support a feature the file uses"
        ))),
        S::VP8_STATUS_BITSTREAM_ERROR => Err(Vp8Error::Corrupt(format!(
            "{what}: invalid VP8 data (libwebp: bitstream error)"
        ))),
        S::VP8_STATUS_INVALID_PARAM => Err(Vp8Error::Internal(format!(
            "{what}: libwebp refused the output buffers"
        ))),
        other => Err(Vp8Error::Corrupt(format!(
            "{what}: libwebp status {other:?}"
        ))),
    }
}

/// The planes of `webp`, a whole WebP file (RIFF container) holding one still, opaque, lossy
/// picture of `width x height`, which the caller has checked against its limits: nothing is
/// allocated before libwebp's reading of the headers agrees with that size.
pub fn decode_yuv(webp: &[u8], width: u32, height: u32) -> Result<Planes, Vp8Error> {
    // SAFETY: a plain C struct of integers and pointers, for which zero is a valid value; it is
    // initialised by libwebp right after.
    let mut config: sys::WebPDecoderConfig = unsafe { std::mem::zeroed() };
    // SAFETY: `config` is a valid, writable WebPDecoderConfig.
    if !unsafe { sys::WebPInitDecoderConfig(&mut config) } {
        return Err(Vp8Error::Internal("libwebp: decoder ABI mismatch".into()));
    }
    // SAFETY: `webp` is valid for reads of its length; `config.input` is writable.
    status(
        unsafe { sys::WebPGetFeatures(webp.as_ptr(), webp.len(), &mut config.input) },
        "WebP headers",
    )?;
    let f = &config.input;
    if f.has_alpha != 0 || f.has_animation != 0 || f.format != 1 {
        return Err(Vp8Error::NotThis(
            "not a still, opaque, lossy WebP (libwebp's reading of its headers)".into(),
        ));
    }
    if (f.width, f.height) != (width as i32, height as i32) {
        return Err(Vp8Error::NotThis(format!(
            "libwebp reads {}x{} where {width}x{height} was expected",
            f.width, f.height
        )));
    }
    let (w, h) = (width as usize, height as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut planes = Planes {
        y: vec![0; w * h],
        u: vec![0; cw * ch],
        v: vec![0; cw * ch],
    };
    let out = &mut config.output;
    out.colorspace = sys::WEBP_CSP_MODE::MODE_YUV;
    out.is_external_memory = 1;
    out.u.YUVA = sys::WebPYUVABuffer {
        y: planes.y.as_mut_ptr(),
        u: planes.u.as_mut_ptr(),
        v: planes.v.as_mut_ptr(),
        a: std::ptr::null_mut(),
        y_stride: w as i32,
        u_stride: cw as i32,
        v_stride: cw as i32,
        a_stride: 0,
        y_size: planes.y.len(),
        u_size: planes.u.len(),
        v_size: planes.v.len(),
        a_size: 0,
    };
    // SAFETY: `webp` is valid for reads of its length. The output buffers are the three Vecs,
    // alive and not otherwise used until this returns; libwebp checks that the strides and sizes
    // given cover the picture it decodes (else INVALID_PARAM) and writes within them only.
    let code = unsafe { sys::WebPDecode(webp.as_ptr(), webp.len(), &mut config) };
    // SAFETY: frees what libwebp allocated for the output, which for external memory is nothing.
    unsafe { sys::WebPFreeDecBuffer(&mut config.output) };
    status(code, "VP8 frame")?;
    Ok(planes)
}
