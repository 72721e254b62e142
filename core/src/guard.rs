//! The guard: decide what the bytes are from their magic numbers alone (never a file name or a
//! client's content type), read the declared dimensions from the header, and refuse anything
//! over the limits before a single pixel is decoded.

use crate::{Error, Format, Limits};

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The format, from the magic bytes.
    pub format: Format,
    /// Stored (not EXIF-oriented) width as declared by the header.
    pub width: u32,
    /// Stored height as declared by the header.
    pub height: u32,
}

/// Sniff the format and check size and declared dimensions against `limits`.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<Probe, Error> {
    if bytes.is_empty() {
        return Err(Error::Empty);
    }
    let size = bytes.len() as u64;
    if size > limits.max_bytes {
        return Err(Error::TooManyBytes {
            size,
            limit: limits.max_bytes,
        });
    }
    let format = sniff(bytes)?;
    if format == Format::Png && bytes.get(12..16) != Some(b"IHDR") {
        return Err(Error::Corrupt {
            format,
            detail: "the first chunk is not IHDR".into(),
        });
    }
    let dims = imagesize::blob_size(bytes).map_err(|e| Error::Corrupt {
        format,
        detail: format!("cannot read the dimensions from the header ({e})"),
    })?;
    let to_u32 = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    let (width, height) = (to_u32(dims.width), to_u32(dims.height));
    check_dimensions(width, height, limits)?;
    Ok(Probe {
        format,
        width,
        height,
    })
}

/// Refuse zero sides, sides over `max_side`, and more than `max_pixels` pixels.
pub fn check_dimensions(width: u32, height: u32, limits: &Limits) -> Result<(), Error> {
    if width == 0 || height == 0 {
        return Err(Error::BadDimensions {
            width,
            height,
            why: "a side of zero pixels".into(),
        });
    }
    let pixels = width as u64 * height as u64;
    if pixels > limits.max_pixels {
        return Err(Error::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    if width.max(height) > limits.max_side {
        return Err(Error::BadDimensions {
            width,
            height,
            why: format!(
                "the longest side is {} px; the limit is {} px",
                width.max(height),
                limits.max_side
            ),
        });
    }
    Ok(())
}

/// The format by magic bytes; anything but JPEG, PNG, WebP and GIF is refused, naming what it is.
pub fn sniff(bytes: &[u8]) -> Result<Format, Error> {
    // Check the four accepted formats by their magic numbers first.
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Ok(Format::Gif);
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok(Format::Webp);
    }
    if let Some(what) = text_kind(bytes) {
        return Err(Error::NotAnImage { what });
    }
    match imagesize::image_type(bytes) {
        // TGA has no magic number, so a match on it means nothing; treat it as unknown data.
        Ok(imagesize::ImageType::Tga) | Err(_) => Err(Error::NotAnImage {
            what: "unrecognised binary data".into(),
        }),
        Ok(other) => Err(Error::Unsupported {
            detected: detected_name(&other),
        }),
    }
}

fn detected_name(t: &imagesize::ImageType) -> String {
    use imagesize::{Compression, ImageType as T};
    match t {
        T::Heif(Compression::Av1) => "AVIF".into(),
        T::Heif(Compression::Hevc) => "HEIC".into(),
        T::Heif(_) => "HEIF".into(),
        T::Tiff => "TIFF".into(),
        T::Bmp => "BMP".into(),
        T::Ico => "ICO".into(),
        T::Jxl => "JPEG XL".into(),
        T::Psd => "Photoshop PSD".into(),
        T::Exr => "OpenEXR".into(),
        T::Hdr => "Radiance HDR".into(),
        T::Qoi => "QOI".into(),
        T::Dds => "DDS".into(),
        T::Pnm => "PNM".into(),
        other => format!("{other:?}"),
    }
}

/// If the start of the data is text, say what kind (SVG, XML, ImageMagick script, HTML, text).
fn text_kind(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(1024)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let texty = head
        .iter()
        .all(|&b| b >= 0x20 || matches!(b, b'\n' | b'\r' | b'\t' | 0x0C) || b >= 0x80);
    if !texty || std::str::from_utf8(trim_partial_utf8(head)).is_err() {
        return None;
    }
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    let t = lower.trim_start();
    let what = if t.contains("<svg") {
        "SVG (vector image, not accepted)"
    } else if t.starts_with("<?xml") {
        "XML document"
    } else if t.starts_with("<!doctype html") || t.starts_with("<html") {
        "HTML document"
    } else if t.starts_with("push graphic-context") || t.starts_with("viewbox") {
        "ImageMagick MVG script"
    } else if t.starts_with("%!ps") {
        "PostScript document"
    } else if t.starts_with("%pdf") {
        "PDF document"
    } else {
        "text"
    };
    Some(what.into())
}

// A 1024-byte window may cut a UTF-8 sequence in half; drop an incomplete tail.
fn trim_partial_utf8(b: &[u8]) -> &[u8] {
    match std::str::from_utf8(b) {
        Ok(_) => b,
        Err(e) if e.error_len().is_none() => &b[..e.valid_up_to()],
        Err(_) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn refuses_empty_and_oversize_before_anything_else() {
        assert_eq!(probe(b"", &limits()), Err(Error::Empty));
        let small = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            probe(&[0xFF; 11], &small),
            Err(Error::TooManyBytes {
                size: 11,
                limit: 10
            })
        ));
    }

    #[test]
    fn names_text_and_scripts() {
        let e = sniff(b"push graphic-context\nviewbox 0 0 640 480\n").unwrap_err();
        assert_eq!(e.code(), "not_an_image");
        assert!(e.to_string().contains("MVG"), "{e}");
        let e = sniff(b"<?xml version=\"1.0\"?><svg xmlns=\"...\"/>").unwrap_err();
        assert!(e.to_string().contains("SVG"), "{e}");
        let e = sniff(b"test corrupt 'image'").unwrap_err();
        assert!(e.to_string().contains("text"), "{e}");
    }

    #[test]
    fn names_other_image_formats() {
        let mut heic = vec![0, 0, 0, 0x18];
        heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        assert_eq!(
            sniff(&heic),
            Err(Error::Unsupported {
                detected: "HEIC".into()
            })
        );
        let tiff = b"II*\0\x08\0\0\0\0\0\0\0\0\0\0\0";
        assert_eq!(
            sniff(tiff),
            Err(Error::Unsupported {
                detected: "TIFF".into()
            })
        );
    }

    #[test]
    fn dimension_limits() {
        let l = Limits::default();
        assert!(check_dimensions(1, 1, &l).is_ok());
        assert!(matches!(
            check_dimensions(0, 5, &l),
            Err(Error::BadDimensions { .. })
        ));
        assert!(matches!(
            check_dimensions(20000, 14000, &l),
            Err(Error::TooManyPixels { .. })
        ));
        assert!(matches!(
            check_dimensions(l.max_side + 1, 1, &l),
            Err(Error::BadDimensions { .. })
        ));
    }
}
