//! Editing the drawing with the GAN. "Find it" searches the latent space for the drawing in the
//! worker. The page then redraws the found latent as all ten digits and as nearby variations,
//! and any result can replace the drawing on the canvas.

use std::rc::Rc;

use burn::prelude::*;
use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::assets::fetch_bytes;
use super::bridge::LabState;
use super::canvas_panel::{CanvasLink, Masking, download};
use super::charts::paint_tiles;
use super::interpolate::Interpolation;
use super::transfer_lab::JobProgress;
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};
use crate::editing::{InversionConfig, render, render_latents, variations};
use crate::evaluate::read_floats;
use crate::image_io::encode_png;
use crate::model::{GanConfig, Generator};
use crate::protocol::{InvertRequest, JobKind, ToWorker};
use crate::transfer_jobs::signed_to_bytes;
use crate::weights::{self, GENERATOR_PATH};

/// Seed of the inversion's random starting points.
const INVERT_SEED: u64 = 1;
/// Variations shown around the found latent.
const VARIATION_COUNT: usize = 8;
/// Seed of the variations' noise, fixed so that the spread slider changes only the distance.
const VARIATION_SEED: u64 = 5;

/// Renders 28x28 images (255 = ink) as a row of tiles; a click on tile `i` calls `on_pick(i)`.
#[component]
pub(super) fn TileRow(
    pixels: Signal<Option<Vec<u8>>>,
    test_id: &'static str,
    label: &'static str,
    on_pick: Callback<usize>,
) -> impl IntoView {
    let canvas_ref = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        if let (Some(canvas), Some(pixels)) = (canvas_ref.get(), pixels.get()) {
            let tiles = pixels.len() / IMAGE_PIXELS;
            paint_tiles(&canvas, &pixels, tiles.max(1));
        }
    });
    let pick = move |event: leptos::ev::MouseEvent| {
        let (Some(canvas), Some(pixels)) = (canvas_ref.get_untracked(), pixels.get_untracked())
        else {
            return;
        };
        let tiles = pixels.len() / IMAGE_PIXELS;
        let element: &web_sys::Element = canvas.unchecked_ref();
        let width = element.get_bounding_client_rect().width();
        if tiles == 0 || width <= 0.0 {
            return;
        }
        let tile = (event.offset_x() as f64 / width * tiles as f64).floor() as usize;
        on_pick.run(tile.min(tiles - 1));
    };
    view! {
        <canvas
            node_ref=canvas_ref
            class="tile-row"
            data-testid=test_id
            data-tiles=move || pixels.get().map(|pixels| (pixels.len() / IMAGE_PIXELS).to_string())
            aria-label=label
            title="Click an image to put it on the canvas"
            width="280"
            height="28"
            on:click=pick
        ></canvas>
    }
}

/// Returns tile `index` of a row of 28x28 images.
pub(super) fn tile(pixels: &[u8], index: usize) -> Option<Vec<u8>> {
    pixels
        .get(index * IMAGE_PIXELS..(index + 1) * IMAGE_PIXELS)
        .map(<[u8]>::to_vec)
}

/// Pixels per model pixel in exported images, so a 28x28 digit is saved as 112x112.
const EXPORT_SCALE: usize = 4;

/// Lays out 28x28 tiles side by side, each pixel repeated `EXPORT_SCALE` times across and down,
/// as one row-major image. Returns the image and its width; its height is `28 * EXPORT_SCALE`.
fn tiles_side_by_side(pixels: &[u8]) -> (Vec<u8>, u32) {
    let tiles = pixels.len() / IMAGE_PIXELS;
    let side = IMAGE_SIDE * EXPORT_SCALE;
    let width = side * tiles;
    let mut image = vec![0u8; width * side];
    for (index, tile) in pixels.chunks_exact(IMAGE_PIXELS).enumerate() {
        for y in 0..side {
            for x in 0..side {
                let value = tile[(y / EXPORT_SCALE) * IMAGE_SIDE + x / EXPORT_SCALE];
                image[y * width + index * side + x] = value;
            }
        }
    }
    (image, width as u32)
}

/// Offers 28x28 tiles, side by side, as a PNG download; a failure goes to `message`.
pub(super) fn export_tiles(pixels: &[u8], name: &str, message: RwSignal<Option<String>>) {
    let (image, width) = tiles_side_by_side(pixels);
    let png = encode_png(&image, width, (IMAGE_SIDE * EXPORT_SCALE) as u32);
    if let Err(error) = download(&png, name, "image/png") {
        message.set(Some(format!("Could not export {name}: {error}.")));
    }
}

/// Renders the GAN editing panel.
#[component]
pub fn EditPanel(state: LabState, canvas: CanvasLink) -> impl IntoView {
    let generator: StoredValue<Option<Rc<Generator>>, LocalStorage> = StoredValue::new_local(None);
    let generator_ready = RwSignal::new(false);
    // `None` uses the classifier's reading of the drawing.
    let label_choice = RwSignal::new(Option::<u8>::None);
    let spread = RwSignal::new(0.5f32);
    let message = RwSignal::new(Option::<String>::None);
    let style_pixels = RwSignal::new(Option::<Vec<u8>>::None);
    let variation_pixels = RwSignal::new(Option::<Vec<u8>>::None);

    leptos::task::spawn_local(async move {
        let loaded = async {
            let bytes = fetch_bytes(GENERATOR_PATH, |_, _| {}).await?;
            let model = GanConfig::new().init_generator(&Device::flex());
            weights::load(model, bytes, "generator").map_err(|error| error.to_string())
        }
        .await;
        match loaded {
            Ok(model) => {
                generator.set_value(Some(Rc::new(model)));
                generator_ready.set(true);
            }
            Err(error) => message.set(Some(format!("The generator could not be loaded: {error}"))),
        }
    });

    // Redraws the style grid when a search finishes, and the variations also when the spread
    // moves.
    Effect::new(move |_| {
        let (Some(fit), true) = (state.found.get(), generator_ready.get()) else {
            style_pixels.set(None);
            return;
        };
        let Some(model) = generator.get_value() else {
            return;
        };
        leptos::task::spawn_local(async move {
            let digits: Vec<u8> = (0..NUM_CLASSES as u8).collect();
            let styled = render(&model, &fit.latent, &digits, &Device::flex());
            style_pixels.set(Some(signed_to_bytes(&read_floats(styled).await)));
        });
    });
    Effect::new(move |_| {
        let spread = spread.get();
        let (Some(fit), true) = (state.found.get(), generator_ready.get()) else {
            variation_pixels.set(None);
            return;
        };
        let Some(model) = generator.get_value() else {
            return;
        };
        leptos::task::spawn_local(async move {
            let latents = variations(&fit.latent, VARIATION_COUNT, spread, VARIATION_SEED);
            let images = render_latents(&model, &latents, fit.label, &Device::flex());
            variation_pixels.set(Some(signed_to_bytes(&read_floats(images).await)));
        });
    });

    let find = move |_| {
        let Some(frame) = canvas.frame.get_untracked() else {
            message.set(Some(
                "Draw a digit on the canvas first, then press Find it.".into(),
            ));
            return;
        };
        let label = label_choice
            .get_untracked()
            .or_else(|| canvas.prediction.get_untracked().map(|digit| digit as u8));
        let Some(label) = label else {
            message.set(Some(
                "The classifier is still loading: pick the digit in the menu.".into(),
            ));
            return;
        };
        message.set(None);
        let to_bytes = |values: &[f32]| -> Vec<u8> {
            values
                .iter()
                .map(|&value| (value * 255.0).round().clamp(0.0, 255.0) as u8)
                .collect()
        };
        let request = match canvas.masking.get_untracked() {
            Masking::Inpaint(inpaint) => InvertRequest {
                pixels: to_bytes(&inpaint.ink),
                label,
                seed: INVERT_SEED,
                known: Some(to_bytes(&inpaint.known)),
            },
            Masking::Unmasked | Masking::OutsideOnly => InvertRequest {
                pixels: to_bytes(&frame),
                label,
                seed: INVERT_SEED,
                known: None,
            },
            Masking::Everything => {
                message.set(Some(
                    "The mask covers all of the drawing, so nothing is left to fit: clear the mask or leave part of the drawing unmasked.".into(),
                ));
                return;
            }
        };
        state.start_job(JobKind::Invert, &ToWorker::Invert(request));
    };
    let place = move |pixels: Option<Vec<u8>>| {
        if let Some(pixels) = pixels {
            canvas.place.set(Some(pixels));
        }
    };
    // The fit on show: the search in progress or stopped, else the last finished one.
    let shown = move || state.inversion.get().or_else(|| state.found.get());
    let searching = move || {
        state
            .job
            .get()
            .is_some_and(|job| job.kind == JobKind::Invert)
    };
    // A stopped search's best fit so far can be used too.
    let usable = move || shown().is_some() && !searching();
    // An inpainting puts the filled-in drawing back; a plain search puts the generator's image.
    let place_reconstruction =
        move |_| place(shown().map(|fit| fit.filled.unwrap_or(fit.reconstruction)));
    let pick_style = Callback::new(move |index: usize| {
        place(
            style_pixels
                .get_untracked()
                .and_then(|pixels| tile(&pixels, index)),
        )
    });
    let pick_variation = Callback::new(move |index: usize| {
        place(
            variation_pixels
                .get_untracked()
                .and_then(|pixels| tile(&pixels, index)),
        )
    });

    let search = InversionConfig::new();
    let reconstruction_ref = NodeRef::<Canvas>::new();
    let filled_ref = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        if let (Some(element), Some(fit)) = (reconstruction_ref.get(), shown()) {
            paint_tiles(&element, &fit.reconstruction, 1);
        }
    });
    Effect::new(move |_| {
        let filled = shown().and_then(|fit| fit.filled);
        if let (Some(element), Some(filled)) = (filled_ref.get(), filled) {
            paint_tiles(&element, &filled, 1);
        }
    });
    let inpainting = move || shown().is_some_and(|fit| fit.filled.is_some());
    let progress = move || {
        shown().map(|fit| {
            format!(
                "step {} of {} · error {:.4} (mean squared, pixels from -1 to 1) · as a {}",
                fit.step, fit.steps, fit.error, fit.label
            )
        })
    };
    let label_options = (0..NUM_CLASSES)
        .map(|digit| view! { <option value=digit.to_string()>{digit}</option> })
        .collect_view();
    let done = move || state.inversion.get().is_some_and(|fit| fit.done);

    view! {
        <section class="panel edit-panel" aria-labelledby="edit-title">
            <h2 id="edit-title">"Edit with the GAN"</h2>
            <p class="explain">
                {format!(
                    "Find it searches the GAN's latent space for a vector z whose generated digit looks like your drawing ({} Adam steps from {} random starts, with the generator fixed). Then the same z draws every digit in your style, or variations near it. Click any result to put it on the canvas, and Undo takes it back.",
                    search.steps, search.restarts
                )}
            </p>
            <div class="controls">
                <label>
                    "Digit "
                    <select data-testid="invert-label" on:change=move |event| {
                        label_choice.set(event_target_value(&event).parse::<u8>().ok());
                    }>
                        <option value="auto" selected=true>"as recognised"</option>
                        {label_options}
                    </select>
                </label>
                <button class="primary" data-testid="invert-run" disabled=move || state.job_running() || !state.prepared.get() on:click=find>
                    "Find it"
                </button>
            </div>
            <p class="message" role="alert" class:hidden=move || message.get().is_none()>{move || message.get()}</p>
            <JobProgress state=state kind=JobKind::Invert test_id="invert-job" />
            <div class="reconstruction-row" class:hidden=move || shown().is_none()>
                <figure>
                    <canvas node_ref=reconstruction_ref class="reconstruction" data-testid="reconstruction" width="28" height="28"
                        aria-label="The generator's closest image to the drawing"></canvas>
                    <figcaption>"Generated"</figcaption>
                </figure>
                <figure class:hidden=move || !inpainting()>
                    <canvas node_ref=filled_ref class="reconstruction" data-testid="inpainted" width="28" height="28"
                        aria-label="The drawing with the masked part redrawn by the generator"></canvas>
                    <figcaption>"Filled in"</figcaption>
                </figure>
                <div>
                    <p class="status" data-testid="invert-progress" data-done=move || done().to_string()>{progress}</p>
                    <button data-testid="clean-up" disabled=move || !usable() on:click=place_reconstruction>
                        {move || if inpainting() {
                            "Put the filled-in drawing on the canvas"
                        } else {
                            "Clean up: put this on the canvas"
                        }}
                    </button>
                    <button aria-label="Export the found image as PNG" disabled=move || !usable() on:click=move |_| {
                        if let Some(fit) = shown() {
                            export_tiles(&fit.filled.unwrap_or(fit.reconstruction), "ganvas-found.png", message);
                        }
                    }>"Export PNG"</button>
                </div>
            </div>
            <div class:hidden=move || style_pixels.get().is_none()>
                <h3>{move || match state.found.get() {
                    Some(found) => format!("Same style as your {}, every digit", found.label),
                    None => "Same style, every digit".into(),
                }}</h3>
                <TileRow pixels=style_pixels.into() test_id="style-grid" label="Your drawing's style as the digits 0 to 9" on_pick=pick_style />
                <button data-testid="export-style-grid" aria-label="Export the ten digits as PNG" on:click=move |_| {
                    if let Some(pixels) = style_pixels.get_untracked() {
                        export_tiles(&pixels, "ganvas-style-grid.png", message);
                    }
                }>"Export PNG"</button>
                <h3>"Variations"</h3>
                <label>
                    "Spread "
                    <input type="range" min="0.1" max="1.5" step="0.1" data-testid="variations-spread"
                        prop:value=move || spread.get().to_string()
                        on:input=move |event| {
                            if let Ok(value) = event_target_value(&event).parse::<f32>() {
                                spread.set(value);
                            }
                        }
                    />
                    {move || format!(" {:.1}", spread.get())}
                </label>
                <TileRow pixels=variation_pixels.into() test_id="variations" label="Variations near the found latent vector" on_pick=pick_variation />
                <button aria-label="Export the variations as PNG" on:click=move |_| {
                    if let Some(pixels) = variation_pixels.get_untracked() {
                        export_tiles(&pixels, "ganvas-variations.png", message);
                    }
                }>"Export PNG"</button>
            </div>
            <Interpolation state=state canvas=canvas generator=generator generator_ready=generator_ready message=message />
        </section>
    }
}
