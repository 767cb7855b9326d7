//! The page: header, backend banner, errors, and the panels.

use leptos::prelude::*;

use super::bridge::spawn_worker;
use super::canvas_panel::{CanvasLink, CanvasPanel};
use super::edit_panel::EditPanel;
use super::gan_lab::GanLab;
use super::transfer_lab::TransferLab;
use crate::protocol::BackendPreference;

/// Reads `?backend=auto|gpu|cpu` from the page's address.
fn backend_from_query() -> BackendPreference {
    let search = web_sys::window()
        .and_then(|window| window.location().search().ok())
        .unwrap_or_default();
    search
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "backend")
        .and_then(|(_, value)| BackendPreference::from_query(value))
        .unwrap_or_default()
}

/// Renders the whole app and starts the training worker.
#[component]
pub fn App() -> impl IntoView {
    let state = spawn_worker(backend_from_query());
    let canvas = CanvasLink::new();
    let note = move || state.backend.get().and_then(|backend| backend.note);
    let error = move || state.error.get();

    view! {
        <header class="masthead">
            <h1>"Ganvas"</h1>
            <p>"Watch a GAN learn handwritten digits, teach what it learned to new digits and symbols, and draw your own. Everything runs in this tab."</p>
        </header>
        <Show when=move || note().is_some()>
            <p class="banner" role="status" data-testid="backend-banner">{note}</p>
        </Show>
        <Show when=move || error().is_some()>
            <p class="banner error" role="alert" data-testid="error">{error}</p>
        </Show>
        <main class="panels">
            <CanvasPanel link=canvas />
            <GanLab state=state />
            <EditPanel state=state canvas=canvas />
            <TransferLab state=state canvas=canvas />
        </main>
    }
}
