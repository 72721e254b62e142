//! The pipeline options as both Lambdas (and their local twins) read them from `FITBOX_*`
//! variables: one parser, so the resize function and the presign API can never disagree about
//! the box or the limits, and one reader ([`Vars`]) and error type ([`ConfigError`]) for the rest
//! of their configuration. Pure: the caller passes the lookup (`std::env::var`, or a map in
//! tests).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `FITBOX_BOX` | `400x400` | box, `WIDTHxHEIGHT` or one number |
//! | `FITBOX_ENLARGE` | `false` | enlarge images smaller than the box |
//! | `FITBOX_QUALITY` | `85` | JPEG quality 1..=100 |
//! | `FITBOX_MAX_BYTES` | 25 MiB | largest input |
//! | `FITBOX_MAX_PIXELS` | 100 000 000 | most pixels |

use fitbox_api::Options;

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable is not set (or empty).
    #[error("{0} must be set")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("{var}={value:?} is invalid: {reason}")]
    Invalid {
        /// The variable's name.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigError {
    /// `var` is set to `value`, which cannot be used because of `reason`.
    pub fn invalid(var: &'static str, value: &str, reason: &str) -> Self {
        ConfigError::Invalid {
            var,
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Reads `FITBOX_*` variables through a lookup: values are trimmed, and empty ones count as
/// unset.
pub struct Vars<F> {
    get: F,
}

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    /// Variables read through `get` (`|k| std::env::var(k).ok()`, or a map in tests).
    pub fn new(get: F) -> Self {
        Vars { get }
    }

    /// The trimmed value, `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.get)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// The value, or [`ConfigError::Missing`].
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }

    /// An `http://` or `https://` URL with a host, if set.
    pub fn http_url(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match self.get(name) {
            Some(v) if !is_http_url(&v) => {
                Err(ConfigError::invalid(name, &v, "expected an http(s):// URL"))
            }
            v => Ok(v),
        }
    }

    /// The pipeline options ([`options_from_lookup`]).
    pub fn options(&self) -> Result<Options, ConfigError> {
        options_from_lookup(|k| self.get(k))
    }
}

/// `http://` or `https://`, then a host (no whitespace).
pub fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    matches!(
        rest,
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace)
    )
}

/// `400x300` -> (400, 300); `400` -> (400, 400).
pub fn parse_box(s: &str) -> Option<(u32, u32)> {
    match s.split_once(['x', 'X']) {
        Some((w, h)) => Some((w.trim().parse().ok()?, h.trim().parse().ok()?)),
        None => {
            let side = s.trim().parse().ok()?;
            Some((side, side))
        }
    }
}

/// Read the options from `get` (unset or blank variables keep their defaults), then validate.
pub fn options_from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Options, ConfigError> {
    let vars = Vars::new(get);
    let var = |name: &'static str| vars.get(name);
    let invalid = ConfigError::invalid;
    let mut options = Options::default();
    if let Some(v) = var("FITBOX_BOX") {
        let (w, h) = parse_box(&v)
            .ok_or_else(|| invalid("FITBOX_BOX", &v, "expected WIDTHxHEIGHT or one number"))?;
        options.box_width = w;
        options.box_height = h;
    }
    if let Some(v) = var("FITBOX_ENLARGE") {
        options.enlarge = match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => return Err(invalid("FITBOX_ENLARGE", &v, "expected true or false")),
        };
    }
    if let Some(v) = var("FITBOX_QUALITY") {
        options.quality = v
            .parse()
            .map_err(|_| invalid("FITBOX_QUALITY", &v, "expected 1..=100"))?;
    }
    if let Some(v) = var("FITBOX_MAX_BYTES") {
        options.limits.max_bytes = v
            .parse()
            .map_err(|_| invalid("FITBOX_MAX_BYTES", &v, "expected a byte count"))?;
    }
    if let Some(v) = var("FITBOX_MAX_PIXELS") {
        options.limits.max_pixels = v
            .parse()
            .map_err(|_| invalid("FITBOX_MAX_PIXELS", &v, "expected a pixel count"))?;
    }
    options
        .validate()
        .map_err(|e| invalid("FITBOX_BOX/QUALITY/MAX_*", "", &e.to_string()))?;
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(
            options_from_lookup(lookup(&[])).unwrap(),
            Options::default()
        );
        let o = options_from_lookup(lookup(&[
            ("FITBOX_BOX", "300x200"),
            ("FITBOX_ENLARGE", "yes"),
            ("FITBOX_QUALITY", "70"),
            ("FITBOX_MAX_BYTES", "1000"),
            ("FITBOX_MAX_PIXELS", "5000"),
        ]))
        .unwrap();
        assert_eq!(
            (o.box_width, o.box_height, o.enlarge, o.quality),
            (300, 200, true, 70)
        );
        assert_eq!((o.limits.max_bytes, o.limits.max_pixels), (1000, 5000));
        assert_eq!(parse_box(" 256 "), Some((256, 256)));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            ("FITBOX_BOX", "big"),
            ("FITBOX_BOX", "0x10"),
            ("FITBOX_ENLARGE", "maybe"),
            ("FITBOX_QUALITY", "101"),
            ("FITBOX_MAX_BYTES", "-1"),
            ("FITBOX_MAX_PIXELS", "0"),
        ] {
            let pairs = [(k, v)];
            let e = options_from_lookup(lookup(&pairs)).unwrap_err();
            let ConfigError::Invalid { var, .. } = &e else {
                panic!("{k}={v}: {e:?}");
            };
            assert!(
                var.contains(&k["FITBOX_".len()..]) || var.starts_with("FITBOX_BOX/"),
                "{k}={v}: {e}"
            );
        }
    }

    #[test]
    fn vars_trim_require_and_check_urls() {
        let pairs = [
            ("A", "  x "),
            ("BLANK", "   "),
            ("U", "https://s3.example.com"),
            ("BAD", "s3.example.com"),
        ];
        let vars = Vars::new(lookup(&pairs));
        assert_eq!(vars.get("A").as_deref(), Some("x"));
        assert_eq!(vars.get("BLANK"), None);
        assert_eq!(vars.required("BLANK"), Err(ConfigError::Missing("BLANK")));
        assert_eq!(
            vars.http_url("U").unwrap().as_deref(),
            Some("https://s3.example.com")
        );
        assert_eq!(vars.http_url("NONE").unwrap(), None);
        assert!(matches!(
            vars.http_url("BAD"),
            Err(ConfigError::Invalid { var: "BAD", .. })
        ));
        for bad in ["http://", "https:///x", "ftp://h", "http://a b"] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
