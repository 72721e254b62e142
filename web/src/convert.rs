//! Files the core does not read (AVIF, BMP, ...) but the browser does: converted in the page to
//! PNG (JPEG at quality 0.92 when the PNG would be over the size limit) through
//! `createImageBitmap` and a canvas, by a click on the refused card. The converted file is then
//! previewed and uploaded like any other, so its stored thumbnail still equals its preview.

use js_sys::{Array, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, CanvasRenderingContext2d, File, FilePropertyBag, HtmlCanvasElement, ImageBitmap,
};

use crate::util::js_message;

/// Whether the browser can decode `file` itself.
pub async fn browser_reads(file: &File) -> bool {
    match bitmap(file).await {
        Ok(b) => {
            b.close();
            true
        }
        Err(_) => false,
    }
}

/// What to tell someone whose file neither fitbox nor this browser can read; `refusal` is core's
/// message (it names the format).
pub fn advice(refusal: &str) -> &'static str {
    if refusal.contains("HEIC") {
        "This browser cannot read it either: export the photo as JPEG and add that (on an \
         iPhone, Settings › Camera › Formats › Most Compatible takes JPEGs from then on)."
    } else {
        "This browser cannot read it either: save it as JPEG or PNG and add that."
    }
}

/// `file` as a PNG (or a JPEG when the PNG is over `max_bytes`), named as it was with the new
/// extension; EXIF orientation applied by the browser.
pub async fn to_png_or_jpeg(file: &File, max_bytes: u64) -> Result<File, String> {
    let image = bitmap(file).await.map_err(|e| js_message(&e))?;
    let drawn = draw(&image);
    image.close();
    let canvas = drawn.map_err(|e| js_message(&e))?;
    let png = blob(&canvas, "image/png", None)
        .await
        .map_err(|e| js_message(&e))?;
    let (data, ext) = if png.size() as u64 <= max_bytes {
        (png, "png")
    } else {
        let jpeg = blob(&canvas, "image/jpeg", Some(0.92))
            .await
            .map_err(|e| js_message(&e))?;
        (jpeg, "jpg")
    };
    let opts = FilePropertyBag::new();
    opts.set_type(&data.type_());
    File::new_with_blob_sequence_and_options(&Array::of1(&data), &renamed(&file.name(), ext), &opts)
        .map_err(|e| js_message(&e))
}

/// `name` with its extension replaced by `ext` (added when it has none).
pub fn renamed(name: &str, ext: &str) -> String {
    let stem = match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    };
    format!("{stem}.{ext}")
}

async fn bitmap(file: &File) -> Result<ImageBitmap, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    Ok(JsFuture::from(window.create_image_bitmap_with_blob(file)?)
        .await?
        .unchecked_into())
}

fn draw(image: &ImageBitmap) -> Result<HtmlCanvasElement, JsValue> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let canvas: HtmlCanvasElement = document.create_element("canvas")?.unchecked_into();
    canvas.set_width(image.width());
    canvas.set_height(image.height());
    let ctx: CanvasRenderingContext2d = canvas
        .get_context("2d")?
        .ok_or("no 2d context")?
        .unchecked_into();
    ctx.draw_image_with_image_bitmap(image, 0.0, 0.0)?;
    Ok(canvas)
}

async fn blob(canvas: &HtmlCanvasElement, ty: &str, quality: Option<f64>) -> Result<Blob, JsValue> {
    let mut failed = None;
    let done = Promise::new(&mut |resolve, _| {
        let r = match quality {
            Some(q) => canvas.to_blob_with_type_and_encoder_options(&resolve, ty, &q.into()),
            None => canvas.to_blob_with_type(&resolve, ty),
        };
        if let Err(e) = r {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let out = JsFuture::from(done).await?;
    out.dyn_into::<Blob>()
        .map_err(|_| JsValue::from_str("the browser could not encode the image"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn names_and_advice() {
        assert_eq!(renamed("IMG_0001.avif", "png"), "IMG_0001.png");
        assert_eq!(renamed("scan.old.bmp", "jpg"), "scan.old.jpg");
        assert_eq!(renamed("noext", "png"), "noext.png");
        assert_eq!(renamed(".hidden", "png"), ".hidden.png");
        assert!(advice("unsupported format: HEIC; fitbox accepts ...").contains("iPhone"));
        assert!(advice("unsupported format: TIFF; fitbox accepts ...").contains("JPEG or PNG"));
    }
}
