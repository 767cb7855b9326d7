//! The browser side: the page (Leptos components) and the training worker. One wasm module
//! serves both; [`start`] checks which global scope it runs in.

mod app;
mod assets;
mod bridge;
mod canvas_panel;
mod charts;
mod edit_panel;
mod few_shot_gan;
mod gan_lab;
pub mod gpu;
mod interpolate;
mod teach;
mod transfer_lab;
mod worker;

use wasm_bindgen::JsCast;

/// Starts the page, or the training loop when running inside the worker.
pub fn start() {
    console_error_panic_hook::set_once();
    // Without a logger, wgpu's WGSL compile errors and burn's warnings never reach the console.
    let _ = console_log::init_with_level(log::Level::Info);

    let global = js_sys::global();
    if global
        .dyn_ref::<web_sys::DedicatedWorkerGlobalScope>()
        .is_some()
    {
        log::info!("worker: starting");
        worker::start();
    } else {
        log::info!("page: mounting");
        leptos::mount::mount_to_body(app::App);
    }
}
