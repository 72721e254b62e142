//! fitbox-web: the browser app.
//!
//! - [`card`], [`queue`], [`urls`], [`format`]: the app's own logic, pure and tested with
//!   `wasm-bindgen-test` in headless Chromium (`scripts/test-web.sh`).
//! - [`protocol`]: the messages between the page and the preview worker (`web/worker`),
//!   which runs `fitbox_core::preview`, the very function the server runs.
//! - [`api`], [`upload`], [`preview`]: the typed API client (fetch), the XHR uploader with
//!   progress/cancel, and the page side of the worker pool.
//! - [`auth`]: signing in with the OpenID provider (code flow with PKCE) and the bearer token.
//! - [`app`], [`gallery`], [`controller`]: the Leptos components and the state they render.
//!
//! Everything compiles natively too (so the workspace's clippy covers it); browser calls only
//! run on `wasm32`.

pub mod api;
pub mod app;
pub mod auth;
pub mod card;
pub mod controller;
pub mod convert;
pub mod entries;
pub mod format;
pub mod gallery;
pub mod preview;
pub mod protocol;
pub mod queue;
pub mod restore;
pub mod retry;
pub mod upload;
pub mod urls;
mod util;

/// Mount the app on `<body>`.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
