//! Nothing lost on reload (what Uppy calls Golden Retriever): every file not yet sent is kept in
//! the browser's IndexedDB (a `File` is stored as it is, by structured clone) until its bytes
//! are stored, or it is refused, cancelled or removed. After a reload or a crash the page offers
//! the files again; their previews are made anew from the kept bytes.
//!
//! Through the `idb` crate (IndexedDB's requests as futures). Entries are keyed
//! `<page start ms, 13 digits>-<card id, 6 digits>`, so they come back in the order they came.
//!
//! IndexedDB is shared by every tab of the origin, so each page holds a Web Lock named for its
//! start while it is open ([`hold_page_lock`]); the files of a page whose lock is held belong to
//! a tab still open, which is sending them, and are not offered by another ([`not_open`]).

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

/// The Web Lock a page started at `page_start_ms` holds while it is open.
pub fn lock_name(page_start_ms: f64) -> String {
    format!("fitbox-page-{:013}", page_start_ms.max(0.0) as u64)
}

/// The Web Lock of the page that kept the file under `key` (its first 13 characters).
fn lock_of_key(key: &str) -> Option<String> {
    let start = key.get(..13)?;
    start
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| format!("fitbox-page-{start}"))
}

/// Of the files `kept`, those not kept by a page still open, one that holds a lock of
/// `held`.
pub fn not_open(kept: Vec<(String, File)>, held: &[String]) -> Vec<(String, File)> {
    kept.into_iter()
        .filter(|(key, _)| !lock_of_key(key).is_some_and(|lock| held.contains(&lock)))
        .collect()
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    // Web Locks (navigator.locks), bound here: web-sys has them as unstable API only. Each call
    // throws (an `Err` here) where the browser has no Web Locks.
    #[wasm_bindgen(js_namespace = ["navigator", "locks"], js_name = request, catch)]
    fn lock_request(name: &str, hold: &js_sys::Function) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["navigator", "locks"], js_name = query, catch)]
    fn lock_query() -> Result<js_sys::Promise, JsValue>;
}

/// Hold this page's Web Lock (see [`lock_name`]) until the page is gone: the browser lets it
/// go when the tab closes, reloads or crashes. Without Web Locks, nothing is held.
pub fn hold_page_lock(page_start_ms: f64) {
    // Held while the promise the callback returns is pending: one that never settles.
    let hold = wasm_bindgen::closure::Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(
        |_lock: JsValue| js_sys::Promise::new(&mut |_, _| {}),
    );
    if let Ok(request) = lock_request(&lock_name(page_start_ms), hold.as_ref().unchecked_ref()) {
        // Called once, by the browser, at some point: it lives as long as the page.
        hold.forget();
        // Refused (an opaque origin, a document no longer active): the promise rejects. Then no
        // lock is held, as without Web Locks.
        let refused = wasm_bindgen::closure::Closure::<dyn FnMut(JsValue)>::new(|_| {});
        let _ = request.catch(&refused);
        refused.forget();
    }
}

/// The names of the Web Locks held now, by any tab of the origin; empty without Web Locks.
pub async fn held_locks() -> Vec<String> {
    let Ok(query) = lock_query() else {
        return Vec::new();
    };
    let Ok(snapshot) = wasm_bindgen_futures::JsFuture::from(query).await else {
        return Vec::new();
    };
    let held = js_sys::Reflect::get(&snapshot, &"held".into()).unwrap_or_default();
    let Ok(held) = held.dyn_into::<js_sys::Array>() else {
        return Vec::new();
    };
    held.iter()
        .filter_map(|lock| {
            js_sys::Reflect::get(&lock, &"name".into())
                .ok()?
                .as_string()
        })
        .collect()
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
    async fn files_of_open_pages_are_not_offered() {
        let file = |name: &str| File::new_with_str_sequence(&js_sys::Array::new(), name).unwrap();
        let (mine, other) = (1_765_139_000_123.0, 1_765_139_555_000.0);
        let kept = vec![
            (key(mine, 1), file("a.png")),
            (key(other, 1), file("b.png")),
            (key(other, 2), file("c.png")),
            ("not a page key".to_string(), file("d.png")),
        ];
        let names = |v: &[(String, File)]| v.iter().map(|(_, f)| f.name()).collect::<Vec<_>>();
        // The page that kept b and c holds its lock: only a (and what no page can own) is offered.
        let offered = not_open(kept.clone(), &[lock_name(other), "someone-else".into()]);
        assert_eq!(names(&offered), ["a.png", "d.png"]);
        assert_eq!(
            names(&not_open(kept, &[])),
            ["a.png", "b.png", "c.png", "d.png"]
        );
        // A held page lock shows up in the browser's list of held locks.
        hold_page_lock(other);
        let mut held = Vec::new();
        for _ in 0..50 {
            held = held_locks().await;
            if held.contains(&lock_name(other)) {
                break;
            }
            crate::util::sleep(20).await;
        }
        assert!(held.contains(&lock_name(other)), "{held:?}");
        assert!(!held.contains(&lock_name(mine)));
    }

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
