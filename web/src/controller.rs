//! The app's state and the steps that move each card: preview in the worker, upload through
//! the queue, follow the server until the thumbnail is ready.

use std::collections::HashMap;

use fitbox_api::Options;
use fitbox_api::{ConfigResponse, ImageEntry, UploadRequest, UploadState, UploadTicket};
use leptos::prelude::*;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsCast;
use web_sys::{File, ImageData, XmlHttpRequest};

use crate::api::{ApiError, Client};
use crate::card::{Card, Event, Stage};
use crate::gallery::Gallery;
use crate::preview::PreviewPool;
use crate::protocol::Reply;
use crate::queue::{Removed, UploadQueue};
use crate::retry::{Failure, Policy, Verdict};
use crate::upload::{self, PutOutcome};
use crate::urls::{worker_url, ApiBase};
use crate::util::{js_message, now_ms, online, sleep};

/// Uploads running at once.
pub const UPLOAD_CONCURRENCY: usize = 3;
/// Most cards holding (or making) a preview whose image is not yet stored. Beyond it, cards
/// wait in line ([`Stage::Queued`]) and get their preview as the ones ahead are stored: 500
/// dropped photos then hold 24 previews' pixels, not 500 (each 400x400 preview is 640 KB in the
/// page and as much again on its canvas). More than a screenful, and far more than the uploads
/// consume while the next previews are made.
pub const PREVIEW_AHEAD: usize = 24;
/// Most tickets asked for in one `POST /api/uploads` (an array body): a card starting its upload
/// asks for its own and for those of up to 9 cards waiting behind it, which then start without
/// a round trip of their own.
pub const TICKET_BATCH: usize = 10;
/// A ticket asked for ahead is used only while it is good for this long (ms) still (upload
/// links live 60 s by default; storage checks the expiry when a PUT starts).
const TICKET_MARGIN_MS: f64 = 15_000.0;
/// Cards added to the list per task when many files come at once: the first ones show at once
/// and no single task builds hundreds of cards.
const CARDS_PER_TASK: usize = 40;
/// Trunk's `public_url` (Trunk.toml): where `worker_loader.js` is served.
pub const PUBLIC_URL: &str = "/";
/// How long a card follows the server before giving up.
const PROCESSING_TIMEOUT_MS: f64 = 180_000.0;

/// One card in the list: its id and its state.
#[derive(Debug, Clone, Copy)]
pub struct CardHandle {
    /// The card's id (the same as in `card`).
    pub id: u32,
    /// The card, in its own signal so that an update redraws only its view.
    pub card: RwSignal<Card>,
}

/// Who is signed in, as far as the page knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// The config or the sign-in redirect is still being read.
    Unknown,
    /// The server names no OpenID provider (open, or upload keys only).
    NotOffered,
    /// The server names a provider and nobody is signed in in this tab.
    SignedOut,
    /// Signed in; the text says who.
    SignedIn(String),
}

/// Where reading `GET /api/config` stands; previews wait for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigState {
    /// Asked; no answer yet.
    Loading,
    /// The server's config.
    Ready(ConfigResponse),
    /// The config could not be read (the error, to show).
    Failed(String),
}

/// What the signals cannot hold: browser objects, owned by the page only.
struct Runtime {
    client: Client,
    pool: PreviewPool,
    files: HashMap<u32, File>,
    pixels: HashMap<u32, ImageData>,
    /// Event time of the drop or pick (`performance.now()` clock).
    added_at: HashMap<u32, f64>,
    requests: HashMap<u32, XmlHttpRequest>,
    /// Tickets asked for ahead, with another card's ([`TICKET_BATCH`]), by card, with what
    /// each was asked for.
    tickets: HashMap<u32, (UploadRequest, UploadTicket)>,
    /// Cards whose ticket is being asked for ahead, by another card's request.
    asking: std::collections::HashSet<u32>,
    /// The running upload task of each card (a number from `next_task`): a task whose card has
    /// since been cancelled and started again sees another number and stops.
    tasks: HashMap<u32, u32>,
    next_task: u32,
    queue: UploadQueue<u32>,
    waiting_for_config: Vec<u32>,
    next_id: u32,
    /// When this page started (`Date.now()`): the first half of its kept files' keys.
    page_start_ms: f64,
}

/// The app's state (signals) and the steps that move the cards; `Copy`, for handlers.
#[derive(Clone, Copy)]
pub struct Controller {
    /// The cards, in the order their files came.
    pub cards: RwSignal<Vec<CardHandle>>,
    /// Where reading the server's config stands.
    pub config: RwSignal<ConfigState>,
    /// Who is signed in.
    pub sign_in: RwSignal<SignIn>,
    /// A message about the page as a whole (a failed sign-in, files dropped while signed out).
    pub notice: RwSignal<Option<String>>,
    /// The gallery's state.
    pub gallery: Gallery,
    /// The last change of a card's state worth telling a screen-reader user (a polite live
    /// region reads it): a card done, refused, failed, retrying or cancelled.
    pub announcement: RwSignal<String>,
    /// Files an earlier visit kept because they were not sent ([`crate::restore`]), offered
    /// again: (key, file).
    pub restorable: RwSignal<Vec<(String, File)>>,
    rt: StoredValue<Runtime, LocalStorage>,
}

impl Controller {
    /// State for the API at `api`, with a pool of up to 2 preview workers; nothing is asked
    /// before [`Controller::start`].
    pub fn new(api: ApiBase) -> Self {
        let max_workers = web_sys::window()
            .map(|w| w.navigator().hardware_concurrency() as usize)
            .unwrap_or(1)
            .clamp(1, 2);
        Controller {
            cards: RwSignal::new(Vec::new()),
            announcement: RwSignal::new(String::new()),
            restorable: RwSignal::new(Vec::new()),
            config: RwSignal::new(ConfigState::Loading),
            sign_in: RwSignal::new(SignIn::Unknown),
            notice: RwSignal::new(None),
            gallery: Gallery::new(),
            rt: StoredValue::new_local(Runtime {
                client: Client::new(api),
                pool: PreviewPool::new(worker_url(PUBLIC_URL), max_workers),
                files: HashMap::new(),
                pixels: HashMap::new(),
                added_at: HashMap::new(),
                requests: HashMap::new(),
                tickets: HashMap::new(),
                asking: Default::default(),
                tasks: HashMap::new(),
                next_task: 0,
                queue: UploadQueue::new(UPLOAD_CONCURRENCY),
                waiting_for_config: Vec::new(),
                next_id: 0,
                page_start_ms: js_sys::Date::now(),
            }),
        }
    }

    fn rt<U>(&self, f: impl FnOnce(&mut Runtime) -> U) -> Option<U> {
        self.rt.try_update_value(f)
    }

    /// A clone of the API client.
    pub fn client(&self) -> Client {
        self.rt(|r| r.client.clone()).unwrap_or_default()
    }

    /// Start the preview worker; finish a sign-in if the page is the provider's redirect back;
    /// then ask for the config and the first gallery page (with the caller's token, so the
    /// gallery says what they may delete).
    pub fn start(self) {
        if let Some(pool) = self.rt(|r| r.pool.clone()) {
            pool.warm_up();
        }
        // Back online: the settings, if they could not be read, and uploads that gave up for
        // want of a network are asked for again by themselves.
        if let Some(window) = web_sys::window() {
            let on_online = Closure::<dyn FnMut()>::new(move || {
                if matches!(self.config.get_untracked(), ConfigState::Failed(_)) {
                    self.load_config();
                }
                self.resume_network_failures();
            });
            let _ = window
                .add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
            // The page's controller lives as long as the page.
            on_online.forget();
        }
        // Files an earlier visit did not send: offered again (the page asks first), but not
        // those of a tab still open, which is sending them.
        if let Some(start) = self.rt(|r| r.page_start_ms) {
            crate::restore::hold_page_lock(start);
        }
        leptos::task::spawn_local(async move {
            match crate::restore::kept().await {
                Ok(kept) => {
                    let held = crate::restore::held_locks().await;
                    self.restorable.set(crate::restore::not_open(kept, &held));
                }
                Err(e) => web_sys::console::warn_1(&format!("fitbox: kept files: {e}").into()),
            }
        });
        leptos::task::spawn_local(async move {
            if let Err(e) = crate::auth::complete_sign_in().await {
                self.notice.set(Some(e));
            }
            self.load_config();
            self.gallery.start(self.client());
        });
    }

    /// Whether uploads may be asked for now: the API needs no caller, or someone is signed in.
    pub fn may_upload(&self) -> bool {
        let needs = self.config.with(|c| match c {
            ConfigState::Ready(cfg) => cfg.access.upload_needs_caller,
            _ => false,
        });
        !needs || matches!(self.sign_in.get(), SignIn::SignedIn(_))
    }

    /// Go to the provider's sign-in page.
    pub fn sign_in(self) {
        let oidc = self.config.with_untracked(|c| match c {
            ConfigState::Ready(cfg) => cfg.access.oidc.clone(),
            _ => None,
        });
        let Some(oidc) = oidc else {
            return;
        };
        leptos::task::spawn_local(async move {
            if let Err(e) = crate::auth::sign_in(&oidc).await {
                self.notice.set(Some(format!("Cannot sign in: {e}")));
            }
        });
    }

    /// Forget the tokens and show the page as a signed-out visitor sees it.
    pub fn sign_out(self) {
        crate::auth::sign_out();
        self.sign_in.set(SignIn::SignedOut);
        self.gallery.reset();
        self.gallery.load_more(self.client());
    }

    /// Read `GET /api/config`, then set who is signed in and start the previews that
    /// waited for it.
    pub fn load_config(self) {
        self.config.set(ConfigState::Loading);
        let client = self.client();
        leptos::task::spawn_local(async move {
            match client.config().await {
                Ok(cfg) => {
                    self.sign_in
                        .set(match (&cfg.access.oidc, crate::auth::session()) {
                            (None, _) => SignIn::NotOffered,
                            (Some(_), Some(s)) => SignIn::SignedIn(s.who()),
                            (Some(_), None) => SignIn::SignedOut,
                        });
                    self.config.set(ConfigState::Ready(cfg));
                    let waiting = self
                        .rt(|r| std::mem::take(&mut r.waiting_for_config))
                        .unwrap_or_default();
                    for id in waiting {
                        self.start_preview(id);
                    }
                }
                Err(e) => self.config.set(ConfigState::Failed(e.to_string())),
            }
        });
    }

    fn options(&self) -> Option<Options> {
        self.config.with_untracked(|c| match c {
            ConfigState::Ready(cfg) => Some(cfg.options()),
            _ => None,
        })
    }

    fn handle(&self, id: u32) -> Option<CardHandle> {
        self.cards
            .with_untracked(|cards| cards.iter().find(|c| c.id == id).copied())
    }

    /// Apply `event` to card `id`; an event that no longer applies (a late callback) is dropped.
    fn apply(&self, id: u32, event: Event) -> bool {
        let Some(h) = self.handle(id) else {
            return false;
        };
        let mut ok = false;
        let mut said = None;
        let mut settled = false;
        let mut freed = false;
        h.card.update(|c| {
            let before = c.stage.status();
            let held = c.holds_preview();
            ok = c.apply(event).is_ok();
            freed = held && !c.holds_preview();
            if ok && c.stage.status() != before {
                said = announcement(c);
                // Sent, refused or cancelled: nothing left to offer after a reload.
                settled = matches!(
                    c.stage,
                    Stage::Processing
                        | Stage::Done { .. }
                        | Stage::Rejected { .. }
                        | Stage::Cancelled
                );
            }
        });
        if let Some(said) = said {
            self.announcement.set(said);
        }
        if settled {
            self.forget(vec![id]);
        }
        if freed {
            self.pump_previews();
        }
        ok
    }

    /// Start the previews of queued cards, in order, while fewer than [`PREVIEW_AHEAD`] cards
    /// hold one.
    fn pump_previews(self) {
        let (mut holding, queued) = self.cards.with_untracked(|cards| {
            let mut holding = 0;
            let mut queued = Vec::new();
            for h in cards {
                h.card.with_untracked(|c| {
                    if c.holds_preview() {
                        holding += 1;
                    } else if c.stage == Stage::Queued {
                        queued.push(h.id);
                    }
                });
            }
            (holding, queued)
        });
        for id in queued {
            if holding >= PREVIEW_AHEAD {
                break;
            }
            if self.apply(id, Event::PreviewStarted) {
                holding += 1;
                self.start_preview(id);
            }
        }
    }

    /// Keep the files of cards `ids` in IndexedDB until they are sent ([`crate::restore`]),
    /// all in one transaction.
    fn keep(self, ids: &[u32]) {
        let Some(files) = self.rt(|r| {
            ids.iter()
                .filter_map(|id| {
                    let file = r.files.get(id)?.clone();
                    Some((crate::restore::key(r.page_start_ms, *id), file))
                })
                .collect::<Vec<_>>()
        }) else {
            return;
        };
        leptos::task::spawn_local(async move {
            if let Err(e) = crate::restore::keep(&files).await {
                web_sys::console::warn_1(&format!("fitbox: cannot keep files: {e}").into());
            }
        });
    }

    /// Stop keeping the files of cards `ids`.
    fn forget(self, ids: Vec<u32>) {
        let Some(keys) = self.rt(|r| {
            ids.iter()
                .map(|&id| crate::restore::key(r.page_start_ms, id))
                .collect::<Vec<_>>()
        }) else {
            return;
        };
        leptos::task::spawn_local(async move {
            if let Err(e) = crate::restore::forget(&keys).await {
                web_sys::console::warn_1(&format!("fitbox: cannot forget kept files: {e}").into());
            }
        });
    }

    /// Upload again the files an earlier visit did not send (they get cards of their own).
    /// Run after the click's handler: hiding the offer disposes the button being clicked.
    pub fn restore(self) {
        leptos::task::spawn_local(async move {
            let kept = self.restorable.get_untracked();
            self.restorable.set(Vec::new());
            if kept.is_empty() {
                return;
            }
            let (keys, files): (Vec<String>, Vec<File>) = kept.into_iter().unzip();
            self.add_files(files, now_ms());
            let _ = crate::restore::forget(&keys).await;
        });
    }

    /// Drop the files an earlier visit did not send (after the click's handler, as above).
    pub fn discard_restorable(self) {
        leptos::task::spawn_local(async move {
            let keys: Vec<String> = self
                .restorable
                .get_untracked()
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            self.restorable.set(Vec::new());
            let _ = crate::restore::forget(&keys).await;
        });
    }

    /// Cards whose file is not yet sent: leaving the page now would lose them.
    pub fn unsent(&self) -> usize {
        self.cards.with_untracked(|cards| {
            cards
                .iter()
                .filter(|h| {
                    h.card.with_untracked(|c| {
                        matches!(
                            c.stage,
                            Stage::Queued
                                | Stage::Previewing
                                | Stage::Ready
                                | Stage::Uploading { .. }
                                | Stage::Retrying { .. }
                        )
                    })
                })
                .count()
        })
    }

    /// Add the images found in dropped folders, and say what was left out.
    pub fn add_folder_files(self, found: crate::entries::Found, event_time: f64) {
        let mut told = Vec::new();
        if found.images.is_empty() {
            told.push("No images in the dropped folder.".to_string());
        }
        match found.not_images {
            0 => {}
            1 => told.push("Left out 1 file that is not an image.".to_string()),
            n => told.push(format!("Left out {n} files that are not images.")),
        }
        if found.over_limit > 0 {
            told.push(format!(
                "Took the first {} images; left out {} more (drop them in parts).",
                crate::entries::MAX_FOLDER_FILES,
                found.over_limit
            ));
        }
        if let Some(e) = found.error {
            told.push(format!("Part of the folder could not be read: {e}."));
        }
        if !told.is_empty() {
            self.notice.set(Some(told.join(" ")));
        }
        if !found.images.is_empty() {
            self.add_files(found.images, event_time);
        }
    }

    fn stage(&self, id: u32) -> Option<Stage> {
        self.handle(id)
            .map(|h| h.card.with_untracked(|c| c.stage.clone()))
    }

    /// Files dropped or picked at `event_time` (`performance.now()` clock): a card each, the
    /// first [`CARDS_PER_TASK`] at once and the rest in the next tasks. Each starts in line for
    /// its preview, which starts at once while fewer than [`PREVIEW_AHEAD`] cards hold one (before
    /// the card is first drawn: its first status on the page is then `previewing`).
    pub fn add_files(self, files: Vec<File>, event_time: f64) {
        if !self.may_upload() {
            self.notice.set(Some(
                "Sign in to upload: this gallery takes uploads from signed-in people only."
                    .to_string(),
            ));
            return;
        }
        let mut handles = Vec::with_capacity(files.len());
        for file in files {
            let Some(id) = self.rt(|r| {
                r.next_id += 1;
                let id = r.next_id;
                r.files.insert(id, file.clone());
                r.added_at.insert(id, event_time);
                id
            }) else {
                return;
            };
            handles.push(CardHandle {
                id,
                card: RwSignal::new(
                    Card::queued(id, file.name(), file.size() as u64).declaring(&file.type_()),
                ),
            });
        }
        let ids: Vec<u32> = handles.iter().map(|h| h.id).collect();
        self.keep(&ids);
        let mut chunks: Vec<Vec<CardHandle>> =
            handles.chunks(CARDS_PER_TASK).map(<[_]>::to_vec).collect();
        chunks.reverse();
        let Some(first) = chunks.pop() else {
            return;
        };
        self.show_cards(first);
        if !chunks.is_empty() {
            leptos::task::spawn_local(async move {
                while let Some(chunk) = chunks.pop() {
                    // Let the page paint and answer input before the next cards are built.
                    sleep(0).await;
                    self.show_cards(chunk);
                }
            });
        }
    }

    /// Put new cards on the list and start the previews there is room for.
    fn show_cards(self, handles: Vec<CardHandle>) {
        self.cards.update(|cards| cards.extend(handles));
        self.pump_previews();
    }

    fn start_preview(self, id: u32) {
        let Some(options) = self.options() else {
            self.rt(|r| r.waiting_for_config.push(id));
            return;
        };
        let Some((pool, file)) = self.rt(|r| (r.pool.clone(), r.files.get(&id).cloned())) else {
            return;
        };
        let Some(file) = file else {
            return;
        };
        pool.preview(id, file, options, move |reply| self.on_preview(reply));
    }

    fn on_preview(self, reply: Reply) {
        match reply {
            Reply::Ok {
                job,
                info,
                rgba,
                worker_ms,
            } => {
                let clamped = js_sys::Uint8ClampedArray::new(&rgba);
                match ImageData::new_with_js_u8_clamped_array_and_sh(
                    &clamped,
                    info.width,
                    info.height,
                ) {
                    Ok(img) => {
                        self.rt(|r| r.pixels.insert(job, img));
                    }
                    Err(e) => web_sys::console::error_1(&e),
                }
                if let Some(h) = self.handle(job) {
                    h.card.update(|c| {
                        c.worker_ms = Some(worker_ms);
                        let _ = c.apply(Event::Previewed(info));
                    });
                    // A ticket asked for ahead as the declared type, when the file sniffed as
                    // another: not usable, and the card may join a batch again.
                    let request = h.card.with_untracked(Card::upload_request);
                    self.rt(|r| {
                        if r.tickets
                            .get(&job)
                            .is_some_and(|(asked, _)| Some(asked) != request.as_ref())
                        {
                            r.tickets.remove(&job);
                        }
                    });
                }
                self.enqueue(job);
            }
            Reply::Err {
                job, code, message, ..
            } => {
                let event = if code == "worker" {
                    Event::Failed(message.clone())
                } else {
                    Event::PreviewRefused(message.clone())
                };
                self.apply(job, event);
                // A ticket asked for ahead goes unused (the server forgets it when it expires).
                let file = self
                    .rt(|r| {
                        r.tickets.remove(&job);
                        r.files.get(&job).cloned()
                    })
                    .flatten();
                match file {
                    // A format fitbox does not read: can the browser? Then offer to convert.
                    Some(file) if code == "unsupported_format" => {
                        leptos::task::spawn_local(async move {
                            if crate::convert::browser_reads(&file).await {
                                self.apply(job, Event::BrowserReads);
                            } else {
                                let advice = crate::convert::advice(&message).to_string();
                                self.apply(job, Event::BrowserCannotRead(advice));
                                self.rt(|r| r.files.remove(&job));
                            }
                        });
                    }
                    _ => {
                        self.rt(|r| r.files.remove(&job));
                    }
                }
            }
        }
    }

    /// Draw card `id`'s preview pixels on `canvas`; the first time, record drop-to-preview.
    pub fn draw(&self, id: u32, canvas: &web_sys::HtmlCanvasElement) {
        let Some((img, added)) =
            self.rt(|r| (r.pixels.get(&id).cloned(), r.added_at.get(&id).copied()))
        else {
            return;
        };
        let Some(img) = img else {
            return;
        };
        canvas.set_width(img.width());
        canvas.set_height(img.height());
        let ctx = canvas
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok());
        if let Some(ctx) = ctx {
            let _ = ctx.put_image_data(&img, 0.0, 0.0);
        }
        if let (Some(h), Some(t0)) = (self.handle(id), added) {
            let elapsed = now_ms() - t0;
            if h.card.with_untracked(|c| c.preview_ms.is_none()) {
                h.card.update(|c| c.preview_ms = Some(elapsed));
            }
        }
    }

    fn enqueue(self, id: u32) {
        self.rt(|r| r.queue.push(id));
        self.pump();
    }

    fn pump(self) {
        let started = self.rt(|r| r.queue.start_next()).unwrap_or_default();
        for id in started {
            leptos::task::spawn_local(self.upload(id));
        }
    }

    /// Upload task `task` of card `id` is over: the card is no longer uploading or waiting to
    /// retry (cancelled, dismissed...), or another task has started for it since.
    fn cancelled(&self, id: u32, task: u32) -> bool {
        !matches!(
            self.stage(id),
            Some(Stage::Uploading { .. } | Stage::Retrying { .. })
        ) || self.rt(|r| r.tasks.get(&id) != Some(&task)).unwrap_or(true)
    }

    /// Ticket, then PUT with progress; a failure that may pass is tried again as
    /// [`Policy::UPLOADS`] says (counting down on the card, or waiting until the browser is
    /// online again); a refusal is final. One upload per ticket: a first try may use one asked
    /// for ahead ([`Controller::ticket`]), a retry asks for a new one.
    async fn upload(self, id: u32) {
        let card = self.handle(id).map(|h| h.card.get_untracked());
        let file = self.rt(|r| r.files.get(&id).cloned()).flatten();
        let (Some(card), Some(file)) = (card, file) else {
            self.finish_slot(id);
            return;
        };
        let Some(request) = card.upload_request() else {
            self.finish_slot(id);
            return;
        };
        if !self.apply(id, Event::UploadStarted) {
            self.finish_slot(id);
            return;
        }
        let task = self
            .rt(|r| {
                r.next_task += 1;
                r.tasks.insert(id, r.next_task);
                r.next_task
            })
            .unwrap_or(0);
        let client = self.client();
        let mut attempt: u8 = 1;
        loop {
            // Ok: stored (the upload's id); Err: what failed, and how, for the retry policy.
            let outcome: Result<String, (String, Option<Failure>)> =
                match self.ticket(id, attempt, &client, &request).await {
                    Err(e) if e.is_refusal() => {
                        self.apply(id, Event::ApiRefused(e.to_string()));
                        break;
                    }
                    Err(e) => Err((e.to_string(), e.failure())),
                    Ok(ticket) => {
                        if self.cancelled(id, task) {
                            break;
                        }
                        let progress = move |sent, total| {
                            self.apply(id, Event::Progress { sent, total });
                        };
                        let put = upload::put(&ticket, &file, progress, |xhr| {
                            self.rt(|r| r.requests.insert(id, xhr.clone()));
                        })
                        .await;
                        self.rt(|r| r.requests.remove(&id));
                        match put {
                            Ok(PutOutcome::Stored) => Ok(ticket.id),
                            Ok(PutOutcome::Network) => Err((
                                "the connection to the storage failed".into(),
                                Some(Failure::Network),
                            )),
                            Ok(PutOutcome::Aborted) => break,
                            Ok(PutOutcome::Refused {
                                status,
                                message,
                                retry_after_ms,
                            }) => Err((
                                message,
                                Some(Failure::Status {
                                    status,
                                    retry_after_ms,
                                }),
                            )),
                            Err(js) => Err((js_message(&js), None)),
                        }
                    }
                };
            let (reason, failure) = match outcome {
                Ok(upload_id) => {
                    if self.apply(id, Event::Uploaded) {
                        leptos::task::spawn_local(self.follow(id, upload_id));
                    }
                    break;
                }
                Err(e) => e,
            };
            if self.cancelled(id, task) {
                break;
            }
            let Some(failure) = failure else {
                self.apply(id, Event::Failed(reason));
                break;
            };
            // Offline: no try can succeed; wait for the network without spending one.
            if failure == Failure::Network && !online() {
                if !self.wait_until_online(id, task, attempt, &reason).await {
                    break;
                }
                continue;
            }
            match Policy::UPLOADS.after(attempt, failure, js_sys::Math::random()) {
                Verdict::RetryIn(ms) => {
                    attempt += 1;
                    if !self.count_down(id, task, attempt, ms, &reason).await {
                        break;
                    }
                }
                Verdict::GiveUp(why) => {
                    let reason = match why {
                        Some(why) => format!("{reason} ({why})"),
                        None => reason,
                    };
                    self.apply(
                        id,
                        if failure == Failure::Network {
                            Event::NetworkFailed(reason)
                        } else {
                            Event::Failed(reason)
                        },
                    );
                    break;
                }
            }
        }
        self.rt(|r| {
            if r.tasks.get(&id) == Some(&task) {
                r.tasks.remove(&id);
            }
        });
        self.finish_slot(id);
    }

    /// A ticket for card `id`'s try `attempt`. A first try uses the one asked for ahead with
    /// another card, if it was asked for the same request and is good for [`TICKET_MARGIN_MS`];
    /// else it asks for its own, and for those of up to [`TICKET_BATCH`] - 1 cards next in line
    /// ([`Controller::batch_mates`]) in one request. A batch
    /// refused as a whole (a file over a limit, the rate limit) is asked again for this card
    /// alone, whose answer then counts.
    async fn ticket(
        self,
        id: u32,
        attempt: u8,
        client: &Client,
        request: &UploadRequest,
    ) -> Result<UploadTicket, ApiError> {
        // Asked for ahead by a request still running: its answer comes first.
        while self.rt(|r| r.asking.contains(&id)).unwrap_or(false) {
            sleep(50).await;
        }
        let kept = self.rt(|r| r.tickets.remove(&id)).flatten();
        if attempt > 1 {
            return client.create_upload(request).await;
        }
        let now = js_sys::Date::now();
        if let Some((_, t)) = kept.filter(|(r, t)| r == request && usable(&t.expires_at, now)) {
            return Ok(t);
        }
        let mates = self.batch_mates(id);
        if mates.is_empty() {
            return client.create_upload(request).await;
        }
        let mut requests = vec![request.clone()];
        requests.extend(mates.iter().map(|(_, r)| r.clone()));
        self.rt(|r| r.asking.extend(mates.iter().map(|(k, _)| *k)));
        let answer = client.create_uploads(&requests).await;
        self.rt(|r| {
            for (mate, _) in &mates {
                r.asking.remove(mate);
            }
        });
        match answer {
            Ok(mut tickets) if tickets.len() == requests.len() => {
                let ahead = tickets.split_off(1);
                // Not for a card cancelled, refused or removed while the request ran (one whose
                // upload started meanwhile waits for this answer: it is uploading).
                let still: Vec<bool> = mates
                    .iter()
                    .map(|(mate, _)| {
                        self.stage(*mate).is_some_and(|s| {
                            matches!(
                                s,
                                Stage::Queued
                                    | Stage::Previewing
                                    | Stage::Ready
                                    | Stage::Uploading { .. }
                            )
                        })
                    })
                    .collect();
                self.rt(|r| {
                    for (((mate, asked), t), still) in mates.into_iter().zip(ahead).zip(still) {
                        if still {
                            r.tickets.insert(mate, (asked, t));
                        }
                    }
                });
                Ok(tickets.remove(0))
            }
            _ => client.create_upload(request).await,
        }
    }

    /// The cards next in line after `id` with no ticket asked for ahead, up to
    /// [`TICKET_BATCH`] - 1 of them, with what each would ask for ([`Card::request_ahead`]):
    /// those waiting for an upload slot, front first, then those waiting for or making their
    /// preview, in the order they came; not those empty or over the size limit, which the API
    /// refuses. Cards still previewing count, so that batches do not
    /// depend on previews running ahead of uploads (on a busy machine the server's resizing
    /// holds the cards, and a card is uploaded as soon as it is previewed).
    fn batch_mates(&self, id: u32) -> Vec<(u32, UploadRequest)> {
        let Some((waiting, taken)) = self.rt(|r| {
            let mut taken: std::collections::HashSet<u32> =
                r.tickets.keys().chain(r.asking.iter()).copied().collect();
            taken.insert(id);
            (r.queue.waiting().copied().collect::<Vec<u32>>(), taken)
        }) else {
            return Vec::new();
        };
        // A card the API refuses by its size would have the whole batch refused: it asks alone.
        let max_bytes = self.config.with_untracked(|c| match c {
            ConfigState::Ready(cfg) => cfg.max_bytes,
            _ => 0,
        });
        let mut mates = Vec::with_capacity(TICKET_BATCH - 1);
        let mut consider = |k: u32, card: &Card| {
            let sized = (1..=max_bytes).contains(&card.size);
            if mates.len() < TICKET_BATCH - 1 && sized && !taken.contains(&k) {
                if let Some(request) = card.request_ahead() {
                    mates.push((k, request));
                }
            }
        };
        for k in &waiting {
            if let Some(h) = self.handle(*k) {
                h.card.with_untracked(|c| consider(*k, c));
            }
        }
        self.cards.with_untracked(|cards| {
            for h in cards {
                h.card.with_untracked(|c| {
                    if matches!(c.stage, Stage::Queued | Stage::Previewing) {
                        consider(h.id, c);
                    }
                });
            }
        });
        mates
    }

    /// Show "retrying in N s" on the card, counting down to try `attempt`; then resume it.
    /// `false` when the card was cancelled meanwhile.
    async fn count_down(self, id: u32, task: u32, attempt: u8, ms: u32, reason: &str) -> bool {
        let until = now_ms() + f64::from(ms);
        loop {
            if self.cancelled(id, task) {
                return false;
            }
            let left = until - now_ms();
            if left <= 0.0 {
                return self.apply(id, Event::Resume);
            }
            let in_s = Some((left / 1000.0).ceil() as u32);
            let reason = reason.to_string();
            let event = Event::Retrying {
                attempt,
                in_s,
                reason,
            };
            if !self.apply(id, event) {
                return false;
            }
            sleep(left.min(1000.0) as i32).await;
        }
    }

    /// Show "waiting for the network" on the card until the browser is online; then resume
    /// the same try. `false` when the card was cancelled meanwhile.
    async fn wait_until_online(self, id: u32, task: u32, attempt: u8, reason: &str) -> bool {
        let event = Event::Retrying {
            attempt,
            in_s: None,
            reason: reason.to_string(),
        };
        if !self.apply(id, event) {
            return false;
        }
        while !online() {
            sleep(500).await;
            if self.cancelled(id, task) {
                return false;
            }
        }
        self.apply(id, Event::Resume)
    }

    fn finish_slot(self, id: u32) {
        self.rt(|r| r.queue.finish(&id));
        self.pump();
    }

    /// Poll `GET /api/uploads/{id}` until the thumbnail is ready or refused.
    async fn follow(self, id: u32, upload_id: String) {
        let client = self.client();
        let start = now_ms();
        let mut delay = 250;
        loop {
            sleep(delay).await;
            delay = (delay * 3 / 2).min(2000);
            if self.handle(id).is_none() {
                return;
            }
            match client.upload_status(&upload_id).await {
                Ok(status) => match status.state {
                    UploadState::Ready { image } => {
                        self.finished(id, image);
                        return;
                    }
                    UploadState::Rejected { reason, .. } => {
                        self.apply(id, Event::ServerRefused(reason));
                        self.rt(|r| r.files.remove(&id));
                        return;
                    }
                    UploadState::Pending => {}
                },
                // Not listed yet, a hiccup, or offline for a moment: keep asking until the
                // deadline.
                Err(e) if e.is_network() || e.status() == Some(404) || !e.is_refusal() => {}
                Err(e) => {
                    self.apply(id, Event::Failed(e.to_string()));
                    return;
                }
            }
            if now_ms() - start > PROCESSING_TIMEOUT_MS {
                self.apply(
                    id,
                    Event::Failed("the server has not finished this image after 3 minutes".into()),
                );
                return;
            }
        }
    }

    fn finished(self, id: u32, image: ImageEntry) {
        self.apply(id, Event::ServerReady(image.clone()));
        // The card now shows the server's thumbnail: the preview's pixels can go.
        self.rt(|r| {
            r.files.remove(&id);
            r.pixels.remove(&id);
        });
        self.gallery.add_new(image);
    }

    /// Cancel card `id`: take it out of the upload queue and abort its request, if any.
    pub fn cancel(self, id: u32) {
        let (removed, xhr) = self
            .rt(|r| {
                r.tickets.remove(&id);
                (r.queue.remove(&id), r.requests.remove(&id))
            })
            .unwrap_or((Removed::Absent, None));
        self.apply(id, Event::Cancel);
        if let Some(xhr) = xhr {
            let _ = xhr.abort();
        }
        if removed == Removed::Active {
            self.pump();
        }
    }

    /// Convert card `id`'s file (refused by the preview, read by the browser) to PNG or JPEG in
    /// the browser; the converted file replaces the card with a card of its own.
    pub fn convert(self, id: u32) {
        let file = self.rt(|r| r.files.get(&id).cloned()).flatten();
        let max_bytes = self.options().map(|o| o.limits.max_bytes);
        let (Some(file), Some(max_bytes)) = (file, max_bytes) else {
            return;
        };
        leptos::task::spawn_local(async move {
            match crate::convert::to_png_or_jpeg(&file, max_bytes).await {
                Ok(converted) => {
                    self.dismiss(id);
                    self.add_files(vec![converted], now_ms());
                }
                Err(e) => self
                    .notice
                    .set(Some(format!("{} could not be converted: {e}", file.name()))),
            }
        });
    }

    /// Every card that failed for want of a network goes back in the upload queue.
    pub fn resume_network_failures(self) {
        let ids: Vec<u32> = self.cards.with_untracked(|cards| {
            cards
                .iter()
                .filter(|h| {
                    h.card
                        .with_untracked(|c| matches!(c.stage, Stage::Failed { network: true, .. }))
                })
                .map(|h| h.id)
                .collect()
        });
        for id in ids {
            self.retry(id);
        }
    }

    /// Try a failed or cancelled card again by hand: back in the upload queue, or in line for
    /// its preview when it was cancelled before it had one.
    pub fn retry(self, id: u32) {
        if self.apply(id, Event::Retry) {
            if self.stage(id) == Some(Stage::Queued) {
                self.pump_previews();
            } else {
                self.enqueue(id);
            }
        }
    }

    /// Take a settled card off the list.
    pub fn dismiss(self, id: u32) {
        self.forget(vec![id]);
        self.cards.update(|cards| cards.retain(|c| c.id != id));
        self.rt(|r| {
            r.files.remove(&id);
            r.pixels.remove(&id);
            r.added_at.remove(&id);
            r.tickets.remove(&id);
        });
    }

    /// Take every done or rejected card off the list.
    pub fn clear_finished(self) {
        let gone: Vec<u32> = self.cards.with_untracked(|cards| {
            cards
                .iter()
                .filter(|h| {
                    h.card.with_untracked(|c| {
                        matches!(c.stage, Stage::Done { .. } | Stage::Rejected { .. })
                    })
                })
                .map(|h| h.id)
                .collect()
        });
        for id in gone {
            self.dismiss(id);
        }
    }
}

/// Whether a ticket that expires at `expires_at` (RFC 3339) is still good for
/// [`TICKET_MARGIN_MS`] at `now_ms` (ms since the epoch). A date that does not parse is not.
pub fn usable(expires_at: &str, now_ms: f64) -> bool {
    js_sys::Date::parse(expires_at) - now_ms > TICKET_MARGIN_MS
}

/// What a screen reader is told when card `c` has just moved to its stage.
fn announcement(c: &Card) -> Option<String> {
    let name = &c.filename;
    Some(match &c.stage {
        Stage::Done { .. } => format!("{name}: uploaded, in the gallery"),
        Stage::Rejected { reason, .. } => format!("{name}: not uploaded: {reason}"),
        Stage::Failed { reason, .. } => format!("{name}: upload failed: {reason}"),
        Stage::Retrying { in_s: Some(s), .. } => format!("{name}: retrying in {s} seconds"),
        Stage::Retrying { in_s: None, .. } => format!("{name}: waiting for the network"),
        Stage::Cancelled => format!("{name}: cancelled"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn tickets_asked_ahead_are_used_while_good_for_15_s() {
        let now = js_sys::Date::parse("2026-12-07T12:00:00Z");
        assert!(usable("2026-12-07T12:01:00Z", now));
        assert!(usable("2026-12-07T12:00:15.001Z", now));
        assert!(
            !usable("2026-12-07T12:00:15Z", now),
            "15 s left is too little"
        );
        assert!(!usable("2026-12-07T11:59:00Z", now), "expired");
        assert!(!usable("not a date", now));
    }
}
