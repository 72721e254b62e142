//! The RIFF chunks of a WebP file, walked as image-webp walks them.

/// What is wrong when a RIFF chunk image-webp indexes runs past the end of the file: a file cut
/// short. image-webp allocates a metadata chunk's declared size before reading it (4 GB for a
/// few bytes of input), so every chunk it may index is checked first, walking as image-webp 0.2
/// walks: a simple file's one chunk; in an extended (VP8X) file, the chunks that start before
/// its end of walk (the RIFF size counted from the end of the VP8X chunk) whose kind it knows,
/// and the first two sub-chunks of the first animation frame. Anything else image-webp skips
/// without reading, and so is left alone here (trailing bytes, chunks of unknown kinds).
pub(crate) fn riff_overrun(bytes: &[u8]) -> Option<String> {
    const INDEXED: [&[u8; 4]; 9] = [
        b"VP8 ", b"VP8L", b"VP8X", b"ANIM", b"ANMF", b"ALPH", b"ICCP", b"EXIF", b"XMP ",
    ];
    let header = |at: usize| riff_header(bytes, at);
    let overrun = |kind: &[u8; 4], size: u64, payload: usize| {
        let left = (bytes.len() - payload) as u64;
        (size > left).then(|| {
            let name = String::from_utf8_lossy(kind).trim_end().to_string();
            format!("the {name} chunk declares {size} bytes but the file has {left} more")
        })
    };
    // Where the chunk declaring `size` bytes at `payload` ends, padding included.
    let next = |payload: usize, size: u64| payload + size as usize + (size & 1) as usize;

    let (kind, size, payload) = header(12)?;
    if let Some(why) = overrun(kind, size, payload) {
        return Some(why);
    }
    if kind != b"VP8X" {
        return None;
    }
    let riff = u64::from(u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?));
    let mut at = next(payload, size);
    let end = (at as u64).saturating_add(riff.saturating_sub(12));
    let mut first_frame = true;
    while (at as u64) < end {
        let Some((kind, size, payload)) = header(at) else {
            break;
        };
        if let Some(why) = overrun(kind, size, payload) {
            // image-webp seeks past a chunk it does not know, and then finds the file's end.
            return INDEXED.contains(&kind).then_some(why);
        }
        if kind == b"ANMF" && first_frame {
            first_frame = false;
            // Sub-chunks after the 16-byte frame header, as image-webp reads them.
            let frame_end = payload + size as usize;
            let mut sub = payload + 16;
            for _ in 0..2 {
                let Some((kind, size, p)) = header(sub) else {
                    break;
                };
                if let Some(why) = overrun(kind, size, p) {
                    return Some(format!("in the first frame, {why}"));
                }
                sub = next(p, size);
                if sub + 8 > frame_end {
                    break;
                }
            }
        }
        at = next(payload, size);
    }
    None
}

/// The RIFF chunk header at `at`: its kind, declared size and payload start; `None` past the end.
pub(crate) fn riff_header(bytes: &[u8], at: usize) -> Option<(&[u8; 4], u64, usize)> {
    let h = bytes.get(at..at.checked_add(8)?)?;
    let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    Some((h[..4].try_into().ok()?, u64::from(size), at + 8))
}

/// The payload of the first RIFF chunk of this kind in a WebP file (after its 12-byte header);
/// `None` when there is none, or it runs past the end of the file.
pub(crate) fn riff_chunk<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    let mut at = 12usize;
    while let Some((k, size, payload)) = riff_header(bytes, at) {
        let size = usize::try_from(size).ok()?;
        let data = bytes.get(payload..payload.checked_add(size)?)?;
        if k == kind {
            return Some(data);
        }
        at = payload + size + (size & 1);
    }
    None
}
