//! PNG shrink-on-load (`decode_png_shrunk`): a PNG that is shrunk is read row by row and
//! resampled as it is inflated. These tests pin that the expansions it does itself (grey and
//! palette to RGB) give the same pixels as the same image stored as RGB, that an image that is
//! not shrunk or not eligible still works, and that a cut-off PNG is refused on this path too.

use fitbox_core::{preview, thumbnail, Error, Options};
use image::{GrayImage, ImageFormat, RgbImage};
use std::io::Cursor;

fn png(img: impl Into<image::DynamicImage>) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.into().write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A grey gradient with a diagonal stripe: neither symmetric nor flat.
fn grey(w: u32, h: u32) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| {
        let v = (x * 255 / w + y * 97 / h) as u8;
        image::Luma([if (x + 2 * y) % 53 < 9 { 255 - v } else { v }])
    })
}

fn hash(bytes: &[u8]) -> (u32, u32, String) {
    let p = preview(bytes, &Options::default()).unwrap();
    (p.width, p.height, p.pixel_sha256)
}

#[test]
fn grey_png_gives_the_pixels_of_the_same_image_as_rgb() {
    let g = grey(1200, 900);
    let rgb = RgbImage::from_fn(1200, 900, |x, y| {
        let v = g.get_pixel(x, y).0[0];
        image::Rgb([v, v, v])
    });
    let (a, b) = (hash(&png(g)), hash(&png(rgb)));
    assert_eq!((a.0, a.1), (400, 300));
    assert_eq!(a, b);
}

#[test]
fn palette_png_gives_the_pixels_of_the_same_image_as_rgb() {
    // 1-bit palette PNG written by hand with the png crate: two colours, no transparency.
    let (w, h) = (1000u32, 600u32);
    let colours = [[200u8, 30, 40], [20, 90, 230]];
    let pick = |x: u32, y: u32| ((x / 7 + y / 5) % 2) as usize;
    let mut pal = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut pal, w, h);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::One);
        enc.set_palette(colours.concat());
        let mut writer = enc.write_header().unwrap();
        let stride = w.div_ceil(8) as usize;
        let mut data = vec![0u8; stride * h as usize];
        for y in 0..h {
            for x in 0..w {
                if pick(x, y) == 1 {
                    data[y as usize * stride + x as usize / 8] |= 0x80 >> (x % 8);
                }
            }
        }
        writer.write_image_data(&data).unwrap();
    }
    let rgb = RgbImage::from_fn(w, h, |x, y| image::Rgb(colours[pick(x, y)]));
    let (a, b) = (hash(&pal), hash(&png(rgb)));
    assert_eq!((a.0, a.1), (400, 240));
    assert_eq!(a, b);
}

#[test]
fn pngs_that_are_not_shrunk_or_not_eligible_still_decode() {
    // Inside the box (no resampling), and 16-bit (decoded whole by the image crate).
    let small = hash(&png(grey(300, 200)));
    assert_eq!((small.0, small.1), (300, 200));
    let g = grey(900, 450);
    let wide = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(900, 450, |x, y| {
        image::Luma([u16::from(g.get_pixel(x, y).0[0]) * 257])
    });
    let t = thumbnail(
        &png(image::DynamicImage::ImageLuma16(wide)),
        &Options::default(),
    )
    .unwrap();
    assert_eq!((t.width, t.height), (400, 200));
}

#[test]
fn a_cut_off_png_is_refused_on_the_row_path() {
    let bytes = fitbox_tests::read("photos/plasma_Altai_5120x2880.png");
    for keep in [bytes.len() / 2, bytes.len() - 20] {
        match preview(&bytes[..keep], &Options::default()) {
            Err(Error::Truncated { .. }) | Err(Error::Corrupt { .. }) => {}
            other => panic!("{keep} of {} bytes: {other:?}", bytes.len()),
        }
    }
    // And whole, it still decodes to the fitted size.
    let p = preview(&bytes, &Options::default()).unwrap();
    assert_eq!((p.width, p.height), (400, 225));
}
