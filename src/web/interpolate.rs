//! Interpolation between two points of the GAN's latent space: a found drawing and a random
//! sample, or two found drawings. A slider and an animation move along the straight path, on
//! which the latent vector and the blend of the two digits' labels both change linearly.

use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use burn::prelude::*;
use leptos::html::Canvas;
use leptos::prelude::*;

use super::bridge::LabState;
use super::canvas_panel::CanvasLink;
use super::charts::paint_tiles;
use super::edit_panel::{TileRow, export_tiles};
use crate::data::{NUM_CLASSES, SplitMix64};
use crate::editing::{Anchor, render_path};
use crate::evaluate::read_floats;
use crate::model::{GanConfig, Generator};
use crate::transfer_jobs::signed_to_bytes;

/// Images in the strip along the path, both ends included.
const PATH_IMAGES: usize = 8;
/// Time between two frames of the animation.
const FRAME_INTERVAL: Duration = Duration::from_millis(50);
/// Distance along the path per frame: a trip from one end to the other takes 2.5 s.
const FRAME_STEP: f32 = 0.02;

/// One end of the path, with a description of its source for the caption.
#[derive(Clone, Debug, PartialEq)]
struct Endpoint {
    anchor: Anchor,
    description: String,
}

/// Draws a random latent vector and a digit other than `avoid`, from `seed`.
fn random_sample(seed: u64, avoid: Option<u8>) -> Endpoint {
    let mut rng = SplitMix64::new(seed);
    let latent = (0..GanConfig::new().latent_dim)
        .map(|_| rng.normal())
        .collect();
    let mut label = rng.below(NUM_CLASSES) as u8;
    if Some(label) == avoid {
        label = (label + 1) % NUM_CLASSES as u8;
    }
    Endpoint {
        anchor: Anchor { latent, label },
        description: format!("a random {label}"),
    }
}

/// Renders the interpolation section of the editing panel.
#[component]
pub fn Interpolation(
    state: LabState,
    canvas: CanvasLink,
    generator: StoredValue<Option<Rc<Generator>>, LocalStorage>,
    generator_ready: RwSignal<bool>,
    message: RwSignal<Option<String>>,
) -> impl IntoView {
    let start = RwSignal::new(Option::<Endpoint>::None);
    let end = RwSignal::new(Option::<Endpoint>::None);
    let position = RwSignal::new(0.0f32);
    let playing = RwSignal::new(false);
    let direction = StoredValue::new(1.0f32);
    // Seeded from the page clock, so each visit draws other samples.
    let next_seed = StoredValue::new(js_sys::Date::now() as u64);
    let frame_pixels = RwSignal::new(Option::<Vec<u8>>::None);
    let path_pixels = RwSignal::new(Option::<Vec<u8>>::None);

    let found = move || {
        state.found.get().map(|fit| Endpoint {
            description: format!("your {}", fit.label),
            anchor: Anchor {
                latent: fit.latent,
                label: fit.label,
            },
        })
    };
    let new_sample = move |avoid: Option<u8>| {
        let seed = next_seed.get_value();
        next_seed.set_value(seed + 1);
        random_sample(seed, avoid)
    };
    // The first finished search starts a path from the drawing to a random sample.
    Effect::new(move |_| {
        let Some(endpoint) = found() else {
            return;
        };
        if start.get_untracked().is_none() {
            let avoid = Some(endpoint.anchor.label);
            start.set(Some(endpoint));
            if end.get_untracked().is_none() {
                end.set(Some(new_sample(avoid)));
            }
        }
    });

    // Redraws the frame at the slider's position and, when an end moves, the strip.
    let render = move |positions: Vec<f32>, into: RwSignal<Option<Vec<u8>>>| {
        let (Some(from), Some(to), Some(model)) = (
            start.get_untracked(),
            end.get_untracked(),
            generator.get_value(),
        ) else {
            into.set(None);
            return;
        };
        leptos::task::spawn_local(async move {
            let images = render_path(
                &model,
                &from.anchor,
                &to.anchor,
                &positions,
                &Device::flex(),
            );
            into.set(Some(signed_to_bytes(&read_floats(images).await)));
        });
    };
    Effect::new(move |_| {
        let t = position.get();
        start.track();
        end.track();
        generator_ready.track();
        render(vec![t], frame_pixels);
    });
    Effect::new(move |_| {
        start.track();
        end.track();
        generator_ready.track();
        let last = (PATH_IMAGES - 1) as f32;
        render(
            (0..PATH_IMAGES).map(|index| index as f32 / last).collect(),
            path_pixels,
        );
    });

    // The animation moves back and forth along the path while `playing` is set. The timer is
    // also cleared when the section goes away, so it never writes to disposed signals.
    let timer: Arc<Mutex<Option<IntervalHandle>>> = Arc::new(Mutex::new(None));
    let stop_timer = |timer: &Mutex<Option<IntervalHandle>>| {
        if let Some(handle) = timer.lock().ok().and_then(|mut handle| handle.take()) {
            handle.clear();
        }
    };
    let effect_timer = timer.clone();
    Effect::new(move |_| {
        stop_timer(&effect_timer);
        if !playing.get() {
            return;
        }
        let advance = move || {
            let mut t = position.get_untracked() + FRAME_STEP * direction.get_value();
            if !(0.0..=1.0).contains(&t) {
                direction.set_value(-direction.get_value());
                t = t.clamp(0.0, 1.0);
            }
            position.set(t);
        };
        if let Ok(mut handle) = effect_timer.lock() {
            *handle = set_interval_with_handle(advance, FRAME_INTERVAL).ok();
        }
    });
    on_cleanup(move || stop_timer(&timer));

    let frame_ref = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        if let (Some(element), Some(pixels)) = (frame_ref.get(), frame_pixels.get()) {
            paint_tiles(&element, &pixels, 1);
        }
    });
    let place = move |pixels: Option<Vec<u8>>| {
        if let Some(pixels) = pixels {
            playing.set(false);
            canvas.place.set(Some(pixels));
        }
    };
    let pick_path = Callback::new(move |index: usize| {
        let pixels = path_pixels
            .get_untracked()
            .and_then(|pixels| super::edit_panel::tile(&pixels, index));
        place(pixels)
    });
    let ready = move || start.get().is_some() && end.get().is_some();
    // The buttons name the digit they use: the last finished search, even after a later search
    // was stopped.
    let found_button = move |end: &str| match found() {
        Some(found) => format!("{end}: {}", found.description),
        None => format!("{end}: the found drawing"),
    };
    let caption = move || match (start.get(), end.get()) {
        (Some(from), Some(to)) => format!(
            "From {} to {}: {:.0}% of the way",
            from.description,
            to.description,
            position.get() * 100.0
        ),
        _ => "Find a drawing first: the path starts there.".into(),
    };

    view! {
        <div class:hidden=move || start.get().is_none()>
        <h3>"Interpolate"</h3>
        <p class="explain">
            "Walks the straight line between two latent vectors, blending the two digits' labels on the way. Set either end to the drawing just found, or to a random sample."
        </p>
        <div class="controls">
            <button data-testid="interpolate-set-start" disabled=move || found().is_none()
                on:click=move |_| start.set(found())>{move || found_button("Start")}</button>
            <button data-testid="interpolate-set-end" disabled=move || found().is_none()
                on:click=move |_| end.set(found())>{move || found_button("End")}</button>
            <button data-testid="interpolate-sample" disabled=move || start.get().is_none()
                on:click=move |_| {
                    let avoid = start.get_untracked().map(|from| from.anchor.label);
                    end.set(Some(new_sample(avoid)));
                }>"End: a random sample"</button>
        </div>
        <div class="interpolation" class:hidden=move || !ready()>
            <figure>
                <canvas node_ref=frame_ref class="interpolation-frame" data-testid="interpolate-frame"
                    data-position=move || format!("{:.2}", position.get())
                    width="28" height="28" aria-label="The generated digit at the slider's position"></canvas>
            </figure>
            <div class="interpolation-controls">
                <p class="status" data-testid="interpolate-caption">{caption}</p>
                <input type="range" min="0" max="1" step="0.01" data-testid="interpolate-slider"
                    aria-label="Position along the path"
                    prop:value=move || position.get().to_string()
                    on:input=move |event| {
                        if let Ok(value) = event_target_value(&event).parse::<f32>() {
                            playing.set(false);
                            position.set(value.clamp(0.0, 1.0));
                        }
                    }
                />
                <div class="controls">
                    <button data-testid="interpolate-play" aria-pressed=move || playing.get().to_string()
                        on:click=move |_| playing.update(|playing| *playing = !*playing)>
                        {move || if playing.get() { "Pause" } else { "Play" }}
                    </button>
                    <button data-testid="interpolate-place" on:click=move |_| place(frame_pixels.get_untracked())>
                        "Put on the canvas"
                    </button>
                    <button aria-label="Export the path as PNG" on:click=move |_| {
                        if let Some(pixels) = path_pixels.get_untracked() {
                            export_tiles(&pixels, "ganvas-interpolation.png", message);
                        }
                    }>"Export PNG"</button>
                </div>
            </div>
        </div>
        <div class:hidden=move || !ready()>
            <TileRow pixels=path_pixels.into() test_id="interpolate-path" label="Images along the path from start to end" on_pick=pick_path />
        </div>
        </div>
    }
}
