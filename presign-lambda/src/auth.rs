//! Who is calling, and what they may do.
//!
//! The caller comes from `Authorization: Bearer <token>`, where the token is either
//!
//! * an **upload key** for scripts (`fbk_` and 43 base64url characters: 256 random bits), made
//!   by `fitbox key create` and configured only as the SHA-256 of the key ([`UploadKeys`]); or
//! * an **OpenID Connect token** (ID token or JWT access token) from the configured issuer,
//!   verified here ([`OidcVerifier`]): its signature against the issuer's JWKS (found through
//!   the discovery document and cached), `iss`, `aud` or `client_id`, `exp` and `nbf`, and an
//!   allowed algorithm (RS256/384/512, PS256/384/512, ES256/384; never `none` or a shared-secret
//!   HMAC, so a public key can never be used as an HMAC secret).
//!
//! The [`AccessMode`] says what needs a caller. Roles: [`Role::Uploader`] asks for tickets and
//! deletes its own images; [`Role::Admin`] deletes anything. An OIDC caller is an admin when the
//! role claim (`cognito:groups` by default, a string or an array of strings) holds the admin
//! group (`admin`).

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::error::ApiError;

/// What needs a caller (`FITBOX_ACCESS_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    /// Nothing: anyone may upload, look and delete. For a laptop, on loopback only.
    Open,
    /// Anyone may look at the gallery; uploading, upload status and deleting need a caller.
    SignedInUpload,
    /// Everything but `GET /api/config` needs a caller, and image links are short-lived
    /// signatures, never a public CDN path.
    Private,
}

impl AccessMode {
    /// Every mode, as configured and as `GET /api/config` shows it.
    pub const ALL: [AccessMode; 3] = [
        AccessMode::Open,
        AccessMode::SignedInUpload,
        AccessMode::Private,
    ];

    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessMode::Open => "open",
            AccessMode::SignedInUpload => "signed-in-upload",
            AccessMode::Private => "private",
        }
    }

    /// The mode named `s`.
    pub fn parse(s: &str) -> Option<AccessMode> {
        AccessMode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether looking at the gallery needs a caller.
    pub fn viewing_needs_caller(self) -> bool {
        self == AccessMode::Private
    }

    /// Whether asking for tickets, upload status and deleting need a caller.
    pub fn changes_need_caller(self) -> bool {
        self != AccessMode::Open
    }
}

impl fmt::Display for AccessMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Asks for upload tickets, sees and deletes its own uploads.
    Uploader,
    /// Also deletes anyone's images.
    Admin,
}

impl Role {
    /// The configuration name (`uploader`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Uploader => "uploader",
            Role::Admin => "admin",
        }
    }

    /// The role named `s`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "uploader" => Some(Role::Uploader),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Someone the API knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The owner recorded on their uploads: `oidc:{sub}` or `key:{name}`.
    pub owner: String,
    /// What the caller may do.
    pub role: Role,
}

impl Caller {
    /// Whether this caller may delete an upload owned by `owner` (`None`: owner unknown, as for
    /// images stored before owners were recorded: admins only).
    pub fn may_delete(&self, owner: Option<&str>) -> bool {
        self.role == Role::Admin || owner == Some(self.owner.as_str())
    }
}

// ------------------------------------------------------------------------------------------------
// Upload keys
// ------------------------------------------------------------------------------------------------

/// Prefix of every upload key, so a key is recognisable (and told apart from a JWT) at a glance.
pub const KEY_PREFIX: &str = "fbk_";
/// Random bytes in a key.
const KEY_BYTES: usize = 32;

/// One configured key: its name, role and the SHA-256 of the key. The key itself is never
/// stored: it has 256 random bits, so a fast hash is enough (nothing to brute-force).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadKey {
    /// The key's name (its owner is `key:{name}`).
    pub name: String,
    /// What the key may do.
    pub role: Role,
    /// SHA-256 of the key's secret; the secret itself is stored nowhere.
    pub sha256: [u8; 32],
}

impl UploadKey {
    /// The configuration line `name:role:sha256hex`.
    pub fn config_entry(&self) -> String {
        format!("{}:{}:{}", self.name, self.role.as_str(), hex(&self.sha256))
    }
}

/// A newly made key: the secret (shown once) and what to configure.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// `fbk_...`: give this to the script (`FITBOX_KEY`); it is not stored anywhere.
    pub secret: String,
    /// The entry for the server's `FITBOX_UPLOAD_KEYS`.
    pub key: UploadKey,
}

/// Make a key named `name` with `role` from the operating system's randomness.
pub fn new_key(name: &str, role: Role) -> Result<NewKey, String> {
    check_key_name(name)?;
    let mut bytes = [0u8; KEY_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for the key: {e}"))?;
    let secret = format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    Ok(NewKey {
        key: UploadKey {
            name: name.to_string(),
            role,
            sha256: Sha256::digest(secret.as_bytes()).into(),
        },
        secret,
    })
}

fn check_key_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "key name {name:?}: use 1 to 64 letters, digits, '-', '_' or '.'"
        ))
    }
}

/// The configured upload keys (`FITBOX_UPLOAD_KEYS`: `name:role:sha256hex` entries separated by
/// commas), looked up by the hash of the presented key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadKeys {
    keys: Vec<UploadKey>,
}

impl UploadKeys {
    /// Parse the configuration value; the error names the bad entry and what was expected.
    pub fn parse(value: &str) -> Result<UploadKeys, String> {
        let mut keys: Vec<UploadKey> = Vec::new();
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = |why: &str| format!("entry {entry:?}: {why}");
            let mut parts = entry.split(':');
            let (Some(name), Some(role), Some(hash), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("expected name:role:sha256hex"));
            };
            check_key_name(name).map_err(|e| bad(&e))?;
            let role = Role::parse(role).ok_or_else(|| bad("role must be uploader or admin"))?;
            let sha256 = unhex(hash).ok_or_else(|| bad("expected 64 hex digits of SHA-256"))?;
            if keys.iter().any(|k| k.name == name) {
                return Err(bad("a key of that name is listed twice"));
            }
            keys.push(UploadKey {
                name: name.to_string(),
                role,
                sha256,
            });
        }
        Ok(UploadKeys { keys })
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key whose hash `secret` has.
    fn find(&self, secret: &str) -> Option<&UploadKey> {
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        self.keys.iter().find(|k| k.sha256 == digest)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

// ------------------------------------------------------------------------------------------------
// OpenID Connect
// ------------------------------------------------------------------------------------------------

/// Where OIDC tokens come from and what they must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// `iss` of accepted tokens; the discovery document is at
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The web app's public client id (shown by `GET /api/config` so the page can sign in).
    pub client_id: String,
    /// Accepted `aud` values (ID tokens, most access tokens) or `client_id` values (Cognito's
    /// access tokens carry no `aud`).
    pub audiences: Vec<String>,
    /// The claim holding the caller's groups or roles.
    pub role_claim: String,
    /// The value in [`OidcConfig::role_claim`] that makes a caller an admin.
    pub admin_group: String,
    /// Clock difference allowed for `exp` and `nbf` ([`LEEWAY_SECS`]).
    pub leeway_secs: u64,
}

/// Algorithms accepted in an OIDC token: asymmetric signatures only.
pub const ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// How long fetched keys are used before they are fetched again.
pub const JWKS_TTL: Duration = Duration::from_secs(3600);
/// Least time between two fetches (an unknown `kid` fetches at once, but at most this often,
/// so tokens with made-up key ids cannot make the API hammer the issuer).
pub const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);
/// Time for one request to the issuer (discovery or JWKS), well inside the request timeout.
pub const ISSUER_TIMEOUT: Duration = Duration::from_secs(3);
/// Clock difference allowed for `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;

struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    /// Keys without a `kid` (used only for tokens without one).
    anonymous: Vec<DecodingKey>,
    fetched: Instant,
}

#[derive(Default)]
struct Cache {
    keys: Option<Keys>,
    jwks_uri: Option<String>,
    last_attempt: Option<Instant>,
    /// Why the last fetch failed, until one succeeds.
    last_error: Option<String>,
}

/// Verifies OIDC tokens against the issuer's keys, fetched on first use and cached for
/// [`JWKS_TTL`]. When the issuer cannot be reached, keys already fetched keep being used (a
/// warning is logged) and a token signed by an unknown key is refused; with no keys at all
/// the answer is `503 auth_unavailable`.
pub struct OidcVerifier {
    cfg: OidcConfig,
    http: reqwest::Client,
    cache: Mutex<Cache>,
}

impl fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// The claims fitbox reads; signature, `exp`, `nbf` and `iss` are checked by jsonwebtoken.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    aud: Option<Value>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(flatten)]
    rest: HashMap<String, Value>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl OidcVerifier {
    /// A verifier for `cfg`'s issuer; fails only when no HTTP client can be made.
    pub fn new(cfg: OidcConfig) -> Result<OidcVerifier, String> {
        let http = reqwest::Client::builder()
            .timeout(ISSUER_TIMEOUT)
            .connect_timeout(ISSUER_TIMEOUT)
            .build()
            .map_err(|e| format!("HTTP client for the issuer: {e}"))?;
        Ok(OidcVerifier {
            cfg,
            http,
            cache: Mutex::new(Cache::default()),
        })
    }

    /// The issuer's configuration.
    pub fn config(&self) -> &OidcConfig {
        &self.cfg
    }

    /// The caller a token names, or why it is refused.
    pub async fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| invalid_token(format!("not a signed JWT: {e}")))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(invalid_token(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let key = self.key_for(header.kid.as_deref()).await?;
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.set_issuer(&[self.cfg.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = self.cfg.leeway_secs;
        // `aud` or `client_id` is checked below: Cognito's access tokens have no `aud`.
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| invalid_token(describe_jwt_error(&e)))?;
        let claims = data.claims;
        if !self.audience_ok(&claims) {
            return Err(invalid_token(
                "the token is for another audience (aud / client_id)".into(),
            ));
        }
        if claims.sub.is_empty() {
            return Err(invalid_token("the token has an empty sub".into()));
        }
        let admin = match claims.rest.get(&self.cfg.role_claim) {
            Some(Value::Array(items)) => items
                .iter()
                .any(|v| v.as_str() == Some(self.cfg.admin_group.as_str())),
            Some(Value::String(s)) => s.split([' ', ',']).any(|g| g == self.cfg.admin_group),
            _ => false,
        };
        Ok(Caller {
            owner: format!("oidc:{}", claims.sub),
            role: if admin { Role::Admin } else { Role::Uploader },
        })
    }

    /// `aud` must name an accepted audience when the token has one (a token for another API,
    /// even one issued to our client, is refused); only a token without `aud` (Cognito's
    /// access tokens) is judged by its `client_id`.
    fn audience_ok(&self, claims: &Claims) -> bool {
        let allowed = |s: &str| self.cfg.audiences.iter().any(|a| a == s);
        match &claims.aud {
            Some(Value::String(s)) => allowed(s),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(allowed),
            Some(_) => false,
            None => claims.client_id.as_deref().is_some_and(allowed),
        }
    }

    /// The key for `kid`, fetching the JWKS when it is stale or does not have it.
    async fn key_for(&self, kid: Option<&str>) -> Result<DecodingKey, ApiError> {
        let mut cache = self.cache.lock().await;
        let find = |keys: &Keys| match kid {
            Some(kid) => keys.by_kid.get(kid).cloned(),
            None => keys.anonymous.first().cloned(),
        };
        let fresh = cache
            .keys
            .as_ref()
            .is_some_and(|k| k.fetched.elapsed() < JWKS_TTL);
        if fresh {
            if let Some(key) = cache.keys.as_ref().and_then(find) {
                return Ok(key);
            }
        }
        // Stale keys, or a key id they do not have: ask the issuer, but at most every
        // JWKS_MIN_REFRESH, so neither made-up key ids nor an issuer that is down make every
        // request wait for it.
        let may_fetch = cache
            .last_attempt
            .is_none_or(|t| t.elapsed() >= JWKS_MIN_REFRESH);
        if may_fetch {
            cache.last_attempt = Some(Instant::now());
            match self.fetch(&mut cache).await {
                Ok(keys) => {
                    cache.keys = Some(keys);
                    cache.last_error = None;
                }
                Err(e) if cache.keys.is_some() => {
                    tracing::warn!(
                        error = %e,
                        "cannot refresh the issuer's keys; using the cached ones"
                    );
                    cache.last_error = Some(e);
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot fetch the issuer's keys");
                    cache.last_error = Some(e.clone());
                    return Err(ApiError::AuthUnavailable(e));
                }
            }
        } else if cache.keys.is_none() {
            return Err(ApiError::AuthUnavailable(
                "the issuer could not be reached moments ago".into(),
            ));
        }
        if let Some(key) = cache.keys.as_ref().and_then(find) {
            return Ok(key);
        }
        // A key we do not have while the issuer cannot be asked: it may be a new key of the
        // issuer's, so the answer is "try again", not "sign in again".
        if let Some(e) = &cache.last_error {
            return Err(ApiError::AuthUnavailable(e.clone()));
        }
        Err(invalid_token(match kid {
            Some(kid) => {
                format!("the token is signed by a key the issuer does not list ({kid})")
            }
            None => "the token names no key and the issuer lists none without a kid".into(),
        }))
    }

    async fn fetch(&self, cache: &mut Cache) -> Result<Keys, String> {
        let jwks_uri = match &cache.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.cfg.issuer.trim_end_matches('/')
                );
                let doc: Discovery = self.get_json(&url).await?;
                if doc.issuer != self.cfg.issuer {
                    return Err(format!(
                        "the discovery document names issuer {:?}, not {:?}",
                        doc.issuer, self.cfg.issuer
                    ));
                }
                cache.jwks_uri = Some(doc.jwks_uri.clone());
                doc.jwks_uri
            }
        };
        let set: JwkSet = self.get_json(&jwks_uri).await?;
        let mut keys = Keys {
            by_kid: HashMap::new(),
            anonymous: Vec::new(),
            fetched: Instant::now(),
        };
        for jwk in &set.keys {
            // Encryption keys and keys of algorithms we do not take are left out.
            if jwk
                .common
                .public_key_use
                .as_ref()
                .is_some_and(|u| *u != jsonwebtoken::jwk::PublicKeyUse::Signature)
            {
                continue;
            }
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            match &jwk.common.key_id {
                Some(kid) => {
                    keys.by_kid.insert(kid.clone(), key);
                }
                None => keys.anonymous.push(key),
            }
        }
        if keys.by_kid.is_empty() && keys.anonymous.is_empty() {
            return Err(format!("{jwks_uri} lists no usable signing key"));
        }
        Ok(keys)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", resp.status()));
        }
        resp.json::<T>()
            .await
            .map_err(|e| format!("GET {url}: unexpected answer: {e}"))
    }
}

fn invalid_token(why: String) -> ApiError {
    ApiError::Unauthenticated {
        reason: why,
        token_given: true,
    }
}

/// What was wrong with a token, from jsonwebtoken's error kind (matched on the type, not on
/// its message).
fn describe_jwt_error(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => "the token has expired".into(),
        K::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        K::InvalidSignature => "the token's signature does not verify".into(),
        K::InvalidIssuer => "the token is from another issuer".into(),
        K::InvalidAlgorithm | K::InvalidAlgorithmName => {
            "the token's algorithm is not accepted".into()
        }
        K::MissingRequiredClaim(c) => format!("the token has no {c} claim"),
        _ => format!("the token is malformed ({e})"),
    }
}

// ------------------------------------------------------------------------------------------------
// The whole of it
// ------------------------------------------------------------------------------------------------

/// Who may do what: the mode, the keys and the OIDC verifier, built once at start-up.
#[derive(Debug)]
pub struct Auth {
    /// Who may do what.
    pub mode: AccessMode,
    /// The upload keys accepted.
    pub keys: UploadKeys,
    /// The OpenID issuer's token verifier, when one is configured.
    pub oidc: Option<OidcVerifier>,
}

impl Auth {
    /// Open: no keys, no issuer.
    pub fn open() -> Auth {
        Auth {
            mode: AccessMode::Open,
            keys: UploadKeys::default(),
            oidc: None,
        }
    }

    /// The caller named by the request's `Authorization` header, `None` without one.
    ///
    /// A header that is present but wrong (not `Bearer`, an unknown key, a bad token) is a
    /// `401` even where no caller is needed: a client that means to be someone should learn
    /// that it is not.
    pub async fn caller(&self, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let value = value
            .to_str()
            .map_err(|_| invalid_token("the Authorization header is not ASCII".into()))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid_token("expected Authorization: Bearer <token>".into()))?;
        if token.starts_with(KEY_PREFIX) {
            return match self.keys.find(token) {
                Some(key) => Ok(Some(Caller {
                    owner: format!("key:{}", key.name),
                    role: key.role,
                })),
                None => Err(invalid_token("unknown upload key".into())),
            };
        }
        match &self.oidc {
            Some(oidc) => oidc.verify(token).await.map(Some),
            None => Err(invalid_token(
                "this server takes upload keys only (no OpenID issuer is configured)".into(),
            )),
        }
    }

    /// The caller, who must be there when `needed`.
    pub async fn require(
        &self,
        headers: &HeaderMap,
        needed: bool,
    ) -> Result<Option<Caller>, ApiError> {
        let caller = self.caller(headers).await?;
        if needed && caller.is_none() {
            return Err(ApiError::Unauthenticated {
                reason: format!(
                    "this gallery is {}: sign in, or send an upload key as \
                     Authorization: Bearer",
                    self.mode
                ),
                token_given: false,
            });
        }
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_and_say_what_needs_a_caller() {
        for m in AccessMode::ALL {
            assert_eq!(AccessMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(AccessMode::parse("public"), None);
        assert!(!AccessMode::Open.changes_need_caller());
        assert!(AccessMode::SignedInUpload.changes_need_caller());
        assert!(!AccessMode::SignedInUpload.viewing_needs_caller());
        assert!(AccessMode::Private.viewing_needs_caller());
    }

    #[test]
    fn a_new_key_is_found_by_its_hash_only() {
        let made = new_key("ci", Role::Uploader).expect("key");
        assert!(made.secret.starts_with(KEY_PREFIX));
        assert_eq!(made.secret.len(), KEY_PREFIX.len() + 43);
        let line = made.key.config_entry();
        assert!(!line.contains(&made.secret[KEY_PREFIX.len()..]), "{line}");
        let keys = UploadKeys::parse(&format!("{line}, other:admin:{}", "0".repeat(64))).unwrap();
        let found = keys.find(&made.secret).expect("found");
        assert_eq!((found.name.as_str(), found.role), ("ci", Role::Uploader));
        assert!(keys.find("fbk_wrong").is_none());
        let again = new_key("ci", Role::Uploader).expect("key");
        assert_ne!(again.secret, made.secret);
    }

    #[test]
    fn bad_key_lines_name_the_entry() {
        for bad in [
            "ci",
            "ci:uploader",
            "ci:root:".to_string().as_str(),
            &format!("ci:owner:{}", "0".repeat(64)),
            &format!("ci:admin:{}", "0".repeat(63)),
            &format!("ci:admin:+a{}", "0".repeat(62)),
            &format!("c i:admin:{}", "0".repeat(64)),
            &format!("a:admin:{0},a:admin:{0}", "0".repeat(64)),
        ] {
            let err = UploadKeys::parse(bad).expect_err(bad);
            assert!(err.starts_with("entry "), "{bad}: {err}");
        }
        assert!(UploadKeys::parse("").unwrap().is_empty());
        assert!(new_key("", Role::Admin).is_err());
        assert!(new_key("a/b", Role::Admin).is_err());
    }

    #[test]
    fn only_admins_delete_what_others_own() {
        let alice = Caller {
            owner: "oidc:alice".into(),
            role: Role::Uploader,
        };
        let admin = Caller {
            owner: "oidc:root".into(),
            role: Role::Admin,
        };
        assert!(alice.may_delete(Some("oidc:alice")));
        assert!(!alice.may_delete(Some("oidc:bob")));
        assert!(!alice.may_delete(None));
        assert!(admin.may_delete(Some("oidc:bob")));
        assert!(admin.may_delete(None));
    }

    #[test]
    fn aud_decides_when_present_and_client_id_only_without_it() {
        let v = OidcVerifier::new(OidcConfig {
            issuer: "https://id.example".into(),
            client_id: "web".into(),
            audiences: vec!["web".into(), "api".into()],
            role_claim: "cognito:groups".into(),
            admin_group: "admin".into(),
            leeway_secs: LEEWAY_SECS,
        })
        .expect("verifier");
        let claims = |json: &str| -> Claims { serde_json::from_str(json).expect("claims") };
        for (json, ok) in [
            (r#"{"sub":"a","aud":"web"}"#, true),
            (r#"{"sub":"a","aud":["other","api"]}"#, true),
            // Cognito's access tokens: no aud, the app client in client_id.
            (r#"{"sub":"a","client_id":"web"}"#, true),
            (r#"{"sub":"a","client_id":"other"}"#, false),
            // A token for another API, even one issued to our client, is refused.
            (r#"{"sub":"a","aud":"other","client_id":"web"}"#, false),
            (r#"{"sub":"a","aud":[],"client_id":"web"}"#, false),
            (r#"{"sub":"a","aud":7}"#, false),
            (r#"{"sub":"a"}"#, false),
        ] {
            assert_eq!(v.audience_ok(&claims(json)), ok, "{json}");
        }
    }

    #[tokio::test]
    async fn headers_are_read_strictly() {
        let made = new_key("ci", Role::Admin).unwrap();
        let auth = Auth {
            mode: AccessMode::SignedInUpload,
            keys: UploadKeys::parse(&made.key.config_entry()).unwrap(),
            oidc: None,
        };
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            h
        };
        assert_eq!(auth.caller(&HeaderMap::new()).await.unwrap(), None);
        let caller = auth
            .caller(&with(&format!("Bearer {}", made.secret)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(caller.owner, "key:ci");
        assert_eq!(caller.role, Role::Admin);
        for bad in [
            format!("Basic {}", made.secret),
            "Bearer ".into(),
            "Bearer fbk_nope".into(),
            "Bearer eyJhbGciOiJub25lIn0.e30.".into(),
        ] {
            let err = auth.caller(&with(&bad)).await.expect_err(&bad);
            assert!(
                matches!(err, ApiError::Unauthenticated { .. }),
                "{bad}: {err:?}"
            );
        }
        let err = auth.require(&HeaderMap::new(), true).await.unwrap_err();
        assert!(matches!(
            err,
            ApiError::Unauthenticated {
                token_given: false,
                ..
            }
        ));
    }
}
