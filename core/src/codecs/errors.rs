//! Decoder errors that carry only a message. The codecs' mappers match an error on its type and
//! variant wherever the decoder exposes one (zune-jpeg's `ExhaustedData`, an I/O error of kind
//! `UnexpectedEof`, jpeg-decoder's `Unsupported`, ...); what no type tells apart, the message
//! does, and every phrase matched is here, in [`MESSAGES`]. Each entry has a test that makes its
//! decoder say it from real bytes, so a reworded message upstream fails a test instead of
//! silently turning a `truncated` answer into `corrupt`.

use crate::{Error, Format};

/// A decoder whose error messages [`MESSAGES`] matches (the versions in Cargo.lock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dependency {
    /// zune-jpeg: JPEG at full size (and the `image` crate's JPEG decoder).
    ZuneJpeg,
    /// jpeg-decoder: JPEG shrink-on-load.
    JpegDecoder,
    /// png: PNG rows for shrink-on-load, and the `image` crate's PNG decoder.
    Png,
    /// image-webp: VP8 planes for shrink-on-load, and the `image` crate's WebP decoder.
    ImageWebp,
    /// gif, under the `image` crate's GIF decoder.
    Gif,
}

impl Dependency {
    /// The decoder the `image` crate decodes `format` with: its errors come wrapped in an
    /// `image::ImageError`, its message in the error's.
    pub(crate) fn under_image(format: Format) -> Dependency {
        match format {
            Format::Jpeg => Dependency::ZuneJpeg,
            Format::Png => Dependency::Png,
            Format::Webp => Dependency::ImageWebp,
            Format::Gif => Dependency::Gif,
        }
    }
}

/// What a phrase means: the [`Error`] a message holding it becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// [`Error::Truncated`]: the data ends before the image does.
    Truncated,
    /// [`Error::UnsupportedVariant`]: a coding fitbox does not decode.
    UnsupportedVariant,
    /// [`Error::Corrupt`]: damaged data; also every message that no entry matches.
    Corrupt,
}

/// A phrase of one decoder's error messages, and what it means.
#[derive(Debug)]
pub(crate) struct Phrase {
    /// The decoder that says it.
    pub(crate) dependency: Dependency,
    /// Lowercase: messages are lowercased (ASCII) before they are searched.
    pub(crate) phrase: &'static str,
    /// What it means.
    pub(crate) class: Class,
    /// fitbox's detail in place of the message, where the message would not tell the user what
    /// the file is.
    pub(crate) detail: Option<&'static str>,
}

/// Every phrase matched in a decoder's error message, for the errors whose type does not say
/// what happened. The first entry of the message's decoder that the lowercased message holds
/// decides; a message that none matches is [`Error::Corrupt`]. Above each entry: the error values
/// that say it (source files of the versions in Cargo.lock); `mod tests` makes each say it.
pub(crate) const MESSAGES: &[Phrase] = &[
    // zune-jpeg, decoder.rs: `FormatStatic("Premature End of image")`, an EOI among the headers;
    // mcu.rs: `FormatStatic("Premature end of buffer")` (strict mode), the scan data ran out
    // before the last row of blocks. (zune-jpeg's `Display` is its `Debug`: the text comes
    // quoted.)
    Phrase {
        dependency: Dependency::ZuneJpeg,
        phrase: "premature end",
        class: Class::Truncated,
        detail: None,
    },
    // zune-jpeg, bitstream.rs: `Format("No more bytes left in stream before marker")` (strict
    // mode), a block to decode and no bits left before a marker.
    Phrase {
        dependency: Dependency::ZuneJpeg,
        phrase: "no more bytes",
        class: Class::Truncated,
        detail: None,
    },
    // zune-jpeg, decoder.rs: `Format(..)`, "Parsing of the following header `DAC` is not
    // supported,cannot continue", the conditioning tables of an arithmetic-coded file. zune-jpeg
    // skips the SOF9..SOF15 frame header before them as an unknown marker, so its `Unsupported`
    // variant never comes for such a file.
    Phrase {
        dependency: Dependency::ZuneJpeg,
        phrase: "`dac`",
        class: Class::UnsupportedVariant,
        detail: Some("arithmetic-coded JPEG"),
    },
    // zune-jpeg, headers.rs: `SofError("The library can only parse 8-bit images, the image has
    // {n} bits of precision")`, a 12- or 16-bit frame.
    Phrase {
        dependency: Dependency::ZuneJpeg,
        phrase: "8-bit",
        class: Class::UnsupportedVariant,
        detail: None,
    },
    // zune-jpeg, headers.rs: the same `SofError`, and `DqtError("Expected QT precision value of
    // either 0 or 1, found {n}")`, a quantisation table of neither 8 nor 16 bits.
    Phrase {
        dependency: Dependency::ZuneJpeg,
        phrase: "precision",
        class: Class::UnsupportedVariant,
        detail: None,
    },
    // jpeg-decoder, decoder.rs: `Format("end of image encountered before frame")`, an EOI before
    // any frame header.
    Phrase {
        dependency: Dependency::JpegDecoder,
        phrase: "end of",
        class: Class::Truncated,
        detail: None,
    },
    // gif, reader/decoder.rs: `DecodingError::UnexpectedEof`, "Unexpected End of File", the file
    // ends inside the GIF. The `image` crate wraps it in its `ImageError::Decoding`; fitbox does
    // not depend on gif, which it would need to name the variant.
    Phrase {
        dependency: Dependency::Gif,
        phrase: "unexpected end",
        class: Class::Truncated,
        detail: None,
    },
    // gif: the same "Unexpected End of File".
    Phrase {
        dependency: Dependency::Gif,
        phrase: "end of file",
        class: Class::Truncated,
        detail: None,
    },
    // gif, reader/converter.rs: `DecodingError::format("image truncated")`, the image data ends
    // (LZW end code, block terminator) before the frame is filled.
    Phrase {
        dependency: Dependency::Gif,
        phrase: "truncated",
        class: Class::Truncated,
        detail: None,
    },
];

/// `msg`, an error message of `dependency` decoding `format`, as the error its first matching
/// entry of [`MESSAGES`] means, with the message as detail unless the entry has its own;
/// [`Error::Corrupt`] when no entry matches.
pub(crate) fn by_message(dependency: Dependency, format: Format, msg: String) -> Error {
    let lower = msg.to_ascii_lowercase();
    let entry = MESSAGES
        .iter()
        .find(|p| p.dependency == dependency && lower.contains(p.phrase));
    let detail = entry.and_then(|p| p.detail).map_or(msg, String::from);
    match entry.map_or(Class::Corrupt, |p| p.class) {
        Class::Truncated => Error::Truncated { format, detail },
        Class::UnsupportedVariant => Error::UnsupportedVariant { format, detail },
        Class::Corrupt => Error::Corrupt { format, detail },
    }
}

#[cfg(test)]
mod tests {
    //! One test per entry of [`MESSAGES`]: its decoder, given bytes made here, says the phrase,
    //! and fitbox's mapper makes the entry's error of it. Then the errors matched by type.

    use std::io::{Cursor, ErrorKind};

    use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageResult};
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    use zune_jpeg::JpegDecoder;

    use super::*;
    use crate::codecs::jpeg::{jd_error, jpeg_error};
    use crate::codecs::png::png_error;
    use crate::codecs::webp::webp_error;
    use crate::codecs::whole::image_error;

    /// `msg`, what `dependency` said, still holds `phrase`, an entry of [`MESSAGES`] that means
    /// `class`; and `mapped`, fitbox's error for it, is of `class`, with the entry's detail or
    /// else the message.
    fn says(dependency: Dependency, phrase: &str, class: Class, msg: &str, mapped: Error) {
        let entry = MESSAGES
            .iter()
            .find(|p| p.dependency == dependency && p.phrase == phrase)
            .unwrap_or_else(|| panic!("{dependency:?} {phrase:?} is not in MESSAGES"));
        assert_eq!(entry.class, class, "{dependency:?} {phrase:?}");
        assert!(
            msg.to_ascii_lowercase().contains(phrase),
            "{dependency:?} no longer says {phrase:?}: {msg:?}"
        );
        let want = entry.detail.map_or_else(|| msg.to_string(), String::from);
        let got = match &mapped {
            Error::Truncated { detail, .. } => (Class::Truncated, detail),
            Error::UnsupportedVariant { detail, .. } => (Class::UnsupportedVariant, detail),
            Error::Corrupt { detail, .. } => (Class::Corrupt, detail),
            other => panic!("{msg:?} became {other:?}"),
        };
        assert_eq!(got, (class, &want), "{msg:?}");
    }

    /// Whether `io` is a read past the end.
    fn eof(io: &std::io::Error) -> bool {
        io.kind() == ErrorKind::UnexpectedEof
    }

    /// A marker segment: the marker, the length (which counts itself) and `payload`.
    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let length = u16::try_from(payload.len() + 2).expect("a short segment");
        let mut out = vec![0xFF, marker];
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// SOI, a quantisation table of ones, and the frame header `0xFF sof` (SOF0 is 0xC0) of a
    /// grey `width`x`height` image of `bits` bits per sample.
    fn jpeg_frame(sof: u8, bits: u8, width: u16, height: u16) -> Vec<u8> {
        // 8-bit values, table 0.
        let mut table = vec![0x00];
        table.extend_from_slice(&[1; 64]);
        let mut frame = vec![bits];
        frame.extend_from_slice(&height.to_be_bytes());
        frame.extend_from_slice(&width.to_be_bytes());
        // One component: id 1, sampling 1x1, quantisation table 0.
        frame.extend_from_slice(&[1, 1, 0x11, 0]);
        let mut out = vec![0xFF, 0xD8];
        out.extend(segment(0xDB, &table));
        out.extend(segment(sof, &frame));
        out
    }

    /// A Huffman table segment of one code, `length` zero bits, for `symbol`; `class_id` is 0x00
    /// for DC table 0, 0x10 for AC table 0.
    fn one_code_table(class_id: u8, length: usize, symbol: u8) -> Vec<u8> {
        let mut payload = vec![0; 18];
        payload[0] = class_id;
        // payload[1..=16]: how many codes have 1, 2, ..., 16 bits.
        payload[length] = 1;
        payload[17] = symbol;
        segment(0xC4, &payload)
    }

    /// A baseline grey `width`x`height` JPEG with `scan` after its scan header. Its tables make
    /// every block 32 bits, so 4 zero bytes are one whole block: DC, the one 16-bit code, for a
    /// difference of 11 bits; AC, the one 5-bit code, for the end of the block.
    fn grey_jpeg(width: u16, height: u16, scan: &[u8]) -> Vec<u8> {
        let mut out = jpeg_frame(0xC0, 8, width, height);
        out.extend(one_code_table(0x00, 16, 11));
        out.extend(one_code_table(0x10, 5, 0x00));
        // One component (id 1, DC and AC tables 0), coefficients 0..=63, no approximation.
        out.extend(segment(0xDA, &[1, 1, 0x00, 0, 63, 0]));
        out.extend_from_slice(scan);
        out
    }

    /// zune-jpeg's decode of `bytes` as fitbox's full-size decode runs it (strict mode, RGB out):
    /// refused, with its error.
    fn zune_refuses(bytes: &[u8]) -> zune_jpeg::errors::DecodeErrors {
        let options = DecoderOptions::default()
            .set_strict_mode(true)
            .jpeg_set_out_colorspace(ColorSpace::RGB);
        JpegDecoder::new_with_options(ZCursor::new(bytes), options)
            .decode()
            .expect_err("zune-jpeg refuses the file")
    }

    /// zune-jpeg refuses `bytes` with a message holding `phrase`, and fitbox makes the error of
    /// `class` of it.
    fn zune_says(phrase: &str, class: Class, bytes: &[u8]) {
        let e = zune_refuses(bytes);
        let msg = e.to_string();
        says(Dependency::ZuneJpeg, phrase, class, &msg, jpeg_error(e));
    }

    /// The `image` crate's decode of what `decoder` (or its error) came from, as
    /// `decode_with_image` runs it: refused, with its error.
    fn image_refuses(decoder: ImageResult<impl ImageDecoder>) -> image::ImageError {
        match decoder {
            Ok(d) => DynamicImage::from_decoder(d).expect_err("the image is refused"),
            Err(e) => e,
        }
    }

    /// A `side`x`side` GIF (a global table of 2 colours, one image at 0,0) whose image data is
    /// one pixel: LZW with 3-bit codes, clear, index 0, end (0x44 0x01).
    fn one_pixel_gif(side: u8) -> Vec<u8> {
        let mut gif = b"GIF89a".to_vec();
        // The screen, `side`x`side`, with a global table of 2 colours: black, white.
        gif.extend_from_slice(&[side, 0, side, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255]);
        // The image: at 0,0, `side`x`side`, no table of its own.
        gif.extend_from_slice(&[0x2C, 0, 0, 0, 0, side, 0, side, 0, 0]);
        // Minimum code size 2, one sub-block of 2 bytes, block terminator; trailer.
        gif.extend_from_slice(&[2, 2, 0x44, 0x01, 0, 0x3B]);
        gif
    }

    /// The `image` crate refuses `bytes` as a GIF with a message holding `phrase`, and fitbox
    /// makes the error of `class` of it.
    fn gif_says(phrase: &str, class: Class, bytes: &[u8]) {
        let e = image_refuses(image::codecs::gif::GifDecoder::new(Cursor::new(bytes)));
        let msg = e.to_string();
        let mapped = image_error(Format::Gif, e);
        says(Dependency::Gif, phrase, class, &msg, mapped);
    }

    /// A 1x1 GIF cut where its image data starts (the whole file decodes).
    fn gif_cut_short() -> Vec<u8> {
        let mut gif = one_pixel_gif(1);
        image::load_from_memory_with_format(&gif, image::ImageFormat::Gif)
            .expect("the whole GIF decodes");
        gif.truncate(gif.len() - 6);
        gif
    }

    /// Every entry of [`MESSAGES`] is lowercase and is named here, in the list of those tested
    /// below.
    #[test]
    fn every_phrase_is_lowercase_and_tested() {
        let tested = [
            (Dependency::ZuneJpeg, "premature end"),
            (Dependency::ZuneJpeg, "no more bytes"),
            (Dependency::ZuneJpeg, "`dac`"),
            (Dependency::ZuneJpeg, "8-bit"),
            (Dependency::ZuneJpeg, "precision"),
            (Dependency::JpegDecoder, "end of"),
            (Dependency::Gif, "unexpected end"),
            (Dependency::Gif, "end of file"),
            (Dependency::Gif, "truncated"),
        ];
        for p in MESSAGES {
            assert_eq!(p.phrase, p.phrase.to_ascii_lowercase(), "{p:?}");
            let has_test = tested.contains(&(p.dependency, p.phrase));
            assert!(has_test, "{p:?} has no test");
        }
        assert_eq!(tested.len(), MESSAGES.len());
    }

    /// zune-jpeg: an EOI where the headers go on ("Premature End of image"); and, in strict mode,
    /// a scan that ends with the file before the last row of blocks ("Premature end of buffer").
    #[test]
    fn zune_jpeg_premature_end() {
        let mut eoi = jpeg_frame(0xC0, 8, 8, 8);
        eoi.extend_from_slice(&[0xFF, 0xD9]);
        zune_says("premature end", Class::Truncated, &eoi);
        // 8x16: two rows of one block each. The file ends after the first block; the zeros
        // zune-jpeg reads past the end finish the first row, and the second finds it overread.
        let cut = grey_jpeg(8, 16, &[0; 4]);
        zune_says("premature end", Class::Truncated, &cut);
        // The whole file (two blocks, EOI) decodes: the tables are what the comments say.
        let whole = grey_jpeg(8, 16, &[0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xD9]);
        let mut dec = JpegDecoder::new_with_options(
            ZCursor::new(&whole[..]),
            DecoderOptions::default().set_strict_mode(true),
        );
        dec.decode().expect("the whole file decodes");
    }

    /// zune-jpeg, strict mode: the first block ends with the last bit before an RST marker, so
    /// the block of the next row finds no bits left before a marker.
    #[test]
    fn zune_jpeg_no_more_bytes() {
        let bytes = grey_jpeg(8, 16, &[0, 0, 0, 0, 0xFF, 0xD0, 0xFF, 0xD9]);
        zune_says("no more bytes", Class::Truncated, &bytes);
    }

    /// zune-jpeg: an arithmetic-coded file (SOF9, then DAC, as libjpeg writes them).
    #[test]
    fn zune_jpeg_dac() {
        let mut bytes = jpeg_frame(0xC9, 8, 8, 8);
        bytes.extend(segment(0xCC, &[0x00, 0x10]));
        zune_says("`dac`", Class::UnsupportedVariant, &bytes);
    }

    /// zune-jpeg: a 12-bit frame (SOF1, extended sequential).
    #[test]
    fn zune_jpeg_8_bit() {
        let twelve = jpeg_frame(0xC1, 12, 8, 8);
        zune_says("8-bit", Class::UnsupportedVariant, &twelve);
    }

    /// zune-jpeg: a 12-bit frame, and a quantisation table of precision 2 (neither 8 nor 16
    /// bits).
    #[test]
    fn zune_jpeg_precision() {
        let twelve = jpeg_frame(0xC1, 12, 8, 8);
        zune_says("precision", Class::UnsupportedVariant, &twelve);
        let mut table = vec![0x20];
        table.extend_from_slice(&[1; 192]);
        let mut bytes = vec![0xFF, 0xD8];
        bytes.extend(segment(0xDB, &table));
        zune_says("precision", Class::UnsupportedVariant, &bytes);
    }

    /// jpeg-decoder: an EOI right after the SOI, before any frame header.
    #[test]
    fn jpeg_decoder_end_of() {
        let e = jpeg_decoder::Decoder::new(&b"\xFF\xD8\xFF\xD9"[..])
            .read_info()
            .expect_err("jpeg-decoder refuses the file");
        let msg = e.to_string();
        says(
            Dependency::JpegDecoder,
            "end of",
            Class::Truncated,
            &msg,
            jd_error(e),
        );
    }

    /// gif: a file that ends where the image data should start.
    #[test]
    fn gif_unexpected_end() {
        gif_says("unexpected end", Class::Truncated, &gif_cut_short());
    }

    /// gif: a file that ends where the image data should start.
    #[test]
    fn gif_end_of_file() {
        gif_says("end of file", Class::Truncated, &gif_cut_short());
    }

    /// gif: a 2x2 image whose LZW data ends (end code, block terminator) after one pixel.
    #[test]
    fn gif_truncated() {
        gif_says("truncated", Class::Truncated, &one_pixel_gif(2));
    }

    /// A message that no entry of its decoder matches is corrupt, with the message as detail,
    /// even when another decoder's phrase is in it.
    #[test]
    fn unmatched_messages_are_corrupt() {
        let msg = "IDAT or fDAT chunk does not have enough data for image; image truncated";
        assert_eq!(
            by_message(Dependency::Png, Format::Png, msg.into()),
            Error::Corrupt {
                format: Format::Png,
                detail: msg.into(),
            }
        );
    }

    /// zune-jpeg's `ExhaustedData`, matched by its variant: a 16x8 file (one row of two blocks)
    /// whose 2 bytes of scan data, padded with zeros, hold the first block only.
    #[test]
    fn zune_jpeg_exhausted_data_is_truncated() {
        let e = zune_refuses(&grey_jpeg(16, 8, &[0, 0]));
        let by_variant = matches!(e, zune_jpeg::errors::DecodeErrors::ExhaustedData);
        assert!(by_variant, "{e}");
        assert!(matches!(jpeg_error(e), Error::Truncated { .. }));
    }

    /// jpeg-decoder's I/O error of kind `UnexpectedEof`, matched by its kind: a file that ends
    /// after its SOI.
    #[test]
    fn jpeg_decoder_unexpected_eof_is_truncated() {
        let e = jpeg_decoder::Decoder::new(&b"\xFF\xD8"[..])
            .read_info()
            .expect_err("jpeg-decoder refuses the file");
        let by_kind = matches!(&e, jpeg_decoder::Error::Io(io) if eof(io));
        assert!(by_kind, "{e}");
        assert!(matches!(jd_error(e), Error::Truncated { .. }));
    }

    /// png, directly and under the `image` crate: a PNG cut inside its image data is an I/O
    /// error of kind `UnexpectedEof`, matched by its kind.
    #[test]
    fn png_cut_inside_its_image_data_is_truncated() {
        let pixels: Vec<u8> = (0..32 * 32 * 3).map(|i| (i * 7 % 251) as u8).collect();
        let mut whole = Vec::new();
        image::codecs::png::PngEncoder::new(&mut whole)
            .write_image(&pixels, 32, 32, image::ExtendedColorType::Rgb8)
            .expect("a PNG");
        let idat = whole.windows(4).position(|w| w == b"IDAT").unwrap();
        let length = u32::from_be_bytes(whole[idat - 4..idat].try_into().unwrap());
        let cut = &whole[..idat + 4 + length as usize / 2];

        let mut reader = png::Decoder::new(Cursor::new(cut))
            .read_info()
            .expect("the header is whole");
        let mut buf = vec![0; reader.output_buffer_size().expect("a small image")];
        let e = reader
            .next_frame(&mut buf)
            .expect_err("png refuses the file");
        let by_kind = matches!(&e, png::DecodingError::IoError(io) if eof(io));
        assert!(by_kind, "{e}");
        assert!(matches!(png_error(e), Error::Truncated { .. }));

        let e = image_refuses(image::codecs::png::PngDecoder::new(Cursor::new(cut)));
        let by_kind = matches!(&e, image::ImageError::IoError(io) if eof(io));
        assert!(by_kind, "{e}");
        let mapped = image_error(Format::Png, e);
        assert!(matches!(mapped, Error::Truncated { .. }), "{mapped}");
    }

    /// image-webp's I/O error of kind `UnexpectedEof`, matched by its kind: a file that ends
    /// inside its RIFF header.
    #[test]
    fn a_webp_cut_short_is_truncated() {
        let e = image_webp::WebPDecoder::new(Cursor::new(&b"RIFF\x10\0\0\0WE"[..]))
            .err()
            .expect("image-webp refuses the file");
        let by_kind = matches!(&e, image_webp::DecodingError::IoError(io) if eof(io));
        assert!(by_kind, "{e}");
        assert!(matches!(webp_error(e), Error::Truncated { .. }));
    }
}
