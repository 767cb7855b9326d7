//! The transfer lab: the 0-4 to 5-9 classifier experiment with its sample-efficiency chart,
//! learning curves and table, and the sections for the visitor's own classes and few-shot GAN
//! transfer.

use leptos::prelude::*;

use super::bridge::{CurvePoint, JobStatus, LabState};
use super::canvas_panel::CanvasLink;
use super::few_shot_gan::FewShotGan;
use super::teach::{TeachClass, TeachIt};
use crate::protocol::{JobKind, ToWorker, TransferRequest, TransferResult};
use crate::transfer::{LabelBudget, TransferMode};

const CHART_WIDTH: f64 = 420.0;
const CHART_HEIGHT: f64 = 240.0;
const PAD_LEFT: f64 = 46.0;
const PAD_RIGHT: f64 = 12.0;
const PAD_TOP: f64 = 12.0;
const PAD_BOTTOM: f64 = 40.0;
/// Seed of the first run; the visitor can change it to repeat or vary an experiment.
const DEFAULT_SEED: u64 = 1;

/// CSS class that colours a mode's line and legend key.
fn mode_class(mode: TransferMode) -> &'static str {
    match mode {
        TransferMode::Scratch => "mode-scratch",
        TransferMode::Frozen => "mode-frozen",
        TransferMode::FineTune => "mode-finetune",
    }
}

/// Formats seconds as "about 3 min" or "about 40 s".
fn format_duration(seconds: f64) -> String {
    if seconds >= 90.0 {
        format!("about {:.0} min", seconds / 60.0)
    } else {
        format!("about {:.0} s", seconds.max(1.0))
    }
}

/// Returns the time-left text of a job, estimated from its speed so far.
fn time_left(status: &JobStatus) -> String {
    if status.steps_done == 0 || status.steps_total == 0 {
        return "estimating time left…".into();
    }
    let elapsed = (js_sys::Date::now() - status.started_ms) / 1000.0;
    let left = elapsed / status.steps_done as f64
        * (status.steps_total - status.steps_done.min(status.steps_total)) as f64;
    format!("{} left (estimate)", format_duration(left))
}

/// Renders a seed field; text that is not a whole number of 0 or more keeps the previous seed.
#[component]
pub fn SeedInput(seed: RwSignal<u64>, test_id: &'static str) -> impl IntoView {
    view! {
        <label>
            "Seed "
            <input
                type="number"
                min="0"
                step="1"
                class="seed"
                data-testid=test_id
                prop:value=move || seed.get().to_string()
                on:change=move |event| {
                    if let Ok(value) = event_target_value(&event).trim().parse::<u64>() {
                        seed.set(value);
                    }
                    // Show the seed in use, also after invalid text.
                    seed.notify();
                }
            />
        </label>
    }
}

/// Names a job kind in a sentence.
fn job_name(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Transfer => "the 0-4 → 5-9 experiment",
        JobKind::Teach => "teach-it training",
        JobKind::GanTransfer => "few-shot GAN transfer",
        JobKind::Invert => "the search for your drawing (Find it)",
    }
}

/// Renders the progress of the job of `kind` while it runs, with a Stop button. A note appears
/// while another kind of job occupies the worker, or after the last job of `kind` was stopped.
#[component]
pub fn JobProgress(state: LabState, kind: JobKind, test_id: &'static str) -> impl IntoView {
    let status = move || state.job.get().filter(|status| status.kind == kind);
    let other = move || {
        state
            .job
            .get()
            .map(|status| status.kind)
            .filter(|&other| other != kind)
    };
    let stopped = move || state.job_ended.get() == Some((kind, true));
    view! {
        <Show when=move || other().is_some()>
            <p class="job-note" data-testid="job-busy">
                {move || other().map(|other| format!(
                    "The worker runs one job at a time: wait for {} to finish, or stop it.",
                    job_name(other)
                ))}
            </p>
        </Show>
        <Show when=stopped>
            <p class="job-note">"Stopped before the end; finished results stay."</p>
        </Show>
        <Show when=move || status().is_some()>
            <div class="job-progress" data-testid=test_id>
                <progress
                    max=move || status().map_or(1, |status| status.steps_total.max(1))
                    value=move || status().map_or(0, |status| status.steps_done)
                ></progress>
                <span class="job-activity">
                    {move || status().map(|status| format!("{} · {}", status.activity, time_left(&status)))}
                </span>
                <button data-testid="job-stop" on:click=move |_| state.send(&ToWorker::StopJob)>
                    "Stop"
                </button>
            </div>
        </Show>
    }
}

/// Mean, standard deviation (0 for one seed) and count of the accuracies of one budget and
/// mode.
fn summary(
    results: &[TransferResult],
    budget: LabelBudget,
    mode: TransferMode,
) -> Option<(f32, f32, usize)> {
    let values: Vec<f32> = results
        .iter()
        .filter(|result| result.budget == budget && result.mode == mode)
        .map(|result| result.accuracy)
        .collect();
    if values.is_empty() {
        return None;
    }
    let count = values.len() as f32;
    let mean = values.iter().sum::<f32>() / count;
    let spread = if values.len() > 1 {
        (values
            .iter()
            .map(|value| (value - mean).powi(2))
            .sum::<f32>()
            / (count - 1.0))
            .sqrt()
    } else {
        0.0
    };
    Some((mean, spread, values.len()))
}

/// Lower end of the accuracy axis: a multiple of 10% below every value, at most 90%.
fn axis_floor(values: impl Iterator<Item = f32>) -> f64 {
    let lowest = values.fold(0.9f32, f32::min) as f64;
    ((lowest * 10.0).floor() / 10.0).clamp(0.0, 0.9)
}

fn y_position(accuracy: f64, floor: f64) -> f64 {
    let plot = CHART_HEIGHT - PAD_TOP - PAD_BOTTOM;
    let fraction = ((accuracy - floor) / (1.0 - floor)).clamp(0.0, 1.0);
    CHART_HEIGHT - PAD_BOTTOM - fraction * plot
}

/// Horizontal grid lines with percentage labels, from `floor` to 100%.
fn y_grid(floor: f64) -> impl IntoView {
    let steps = ((1.0 - floor) * 10.0).round() as usize;
    let every = if steps > 5 { 2 } else { 1 };
    (0..=steps)
        .filter(|step| step % every == 0)
        .map(|step| {
            let value = floor + step as f64 / 10.0;
            let y = y_position(value, floor);
            view! {
                <line class="grid" x1=PAD_LEFT y1=y x2=CHART_WIDTH - PAD_RIGHT y2=y></line>
                <text class="tick" x=PAD_LEFT - 4.0 y=y + 4.0 text-anchor="end">
                    {format!("{:.0}%", value * 100.0)}
                </text>
            }
        })
        .collect_view()
}

fn budget_x(index: usize) -> f64 {
    let plot = CHART_WIDTH - PAD_LEFT - PAD_RIGHT;
    PAD_LEFT + 16.0 + index as f64 / (LabelBudget::CHOICES.len() - 1) as f64 * (plot - 32.0)
}

/// Final target accuracy against labels per class, one line per mode (means over seeds).
#[component]
fn SampleEfficiencyChart(results: RwSignal<Vec<TransferResult>>) -> impl IntoView {
    let floor =
        move || results.with(|results| axis_floor(results.iter().map(|result| result.accuracy)));
    let lines = move || {
        let floor = floor();
        results.with(|results| {
            TransferMode::ALL
                .iter()
                .map(|&mode| {
                    let points: Vec<(f64, f64)> = LabelBudget::CHOICES
                        .iter()
                        .enumerate()
                        .filter_map(|(index, &budget)| {
                            summary(results, budget, mode).map(|(mean, _, _)| {
                                (budget_x(index), y_position(mean as f64, floor))
                            })
                        })
                        .collect();
                    let path = points
                        .iter()
                        .map(|(x, y)| format!("{x:.1},{y:.1}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    let dots = points
                        .iter()
                        .map(|&(x, y)| view! { <circle class=mode_class(mode) cx=x cy=y r=3.5></circle> })
                        .collect_view();
                    view! {
                        <polyline class=format!("series {}", mode_class(mode)) points=path></polyline>
                        {dots}
                    }
                })
                .collect_view()
        })
    };
    let x_labels = LabelBudget::CHOICES
        .iter()
        .enumerate()
        .map(|(index, budget)| {
            view! {
                <text class="tick" x=budget_x(index) y=CHART_HEIGHT - PAD_BOTTOM + 16.0 text-anchor="middle">
                    {budget.name()}
                </text>
            }
        })
        .collect_view();
    view! {
        <svg
            class="transfer-chart"
            data-testid="transfer-chart"
            data-points=move || results.with(Vec::len).to_string()
            viewBox=format!("0 0 {CHART_WIDTH} {CHART_HEIGHT}")
            role="img"
            aria-label="Target test accuracy against labels per class for each mode"
        >
            {move || y_grid(floor())}
            {x_labels}
            <text class="axis-title" x=(CHART_WIDTH + PAD_LEFT) / 2.0 y=CHART_HEIGHT - 4.0 text-anchor="middle">
                "labelled target digits per class"
            </text>
            {lines}
            <Show when=move || results.with(Vec::is_empty)>
                <text class="empty" x=CHART_WIDTH / 2.0 y=CHART_HEIGHT / 2.0 text-anchor="middle">
                    "Results appear here as runs finish."
                </text>
            </Show>
        </svg>
    }
}

/// Accuracy during training of the runs of the latest budget, one line per mode.
#[component]
fn LearningCurves(curves: RwSignal<Vec<CurvePoint>>) -> impl IntoView {
    let latest = move || {
        curves.with(|points| {
            let budget = points.last().map(|point| point.budget);
            points
                .iter()
                .filter(|point| Some(point.budget) == budget)
                .copied()
                .collect::<Vec<_>>()
        })
    };
    let floor = move || axis_floor(latest().iter().map(|point| point.accuracy));
    let lines = move || {
        let points = latest();
        let floor = floor();
        let steps = points.first().map_or(1, |point| point.budget.steps()) as f64;
        let plot = CHART_WIDTH - PAD_LEFT - PAD_RIGHT;
        TransferMode::ALL
            .iter()
            .map(|&mode| {
                let path = points
                    .iter()
                    .filter(|point| point.mode == mode)
                    .map(|point| {
                        let x = PAD_LEFT + point.step as f64 / steps * plot;
                        let y = y_position(point.accuracy as f64, floor);
                        format!("{x:.1},{y:.1}")
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                view! { <polyline class=format!("series {}", mode_class(mode)) points=path></polyline> }
            })
            .collect_view()
    };
    let caption = move || {
        let points = latest();
        match points.first() {
            Some(point) => format!(
                "Accuracy while training with {}, on the first {} held-out target test digits, measured every {} steps.",
                point.budget.describe(),
                point.test_digits,
                // The first point of a run falls on the interval between points.
                point.step
            ),
            None => "Learning curves appear while a run trains.".to_string(),
        }
    };
    view! {
        <figure class="curve-figure">
            <svg
                class="transfer-curves"
                data-testid="transfer-curves"
                viewBox=format!("0 0 {CHART_WIDTH} {CHART_HEIGHT}")
                role="img"
                aria-label="Target accuracy against training step for each mode"
            >
                {move || y_grid(floor())}
                <text class="tick" x=PAD_LEFT y=CHART_HEIGHT - PAD_BOTTOM + 16.0 text-anchor="start">"0"</text>
                <text class="tick" x=CHART_WIDTH - PAD_RIGHT y=CHART_HEIGHT - PAD_BOTTOM + 16.0 text-anchor="end">
                    {move || latest().first().map_or(String::new(), |point| point.budget.steps().to_string())}
                </text>
                <text class="axis-title" x=(CHART_WIDTH + PAD_LEFT) / 2.0 y=CHART_HEIGHT - 4.0 text-anchor="middle">
                    "training step"
                </text>
                {lines}
            </svg>
            <figcaption>{caption}</figcaption>
        </figure>
    }
}

/// Renders the table of final accuracies, budgets by modes.
#[component]
fn ResultsTable(results: RwSignal<Vec<TransferResult>>) -> impl IntoView {
    let rows = move || {
        results.with(|results| {
            LabelBudget::CHOICES
                .iter()
                .filter(|&&budget| results.iter().any(|result| result.budget == budget))
                .map(|&budget| {
                    let cells = TransferMode::ALL
                        .iter()
                        .map(|&mode| {
                            let text = match summary(results, budget, mode) {
                                Some((mean, _, 1)) => format!("{:.1}%", mean * 100.0),
                                Some((mean, spread, count)) => format!(
                                    "{:.1} ± {:.1}% ({count} seeds)",
                                    mean * 100.0,
                                    spread * 100.0
                                ),
                                None => "–".into(),
                            };
                            view! { <td>{text}</td> }
                        })
                        .collect_view();
                    view! { <tr><th scope="row">{budget.name()}</th>{cells}</tr> }
                })
                .collect_view()
        })
    };
    let headers = TransferMode::ALL
        .iter()
        .map(|&mode| view! { <th scope="col" class=mode_class(mode)>{mode.name()}</th> })
        .collect_view();
    view! {
        <table class="results" data-testid="transfer-table">
            <caption>
                "Final accuracy on the 4,861 held-out MNIST test digits 5-9, trained on labelled MNIST training digits 5-9; mean ± standard deviation over the seeds run."
            </caption>
            <thead><tr><th scope="col">"labels per class"</th>{headers}</tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// Renders the classifier experiment: controls, progress, latest result, charts and table.
#[component]
fn ClassifierTransfer(state: LabState) -> impl IntoView {
    let budget = RwSignal::new(2usize);
    let mode = RwSignal::new(Option::<TransferMode>::None);
    let seed = RwSignal::new(DEFAULT_SEED);
    let running = move || state.job_running();
    let ready = move || state.prepared.get();

    let run = move |budgets: Vec<LabelBudget>, modes: Vec<TransferMode>| {
        let request = TransferRequest {
            budgets,
            modes,
            seed: seed.get_untracked(),
        };
        state.start_job(JobKind::Transfer, &ToWorker::Transfer(request));
    };
    let run_one = move |_| {
        let modes = match mode.get_untracked() {
            Some(mode) => vec![mode],
            None => TransferMode::ALL.to_vec(),
        };
        run(vec![LabelBudget::CHOICES[budget.get_untracked()]], modes);
    };
    let run_sweep = move |_| run(LabelBudget::CHOICES.to_vec(), TransferMode::ALL.to_vec());

    let latest = move || {
        state
            .transfer_results
            .with(|results| results.last().cloned())
    };
    let budget_options = LabelBudget::CHOICES
        .iter()
        .enumerate()
        .map(|(index, choice)| {
            view! { <option value=index.to_string() selected=move || budget.get() == index>{choice.name()}</option> }
        })
        .collect_view();
    let mode_options = TransferMode::ALL
        .iter()
        .map(|&choice| {
            view! { <option value=mode_class(choice)>{choice.name()}</option> }
        })
        .collect_view();
    let choose_mode = move |event| {
        let value = event_target_value(&event);
        mode.set(
            TransferMode::ALL
                .iter()
                .copied()
                .find(|&choice| mode_class(choice) == value),
        );
    };
    let legend = TransferMode::ALL
        .iter()
        .map(|&choice| view! { <span class=format!("key {}", mode_class(choice))>{choice.name()}</span> })
        .collect_view();

    view! {
        <section class="transfer-section" aria-labelledby="transfer-title">
            <h3 id="transfer-title">"Digits 0-4 → digits 5-9"</h3>
            <p class="explain">
                "A classifier pretrained on the digits 0-4 learns the digits 5-9 from a few labels. "
                <b>"From scratch"</b>" starts from random weights; "
                <b>"frozen features"</b>" keeps the pretrained convolutions and trains only the head (dense and output layers); "
                <b>"full fine-tuning"</b>" trains everything, the convolutions at a tenth of the head's learning rate. "
                "All three train on the same labelled digits, chosen by the seed."
            </p>
            <div class="controls">
                <label>
                    "Labels per class "
                    <select data-testid="label-budget" on:change=move |event| {
                        if let Ok(index) = event_target_value(&event).parse::<usize>() {
                            budget.set(index.min(LabelBudget::CHOICES.len() - 1));
                        }
                    }>{budget_options}</select>
                </label>
                <label>
                    "Mode "
                    <select data-testid="transfer-mode" on:change=choose_mode>
                        <option value="all" selected=true>"all three, side by side"</option>
                        {mode_options}
                    </select>
                </label>
                <SeedInput seed=seed test_id="transfer-seed" />
                <button class="primary" data-testid="transfer-run" disabled=move || !ready() || running() on:click=run_one>
                    "Run"
                </button>
                <button data-testid="transfer-sweep" disabled=move || !ready() || running() on:click=run_sweep>
                    "Run the whole sweep"
                </button>
                <button data-testid="transfer-clear" disabled=move || state.job.get().is_some_and(|status| status.kind == JobKind::Transfer) on:click=move |_| state.transfer_results.set(Vec::new())>
                    "Clear results"
                </button>
            </div>
            <JobProgress state=state kind=JobKind::Transfer test_id="transfer-progress" />
            <p class="latest">
                "Latest result: "
                <strong data-testid="transfer-accuracy">
                    {move || latest().map(|result| format!("{:.1}%", result.accuracy * 100.0))}
                </strong>
                " "
                <span class="caption">
                    {move || match latest() {
                        Some(result) => format!(
                            "{} with {} ({} training digits, {} steps, seed {}), on {} held-out test digits 5-9",
                            result.mode.name(),
                            result.budget.describe(),
                            result.train_digits,
                            result.steps,
                            result.seed,
                            result.test_digits
                        ),
                        None => "none yet: press Run.".to_string(),
                    }}
                </span>
            </p>
            <div class="chart-row">
                <figure>
                    <SampleEfficiencyChart results=state.transfer_results />
                    <figcaption>
                        "Final accuracy on the held-out test digits 5-9 (mean over seeds). "
                        {legend}
                    </figcaption>
                </figure>
                <LearningCurves curves=state.transfer_curves />
            </div>
            <ResultsTable results=state.transfer_results />
        </section>
    }
}

/// Renders the transfer lab panel.
#[component]
pub fn TransferLab(state: LabState, canvas: CanvasLink) -> impl IntoView {
    let classes = RwSignal::new(vec![TeachClass::new(0), TeachClass::new(1)]);
    view! {
        <section class="panel transfer-panel" aria-labelledby="transfer-lab-title">
            <h2 id="transfer-lab-title">"Transfer lab"</h2>
            <ClassifierTransfer state=state />
            <TeachIt state=state canvas=canvas classes=classes />
            <FewShotGan state=state classes=classes />
        </section>
    }
}
