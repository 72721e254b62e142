//! One file's card: what it shows and the only ways it can move.
//!
//! ```text
//! queued --start--> previewing   (queued --cancel--> cancelled, described below)
//!
//! previewing --ok--> ready --start--> uploading --sent--> processing --ready--> done
//!     |                ^  |              |  ^                          |
//!     +-refused-> rejected |   temporary  |  | resume                   +-refused-> rejected
//!                          |   failure -> retrying (counts down, or waits to be online)
//!                          |              +-failed-> failed --retry--> ready
//!                          +-cancel-> cancelled <-cancel-+    (cancelled --retry--> ready)
//! ```
//!
//! A card waits in `queued` while [`crate::controller::PREVIEW_AHEAD`] cards ahead of it hold a
//! preview not yet stored (so 500 dropped files do not hold 500 previews at once); a queued card
//! can be cancelled, and a cancelled card without a preview goes back to `queued` on retry.
//!
//! `data-status` on the card is [`Stage::status`]: `queued | previewing | ready | uploading |
//! retrying | processing | done | rejected`, plus `failed` (a retry by hand may help) and
//! `cancelled`.
//! Which failures are retried, and when, is [`crate::retry`]'s.

use fitbox_api::ImageEntry;

/// What the worker computed: core's preview, minus the pixels (those stay in JS memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewInfo {
    /// Width of the preview's pixels (the thumbnail's size), in px.
    pub width: u32,
    /// Height of the preview's pixels (the thumbnail's size), in px.
    pub height: u32,
    /// Input format id (`jpeg`, `png`, `webp`, `gif`).
    pub format: String,
    /// Width of the original as stored in the file (before `orientation`), in px.
    pub source_width: u32,
    /// Height of the original as stored in the file (before `orientation`), in px.
    pub source_height: u32,
    /// EXIF orientation of the original (1 to 8, 1: as stored), applied to the preview.
    pub orientation: u8,
    /// Whether the image is fully opaque (has no transparency).
    pub opaque: bool,
    /// Hex SHA-256 of the preview's RGBA pixels, compared with the server's thumbnail.
    pub pixel_sha256: String,
}

impl PreviewInfo {
    /// The media type to declare on upload: the sniffed format, not the file name's guess.
    pub fn media_type(&self) -> &'static str {
        fitbox_api::Format::from_id(&self.format)
            .unwrap_or(fitbox_api::Format::Jpeg)
            .media_type()
    }
}

/// Who refused a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectedBy {
    /// The preview (core in the browser): never uploaded.
    Preview,
    /// The API, when asked for a ticket.
    Api,
    /// The server's pipeline, after upload.
    Server,
}

/// Where a card is on its way from file to thumbnail (see the module docs for the moves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// In line for its preview: enough cards ahead of it hold one.
    Queued,
    /// The worker is making the preview (or it waits for the server's config).
    Previewing,
    /// Preview shown; waiting for an upload slot.
    Ready,
    /// Asking for a ticket and sending the bytes to storage.
    Uploading {
        /// Bytes sent so far.
        sent: u64,
        /// Bytes to send in all.
        total: u64,
        /// 1 for the first try, 2 for the first automatic retry...
        attempt: u8,
    },
    /// A try failed for a reason that may pass (network, `429`, `5xx`...); the next one starts
    /// after a countdown, or when the browser is back online.
    Retrying {
        /// The number of the try to come.
        attempt: u8,
        /// Seconds until it starts; `None` while the browser is offline.
        in_s: Option<u32>,
        /// What went wrong with the last try.
        reason: String,
    },
    /// The bytes are stored; the server is making the thumbnail.
    Processing,
    /// The thumbnail is ready.
    Done {
        /// The finished image's gallery entry.
        image: ImageEntry,
        /// Whether the server's pixel SHA-256 equals the preview's (`None`: not reported).
        identical: Option<bool>,
    },
    /// The file was refused; trying again cannot help.
    Rejected {
        /// Who refused it.
        by: RejectedBy,
        /// Why, in the refuser's words.
        reason: String,
    },
    /// Gave up on an error that a retry by hand may fix (network, storage, timeout...).
    Failed {
        /// What went wrong, to show on the card.
        reason: String,
        /// The last try found no network: the upload starts again by itself when the browser
        /// is back online.
        network: bool,
    },
    /// Cancelled by hand while waiting for its upload or during it.
    Cancelled,
}

impl Stage {
    /// The `data-status` value.
    pub fn status(&self) -> &'static str {
        match self {
            Stage::Queued => "queued",
            Stage::Previewing => "previewing",
            Stage::Ready => "ready",
            Stage::Uploading { .. } => "uploading",
            Stage::Retrying { .. } => "retrying",
            Stage::Processing => "processing",
            Stage::Done { .. } => "done",
            Stage::Rejected { .. } => "rejected",
            Stage::Failed { .. } => "failed",
            Stage::Cancelled => "cancelled",
        }
    }

    /// No further automatic step will happen.
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            Stage::Done { .. } | Stage::Rejected { .. } | Stage::Failed { .. } | Stage::Cancelled
        )
    }
}

/// Everything that can happen to a card.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A queued card's preview is asked for.
    PreviewStarted,
    /// The worker made the preview.
    Previewed(PreviewInfo),
    /// The preview refused the file (the reason): it is never uploaded.
    PreviewRefused(String),
    /// The card got an upload slot.
    UploadStarted,
    /// The PUT's progress, from the request's `progress` events.
    Progress {
        /// Bytes sent so far.
        sent: u64,
        /// Bytes to send in all.
        total: u64,
    },
    /// A try failed for a reason that may pass: wait, then try again (sent again as the
    /// countdown moves).
    Retrying {
        /// The number of the try to come.
        attempt: u8,
        /// Seconds until it starts; `None` while offline.
        in_s: Option<u32>,
        /// What went wrong.
        reason: String,
    },
    /// The wait is over: the next try starts.
    Resume,
    /// The API refused the ticket with a client error (the reason).
    ApiRefused(String),
    /// Storage has the bytes; the server makes the thumbnail next.
    Uploaded,
    /// The server finished the thumbnail (the image's gallery entry).
    ServerReady(ImageEntry),
    /// The server's pipeline refused the stored file (the reason).
    ServerRefused(String),
    /// An error that a retry by hand may fix (the reason).
    Failed(String),
    /// No network on the last of the automatic tries (the reason): failed, and started again
    /// by itself once the browser is back online.
    NetworkFailed(String),
    /// The person cancelled the card.
    Cancel,
    /// Try again by hand after `failed` or `cancelled`.
    Retry,
    /// The browser can decode the file the preview refused (see [`Card::convertible`]).
    BrowserReads,
    /// Neither the preview nor the browser reads the file: what to do instead (added to the
    /// reason).
    BrowserCannotRead(String),
}

/// An event that does not apply to the card's stage (a bug, or a late callback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTransition {
    /// The card's stage, as its `data-status` value.
    pub from: &'static str,
    /// The event's variant name, without its fields.
    pub event: String,
}

impl std::fmt::Display for InvalidTransition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} does not apply to a {} card", self.event, self.from)
    }
}

/// One dropped or picked file.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// The card's id in this page, also its preview job and upload queue key.
    pub id: u32,
    /// The file's name, as the browser gives it.
    pub filename: String,
    /// The file's size in bytes.
    pub size: u64,
    /// Where the card is; it moves through [`Card::apply`].
    pub stage: Stage,
    /// What the worker computed, once the preview is made.
    pub preview: Option<PreviewInfo>,
    /// Drop (or pick) to pixels on the canvas, measured in the page.
    pub preview_ms: Option<f64>,
    /// Time spent in the worker's `fitbox_core::preview`.
    pub worker_ms: Option<f64>,
    /// Refused by the preview as a format fitbox does not read, but the browser reads it: the
    /// card offers to convert it in the browser.
    pub convertible: bool,
    /// The media type the browser gave the file (from its name), when it is one fitbox takes:
    /// what a ticket asked for ahead of the preview declares ([`Card::request_ahead`]).
    pub declared_type: Option<&'static str>,
}

impl Card {
    /// A card whose preview is being made ([`Stage::Previewing`]); the page starts every card
    /// with [`Card::queued`].
    pub fn new(id: u32, filename: impl Into<String>, size: u64) -> Self {
        Card::with_stage(id, filename, size, Stage::Previewing)
    }

    /// A card for a file just dropped or picked, in line for its preview ([`Stage::Queued`]).
    pub fn queued(id: u32, filename: impl Into<String>, size: u64) -> Self {
        Card::with_stage(id, filename, size, Stage::Queued)
    }

    fn with_stage(id: u32, filename: impl Into<String>, size: u64, stage: Stage) -> Self {
        Card {
            id,
            filename: filename.into(),
            size,
            stage,
            preview: None,
            preview_ms: None,
            worker_ms: None,
            convertible: false,
            declared_type: None,
        }
    }

    /// The card, with the media type `browser_type` the browser gave its file, kept when
    /// fitbox takes that type.
    pub fn declaring(mut self, browser_type: &str) -> Self {
        self.declared_type =
            fitbox_api::Format::from_media_type(browser_type).map(fitbox_api::Format::media_type);
        self
    }

    /// Apply `event`, or leave the card as it was and say why not.
    pub fn apply(&mut self, event: Event) -> Result<(), InvalidTransition> {
        use Event as E;
        use Stage as S;
        let next = match (&self.stage, event) {
            (S::Queued, E::PreviewStarted) => S::Previewing,
            (S::Previewing, E::Previewed(info)) => {
                self.preview = Some(info);
                S::Ready
            }
            (S::Previewing, E::PreviewRefused(reason)) => S::Rejected {
                by: RejectedBy::Preview,
                reason,
            },
            (S::Ready, E::UploadStarted) => S::Uploading {
                sent: 0,
                total: self.size,
                attempt: 1,
            },
            (S::Uploading { attempt, .. }, E::Progress { sent, total }) => S::Uploading {
                sent: sent.min(total),
                total,
                attempt: *attempt,
            },
            (
                S::Uploading { .. } | S::Retrying { .. },
                E::Retrying {
                    attempt,
                    in_s,
                    reason,
                },
            ) => S::Retrying {
                attempt,
                in_s,
                reason,
            },
            (S::Retrying { attempt, .. }, E::Resume) => S::Uploading {
                sent: 0,
                total: self.size,
                attempt: *attempt,
            },
            (S::Uploading { .. }, E::ApiRefused(reason)) => S::Rejected {
                by: RejectedBy::Api,
                reason,
            },
            (S::Uploading { .. }, E::Uploaded) => S::Processing,
            (S::Processing, E::ServerReady(image)) => {
                let identical = match (&image.pixel_sha256, &self.preview) {
                    (Some(server), Some(p)) => Some(server.eq_ignore_ascii_case(&p.pixel_sha256)),
                    _ => None,
                };
                S::Done { image, identical }
            }
            (S::Processing, E::ServerRefused(reason)) => S::Rejected {
                by: RejectedBy::Server,
                reason,
            },
            (
                S::Previewing | S::Uploading { .. } | S::Retrying { .. } | S::Processing,
                E::Failed(reason),
            ) => S::Failed {
                reason,
                network: false,
            },
            (S::Uploading { .. } | S::Retrying { .. }, E::NetworkFailed(reason)) => S::Failed {
                reason,
                network: true,
            },
            (S::Queued | S::Ready | S::Uploading { .. } | S::Retrying { .. }, E::Cancel) => {
                S::Cancelled
            }
            (S::Failed { .. } | S::Cancelled, E::Retry) if self.preview.is_some() => S::Ready,
            (S::Cancelled, E::Retry) => S::Queued,
            (
                S::Rejected {
                    by: RejectedBy::Preview,
                    ..
                },
                E::BrowserReads,
            ) => {
                self.convertible = true;
                self.stage.clone()
            }
            (
                S::Rejected {
                    by: RejectedBy::Preview,
                    reason,
                },
                E::BrowserCannotRead(advice),
            ) => S::Rejected {
                by: RejectedBy::Preview,
                reason: format!("{reason}. {advice}"),
            },
            (from, event) => {
                return Err(InvalidTransition {
                    from: from.status(),
                    event: format!("{event:?}")
                        .split(['(', ' ', '{'])
                        .next()
                        .unwrap_or("event")
                        .to_string(),
                })
            }
        };
        self.stage = next;
        Ok(())
    }

    /// What its upload asks the API for (`None` before the preview says what the file is).
    pub fn upload_request(&self) -> Option<fitbox_api::UploadRequest> {
        Some(fitbox_api::UploadRequest {
            filename: self.filename.clone(),
            content_type: self.preview.as_ref()?.media_type().to_string(),
            size: self.size,
        })
    }

    /// What the card would ask for, to ask for its ticket ahead while it still waits (for its
    /// preview or an upload slot): the sniffed type once previewed, else the declared one. The
    /// upload uses that ticket only if [`Card::upload_request`] then asks for the same.
    pub fn request_ahead(&self) -> Option<fitbox_api::UploadRequest> {
        if !matches!(self.stage, Stage::Queued | Stage::Previewing | Stage::Ready) {
            return None;
        }
        let content_type = match &self.preview {
            Some(p) => p.media_type(),
            None => self.declared_type?,
        };
        Some(fitbox_api::UploadRequest {
            filename: self.filename.clone(),
            content_type: content_type.to_string(),
            size: self.size,
        })
    }

    /// Whether cancelling applies: the card waits for its preview or its upload, or is
    /// uploading.
    pub fn can_cancel(&self) -> bool {
        matches!(
            self.stage,
            Stage::Queued | Stage::Ready | Stage::Uploading { .. } | Stage::Retrying { .. }
        )
    }

    /// Whether retrying applies: failed with a preview to upload, or cancelled.
    pub fn can_retry(&self) -> bool {
        match self.stage {
            Stage::Failed { .. } => self.preview.is_some(),
            Stage::Cancelled => true,
            _ => false,
        }
    }

    /// Whether the card holds, or is making, a preview that is not yet stored: the cards
    /// [`crate::controller::PREVIEW_AHEAD`] counts.
    pub fn holds_preview(&self) -> bool {
        matches!(
            self.stage,
            Stage::Previewing
                | Stage::Ready
                | Stage::Uploading { .. }
                | Stage::Retrying { .. }
                | Stage::Processing
        )
    }

    /// Upload progress in percent while uploading; 100 once the bytes are stored.
    pub fn progress_percent(&self) -> Option<u8> {
        match &self.stage {
            Stage::Uploading { sent, total, .. } => Some(crate::format::percent(*sent, *total)),
            Stage::Processing | Stage::Done { .. } => Some(100),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn info(sha: &str) -> PreviewInfo {
        PreviewInfo {
            width: 267,
            height: 400,
            format: "jpeg".into(),
            source_width: 3888,
            source_height: 2592,
            orientation: 6,
            opaque: true,
            pixel_sha256: sha.into(),
        }
    }

    fn entry(sha: Option<&str>) -> ImageEntry {
        ImageEntry {
            id: "01J".into(),
            url: "http://127.0.0.1:9000/resized/01J.jpg".into(),
            width: 267,
            height: 400,
            bytes: 20_000,
            created: "2026-11-29T10:00:00.000Z".into(),
            name: None,
            pixel_sha256: sha.map(str::to_string),
            can_delete: false,
        }
    }

    fn uploaded_card(sha: &str) -> Card {
        let mut c = Card::new(1, "a.jpg", 1000);
        c.apply(Event::Previewed(info(sha))).unwrap();
        c.apply(Event::UploadStarted).unwrap();
        c.apply(Event::Uploaded).unwrap();
        c
    }

    #[wasm_bindgen_test]
    fn happy_path_reports_identical_pixels() {
        let mut c = Card::new(1, "a.jpg", 1000);
        assert_eq!(c.stage.status(), "previewing");
        c.apply(Event::Previewed(info("ab"))).unwrap();
        assert_eq!(c.stage.status(), "ready");
        assert!(c.can_cancel());
        c.apply(Event::UploadStarted).unwrap();
        assert_eq!(
            c.stage,
            Stage::Uploading {
                sent: 0,
                total: 1000,
                attempt: 1
            }
        );
        c.apply(Event::Progress {
            sent: 500,
            total: 1000,
        })
        .unwrap();
        assert_eq!(c.progress_percent(), Some(50));
        c.apply(Event::Uploaded).unwrap();
        assert_eq!(c.stage.status(), "processing");
        assert!(!c.can_cancel());
        c.apply(Event::ServerReady(entry(Some("AB")))).unwrap();
        assert_eq!(c.stage.status(), "done");
        assert!(matches!(
            c.stage,
            Stage::Done {
                identical: Some(true),
                ..
            }
        ));
        assert!(c.stage.is_settled());
    }

    #[wasm_bindgen_test]
    fn different_or_missing_server_hash() {
        let mut c = uploaded_card("ab");
        c.apply(Event::ServerReady(entry(Some("cd")))).unwrap();
        assert!(matches!(
            c.stage,
            Stage::Done {
                identical: Some(false),
                ..
            }
        ));
        let mut c = uploaded_card("ab");
        c.apply(Event::ServerReady(entry(None))).unwrap();
        assert!(matches!(
            c.stage,
            Stage::Done {
                identical: None,
                ..
            }
        ));
    }

    #[wasm_bindgen_test]
    fn refused_preview_is_rejected_and_never_uploads() {
        let mut c = Card::new(2, "broken.jpg", 10);
        c.apply(Event::PreviewRefused("JPEG data is truncated".into()))
            .unwrap();
        assert_eq!(c.stage.status(), "rejected");
        assert!(matches!(
            c.stage,
            Stage::Rejected {
                by: RejectedBy::Preview,
                ..
            }
        ));
        let err = c.apply(Event::UploadStarted).unwrap_err();
        assert_eq!(err.from, "rejected");
        assert_eq!(err.event, "UploadStarted");
        assert!(!c.can_retry());
        assert!(!c.can_cancel());
    }

    #[wasm_bindgen_test]
    fn retries_count_down_then_resume_or_fail() {
        let mut c = Card::new(3, "a.jpg", 1000);
        c.apply(Event::Previewed(info("ab"))).unwrap();
        assert!(c
            .apply(Event::Retrying {
                attempt: 2,
                in_s: Some(1),
                reason: "x".into()
            })
            .is_err());
        c.apply(Event::UploadStarted).unwrap();
        c.apply(Event::Progress {
            sent: 900,
            total: 1000,
        })
        .unwrap();
        for in_s in [Some(2), Some(1), None] {
            c.apply(Event::Retrying {
                attempt: 2,
                in_s,
                reason: "the server answered 503".into(),
            })
            .unwrap();
            assert_eq!(c.stage.status(), "retrying");
            assert!(c.can_cancel());
            assert!(c.progress_percent().is_none());
        }
        c.apply(Event::Resume).unwrap();
        assert_eq!(
            c.stage,
            Stage::Uploading {
                sent: 0,
                total: 1000,
                attempt: 2
            }
        );
        assert!(c.apply(Event::Resume).is_err());
        c.apply(Event::NetworkFailed("network error".into()))
            .unwrap();
        assert_eq!(
            c.stage,
            Stage::Failed {
                reason: "network error".into(),
                network: true
            }
        );
        assert!(c.can_retry());
        c.apply(Event::Retry).unwrap();
        assert_eq!(c.stage.status(), "ready");
        // Cancelled during the countdown: the countdown's next tick no longer applies.
        c.apply(Event::UploadStarted).unwrap();
        c.apply(Event::Retrying {
            attempt: 2,
            in_s: Some(3),
            reason: "429".into(),
        })
        .unwrap();
        c.apply(Event::Cancel).unwrap();
        assert!(c.apply(Event::Resume).is_err());
        assert_eq!(c.stage, Stage::Cancelled);
    }

    #[wasm_bindgen_test]
    fn cancel_from_queue_or_upload_then_retry() {
        let mut c = Card::new(4, "a.jpg", 1000);
        assert!(c.apply(Event::Cancel).is_err(), "nothing to cancel yet");
        c.apply(Event::Previewed(info("ab"))).unwrap();
        c.apply(Event::Cancel).unwrap();
        assert_eq!(c.stage.status(), "cancelled");
        c.apply(Event::Retry).unwrap();
        c.apply(Event::UploadStarted).unwrap();
        c.apply(Event::Cancel).unwrap();
        assert_eq!(c.stage, Stage::Cancelled);
        // A late progress event from the aborted request is refused, the card stays cancelled.
        assert!(c
            .apply(Event::Progress {
                sent: 10,
                total: 1000
            })
            .is_err());
        assert_eq!(c.stage, Stage::Cancelled);
    }

    #[wasm_bindgen_test]
    fn queued_cards_wait_for_their_preview_and_can_be_cancelled() {
        let mut c = Card::queued(7, "a.jpg", 1000);
        assert_eq!(c.stage.status(), "queued");
        assert_eq!(
            c.upload_request(),
            None,
            "nothing to ask before the preview"
        );
        assert!(!c.holds_preview());
        assert!(
            c.apply(Event::Previewed(info("ab"))).is_err(),
            "not asked for yet"
        );
        assert!(c.apply(Event::UploadStarted).is_err());
        c.apply(Event::PreviewStarted).unwrap();
        assert_eq!(c.stage, Stage::Previewing);
        assert!(c.holds_preview());
        assert!(c.apply(Event::PreviewStarted).is_err(), "asked once");
        c.apply(Event::Previewed(info("ab"))).unwrap();
        assert!(c.holds_preview());
        assert_eq!(
            c.upload_request(),
            Some(fitbox_api::UploadRequest {
                filename: "a.jpg".into(),
                content_type: "image/jpeg".into(),
                size: 1000,
            })
        );

        // Cancelled in line: nothing to upload, so a retry puts it back in line.
        let mut c = Card::queued(8, "b.jpg", 1000);
        assert!(c.can_cancel());
        c.apply(Event::Cancel).unwrap();
        assert!(!c.holds_preview());
        assert!(c.can_retry());
        c.apply(Event::Retry).unwrap();
        assert_eq!(c.stage, Stage::Queued);
        // Done, refused and failed cards hold no preview.
        let mut c = uploaded_card("ab");
        assert!(c.holds_preview());
        c.apply(Event::ServerReady(entry(Some("ab")))).unwrap();
        assert!(!c.holds_preview());
    }

    #[wasm_bindgen_test]
    fn tickets_are_asked_ahead_for_the_declared_then_the_sniffed_type() {
        // A type fitbox does not take (or none) is not guessed at: no ticket ahead.
        assert_eq!(
            Card::queued(1, "a.bmp", 10)
                .declaring("image/bmp")
                .request_ahead(),
            None
        );
        assert_eq!(Card::queued(1, "a", 10).declaring("").request_ahead(), None);
        let mut c = Card::queued(1, "a.png", 10).declaring("image/png");
        let ahead = c.request_ahead().unwrap();
        assert_eq!((ahead.content_type.as_str(), ahead.size), ("image/png", 10));
        assert_eq!(ahead.filename, "a.png");
        c.apply(Event::PreviewStarted).unwrap();
        assert_eq!(c.request_ahead().unwrap().content_type, "image/png");
        // Named .png, sniffed as JPEG: asked for as JPEG from now on, and the upload asks for
        // the same, so a ticket asked for as PNG is not used.
        c.apply(Event::Previewed(info("ab"))).unwrap();
        assert_eq!(c.request_ahead(), c.upload_request());
        assert_eq!(c.request_ahead().unwrap().content_type, "image/jpeg");
        assert_ne!(c.upload_request(), Some(ahead));
        // Once uploading, nothing more is asked for ahead.
        c.apply(Event::UploadStarted).unwrap();
        assert_eq!(c.request_ahead(), None);
    }

    #[wasm_bindgen_test]
    fn api_and_server_refusals() {
        let mut c = Card::new(5, "a.jpg", 1000);
        c.apply(Event::Previewed(info("ab"))).unwrap();
        c.apply(Event::UploadStarted).unwrap();
        c.apply(Event::ApiRefused("too big".into())).unwrap();
        assert!(matches!(
            c.stage,
            Stage::Rejected {
                by: RejectedBy::Api,
                ..
            }
        ));
        let mut c = uploaded_card("ab");
        c.apply(Event::ServerRefused("corrupt".into())).unwrap();
        assert_eq!(
            c.stage,
            Stage::Rejected {
                by: RejectedBy::Server,
                reason: "corrupt".into()
            }
        );
    }

    #[wasm_bindgen_test]
    fn progress_is_clamped() {
        let mut c = Card::new(6, "a.jpg", 100);
        c.apply(Event::Previewed(info("ab"))).unwrap();
        c.apply(Event::UploadStarted).unwrap();
        c.apply(Event::Progress {
            sent: 150,
            total: 100,
        })
        .unwrap();
        assert_eq!(c.progress_percent(), Some(100));
        assert!(matches!(c.stage, Stage::Uploading { sent: 100, .. }));
    }

    #[wasm_bindgen_test]
    fn media_type_follows_sniffed_format() {
        let mut i = info("ab");
        assert_eq!(i.media_type(), "image/jpeg");
        i.format = "webp".into();
        assert_eq!(i.media_type(), "image/webp");
    }
}
