//! The GAN lab's pictures: the sample grid (a canvas) and the loss chart (SVG).

use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, ImageData};

use super::bridge::{LossPoint, Samples};
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};

const CHART_WIDTH: f64 = 360.0;
const CHART_HEIGHT: f64 = 160.0;
const CHART_PADDING: f64 = 28.0;

/// Paints 28x28 greyscale images (255 = ink) as dark ink on white tiles, `columns` per row.
pub fn paint_tiles(canvas: &web_sys::HtmlCanvasElement, pixels: &[u8], columns: usize) {
    let tiles = pixels.len() / IMAGE_PIXELS;
    if columns == 0 || pixels.len() % IMAGE_PIXELS != 0 {
        log::error!(
            "page: {} bytes are not whole 28x28 images in {columns} columns",
            pixels.len()
        );
        return;
    }
    let rows = tiles.div_ceil(columns);
    let width = columns * IMAGE_SIDE;
    let height = rows.max(1) * IMAGE_SIDE;
    canvas.set_width(width as u32);
    canvas.set_height(height as u32);
    let Some(context) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|context| context.dyn_into::<CanvasRenderingContext2d>().ok())
    else {
        return;
    };

    let mut rgba = vec![255u8; width * height * 4];
    for (tile, image) in pixels.chunks_exact(IMAGE_PIXELS).enumerate() {
        let (row, column) = (tile / columns, tile % columns);
        for (index, &ink) in image.iter().enumerate() {
            let x = column * IMAGE_SIDE + index % IMAGE_SIDE;
            let y = row * IMAGE_SIDE + index / IMAGE_SIDE;
            let value = 255 - ink;
            let offset = (y * width + x) * 4;
            rgba[offset..offset + 4].copy_from_slice(&[value, value, value, 255]);
        }
    }
    match ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), width as u32, height as u32) {
        Ok(image) => {
            let _ = context.put_image_data(&image, 0.0, 0.0);
        }
        Err(error) => log::error!("page: could not build the tile image: {error:?}"),
    }
}

/// Paints generated digits, one column per digit and one row per fixed latent vector.
fn paint_grid(canvas: &web_sys::HtmlCanvasElement, samples: &Samples) {
    let expected = samples.rows * NUM_CLASSES * IMAGE_PIXELS;
    if samples.pixels.len() != expected {
        log::error!(
            "page: sample grid has {} bytes, expected {expected}",
            samples.pixels.len()
        );
        return;
    }
    paint_tiles(canvas, &samples.pixels, NUM_CLASSES);
}

/// Renders the sample grid and repaints it whenever new samples arrive.
#[component]
pub fn SampleGrid(samples: RwSignal<Option<Samples>>) -> impl IntoView {
    let canvas_ref = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        if let (Some(canvas), Some(samples)) = (canvas_ref.get(), samples.get()) {
            paint_grid(&canvas, &samples);
        }
    });
    let labels = (0..NUM_CLASSES)
        .map(|digit| view! { <span>{digit}</span> })
        .collect_view();
    view! {
        <figure class="grid-figure">
            <div class="grid-labels" aria-hidden="true">{labels}</div>
            <canvas
                node_ref=canvas_ref
                class="sample-grid"
                data-testid="sample-grid"
                data-step=move || samples.get().map(|samples| samples.step.to_string())
                aria-label="Generated digits: one column per digit, one row per fixed latent vector"
            ></canvas>
            <figcaption>
                {move || match samples.get() {
                    Some(samples) => format!("Generated at step {}; each row keeps its latent vector z.", samples.step),
                    None => "Samples appear once the model is loaded.".to_string(),
                }}
            </figcaption>
        </figure>
    }
}

/// Turns a series into an SVG polyline's points, scaled into the chart's plot area.
fn polyline(
    points: &[LossPoint],
    value: impl Fn(&LossPoint) -> f32,
    max_step: f64,
    max_value: f64,
) -> String {
    let plot_width = CHART_WIDTH - 2.0 * CHART_PADDING;
    let plot_height = CHART_HEIGHT - 2.0 * CHART_PADDING;
    points
        .iter()
        .map(|point| {
            let x = CHART_PADDING + point.step as f64 / max_step * plot_width;
            let clamped = (value(point) as f64).clamp(0.0, max_value);
            let y = CHART_HEIGHT - CHART_PADDING - clamped / max_value * plot_height;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Renders the discriminator and generator losses against steps.
#[component]
pub fn LossChart(losses: RwSignal<Vec<LossPoint>>) -> impl IntoView {
    let scales = move || {
        losses.with(|points| {
            let max_step = points.last().map_or(1, |point| point.step.max(1)) as f64;
            let max_value = points
                .iter()
                .flat_map(|point| [point.discriminator, point.generator])
                .filter(|value| value.is_finite())
                .fold(1.0f32, f32::max) as f64;
            (max_step, max_value.ceil())
        })
    };
    let d_line = move || {
        let (max_step, max_value) = scales();
        losses.with(|points| polyline(points, |point| point.discriminator, max_step, max_value))
    };
    let g_line = move || {
        let (max_step, max_value) = scales();
        losses.with(|points| polyline(points, |point| point.generator, max_step, max_value))
    };
    view! {
        <figure class="loss-figure">
            <svg
                class="loss-chart"
                data-testid="loss-chart"
                data-points=move || losses.with(Vec::len).to_string()
                viewBox=format!("0 0 {CHART_WIDTH} {CHART_HEIGHT}")
                role="img"
                aria-label="Discriminator and generator loss per step"
            >
                <line class="axis" x1=CHART_PADDING y1=CHART_HEIGHT - CHART_PADDING x2=CHART_WIDTH - CHART_PADDING y2=CHART_HEIGHT - CHART_PADDING></line>
                <line class="axis" x1=CHART_PADDING y1=CHART_PADDING x2=CHART_PADDING y2=CHART_HEIGHT - CHART_PADDING></line>
                <text class="tick" x=4 y=CHART_PADDING + 4.0>{move || format!("{}", scales().1)}</text>
                <text class="tick" x=4 y=CHART_HEIGHT - CHART_PADDING>"0"</text>
                <text class="tick" x=CHART_WIDTH - CHART_PADDING y=CHART_HEIGHT - 8.0 text-anchor="end">
                    {move || format!("step {}", scales().0)}
                </text>
                <polyline class="line-d" points=d_line></polyline>
                <polyline class="line-g" points=g_line></polyline>
                <Show when=move || losses.with(Vec::is_empty)>
                    <text class="empty" x=CHART_WIDTH / 2.0 y=CHART_HEIGHT / 2.0 text-anchor="middle">
                        "Loss curves appear when training starts."
                    </text>
                </Show>
            </svg>
            <figcaption>
                <span class="key key-d">"D loss"</span>
                <span class="key key-g">"G loss"</span>
            </figcaption>
        </figure>
    }
}
