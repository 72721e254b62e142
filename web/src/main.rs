//! The page binary: Trunk builds it from the root `index.html`.

fn main() {
    #[cfg(target_arch = "wasm32")]
    fitbox_web::start();
}
