//! The GAN lab: training controls, backend choice, numbers, the sample grid and the loss chart.

use leptos::prelude::*;

use super::bridge::LabState;
use super::charts::{LossChart, SampleGrid};
use crate::protocol::{BackendKind, BackendPreference, StartFrom, ToWorker};

fn preference_value(preference: BackendPreference) -> &'static str {
    match preference {
        BackendPreference::Auto => "auto",
        BackendPreference::Gpu => "gpu",
        BackendPreference::Cpu => "cpu",
    }
}

/// Renders the GAN lab panel.
#[component]
pub fn GanLab(state: LabState) -> impl IntoView {
    let ready = move || state.prepared.get() && !state.busy.get();
    let toggle = move |_| {
        let message = if state.running.get_untracked() {
            ToWorker::Pause
        } else {
            ToWorker::Train
        };
        state.send(&message);
    };
    let reset = move |_| {
        state.send(&ToWorker::Reset {
            start: state.start.get_untracked(),
        })
    };
    let step_once = move |_| state.send(&ToWorker::Step);
    let choose_start = move |event| {
        let start = if event_target_value(&event) == "scratch" {
            StartFrom::Scratch
        } else {
            StartFrom::Shipped
        };
        state.start.set(start);
        state.send(&ToWorker::Reset { start });
    };
    let choose_backend = move |event| {
        let preference =
            BackendPreference::from_query(&event_target_value(&event)).unwrap_or_default();
        state.preference.set(preference);
        state.send(&ToWorker::SetBackend {
            preference,
            start: state.start.get_untracked(),
        });
    };

    let step_count = move || {
        state
            .progress
            .get()
            .map_or(0, |progress| progress.step)
            .to_string()
    };
    let speed = move || {
        state.progress.get().map_or("–".into(), |progress| {
            format!("{:.2}", progress.steps_per_second)
        })
    };
    let first_step = move || {
        state
            .progress
            .get()
            .and_then(|progress| progress.first_step_ms)
            .map_or("–".into(), |ms| format!("{:.0} ms", ms))
    };
    let memory = move || {
        state.progress.get().map_or("–".into(), |progress| {
            format!(
                "{:.0} MiB",
                progress.wasm_memory_bytes as f64 / (1024.0 * 1024.0)
            )
        })
    };
    let losses = move || {
        state.progress.get().map_or("–".into(), |progress| {
            format!(
                "{:.3} / {:.3}",
                progress.discriminator_loss, progress.generator_loss
            )
        })
    };
    let quality = move || match state.quality.get() {
        Some((step, accuracy, samples)) => {
            format!(
                "{:.0}% of {samples} generated digits (step {step})",
                accuracy * 100.0
            )
        }
        None => "–".into(),
    };
    let backend_text = move || match state.backend.get() {
        Some(backend) => backend.adapter,
        None => "choosing…".into(),
    };
    let loading = move || {
        state.loading.get().map(|(asset, loaded, total)| {
            let percent = total.map(|total| loaded as f64 / total.max(1) as f64 * 100.0);
            view! {
                <div class="loading">
                    <span>{format!("Loading {asset}")}</span>
                    <progress max="100" value=percent.map(|p| format!("{p:.0}"))></progress>
                    <span>{format!("{:.1} MB", loaded as f64 / 1e6)}</span>
                </div>
            }
        })
    };

    view! {
        <section class="panel gan-lab" aria-labelledby="gan-title">
            <h2 id="gan-title">"GAN lab"</h2>
            <p class="lede">
                "A conditional DCGAN learns to write each digit from real MNIST, in this tab. "
                "Each column is one digit; each row keeps one latent vector."
            </p>
            {loading}
            <div class="controls">
                <button
                    class="primary"
                    data-testid="train-toggle"
                    disabled=move || !ready()
                    on:click=toggle
                >
                    {move || if state.running.get() { "Pause" } else { "Train" }}
                </button>
                <button data-testid="train-step" disabled=move || !ready() || state.running.get() on:click=step_once>
                    "Step"
                </button>
                <button data-testid="train-reset" disabled=move || state.busy.get() on:click=reset>
                    "Reset"
                </button>
                <label>
                    "Start from "
                    <select data-testid="start-from" on:change=choose_start disabled=move || state.busy.get()>
                        <option value="shipped" selected=move || state.start.get() == StartFrom::Shipped>
                            "shipped weights"
                        </option>
                        <option value="scratch" selected=move || state.start.get() == StartFrom::Scratch>
                            "scratch"
                        </option>
                    </select>
                </label>
                <label>
                    "Backend "
                    <select data-testid="backend-choice" on:change=choose_backend disabled=move || state.busy.get()>
                        {[BackendPreference::Auto, BackendPreference::Gpu, BackendPreference::Cpu]
                            .into_iter()
                            .map(|preference| {
                                let label = match preference {
                                    BackendPreference::Auto => "automatic",
                                    BackendPreference::Gpu => "WebGPU",
                                    BackendPreference::Cpu => "CPU",
                                };
                                view! {
                                    <option
                                        value=preference_value(preference)
                                        selected=move || state.preference.get() == preference
                                    >
                                        {label}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
            </div>
            <dl class="stats">
                <dt>"Backend"</dt>
                <dd data-testid="backend" data-kind=move || state.backend.get().map(|backend| match backend.kind {
                    BackendKind::WebGpu => "webgpu",
                    BackendKind::Cpu => "cpu",
                })>{backend_text}</dd>
                <dt>"Steps"</dt>
                <dd data-testid="step-count">{step_count}</dd>
                <dt>"Steps per second"</dt>
                <dd data-testid="steps-per-second">{speed}</dd>
                <dt>"First step"</dt>
                <dd data-testid="first-step">{first_step}</dd>
                <dt>"D / G loss"</dt>
                <dd>{losses}</dd>
                <dt>"Label accuracy"</dt>
                <dd data-testid="label-accuracy" title="Share of generated digits that the shipped classifier reads as the digit they were generated for">
                    {quality}
                </dd>
                <dt>"Worker memory"</dt>
                <dd data-testid="worker-memory">{memory}</dd>
            </dl>
            <SampleGrid samples=state.samples />
            <LossChart losses=state.losses />
        </section>
    }
}
