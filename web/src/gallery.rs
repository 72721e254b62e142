//! The gallery: newest first from `GET /api/images`, the next page loaded as the end of the
//! list scrolls into view, lazy images with their size set, empty and error states, and new
//! uploads added at the top without a reload.

use fitbox_api::{ImageEntry, ImagePage};
use leptos::prelude::*;

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
        }
    }

    /// Allow loading, and load the first page.
    pub fn start(self, client: Client) {
        self.started.set(true);
        self.load_more(client);
    }

    /// Forget every page (after signing out, what may be seen or deleted changes).
    pub fn reset(self) {
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
        leptos::task::spawn_local(async move {
            match client.images(PAGE_SIZE, cursor.as_deref()).await {
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
        });
    }

    /// Clear the error and try the failed page again.
    pub fn retry(self, client: Client) {
        self.error.set(None);
        self.load_more(client);
    }

    /// Show a just-finished upload at the top.
    pub fn add_new(self, image: ImageEntry) {
        self.images.update(|shown| add_newest(shown, image));
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
        </section>
    }
}

#[component]
fn GalleryItem(img: ImageEntry, gallery: Gallery, client: Client) -> impl IntoView {
    let alt = format!(
        "Image {}, {} × {}, uploaded {}",
        img.id,
        img.width,
        img.height,
        format::created(&img.created)
    );
    let title = format!(
        "{} · {} · {}",
        format::dims(img.width, img.height),
        format::bytes(img.bytes),
        format::created(&img.created)
    );
    let extreme = img.width > 2 * img.height || img.height > 2 * img.width;
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
            <a href=img.url.clone() target="_blank" rel="noopener" title=title>
                <img
                    src=img.url.clone()
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
    use wasm_bindgen_test::wasm_bindgen_test;

    fn img(id: &str) -> ImageEntry {
        ImageEntry {
            id: id.into(),
            url: format!("http://s3/{id}.jpg"),
            width: 400,
            height: 300,
            bytes: 1,
            created: "2026-11-29T10:00:00.000Z".into(),
            pixel_sha256: None,
            can_delete: false,
        }
    }

    fn ids(v: &[ImageEntry]) -> Vec<&str> {
        v.iter().map(|i| i.id.as_str()).collect()
    }

    #[wasm_bindgen_test]
    fn pages_append_without_duplicates() {
        let mut shown = vec![img("c"), img("b")];
        assert_eq!(merge_page(&mut shown, vec![img("b"), img("a")]), 1);
        assert_eq!(ids(&shown), ["c", "b", "a"]);
    }

    #[wasm_bindgen_test]
    fn new_uploads_lead() {
        let mut shown = vec![img("b"), img("a")];
        add_newest(&mut shown, img("c"));
        add_newest(&mut shown, img("a"));
        assert_eq!(ids(&shown), ["a", "c", "b"]);
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
