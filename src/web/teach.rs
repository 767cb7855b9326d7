//! "Teach it": the visitor names 2-5 classes and draws examples of each on the canvas. The
//! worker fine-tunes the MNIST classifier on them, and the page then recognises new drawings live.

use std::rc::Rc;

use burn::prelude::*;
use leptos::html::Canvas;
use leptos::prelude::*;

use super::bridge::{LabState, TeachModel};
use super::canvas_panel::{CanvasLink, ProbabilityBar, classify};
use super::charts::paint_tiles;
use super::transfer_lab::JobProgress;
use crate::model::{Classifier, ClassifierConfig};
use crate::protocol::{DrawnExample, JobKind, TeachRequest, ToWorker};
use crate::transfer::TransferMode;
use crate::transfer_jobs::{MAX_EXAMPLES, TEACH_CLASSES};
use crate::weights;

/// Seed of teach-it runs.
const TEACH_SEED: u64 = 1;

/// One of the visitor's classes: a name and drawn examples (28x28 bytes, 255 = ink).
#[derive(Clone, Copy)]
pub struct TeachClass {
    /// Stable key for the list, unique among the classes.
    pub id: usize,
    pub name: RwSignal<String>,
    pub examples: RwSignal<Vec<Vec<u8>>>,
}

impl TeachClass {
    pub fn new(id: usize) -> Self {
        Self {
            id,
            name: RwSignal::new(String::new()),
            examples: RwSignal::new(Vec::new()),
        }
    }

    /// Returns the name, or "class N" (N counted from 1 by `position`) when the name is blank.
    pub fn display_name(&self, position: usize) -> String {
        let name = self.name.get().trim().to_string();
        if name.is_empty() {
            format!("class {}", position + 1)
        } else {
            name
        }
    }
}

/// Converts a preprocessed frame (ink in [0, 1]) to bytes (255 = ink).
fn frame_to_bytes(frame: &[f32]) -> Vec<u8> {
    frame
        .iter()
        .map(|&ink| (ink * 255.0).round().clamp(0.0, 255.0) as u8)
        .collect()
}

/// Renders a drawn example.
#[component]
fn Thumbnail(pixels: Vec<u8>) -> impl IntoView {
    let canvas_ref = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        if let Some(canvas) = canvas_ref.get() {
            paint_tiles(&canvas, &pixels, 1);
        }
    });
    view! { <canvas node_ref=canvas_ref class="thumbnail" width="28" height="28"></canvas> }
}

/// Renders one class: its name, examples with delete buttons, and "Add drawing".
#[component]
fn ClassRow(
    class: TeachClass,
    position: Signal<usize>,
    canvas: CanvasLink,
    message: RwSignal<Option<String>>,
    removable: Signal<bool>,
    on_remove: Callback<usize>,
    total_examples: Signal<usize>,
) -> impl IntoView {
    let add = move |_| {
        let Some(frame) = canvas.frame.get_untracked() else {
            message.set(Some(
                "Draw something on the canvas first, then press Add drawing.".into(),
            ));
            return;
        };
        if total_examples.get_untracked() >= MAX_EXAMPLES {
            message.set(Some(format!(
                "The classes hold at most {MAX_EXAMPLES} drawings together: delete some first."
            )));
            return;
        }
        class
            .examples
            .update(|examples| examples.push(frame_to_bytes(&frame)));
        message.set(None);
        // Clear the canvas for the next example.
        canvas.clear_requests.update(|count| *count += 1);
    };
    let thumbnails = move || {
        class
            .examples
            .get()
            .into_iter()
            .enumerate()
            .map(|(index, pixels)| {
                view! {
                    <span class="example">
                        <Thumbnail pixels=pixels />
                        <button
                            class="delete"
                            data-testid="teach-delete-example"
                            aria-label=move || format!("Delete example {} of {}", index + 1, class.display_name(position.get()))
                            on:click=move |_| class.examples.update(|examples| {
                                if index < examples.len() {
                                    examples.remove(index);
                                }
                            })
                        >
                            "×"
                        </button>
                    </span>
                }
            })
            .collect_view()
    };
    view! {
        <li class="teach-class">
            <input
                type="text"
                maxlength="24"
                data-testid="teach-class-name"
                aria-label=move || format!("Name of class {}", position.get() + 1)
                placeholder=move || format!("class {}", position.get() + 1)
                prop:value=move || class.name.get()
                on:input=move |event| class.name.set(event_target_value(&event))
            />
            <span class="count" data-testid="teach-example-count">
                {move || {
                    let count = class.examples.with(Vec::len);
                    if count == 1 { "1 example".to_string() } else { format!("{count} examples") }
                }}
            </span>
            <button data-testid="teach-add-example" on:click=add>"Add drawing"</button>
            <Show when=move || removable.get()>
                <button class="quiet" on:click=move |_| {
                    let drawings = class.examples.with_untracked(Vec::len);
                    let confirmed = drawings == 0
                        || web_sys::window()
                            .and_then(|window| {
                                let question = format!(
                                    "Remove \"{}\" and its {drawings} drawings?",
                                    class.display_name(position.get_untracked())
                                );
                                window.confirm_with_message(&question).ok()
                            })
                            .unwrap_or(false);
                    if confirmed {
                        on_remove.run(class.id);
                    }
                }>"Remove class"</button>
            </Show>
            <div class="examples">{thumbnails}</div>
        </li>
    }
}

/// Loads the classifier the worker trained on the visitor's classes.
fn load_teach_model(model: &TeachModel) -> Result<Classifier, String> {
    let classes = model.class_names.len();
    let empty = ClassifierConfig::new()
        .with_classes(classes)
        .init(&Device::flex());
    weights::load(empty, model.weights.clone(), "teach-it classifier")
        .map_err(|error| error.to_string())
}

/// Renders the teach-it section.
#[component]
pub fn TeachIt(
    state: LabState,
    canvas: CanvasLink,
    classes: RwSignal<Vec<TeachClass>>,
) -> impl IntoView {
    let message = RwSignal::new(Option::<String>::None);
    let mode = RwSignal::new(TransferMode::FineTune);
    let model: StoredValue<Option<(Rc<Classifier>, Vec<String>)>, LocalStorage> =
        StoredValue::new_local(None);
    let model_version = RwSignal::new(0u32);
    let probabilities = RwSignal::new(Option::<Vec<f32>>::None);
    let training = move || state.job_running();

    // Loads each model the worker sends.
    Effect::new(move |_| {
        let Some(trained) = state.teach_model.get() else {
            return;
        };
        match load_teach_model(&trained) {
            Ok(classifier) => {
                model.set_value(Some((Rc::new(classifier), trained.class_names.clone())));
                model_version.update(|version| *version += 1);
            }
            Err(error) => message.set(Some(format!(
                "The trained model could not be loaded: {error}"
            ))),
        }
    });
    // Recognises the drawing whenever it or the model changes.
    Effect::new(move |_| {
        model_version.track();
        let frame = canvas.frame.get();
        let (Some(frame), Some((classifier, _))) = (frame, model.get_value()) else {
            probabilities.set(None);
            return;
        };
        leptos::task::spawn_local(async move {
            probabilities.set(Some(classify(&classifier, &frame).await));
        });
    });

    // Class names and drawing counts, to tell when the trained model no longer matches them.
    let signature = move || {
        classes.with(|classes| {
            classes
                .iter()
                .enumerate()
                .map(|(position, class)| {
                    (class.display_name(position), class.examples.with(Vec::len))
                })
                .collect::<Vec<_>>()
        })
    };
    let trained_on = RwSignal::new(Option::<Vec<(String, usize)>>::None);

    let add_class = move |_: leptos::ev::MouseEvent| {
        classes.update(|classes| {
            if classes.len() < *TEACH_CLASSES.end() {
                let id = classes
                    .iter()
                    .map(|class| class.id)
                    .max()
                    .map_or(0, |id| id + 1);
                classes.push(TeachClass::new(id));
            }
        })
    };
    let remove_class = Callback::new(move |id: usize| {
        classes.update(|classes| {
            if classes.len() > *TEACH_CLASSES.start() {
                classes.retain(|class| class.id != id);
            }
        })
    });

    let train = move |_| {
        let classes = classes.get_untracked();
        let mut class_names = Vec::new();
        let mut examples = Vec::new();
        for (position, class) in classes.iter().enumerate() {
            let name = class.display_name(position);
            let drawn = class.examples.get_untracked();
            if drawn.is_empty() {
                message.set(Some(format!(
                    "\"{name}\" has no examples: draw one on the canvas and press its Add drawing."
                )));
                return;
            }
            if class_names.contains(&name) {
                message.set(Some(format!(
                    "Two classes are called \"{name}\": give each its own name."
                )));
                return;
            }
            examples.extend(drawn.into_iter().map(|pixels| DrawnExample {
                class: position,
                pixels,
            }));
            class_names.push(name);
        }
        message.set(None);
        let request = TeachRequest {
            class_names,
            examples,
            mode: mode.get_untracked(),
            seed: TEACH_SEED,
        };
        trained_on.set(Some(signature()));
        state.start_job(JobKind::Teach, &ToWorker::Teach(request));
    };

    let mode_options = TransferMode::ALL
        .iter()
        .map(|&choice| {
            view! {
                <option value=choice.name() selected=move || mode.get() == choice>{choice.name()}</option>
            }
        })
        .collect_view();
    let stale = move || {
        state.teach_model.with(Option::is_some)
            && trained_on
                .get()
                .is_some_and(|trained| trained != signature())
    };
    let status = move || {
        state.teach_model.get().map(|trained| {
            format!(
                "Trained with {} on {} drawings; it recognises {:.0}% of them. These are its training drawings, so this says it learned them, not how well it generalises: draw new ones to see.",
                trained.mode.name(),
                trained.examples,
                trained.train_accuracy * 100.0
            )
        })
    };
    let prediction = move || {
        let probabilities = probabilities.get()?;
        let (_, names) = model.get_value()?;
        let (best, _) = probabilities
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))?;
        names.get(best).cloned()
    };
    let bars = move || {
        let probabilities = probabilities.get().unwrap_or_default();
        let names = model
            .get_value()
            .map(|(_, names)| names)
            .unwrap_or_default();
        names
            .into_iter()
            .zip(probabilities)
            .map(|(name, probability)| {
                view! { <ProbabilityBar label=name probability=probability wide=true /> }
            })
            .collect_view()
    };

    view! {
        <section class="transfer-section" aria-labelledby="teach-title">
            <h3 id="teach-title">"Teach it your own classes"</h3>
            <p class="explain">
                "Name 2 to 5 classes (letters, symbols, anything), draw a few examples of each on the canvas and press "
                <b>"Add drawing"</b>" after each one. Training starts from the MNIST classifier's features; then draw something new and watch it being recognised."
            </p>
            <ol class="teach-classes">
                <For
                    each=move || classes.get().into_iter().enumerate()
                    key=|(_, class)| class.id
                    children=move |(_, class)| {
                        let position = Signal::derive(move || {
                            classes.with(|classes| classes.iter().position(|other| other.id == class.id).unwrap_or(0))
                        });
                        let removable = Signal::derive(move || classes.with(Vec::len) > *TEACH_CLASSES.start());
                        let total_examples = Signal::derive(move || {
                            classes.with(|classes| classes.iter().map(|class| class.examples.with(Vec::len)).sum())
                        });
                        view! {
                            <ClassRow
                                class=class
                                position=position
                                canvas=canvas
                                message=message
                                removable=removable
                                on_remove=remove_class
                                total_examples=total_examples
                            />
                        }
                    }
                />
            </ol>
            <div class="controls">
                <button
                    data-testid="teach-add-class"
                    disabled=move || { classes.with(Vec::len) >= *TEACH_CLASSES.end() }
                    on:click=add_class
                >
                    "Add class"
                </button>
                <label>
                    "Mode "
                    <select data-testid="teach-mode" on:change=move |event| {
                        let value = event_target_value(&event);
                        if let Some(&choice) = TransferMode::ALL.iter().find(|choice| choice.name() == value) {
                            mode.set(choice);
                        }
                    }>{mode_options}</select>
                </label>
                <button class="primary" data-testid="teach-train" disabled=move || training() || !state.prepared.get() on:click=train>
                    "Train"
                </button>
            </div>
            <p class="message" role="alert" data-testid="teach-message" class:hidden=move || message.get().is_none()>
                {move || message.get()}
            </p>
            <JobProgress state=state kind=JobKind::Teach test_id="teach-progress" />
            <p class="status" data-testid="teach-status" class:hidden=move || status().is_none()>{status}</p>
            <p class="job-note" data-testid="teach-stale" class:hidden=move || !stale()>
                "Your classes or drawings changed since this model was trained; it still uses the old ones. Press Train again to update it."
            </p>
            <div class="teach-result" class:hidden=move || state.teach_model.get().is_none()>
                <p class="prediction-line">
                    "Your classes say: "
                    <strong class="prediction" data-testid="teach-prediction">{prediction}</strong>
                </p>
                <ol class="bars" aria-label="Probability of each of your classes">{bars}</ol>
            </div>
        </section>
    }
}
