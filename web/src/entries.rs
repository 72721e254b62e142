//! What a drop or a paste brings: files, folders (every image inside, recursively, through the
//! File and Directory Entries API) and pasted clipboard images, named sensibly.

use js_sys::{Array, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DataTransfer, ErrorCallback, File, FilePropertyBag, FileSystemDirectoryEntry,
    FileSystemDirectoryReader, FileSystemEntry, FileSystemFileEntry,
};

/// The most files taken from dropped folders at once (the rest are left out, and counted).
pub const MAX_FOLDER_FILES: usize = 1000;

/// The entries of a drop, when any of them is a folder (`None`: plain files, read them from
/// `dataTransfer.files`). Must be called while the drop event is dispatched: the browser
/// empties the data transfer afterwards.
pub fn folder_drop(dt: &DataTransfer) -> Option<Vec<FileSystemEntry>> {
    let items = dt.items();
    let entries: Vec<FileSystemEntry> = (0..items.length())
        .filter_map(|i| items.get(i))
        .filter(|item| item.kind() == "file")
        .filter_map(|item| item.webkit_get_as_entry().ok().flatten())
        .collect();
    entries.iter().any(|e| e.is_directory()).then_some(entries)
}

/// What was found in dropped folders.
#[derive(Debug, Default)]
pub struct Found {
    /// The images, folder by folder in the order the browser lists them.
    pub images: Vec<File>,
    /// Files left out as not images (by their type).
    pub not_images: usize,
    /// Images left out beyond the first [`MAX_FOLDER_FILES`].
    pub over_limit: usize,
    /// Folders or files the browser could not read (the first error).
    pub error: Option<String>,
}

/// Every image in `entries` and the folders among them, depth first.
pub async fn images_in(entries: Vec<FileSystemEntry>) -> Found {
    let mut found = Found::default();
    let mut stack: Vec<FileSystemEntry> = entries.into_iter().rev().collect();
    while let Some(entry) = stack.pop() {
        if entry.is_directory() {
            let dir: FileSystemDirectoryEntry = entry.unchecked_into();
            match read_all(&dir.create_reader()).await {
                Ok(children) => stack.extend(children.into_iter().rev()),
                Err(e) => {
                    found.error.get_or_insert(crate::util::js_message(&e));
                }
            }
            continue;
        }
        let file_entry: FileSystemFileEntry = entry.unchecked_into();
        match file_of(&file_entry).await {
            Ok(file) if !is_image(&file) => found.not_images += 1,
            Ok(_) if found.images.len() >= MAX_FOLDER_FILES => found.over_limit += 1,
            Ok(file) => found.images.push(file),
            Err(e) => {
                found.error.get_or_insert(crate::util::js_message(&e));
            }
        }
    }
    found
}

/// An image by its type (which the browser gives from the name's extension); HEIC and AVIF
/// included, so their cards can say what to do with them.
fn is_image(file: &File) -> bool {
    file.type_().starts_with("image/")
}

/// Every entry of a folder: `readEntries` gives them in batches until it gives none.
async fn read_all(reader: &FileSystemDirectoryReader) -> Result<Vec<FileSystemEntry>, JsValue> {
    let mut all = Vec::new();
    loop {
        let mut failed = None;
        let batch = Promise::new(&mut |resolve, reject| {
            if let Err(e) = reader
                .read_entries_with_callback_and_error_callback(&resolve, reject.unchecked_ref())
            {
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        let batch: Array = JsFuture::from(batch).await?.unchecked_into();
        if batch.length() == 0 {
            return Ok(all);
        }
        all.extend(batch.iter().map(|e| e.unchecked_into::<FileSystemEntry>()));
    }
}

async fn file_of(entry: &FileSystemFileEntry) -> Result<File, JsValue> {
    let file = Promise::new(&mut |resolve, reject| {
        entry.file_with_callback_and_error_callback(
            &resolve,
            reject.unchecked_ref::<ErrorCallback>(),
        );
    });
    Ok(JsFuture::from(file).await?.unchecked_into())
}

/// The files of a paste, each named for what it is: a browser names a pasted screenshot or
/// copied image `image.png`; it becomes `Pasted image 2026-12-07 21.15.30.png` (local time; `-2`,
/// `-3`... when several). Files copied with a name of their own keep it.
pub fn pasted(dt: &DataTransfer, now: &js_sys::Date) -> Vec<File> {
    let Some(list) = dt.files() else {
        return Vec::new();
    };
    let files: Vec<File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
    let stamp = format!(
        "{:04}-{:02}-{:02} {:02}.{:02}.{:02}",
        now.get_full_year(),
        now.get_month() + 1,
        now.get_date(),
        now.get_hours(),
        now.get_minutes(),
        now.get_seconds()
    );
    let generic = files.iter().filter(|f| is_generic_name(&f.name())).count();
    let mut n = 0;
    files
        .into_iter()
        .map(|f| {
            if !is_generic_name(&f.name()) {
                return f;
            }
            n += 1;
            let ext = extension_for(&f.type_());
            let name = if generic > 1 {
                format!("Pasted image {stamp}-{n}.{ext}")
            } else {
                format!("Pasted image {stamp}.{ext}")
            };
            renamed(&f, &name).unwrap_or(f)
        })
        .collect()
}

/// A browser's name for clipboard image data: `image.png`, `image.jpeg`..., or none.
pub fn is_generic_name(name: &str) -> bool {
    name.is_empty()
        || name
            .strip_prefix("image.")
            .is_some_and(|ext| !ext.is_empty() && ext.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The file-name extension for a media type (`png` when unknown).
pub fn extension_for(media_type: &str) -> &'static str {
    match media_type {
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "image/avif" => "avif",
        "image/heic" => "heic",
        _ => "png",
    }
}

fn renamed(file: &File, name: &str) -> Result<File, JsValue> {
    let opts = FilePropertyBag::new();
    opts.set_type(&file.type_());
    opts.set_last_modified(file.last_modified());
    let parts = Array::of1(file);
    File::new_with_blob_sequence_and_options(&parts, name, &opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn generic_clipboard_names() {
        for name in ["", "image.png", "image.jpeg", "image.webp"] {
            assert!(is_generic_name(name), "{name:?}");
        }
        for name in [
            "cat.png",
            "image.",
            "image.tar.gz",
            "images.png",
            "Image.png",
        ] {
            assert!(!is_generic_name(name), "{name:?}");
        }
        assert_eq!(extension_for("image/jpeg"), "jpg");
        assert_eq!(extension_for("image/png"), "png");
        assert_eq!(extension_for("application/octet-stream"), "png");
    }

    #[wasm_bindgen_test]
    fn pasted_files_are_named_by_local_time() {
        let dt = DataTransfer::new().unwrap();
        let blob = |name: &str, ty: &str| {
            let opts = FilePropertyBag::new();
            opts.set_type(ty);
            File::new_with_str_sequence_and_options(&Array::of1(&"x".into()), name, &opts).unwrap()
        };
        dt.items()
            .add_with_file(&blob("image.png", "image/png"))
            .unwrap();
        dt.items()
            .add_with_file(&blob("cat.jpg", "image/jpeg"))
            .unwrap();
        dt.items()
            .add_with_file(&blob("image.jpeg", "image/jpeg"))
            .unwrap();
        // 7 December 2026, 09:05:03 local time (months count from 0).
        let now = js_sys::Date::new_with_year_month_day_hr_min_sec(2026, 11, 7, 9, 5, 3);
        let names: Vec<String> = pasted(&dt, &now).iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            [
                "Pasted image 2026-12-07 09.05.03-1.png",
                "cat.jpg",
                "Pasted image 2026-12-07 09.05.03-2.jpg"
            ]
        );
        let one = DataTransfer::new().unwrap();
        one.items()
            .add_with_file(&blob("image.png", "image/png"))
            .unwrap();
        let f = &pasted(&one, &now)[0];
        assert_eq!(f.name(), "Pasted image 2026-12-07 09.05.03.png");
        assert_eq!(f.type_(), "image/png");
        assert_eq!(f.size(), 1.0);
    }
}
