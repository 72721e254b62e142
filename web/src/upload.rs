//! PUT a file to a signed URL with `XMLHttpRequest`, the only browser API that reports upload
//! progress; the request can be aborted (cancel).

use fitbox_api::UploadTicket;
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{File, ProgressEvent, XmlHttpRequest};

use crate::urls::browser_sets_itself;

/// How a PUT ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// The store answered 2xx: the bytes are stored.
    Stored,
    /// No HTTP answer: connection refused or reset, offline, CORS. Worth retrying.
    Network,
    /// Cancelled with [`XmlHttpRequest::abort`].
    Aborted,
    /// The store answered with an error (expired or bad signature, wrong size...).
    Refused {
        /// The store's HTTP status.
        status: u16,
        /// A readable message, from the store's S3 error document if any ([`s3_error_message`]).
        message: String,
        /// The answer's `Retry-After` in ms, when the store sent one (and CORS exposes it).
        retry_after_ms: Option<u32>,
    },
}

/// The `<Message>` of an S3 error document, or a generic text.
pub fn s3_error_message(status: u16, body: &str) -> String {
    let tag = |name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{name}>"))? + start;
        let text = body[start..end].trim();
        (!text.is_empty()).then(|| text.to_string())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(msg)) => format!("storage refused the upload ({status} {code}): {msg}"),
        (Some(code), None) => format!("storage refused the upload ({status} {code})"),
        (None, Some(msg)) => format!("storage refused the upload ({status}): {msg}"),
        (None, None) => format!("storage refused the upload ({status})"),
    }
}

/// The value of header `name` (lowercase) in `getAllResponseHeaders()`' text.
fn header_value(headers: &str, name: &str) -> Option<String> {
    headers.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// PUT `file` to `ticket.url` with the ticket's headers. `on_progress(sent, total)` follows the
/// upload; `on_start` receives the request so that the caller can abort it.
pub async fn put(
    ticket: &UploadTicket,
    file: &File,
    on_progress: impl Fn(u64, u64) + 'static,
    on_start: impl FnOnce(&XmlHttpRequest),
) -> Result<PutOutcome, JsValue> {
    let xhr = XmlHttpRequest::new()?;
    let method = if ticket.method.is_empty() {
        "PUT"
    } else {
        ticket.method.as_str()
    };
    xhr.open_with_async(method, &ticket.url, true)?;
    for (name, value) in &ticket.headers {
        if !browser_sets_itself(name) {
            xhr.set_request_header(name, value)?;
        }
    }

    let progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
        if e.length_computable() {
            on_progress(e.loaded() as u64, e.total() as u64);
        }
    });
    let upload = xhr.upload()?;
    upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));

    let mut resolve_slot = None;
    let done = Promise::new(&mut |resolve, _reject| resolve_slot = Some(resolve));
    let resolve = resolve_slot.ok_or("Promise did not call its executor")?;
    let ending = |what: &'static str| {
        let resolve = resolve.clone();
        Closure::<dyn FnMut()>::new(move || {
            let _ = resolve.call1(&JsValue::NULL, &JsValue::from_str(what));
        })
    };
    let (on_load, on_error, on_abort, on_timeout) = (
        ending("load"),
        ending("error"),
        ending("abort"),
        ending("timeout"),
    );
    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    xhr.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
    xhr.set_ontimeout(Some(on_timeout.as_ref().unchecked_ref()));

    on_start(&xhr);
    xhr.send_with_opt_blob(Some(file))?;
    let how = JsFuture::from(done).await?.as_string().unwrap_or_default();

    // Nothing fires after the end; unhook before the closures are dropped all the same.
    upload.set_onprogress(None);
    xhr.set_onload(None);
    xhr.set_onerror(None);
    xhr.set_onabort(None);
    xhr.set_ontimeout(None);
    drop((progress, on_load, on_error, on_abort, on_timeout));

    Ok(match how.as_str() {
        "load" => {
            let status = xhr.status().unwrap_or(0);
            if (200..300).contains(&status) {
                PutOutcome::Stored
            } else {
                let body = xhr.response_text().ok().flatten().unwrap_or_default();
                // From the headers CORS lets the page see (asking for one it hides logs an
                // error in the console).
                let headers = xhr.get_all_response_headers().unwrap_or_default();
                let retry_after = header_value(&headers, "retry-after");
                PutOutcome::Refused {
                    status,
                    message: s3_error_message(status, &body),
                    retry_after_ms: retry_after
                        .and_then(|v| crate::retry::parse_retry_after(&v, js_sys::Date::now())),
                }
            }
        }
        "abort" => PutOutcome::Aborted,
        _ => PutOutcome::Network,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn header_values_are_found_by_name() {
        let h = "content-type: application/xml\r\nRetry-After: 7\r\nx-amz-id: a:b\r\n";
        assert_eq!(header_value(h, "retry-after").as_deref(), Some("7"));
        assert_eq!(header_value(h, "x-amz-id").as_deref(), Some("a:b"));
        assert_eq!(header_value(h, "etag"), None);
        assert_eq!(header_value("", "retry-after"), None);
    }

    #[wasm_bindgen_test]
    fn s3_errors_are_readable() {
        let body = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code>\
                    <Message>Request has expired</Message></Error>";
        assert_eq!(
            s3_error_message(403, body),
            "storage refused the upload (403 AccessDenied): Request has expired"
        );
        assert_eq!(
            s3_error_message(500, ""),
            "storage refused the upload (500)"
        );
        assert_eq!(
            s3_error_message(400, "<Error><Code>BadDigest</Code></Error>"),
            "storage refused the upload (400 BadDigest)"
        );
    }
}
