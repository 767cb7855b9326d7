//! The page's side of the worker: spawns it, sends commands and turns its messages into
//! reactive state for the components.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::protocol::{
    BackendKind, BackendPreference, FromWorker, InvertProgress, JobKind, Progress, StartFrom,
    ToWorker, TransferResult, decode, encode,
};
use crate::transfer::{GanTransferSetting, LabelBudget, TransferMode};

/// Script that loads this app's wasm module in a module worker (`assets/worker.js`, which Trunk
/// copies next to the page so that relative asset paths resolve as they do for the page).
const WORKER_SCRIPT: &str = "./worker.js";
/// Most loss points kept for the chart; older points are thinned out beyond it.
const MAX_LOSS_POINTS: usize = 2_000;

/// The backend the worker reported.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendStatus {
    pub kind: BackendKind,
    pub adapter: String,
    pub note: Option<String>,
}

/// Generated samples for the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    pub step: u64,
    pub rows: usize,
    pub pixels: Vec<u8>,
}

/// One point of the loss chart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossPoint {
    pub step: u64,
    pub discriminator: f32,
    pub generator: f32,
}

/// The transfer-lab job in progress, as last reported.
#[derive(Clone, Debug, PartialEq)]
pub struct JobStatus {
    pub kind: JobKind,
    pub steps_done: usize,
    pub steps_total: usize,
    pub activity: String,
    /// Page clock (`Date.now()`, ms) when the job was requested, for the time-left estimate.
    pub started_ms: f64,
}

/// One learning-curve point of a transfer run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurvePoint {
    pub budget: LabelBudget,
    pub mode: TransferMode,
    pub step: usize,
    pub accuracy: f32,
    pub test_digits: usize,
}

/// A classifier trained on the visitor's classes.
#[derive(Clone, Debug, PartialEq)]
pub struct TeachModel {
    pub class_names: Vec<String>,
    pub mode: TransferMode,
    pub weights: Vec<u8>,
    pub train_accuracy: f32,
    pub examples: usize,
}

/// The samples and label accuracy of one few-shot GAN run.
#[derive(Clone, Debug, PartialEq)]
pub struct GanTransferView {
    pub setting: GanTransferSetting,
    pub step: usize,
    pub pixels: Vec<u8>,
    /// Label accuracy: step, fraction, digits scored.
    pub quality: Option<(usize, f32, usize)>,
}

/// Everything the GAN lab shows, updated from worker messages.
#[derive(Clone, Copy)]
pub struct LabState {
    /// Asset being downloaded: name, bytes loaded, total bytes if known.
    pub loading: RwSignal<Option<(String, u64, Option<u64>)>>,
    pub backend: RwSignal<Option<BackendStatus>>,
    /// A run is prepared (data, weights and backend are ready).
    pub prepared: RwSignal<bool>,
    /// A command that rebuilds the run (init, reset, backend switch) is in flight.
    pub busy: RwSignal<bool>,
    pub running: RwSignal<bool>,
    pub progress: RwSignal<Option<Progress>>,
    pub losses: RwSignal<Vec<LossPoint>>,
    pub samples: RwSignal<Option<Samples>>,
    /// Label accuracy of generated digits: step, fraction, digits scored.
    pub quality: RwSignal<Option<(u64, f32, usize)>>,
    pub error: RwSignal<Option<String>>,
    pub start: RwSignal<StartFrom>,
    pub preference: RwSignal<BackendPreference>,
    pub job: RwSignal<Option<JobStatus>>,
    /// The kind of the last transfer-lab job that ended, and whether it was stopped.
    pub job_ended: RwSignal<Option<(JobKind, bool)>>,
    pub transfer_results: RwSignal<Vec<TransferResult>>,
    pub transfer_curves: RwSignal<Vec<CurvePoint>>,
    pub teach_model: RwSignal<Option<TeachModel>>,
    pub gan_transfer: RwSignal<Vec<GanTransferView>>,
    /// The latest fit of a GAN inversion of the drawing, finished or not.
    pub inversion: RwSignal<Option<InvertProgress>>,
    /// The fit of the last inversion that ran to its end. It stays when a later search is
    /// stopped, so the results built on it stay too.
    pub found: RwSignal<Option<InvertProgress>>,
    worker: StoredValue<Option<Worker>, LocalStorage>,
}

impl LabState {
    fn new(preference: BackendPreference) -> Self {
        Self {
            loading: RwSignal::new(None),
            backend: RwSignal::new(None),
            prepared: RwSignal::new(false),
            busy: RwSignal::new(true),
            running: RwSignal::new(false),
            progress: RwSignal::new(None),
            losses: RwSignal::new(Vec::new()),
            samples: RwSignal::new(None),
            quality: RwSignal::new(None),
            error: RwSignal::new(None),
            start: RwSignal::new(StartFrom::Shipped),
            preference: RwSignal::new(preference),
            job: RwSignal::new(None),
            job_ended: RwSignal::new(None),
            transfer_results: RwSignal::new(Vec::new()),
            transfer_curves: RwSignal::new(Vec::new()),
            teach_model: RwSignal::new(None),
            gan_transfer: RwSignal::new(Vec::new()),
            inversion: RwSignal::new(None),
            found: RwSignal::new(None),
            worker: StoredValue::new_local(None),
        }
    }

    /// Sends a command to the worker.
    pub fn send(&self, message: &ToWorker) {
        if matches!(
            message,
            ToWorker::Reset { .. } | ToWorker::SetBackend { .. }
        ) {
            self.busy.set(true);
            self.prepared.set(false);
        }
        self.worker.with_value(|worker| match worker {
            Some(worker) => {
                if let Err(error) = worker.post_message(&encode(message).into()) {
                    self.error.set(Some(format!(
                        "could not reach the training worker: {error:?}"
                    )));
                }
            }
            None => self
                .error
                .set(Some("the training worker is not running".into())),
        });
    }

    /// Returns true while any transfer-lab job runs; the worker runs one at a time.
    pub fn job_running(&self) -> bool {
        self.job.get().is_some()
    }

    /// Sends a job request and shows it as started. Returns false, sending nothing, while
    /// another job runs. Without this check two clicks in one task would both get through
    /// before the buttons are disabled, and the worker would replace the first job.
    pub fn start_job(&self, kind: JobKind, message: &ToWorker) -> bool {
        if self.job.get_untracked().is_some() {
            return false;
        }
        self.job.set(Some(JobStatus {
            kind,
            steps_done: 0,
            steps_total: 0,
            activity: "starting…".into(),
            started_ms: js_sys::Date::now(),
        }));
        self.job_ended.set(None);
        match kind {
            JobKind::Transfer => self.transfer_curves.set(Vec::new()),
            JobKind::GanTransfer => self.gan_transfer.set(Vec::new()),
            JobKind::Teach => {}
            JobKind::Invert => self.inversion.set(None),
        }
        self.send(message);
        true
    }

    fn receive_job_message(&self, message: FromWorker) {
        match message {
            FromWorker::TransferCurve {
                budget,
                mode,
                step,
                accuracy,
                test_digits,
            } => self.transfer_curves.update(|points| {
                points.push(CurvePoint {
                    budget,
                    mode,
                    step,
                    accuracy,
                    test_digits,
                })
            }),
            // A rerun with the same seed replaces its earlier result rather than counting
            // as another seed.
            FromWorker::TransferResult(result) => self.transfer_results.update(|results| {
                results.retain(|earlier| {
                    (earlier.budget, earlier.mode, earlier.seed)
                        != (result.budget, result.mode, result.seed)
                });
                results.push(result);
            }),
            FromWorker::JobProgress {
                job,
                steps_done,
                steps_total,
                activity,
            } => self.job.update(|status| {
                let started_ms = status
                    .as_ref()
                    .filter(|status| status.kind == job)
                    .map_or_else(js_sys::Date::now, |status| status.started_ms);
                *status = Some(JobStatus {
                    kind: job,
                    steps_done,
                    steps_total,
                    activity,
                    started_ms,
                });
            }),
            FromWorker::JobFinished { job, stopped } => {
                if self
                    .job
                    .get_untracked()
                    .is_some_and(|status| status.kind == job)
                {
                    self.job.set(None);
                }
                self.job_ended.set(Some((job, stopped)));
            }
            FromWorker::TeachModel {
                class_names,
                mode,
                weights,
                train_accuracy,
                examples,
            } => self.teach_model.set(Some(TeachModel {
                class_names,
                mode,
                weights: weights.0,
                train_accuracy,
                examples,
            })),
            FromWorker::GanTransferSamples {
                setting,
                step,
                pixels,
            } => self.gan_transfer.update(|views| {
                match views.iter_mut().find(|view| view.setting == setting) {
                    Some(view) => {
                        view.step = step;
                        view.pixels = pixels;
                    }
                    None => views.push(GanTransferView {
                        setting,
                        step,
                        pixels,
                        quality: None,
                    }),
                }
            }),
            FromWorker::GanTransferQuality {
                setting,
                step,
                label_accuracy,
                samples,
            } => self.gan_transfer.update(|views| {
                if let Some(view) = views.iter_mut().find(|view| view.setting == setting) {
                    view.quality = Some((step, label_accuracy, samples));
                }
            }),
            FromWorker::InvertProgress(progress) => {
                if progress.done {
                    self.found.set(Some(progress.clone()));
                }
                self.inversion.set(Some(progress));
            }
            other => log::error!("page: unexpected worker message {other:?}"),
        }
    }

    fn receive(&self, message: FromWorker) {
        match message {
            FromWorker::Ready => self.send(&ToWorker::Init {
                preference: self.preference.get_untracked(),
                start: self.start.get_untracked(),
            }),
            FromWorker::Loading {
                asset,
                loaded,
                total,
            } => {
                let done = total.is_some_and(|total| loaded >= total);
                self.loading.set((!done).then_some((asset, loaded, total)));
            }
            FromWorker::Backend {
                kind,
                adapter,
                note,
            } => {
                self.backend.set(Some(BackendStatus {
                    kind,
                    adapter,
                    note,
                }));
            }
            FromWorker::Prepared { start } => {
                self.start.set(start);
                self.loading.set(None);
                self.progress.set(None);
                self.losses.set(Vec::new());
                self.prepared.set(true);
                self.busy.set(false);
                self.error.set(None);
            }
            FromWorker::Progress(progress) => {
                self.losses.update(|points| {
                    points.push(LossPoint {
                        step: progress.step,
                        discriminator: progress.discriminator_loss,
                        generator: progress.generator_loss,
                    });
                    if points.len() > MAX_LOSS_POINTS {
                        // Keep every other point of the older half so the chart spans the run.
                        let half = points.len() / 2;
                        let mut index = 0;
                        points.retain(|_| {
                            index += 1;
                            index > half || index % 2 == 0
                        });
                    }
                });
                self.progress.set(Some(progress));
            }
            FromWorker::Samples { step, rows, pixels } => {
                self.samples.set(Some(Samples { step, rows, pixels }));
            }
            FromWorker::Quality {
                step,
                label_accuracy,
                samples,
            } => {
                self.quality.set(Some((step, label_accuracy, samples)));
            }
            FromWorker::Running(running) => self.running.set(running),
            FromWorker::Error(message) => {
                self.busy.set(false);
                self.error.set(Some(message));
            }
            job_message => self.receive_job_message(job_message),
        }
    }
}

/// Spawns the training worker and returns the state it feeds.
pub fn spawn_worker(preference: BackendPreference) -> LabState {
    let state = LabState::new(preference);
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    let worker = match Worker::new_with_options(WORKER_SCRIPT, &options) {
        Ok(worker) => worker,
        Err(error) => {
            state.busy.set(false);
            state.error.set(Some(format!(
                "could not start the training worker: {error:?}"
            )));
            return state;
        }
    };

    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let text = event.data().as_string().unwrap_or_default();
        match decode::<FromWorker>(&text, "worker") {
            Ok(message) => state.receive(message),
            Err(error) => state.error.set(Some(error.to_string())),
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();

    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        let detail = js_sys::Reflect::get(&event, &"message".into())
            .ok()
            .and_then(|value| value.as_string())
            .unwrap_or_else(|| "the worker script failed to load".into());
        state.busy.set(false);
        state
            .error
            .set(Some(format!("training worker error: {detail}")));
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();

    state.worker.set_value(Some(worker));
    state
}
