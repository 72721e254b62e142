//! Signing in with the OpenID provider `GET /api/config` names: the authorization code flow with
//! PKCE for a public client (RFC 7636; no client secret in a page), tokens kept in this tab's
//! `sessionStorage` (gone when the tab closes) and refreshed a minute before they expire.
//!
//! 1. [`sign_in`]: read the issuer's discovery document, make a random verifier and state, keep
//!    them in `sessionStorage`, and go to the authorization endpoint with the verifier's SHA-256
//!    (`code_challenge`, S256) and this page as `redirect_uri`.
//! 2. [`complete_sign_in`], when the page loads with `?code=&state=`: check the state, trade the
//!    code and the verifier for tokens at the token endpoint, and take the query off the URL.
//! 3. [`bearer`]: the token for `Authorization: Bearer` (the access token when it is a JWT,
//!    else the ID token), refreshed first when it is about to expire.
//! 4. [`sign_out`]: forget the tokens here; the next sign-in asks the provider to show its login
//!    page again (`prompt=login`) instead of reusing its session silently.
//!
//! The API checks every token itself; nothing here is trusted for access, the claims are only
//! read to show who is signed in.

use serde::{Deserialize, Serialize};

use fitbox_api::OidcInfo;

/// Tokens of the signed-in person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The OpenID ID token (a JWT), when the provider sent one.
    pub id_token: Option<String>,
    /// The access token; the API gets it only when it is a JWT (see [`Session::bearer`]).
    pub access_token: String,
    /// The refresh token, when the provider sent one: it renews the session before it
    /// expires.
    pub refresh_token: Option<String>,
    /// `Date.now()` milliseconds when the access token expires.
    pub expires_at_ms: f64,
    /// The provider's token endpoint, where the session is renewed.
    pub token_endpoint: String,
    /// This app's OpenID client id at the provider.
    pub client_id: String,
}

impl Session {
    /// The token the API gets: a JWT access token, else the ID token.
    pub fn bearer(&self) -> Option<&str> {
        if is_jwt(&self.access_token) {
            Some(&self.access_token)
        } else {
            self.id_token.as_deref()
        }
    }

    /// Who is signed in, from the ID token's claims (email, name or subject).
    pub fn who(&self) -> String {
        let claims = self
            .id_token
            .as_deref()
            .or(Some(self.access_token.as_str()))
            .and_then(jwt_claims)
            .unwrap_or_default();
        ["email", "preferred_username", "name", "username", "sub"]
            .iter()
            .find_map(|k| claims.get(*k).and_then(|v| v.as_str()).map(str::to_string))
            .unwrap_or_else(|| "signed in".to_string())
    }
}

/// A JWT has three base64url parts.
pub fn is_jwt(token: &str) -> bool {
    token.split('.').count() == 3 && token.split('.').take(2).all(|p| !p.is_empty())
}

/// The claims of a JWT, unverified (display only).
pub fn jwt_claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let payload = token.split('.').nth(1)?;
    let json = base64url_decode(payload)?;
    serde_json::from_slice(&json).ok()
}

/// RFC 4648 base64url without padding.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes: Vec<u8> = s.bytes().filter(|&b| b != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

/// What a sign-in under way keeps across the trip to the provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// The PKCE code verifier; its SHA-256 went to the provider as `code_challenge`.
    pub verifier: String,
    /// The random `state` sent to the provider; the redirect back must carry the same.
    pub state: String,
    /// Where the provider sends the person back; the token request repeats it.
    pub redirect_uri: String,
    /// The provider's token endpoint, where the code is traded for tokens.
    pub token_endpoint: String,
    /// This app's OpenID client id at the provider.
    pub client_id: String,
}

/// The parts of the discovery document used here.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    /// The issuer the document speaks for; it must be the one `GET /api/config` names.
    pub issuer: String,
    /// Where the person is sent to sign in.
    pub authorization_endpoint: String,
    /// Where codes and refresh tokens are traded for tokens.
    pub token_endpoint: String,
}

/// The token endpoint's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenAnswer {
    /// The new access token.
    pub access_token: String,
    /// The ID token, when the provider sent one (a refresh may leave it out).
    #[serde(default)]
    pub id_token: Option<String>,
    /// A refresh token, when the provider sent one (a refresh may leave it out).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires; 300 is assumed when absent.
    #[serde(default)]
    pub expires_in: Option<f64>,
}

impl TokenAnswer {
    /// The session these tokens make; a refresh keeps the old refresh and ID tokens when the
    /// answer has none.
    pub fn into_session(
        self,
        now_ms: f64,
        token_endpoint: &str,
        client_id: &str,
        old: Option<&Session>,
    ) -> Session {
        Session {
            id_token: self
                .id_token
                .or_else(|| old.and_then(|o| o.id_token.clone())),
            refresh_token: self
                .refresh_token
                .or_else(|| old.and_then(|o| o.refresh_token.clone())),
            expires_at_ms: now_ms + self.expires_in.unwrap_or(300.0) * 1000.0,
            access_token: self.access_token,
            token_endpoint: token_endpoint.to_string(),
            client_id: client_id.to_string(),
        }
    }
}

/// The authorization request's URL.
pub fn authorization_url(
    endpoint: &str,
    oidc: &OidcInfo,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
    force_login: bool,
) -> String {
    use crate::urls::encode_component as enc;
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    let mut url = format!(
        "{endpoint}{sep}response_type=code&client_id={}&redirect_uri={}&scope={}&state={}\
         &code_challenge={}&code_challenge_method=S256",
        enc(&oidc.client_id),
        enc(redirect_uri),
        enc(&oidc.scopes),
        enc(state),
        enc(challenge)
    );
    if force_login {
        url.push_str("&prompt=login");
    }
    url
}

#[cfg(target_arch = "wasm32")]
pub use browser::*;

#[cfg(target_arch = "wasm32")]
mod browser {
    use super::*;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    use crate::util::js_message;

    /// `sessionStorage` key of the signed-in session.
    const SESSION_KEY: &str = "fitbox.session";
    /// `sessionStorage` key of a sign-in under way (verifier, state).
    const PENDING_KEY: &str = "fitbox.signin";
    /// `sessionStorage` key set by [`sign_out`]: the next sign-in shows the provider's login page.
    const SIGNED_OUT_KEY: &str = "fitbox.signed-out";
    /// Refresh this long before the token expires.
    const REFRESH_EARLY_MS: f64 = 60_000.0;

    /// How an error of [`fetch_json`] starts when the provider answered with a refusal (as
    /// opposed to not answering at all).
    const REFUSED: &str = "the sign-in service refused";

    fn window() -> Result<web_sys::Window, String> {
        web_sys::window().ok_or_else(|| "no window".to_string())
    }

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.session_storage().ok().flatten()
    }

    fn load<T: serde::de::DeserializeOwned>(key: &str) -> Option<T> {
        let text = storage()?.get_item(key).ok().flatten()?;
        serde_json::from_str(&text).ok()
    }

    fn save<T: Serialize>(key: &str, value: &T) {
        if let (Some(s), Ok(text)) = (storage(), serde_json::to_string(value)) {
            let _ = s.set_item(key, &text);
        }
    }

    fn remove(key: &str) {
        if let Some(s) = storage() {
            let _ = s.remove_item(key);
        }
    }

    /// The current session, if someone is signed in in this tab.
    pub fn session() -> Option<Session> {
        load(SESSION_KEY)
    }

    fn random_string(bytes: usize) -> Result<String, String> {
        let mut buf = vec![0u8; bytes];
        window()?
            .crypto()
            .and_then(|c| c.get_random_values_with_u8_array(&mut buf).map(|_| ()))
            .map_err(|e| format!("no randomness: {}", js_message(&e)))?;
        Ok(base64url(&buf))
    }

    async fn sha256(text: &str) -> Result<Vec<u8>, String> {
        let subtle = window()?.crypto().map_err(|e| js_message(&e))?.subtle();
        let promise = subtle
            .digest_with_str_and_u8_array("SHA-256", text.as_bytes())
            .map_err(|e| js_message(&e))?;
        let buf = JsFuture::from(promise).await.map_err(|e| js_message(&e))?;
        Ok(js_sys::Uint8Array::new(&buf).to_vec())
    }

    async fn fetch_json<T: serde::de::DeserializeOwned>(
        url: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Result<T, String> {
        let init = web_sys::RequestInit::new();
        let headers = web_sys::Headers::new().map_err(|e| js_message(&e))?;
        headers
            .append("accept", "application/json")
            .map_err(|e| js_message(&e))?;
        if let Some(fields) = form {
            init.set_method("POST");
            let params = web_sys::UrlSearchParams::new().map_err(|e| js_message(&e))?;
            for (k, v) in fields {
                params.append(k, v);
            }
            headers
                .append("content-type", "application/x-www-form-urlencoded")
                .map_err(|e| js_message(&e))?;
            init.set_body(&JsValue::from(params.to_string()));
        }
        init.set_headers(&headers);
        let resp: web_sys::Response = JsFuture::from(window()?.fetch_with_str_and_init(url, &init))
            .await
            .map_err(|e| format!("cannot reach the sign-in service ({})", js_message(&e)))?
            .dyn_into()
            .map_err(|_| "not a response".to_string())?;
        let text = JsFuture::from(resp.text().map_err(|e| js_message(&e))?)
            .await
            .map_err(|e| js_message(&e))?
            .as_string()
            .unwrap_or_default();
        if !resp.ok() {
            let detail = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| {
                    v.get("error_description")
                        .or_else(|| v.get("error"))
                        .and_then(|d| d.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| format!("HTTP {}", resp.status()));
            return Err(format!("{REFUSED}: {detail}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("unexpected answer from {url}: {e}"))
    }

    async fn discover(issuer: &str) -> Result<Discovery, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc: Discovery = fetch_json(&url, None).await?;
        if doc.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(format!("the sign-in service says it is {}", doc.issuer));
        }
        Ok(doc)
    }

    /// This page, without query or fragment: where the provider sends people back.
    fn here() -> Result<String, String> {
        let loc = window()?.location();
        Ok(format!(
            "{}{}",
            loc.origin().map_err(|e| js_message(&e))?,
            loc.pathname().map_err(|e| js_message(&e))?
        ))
    }

    /// Go to the provider's sign-in page (the page unloads; an error means it could not).
    pub async fn sign_in(oidc: &OidcInfo) -> Result<(), String> {
        let doc = discover(&oidc.issuer).await?;
        let verifier = random_string(32)?;
        let state = random_string(16)?;
        let challenge = base64url(&sha256(&verifier).await?);
        let redirect_uri = here()?;
        save(
            PENDING_KEY,
            &Pending {
                verifier,
                state: state.clone(),
                redirect_uri: redirect_uri.clone(),
                token_endpoint: doc.token_endpoint.clone(),
                client_id: oidc.client_id.clone(),
            },
        );
        let force_login = storage()
            .and_then(|s| s.get_item(SIGNED_OUT_KEY).ok().flatten())
            .is_some();
        let url = authorization_url(
            &doc.authorization_endpoint,
            oidc,
            &redirect_uri,
            &state,
            &challenge,
            force_login,
        );
        window()?
            .location()
            .assign(&url)
            .map_err(|e| js_message(&e))
    }

    /// Finish a sign-in when the page is the provider's redirect back; `Ok(false)` when it is
    /// not one.
    pub async fn complete_sign_in() -> Result<bool, String> {
        let loc = window()?.location();
        let search = loc.search().unwrap_or_default();
        let params = web_sys::UrlSearchParams::new_with_str(&search).map_err(|e| js_message(&e))?;
        let (code, state, error) = (params.get("code"), params.get("state"), params.get("error"));
        if code.is_none() && error.is_none() {
            return Ok(false);
        }
        // Take the query off the address either way, so a reload does not replay it.
        if let (Ok(history), Ok(url)) = (window()?.history(), here()) {
            let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url));
        }
        let pending: Option<Pending> = load(PENDING_KEY);
        remove(PENDING_KEY);
        if let Some(e) = error {
            let why = params.get("error_description").unwrap_or(e);
            return Err(format!("sign-in did not finish: {why}"));
        }
        let (Some(code), Some(pending)) = (code, pending) else {
            return Err("sign-in did not finish: this tab did not start it".into());
        };
        if state.as_deref() != Some(pending.state.as_str()) {
            return Err("sign-in did not finish: the answer does not match the request".into());
        }
        let answer: TokenAnswer = fetch_json(
            &pending.token_endpoint,
            Some(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &pending.redirect_uri),
                ("client_id", &pending.client_id),
                ("code_verifier", &pending.verifier),
            ]),
        )
        .await?;
        let session = answer.into_session(
            js_sys::Date::now(),
            &pending.token_endpoint,
            &pending.client_id,
            None,
        );
        save(SESSION_KEY, &session);
        remove(SIGNED_OUT_KEY);
        Ok(true)
    }

    thread_local! {
        /// A refresh is under way: other callers wait for it instead of spending the same
        /// refresh token again (providers that rotate refresh tokens refuse, or revoke, reuse).
        static REFRESHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// The token to send, refreshed first when it expires within a minute. `None` when nobody
    /// is signed in, or the provider refused to renew the session (it is then forgotten); when
    /// the provider cannot be reached the old token is sent and the API says what it thinks.
    pub async fn bearer() -> Option<String> {
        for _ in 0..100 {
            if !REFRESHING.with(|r| r.get()) {
                break;
            }
            crate::util::sleep(100).await;
        }
        let session = session()?;
        if js_sys::Date::now() + REFRESH_EARLY_MS < session.expires_at_ms {
            return session.bearer().map(str::to_string);
        }
        let Some(refresh) = session.refresh_token.clone() else {
            forget();
            return None;
        };
        REFRESHING.with(|r| r.set(true));
        let answer: Result<TokenAnswer, String> = fetch_json(
            &session.token_endpoint,
            Some(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &session.client_id),
            ]),
        )
        .await;
        REFRESHING.with(|r| r.set(false));
        match answer {
            Ok(a) => {
                let renewed = a.into_session(
                    js_sys::Date::now(),
                    &session.token_endpoint,
                    &session.client_id,
                    Some(&session),
                );
                save(SESSION_KEY, &renewed);
                renewed.bearer().map(str::to_string)
            }
            Err(e) if e.starts_with(REFUSED) => {
                web_sys::console::warn_1(&format!("fitbox: session ended: {e}").into());
                forget();
                None
            }
            Err(e) => {
                web_sys::console::warn_1(&format!("fitbox: session not renewed yet: {e}").into());
                session.bearer().map(str::to_string)
            }
        }
    }

    fn forget() {
        remove(SESSION_KEY);
    }

    /// Forget this tab's tokens; the next sign-in shows the provider's login page.
    pub fn sign_out() {
        forget();
        if let Some(s) = storage() {
            let _ = s.set_item(SIGNED_OUT_KEY, "1");
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::*;

/// Native builds (clippy, unit tests) have no browser: nobody is signed in.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;

    /// The current session: always `None` without a browser.
    pub fn session() -> Option<Session> {
        None
    }

    /// Always an error: signing in needs a browser.
    pub async fn sign_in(_oidc: &OidcInfo) -> Result<(), String> {
        Err("signing in needs a browser".into())
    }

    /// Never a redirect back from the provider: always `Ok(false)`.
    pub async fn complete_sign_in() -> Result<bool, String> {
        Ok(false)
    }

    /// No token: nobody is signed in without a browser.
    pub async fn bearer() -> Option<String> {
        None
    }

    /// Nothing to forget without a browser.
    pub fn sign_out() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn base64url_matches_rfc_4648_vectors() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(raw.as_bytes()), enc);
            assert_eq!(base64url_decode(enc).as_deref(), Some(raw.as_bytes()));
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url_decode("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(base64url_decode("a"), None);
    }

    #[wasm_bindgen_test]
    fn the_pkce_example_of_rfc_7636_appendix_b() {
        // S256 of the RFC's verifier, computed by the RFC: checks the encoding of a digest.
        let digest = [
            19, 211, 30, 150, 26, 26, 216, 236, 47, 22, 177, 12, 76, 152, 46, 8, 118, 168, 120,
            173, 109, 241, 68, 86, 110, 225, 137, 74, 203, 112, 249, 195,
        ];
        assert_eq!(
            base64url(&digest),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[wasm_bindgen_test]
    fn the_api_gets_a_jwt_and_the_page_shows_who() {
        let claims = base64url(br#"{"sub":"alice","email":"alice@example.test"}"#);
        let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{claims}.c2ln");
        let mut s = Session {
            id_token: Some(jwt.clone()),
            access_token: "opaque".into(),
            refresh_token: None,
            expires_at_ms: 0.0,
            token_endpoint: "https://id.example/token".into(),
            client_id: "web".into(),
        };
        assert_eq!(s.bearer(), Some(jwt.as_str()));
        assert_eq!(s.who(), "alice@example.test");
        s.access_token = jwt.clone();
        assert_eq!(s.bearer(), Some(jwt.as_str()));
        assert!(!is_jwt("opaque"));
    }

    #[wasm_bindgen_test]
    fn the_authorization_request_carries_pkce_and_state() {
        let oidc = OidcInfo {
            issuer: "https://id.example".into(),
            client_id: "fitbox web".into(),
            scopes: "openid email".into(),
        };
        let url = authorization_url(
            "https://id.example/auth",
            &oidc,
            "http://127.0.0.1:8080/",
            "st",
            "ch",
            false,
        );
        assert_eq!(
            url,
            "https://id.example/auth?response_type=code&client_id=fitbox%20web\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2F&scope=openid%20email&state=st\
             &code_challenge=ch&code_challenge_method=S256"
        );
        assert!(
            authorization_url("https://x/a?p=1", &oidc, "r", "s", "c", true)
                .starts_with("https://x/a?p=1&response_type=code")
        );
        assert!(
            authorization_url("https://x/a", &oidc, "r", "s", "c", true).ends_with("&prompt=login")
        );
    }

    #[wasm_bindgen_test]
    fn a_refresh_keeps_what_the_answer_leaves_out() {
        let old = TokenAnswer {
            access_token: "a1".into(),
            id_token: Some("i1".into()),
            refresh_token: Some("r1".into()),
            expires_in: Some(60.0),
        }
        .into_session(1000.0, "t", "c", None);
        assert_eq!(old.expires_at_ms, 61_000.0);
        let new = TokenAnswer {
            access_token: "a2".into(),
            id_token: None,
            refresh_token: None,
            expires_in: None,
        }
        .into_session(2000.0, "t", "c", Some(&old));
        assert_eq!(new.id_token.as_deref(), Some("i1"));
        assert_eq!(new.refresh_token.as_deref(), Some("r1"));
        assert_eq!(new.expires_at_ms, 302_000.0);
    }
}
