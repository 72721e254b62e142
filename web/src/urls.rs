//! URLs of the API, and which signed headers a browser may (and must not) set itself.

/// Rows per gallery page (the API allows 1..=100).
pub const PAGE_SIZE: u32 = 24;

pub use fitbox_api::percent::encode_component;

/// The API's base: `""` for the page's own origin, or an origin such as
/// `https://api.example.com` (no trailing slash is kept).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiBase(String);

impl ApiBase {
    /// `base` without surrounding spaces or trailing slashes; `""` is the page's own origin.
    pub fn new(base: &str) -> Self {
        ApiBase(base.trim().trim_end_matches('/').to_string())
    }

    fn join(&self, path: &str) -> String {
        format!("{}/api/{}", self.0, path)
    }

    /// `GET /api/config`.
    pub fn config(&self) -> String {
        self.join("config")
    }

    /// `POST /api/uploads`.
    pub fn uploads(&self) -> String {
        self.join("uploads")
    }

    /// `DELETE /api/images/{id}`.
    pub fn image(&self, id: &str) -> String {
        self.join(&format!("images/{}", encode_component(id)))
    }

    /// `GET /api/uploads/{id}`.
    pub fn upload_status(&self, id: &str) -> String {
        self.join(&format!("uploads/{}", encode_component(id)))
    }

    /// `GET /api/images?limit=&cursor=`; `limit` is clamped to the API's 1..=100.
    pub fn images(&self, limit: u32, cursor: Option<&str>) -> String {
        let mut url = self.join(&format!("images?limit={}", limit.clamp(1, 100)));
        if let Some(c) = cursor.filter(|c| !c.is_empty()) {
            url.push_str("&cursor=");
            url.push_str(&encode_component(c));
        }
        url
    }
}

/// Headers that `XMLHttpRequest.setRequestHeader` refuses (the browser sets them itself, e.g.
/// `Content-Length` from the body); a signed ticket's others must be sent exactly.
pub fn browser_sets_itself(header: &str) -> bool {
    const FORBIDDEN: [&str; 21] = [
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    ];
    let h = header.trim().to_ascii_lowercase();
    FORBIDDEN.contains(&h.as_str()) || h.starts_with("proxy-") || h.starts_with("sec-")
}

/// The Trunk-built preview worker's loader, resolved against the app's public URL (not the
/// document's path, so client-side routes cannot break it). Trunk does not content-hash worker
/// files: the server must let browsers revalidate them (ETag / no-cache).
pub fn worker_url(public_url: &str) -> String {
    let base = public_url.trim_end_matches('/');
    format!("{base}/worker_loader.js")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn same_origin_paths() {
        let api = ApiBase::new("");
        assert_eq!(api.config(), "/api/config");
        assert_eq!(api.uploads(), "/api/uploads");
        assert_eq!(api.upload_status("01JD2X"), "/api/uploads/01JD2X");
        assert_eq!(api.images(24, None), "/api/images?limit=24");
    }

    #[wasm_bindgen_test]
    fn other_origin_and_trailing_slash() {
        let api = ApiBase::new("https://api.example.com/ ");
        assert_eq!(api.config(), "https://api.example.com/api/config");
    }

    #[wasm_bindgen_test]
    fn cursor_and_ids_are_encoded() {
        let api = ApiBase::new("");
        assert_eq!(
            api.images(500, Some("a+b/c=d&e f")),
            "/api/images?limit=100&cursor=a%2Bb%2Fc%3Dd%26e%20f"
        );
        assert_eq!(api.images(0, Some("")), "/api/images?limit=1");
        assert_eq!(api.upload_status("../x?y"), "/api/uploads/..%2Fx%3Fy");
        assert_eq!(encode_component("é~_.-"), "%C3%A9~_.-");
    }

    #[wasm_bindgen_test]
    fn signed_headers_the_browser_sets_itself() {
        assert!(browser_sets_itself("Content-Length"));
        assert!(browser_sets_itself("host"));
        assert!(browser_sets_itself("Sec-Fetch-Mode"));
        assert!(!browser_sets_itself("content-type"));
        assert!(!browser_sets_itself("x-amz-meta-filename"));
    }

    #[wasm_bindgen_test]
    fn worker_url_is_absolute_from_public_url() {
        assert_eq!(worker_url("/"), "/worker_loader.js");
        assert_eq!(worker_url("/app/"), "/app/worker_loader.js");
        assert_eq!(worker_url(""), "/worker_loader.js");
    }
}
