//! A JPEG's marker structure, walked without decoding: frame, components and scans. Used for
//! four things jpeg-decoder, which fitbox uses for shrink-on-load, does not do itself:
//!
//! - **Leaving out scans at reduced scale** ([`Jpeg::without_scans_after`]). At 1/8, 1/4 or 1/2
//!   scale jpeg-decoder's IDCT reads only the top-left 1x1, 2x2 or 4x4 coefficients of each 8x8
//!   block (natural order). A progressive JPEG sends each component's coefficients in scans
//!   that cover a band `Ss..=Se` of the zig-zag order, and a scan changes no coefficient outside
//!   its band (first scans set them, refinement scans add bits to them). So the scans that
//!   cannot reach a coefficient the IDCT reads can be left out, with the same pixels. At 1/8 that
//!   leaves only the DC scans of a typical progressive photo: the AC scans (the refinement scans
//!   are the costliest part of a progressive decode) are never entropy-decoded. The
//!   entropy-coded data of the scans left out is not checked either.
//! - **Telling one-scan-per-component baseline files** ([`Jpeg::is_non_interleaved_sequential`]),
//!   whose 4:2:0 colours zune-jpeg 0.5.15 gets wrong.
//! - **Refusing scans too short for their blocks** ([`Jpeg::check_scan_lengths`]): jpeg-decoder
//!   pads missing entropy-coded data with zeros instead of failing. This is a floor, not a
//!   decode: it catches a scan cut to a fraction of the least its blocks can cost, not one cut
//!   to 20 % of its real length and closed with an end marker.
//!
//! [`Jpeg::parse`] is strict: anything but SOI, marker segments, one baseline, extended or
//! progressive frame, well-formed scans and EOI gives `None`, and the callers keep to the
//! original bytes and zune-jpeg's strict decode.

use super::markers::marker_at;

/// Zig-zag position -> natural (row-major) index, ITU-T T.81 figure A.6.
const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// The last zig-zag position an `n`x`n` scaled IDCT (n = 1, 2 or 4: scale 1/8, 1/4, 1/2) reads.
pub(crate) fn last_needed(n: u32) -> u8 {
    (0..64u8)
        .filter(|&z| {
            let natural = ZIGZAG[z as usize] as u32;
            natural / 8 < n && natural % 8 < n
        })
        .max()
        .unwrap_or(0)
}

/// More scans than any encoder writes (libjpeg's progressive script has 10; zune-jpeg allows
/// 100 too): such a file is left to zune-jpeg. It also bounds the work a hostile file of tiny
/// scans can cause here.
const MAX_SCANS: usize = 100;

/// A JPEG's frame and its pieces, SOI to EOI.
pub(crate) struct Jpeg {
    /// SOF0, SOF1 or SOF2.
    sof: u8,
    width: u32,
    height: u32,
    /// (id, horizontal, vertical sampling factor) per frame component.
    components: Vec<(u8, u32, u32)>,
    pieces: Vec<Piece>,
    /// A DQT after the first scan: jpeg-decoder renders a progressive component as soon as its
    /// last scan is in, with the table in effect then, so leaving scans out could change which
    /// table a component is rendered with.
    tables_between_scans: bool,
}

/// A JPEG's frame header (SOFn), found by walking the marker segments before the first scan:
/// enough to tell what a decoder must hold in memory, for any frame type (CMYK and YCCK
/// included, which [`Jpeg::parse`] leaves alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// SOF2, SOF6, SOF10 or SOF14: coded in several scans.
    pub(crate) progressive: bool,
    width: u64,
    height: u64,
    /// (horizontal, vertical) sampling factor per component.
    sampling: Vec<(u64, u64)>,
}

impl Frame {
    /// The frame header of `bytes`; `None` when the segments before the first scan hold none
    /// (or are malformed).
    pub(crate) fn read(bytes: &[u8]) -> Option<Frame> {
        if bytes.get(..2)? != [0xFF, 0xD8] {
            return None;
        }
        let mut i = 2;
        loop {
            let m = marker_at(bytes, i)?;
            let marker = m.code;
            if matches!(marker, 0x00 | 0x01 | 0xD0..=0xDA) {
                return None; // a scan, EOI or a stray marker before any frame
            }
            let seg = bytes.get(m.at..m.end)?;
            if matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF) {
                let nf = *seg.get(9)? as usize;
                if nf == 0 || seg.len() < 10 + 3 * nf {
                    return None;
                }
                let sampling = (0..nf)
                    .map(|k| {
                        let hv = seg[11 + 3 * k];
                        (u64::from((hv >> 4).max(1)), u64::from((hv & 15).max(1)))
                    })
                    .collect();
                return Some(Frame {
                    progressive: matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE),
                    height: u64::from(u16::from_be_bytes([seg[5], seg[6]])),
                    width: u64::from(u16::from_be_bytes([seg[7], seg[8]])),
                    sampling,
                });
            }
            i = m.end.max(m.at + 2);
        }
    }

    /// Bytes a decoder holds for the image's DCT coefficients while it decodes: a progressive
    /// frame sends every coefficient in several scans, so all of them (2 bytes each, every
    /// component padded to whole MCUs, as zune-jpeg and jpeg-decoder allocate them) stay in
    /// memory until the last scan, whatever size the output is; a sequential frame is decoded
    /// an MCU row at a time (0 here).
    pub(crate) fn coefficient_bytes(&self) -> u64 {
        if !self.progressive {
            return 0;
        }
        let hmax = self.sampling.iter().map(|s| s.0).max().unwrap_or(1);
        let vmax = self.sampling.iter().map(|s| s.1).max().unwrap_or(1);
        let (mx, my) = (
            self.width.div_ceil(8 * hmax),
            self.height.div_ceil(8 * vmax),
        );
        self.sampling
            .iter()
            .map(|&(h, v)| (mx * h) * (my * v) * 64 * 2)
            .sum()
    }
}

/// A run of the file: a marker segment, or a scan header with its entropy-coded data.
struct Piece {
    range: std::ops::Range<usize>,
    scan: Option<ScanInfo>,
}

struct ScanInfo {
    /// Indices into the frame's components.
    components: Vec<usize>,
    /// Zig-zag positions Ss..=Se as a bit mask.
    band: u64,
    /// Successive-approximation low bit: 0 when the scan leaves its band at full precision.
    al: u8,
    /// Bytes of entropy-coded data (restart markers and stuffing included).
    data_bytes: usize,
}

impl Jpeg {
    /// Walk the file; `None` unless it is a well-formed SOF0/SOF1/SOF2 JPEG ending in EOI.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Jpeg> {
        if bytes.get(..2)? != [0xFF, 0xD8] {
            return None;
        }
        let mut jpeg = Jpeg {
            sof: 0,
            width: 0,
            height: 0,
            components: Vec::new(),
            pieces: vec![Piece {
                range: 0..2,
                scan: None,
            }],
            tables_between_scans: false,
        };
        let mut scans = 0;
        let mut i = 2;
        loop {
            let m = marker_at(bytes, i)?;
            let (marker, at) = (m.code, m.at);
            match marker {
                0xD9 => {
                    jpeg.pieces.push(Piece {
                        range: at..at + 2,
                        scan: None,
                    });
                    return (scans > 0).then_some(jpeg);
                }
                // SOI again, TEM, RSTn outside a scan, or a reserved code: not a plain JPEG.
                0x00 | 0x01 | 0xD0..=0xD8 => return None,
                _ => {}
            }
            if m.len() < 2 {
                return None;
            }
            let segment = bytes.get(at..m.end)?;
            let scanned = scans > 0;
            match marker {
                0xC0..=0xC2 if jpeg.sof == 0 => jpeg.frame(marker, segment)?,
                // A second frame, or any other frame type (lossless, arithmetic, hierarchical).
                0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
                0xDB if scanned => jpeg.tables_between_scans = true,
                // DNL: the height comes after the first scan.
                0xDC => return None,
                _ => {}
            }
            if marker != 0xDA {
                // Runs of segments are one piece (a hostile file of millions of empty segments
                // stays a few pieces).
                match jpeg.pieces.last_mut() {
                    Some(p) if p.scan.is_none() && p.range.end == at => {
                        p.range.end += segment.len()
                    }
                    _ => jpeg.pieces.push(Piece {
                        range: at..m.end,
                        scan: None,
                    }),
                }
                i = m.end;
                continue;
            }
            scans += 1;
            if scans > MAX_SCANS {
                return None;
            }
            let mut scan = jpeg.scan_header(segment)?;
            let data_start = m.end;
            let data_end = entropy_end(bytes, data_start)?;
            scan.data_bytes = data_end - data_start;
            jpeg.pieces.push(Piece {
                range: at..data_end,
                scan: Some(scan),
            });
            i = data_end;
        }
    }

    /// SOFn: FF Cn, length, P, Y, X, Nf, Nf x (C, H/V, Tq).
    fn frame(&mut self, marker: u8, seg: &[u8]) -> Option<()> {
        let nf = *seg.get(9)? as usize;
        if !(1..=4).contains(&nf) || seg.len() != 10 + 3 * nf || seg[4] != 8 {
            return None;
        }
        self.sof = marker;
        self.height = u16::from_be_bytes([seg[5], seg[6]]) as u32;
        self.width = u16::from_be_bytes([seg[7], seg[8]]) as u32;
        for k in 0..nf {
            let (id, hv) = (seg[10 + 3 * k], seg[11 + 3 * k]);
            let (h, v) = ((hv >> 4) as u32, (hv & 15) as u32);
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
                return None;
            }
            if self.components.iter().any(|c| c.0 == id) {
                return None;
            }
            self.components.push((id, h, v));
        }
        (self.width > 0 && self.height > 0).then_some(())
    }

    /// SOS: FF DA, length, Ns, Ns x (Cs, Td/Ta), Ss, Se, Ah/Al; checked as T.81 G.1.1.1 asks.
    fn scan_header(&self, seg: &[u8]) -> Option<ScanInfo> {
        if self.sof == 0 {
            return None;
        }
        let ns = *seg.get(4)? as usize;
        if !(1..=4).contains(&ns) || seg.len() != 8 + 2 * ns {
            return None;
        }
        let mut components = Vec::with_capacity(ns);
        for k in 0..ns {
            let index = self.components.iter().position(|c| c.0 == seg[5 + 2 * k])?;
            if components.contains(&index) {
                return None;
            }
            components.push(index);
        }
        let (ss, se) = (seg[5 + 2 * ns], seg[6 + 2 * ns]);
        let (ah, al) = (seg[7 + 2 * ns] >> 4, seg[7 + 2 * ns] & 15);
        if ss > se || se > 63 {
            return None;
        }
        if self.sof == 0xC2 {
            let dc = ss == 0;
            if (dc && se != 0) || (!dc && ns != 1) || al > 13 || (ah != 0 && ah != al + 1) {
                return None;
            }
        } else if ss != 0 || !(se == 0 || se == 63) || ah != 0 || al != 0 {
            // Sequential: 0..=63 at full precision (jpeg-decoder, like libjpeg, reads Se = 0 as
            // 63: some baseline files in the wild have it).
            return None;
        }
        Some(ScanInfo {
            components,
            band: (!0u64 >> (63 - se)) & (!0u64 << ss),
            al,
            data_bytes: 0,
        })
    }

    fn max_sampling(&self) -> (u32, u32) {
        let h = self.components.iter().map(|c| c.1).max().unwrap_or(1);
        let v = self.components.iter().map(|c| c.2).max().unwrap_or(1);
        (h, v)
    }

    /// MCUs across and down the image.
    fn mcus(&self) -> (u64, u64) {
        let (hmax, vmax) = self.max_sampling();
        (
            (self.width as u64).div_ceil(8 * hmax as u64),
            (self.height as u64).div_ceil(8 * vmax as u64),
        )
    }

    /// 8x8 blocks a scan codes: per MCU when interleaved, else the component's own blocks.
    fn scan_blocks(&self, scan: &ScanInfo) -> u64 {
        if let [c] = scan.components[..] {
            let (hmax, vmax) = self.max_sampling();
            let (_, h, v) = self.components[c];
            let w = (self.width as u64 * h as u64).div_ceil(hmax as u64);
            let hgt = (self.height as u64 * v as u64).div_ceil(vmax as u64);
            w.div_ceil(8) * hgt.div_ceil(8)
        } else {
            let (mx, my) = self.mcus();
            let per_mcu: u64 = scan
                .components
                .iter()
                .map(|&c| (self.components[c].1 * self.components[c].2) as u64)
                .sum();
            mx * my * per_mcu
        }
    }

    /// Whether the frame has three components with the ids 1, 2 and 3: YCbCr to jpeg-decoder
    /// whatever other markers say (the first rule of its colour-transform choice), so its
    /// planes can be taken as YCbCr and converted after resampling.
    pub(crate) fn has_ycbcr_ids(&self) -> bool {
        self.components.iter().map(|c| c.0).eq([1, 2, 3])
    }

    /// Whether this is a sequential (SOF0/SOF1) colour JPEG whose first scan does not
    /// interleave all its components: one scan per component, as jpeg-encoder writes with
    /// optimised Huffman tables.
    pub(crate) fn is_non_interleaved_sequential(&self) -> bool {
        let first = self.pieces.iter().find_map(|p| p.scan.as_ref());
        self.sof != 0xC2
            && self.components.len() > 1
            && first.is_some_and(|s| s.components.len() < self.components.len())
    }

    /// `Err` naming the first scan whose entropy-coded data is too short to code its blocks:
    /// every block of a sequential scan costs at least 2 bits (a DC code and an end-of-block or
    /// AC code), every block of a progressive DC scan at least 1. (AC scans of a progressive
    /// file have no such floor: one end-of-band run can cover thousands of blocks.)
    pub(crate) fn check_scan_lengths(&self) -> Result<(), String> {
        let scans = self.pieces.iter().filter_map(|p| p.scan.as_ref());
        for (k, scan) in scans.enumerate() {
            let bits_per_block = match (self.sof, scan.band) {
                (0xC2, 1) => 1,
                (0xC2, _) => continue,
                _ => 2,
            };
            let need = self.scan_blocks(scan) * bits_per_block;
            let have = scan.data_bytes as u64 * 8;
            if have < need {
                return Err(format!(
                    "scan {} has {} bytes of data, too few for its {} blocks",
                    k + 1,
                    scan.data_bytes,
                    self.scan_blocks(scan)
                ));
            }
        }
        Ok(())
    }

    /// The file without the scans that cannot change coefficients at zig-zag positions
    /// `0..=last`; `None` when it is not progressive, when nothing would be left out, or when
    /// leaving scans out might change the pixels (a DQT between scans; a band sent twice at
    /// full precision, or a scan after a component is complete, which jpeg-decoder then
    /// ignores).
    ///
    /// A refinement scan's bits depend on which coefficients of its whole band are already
    /// non-zero, so a scan is kept when its band meets a needed position of one of its
    /// components, and the band of every kept scan is needed in turn (until nothing changes).
    /// With libjpeg's default script, whose refinement scans cover 1..=63, that leaves out every
    /// AC scan at 1/8 scale and nothing at 1/4 or 1/2.
    pub(crate) fn without_scans_after(&self, bytes: &[u8], last: u8) -> Option<Vec<u8>> {
        if self.sof != 0xC2 || self.tables_between_scans {
            return None;
        }
        let scans: Vec<&ScanInfo> = self.pieces.iter().filter_map(|p| p.scan.as_ref()).collect();
        // Bands each component has received at full precision (Al = 0), as jpeg-decoder's
        // `coefficients_finished` tracks them.
        let mut done = vec![0u64; self.components.len()];
        for scan in &scans {
            for &c in &scan.components {
                if done[c] == !0 || (scan.al == 0 && done[c] & scan.band != 0) {
                    return None;
                }
                if scan.al == 0 {
                    done[c] |= scan.band;
                }
            }
        }
        let first: u64 = if last >= 63 {
            !0
        } else {
            (1u64 << (last + 1)) - 1
        };
        let mut needed = vec![first; self.components.len()];
        // At most 64 rounds: each one that changes something adds a position to a mask.
        loop {
            let mut changed = false;
            for scan in &scans {
                for &c in &scan.components {
                    let n = &mut needed[c];
                    if scan.band & *n != 0 && scan.band & !*n != 0 {
                        *n |= scan.band;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let keep = |p: &Piece| {
            p.scan
                .as_ref()
                .is_none_or(|s| s.components.iter().any(|&c| s.band & needed[c] != 0))
        };
        if self.pieces.iter().all(keep) {
            return None;
        }
        let mut out = Vec::with_capacity(bytes.len());
        for p in self.pieces.iter().filter(|p| keep(p)) {
            out.extend_from_slice(&bytes[p.range.clone()]);
        }
        Some(out)
    }
}

/// Where the entropy-coded data starting at `from` ends: the first FF that is neither a stuffed
/// FF 00 nor a restart marker (either may follow FF fill bytes). `None` when the data runs to
/// the end of the file.
fn entropy_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut j = from;
    loop {
        j += memchr::memchr(0xFF, bytes.get(j..)?)?;
        let mut k = j + 1;
        while *bytes.get(k)? == 0xFF {
            k += 1;
        }
        match bytes[k] {
            0x00 | 0xD0..=0xD7 => j = k + 1,
            _ => return Some(j),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn without_scans_after(bytes: &[u8], last: u8) -> Option<Vec<u8>> {
        Jpeg::parse(bytes)?.without_scans_after(bytes, last)
    }

    fn is_non_interleaved_sequential(bytes: &[u8]) -> bool {
        Jpeg::parse(bytes).is_some_and(|j| j.is_non_interleaved_sequential())
    }

    /// `bytes` with `piece` inserted at `at`.
    fn inserted(bytes: &[u8], at: usize, piece: &[u8]) -> Vec<u8> {
        [&bytes[..at], piece, &bytes[at..]].concat()
    }

    /// The first marker segment of this kind before the first scan.
    fn first_segment(bytes: &[u8], marker: u8) -> std::ops::Range<usize> {
        let mut i = 2;
        while bytes[i + 1] != marker {
            assert_ne!(bytes[i + 1], 0xDA, "no such segment before the first scan");
            i += 2 + u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        }
        i..i + 2 + u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize
    }

    /// The byte ranges of the file's pieces, and which are scans.
    fn ranges(bytes: &[u8]) -> Vec<(std::ops::Range<usize>, bool)> {
        let j = Jpeg::parse(bytes).expect("parses");
        j.pieces
            .iter()
            .map(|p| (p.range.clone(), p.scan.is_some()))
            .collect()
    }

    #[test]
    fn zigzag_is_the_standard_order() {
        // Walk the anti-diagonals, alternating direction, and compare.
        let mut order = Vec::new();
        for d in 0..15u8 {
            let cells: Vec<u8> = (0..8u8)
                .filter_map(|r| d.checked_sub(r).filter(|&c| c < 8).map(|c| r * 8 + c))
                .collect();
            if d % 2 == 0 {
                order.extend(cells.iter().rev());
            } else {
                order.extend(cells);
            }
        }
        assert_eq!(order, ZIGZAG);
        assert_eq!(
            (
                last_needed(1),
                last_needed(2),
                last_needed(4),
                last_needed(8)
            ),
            (0, 4, 24, 63)
        );
    }

    fn scaled(bytes: &[u8], n: u16) -> (Vec<u8>, u16, u16) {
        let mut dec = jpeg_decoder::Decoder::new(bytes);
        dec.read_info().unwrap();
        let info = dec.info().unwrap();
        let (w, h) = (
            (info.width * n).div_ceil(8).max(1),
            (info.height * n).div_ceil(8).max(1),
        );
        let (ow, oh) = dec.scale(w, h).unwrap();
        assert_eq!((ow, oh), (w, h));
        (dec.decode().unwrap(), ow, oh)
    }

    /// Decode `bytes` and the stream with the unneeded scans left out at each reduced scale:
    /// the pixels must be equal. Returns the kept length per scale (`None`: nothing left out).
    fn check_equal(name: &str, bytes: &[u8]) -> Vec<Option<usize>> {
        [1u16, 2, 4]
            .into_iter()
            .map(|n| {
                let kept = without_scans_after(bytes, last_needed(n as u32))?;
                let (full, w, h) = scaled(bytes, n);
                let (short, sw, sh) = scaled(&kept, n);
                assert_eq!((w, h), (sw, sh), "{name} n={n}");
                assert!(full == short, "{name}: pixels differ at scale {n}/8");
                Some(kept.len())
            })
            .collect()
    }

    /// Real progressive JPEGs (libjpeg's default script, with successive-approximation
    /// refinement over 1..=63): at 1/8 only the DC scans are kept, at 1/4 and 1/2 everything
    /// (a refinement scan over 1..=63 needs every earlier AC scan).
    #[test]
    fn libjpeg_progressive_photos_keep_only_dc_scans_at_one_eighth() {
        for rel in [
            "edge/imagers_progressive_3.jpg",
            "photos/lomiri_Wine_by_Jakkub_Mede.jpg",
            "photos/lomiri_seeding_by_Clements_Engelhardt.jpg",
        ] {
            let bytes = fitbox_tests::read(rel);
            let kept = check_equal(rel, &bytes);
            let eighth = kept[0].unwrap_or_else(|| panic!("{rel}: nothing left out at 1/8"));
            assert!(
                eighth < bytes.len() / 2,
                "{rel}: {eighth} of {}",
                bytes.len()
            );
            assert_eq!(&kept[1..], [None, None], "{rel}");
            // The full-size IDCT reads every coefficient: nothing may be left out.
            assert_eq!(without_scans_after(&bytes, last_needed(8)), None, "{rel}");
        }
    }

    /// A spectral-selection-only progressive JPEG with restart markers (jpeg-encoder: a DC scan,
    /// then AC bands 1-9, 10-18, ... per component): at each scale exactly the bands that
    /// reach the scaled IDCT's coefficients are kept, with the same pixels.
    #[test]
    fn spectral_selection_bands_are_kept_as_far_as_the_scale_reads() {
        let (w, h) = (203u16, 141u16);
        let rgb: Vec<u8> = (0..h as u32)
            .flat_map(|y| {
                (0..w as u32).flat_map(move |x| {
                    let v = ((x * 7 + y * 3) ^ (x * y)) as u8;
                    [v, (x * 255 / 203) as u8, v.wrapping_mul(3) ^ y as u8]
                })
            })
            .collect();
        let mut jpeg = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut jpeg, 90);
        enc.set_progressive_scans(8);
        enc.set_restart_interval(5);
        enc.encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let kept = check_equal("synthetic", &jpeg);
        let (a, b, c) = (kept[0].unwrap(), kept[1].unwrap(), kept[2].unwrap());
        assert!(
            a < b && b < c && c < jpeg.len(),
            "{a} {b} {c} {}",
            jpeg.len()
        );
    }

    #[test]
    fn tells_one_scan_per_component_from_interleaved() {
        let rgb: Vec<u8> = (0..40u32 * 24)
            .flat_map(|i| [i as u8, (3 * i) as u8, 9])
            .collect();
        let encode = |optimised: bool, progressive: bool| {
            let mut out = Vec::new();
            let mut enc = jpeg_encoder::Encoder::new(&mut out, 85);
            enc.set_optimized_huffman_tables(optimised);
            enc.set_progressive(progressive);
            enc.encode(&rgb, 40, 24, jpeg_encoder::ColorType::Rgb)
                .unwrap();
            out
        };
        assert!(is_non_interleaved_sequential(&encode(true, false)));
        assert!(!is_non_interleaved_sequential(&encode(false, false)));
        assert!(!is_non_interleaved_sequential(&encode(true, true)));
        let photo = fitbox_tests::read("photos/mde_canon_eos_5d_mark_iii.jpg");
        assert!(!is_non_interleaved_sequential(&photo));
        assert!(!is_non_interleaved_sequential(b"\xFF\xD8"));
    }

    #[test]
    fn declines_what_it_does_not_recognise() {
        let baseline = fitbox_tests::read("photos/mde_canon_eos_5d_mark_iii.jpg");
        assert_eq!(without_scans_after(&baseline, 0), None, "baseline");
        let prog = fitbox_tests::read("edge/imagers_progressive_3.jpg");
        assert!(without_scans_after(&prog, 0).is_some());
        // Cut anywhere after the headers: no EOI, so no rewrite (the caller's strict checks
        // then see the original, truncated bytes).
        for cut in [prog.len() - 2, prog.len() / 2, prog.len() / 5] {
            assert_eq!(without_scans_after(&prog[..cut], 0), None, "cut at {cut}");
        }
        assert_eq!(without_scans_after(b"GIF89a", 0), None);
        assert_eq!(without_scans_after(&[0xFF, 0xD8, 0xFF, 0xD9], 0), None);

        // Where leaving scans out could change the pixels, the file is left whole: a DQT between
        // scans (jpeg-decoder renders a finished component with the table in effect then), and
        // a band sent twice at full precision (the original ignores the repeat).
        let pieces = ranges(&prog);
        let dqt = first_segment(&prog, 0xDB);
        let first_scan_end = pieces.iter().find(|p| p.1).unwrap().0.end;
        let table_later = inserted(&prog, first_scan_end, &prog[dqt]);
        assert!(Jpeg::parse(&table_later).is_some());
        assert_eq!(
            without_scans_after(&table_later, 0),
            None,
            "DQT between scans"
        );
        // The first DC scan of component 1 (Al = 0) sent again right after itself: a band
        // already at full precision, before the component is complete.
        let first_scan = pieces.iter().find(|p| p.1).unwrap().0.clone();
        let twice = inserted(&prog, first_scan.end, &prog[first_scan.clone()]);
        assert!(Jpeg::parse(&twice).is_some());
        assert_eq!(without_scans_after(&twice, 0), None, "a band sent twice");
        // Component 1's first AC scan (1-8, Al = 2) sent again at the end, after the component
        // is complete: no band overlaps at full precision, but jpeg-decoder has already
        // rendered the component and ignores it.
        let ac1 = pieces
            .iter()
            .find(|(r, scan)| *scan && prog[r.start + 5] == 1 && prog[r.start + 7] == 1)
            .unwrap()
            .0
            .clone();
        assert_eq!(prog[ac1.start + 9] & 15, 2, "Al of the 1-8 scan");
        let late = inserted(&prog, prog.len() - 2, &prog[ac1]);
        assert!(Jpeg::parse(&late).is_some());
        assert_eq!(
            without_scans_after(&late, 0),
            None,
            "a scan after completion"
        );

        // A malformed scan header (an AC scan over two components) is not parsed at all.
        let ac = pieces
            .iter()
            .find(|(r, scan)| *scan && prog[r.start + 4] == 1 && prog[r.start + 7] > 0)
            .unwrap()
            .0
            .clone();
        let mut two = prog[..ac.start].to_vec();
        two.extend_from_slice(&[0xFF, 0xDA, 0, 10, 2, 1, 0, 2, 0x11, 1, 5, 0]);
        two.extend_from_slice(&prog[ac.start + 10..]);
        assert!(Jpeg::parse(&two).is_none(), "AC scan over two components");
    }

    /// Half a million empty comment segments stay one piece; more than `MAX_SCANS` scans are
    /// not walked at all.
    #[test]
    fn hostile_structures_stay_small() {
        let prog = fitbox_tests::read("edge/imagers_progressive_3.jpg");
        let padded = inserted(&prog, 2, &[0xFF, 0xFE, 0, 2].repeat(500_000));
        let (plain, big) = (ranges(&prog).len(), ranges(&padded).len());
        assert_eq!(big, plain);
        let first_scan = ranges(&prog).into_iter().find(|p| p.1).unwrap().0;
        let many = inserted(
            &prog,
            first_scan.end,
            &prog[first_scan.clone()].repeat(MAX_SCANS),
        );
        assert!(Jpeg::parse(&many).is_none());
    }

    /// Sequential files with Se = 0 in their scan header (jpeg-decoder and libjpeg read it as
    /// 63), and FF fill bytes before a restart marker, are walked like any other.
    #[test]
    fn tolerated_oddities_parse() {
        let photo = fitbox_tests::read("photos/mde_canon_eos_5d_mark_iii.jpg");
        let scan = ranges(&photo).into_iter().find(|p| p.1).unwrap().0;
        let mut se0 = photo.clone();
        assert_eq!(se0[scan.start + 5 + 2 * 3 + 1], 63);
        se0[scan.start + 5 + 2 * 3 + 1] = 0;
        assert!(Jpeg::parse(&se0).is_some(), "Se = 0");

        let rgb: Vec<u8> = (0..64u32 * 48).flat_map(|i| [i as u8, 40, 90]).collect();
        let mut jpeg = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut jpeg, 85);
        enc.set_restart_interval(2);
        enc.encode(&rgb, 64, 48, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let scan = ranges(&jpeg).into_iter().find(|p| p.1).unwrap().0;
        let rst = scan.start
            + jpeg[scan.clone()]
                .windows(2)
                .position(|w| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]))
                .expect("a restart marker");
        let filled = inserted(&jpeg, rst, &[0xFF, 0xFF]);
        let (a, b) = (ranges(&jpeg), ranges(&filled));
        assert_eq!(a.len(), b.len(), "fill bytes before RSTn end no scan");
        assert_eq!(b.iter().filter(|p| p.1).count(), 1);
    }

    /// Every JPEG photo of the corpus, and the progressive edge file, is walked.
    #[test]
    fn corpus_jpegs_parse() {
        for rel in [
            "photos/jpegfiles_iphone_se2_display_p3.jpg",
            "photos/lomiri_Kleiber_by_Lukas_Baubkus.jpg",
            "photos/lomiri_Wine_by_Jakkub_Mede.jpg",
            "photos/lomiri_seeding_by_Clements_Engelhardt.jpg",
            "photos/mde_canon_eos_1000d_orient6.jpg",
            "photos/mde_canon_eos_5d_mark_iii.jpg",
            "edge/imagers_progressive_3.jpg",
        ] {
            let bytes = fitbox_tests::read(rel);
            let j = Jpeg::parse(&bytes).unwrap_or_else(|| panic!("{rel} does not parse"));
            assert_eq!(j.check_scan_lengths(), Ok(()), "{rel}");
            assert!(!j.is_non_interleaved_sequential(), "{rel}");
        }
    }

    /// A one-scan-per-component file whose last (Cr) scan was cut to a few bytes, with EOI
    /// after it, is named as too short; jpeg-decoder would fill the rest of Cr with zeros.
    #[test]
    fn a_scan_cut_short_is_found() {
        let rgb: Vec<u8> = (0..96u32 * 64)
            .flat_map(|i| [(i * 7) as u8, (i / 96 * 3) as u8, (i * 13 / 5) as u8])
            .collect();
        let mut split = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut split, 85);
        enc.set_optimized_huffman_tables(true);
        enc.encode(&rgb, 96, 64, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let j = Jpeg::parse(&split).unwrap();
        assert!(j.is_non_interleaved_sequential());
        assert_eq!(j.check_scan_lengths(), Ok(()));
        let last = ranges(&split).into_iter().rev().find(|p| p.1).unwrap().0;
        let header = 8 + 2;
        let mut cut = split[..last.start + header + 3].to_vec();
        cut.extend_from_slice(&[0xFF, 0xD9]);
        let err = Jpeg::parse(&cut).unwrap().check_scan_lengths().unwrap_err();
        assert!(err.starts_with("scan 3 has 3 bytes"), "{err}");
    }
}
