//! The page: a drop target over everything, a keyboard-reachable file input, one card per file,
//! and the gallery.

use leptos::ev;
use leptos::prelude::*;

use crate::card::{Card, RejectedBy, Stage};
use crate::controller::{CardHandle, ConfigState, Controller, SignIn};
use crate::entries;
use crate::format;
use crate::gallery::GalleryView;
use crate::retry::Policy;
use crate::urls::ApiBase;

/// `<meta name="fitbox-api" content="https://...">` points the app at another API origin;
/// absent or empty means the page's own origin (`fitbox serve`).
fn api_base() -> ApiBase {
    let content = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector("meta[name=fitbox-api]").ok().flatten())
        .and_then(|m| m.get_attribute("content"))
        .unwrap_or_default();
    ApiBase::new(&content)
}

fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

fn carries_files(ev: &web_sys::DragEvent) -> bool {
    ev.data_transfer()
        .map(|dt| {
            dt.types()
                .iter()
                .any(|t| t.as_string().as_deref() == Some("Files"))
        })
        .unwrap_or(false)
}

/// The whole page: the drop target, the file picker, one card per file and the gallery.
#[component]
pub fn App() -> impl IntoView {
    let ctrl = Controller::new(api_base());
    ctrl.start();

    // Drop anywhere: the whole window is the target; an overlay shows while dragging.
    let dragging = RwSignal::new(false);
    let depth = StoredValue::new(0i32);
    let _ = window_event_listener(ev::dragenter, move |e| {
        if carries_files(&e) {
            e.prevent_default();
            depth.update_value(|d| *d += 1);
            dragging.set(true);
        }
    });
    let _ = window_event_listener(ev::dragover, move |e| {
        if carries_files(&e) {
            e.prevent_default();
            if let Some(dt) = e.data_transfer() {
                dt.set_drop_effect("copy");
            }
        }
    });
    let _ = window_event_listener(ev::dragleave, move |_| {
        depth.update_value(|d| *d = (*d - 1).max(0));
        if depth.get_value() == 0 {
            dragging.set(false);
        }
    });
    let _ = window_event_listener(ev::drop, move |e| {
        e.prevent_default();
        depth.set_value(0);
        dragging.set(false);
        let t0 = e.time_stamp();
        let Some(dt) = e.data_transfer() else {
            return;
        };
        // Folders: every image inside, read after the event (their entries stay readable).
        if let Some(entries) = entries::folder_drop(&dt) {
            leptos::task::spawn_local(async move {
                let found = entries::images_in(entries).await;
                ctrl.add_folder_files(found, t0);
            });
            return;
        }
        let files = files_of(dt.files());
        if !files.is_empty() {
            ctrl.add_files(files, t0);
        }
    });
    // Paste anywhere (Ctrl/Cmd+V): images from the clipboard, named for when they came.
    let _ = window_event_listener(ev::paste, move |e| {
        let Some(dt) = e.clipboard_data() else {
            return;
        };
        let files = entries::pasted(&dt, &js_sys::Date::new_0());
        if !files.is_empty() {
            e.prevent_default();
            ctrl.add_files(files, e.time_stamp());
        }
    });
    // Leaving with files not yet sent asks first (browsers show their own words).
    let _ = window_event_listener(ev::beforeunload, move |e| {
        if ctrl.unsent() > 0 {
            e.prevent_default();
            e.set_return_value("");
        }
    });

    let on_pick = move |e: ev::Event| {
        let t0 = e.time_stamp();
        let input: web_sys::HtmlInputElement = event_target(&e);
        let files = files_of(input.files());
        input.set_value("");
        if !files.is_empty() {
            ctrl.add_files(files, t0);
        }
    };

    let hint = move || {
        ctrl.config.with(|c| match c {
            ConfigState::Ready(cfg) => format!(
                "JPEG, PNG, WebP or GIF · up to {} · {} · thumbnails fit {} × {}",
                format::bytes(cfg.max_bytes),
                format::megapixels_limit(cfg.max_pixels),
                cfg.box_width,
                cfg.box_height
            ),
            _ => "JPEG, PNG, WebP or GIF".to_string(),
        })
    };

    let account = move || match ctrl.sign_in.get() {
        SignIn::SignedIn(who) => view! {
            <span class="who">"Signed in as " <strong>{who}</strong></span>
            <button class="btn btn-quiet" on:click=move |_| ctrl.sign_out()>"Sign out"</button>
        }
        .into_any(),
        SignIn::SignedOut => view! {
            <button class="btn btn-primary" on:click=move |_| ctrl.sign_in()>"Sign in"</button>
        }
        .into_any(),
        SignIn::Unknown | SignIn::NotOffered => ().into_any(),
    };
    let may_upload = move || ctrl.may_upload();
    let sign_in_offered = move || matches!(ctrl.sign_in.get(), SignIn::SignedOut);

    view! {
        <div class="app" class:dragging=move || dragging.get()>
            <header class="topbar">
                <div class="brand">
                    <span class="logo" aria-hidden="true"></span>
                    <span class="name">"fitbox"</span>
                </div>
                <p class="tagline">
                    "What you see before uploading is, pixel for pixel, what the gallery stores."
                </p>
                <div class="account">{account}</div>
            </header>
            <main>
                <section class="dropzone" aria-label="Add images">
                    <div class="drop-icon" aria-hidden="true"></div>
                    <h1>"Drop images anywhere"</h1>
                    <p class="or">"or"</p>
                    <input
                        id="file-input"
                        class="visually-hidden"
                        type="file"
                        multiple
                        accept=fitbox_api::ACCEPTED_TYPES.join(",")
                        on:change=on_pick
                    />
                    <Show
                        when=may_upload
                        fallback=move || view! {
                            <p class="signin-needed">"Sign in to upload images."</p>
                            <Show when=sign_in_offered>
                                <button class="btn btn-primary" on:click=move |_| ctrl.sign_in()>
                                    "Sign in"
                                </button>
                            </Show>
                        }
                    >
                        <label for="file-input" class="btn btn-primary">"Choose files"</label>
                    </Show>
                    <p class="hint">{hint}</p>
                </section>
                {move || {
                    let n = ctrl.restorable.with(Vec::len);
                    (n > 0).then(|| {
                        let what = if n == 1 {
                            "1 file from your last visit was not uploaded.".to_string()
                        } else {
                            format!("{n} files from your last visit were not uploaded.")
                        };
                        view! {
                            <div class="banner" role="alert" data-testid="restore">
                                <span>{what}</span>
                                <button class="btn btn-primary" on:click=move |_| ctrl.restore()>
                                    "Upload them again"
                                </button>
                                <button class="btn" on:click=move |_| ctrl.discard_restorable()>
                                    "Discard"
                                </button>
                            </div>
                        }
                    })
                }}
                {move || ctrl.notice.get().map(|msg| view! {
                    <div class="banner" role="alert">
                        <span>{msg}</span>
                        <button class="btn" on:click=move |_| ctrl.notice.set(None)>
                            "Dismiss"
                        </button>
                    </div>
                })}
                {move || match ctrl.config.get() {
                    ConfigState::Failed(err) => view! {
                        <div class="banner" role="alert">
                            <span>
                                "Cannot load the server's settings: "
                                {err}
                                ". Previews wait until they arrive."
                            </span>
                            <button class="btn" on:click=move |_| ctrl.load_config()>
                                "Try again"
                            </button>
                        </div>
                    }.into_any(),
                    _ => ().into_any(),
                }}
                <Uploads ctrl=ctrl/>
                <GalleryView gallery=ctrl.gallery client=ctrl.client()/>
            </main>
            <div class="visually-hidden" role="status" aria-live="polite" data-testid="announcer">
                {move || ctrl.announcement.get()}
            </div>
            <div class="drop-overlay" aria-hidden="true">
                <div class="drop-overlay-inner">"Drop to add"</div>
            </div>
        </div>
    }
}

#[component]
fn Uploads(ctrl: Controller) -> impl IntoView {
    let any = move || ctrl.cards.with(|c| !c.is_empty());
    let summary = move || {
        let (mut done, mut busy, mut refused) = (0, 0, 0);
        ctrl.cards.with(|cards| {
            for h in cards {
                h.card.with(|c| match c.stage {
                    Stage::Done { .. } => done += 1,
                    Stage::Rejected { .. } | Stage::Failed { .. } => refused += 1,
                    Stage::Cancelled => {}
                    _ => busy += 1,
                })
            }
        });
        let mut parts = Vec::new();
        if busy > 0 {
            parts.push(format!("{busy} in progress"));
        }
        if done > 0 {
            parts.push(format!("{done} done"));
        }
        if refused > 0 {
            parts.push(format!("{refused} not uploaded"));
        }
        parts.join(" · ")
    };
    view! {
        <Show when=any>
            <section class="uploads" aria-label="Uploads">
                <div class="section-head">
                    <h2>"Uploads"</h2>
                    <span class="count" aria-live="polite">{summary}</span>
                    <button class="btn btn-quiet" on:click=move |_| ctrl.clear_finished()>
                        "Clear finished"
                    </button>
                </div>
                <ul class="cards" role="list">
                    <For each=move || ctrl.cards.get() key=|h| h.id let:h>
                        <CardView ctrl=ctrl handle=h/>
                    </For>
                </ul>
            </section>
        </Show>
    }
}

/// What the picture area of a card shows; changes only at a few steps, so the canvas is not
/// rebuilt on every progress event.
#[derive(Debug, Clone, PartialEq)]
enum Picture {
    Waiting,
    Working,
    Preview(u32, u32),
    Server {
        url: String,
        width: u32,
        height: u32,
    },
    Refused,
}

fn picture(c: &Card) -> Picture {
    match (&c.stage, &c.preview) {
        (Stage::Done { image, .. }, _) => Picture::Server {
            url: image.url.clone(),
            width: image.width,
            height: image.height,
        },
        (_, Some(p)) => Picture::Preview(p.width, p.height),
        (Stage::Rejected { .. } | Stage::Failed { .. }, None) => Picture::Refused,
        (Stage::Queued | Stage::Cancelled, None) => Picture::Waiting,
        _ => Picture::Working,
    }
}

#[component]
fn CardView(ctrl: Controller, handle: CardHandle) -> impl IntoView {
    let card = handle.card;
    let id = handle.id;
    let name = card.with_untracked(|c| c.filename.clone());
    let pic = Memo::new(move |_| card.with(picture));
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    Effect::new(move |_| {
        if let Some(el) = canvas.get() {
            ctrl.draw(id, &el);
        }
    });

    let status = move || card.with(|c| c.stage.status());
    let alt_name = name.clone();
    let picture_view = move || match pic.get() {
        Picture::Waiting => {
            view! { <div class="waiting" role="img" aria-label="No preview yet"></div> }.into_any()
        }
        Picture::Working => {
            view! { <div class="shimmer" role="img" aria-label="Making the preview"></div> }
                .into_any()
        }
        Picture::Refused => {
            view! { <div class="refused-icon" aria-hidden="true">"!"</div> }.into_any()
        }
        Picture::Preview(w, h) => view! {
            <canvas
                node_ref=canvas
                width=w
                height=h
                role="img"
                aria-label=format!("Preview of {alt_name}, computed in this browser")
            ></canvas>
        }
        .into_any(),
        Picture::Server { url, width, height } => view! {
            <img
                src=url
                width=width
                height=height
                loading="lazy"
                decoding="async"
                alt=format!("Thumbnail of {alt_name}, made by the server")
            />
        }
        .into_any(),
    };

    let facts = move || {
        card.with(|c| match &c.preview {
            Some(p) => {
                let mut s = format!(
                    "{} · {} → {} · {}",
                    format::format_name(&p.format),
                    format::dims(p.source_width, p.source_height),
                    format::dims(p.width, p.height),
                    format::bytes(c.size)
                );
                if let Some(o) = format::orientation(p.orientation) {
                    s.push_str(&format!(" · EXIF {o}"));
                }
                s
            }
            None => format::bytes(c.size),
        })
    };

    let line = move || {
        card.with(|c| match &c.stage {
            Stage::Queued => {
                "In line · its preview comes when the files ahead are sent".to_string()
            }
            Stage::Previewing => "Making the preview…".to_string(),
            Stage::Ready => "Preview ready · waiting to upload".to_string(),
            Stage::Uploading {
                sent,
                total,
                attempt,
            } => {
                let pct = format::percent(*sent, *total);
                if pct == 100 {
                    return "Sent · waiting for the storage to confirm…".to_string();
                }
                let retry = if *attempt > 1 {
                    format!(" (try {attempt} of {})", Policy::UPLOADS.max_attempts)
                } else {
                    String::new()
                };
                format!(
                    "Uploading {pct}% · {} of {}{retry}",
                    format::bytes(*sent),
                    format::bytes(*total)
                )
            }
            Stage::Retrying {
                attempt,
                in_s,
                reason,
            } => match in_s {
                Some(s) => format!(
                    "Retrying in {s} s (try {attempt} of {}): {reason}",
                    Policy::UPLOADS.max_attempts
                ),
                None => format!("Offline · the upload goes on when the network is back: {reason}"),
            },
            Stage::Processing => "Uploaded · the server is making the thumbnail…".to_string(),
            Stage::Done { image, .. } => format!(
                "Done · {} · {}",
                format::dims(image.width, image.height),
                format::bytes(image.bytes)
            ),
            Stage::Rejected { by, reason } => match by {
                RejectedBy::Preview => format!("Not uploaded: {reason}"),
                RejectedBy::Api => format!("Refused by the server: {reason}"),
                RejectedBy::Server => format!("Rejected by the server: {reason}"),
            },
            Stage::Failed {
                reason,
                network: false,
            } => format!("Upload failed: {reason}"),
            Stage::Failed {
                reason,
                network: true,
            } => format!("Upload failed: {reason} · it starts again when the network is back"),
            Stage::Cancelled => "Cancelled".to_string(),
        })
    };

    let identical = move || {
        card.with(|c| match &c.stage {
            Stage::Done { identical, .. } => identical.map(|b| b.to_string()),
            _ => None,
        })
    };
    let verdict = move || {
        card.with(|c| {
            let Stage::Done { identical, image } = &c.stage else {
                return ().into_any();
            };
            let server = image.pixel_sha256.clone().unwrap_or_default();
            match identical {
                Some(true) => view! {
                    <p class="verdict same" title=format!("pixel SHA-256 {server}")>
                        <span class="dot" aria-hidden="true"></span>
                        "Pixel-identical to the preview · sha256 "
                        <code>{format::short_hash(&server).to_string()}</code>
                    </p>
                }
                .into_any(),
                Some(false) => view! {
                    <p class="verdict differs" title=format!("server {server}")>
                        <span class="dot" aria-hidden="true"></span>
                        "Differs from the preview · server sha256 "
                        <code>{format::short_hash(&server).to_string()}</code>
                    </p>
                }
                .into_any(),
                None => view! {
                    <p class="verdict">"The server did not report a pixel hash."</p>
                }
                .into_any(),
            }
        })
    };
    let progress = move || {
        card.with(|c| match c.stage {
            Stage::Uploading { .. } | Stage::Processing => c.progress_percent(),
            _ => None,
        })
    };
    let timing = move || {
        card.with(|c| {
            c.preview_ms.map(|ms| {
                let worker = c
                    .worker_ms
                    .map(|w| format!(", {} in the worker", format::duration_ms(w)))
                    .unwrap_or_default();
                format!("Preview in {}{worker}", format::duration_ms(ms))
            })
        })
    };

    view! {
        <li
            class="card"
            data-status=status
            data-filename=name.clone()
            data-preview-width=move || {
                card.with(|c| c.preview.as_ref().map(|p| p.width.to_string()))
            }
            data-preview-height=move || {
                card.with(|c| c.preview.as_ref().map(|p| p.height.to_string()))
            }
            data-preview-sha256=move || {
                card.with(|c| c.preview.as_ref().map(|p| p.pixel_sha256.clone()))
            }
            data-preview-ms=move || card.with(|c| c.preview_ms.map(|m| format!("{m:.1}")))
            data-worker-ms=move || card.with(|c| c.worker_ms.map(|m| format!("{m:.1}")))
            data-identical=identical
            data-image-id=move || card.with(|c| match &c.stage {
                Stage::Done { image, .. } => Some(image.id.clone()),
                _ => None,
            })
            data-progress=move || progress().map(|p| p.to_string())
        >
            <div class="picture">{picture_view}</div>
            <div class="body">
                <div class="title-row">
                    <p class="filename" title=name.clone()>{name.clone()}</p>
                    <span class="pill">{status}</span>
                </div>
                <p class="facts">{facts}</p>
                <p class="line">{line}</p>
                {move || progress().map(|p| view! {
                    <div
                        class="bar"
                        role="progressbar"
                        aria-valuemin="0"
                        aria-valuemax="100"
                        aria-valuenow=p
                        aria-label=format!(
                            "Upload of {}",
                            card.with_untracked(|c| c.filename.clone())
                        )
                    >
                        // Scaled, not sized: a moving width lays the page out every frame.
                        <div
                            class="fill"
                            style:transform=format!("scaleX({})", f64::from(p) / 100.0)
                        ></div>
                    </div>
                })}
                {verdict}
                <p class="timing">{timing}</p>
                <div class="actions">
                    <Show when=move || card.with(Card::can_cancel)>
                        <button class="btn btn-quiet" on:click=move |_| ctrl.cancel(id)>
                            "Cancel"
                        </button>
                    </Show>
                    <Show when=move || card.with(Card::can_retry)>
                        <button class="btn" on:click=move |_| ctrl.retry(id)>"Retry"</button>
                    </Show>
                    <Show when=move || card.with(|c| c.convertible)>
                        <p class="convert-note">
                            "Your browser can read this file: it can convert it to PNG (JPEG \
                             when too large) here and upload that instead."
                        </p>
                        <button class="btn btn-primary" on:click=move |_| ctrl.convert(id)>
                            "Convert in the browser and upload"
                        </button>
                    </Show>
                    <Show when=move || card.with(|c| c.stage.is_settled())>
                        <button
                            class="btn btn-quiet"
                            aria-label="Remove from the list"
                            on:click=move |_| ctrl.dismiss(id)
                        >
                            "Remove"
                        </button>
                    </Show>
                </div>
            </div>
        </li>
    }
}
