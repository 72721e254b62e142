//! The preview worker: `fitbox_core::preview` (the server's own pipeline) in a dedicated Web
//! Worker, so decoding a 24 MP photo never blocks the page. Trunk builds it as a no-modules
//! worker with a loader shim (`worker_loader.js`); see `fitbox_web::protocol` for the messages.
//! Once ready it warms itself up ([`warmup`]) until the first job arrives.

#[cfg(target_arch = "wasm32")]
mod warmup;

fn main() {
    #[cfg(target_arch = "wasm32")]
    wasm::start();
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use std::cell::Cell;
    use std::rc::Rc;

    use fitbox_core::{Error, Options};
    use fitbox_web::card::PreviewInfo;
    use fitbox_web::protocol::{Reply, Request, Warmed, READY};
    use js_sys::{Promise, Uint8Array};
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use web_sys::{Blob, DedicatedWorkerGlobalScope, FileReaderSync, MessageEvent};

    pub(crate) fn start() {
        let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
        let reply_to = scope.clone();
        // Set by the first job: the warm-up stops, the job itself finishes warming.
        let job_came = Rc::new(Cell::new(false));
        let stop = job_came.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let Some((req, file)) = Request::from_js(&ev.data()) else {
                return;
            };
            stop.set(true);
            let reply = run(&req, &file, &reply_to);
            let (msg, transfer) = reply.to_js();
            if let Err(e) = reply_to.post_message_with_transfer(&msg, &transfer) {
                web_sys::console::error_2(&"fitbox worker: cannot post the reply".into(), &e);
            }
        });
        scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let _ = scope.post_message(&JsValue::from_str(READY));
        wasm_bindgen_futures::spawn_local(warm_up(scope, job_came));
    }

    /// Preview the warm-up images round after round until a round stops getting faster (or a
    /// job arrives, or the limits in [`crate::warmup`] are reached), yielding to the event loop
    /// before each round so a job never waits for more than one; then tell the page.
    async fn warm_up(scope: DedicatedWorkerGlobalScope, job_came: Rc<Cell<bool>>) {
        use crate::warmup::{options, settled, ENTRIES, MAX_MS, MAX_ROUNDS};
        let start = now(&scope);
        // Per round, each entry's time.
        let mut rounds: Vec<Vec<f64>> = Vec::new();
        'rounds: while rounds.len() < MAX_ROUNDS && now(&scope) - start < MAX_MS {
            next_task(&scope).await;
            if job_came.get() {
                break;
            }
            let mut round = Vec::with_capacity(ENTRIES.len());
            for entry in ENTRIES {
                let t0 = now(&scope);
                let why = match fitbox_core::preview(entry.bytes, &options(entry)) {
                    Ok(p) if p.source.format == entry.format => {
                        round.push(now(&scope) - t0);
                        continue;
                    }
                    Ok(p) => format!("read as {:?}", p.source.format),
                    Err(e) => e.to_string(),
                };
                // Only a broken build gets here (tests/tests/warmup.rs runs every entry).
                let msg = format!("fitbox worker: warm-up image {}: {why}", entry.name);
                web_sys::console::error_1(&msg.into());
                break 'rounds;
            }
            rounds.push(round);
            if settled(&rounds) {
                break;
            }
        }
        let total = |r: &Vec<f64>| r.iter().sum::<f64>();
        let report = Warmed {
            rounds: rounds.len() as u32,
            first_round_ms: rounds.first().map(total).unwrap_or(0.0),
            last_round_ms: rounds.last().map(total).unwrap_or(0.0),
            total_ms: now(&scope) - start,
        };
        let _ = scope.post_message(&report.to_js());
    }

    /// Resolves in a later task of the worker's event loop (after messages already queued).
    async fn next_task(scope: &DedicatedWorkerGlobalScope) {
        let scope = scope.clone();
        let later = Promise::new(&mut |resolve, _| {
            let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        });
        let _ = wasm_bindgen_futures::JsFuture::from(later).await;
    }

    fn now(scope: &DedicatedWorkerGlobalScope) -> f64 {
        scope.performance().map(|p| p.now()).unwrap_or(0.0)
    }

    fn run(req: &Request, file: &JsValue, scope: &DedicatedWorkerGlobalScope) -> Reply {
        let t0 = now(scope);
        let job = req.job;
        let fail = |code: &str, message: String| Reply::Err {
            job,
            code: code.to_string(),
            message,
            worker_ms: now(scope) - t0,
        };
        let Some(blob) = file.dyn_ref::<Blob>() else {
            return fail("worker", "the message carried no file".into());
        };
        match preview(blob, &req.options) {
            Ok(Ok(p)) => {
                let rgba = Uint8Array::new_with_length(p.rgba.len() as u32);
                rgba.copy_from(&p.rgba);
                Reply::Ok {
                    job,
                    info: PreviewInfo {
                        width: p.width,
                        height: p.height,
                        format: p.source.format.id().to_string(),
                        source_width: p.source.width,
                        source_height: p.source.height,
                        orientation: p.source.orientation.exif(),
                        opaque: p.opaque,
                        pixel_sha256: p.pixel_sha256,
                    },
                    rgba: rgba.buffer(),
                    worker_ms: now(scope) - t0,
                }
            }
            Ok(Err(e)) => fail(e.code(), e.to_string()),
            Err(js) => fail(
                "worker",
                format!(
                    "the file could not be read: {}",
                    js.as_string()
                        .or_else(|| js
                            .dyn_ref::<js_sys::Error>()
                            .map(|e| String::from(e.message())))
                        .unwrap_or_else(|| "unknown error".into())
                ),
            ),
        }
    }

    /// Read the file (refusing oversize ones before reading them) and run core's preview.
    fn preview(
        blob: &Blob,
        opts: &Options,
    ) -> Result<Result<fitbox_core::Preview, Error>, JsValue> {
        let size = blob.size() as u64;
        if size > opts.limits.max_bytes {
            return Ok(Err(Error::TooManyBytes {
                size,
                limit: opts.limits.max_bytes,
            }));
        }
        let buf = FileReaderSync::new()?.read_as_array_buffer(blob)?;
        let bytes = Uint8Array::new(&buf).to_vec();
        drop(buf);
        Ok(fitbox_core::preview(&bytes, opts))
    }
}
