//! Entry point of the page and of its training worker: the same wasm module runs in both, and
//! `web::start` checks which one it runs in.

#[cfg(target_arch = "wasm32")]
fn main() {
    ganvas::web::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("ganvas runs in the browser: build and serve it with `trunk serve` (see README.md)");
}
