//! fitbox-api: the words the parts of fitbox share. The JSON of the presign HTTP API, the
//! pipeline's settings as the browser receives them, the accepted formats and media types, the
//! S3 key scheme and its metadata names, percent-encoding and timestamps.
//!
//! Plain data and pure functions, for every target (the browser page depends on this crate
//! alone; the pipeline is `fitbox-core`).
//!
//! - [`json`]: request and response bodies (also re-exported here).
//! - [`format`], [`options`]: formats, media types, the box and the limits.
//! - [`keys`]: where originals, thumbnails, owner records and tombstones live.
//! - [`percent`]: every percent-encoding fitbox does; [`time`]: RFC 3339.

pub mod format;
pub mod json;
pub mod keys;
pub mod options;
pub mod percent;
pub mod time;

pub use format::{Format, OutputFormat, ACCEPTED_TYPES};
pub use json::*;
pub use options::{InvalidOptions, Limits, Options, DEFAULT_BOX, DEFAULT_QUALITY};
