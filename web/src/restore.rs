//! Nothing lost on reload (what Uppy calls Golden Retriever): every file not yet sent is kept in
//! the browser's IndexedDB (a `File` is stored as it is, by structured clone) until its bytes
//! are stored, or it is refused, cancelled or removed. After a reload or a crash the page offers
//! the files again; their previews are made anew from the kept bytes.
//!
//! Through the `idb` crate (IndexedDB's requests as futures). Entries are keyed
//! `<page start ms, 13 digits>-<card id, 6 digits>`, so they come back in the order they came.

use std::cell::RefCell;
use std::rc::Rc;

use idb::builder::{DatabaseBuilder, ObjectStoreBuilder};
use idb::{Database, ObjectStore, TransactionMode};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::File;

const DB: &str = "fitbox";
const STORE: &str = "unsent";

/// The key a card's file is kept under, for a page started at `page_start_ms`.
pub fn key(page_start_ms: f64, card: u32) -> String {
    format!("{:013}-{card:06}", page_start_ms.max(0.0) as u64)
}

thread_local! {
    /// The page's one connection to the database, opened on first use.
    static OPEN: RefCell<Option<Rc<Database>>> = const { RefCell::new(None) };
}

/// The page's connection, opened (and the store made) on first use: every card that is kept or
/// settles asks for it, and opening it each time cost 500 connections for 500 files.
async fn database() -> Result<Rc<Database>, String> {
    if let Some(db) = OPEN.with_borrow(Clone::clone) {
        return Ok(db);
    }
    let db = Rc::new(
        DatabaseBuilder::new(DB)
            .version(1)
            .add_object_store(ObjectStoreBuilder::new(STORE))
            .build()
            .await
            .map_err(|e| e.to_string())?,
    );
    // Two first uses at once: the first connection stays, the other is closed.
    let kept = OPEN.with_borrow_mut(|open| open.get_or_insert_with(|| db.clone()).clone());
    if !Rc::ptr_eq(&kept, &db) {
        db.close();
    }
    Ok(kept)
}

/// The store, in a transaction of its own. A connection the browser closed (another tab
/// upgrading the database, storage cleared) is opened again, once.
async fn store(mode: TransactionMode) -> Result<ObjectStore, String> {
    let mut again = false;
    loop {
        let db = database().await?;
        match db.transaction(&[STORE], mode) {
            Ok(tx) => return tx.object_store(STORE).map_err(|e| e.to_string()),
            Err(_) if !again => {
                again = true;
                OPEN.with_borrow_mut(|open| *open = None);
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Keep each file under its key until [`forget`], in one transaction.
pub async fn keep(files: &[(String, File)]) -> Result<(), String> {
    let s = store(TransactionMode::ReadWrite).await?;
    for (key, file) in files {
        s.put(file, Some(&JsValue::from_str(key)))
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Drop what is kept under each of `keys`.
pub async fn forget(keys: &[String]) -> Result<(), String> {
    let s = store(TransactionMode::ReadWrite).await?;
    for k in keys {
        s.delete(JsValue::from_str(k))
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Everything kept, oldest first: (key, file).
pub async fn kept() -> Result<Vec<(String, File)>, String> {
    let s = store(TransactionMode::ReadOnly).await?;
    let keys = s
        .get_all_keys(None, None)
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    let values = s
        .get_all(None, None)
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    Ok(keys
        .into_iter()
        .zip(values)
        .filter_map(|(k, v)| Some((k.as_string()?, v.dyn_into::<File>().ok()?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn keys_sort_as_files_came() {
        assert_eq!(key(1_765_139_000_123.0, 7), "1765139000123-000007");
        let mut keys = [key(2e12, 1), key(1e12, 12), key(1e12, 3)];
        keys.sort();
        assert_eq!(keys, [key(1e12, 3), key(1e12, 12), key(2e12, 1)]);
    }

    #[wasm_bindgen_test]
    async fn files_are_kept_found_and_forgotten() {
        let opts = web_sys::FilePropertyBag::new();
        opts.set_type("image/png");
        let parts = js_sys::Array::of1(&"pixels".into());
        let file = File::new_with_str_sequence_and_options(&parts, "a.png", &opts).unwrap();
        let k = key(1.0, 1);
        keep(&[(k.clone(), file)]).await.unwrap();
        let found = kept().await.unwrap();
        let (_, back) = found.iter().find(|(key, _)| *key == k).expect("kept");
        assert_eq!(
            (back.name(), back.type_(), back.size()),
            ("a.png".into(), "image/png".into(), 6.0)
        );
        forget(std::slice::from_ref(&k)).await.unwrap();
        assert!(kept().await.unwrap().iter().all(|(key, _)| *key != k));
    }
}
