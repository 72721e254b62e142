//! The one walker of a JPEG's marker segments ([`marker_at`]), and what is read with it before
//! the first scan without decoding anything: whether the scan data can be complete, and the
//! Adobe transform. `scans::Jpeg::parse` walks the whole file with it.

/// A marker read at some offset: its code, where it is (the FF before the code, after any FF fill
/// bytes) and where its segment ends. Standalone markers (SOI, EOI, RSTn, TEM) have no length;
/// every other marker's segment is the 2-byte marker and its length field's count of bytes. The
/// end may lie past the end of the file: callers check what they read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Marker {
    /// The marker code (`0xDA` for SOS).
    pub(crate) code: u8,
    /// Offset of the FF that introduces it.
    pub(crate) at: usize,
    /// Offset just past its segment.
    pub(crate) end: usize,
}

impl Marker {
    /// The length field's value (0 for standalone markers).
    pub(crate) fn len(&self) -> usize {
        (self.end - self.at).saturating_sub(2)
    }
}

/// The marker at `i`: `None` when the byte there is not FF or the file ends inside the marker or
/// its length field.
pub(crate) fn marker_at(bytes: &[u8], mut i: usize) -> Option<Marker> {
    if *bytes.get(i)? != 0xFF {
        return None;
    }
    // Markers may be preceded by any number of FF fill bytes.
    while *bytes.get(i + 1)? == 0xFF {
        i += 1;
    }
    let code = bytes[i + 1];
    let end = if matches!(code, 0x01 | 0xD0..=0xD9) {
        i + 2
    } else {
        i + 2 + usize::from(u16::from_be_bytes([*bytes.get(i + 2)?, *bytes.get(i + 3)?]))
    };
    Some(Marker { code, at: i, end })
}

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
    while let Some(m) = marker_at(bytes, i) {
        if m.code == 0xDA {
            let Some(rest) = bytes.get(m.end..) else {
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
        if m.end <= m.at + 2 {
            // A standalone marker, or a length under 2, before the first scan.
            return Scan::NoEnd;
        }
        i = m.end;
    }
    Scan::NoEnd
}

/// The transform byte of an Adobe APP14 segment, if the JPEG has one before its first scan.
pub(crate) fn adobe_transform(bytes: &[u8]) -> Option<u8> {
    let mut i = 2;
    loop {
        let m = marker_at(bytes, i)?;
        if matches!(m.code, 0xDA | 0xD9) || m.end <= m.at + 2 {
            return None;
        }
        if m.code == 0xEE && m.len() >= 14 {
            let seg = bytes.get(m.at + 4..m.end)?;
            if seg.starts_with(b"Adobe") {
                return seg.get(11).copied();
            }
        }
        i = m.end;
    }
}
