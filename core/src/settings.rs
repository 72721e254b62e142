//! The pipeline options as both Lambdas (and their local twins) read them from `FITBOX_*`
//! variables: one parser, so the resize function and the presign API can never disagree about
//! the box or the limits. Pure: the caller passes the lookup (`std::env::var`, or a map in tests).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `FITBOX_BOX` | `400x400` | box, `WIDTHxHEIGHT` or one number |
//! | `FITBOX_ENLARGE` | `false` | enlarge images smaller than the box |
//! | `FITBOX_QUALITY` | `85` | JPEG quality 1..=100 |
//! | `FITBOX_MAX_BYTES` | 25 MiB | largest input |
//! | `FITBOX_MAX_PIXELS` | 100 000 000 | most pixels |

use crate::Options;

/// A variable that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}={value:?} is invalid: {reason}")]
pub struct SettingError {
    pub var: &'static str,
    pub value: String,
    pub reason: String,
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
pub fn options_from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Options, SettingError> {
    let var = |name: &'static str| {
        get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let invalid = |var: &'static str, value: &str, reason: &str| SettingError {
        var,
        value: value.to_string(),
        reason: reason.to_string(),
    };
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
            assert!(
                e.var.contains(&k["FITBOX_".len()..]) || e.var.starts_with("FITBOX_BOX/"),
                "{k}={v}: {e}"
            );
        }
    }
}
