//! Messages between the page and the preview worker: plain JS arrays, no serialisation.
//!
//! 1. worker -> page: the string [`READY`], once its message handler is installed (messages
//!    posted before the worker's wasm has started would be lost; the page queues until then).
//! 2. page -> worker: [`Request`]: `[job, File, box_w, box_h, enlarge, quality, max_bytes,
//!    max_pixels, max_side]`. A `File` is posted as a handle (no bytes are copied on the page);
//!    the worker reads it with `FileReaderSync`.
//! 3. worker -> page: [`Reply`]: `[job, "ok", width, height, rgba ArrayBuffer, format,
//!    src_width, src_height, orientation, opaque, pixel_sha256, worker_ms]` with the RGBA buffer
//!    transferred (moved, not copied), or `[job, "err", code, message, worker_ms]`.
//! 4. worker -> page, once, after [`READY`]: [`Warmed`], `["warm", rounds, first_round_ms,
//!    last_round_ms, total_ms]`, when the worker has run its warm-up images (see the worker).

use fitbox_api::{Limits, Options};
use js_sys::{Array, ArrayBuffer};
use wasm_bindgen::{JsCast, JsValue};

use crate::card::PreviewInfo;

/// The worker's first message.
pub const READY: &str = "ready";

/// One preview job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The job's id (the card's id), repeated in the reply.
    pub job: u32,
    /// The thumbnail options and limits from the server's config.
    pub options: Options,
}

impl Request {
    /// The message for `postMessage`, carrying `file` (a `File` or `Blob`).
    pub fn to_js(&self, file: &JsValue) -> Array {
        let o = &self.options;
        let a = Array::new();
        a.push(&JsValue::from(self.job));
        a.push(file);
        a.push(&JsValue::from(o.box_width));
        a.push(&JsValue::from(o.box_height));
        a.push(&JsValue::from(o.enlarge));
        a.push(&JsValue::from(o.quality));
        a.push(&JsValue::from(o.limits.max_bytes as f64));
        a.push(&JsValue::from(o.limits.max_pixels as f64));
        a.push(&JsValue::from(o.limits.max_side));
        a
    }

    /// The job and the file, or `None` for a message of another shape.
    pub fn from_js(msg: &JsValue) -> Option<(Request, JsValue)> {
        let a = msg.dyn_ref::<Array>()?;
        if a.length() != 9 {
            return None;
        }
        let num = |i: u32| a.get(i).as_f64();
        let options = Options {
            box_width: num(2)? as u32,
            box_height: num(3)? as u32,
            enlarge: a.get(4).as_bool()?,
            quality: num(5)? as u8,
            limits: Limits {
                max_bytes: num(6)? as u64,
                max_pixels: num(7)? as u64,
                max_side: num(8)? as u32,
            },
        };
        Some((
            Request {
                job: num(0)? as u32,
                options,
            },
            a.get(1),
        ))
    }
}

/// The worker's answer to one job.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The preview is made.
    Ok {
        /// The [`Request`]'s job id.
        job: u32,
        /// What the preview is: size, format, pixel hash...
        info: PreviewInfo,
        /// `width * height * 4` bytes of straight-alpha RGBA.
        rgba: ArrayBuffer,
        /// Time the worker spent on the job, in ms.
        worker_ms: f64,
    },
    /// No preview: core refused the file, or the worker itself failed.
    Err {
        /// The [`Request`]'s job id.
        job: u32,
        /// `fitbox_core::Error::code()`, or `worker` for a failure of the worker itself.
        code: String,
        /// `fitbox_core::Error`'s message: what the server would say.
        message: String,
        /// Time the worker spent on the job, in ms.
        worker_ms: f64,
    },
}

impl Reply {
    /// The job this reply answers.
    pub fn job(&self) -> u32 {
        match self {
            Reply::Ok { job, .. } | Reply::Err { job, .. } => *job,
        }
    }

    /// The message and its transfer list.
    pub fn to_js(&self) -> (Array, Array) {
        let a = Array::new();
        let transfer = Array::new();
        match self {
            Reply::Ok {
                job,
                info,
                rgba,
                worker_ms,
            } => {
                a.push(&JsValue::from(*job));
                a.push(&JsValue::from_str("ok"));
                a.push(&JsValue::from(info.width));
                a.push(&JsValue::from(info.height));
                a.push(rgba);
                a.push(&JsValue::from_str(&info.format));
                a.push(&JsValue::from(info.source_width));
                a.push(&JsValue::from(info.source_height));
                a.push(&JsValue::from(info.orientation));
                a.push(&JsValue::from(info.opaque));
                a.push(&JsValue::from_str(&info.pixel_sha256));
                a.push(&JsValue::from(*worker_ms));
                transfer.push(rgba);
            }
            Reply::Err {
                job,
                code,
                message,
                worker_ms,
            } => {
                a.push(&JsValue::from(*job));
                a.push(&JsValue::from_str("err"));
                a.push(&JsValue::from_str(code));
                a.push(&JsValue::from_str(message));
                a.push(&JsValue::from(*worker_ms));
            }
        }
        (a, transfer)
    }

    /// The reply in a message from the worker, or `None` for a message of another shape.
    pub fn from_js(msg: &JsValue) -> Option<Reply> {
        let a = msg.dyn_ref::<Array>()?;
        let num = |i: u32| a.get(i).as_f64();
        let job = num(0)? as u32;
        match a.get(1).as_string()?.as_str() {
            "ok" if a.length() == 12 => Some(Reply::Ok {
                job,
                info: PreviewInfo {
                    width: num(2)? as u32,
                    height: num(3)? as u32,
                    format: a.get(5).as_string()?,
                    source_width: num(6)? as u32,
                    source_height: num(7)? as u32,
                    orientation: num(8)? as u8,
                    opaque: a.get(9).as_bool()?,
                    pixel_sha256: a.get(10).as_string()?,
                },
                rgba: a.get(4).dyn_into::<ArrayBuffer>().ok()?,
                worker_ms: num(11)?,
            }),
            "err" if a.length() == 5 => Some(Reply::Err {
                job,
                code: a.get(2).as_string()?,
                message: a.get(3).as_string()?,
                worker_ms: num(4)?,
            }),
            _ => None,
        }
    }
}

/// What the worker's warm-up did: it runs small embedded images through the pipeline until a
/// round stops getting faster (the browser has then compiled the hot code with its optimising
/// tier), so the first real preview runs at the speed of the later ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Warmed {
    /// Rounds run (each round previews every warm-up image once); 0 when a job came first.
    pub rounds: u32,
    /// The first round's time, in ms (the baseline tier's speed).
    pub first_round_ms: f64,
    /// The last round's time, in ms.
    pub last_round_ms: f64,
    /// From the worker's start of the warm-up to its end, in ms.
    pub total_ms: f64,
}

impl Warmed {
    /// The message's first element.
    const TAG: &'static str = "warm";

    /// The message for `postMessage`.
    pub fn to_js(&self) -> Array {
        let a = Array::new();
        a.push(&JsValue::from_str(Self::TAG));
        a.push(&JsValue::from(self.rounds));
        a.push(&JsValue::from(self.first_round_ms));
        a.push(&JsValue::from(self.last_round_ms));
        a.push(&JsValue::from(self.total_ms));
        a
    }

    /// The report in a message from the worker, or `None` for a message of another shape.
    pub fn from_js(msg: &JsValue) -> Option<Warmed> {
        let a = msg.dyn_ref::<Array>()?;
        if a.length() != 5 || a.get(0).as_string().as_deref() != Some(Self::TAG) {
            return None;
        }
        let num = |i: u32| a.get(i).as_f64();
        Some(Warmed {
            rounds: num(1)? as u32,
            first_round_ms: num(2)?,
            last_round_ms: num(3)?,
            total_ms: num(4)?,
        })
    }
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn request_round_trip_keeps_limits() {
        let r = Request {
            job: 7,
            options: Options {
                box_width: 400,
                box_height: 300,
                enlarge: true,
                quality: 85,
                limits: Limits {
                    max_bytes: 25 * 1024 * 1024,
                    max_pixels: 100_000_000,
                    max_side: 32_768,
                },
            },
        };
        let file = JsValue::from_str("stand-in for a File");
        let (back, f) = Request::from_js(&r.to_js(&file)).unwrap();
        assert_eq!(back, r);
        assert_eq!(f.as_string().as_deref(), Some("stand-in for a File"));
        assert!(Request::from_js(&JsValue::from_str(READY)).is_none());
    }

    #[wasm_bindgen_test]
    fn replies_round_trip() {
        let info = PreviewInfo {
            width: 2,
            height: 1,
            format: "png".into(),
            source_width: 4,
            source_height: 2,
            orientation: 1,
            opaque: false,
            pixel_sha256: "ab".repeat(32),
        };
        let ok = Reply::Ok {
            job: 3,
            info: info.clone(),
            rgba: ArrayBuffer::new(8),
            worker_ms: 12.5,
        };
        let (msg, transfer) = ok.to_js();
        assert_eq!(transfer.length(), 1);
        match Reply::from_js(&msg).unwrap() {
            Reply::Ok {
                job,
                info: i,
                rgba,
                worker_ms,
            } => {
                assert_eq!((job, worker_ms), (3, 12.5));
                assert_eq!(i, info);
                assert_eq!(rgba.byte_length(), 8);
            }
            other => panic!("{other:?}"),
        }
        let err = Reply::Err {
            job: 4,
            code: "truncated".into(),
            message: "JPEG data is truncated: x".into(),
            worker_ms: 1.0,
        };
        let (msg, transfer) = err.to_js();
        assert_eq!(transfer.length(), 0);
        let back = Reply::from_js(&msg).unwrap();
        assert_eq!(back.job(), 4);
        assert!(matches!(back, Reply::Err { ref code, .. } if code == "truncated"));
        assert!(Reply::from_js(&JsValue::from_str(READY)).is_none());
    }

    #[wasm_bindgen_test]
    fn warm_report_round_trips_and_is_no_reply() {
        let w = Warmed {
            rounds: 4,
            first_round_ms: 80.5,
            last_round_ms: 20.0,
            total_ms: 150.25,
        };
        let msg = w.to_js();
        assert_eq!(Warmed::from_js(&msg), Some(w));
        assert!(Reply::from_js(&msg).is_none());
        assert!(Request::from_js(&msg).is_none());
        let (ok, _) = Reply::Err {
            job: 1,
            code: "x".into(),
            message: "y".into(),
            worker_ms: 1.0,
        }
        .to_js();
        assert!(Warmed::from_js(&ok).is_none());
        assert!(Warmed::from_js(&JsValue::from_str(READY)).is_none());
    }
}
