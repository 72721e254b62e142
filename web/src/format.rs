//! Display formatting for cards and the gallery.

/// Bytes in the same units as the server's error messages (KiB, MiB).
pub fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    const MIB: f64 = 1024.0 * 1024.0;
    let f = n as f64;
    if f >= MIB {
        format!("{:.1} MiB", f / MIB)
    } else if f >= KIB {
        format!("{:.0} KiB", f / KIB)
    } else if n == 1 {
        "1 byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

/// `5760 × 3840`.
pub fn dims(width: u32, height: u32) -> String {
    format!("{width} × {height}")
}

/// `22.1 MP` (one decimal below 100 MP).
pub fn megapixels(width: u32, height: u32) -> String {
    let mp = width as f64 * height as f64 / 1e6;
    if mp >= 100.0 {
        format!("{mp:.0} MP")
    } else {
        format!("{mp:.1} MP")
    }
}

/// A pixel limit as `100 MP`.
pub fn megapixels_limit(pixels: u64) -> String {
    let mp = pixels as f64 / 1e6;
    if mp >= 10.0 || mp.fract() == 0.0 {
        format!("{mp:.0} MP max")
    } else {
        format!("{mp:.1} MP max")
    }
}

/// Whole percent of `done` out of `total`, clamped to 0..=100; 0 when `total` is 0.
pub fn percent(done: u64, total: u64) -> u8 {
    if total == 0 {
        return 0;
    }
    let p = (done.min(total) as u128 * 100 / total as u128) as u8;
    p.min(100)
}

/// `212 ms` below ten seconds... `1.4 s` from one second on.
pub fn duration_ms(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "–".to_string();
    }
    if ms < 1000.0 {
        format!("{:.0} ms", ms)
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// The first 12 hex digits of a SHA-256, enough to compare by eye.
pub fn short_hash(hex: &str) -> &str {
    let end = hex
        .char_indices()
        .nth(12)
        .map(|(i, _)| i)
        .unwrap_or(hex.len());
    &hex[..end]
}

/// `2026-11-29 10:04 UTC` from an RFC 3339 UTC timestamp (`2026-11-29T10:04:05.123Z`);
/// anything else is shown as it is.
pub fn created(rfc3339: &str) -> String {
    let b = rfc3339.as_bytes();
    let well_formed = b.len() >= 17
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && rfc3339.is_char_boundary(16);
    if well_formed {
        format!("{} {} UTC", &rfc3339[..10], &rfc3339[11..16])
    } else {
        rfc3339.to_string()
    }
}

/// An RFC 3339 time in the viewer's own time zone and language (`7 Dec 2026, 21:15`), by the
/// browser's `Intl`; [`created`] (UTC) when the browser cannot read it.
pub fn local_date(rfc3339: &str) -> String {
    let d = js_sys::Date::new(&rfc3339.into());
    if d.get_time().is_nan() {
        return created(rfc3339);
    }
    let language = web_sys::window()
        .and_then(|w| w.navigator().language())
        .unwrap_or_else(|| "en".into());
    let opts = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&opts, &"dateStyle".into(), &"medium".into());
    let _ = js_sys::Reflect::set(&opts, &"timeStyle".into(), &"short".into());
    d.to_locale_string(&language, &opts).into()
}

/// Human name of an input format id as sent by the worker (`jpeg` -> `JPEG`).
pub fn format_name(id: &str) -> &str {
    match id {
        "jpeg" => "JPEG",
        "png" => "PNG",
        "webp" => "WebP",
        "gif" => "GIF",
        other => other,
    }
}

/// EXIF orientation as a short note, or `None` for upright (1) images.
pub fn orientation(o: u8) -> Option<&'static str> {
    match o {
        2 => Some("mirrored"),
        3 => Some("rotated 180°"),
        4 => Some("flipped"),
        5 => Some("transposed"),
        6 => Some("rotated 90° CW"),
        7 => Some("transversed"),
        8 => Some("rotated 90° CCW"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn bytes_use_server_units() {
        assert_eq!(bytes(0), "0 bytes");
        assert_eq!(bytes(1), "1 byte");
        assert_eq!(bytes(1023), "1023 bytes");
        assert_eq!(bytes(1024), "1 KiB");
        assert_eq!(bytes(500 * 1024), "500 KiB");
        assert_eq!(bytes(2_380_000), "2.3 MiB");
        assert_eq!(bytes(25 * 1024 * 1024), "25.0 MiB");
    }

    #[wasm_bindgen_test]
    fn dims_and_megapixels() {
        assert_eq!(dims(400, 267), "400 × 267");
        assert_eq!(megapixels(5760, 3840), "22.1 MP");
        assert_eq!(megapixels(1, 1), "0.0 MP");
        assert_eq!(megapixels(20000, 14000), "280 MP");
        assert_eq!(megapixels_limit(100_000_000), "100 MP max");
        assert_eq!(megapixels_limit(2_500_000), "2.5 MP max");
    }

    #[wasm_bindgen_test]
    fn percent_is_clamped_and_safe() {
        assert_eq!(percent(0, 0), 0);
        assert_eq!(percent(5, 0), 0);
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(3, 3), 100);
        assert_eq!(percent(9, 3), 100);
        assert_eq!(percent(u64::MAX, u64::MAX), 100);
        assert_eq!(percent(u64::MAX / 2, u64::MAX), 49);
    }

    #[wasm_bindgen_test]
    fn durations() {
        assert_eq!(duration_ms(0.4), "0 ms");
        assert_eq!(duration_ms(212.4), "212 ms");
        assert_eq!(duration_ms(1449.0), "1.4 s");
        assert_eq!(duration_ms(f64::NAN), "–");
        assert_eq!(duration_ms(-1.0), "–");
    }

    #[wasm_bindgen_test]
    fn hashes_and_dates() {
        assert_eq!(short_hash("0123456789abcdef"), "0123456789ab");
        assert_eq!(short_hash("abc"), "abc");
        assert_eq!(created("2026-11-29T10:04:05.123Z"), "2026-11-29 10:04 UTC");
        assert_eq!(created("yesterday"), "yesterday");
        assert_eq!(created("2026-11-29T1é:04:05Z"), "2026-11-29T1é:04:05Z");
    }

    #[wasm_bindgen_test]
    fn names() {
        assert_eq!(format_name("webp"), "WebP");
        assert_eq!(format_name("tiff"), "tiff");
        assert_eq!(orientation(1), None);
        assert_eq!(orientation(6), Some("rotated 90° CW"));
    }
}
