//! EXIF orientation ([`Orientation`]). The box arithmetic uses the *displayed* size; the pixels
//! are turned upright after resampling, which is cheaper (a 400 px image instead of a 24 MP one)
//! and gives the same result as turning first.

use image::{DynamicImage, ImageBuffer};

use crate::pixels::Orientation;

/// The displayed size of a `w x h` image with orientation `o`.
pub fn displayed(w: u32, h: u32, o: Orientation) -> (u32, u32) {
    if o.swaps_sides() {
        (h, w)
    } else {
        (w, h)
    }
}

/// Turn RGBA pixels upright. Returns the new width and height.
pub(crate) fn apply_rgba(rgba: Vec<u8>, w: u32, h: u32, o: Orientation) -> (Vec<u8>, u32, u32) {
    use image::metadata::Orientation as Turn;
    let Some(orientation) = Turn::from_exif(o.exif()).filter(|t| *t != Turn::NoTransforms) else {
        return (rgba, w, h);
    };
    if rgba.len() != w as usize * h as usize * 4 {
        return (rgba, w, h); // not reached: the pipeline checks lengths
    }
    let Some(buf) = ImageBuffer::<image::Rgba<u8>, _>::from_raw(w, h, rgba) else {
        return (Vec::new(), 0, 0);
    };
    let mut img = DynamicImage::ImageRgba8(buf);
    img.apply_orientation(orientation);
    let (nw, nh) = (img.width(), img.height());
    (img.into_rgba8().into_raw(), nw, nh)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(v: u8) -> Orientation {
        Orientation::from_exif(v).unwrap()
    }

    #[test]
    fn rotate_90_moves_top_left_to_top_right() {
        // 2x1: red, green. Orientation 6 (rotate 90 CW) -> 1x2: red on top.
        let px = vec![255, 0, 0, 255, 0, 255, 0, 255];
        let (out, w, h) = apply_rgba(px.clone(), 2, 1, turn(6));
        assert_eq!((w, h), (1, 2));
        assert_eq!(&out[..4], &[255, 0, 0, 255]);
        let (out, w, h) = apply_rgba(px.clone(), 2, 1, turn(8));
        assert_eq!((w, h), (1, 2));
        assert_eq!(&out[..4], &[0, 255, 0, 255]);
        let (out, _, _) = apply_rgba(px.clone(), 2, 1, turn(2));
        assert_eq!(&out[..4], &[0, 255, 0, 255]);
        let (out, _, _) = apply_rgba(px.clone(), 2, 1, turn(1));
        assert_eq!(out, px);
    }
}
