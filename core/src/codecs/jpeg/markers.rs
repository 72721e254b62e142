//! Walking a JPEG's marker segments before its first scan, without decoding anything.

/// What the entropy-coded data of a JPEG looks like, judged without decoding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// An EOI marker follows the first scan, with at least one bit per 8x8 luma block.
    Complete,
    /// No EOI after the first scan: cut off (zune-jpeg's strict decode tells for sure).
    NoEnd,
    /// An EOI, but fewer bits than blocks: no JPEG can code that, the data was cut.
    TooShort(u64),
}

/// Judge the scan data: every 8x8 block costs at least one bit of Huffman code in any JPEG,
/// baseline or progressive. Markers before the first scan are walked segment by segment (an
/// EXIF thumbnail inside APP1 has its own SOS/EOI, which must not count); inside entropy-coded
/// data a literal FF is always stuffed as FF 00, so FF D9 there is a real marker.
pub(crate) fn scan_state(bytes: &[u8], width: u32, height: u32) -> Scan {
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return Scan::NoEnd;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        if marker == 0xDA {
            let Some(rest) = bytes.get(i + 2 + len..) else {
                return Scan::NoEnd;
            };
            let Some(end) = rest.windows(2).rposition(|w| w == [0xFF, 0xD9]) else {
                return Scan::NoEnd;
            };
            let blocks = (width as u64).div_ceil(8) * (height as u64).div_ceil(8);
            return if end as u64 * 8 >= blocks {
                Scan::Complete
            } else {
                Scan::TooShort(end as u64)
            };
        }
        i += 2 + len;
    }
    Scan::NoEnd
}

/// The transform byte of an Adobe APP14 segment, if the JPEG has one before its first scan.
pub(crate) fn adobe_transform(bytes: &[u8]) -> Option<u8> {
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        if marker == 0xEE && len >= 14 {
            let seg = bytes.get(i + 4..i + 2 + len)?;
            if seg.starts_with(b"Adobe") {
                return seg.get(11).copied();
            }
        }
        i += 2 + len;
    }
    None
}
