//! Progressive JPEG, reduced scale: leave out the scans whose coefficients the scaled IDCT never
//! reads.
//!
//! At 1/8, 1/4 or 1/2 scale jpeg-decoder's IDCT reads only the top-left 1x1, 2x2 or 4x4
//! coefficients of each 8x8 block (natural order). A progressive JPEG sends each component's
//! coefficients in scans that cover a band `Ss..=Se` of the zig-zag order, and a scan changes
//! no coefficient outside its band (first scans set them, refinement scans add bits to them).
//! So scans that cannot reach a coefficient the IDCT reads can be left out (see
//! [`without_scans_after`] for which), and the decoder, which renders whatever coefficients it
//! has at the end of a progressive image, produces exactly the same pixels. At 1/8 scale that
//! leaves only the DC scans of a typical progressive photo: the AC scans (the refinement scans
//! alone were ~40 % of the decode time of a 16 MP photo) are never entropy-decoded.
//!
//! This walks the JPEG's marker segments only (it decodes nothing) and is strict: anything it
//! does not recognise as a well-formed progressive JPEG ending in EOI makes it decline, and the
//! caller decodes the original bytes as before.

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

/// The JPEG without the scans that cannot change coefficients at zig-zag positions `0..=last`;
/// `None` when it is not a progressive (SOF2) JPEG, when nothing would be left out, or when its
/// structure is not the plain SOI, segments, scans, EOI this expects (the caller then decodes
/// the original).
///
/// A refinement scan's bits depend on which coefficients of its whole band are already non-zero,
/// so a scan is kept when its band meets a needed position of one of its components, and the
/// band of every kept scan is needed in turn (until nothing changes). With libjpeg's default
/// script, whose refinement scans cover 1..=63, that leaves out every AC scan at 1/8 scale and
/// nothing at 1/4 or 1/2.
pub(crate) fn without_scans_after(bytes: &[u8], last: u8) -> Option<Vec<u8>> {
    let pieces = pieces(bytes)?;
    let first: u64 = if last >= 63 {
        !0
    } else {
        (1u64 << (last + 1)) - 1
    };
    let mut needed = [first; 256];
    loop {
        let mut changed = false;
        for scan in pieces.iter().filter_map(|p| p.scan.as_ref()) {
            for &c in &scan.components {
                let n = &mut needed[c as usize];
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
        p.scan.as_ref().is_none_or(|s| {
            s.components
                .iter()
                .any(|&c| s.band & needed[c as usize] != 0)
        })
    };
    if pieces.iter().all(keep) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    for p in pieces.iter().filter(|p| keep(p)) {
        out.extend_from_slice(&bytes[p.range.clone()]);
    }
    Some(out)
}

/// A run of bytes of the file: a marker segment, or a scan with its entropy-coded data.
struct Piece {
    range: std::ops::Range<usize>,
    scan: Option<ScanInfo>,
}

struct ScanInfo {
    /// Component identifiers (Cs).
    components: Vec<u8>,
    /// Zig-zag positions Ss..=Se as a bit mask.
    band: u64,
}

/// The file cut into pieces, SOI to EOI; `None` unless it is a well-formed progressive JPEG.
fn pieces(bytes: &[u8]) -> Option<Vec<Piece>> {
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut pieces = vec![Piece {
        range: 0..2,
        scan: None,
    }];
    let mut progressive = false;
    let mut i = 2;
    loop {
        // Markers may be preceded by any number of FF fill bytes.
        if *bytes.get(i)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(i + 1)?;
        match marker {
            0xFF => {
                i += 1;
                continue;
            }
            0xD9 => {
                pieces.push(Piece {
                    range: i..i + 2,
                    scan: None,
                });
                return progressive.then_some(pieces);
            }
            // SOI again, TEM, RSTn outside a scan, or a reserved code: not a plain JPEG.
            0x00 | 0x01 | 0xD0..=0xD8 => return None,
            _ => {}
        }
        let len = u16::from_be_bytes([*bytes.get(i + 2)?, *bytes.get(i + 3)?]) as usize;
        if len < 2 {
            return None;
        }
        let segment = bytes.get(i..i + 2 + len)?;
        match marker {
            0xC2 => progressive = true,
            // Any other frame type (baseline, extended, lossless, arithmetic, hierarchical).
            0xC0 | 0xC1 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
            _ => {}
        }
        if marker != 0xDA {
            pieces.push(Piece {
                range: i..i + segment.len(),
                scan: None,
            });
            i += segment.len();
            continue;
        }
        if !progressive {
            return None;
        }
        // SOS: FF DA, length, Ns, Ns x (Cs, Td/Ta), Ss, Se, Ah/Al.
        let ns = *segment.get(4)? as usize;
        if ns == 0 || segment.len() != 8 + 2 * ns {
            return None;
        }
        let components = (0..ns).map(|k| segment[5 + 2 * k]).collect();
        let (ss, se) = (segment[5 + 2 * ns], segment[6 + 2 * ns]);
        if ss > se || se > 63 {
            return None;
        }
        let band = (!0u64 >> (63 - se)) & (!0u64 << ss);
        let data_end = entropy_end(bytes, i + segment.len())?;
        pieces.push(Piece {
            range: i..data_end,
            scan: Some(ScanInfo { components, band }),
        });
        i = data_end;
    }
}

/// Whether this is a sequential (SOF0/SOF1) colour JPEG whose first scan does not interleave
/// all its components: one scan per component, as jpeg-encoder writes with optimised Huffman
/// tables. zune-jpeg 0.5.15 decodes those with wrong colours when chroma is subsampled, so the
/// caller decodes them with jpeg-decoder instead. `false` when the headers cannot be walked (the
/// strict decoder then reports what is wrong).
pub(crate) fn is_non_interleaved_sequential(bytes: &[u8]) -> bool {
    let mut components = None;
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return false;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        match marker {
            // SOF0/SOF1: FF Cx, length, P, Y, X, Nf.
            0xC0 | 0xC1 => components = bytes.get(i + 9).copied(),
            // SOS: FF DA, length, Ns.
            0xDA => {
                let ns = bytes.get(i + 4).copied();
                return matches!((components, ns), (Some(nf), Some(ns)) if nf > 1 && ns < nf);
            }
            _ => {}
        }
        i += 2 + len;
    }
    false
}

/// Where the entropy-coded data starting at `from` ends: the first FF that is neither a stuffed
/// FF 00 nor a restart marker. `None` when the data runs to the end of the file.
fn entropy_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut j = from;
    loop {
        j += bytes.get(j..)?.iter().position(|&b| b == 0xFF)?;
        match *bytes.get(j + 1)? {
            0x00 | 0xD0..=0xD7 => j += 2,
            _ => return Some(j),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

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
            .flat_map(|i| [i as u8, 3 * i as u8, 9])
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
    }
}
