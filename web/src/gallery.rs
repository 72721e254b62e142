//! The gallery: newest first from `GET /api/images`, the next page loaded as the end of the
//! list scrolls into view, lazy images with their size set, empty and error states, and new
//! uploads added at the top without a reload.

use fitbox_api::{ImageEntry, ImagePage};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::Client;
use crate::format;
use crate::urls::PAGE_SIZE;

/// Append `page` after `shown`, skipping images already shown (a new upload may be in both).
pub fn merge_page(shown: &mut Vec<ImageEntry>, page: Vec<ImageEntry>) -> usize {
    let before = shown.len();
    for img in page {
        if !shown.iter().any(|s| s.id == img.id) {
            shown.push(img);
        }
    }
    shown.len() - before
}

/// Put a just-finished upload first (or refresh it where it already is).
pub fn add_newest(shown: &mut Vec<ImageEntry>, image: ImageEntry) {
    shown.retain(|s| s.id != image.id);
    shown.insert(0, image);
}

/// Put fresh links (from a new listing) on the images shown, by id; the rest stay as they are.
/// How many links changed.
pub fn renew_links(shown: &mut [ImageEntry], fresh: &[ImageEntry]) -> usize {
    let mut changed = 0;
    for img in shown.iter_mut() {
        if let Some(f) = fresh.iter().find(|f| f.id == img.id) {
            if f.url != img.url {
                img.url = f.url.clone();
                changed += 1;
            }
        }
    }
    changed
}

/// When a signed link stops working, in ms since the epoch: its `X-Amz-Date` plus
/// `X-Amz-Expires` (SigV4 query signing). `None` for a link that is not signed that way (a CDN
/// link, or one signed otherwise), which is then renewed only when it fails to load.
pub fn link_expiry_ms(url: &str) -> Option<f64> {
    let query = url.split_once('?')?.1;
    let param = |name: &str| {
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then_some(v)
        })
    };
    let date = param("X-Amz-Date")?;
    let expires: f64 = param("X-Amz-Expires")?.parse().ok()?;
    // 20261207T204633Z (ISO 8601 basic), read by the browser as 2026-12-07T20:46:33Z.
    let d = date.as_bytes();
    if d.len() != 16 || d[8] != b'T' || d[15] != b'Z' || !date.is_ascii() {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &date[0..4],
        &date[4..6],
        &date[6..8],
        &date[9..11],
        &date[11..13],
        &date[13..15]
    );
    let ms = js_sys::Date::parse(&iso);
    ms.is_finite().then_some(ms + expires * 1000.0)
}

/// Links are renewed this long before they expire.
pub const RENEW_BEFORE_MS: f64 = 60_000.0;

/// `12 images`, or `24+ images` while more pages may follow.
pub fn count_label(shown: usize, ended: bool) -> String {
    match (shown, ended) {
        (0, _) => String::new(),
        (1, true) => "1 image".to_string(),
        (n, true) => format!("{n} images"),
        (n, false) => format!("{n}+ images"),
    }
}

/// Where the list stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    /// Nothing asked yet.
    Start,
    /// More pages behind this cursor.
    More(String),
    /// All pages loaded.
    End,
}

impl Paging {
    /// Where the list stands after a page whose `next_cursor` was `page_cursor`.
    pub fn after(page_cursor: Option<String>) -> Paging {
        match page_cursor {
            Some(c) if !c.is_empty() => Paging::More(c),
            _ => Paging::End,
        }
    }

    /// The cursor for the next request, or `None` when there is nothing more to ask.
    pub fn next_request(&self) -> Option<Option<&str>> {
        match self {
            Paging::Start => Some(None),
            Paging::More(c) => Some(Some(c.as_str())),
            Paging::End => None,
        }
    }
}

/// The gallery's state: all signals, so it is `Copy`.
#[derive(Debug, Clone, Copy)]
pub struct Gallery {
    /// The images shown, newest first.
    pub images: RwSignal<Vec<ImageEntry>>,
    /// Where the list stands.
    pub paging: RwSignal<Paging>,
    /// Whether a page is loading.
    pub loading: RwSignal<bool>,
    /// Why the last page failed; no more pages load until [`Gallery::retry`].
    pub error: RwSignal<Option<String>>,
    /// The outcome of the last delete, for the live region.
    pub message: RwSignal<Option<String>>,
    /// Pages load only once the page knows who is looking (a sign-in redirect is finished), so
    /// the first page already says what the caller may delete.
    pub started: RwSignal<bool>,
    /// A renewal of the shown images' links is running ([`Gallery::renew`]).
    pub renewing: RwSignal<bool>,
    /// When the last renewal started (`Date.now()`).
    pub renewed_at: RwSignal<f64>,
    /// The image open in the viewer, by id.
    pub viewing: RwSignal<Option<String>>,
    /// Finished uploads not yet put on the list; a flush is due while there are any
    /// ([`Gallery::add_new`]).
    arriving: RwSignal<Vec<ImageEntry>>,
    /// When finished uploads were last put on the list (`performance.now()`).
    flushed_at: RwSignal<f64>,
    /// Finished uploads not put on the list (too many came at once): a button offers them
    /// ([`Gallery::show_unseen`]).
    pub unseen: RwSignal<usize>,
    /// Which list a page loading belongs to: [`Gallery::reset`] starts a new one, and a page
    /// asked for before that is dropped when it comes ([`Gallery::take_page`]).
    generation: RwSignal<u32>,
}

/// Finished uploads go on the list at most this often: with hundreds finishing, each one would
/// otherwise lay the whole grid out again.
const ADD_EVERY_MS: f64 = 1000.0;
/// Most finished uploads put at the top of the list at once; more wait behind a button.
const INLINE_BATCH: usize = 12;
/// Past this many tiles, finished uploads wait behind a button instead of going on top: each
/// insertion at the top moves every tile after it (Leptos' keyed list), which with hundreds of
/// tiles costs frames of over 100 ms.
const INLINE_MAX_TILES: usize = 120;

/// Whether a batch of `arrived` finished uploads goes on top of `shown` tiles, or waits behind
/// the "show new images" button (as it does once anything waits there, to keep the order).
pub fn goes_on_top(arrived: usize, shown: usize, unseen: usize) -> bool {
    unseen == 0 && arrived <= INLINE_BATCH && shown + arrived <= INLINE_MAX_TILES
}

impl Default for Gallery {
    fn default() -> Self {
        Self::new()
    }
}

impl Gallery {
    /// An empty gallery; nothing loads before [`Gallery::start`].
    pub fn new() -> Self {
        Gallery {
            images: RwSignal::new(Vec::new()),
            paging: RwSignal::new(Paging::Start),
            loading: RwSignal::new(false),
            error: RwSignal::new(None),
            message: RwSignal::new(None),
            started: RwSignal::new(false),
            renewing: RwSignal::new(false),
            renewed_at: RwSignal::new(0.0),
            viewing: RwSignal::new(None),
            arriving: RwSignal::new(Vec::new()),
            flushed_at: RwSignal::new(f64::NEG_INFINITY),
            unseen: RwSignal::new(0),
            generation: RwSignal::new(0),
        }
    }

    /// Allow loading, and load the first page.
    pub fn start(self, client: Client) {
        self.started.set(true);
        self.load_more(client);
    }

    /// Forget every page (after signing out, what may be seen or deleted changes). A page still
    /// loading is dropped when it comes, and the next one may be asked for at once.
    pub fn reset(self) {
        self.generation.update(|g| *g = g.wrapping_add(1));
        self.loading.set(false);
        self.unseen.set(0);
        self.images.set(Vec::new());
        self.paging.set(Paging::Start);
        self.error.set(None);
        self.message.set(None);
    }

    /// Delete `id` after the person confirms; on success it leaves the list.
    pub fn delete(self, client: Client, id: String) {
        let confirmed = web_sys::window()
            .and_then(|w| {
                w.confirm_with_message(
                    "Delete this image? It is removed from the gallery and from storage for \
                     everyone; this cannot be undone.",
                )
                .ok()
            })
            .unwrap_or(false);
        if !confirmed {
            return;
        }
        leptos::task::spawn_local(async move {
            match client.delete_image(&id).await {
                Ok(()) => {
                    self.images.update(|shown| shown.retain(|i| i.id != id));
                    self.message.set(Some("Image deleted.".to_string()));
                }
                Err(e) if e.status() == Some(404) => {
                    self.images.update(|shown| shown.retain(|i| i.id != id));
                    self.message
                        .set(Some("That image was already gone.".to_string()));
                }
                Err(e) if e.needs_sign_in() => self
                    .message
                    .set(Some(format!("Not deleted: sign in again ({e})."))),
                Err(e) => self.message.set(Some(format!("Not deleted: {e}"))),
            }
        });
    }

    /// Load the next page unless one is loading, the last one failed, or all are loaded.
    pub fn load_more(self, client: Client) {
        if !self.started.get_untracked()
            || self.loading.get_untracked()
            || self.error.with_untracked(Option::is_some)
        {
            return;
        }
        let Some(cursor) = self
            .paging
            .with_untracked(|p| p.next_request().map(|c| c.map(str::to_string)))
        else {
            return;
        };
        self.loading.set(true);
        let generation = self.generation.get_untracked();
        leptos::task::spawn_local(async move {
            let page = client.images(PAGE_SIZE, cursor.as_deref()).await;
            self.take_page(generation, page);
        });
    }

    /// Put a page asked for while the list was `generation` on the list, or its error; a page
    /// of a list since reset is dropped (it may show what the caller may no longer see, or
    /// older images under newer ones).
    fn take_page(self, generation: u32, page: Result<ImagePage, crate::api::ApiError>) {
        if generation != self.generation.get_untracked() {
            return;
        }
        match page {
            Ok(ImagePage {
                images,
                next_cursor,
            }) => {
                self.images.update(|shown| {
                    merge_page(shown, images);
                });
                self.paging.set(Paging::after(next_cursor));
            }
            Err(e) if e.needs_sign_in() => self
                .error
                .set(Some(format!("Sign in to see this gallery ({e})."))),
            Err(e) => self.error.set(Some(e.to_string())),
        }
        self.loading.set(false);
    }

    /// Clear the error and try the failed page again.
    pub fn retry(self, client: Client) {
        self.error.set(None);
        self.load_more(client);
    }

    /// Sign the shown images' links again (they expire: 300 s locally, `private` mode in AWS):
    /// list from the start again, as many pages as are shown (at most 20), and put the fresh
    /// links on the images by id. One renewal at a time, and at most one every 10 s, so an image
    /// that keeps failing to load does not loop.
    pub fn renew(self, client: Client) {
        let now = js_sys::Date::now();
        if self.renewing.get_untracked() || now - self.renewed_at.get_untracked() < 10_000.0 {
            return;
        }
        self.renewing.set(true);
        self.renewed_at.set(now);
        let pages = self
            .images
            .with_untracked(|v| v.len().div_ceil(PAGE_SIZE as usize))
            .clamp(1, 20);
        leptos::task::spawn_local(async move {
            let mut cursor: Option<String> = None;
            let mut fresh = Vec::new();
            for _ in 0..pages {
                match client.images(PAGE_SIZE, cursor.as_deref()).await {
                    Ok(page) => {
                        fresh.extend(page.images);
                        match page.next_cursor {
                            Some(c) if !c.is_empty() => cursor = Some(c),
                            _ => break,
                        }
                    }
                    Err(_) => break,
                }
            }
            self.images.update(|shown| {
                renew_links(shown, &fresh);
            });
            self.renewing.set(false);
        });
    }

    /// Renew the links when one of them expires within [`RENEW_BEFORE_MS`].
    pub fn renew_if_expiring(self, client: Client) {
        let soon = js_sys::Date::now() + RENEW_BEFORE_MS;
        let expiring = self.images.with_untracked(|v| {
            v.iter()
                .filter_map(|i| link_expiry_ms(&i.url))
                .any(|at| at < soon)
        });
        if expiring {
            self.renew(client);
        }
    }

    /// Open the next (`step` 1) or previous (-1) image in the viewer; stays at either end.
    pub fn step_viewer(self, step: i32) {
        let Some(id) = self.viewing.get_untracked() else {
            return;
        };
        let next = self.images.with_untracked(|v| {
            let i = v.iter().position(|img| img.id == id)? as i32 + step;
            v.get(usize::try_from(i).ok()?).map(|img| img.id.clone())
        });
        if let Some(next) = next {
            self.viewing.set(Some(next));
        }
    }

    /// Show a just-finished upload at the top: at once, or with others that finish within
    /// [`ADD_EVERY_MS`] of the last ones shown.
    pub fn add_new(self, image: ImageEntry) {
        let mut schedule = false;
        self.arriving.update_untracked(|images| {
            schedule = images.is_empty();
            images.push(image);
        });
        if !schedule {
            return;
        }
        let wait = self.flushed_at.get_untracked() + ADD_EVERY_MS - crate::util::now_ms();
        if wait <= 0.0 {
            self.flush_new();
        } else {
            set_timeout(
                move || self.flush_new(),
                std::time::Duration::from_millis(wait as u64),
            );
        }
    }

    fn flush_new(self) {
        let Some(arrived) = self.arriving.try_update_untracked(std::mem::take) else {
            return;
        };
        self.flushed_at.set(crate::util::now_ms());
        let shown = self.images.with_untracked(Vec::len);
        let unseen = self.unseen.get_untracked();
        if !goes_on_top(arrived.len(), shown, unseen) {
            self.unseen.set(unseen + arrived.len());
            return;
        }
        self.images.update(|shown| {
            for image in arrived {
                add_newest(shown, image);
            }
        });
    }

    /// Show the finished uploads that waited behind the button: the list starts again from
    /// the newest image.
    pub fn show_unseen(self, client: Client) {
        self.reset();
        self.load_more(client);
    }
}

/// `<section aria-label="Gallery">` of lazy `<img>`s.
#[component]
pub fn GalleryView(
    /// The gallery's state.
    gallery: Gallery,
    /// The API client that loads the pages and deletes images.
    client: Client,
) -> impl IntoView {
    let sentinel = NodeRef::<leptos::html::Div>::new();
    let observer = observe_end(sentinel, gallery, client.clone());
    // Links about to expire are renewed before anyone sees them break.
    let renew_client = client.clone();
    if let Ok(handle) = set_interval_with_handle(
        move || gallery.renew_if_expiring(renew_client.clone()),
        std::time::Duration::from_secs(20),
    ) {
        on_cleanup(move || handle.clear());
    }
    // After every page (or error/retry), look again: if the end is still in view, the
    // observer reports it once more and the next page loads.
    Effect::new(move |_| {
        gallery.images.track();
        gallery.loading.track();
        gallery.error.track();
        if let (Some(el), Some(obs)) = (sentinel.get(), observer.get_value()) {
            obs.unobserve(&el);
            obs.observe(&el);
        }
    });

    let count = move || gallery.images.with(Vec::len);
    let retry_client = client.clone();
    let unseen_client = client.clone();
    let delete_client = client.clone();
    view! {
        <section
            class="gallery"
            aria-label="Gallery"
            aria-busy=move || gallery.loading.get().to_string()
        >
            <div class="section-head">
                <h2>"Gallery"</h2>
                <span class="count">
                    {move || count_label(count(), gallery.paging.with(|p| *p == Paging::End))}
                </span>
            </div>
            <p class="gallery-message" role="status" aria-live="polite">
                {move || gallery.message.get()}
            </p>
            {move || {
                let n = gallery.unseen.get();
                let client = unseen_client.clone();
                (n > 0).then(|| view! {
                    <button class="btn new-images" on:click=move |_| {
                        gallery.show_unseen(client.clone())
                    }>
                        {if n == 1 {
                            "Show 1 new image".to_string()
                        } else {
                            format!("Show {n} new images")
                        }}
                    </button>
                })
            }}
            <ul class="grid" role="list">
                <For each=move || gallery.images.get() key=|img| img.id.clone() let:img>
                    <GalleryItem img=img gallery=gallery client=delete_client.clone()/>
                </For>
            </ul>
            {move || {
                let empty = count() == 0;
                let loading = gallery.loading.get();
                let ended = gallery.paging.with(|p| *p == Paging::End);
                if let Some(err) = gallery.error.get() {
                    let client = retry_client.clone();
                    view! {
                        <div class="state state-error" role="alert">
                            <p><strong>"The gallery could not be loaded."</strong>" "{err}</p>
                            <button class="btn" on:click=move |_| gallery.retry(client.clone())>
                                "Try again"
                            </button>
                        </div>
                    }.into_any()
                } else if empty && ended {
                    view! {
                        <div class="state state-empty">
                            <p class="big">"No images yet"</p>
                            <p>
                                "Drop photos anywhere on this page; they appear here once resized."
                            </p>
                        </div>
                    }.into_any()
                } else if loading {
                    view! {
                        <div class="state state-loading" aria-live="polite">
                            <span class="spinner"></span>
                            "Loading images…"
                        </div>
                    }.into_any()
                } else if ended {
                    view! { <div class="state state-end">"That's everything."</div> }.into_any()
                } else {
                    ().into_any()
                }
            }}
            <div class="sentinel" node_ref=sentinel aria-hidden="true"></div>
            <Viewer gallery=gallery/>
        </section>
    }
}

#[component]
fn GalleryItem(img: ImageEntry, gallery: Gallery, client: Client) -> impl IntoView {
    let alt = alt_text(&img);
    let title = format!(
        "{} · {} · {}",
        format::dims(img.width, img.height),
        format::bytes(img.bytes),
        format::local_date(&img.created)
    );
    let extreme = img.width > 2 * img.height || img.height > 2 * img.width;
    // The link, as renewed: signed links expire, and a tile that scrolls into view later would
    // show a broken image; one that fails to load asks for fresh links.
    let url = {
        let id = img.id.clone();
        let first = img.url.clone();
        move || {
            gallery.images.with(|v| {
                v.iter()
                    .find(|i| i.id == id)
                    .map(|i| i.url.clone())
                    .unwrap_or_else(|| first.clone())
            })
        }
    };
    let href = url.clone();
    let view_id = img.id.clone();
    let renew_client = client.clone();
    let delete = img.can_delete.then(|| {
        let id = img.id.clone();
        let label = format!("Delete image {}", img.id);
        view! {
            <button class="btn btn-quiet tile-delete" aria-label=label
                on:click=move |_| gallery.delete(client.clone(), id.clone())>"Delete"</button>
        }
    });
    view! {
        <li
            class="tile"
            class:extreme=extreme
            data-id=img.id.clone()
            data-can-delete=img.can_delete.to_string()
        >
            <a
                href=href
                target="_blank"
                rel="noopener"
                title=title
                on:click=move |e: leptos::ev::MouseEvent| {
                    // A plain click opens the viewer; with a modifier, the link does as usual.
                    if !(e.ctrl_key() || e.meta_key() || e.shift_key() || e.button() != 0) {
                        e.prevent_default();
                        gallery.viewing.set(Some(view_id.clone()));
                    }
                }
            >
                <img
                    src=url
                    on:error=move |_| gallery.renew(renew_client.clone())
                    alt=alt
                    width=img.width
                    height=img.height
                    loading="lazy"
                    decoding="async"
                />
            </a>
            {delete}
        </li>
    }
}

/// The whole best-fit thumbnail of the image being viewed (tiles crop it to a square), with its
/// size and upload time in the viewer's own time zone and language. Arrow keys move through the
/// gallery, Escape (or the close button, or a click outside) closes it and gives the focus back
/// to the tile.
#[component]
fn Viewer(gallery: Gallery) -> impl IntoView {
    let close_ref = NodeRef::<leptos::html::Button>::new();
    let shown = move || {
        let id = gallery.viewing.get()?;
        gallery.images.with(|v| {
            v.iter()
                .position(|i| i.id == id)
                .map(|n| (n, v[n].clone(), v.len()))
        })
    };
    let close = move || {
        if let Some(id) = gallery.viewing.get_untracked() {
            gallery.viewing.set(None);
            let tile = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| {
                    d.query_selector(&format!("li.tile[data-id=\"{id}\"] a"))
                        .ok()
                })
                .flatten();
            if let Some(el) = tile.and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
                let _ = el.focus();
            }
        }
    };
    let _ = window_event_listener(leptos::ev::keydown, move |e| {
        if gallery.viewing.get_untracked().is_none() {
            return;
        }
        match e.key().as_str() {
            "Escape" => close(),
            "ArrowRight" | "ArrowDown" => gallery.step_viewer(1),
            "ArrowLeft" | "ArrowUp" => gallery.step_viewer(-1),
            _ => return,
        }
        e.prevent_default();
    });
    // The close button takes the focus when the viewer opens.
    Effect::new(move |_| {
        if gallery.viewing.get().is_some() {
            if let Some(b) = close_ref.get() {
                let _ = b.focus();
            }
        }
    });
    move || {
        shown().map(|(n, img, total)| {
            let mut caption = format!(
                "Image {} of {total} · {} · {} · uploaded {}",
                n + 1,
                format::dims(img.width, img.height),
                format::bytes(img.bytes),
                format::local_date(&img.created)
            );
            if let Some(name) = &img.name {
                caption = format!("{name} · {caption}");
            }
            let alt = alt_text(&img);
            view! {
                <div class="viewer" role="dialog" aria-modal="true" aria-label="Image viewer"
                    on:click=move |e: leptos::ev::MouseEvent| {
                        // A click on the backdrop, not on the picture or the controls.
                        if e.target() == e.current_target() {
                            close();
                        }
                    }>
                    <figure class="viewer-frame">
                        <img src=img.url.clone() alt=alt width=img.width height=img.height/>
                        <figcaption data-testid="viewer-caption">{caption}</figcaption>
                    </figure>
                    <div class="viewer-controls">
                        <button class="btn" aria-label="Previous image" disabled=n == 0
                            on:click=move |_| gallery.step_viewer(-1)>"‹"</button>
                        <button class="btn" aria-label="Next image" disabled=n + 1 == total
                            on:click=move |_| gallery.step_viewer(1)>"›"</button>
                        <button class="btn btn-primary" node_ref=close_ref
                            on:click=move |_| close()>"Close"</button>
                    </div>
                </div>
            }
        })
    }
}

/// An image's alt text: its file name, or, when the server recorded none, when it came (in the
/// viewer's own time) and its size.
pub fn alt_text(img: &ImageEntry) -> String {
    match &img.name {
        Some(name) => name.clone(),
        None => format!(
            "Image uploaded {}, {} × {}",
            format::local_date(&img.created),
            img.width,
            img.height
        ),
    }
}

/// An `IntersectionObserver` on the end of the list that asks for the next page.
fn observe_end(
    sentinel: NodeRef<leptos::html::Div>,
    gallery: Gallery,
    client: Client,
) -> StoredValue<Option<web_sys::IntersectionObserver>, LocalStorage> {
    let stored = StoredValue::new_local(None);
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::prelude::*;
        use wasm_bindgen::JsCast;
        let cb = Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
            let visible = entries.iter().any(|e| {
                e.unchecked_into::<web_sys::IntersectionObserverEntry>()
                    .is_intersecting()
            });
            if visible {
                gallery.load_more(client.clone());
            }
        });
        let init = web_sys::IntersectionObserverInit::new();
        init.set_root_margin("600px 0px");
        if let Ok(obs) =
            web_sys::IntersectionObserver::new_with_options(cb.as_ref().unchecked_ref(), &init)
        {
            cb.forget();
            stored.set_value(Some(obs.clone()));
            Effect::new(move |_| {
                if let Some(el) = sentinel.get() {
                    obs.observe(&el);
                }
            });
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (sentinel, gallery, client);
    stored
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiError;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn img(id: &str) -> ImageEntry {
        ImageEntry {
            id: id.into(),
            url: format!("http://s3/{id}.jpg"),
            width: 400,
            height: 300,
            bytes: 1,
            created: "2026-11-29T10:00:00.000Z".into(),
            name: None,
            pixel_sha256: None,
            can_delete: false,
        }
    }

    fn ids(v: &[ImageEntry]) -> Vec<&str> {
        v.iter().map(|i| i.id.as_str()).collect()
    }

    #[wasm_bindgen_test]
    fn alt_text_is_the_file_name_or_when_it_came() {
        let mut i = img("a");
        assert!(
            alt_text(&i).starts_with("Image uploaded "),
            "{}",
            alt_text(&i)
        );
        assert!(alt_text(&i).ends_with(", 400 × 300"), "{}", alt_text(&i));
        i.name = Some("Beach at dawn.jpg".into());
        assert_eq!(alt_text(&i), "Beach at dawn.jpg");
    }

    #[wasm_bindgen_test]
    fn a_page_asked_for_before_a_reset_is_dropped() {
        let g = Gallery::new();
        let page = |ids: &[&str]| {
            Ok(ImagePage {
                images: ids.iter().map(|i| img(i)).collect(),
                next_cursor: Some("more".into()),
            })
        };
        // A page of the list as it was (before signing out, or before "show new images")...
        g.loading.set(true);
        let before = g.generation.get_untracked();
        g.reset();
        assert!(!g.loading.get_untracked(), "the new list may ask at once");
        // ... whose answer comes after the new list's first page: dropped, and the new list's
        // loading state is left alone.
        g.loading.set(true);
        let now = g.generation.get_untracked();
        g.take_page(now, page(&["new"]));
        g.loading.set(true);
        g.take_page(before, page(&["old-1", "old-2"]));
        assert_eq!(ids(&g.images.get_untracked()), ["new"]);
        assert!(g.loading.get_untracked());
        g.take_page(before, Err(ApiError::from_answer(500, "{}")));
        assert_eq!(
            g.error.get_untracked(),
            None,
            "an old page's error is dropped too"
        );
        // A page of the current list is taken.
        g.take_page(now, page(&["older"]));
        assert_eq!(ids(&g.images.get_untracked()), ["new", "older"]);
        assert!(!g.loading.get_untracked());
    }

    #[wasm_bindgen_test]
    fn pages_append_without_duplicates() {
        let mut shown = vec![img("c"), img("b")];
        assert_eq!(merge_page(&mut shown, vec![img("b"), img("a")]), 1);
        assert_eq!(ids(&shown), ["c", "b", "a"]);
    }

    #[wasm_bindgen_test]
    fn finished_uploads_go_on_top_only_while_few() {
        assert!(goes_on_top(1, 0, 0));
        assert!(goes_on_top(INLINE_BATCH, 24, 0));
        assert!(!goes_on_top(INLINE_BATCH + 1, 24, 0), "a large batch waits");
        assert!(goes_on_top(1, INLINE_MAX_TILES - 1, 0));
        assert!(!goes_on_top(1, INLINE_MAX_TILES, 0), "a long list waits");
        assert!(
            !goes_on_top(1, 3, 5),
            "once some wait, the rest wait behind them"
        );
    }

    #[wasm_bindgen_test]
    fn new_uploads_lead() {
        let mut shown = vec![img("b"), img("a")];
        add_newest(&mut shown, img("c"));
        add_newest(&mut shown, img("a"));
        assert_eq!(ids(&shown), ["a", "c", "b"]);
    }

    #[wasm_bindgen_test]
    fn renewed_links_replace_old_ones_by_id() {
        let mut shown = vec![img("a"), img("b"), img("c")];
        let mut fresh_b = img("b");
        fresh_b.url = "https://x/b?new".into();
        let fresh = vec![fresh_b, img("a"), img("z")];
        assert_eq!(renew_links(&mut shown, &fresh), 1);
        assert_eq!(ids(&shown), ["a", "b", "c"]);
        assert_eq!(shown[1].url, "https://x/b?new");
    }

    #[wasm_bindgen_test]
    fn signed_links_say_when_they_expire() {
        let url = "http://127.0.0.1:9000/fitbox-resized/images/x/400x267.jpg?x-id=GetObject\
                   &X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261207T204633Z\
                   &X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=86fd";
        let signed_at = js_sys::Date::parse("2026-12-07T20:46:33Z");
        assert_eq!(link_expiry_ms(url), Some(signed_at + 900_000.0));
        assert_eq!(
            link_expiry_ms("https://cdn.example/images/x/400x267.jpg"),
            None
        );
        assert_eq!(
            link_expiry_ms("https://x/y?X-Amz-Date=2026&X-Amz-Expires=900"),
            None
        );
        assert_eq!(
            link_expiry_ms("https://x/y?X-Amz-Date=20261207T204633Z"),
            None
        );
    }

    #[wasm_bindgen_test]
    fn count_labels() {
        assert_eq!(count_label(0, true), "");
        assert_eq!(count_label(1, true), "1 image");
        assert_eq!(count_label(24, false), "24+ images");
        assert_eq!(count_label(30, true), "30 images");
    }

    #[wasm_bindgen_test]
    fn paging_follows_cursors() {
        assert_eq!(Paging::Start.next_request(), Some(None));
        let p = Paging::after(Some("k1".into()));
        assert_eq!(p.next_request(), Some(Some("k1")));
        assert_eq!(Paging::after(None), Paging::End);
        assert_eq!(Paging::after(Some(String::new())), Paging::End);
        assert_eq!(Paging::End.next_request(), None);
    }
}
