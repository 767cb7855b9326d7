//! The drawing canvas: pointer strokes (mouse, touch, pen) with brush, eraser, a mask for
//! inpainting, clear, undo and redo. It shows the MNIST-style preprocessing as "what the model
//! sees" and recognises the drawing live with the shipped classifier on the CPU of the UI
//! thread (one 28x28 image takes milliseconds).

use std::cell::RefCell;
use std::rc::Rc;

use burn::prelude::*;
use burn::tensor::activation::softmax;
use leptos::ev;
use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData, PointerEvent};

use super::assets::fetch_bytes;
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};
use crate::image_io::{MAX_FILE_BYTES, MEBIBYTE, encode_png, import_drawing};
use crate::model::{Classifier, ClassifierConfig};
use crate::preprocess::{
    INK_THRESHOLD, InpaintInput, Raster, ink_to_signed, to_inpaint_input, to_model_input,
};
use crate::weights::{self, CLASSIFIER_PATH};

/// Side of the drawing area in CSS pixels; the backing store is this times devicePixelRatio.
const CANVAS_CSS_SIDE: f64 = 280.0;
/// Brush diameter as a fraction of the canvas side: about an MNIST stroke (2-3 of 28 pixels)
/// once the digit is scaled into its 20x20 box.
const BRUSH_FRACTION: f64 = 0.07;
/// The eraser is wider than the brush, as in most paint programs.
const ERASER_FRACTION: f64 = 0.12;
/// The mask brush is as wide as the eraser: it covers parts of strokes, not single lines.
const MASK_FRACTION: f64 = 0.12;
/// Colour of the mask layer. The layer's CSS opacity lets the drawing show through.
const MASK_COLOUR: &str = "#e4572e";
/// Input types without text editing, where Ctrl+Z has no meaning of its own.
const NON_TEXT_INPUTS: [&str; 7] = [
    "range", "checkbox", "radio", "button", "submit", "file", "color",
];
/// Minimum time between two predictions while a stroke is in progress.
const PREDICT_INTERVAL_MS: f64 = 120.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Brush,
    /// Erases ink; the mask stays until it is cleared.
    Eraser,
    /// Paints the mask layer: the region that inpainting redraws.
    Mask,
}

impl Tool {
    /// Stroke width as a fraction of the canvas side.
    fn width_fraction(self) -> f64 {
        match self {
            Self::Brush => BRUSH_FRACTION,
            Self::Eraser => ERASER_FRACTION,
            Self::Mask => MASK_FRACTION,
        }
    }
}

/// The drawing canvas's shared state, which other panels read and write.
#[derive(Clone, Copy)]
pub struct CanvasLink {
    /// The drawing as the model's input (28x28 ink in [0, 1], row-major), `None` when empty.
    pub frame: RwSignal<Option<Vec<f32>>>,
    /// A counter that another panel increments to clear the canvas (an undoable action).
    pub clear_requests: RwSignal<u32>,
    /// A 28x28 image (255 = ink) that another panel requests on the canvas. It replaces the
    /// drawing as an undoable action.
    pub place: RwSignal<Option<Vec<u8>>>,
    /// The digit the classifier reads in the drawing, `None` when empty.
    pub prediction: RwSignal<Option<usize>>,
    /// The drawing as the mask leaves it for inpainting.
    pub masking: RwSignal<Masking>,
}

/// The state of the mask layer over the drawing.
#[derive(Clone, Debug, PartialEq)]
pub enum Masking {
    /// Nothing is masked, or nothing is drawn.
    Unmasked,
    /// Part of the drawing is masked: the drawing prepared for inpainting.
    Inpaint(InpaintInput),
    /// The mask lies wholly outside the ink's box, so it masks nothing in the model's input.
    OutsideOnly,
    /// The mask covers all the ink, so nothing is left to fit.
    Everything,
}

impl CanvasLink {
    pub fn new() -> Self {
        Self {
            frame: RwSignal::new(None),
            clear_requests: RwSignal::new(0),
            place: RwSignal::new(None),
            prediction: RwSignal::new(None),
            masking: RwSignal::new(Masking::Unmasked),
        }
    }
}

/// One undoable action.
#[derive(Clone, Debug)]
enum Action {
    /// Points and the stroke's width in units of the canvas side, so strokes survive a change
    /// of devicePixelRatio (which resizes the backing store).
    Stroke {
        tool: Tool,
        width: f64,
        points: Vec<(f64, f64)>,
    },
    /// Clears the drawing and the mask.
    Clear,
    /// Clears the mask only.
    ClearMask,
    /// Replaces the drawing by a 28x28 image (255 = ink), scaled to the canvas, and clears
    /// the mask.
    Image(Vec<u8>),
}

/// Returns the canvas's 2D context, created for frequent pixel reads (the drawing is read back
/// for every prediction).
fn context_2d(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"willReadFrequently".into(), &true.into()).ok()?;
    canvas
        .get_context_with_context_options("2d", &options)
        .ok()
        .flatten()?
        .dyn_into()
        .ok()
}

/// Draws a stroke given in units of the canvas side (0..1) on a canvas `side` pixels wide.
fn draw_stroke(
    context: &CanvasRenderingContext2d,
    tool: Tool,
    width: f64,
    points: &[(f64, f64)],
    side: f64,
) {
    let Some(&(x0, y0)) = points.first() else {
        return;
    };
    let (x0, y0, width) = (x0 * side, y0 * side, width * side);
    let operation = if tool == Tool::Eraser {
        "destination-out"
    } else {
        "source-over"
    };
    let colour = if tool == Tool::Mask {
        MASK_COLOUR
    } else {
        "#111"
    };
    let _ = context.set_global_composite_operation(operation);
    context.set_stroke_style_str(colour);
    context.set_fill_style_str(colour);
    context.set_line_width(width);
    context.set_line_cap("round");
    context.set_line_join("round");
    if points.len() == 1 {
        context.begin_path();
        let _ = context.arc(x0, y0, width / 2.0, 0.0, std::f64::consts::TAU);
        context.fill();
    } else {
        context.begin_path();
        context.move_to(x0, y0);
        for &(x, y) in &points[1..] {
            context.line_to(x * side, y * side);
        }
        context.stroke();
    }
    let _ = context.set_global_composite_operation("source-over");
}

/// Returns true when a mask stroke follows the last clear, placed image or cleared mask, so the
/// mask layer may be painted.
fn mask_in_history(history: &[Action]) -> bool {
    for action in history.iter().rev() {
        match action {
            Action::Stroke {
                tool: Tool::Mask, ..
            } => return true,
            Action::Stroke { .. } => {}
            Action::Clear | Action::ClearMask | Action::Image(_) => return false,
        }
    }
    false
}

/// The drawing canvas and the mask layer above it, with their 2D contexts.
struct Layers {
    drawing: HtmlCanvasElement,
    mask: HtmlCanvasElement,
    drawing_context: CanvasRenderingContext2d,
    mask_context: CanvasRenderingContext2d,
}

impl Layers {
    fn new(drawing: HtmlCanvasElement, mask: HtmlCanvasElement) -> Option<Self> {
        Some(Self {
            drawing_context: context_2d(&drawing)?,
            mask_context: context_2d(&mask)?,
            drawing,
            mask,
        })
    }

    fn clear_drawing(&self) {
        let side = self.drawing.width() as f64;
        self.drawing_context.clear_rect(0.0, 0.0, side, side);
    }

    fn clear_mask(&self) {
        let side = self.mask.width() as f64;
        self.mask_context.clear_rect(0.0, 0.0, side, side);
    }

    /// Draws a stroke (or part of one) on the layer its tool changes: the brush and the eraser
    /// change the drawing, the mask brush the mask.
    fn draw(&self, tool: Tool, width: f64, points: &[(f64, f64)]) {
        let context = if tool == Tool::Mask {
            &self.mask_context
        } else {
            &self.drawing_context
        };
        draw_stroke(context, tool, width, points, self.drawing.width() as f64);
    }

    /// Redraws the history from a blank canvas. Only the actions after the last clear or
    /// placed image are drawn, because those two replace everything before them.
    fn replay(&self, history: &[Action]) {
        let start = history
            .iter()
            .rposition(|action| matches!(action, Action::Clear | Action::Image(_)))
            .unwrap_or(0);
        self.clear_drawing();
        self.clear_mask();
        for action in &history[start..] {
            match action {
                Action::Stroke {
                    tool,
                    width,
                    points,
                } => {
                    // Same calls as while drawing live (a dot, then one segment per move), so
                    // the anti-aliased edges come out identical after an undo.
                    self.draw(*tool, *width, &points[..1.min(points.len())]);
                    for segment in points.windows(2) {
                        self.draw(*tool, *width, segment);
                    }
                }
                Action::Clear => {
                    self.clear_drawing();
                    self.clear_mask();
                }
                Action::ClearMask => self.clear_mask(),
                Action::Image(pixels) => {
                    self.clear_drawing();
                    self.clear_mask();
                    paint_ink(&self.drawing_context, self.drawing.width() as usize, pixels);
                }
            }
        }
    }
}

/// Paints a 28x28 ink image (255 = ink) over the whole canvas of `side` pixels, bilinearly
/// scaled, as ink of the brush's colour whose opacity is the pixel's value.
fn paint_ink(context: &CanvasRenderingContext2d, side: usize, pixels: &[u8]) {
    if pixels.len() != IMAGE_PIXELS || side == 0 {
        return;
    }
    let raster = Raster::from_digit(pixels, side);
    let mut rgba = Vec::with_capacity(side * side * 4);
    for &ink in &raster.ink {
        rgba.extend([17, 17, 17, (ink * 255.0).round() as u8]);
    }
    match ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), side as u32, side as u32) {
        Ok(image) => {
            let _ = context.put_image_data(&image, 0.0, 0.0);
        }
        Err(error) => log::error!("page: could not build the placed image: {error:?}"),
    }
}

/// Maps a pointer event to units of the canvas side (0..1); correct at any devicePixelRatio and
/// CSS size.
fn canvas_point(canvas: &HtmlCanvasElement, event: &PointerEvent) -> (f64, f64) {
    let rect = canvas.get_bounding_client_rect();
    let x = (event.client_x() as f64 - rect.left()) / rect.width().max(1.0);
    let y = (event.client_y() as f64 - rect.top()) / rect.height().max(1.0);
    (x, y)
}

/// Reads the drawing as an ink raster.
fn read_raster(canvas: &HtmlCanvasElement) -> Option<Raster> {
    let context = context_2d(canvas)?;
    let (width, height) = (canvas.width(), canvas.height());
    let data = context
        .get_image_data(0.0, 0.0, width as f64, height as f64)
        .ok()?;
    Some(Raster::from_rgba(
        width as usize,
        height as usize,
        &data.data(),
    ))
}

/// Reads the mask layer as a raster (1 = masked), or `None` when nothing is masked.
fn read_mask(canvas: &HtmlCanvasElement) -> Option<Raster> {
    let context = context_2d(canvas)?;
    let (width, height) = (canvas.width(), canvas.height());
    let data = context
        .get_image_data(0.0, 0.0, width as f64, height as f64)
        .ok()?;
    let mask: Vec<f32> = data
        .data()
        .chunks_exact(4)
        .map(|pixel| pixel[3] as f32 / 255.0)
        .collect();
    let masked = mask.iter().any(|&value| value > INK_THRESHOLD);
    masked.then_some(Raster {
        width: width as usize,
        height: height as usize,
        ink: mask,
    })
}

/// Paints a 28x28 ink image (0..1) onto the "what the model sees" canvas.
fn paint_model_input(canvas: &HtmlCanvasElement, frame: Option<&[f32]>) {
    let Some(context) = context_2d(canvas) else {
        return;
    };
    let mut rgba = vec![0u8; IMAGE_PIXELS * 4];
    for index in 0..IMAGE_PIXELS {
        let ink = frame.map_or(0.0, |frame| frame[index]);
        let value = (255.0 * (1.0 - ink)).round() as u8;
        rgba[index * 4..index * 4 + 4].copy_from_slice(&[value, value, value, 255]);
    }
    if let Ok(image) = ImageData::new_with_u8_clamped_array_and_sh(
        Clamped(&rgba),
        IMAGE_SIDE as u32,
        IMAGE_SIDE as u32,
    ) {
        let _ = context.put_image_data(&image, 0.0, 0.0);
    }
}

/// Runs the classifier on one preprocessed frame (28x28 ink in [0, 1]); returns class
/// probabilities.
pub(super) async fn classify(model: &Classifier, frame: &[f32]) -> Vec<f32> {
    let device = Device::flex();
    let values: Vec<f32> = frame.iter().map(|&ink| ink_to_signed(ink)).collect();
    let input = Tensor::<1>::from_floats(values.as_slice(), &device)
        .reshape([1, 1, IMAGE_SIDE, IMAGE_SIDE]);
    let probabilities = softmax(model.forward(input), 1);
    match probabilities.into_data_async().await {
        Ok(data) => data.try_into_vec_as::<f32>().unwrap_or_default(),
        Err(error) => {
            log::error!("page: reading the prediction failed: {error:?}");
            Vec::new()
        }
    }
}

/// Offers `bytes` as a file download named `name`.
pub(super) fn download(bytes: &[u8], name: &str, mime: &str) -> Result<(), String> {
    let array = js_sys::Uint8Array::from(bytes);
    let parts = js_sys::Array::of1(&array);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|error| format!("{error:?}"))?;
    let url =
        web_sys::Url::create_object_url_with_blob(&blob).map_err(|error| format!("{error:?}"))?;
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or("no document")?;
    let anchor: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|error| format!("{error:?}"))?
        .unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.click();
    // The click has started the download; the address is no longer needed.
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

/// Reads the file chosen in a file input and returns its bytes, or an error for the visitor.
async fn read_chosen_file(input: &web_sys::HtmlInputElement) -> Result<Vec<u8>, String> {
    let file = input
        .files()
        .and_then(|files| files.get(0))
        .ok_or("no file was chosen")?;
    if file.size() > MAX_FILE_BYTES as f64 {
        return Err(format!(
            "the file is {:.1} MiB; the limit is {} MiB",
            file.size() / MEBIBYTE,
            MAX_FILE_BYTES as f64 / MEBIBYTE
        ));
    }
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map_err(|error| format!("the file could not be read: {error:?}"))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// Renders one class's probability as a labelled bar; `wide` makes room for a name.
#[component]
pub(super) fn ProbabilityBar(label: String, probability: f32, wide: bool) -> impl IntoView {
    let percent = probability * 100.0;
    view! {
        <li class="bar">
            <span class="bar-digit" class:wide=wide>{label}</span>
            <span class="bar-track">
                <span class="bar-fill" style=format!("width: {percent:.1}%")></span>
            </span>
            <span class="bar-value">{format!("{percent:.0}%")}</span>
        </li>
    }
}

/// Renders the drawing panel.
#[component]
pub fn CanvasPanel(link: CanvasLink) -> impl IntoView {
    let canvas_ref = NodeRef::<Canvas>::new();
    let mask_ref = NodeRef::<Canvas>::new();
    let input_ref = NodeRef::<Canvas>::new();
    // False while the mask layer is surely empty, which saves reading it back for every
    // prediction.
    let mask_painted = StoredValue::new(false);
    let layers = move || Layers::new(canvas_ref.get_untracked()?, mask_ref.get_untracked()?);
    let replay = move |layers: &Layers, history: &[Action]| {
        layers.replay(history);
        mask_painted.set_value(mask_in_history(history));
    };
    let tool = RwSignal::new(Tool::Brush);
    let history: Rc<RefCell<Vec<Action>>> = Rc::new(RefCell::new(Vec::new()));
    let current: Rc<RefCell<Option<Action>>> = Rc::new(RefCell::new(None));
    let can_undo = RwSignal::new(false);
    // Actions undone since the last new action, the most recent last.
    let redo_stack: Rc<RefCell<Vec<Action>>> = Rc::new(RefCell::new(Vec::new()));
    let can_redo = RwSignal::new(false);
    let probabilities = RwSignal::new(Option::<Vec<f32>>::None);
    // Why the last upload could not be used; the next change to the canvas hides it.
    let upload_message = RwSignal::new(Option::<String>::None);
    let latency_ms = RwSignal::new(Option::<f64>::None);
    let model_status = RwSignal::new("loading the classifier…".to_string());
    let model: StoredValue<Option<Rc<Classifier>>, LocalStorage> = StoredValue::new_local(None);
    let last_prediction = Rc::new(RefCell::new(0.0f64));
    // The pointer drawing the current stroke; others are ignored until it lifts.
    let active_pointer = Rc::new(std::cell::Cell::new(0i32));

    // Loads the shipped classifier for live recognition.
    leptos::task::spawn_local(async move {
        let result = async {
            let bytes = fetch_bytes(CLASSIFIER_PATH, |_, _| {}).await?;
            let started = web_time::Instant::now();
            let classifier = weights::load(
                ClassifierConfig::new().init(&Device::flex()),
                bytes,
                "classifier",
            )
            .map_err(|error| error.to_string())?;
            log::info!(
                "page: classifier loaded in {:.0} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
            Ok::<_, String>(classifier)
        }
        .await;
        match result {
            Ok(classifier) => {
                model.set_value(Some(Rc::new(classifier)));
                model_status.set(String::new());
            }
            Err(error) => model_status.set(format!("The classifier could not be loaded: {error}")),
        }
    });

    // Preprocesses the drawing and, when the classifier is loaded, predicts.
    let predict = move || {
        let (Some(canvas), Some(input)) = (canvas_ref.get_untracked(), input_ref.get_untracked())
        else {
            return;
        };
        let started = web_time::Instant::now();
        let raster = read_raster(&canvas);
        let frame = raster.as_ref().and_then(to_model_input);
        paint_model_input(&input, frame.as_deref());
        link.frame.set(frame.clone());
        let mask = mask_ref
            .get_untracked()
            .filter(|_| mask_painted.get_value())
            .and_then(|mask| read_mask(&mask));
        let masking = match (&raster, &mask, &frame) {
            (Some(raster), Some(mask), Some(_)) => match to_inpaint_input(raster, mask) {
                Some(input) if input.known.iter().all(|&weight| weight >= 1.0) => {
                    Masking::OutsideOnly
                }
                Some(input) => Masking::Inpaint(input),
                None => Masking::Everything,
            },
            _ => Masking::Unmasked,
        };
        link.masking.set(masking);
        let Some(frame) = frame else {
            probabilities.set(None);
            latency_ms.set(None);
            return;
        };
        let Some(classifier) = model.get_value() else {
            return;
        };
        leptos::task::spawn_local(async move {
            let result = classify(&classifier, &frame).await;
            latency_ms.set(Some(started.elapsed().as_secs_f64() * 1000.0));
            probabilities.set((result.len() == NUM_CLASSES).then_some(result));
        });
    };
    // Predict once the classifier arrives, in case something was drawn before.
    Effect::new(move |_| {
        if model_status.get().is_empty() {
            predict();
        }
    });

    // Returns true when the backing store was resized, which clears the canvas.
    let set_canvas_size = move || {
        let Some(layers) = layers() else {
            return false;
        };
        let ratio = web_sys::window().map_or(1.0, |window| window.device_pixel_ratio());
        let side = (CANVAS_CSS_SIDE * ratio).round() as u32;
        if layers.drawing.width() == side {
            return false;
        }
        for canvas in [&layers.drawing, &layers.mask] {
            canvas.set_width(side);
            canvas.set_height(side);
        }
        true
    };
    Effect::new(move |_| {
        if canvas_ref.get().is_some() && mask_ref.get().is_some() {
            set_canvas_size();
        }
    });

    let on_down = {
        let current = current.clone();
        let history = history.clone();
        let active_pointer = active_pointer.clone();
        move |event: PointerEvent| {
            let Some(layers) = layers() else {
                return;
            };
            let canvas = &layers.drawing;
            // One stroke at a time: a second finger, or a mouse button other than the main
            // one, does not draw.
            let secondary_button = event.pointer_type() == "mouse" && event.button() != 0;
            if secondary_button || current.borrow().is_some() {
                return;
            }
            upload_message.set(None);
            event.prevent_default();
            // Preventing the default also keeps the focus where it was. Drawing takes the focus
            // from a text field, because the field would otherwise get the keyboard shortcuts.
            if let Some(focused) = web_sys::window()
                .and_then(|window| window.document())
                .and_then(|document| document.active_element())
                .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok())
            {
                focused.blur().ok();
            }
            if set_canvas_size() {
                replay(&layers, &history.borrow());
            }
            let _ = canvas.set_pointer_capture(event.pointer_id());
            active_pointer.set(event.pointer_id());
            let fraction = tool.get_untracked().width_fraction();
            let pressure = if event.pointer_type() == "pen" {
                0.5 + event.pressure() as f64
            } else {
                1.0
            };
            let width = fraction * pressure;
            let point = canvas_point(canvas, &event);
            if tool.get_untracked() == Tool::Mask {
                mask_painted.set_value(true);
            }
            layers.draw(tool.get_untracked(), width, &[point]);
            *current.borrow_mut() = Some(Action::Stroke {
                tool: tool.get_untracked(),
                width,
                points: vec![point],
            });
        }
    };

    let on_move = {
        let current = current.clone();
        let active_pointer = active_pointer.clone();
        let last_prediction = last_prediction.clone();
        move |event: PointerEvent| {
            let Some(layers) = layers() else {
                return;
            };
            if event.pointer_id() != active_pointer.get() {
                return;
            }
            let mut current = current.borrow_mut();
            let Some(Action::Stroke {
                tool,
                width,
                points,
            }) = current.as_mut()
            else {
                return;
            };
            event.prevent_default();
            let point = canvas_point(&layers.drawing, &event);
            let previous = *points.last().unwrap_or(&point);
            points.push(point);
            layers.draw(*tool, *width, &[previous, point]);
            drop(current);
            let now = js_sys::Date::now();
            if now - *last_prediction.borrow() > PREDICT_INTERVAL_MS {
                *last_prediction.borrow_mut() = now;
                predict();
            }
        }
    };

    let finish_stroke = {
        let redo_for_stroke = redo_stack.clone();
        let current = current.clone();
        let active_pointer = active_pointer.clone();
        let history = history.clone();
        move |event: PointerEvent| {
            if event.pointer_id() != active_pointer.get() {
                return;
            }
            let finished = current.borrow_mut().take();
            if let Some(action) = finished {
                history.borrow_mut().push(action);
                can_undo.set(true);
                redo_for_stroke.borrow_mut().clear();
                can_redo.set(false);
                predict();
            }
        }
    };

    let undo = {
        let history = history.clone();
        let redo_stack = redo_stack.clone();
        move || {
            let Some(layers) = layers() else {
                return;
            };
            let mut history = history.borrow_mut();
            if let Some(action) = history.pop() {
                replay(&layers, &history);
                can_undo.set(!history.is_empty());
                redo_stack.borrow_mut().push(action);
                can_redo.set(true);
                drop(history);
                predict();
            }
        }
    };

    let redo = {
        let history = history.clone();
        let redo_stack = redo_stack.clone();
        move || {
            let Some(layers) = layers() else {
                return;
            };
            let mut redo_stack = redo_stack.borrow_mut();
            if let Some(action) = redo_stack.pop() {
                let mut history = history.borrow_mut();
                history.push(action);
                replay(&layers, &history);
                can_undo.set(true);
                can_redo.set(!redo_stack.is_empty());
                drop(history);
                drop(redo_stack);
                predict();
            }
        }
    };

    // Records an action that changes the whole canvas (a clear, a cleared mask, a placed image)
    // and redraws: a new action ends what Redo could bring back.
    let push_action = {
        let history = history.clone();
        let redo_stack = redo_stack.clone();
        move |action: Action| {
            let Some(layers) = layers() else {
                return;
            };
            let mut history = history.borrow_mut();
            history.push(action);
            replay(&layers, &history);
            can_undo.set(true);
            redo_stack.borrow_mut().clear();
            can_redo.set(false);
            drop(history);
            predict();
        }
    };

    let clear = {
        let history = history.clone();
        let push_action = push_action.clone();
        move || {
            upload_message.set(None);
            let cleared = history
                .borrow()
                .last()
                .is_none_or(|action| matches!(action, Action::Clear));
            if cleared {
                predict();
            } else {
                push_action(Action::Clear);
            }
        }
    };

    let clear_mask = {
        let push_action = push_action.clone();
        move || {
            if mask_painted.get_value() {
                push_action(Action::ClearMask);
            }
        }
    };

    let clear_on_request = clear.clone();
    Effect::new(move |previous: Option<u32>| {
        let requests = link.clear_requests.get();
        if previous.is_some_and(|previous| previous != requests) {
            clear_on_request();
        }
        requests
    });

    Effect::new(move |_| {
        let best = probabilities.get().and_then(|probabilities| {
            probabilities
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(digit, _)| digit)
        });
        link.prediction.set(best);
    });

    Effect::new(move |_| {
        let Some(pixels) = link.place.get() else {
            return;
        };
        upload_message.set(None);
        set_canvas_size();
        // A placed image clears the mask, so the next stroke draws again.
        if tool.get_untracked() == Tool::Mask {
            tool.set(Tool::Brush);
        }
        push_action(Action::Image(pixels));
    });

    let upload = move |event: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&event);
        leptos::task::spawn_local(async move {
            let result = async {
                let bytes = read_chosen_file(&input).await?;
                let raster = import_drawing(&bytes).map_err(|error| error.to_string())?;
                let frame = to_model_input(&raster).ok_or("the image has no ink to find")?;
                Ok::<_, String>(
                    frame
                        .iter()
                        .map(|&ink| (ink * 255.0).round().clamp(0.0, 255.0) as u8)
                        .collect::<Vec<u8>>(),
                )
            }
            .await;
            // Choosing the same file again must fire another change event.
            input.set_value("");
            match result {
                Ok(pixels) => {
                    upload_message.set(None);
                    link.place.set(Some(pixels));
                }
                Err(error) => {
                    upload_message.set(Some(format!("Could not use that image: {error}.")))
                }
            }
        });
    };
    let export = move |_| {
        let Some(canvas) = canvas_ref.get_untracked() else {
            return;
        };
        let Some(raster) = read_raster(&canvas) else {
            return;
        };
        let ink: Vec<u8> = raster
            .ink
            .iter()
            .map(|&value| (value * 255.0).round().clamp(0.0, 255.0) as u8)
            .collect();
        let png = encode_png(&ink, raster.width as u32, raster.height as u32);
        if let Err(error) = download(&png, "ganvas-drawing.png", "image/png") {
            upload_message.set(Some(format!("Could not export the drawing: {error}.")));
        }
    };

    let undo_key = undo.clone();
    let redo_key = redo.clone();
    let key_current = current.clone();
    let key_handle = window_event_listener(ev::keydown, move |event| {
        // Text fields keep their own undo. Menus, sliders and buttons have none, so the
        // shortcuts still act on the canvas while one of them has the focus.
        let text_entry = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlElement>().ok())
            .is_some_and(|element| {
                let text_input = element
                    .dyn_ref::<web_sys::HtmlInputElement>()
                    .is_some_and(|input| !NON_TEXT_INPUTS.contains(&input.type_().as_str()));
                element.is_content_editable() || element.tag_name() == "TEXTAREA" || text_input
            });
        if text_entry {
            return;
        }
        let modifier = event.ctrl_key() || event.meta_key();
        let key = event.key().to_ascii_lowercase();
        // A stroke in progress finishes first; the browser's own undo must not run either.
        if modifier && matches!(key.as_str(), "z" | "y") && key_current.borrow().is_some() {
            event.prevent_default();
            return;
        }
        if modifier && !event.shift_key() && key == "z" {
            event.prevent_default();
            undo_key();
        } else if modifier && ((event.shift_key() && key == "z") || key == "y") {
            event.prevent_default();
            redo_key();
        }
    });
    on_cleanup(move || key_handle.remove());

    let mask_hint = move || match link.masking.get() {
        Masking::Unmasked => None,
        Masking::Everything => Some(
            "The mask covers all of the drawing: leave some of it unmasked for Find it to fit.",
        ),
        Masking::OutsideOnly => Some(
            "The mask lies outside the drawing's box, which the model never sees, so Find it fits the whole drawing. To extend the digit, sketch the missing part roughly and mask the sketch.",
        ),
        Masking::Inpaint(input) if input.mask_outside_box => Some(
            "Part of the mask lies outside the drawing's box, which the model never sees. To extend the digit, sketch the missing part roughly and mask the sketch.",
        ),
        Masking::Inpaint(_) => Some(
            "Part of the drawing is masked: Find it fits the rest and lets the GAN redraw the masked part. Clear mask or Undo removes it.",
        ),
    };

    let prediction_text = move || {
        probabilities.get().and_then(|probabilities| {
            probabilities
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(digit, _)| digit.to_string())
        })
    };
    let bars = move || {
        let probabilities = probabilities
            .get()
            .unwrap_or_else(|| vec![0.0; NUM_CLASSES]);
        probabilities
            .into_iter()
            .enumerate()
            .map(|(digit, probability)| {
                view! { <ProbabilityBar label=digit.to_string() probability=probability wide=false /> }
            })
            .collect_view()
    };

    view! {
        <section class="panel canvas-panel" aria-labelledby="canvas-title">
            <h2 id="canvas-title">"Draw a digit"</h2>
            <div class="canvas-row">
                <div class="canvas-stack">
                    <canvas
                        node_ref=canvas_ref
                        class="draw-canvas"
                        class:masking=move || tool.get() == Tool::Mask
                        data-testid="draw-canvas"
                        aria-label="Drawing area: draw one digit"
                        width="280"
                        height="280"
                        on:pointerdown=on_down
                        on:pointermove=on_move
                        on:pointerup=finish_stroke.clone()
                        on:pointercancel=finish_stroke
                    ></canvas>
                    <canvas
                        node_ref=mask_ref
                        class="mask-layer"
                        data-testid="mask-layer"
                        aria-hidden="true"
                        width="280"
                        height="280"
                    ></canvas>
                </div>
                <div class="model-view">
                    <canvas
                        node_ref=input_ref
                        class="model-input"
                        data-testid="model-input"
                        width="28"
                        height="28"
                        aria-label="The 28 by 28 image the model sees"
                    ></canvas>
                    <span class="caption">"What the model sees (28×28)"</span>
                    <p class="prediction-line">
                        "Prediction: "
                        <strong
                            class="prediction"
                            data-testid="prediction"
                            data-latency-ms=move || latency_ms.get().map(|ms| format!("{ms:.2}"))
                        >
                            {prediction_text}
                        </strong>
                    </p>
                </div>
            </div>
            <div class="toolbar" role="toolbar" aria-label="Drawing tools">
                <button
                    class:active=move || tool.get() == Tool::Brush
                    aria-pressed=move || (tool.get() == Tool::Brush).to_string()
                    on:click=move |_| tool.set(Tool::Brush)
                >
                    "Brush"
                </button>
                <button
                    class:active=move || tool.get() == Tool::Eraser
                    aria-pressed=move || (tool.get() == Tool::Eraser).to_string()
                    on:click=move |_| tool.set(Tool::Eraser)
                >
                    "Eraser"
                </button>
                <button
                    data-testid="inpaint-mode"
                    title="Paint over the part of the digit the GAN should redraw, then press Find it"
                    class:active=move || tool.get() == Tool::Mask
                    aria-pressed=move || (tool.get() == Tool::Mask).to_string()
                    on:click=move |_| tool.set(Tool::Mask)
                >
                    "Mask to inpaint"
                </button>
                <button
                    data-testid="clear-mask"
                    disabled=move || link.masking.get() == Masking::Unmasked
                    on:click=move |_| clear_mask()
                >
                    "Clear mask"
                </button>
                <button
                    data-testid="undo"
                    title="Undo (Ctrl+Z)"
                    disabled=move || !can_undo.get()
                    on:click=move |_| undo()
                >
                    "Undo"
                </button>
                <button
                    data-testid="redo"
                    title="Redo (Ctrl+Shift+Z or Ctrl+Y)"
                    disabled=move || !can_redo.get()
                    on:click=move |_| redo()
                >
                    "Redo"
                </button>
                <button data-testid="clear-canvas" on:click=move |_| clear()>
                    "Clear"
                </button>
                <label class="file-button">
                    "Upload image"
                    <input type="file" accept="image/png,image/jpeg,image/webp" data-testid="upload-image" on:change=upload />
                </label>
                <button data-testid="export-png" on:click=export>"Export PNG"</button>
            </div>
            <p class="message" role="alert" data-testid="upload-message" class:hidden=move || upload_message.get().is_none()>
                {move || upload_message.get()}
            </p>
            <p class="hint" data-testid="mask-hint" class:hidden=move || mask_hint().is_none()>
                {mask_hint}
            </p>
            <p class="status" class:hidden=move || model_status.get().is_empty()>
                {move || model_status.get()}
            </p>
            <ol class="bars" aria-label="Probability of each digit">{bars}</ol>
        </section>
    }
}
