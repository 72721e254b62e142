//! The page side of the preview workers: a small pool of dedicated workers running
//! `fitbox_core::preview`, with the ready handshake and a queue for jobs sent before a worker
//! is ready or while all are busy. A worker that crashes is replaced; its job fails.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use fitbox_api::Options;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, File, MessageEvent, Worker};

use crate::protocol::{Reply, Request, Warmed, READY};
use crate::util::js_message;

type Done = Box<dyn FnOnce(Reply)>;

struct Job {
    req: Request,
    file: File,
    done: Done,
}

struct Slot {
    key: u32,
    worker: Worker,
    ready: bool,
    busy: Option<(u32, Done)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

struct Inner {
    url: String,
    max_workers: usize,
    slots: Vec<Slot>,
    pending: VecDeque<Job>,
    next_key: u32,
    /// Workers that died before saying "ready" in a row; after 3 the pool gives up.
    failed_starts: u32,
}

/// Cheap to clone; all clones share the workers.
#[derive(Clone)]
pub struct PreviewPool {
    inner: Rc<RefCell<Inner>>,
}

impl PreviewPool {
    /// Workers are started from `url` (Trunk's `worker_loader.js`), at most `max_workers`.
    pub fn new(url: String, max_workers: usize) -> Self {
        PreviewPool {
            inner: Rc::new(RefCell::new(Inner {
                url,
                max_workers: max_workers.max(1),
                slots: Vec::new(),
                pending: VecDeque::new(),
                next_key: 0,
                failed_starts: 0,
            })),
        }
    }

    /// Start one worker now, so its wasm is compiled before the first file arrives.
    pub fn warm_up(&self) {
        if self.inner.borrow().slots.is_empty() {
            spawn(&self.inner);
        }
    }

    /// Preview `file` with `options`; `done` gets the worker's reply (also on failure).
    pub fn preview(
        &self,
        job: u32,
        file: File,
        options: Options,
        done: impl FnOnce(Reply) + 'static,
    ) {
        self.inner.borrow_mut().pending.push_back(Job {
            req: Request { job, options },
            file,
            done: Box::new(done),
        });
        pump(&self.inner);
    }
}

fn fail_reply(job: u32, message: String) -> Reply {
    Reply::Err {
        job,
        code: "worker".into(),
        message,
        worker_ms: 0.0,
    }
}

/// Hand waiting jobs to idle, ready workers; start another worker when all are busy.
fn pump(inner: &Rc<RefCell<Inner>>) {
    loop {
        let mut g = inner.borrow_mut();
        if g.pending.is_empty() {
            return;
        }
        if g.failed_starts >= 3 {
            let jobs: Vec<Job> = g.pending.drain(..).collect();
            drop(g);
            for j in jobs {
                (j.done)(fail_reply(
                    j.req.job,
                    "the preview worker could not be started".into(),
                ));
            }
            return;
        }
        let Some(i) = g.slots.iter().position(|s| s.ready && s.busy.is_none()) else {
            let starting = g.slots.iter().any(|s| !s.ready);
            let room = g.slots.len() < g.max_workers;
            drop(g);
            if !starting && room {
                spawn(inner);
            }
            return;
        };
        let job = g.pending.pop_front().expect("checked non-empty");
        let msg = job.req.to_js(&job.file);
        match g.slots[i].worker.post_message(&msg) {
            Ok(()) => g.slots[i].busy = Some((job.req.job, job.done)),
            Err(e) => {
                drop(g);
                (job.done)(fail_reply(
                    job.req.job,
                    format!(
                        "the file could not be sent to the preview worker: {}",
                        js_message(&e)
                    ),
                ));
            }
        }
    }
}

fn spawn(inner: &Rc<RefCell<Inner>>) {
    let (url, key) = {
        let mut g = inner.borrow_mut();
        g.next_key += 1;
        (g.url.clone(), g.next_key)
    };
    let worker = match Worker::new(&url) {
        Ok(w) => w,
        Err(e) => {
            web_sys::console::error_2(&"fitbox: cannot start the preview worker".into(), &e);
            inner.borrow_mut().failed_starts += 1;
            return;
        }
    };
    let weak = Rc::downgrade(inner);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        if let Some(inner) = weak.upgrade() {
            on_message(&inner, key, ev.data());
        }
    });
    let weak = Rc::downgrade(inner);
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |ev: ErrorEvent| {
        ev.prevent_default();
        on_worker_error(&weak, key, ev.message());
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    inner.borrow_mut().slots.push(Slot {
        key,
        worker,
        ready: false,
        busy: None,
        _on_message: on_message,
        _on_error: on_error,
    });
}

fn on_message(inner: &Rc<RefCell<Inner>>, key: u32, data: JsValue) {
    if data.as_string().as_deref() == Some(READY) {
        {
            let mut g = inner.borrow_mut();
            g.failed_starts = 0;
            if let Some(s) = g.slots.iter_mut().find(|s| s.key == key) {
                s.ready = true;
            }
        }
        pump(inner);
        return;
    }
    if let Some(w) = Warmed::from_js(&data) {
        show_warmed(&w);
        return;
    }
    let Some(reply) = Reply::from_js(&data) else {
        return;
    };
    let done = {
        let mut g = inner.borrow_mut();
        g.slots
            .iter_mut()
            .find(|s| s.key == key)
            .and_then(|s| match &s.busy {
                Some((job, _)) if *job == reply.job() => s.busy.take().map(|(_, d)| d),
                _ => None,
            })
    };
    if let Some(done) = done {
        done(reply);
    }
    pump(inner);
}

/// What a worker's warm-up did, on the page's root element for anyone measuring previews:
/// `data-preview-warm="ROUNDS FIRST_ROUND_MS LAST_ROUND_MS TOTAL_MS"`.
fn show_warmed(w: &Warmed) {
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element());
    if let Some(root) = root {
        let value = format!(
            "{} {:.1} {:.1} {:.1}",
            w.rounds, w.first_round_ms, w.last_round_ms, w.total_ms
        );
        let _ = root.set_attribute("data-preview-warm", &value);
    }
}

/// A worker threw (a trap in the pipeline, or its script failed to load): drop it, fail its
/// job, and let the next job start a fresh one.
fn on_worker_error(weak: &Weak<RefCell<Inner>>, key: u32, message: String) {
    let Some(inner) = weak.upgrade() else {
        return;
    };
    let slot = {
        let mut g = inner.borrow_mut();
        let Some(i) = g.slots.iter().position(|s| s.key == key) else {
            return;
        };
        let slot = g.slots.remove(i);
        if !slot.ready {
            g.failed_starts += 1;
        }
        slot
    };
    slot.worker.terminate();
    web_sys::console::error_1(&format!("fitbox: preview worker failed: {message}").into());
    if let Some((job, done)) = slot.busy {
        done(fail_reply(
            job,
            format!("the preview failed in the browser ({message})"),
        ));
    }
    // The closures of the dead worker are released after this event returns.
    wasm_bindgen_futures::spawn_local(async move {
        drop(slot._on_message);
        drop(slot._on_error);
    });
    pump(&inner);
}
