//! The image formats fitbox takes in and writes out, and their names: one list, from which the
//! accepted media types, JSON ids and display names all come.

use serde::{Deserialize, Serialize};

/// Input formats fitbox accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// JPEG (baseline and progressive; YCbCr, grey, CMYK, YCCK).
    Jpeg,
    /// PNG (and APNG's first frame).
    Png,
    /// WebP, lossy and lossless (animated: the first frame).
    Webp,
    /// GIF (animated: the first frame).
    Gif,
}

/// Media types the service accepts for upload, in [`Format::ALL`]'s order.
pub const ACCEPTED_TYPES: [&str; 4] = [
    Format::ALL[0].media_type(),
    Format::ALL[1].media_type(),
    Format::ALL[2].media_type(),
    Format::ALL[3].media_type(),
];

impl Format {
    /// Every accepted format.
    pub const ALL: [Format; 4] = [Format::Jpeg, Format::Png, Format::Webp, Format::Gif];

    /// Display name (`JPEG`, `WebP`).
    pub const fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::Webp => "WebP",
            Format::Gif => "GIF",
        }
    }

    /// Media type (`image/jpeg`).
    pub const fn media_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
            Format::Gif => "image/gif",
        }
    }

    /// Lowercase name, as in JSON and S3 metadata.
    pub const fn id(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Gif => "gif",
        }
    }

    /// The format with this [`Format::id`].
    pub fn from_id(id: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.id() == id)
    }

    /// The format with this [`Format::media_type`] (exactly, as the API compares them).
    pub fn from_media_type(media_type: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.media_type() == media_type)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The accepted media types as a sentence fragment: `image/jpeg, image/png, ...`.
pub fn accepted_types_list() -> String {
    ACCEPTED_TYPES.join(", ")
}

/// Output formats: JPEG for opaque results, PNG for results with transparency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Baseline JPEG, 4:2:0.
    Jpeg,
    /// 8-bit RGBA PNG.
    Png,
}

impl OutputFormat {
    /// Media type (`image/jpeg`).
    pub const fn media_type(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Png => "image/png",
        }
    }

    /// File extension written in thumbnail keys (`jpg`, `png`).
    pub const fn ext(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Png => "png",
        }
    }

    /// Lowercase name, as in JSON.
    pub const fn id(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpeg",
            OutputFormat::Png => "png",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::from_id(f.id()), Some(f));
            assert_eq!(Format::from_media_type(f.media_type()), Some(f));
            assert_eq!(serde_json::to_value(f).unwrap(), f.id());
        }
        assert_eq!(
            accepted_types_list(),
            "image/jpeg, image/png, image/webp, image/gif"
        );
        assert_eq!(Format::from_media_type("image/svg+xml"), None);
    }
}
