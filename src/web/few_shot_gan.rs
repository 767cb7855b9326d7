//! Few-shot GAN transfer: fine-tune the GAN pretrained on digits 0-4 to a digit it never saw,
//! or to the visitor's drawings, with FreezeD, full fine-tuning and from scratch side by side.

use leptos::html::Canvas;
use leptos::prelude::*;

use super::bridge::{GanTransferView, LabState};
use super::charts::paint_tiles;
use super::teach::TeachClass;
use super::transfer_lab::{JobProgress, SeedInput};
use crate::protocol::{GanTarget, GanTransferRequest, JobKind, ToWorker};
use crate::transfer::{GAN_TRANSFER_STEPS, GanTransferSetting, TARGET_DIGITS};
use crate::transfer_jobs::{GAN_QUALITY_EVERY, GAN_QUALITY_SAMPLES, GAN_TRANSFER_GRID};

/// Sample counts offered for digit targets.
const SAMPLE_COUNTS: [usize; 3] = [10, 20, 50];

/// Renders one setting's samples, step and label accuracy.
#[component]
fn SettingRow(
    setting: GanTransferSetting,
    view_of: Signal<Option<GanTransferView>>,
    target_text: Signal<String>,
) -> impl IntoView {
    let canvas_ref = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        if let (Some(canvas), Some(view)) = (canvas_ref.get(), view_of.get()) {
            paint_tiles(&canvas, &view.pixels, GAN_TRANSFER_GRID);
        }
    });
    let quality = move || {
        let view = view_of.get()?;
        let (step, accuracy, samples) = view.quality?;
        Some(format!(
            "{:.0}% of {samples} samples read as {} by the MNIST classifier (step {step})",
            accuracy * 100.0,
            target_text.get()
        ))
    };
    let explanation = match setting {
        GanTransferSetting::FreezeD => {
            "pretrained on 0-4; the discriminator's first layer stays fixed"
        }
        GanTransferSetting::FineTune => "pretrained on 0-4; every layer trains",
        GanTransferSetting::Scratch => "random weights; only the few samples",
    };
    view! {
        <div class="setting-row" data-setting=setting.name() data-step=move || view_of.get().map(|view| view.step.to_string())>
            <div class="setting-name">
                <strong>{setting.name()}</strong>
                <span class="caption">{explanation}</span>
            </div>
            <div class="setting-numbers">
                <span>{move || view_of.get().map_or("not started".to_string(), |view| format!("step {} of {GAN_TRANSFER_STEPS}", view.step))}</span>
                <span class="quality">{quality}</span>
            </div>
            <canvas node_ref=canvas_ref class="setting-samples" width=GAN_TRANSFER_GRID * 28 height="28"
                aria-label=format!("Samples of {}", setting.name())></canvas>
        </div>
    }
}

/// Renders the few-shot GAN section.
#[component]
pub fn FewShotGan(state: LabState, classes: RwSignal<Vec<TeachClass>>) -> impl IntoView {
    // "digit-7" or "class-<id>".
    let default_target = format!("digit-{}", TARGET_DIGITS.start + 2);
    let target = RwSignal::new(default_target.clone());
    let count = RwSignal::new(SAMPLE_COUNTS[1]);
    let seed = RwSignal::new(1u64);
    let message = RwSignal::new(Option::<String>::None);
    let running = move || state.job_running();
    // What the latest job was asked for, to label its results, and whether it is a digit.
    let target_text = RwSignal::new(String::new());
    let target_is_digit = RwSignal::new(false);
    let target_count = RwSignal::new(0usize);
    // A removed class, or one whose drawings were all deleted, is no target any more.
    Effect::new(move |_| {
        let choice = target.get();
        let class_id = choice
            .strip_prefix("class-")
            .and_then(|id| id.parse::<usize>().ok());
        if let Some(id) = class_id {
            let usable = classes.with(|classes| {
                classes.iter().any(|class| {
                    class.id == id && class.examples.with(|examples| !examples.is_empty())
                })
            });
            if !usable {
                target.set(default_target.clone());
            }
        }
    });

    let drawn_options = move || {
        classes
            .get()
            .into_iter()
            .enumerate()
            .filter(|(_, class)| class.examples.with(|examples| !examples.is_empty()))
            .map(|(position, class)| {
                let value = format!("class-{}", class.id);
                let label = format!(
                    "your drawings of \"{}\" ({})",
                    class.display_name(position),
                    class.examples.with(Vec::len)
                );
                let selected = value.clone();
                view! { <option value=value selected=move || target.get() == selected>{label}</option> }
            })
            .collect_view()
    };
    let digit_options = TARGET_DIGITS
        .map(|digit| {
            let value = format!("digit-{digit}");
            let selected = value.clone();
            view! { <option value=value selected=move || target.get() == selected>{format!("digit {digit} (MNIST)")}</option> }
        })
        .collect_view();
    let count_options = SAMPLE_COUNTS
        .iter()
        .map(|&option| view! { <option value=option.to_string() selected=move || count.get() == option>{option}</option> })
        .collect_view();
    let digit_target = move || {
        target
            .get()
            .strip_prefix("digit-")
            .and_then(|digit| digit.parse::<u8>().ok())
    };

    let run = move |_| {
        let choice = target.get_untracked();
        let request_target = if let Some(digit) = choice
            .strip_prefix("digit-")
            .and_then(|digit| digit.parse::<u8>().ok())
        {
            target_text.set(digit.to_string());
            target_is_digit.set(true);
            target_count.set(count.get_untracked());
            GanTarget::Digit {
                digit,
                samples: count.get_untracked(),
            }
        } else {
            let id = choice
                .strip_prefix("class-")
                .and_then(|id| id.parse::<usize>().ok());
            let found = classes
                .get_untracked()
                .into_iter()
                .enumerate()
                .find(|(_, class)| Some(class.id) == id);
            let Some((position, class)) = found else {
                message.set(Some(
                    "That class no longer exists: pick another target.".into(),
                ));
                return;
            };
            let examples = class.examples.get_untracked();
            if examples.is_empty() {
                message.set(Some("That class has no drawings yet.".into()));
                return;
            }
            let name = class.display_name(position);
            target_text.set(name.clone());
            target_is_digit.set(false);
            target_count.set(examples.len());
            GanTarget::Drawn { name, examples }
        };
        message.set(None);
        let request = GanTransferRequest {
            target: request_target,
            seed: seed.get_untracked(),
        };
        state.start_job(JobKind::GanTransfer, &ToWorker::GanTransfer(request));
    };

    let rows = GanTransferSetting::ALL
        .iter()
        .map(|&setting| {
            let view_of = Signal::derive(move || {
                state
                    .gan_transfer
                    .with(|views| views.iter().find(|view| view.setting == setting).cloned())
            });
            view! { <SettingRow setting=setting view_of=view_of target_text=target_text.into() /> }
        })
        .collect_view();

    view! {
        <section class="transfer-section" aria-labelledby="few-shot-title">
            <h3 id="few-shot-title">"Few-shot GAN transfer"</h3>
            <p class="explain">
                "A conditional GAN pretrained on the digits 0-4 learns a new target from a handful of samples: a digit it never saw, or your drawings from the section above. "
                <b>"FreezeD"</b>" (Mo et al., 2020) fine-tunes with the discriminator's first layer fixed; "
                <b>"full fine-tuning"</b>" trains every layer; "
                <b>"from scratch"</b>" starts from random weights. The three train in turn on the same samples; each row shows the same 8 latent vectors."
            </p>
            <div class="controls">
                <label>
                    "Target "
                    <select data-testid="gan-transfer-target" on:change=move |event| target.set(event_target_value(&event))>
                        {digit_options}
                        {drawn_options}
                    </select>
                </label>
                <label>
                    "Samples "
                    <select
                        data-testid="gan-transfer-samples"
                        disabled=move || digit_target().is_none()
                        on:change=move |event| {
                            if let Ok(value) = event_target_value(&event).parse::<usize>() {
                                count.set(value);
                            }
                        }
                    >
                        {count_options}
                    </select>
                </label>
                <SeedInput seed=seed test_id="gan-transfer-seed" />
                <button class="primary" data-testid="gan-transfer-run" disabled=move || running() || !state.prepared.get() on:click=run>
                    "Run"
                </button>
            </div>
            <p class="message" role="alert" class:hidden=move || message.get().is_none()>{move || message.get()}</p>
            <JobProgress state=state kind=JobKind::GanTransfer test_id="gan-transfer-progress" />
            <div class="gan-transfer-grid" data-testid="gan-transfer-grid">{rows}</div>
            <p class="explain">
                {move || {
                    if target_text.get().is_empty() {
                        "Samples appear here while the three runs train.".to_string()
                    } else if target_is_digit.get() {
                        format!(
                            "Label accuracy: the shipped MNIST classifier scores {GAN_QUALITY_SAMPLES} samples of each run every {GAN_QUALITY_EVERY} steps; trained on {} MNIST training digits.",
                            target_count.get()
                        )
                    } else {
                        "No classifier knows drawn symbols, so only the samples show how each run does.".to_string()
                    }
                }}
            </p>
        </section>
    }
}
