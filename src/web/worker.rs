//! The training worker: loads MNIST and the shipped weights, picks the backend, and runs the
//! GAN training loop off the UI thread, talking to the page through `protocol` messages.

use std::rc::Rc;

use futures::StreamExt;
use futures::channel::mpsc::{UnboundedReceiver, unbounded};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};
use web_time::Instant;

use super::assets::{MNIST_PATH, fetch_bytes};
use super::gpu::{Backend, choose_backend};
use burn::prelude::*;

use crate::data::{Mnist, NUM_CLASSES, decode_asset};
use crate::model::{Classifier, ClassifierConfig, GanConfig};
use crate::protocol::{
    BackendPreference, FromWorker, JobKind, Progress, StartFrom, ToWorker, decode, encode,
};
use crate::session::{GRID_ROWS, GanSession};
use crate::transfer::TASK_CLASSES;
use crate::transfer_jobs::{GanTransferJob, InvertJob, Job, TeachJob, TransferJob};
use crate::weights::{
    self, CLASSIFIER_PATH, DISCRIMINATOR_PATH, GENERATOR_PATH, SOURCE_CLASSIFIER_PATH,
    SOURCE_DISCRIMINATOR_PATH, SOURCE_GENERATOR_PATH,
};

/// Wall-clock time between sample-grid refreshes while training.
const GRID_INTERVAL_MS: f64 = 1_000.0;
/// Steps between label-accuracy measurements.
const QUALITY_EVERY: u64 = 100;
/// Generated digits per class for each label-accuracy measurement.
const QUALITY_PER_CLASS: usize = 10;
/// Seed of the training run's batch order and latents.
const RUN_SEED: u64 = 1;

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(message: &FromWorker) {
    if let Err(error) = scope().post_message(&encode(message).into()) {
        log::error!("worker: postMessage failed: {error:?}");
    }
}

fn wasm_memory_bytes() -> u64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    memory
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length() as u64
}

/// Installs the message handler and starts the loop.
pub fn start() {
    let (sender, receiver) = unbounded::<ToWorker>();
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let text = event.data().as_string().unwrap_or_default();
        match decode::<ToWorker>(&text, "page") {
            Ok(message) => {
                let _ = sender.unbounded_send(message);
            }
            Err(error) => post(&FromWorker::Error(error.to_string())),
        }
    });
    scope().set_onmessage(Some(handler.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    handler.forget();
    wasm_bindgen_futures::spawn_local(run(receiver));
    post(&FromWorker::Ready);
}

/// Bytes of the shipped weights, fetched once.
struct ShippedWeights {
    classifier: Vec<u8>,
    generator: Vec<u8>,
    discriminator: Vec<u8>,
}

/// Bytes of the models pretrained on digits 0-4, fetched when the transfer lab first needs
/// them.
struct SourceWeights {
    classifier: Vec<u8>,
    generator: Vec<u8>,
    discriminator: Vec<u8>,
}

/// The worker's state between messages.
struct Worker {
    mnist: Option<Rc<Mnist>>,
    shipped: Option<Rc<ShippedWeights>>,
    source: Option<Rc<SourceWeights>>,
    /// The transfer-lab job, stepped in turn with GAN training when both run.
    job: Option<Job>,
    backend: Option<Backend>,
    session: Option<GanSession>,
    running: bool,
    pending_steps: u32,
    first_step_ms: Option<f64>,
    window_start: (Instant, u64),
    steps_per_second: f32,
    last_grid: Instant,
}

async fn fetch_reporting(path: &str) -> Result<Vec<u8>, String> {
    let asset = path.to_string();
    fetch_bytes(path, |loaded, total| {
        post(&FromWorker::Loading {
            asset: asset.clone(),
            loaded,
            total,
        })
    })
    .await
}

impl Worker {
    fn new() -> Self {
        Self {
            mnist: None,
            shipped: None,
            source: None,
            job: None,
            backend: None,
            session: None,
            running: false,
            pending_steps: 0,
            first_step_ms: None,
            window_start: (Instant::now(), 0),
            steps_per_second: 0.0,
            last_grid: Instant::now(),
        }
    }

    async fn load_assets(&mut self) -> Result<(), String> {
        if self.shipped.is_none() {
            self.shipped = Some(Rc::new(ShippedWeights {
                classifier: fetch_reporting(CLASSIFIER_PATH).await?,
                generator: fetch_reporting(GENERATOR_PATH).await?,
                discriminator: fetch_reporting(DISCRIMINATOR_PATH).await?,
            }));
        }
        if self.mnist.is_none() {
            let bytes = fetch_reporting(MNIST_PATH).await?;
            let started = Instant::now();
            let mnist = decode_asset(&bytes).map_err(|error| format!("{MNIST_PATH}: {error}"))?;
            log::info!(
                "worker: MNIST decoded in {:.0} ms ({} train, {} test)",
                started.elapsed().as_secs_f64() * 1000.0,
                mnist.train.len(),
                mnist.test.len()
            );
            self.mnist = Some(Rc::new(mnist));
        }
        Ok(())
    }

    async fn select_backend(&mut self, preference: BackendPreference) {
        let backend = choose_backend(preference).await;
        log::info!("worker: backend {:?} on {}", backend.kind, backend.adapter);
        post(&FromWorker::Backend {
            kind: backend.kind,
            adapter: backend.adapter.clone(),
            note: backend.note.clone(),
        });
        self.backend = Some(backend);
    }

    /// Builds a fresh run on the current backend.
    async fn prepare(&mut self, start: StartFrom) -> Result<(), String> {
        let (Some(backend), Some(shipped), Some(mnist)) =
            (&self.backend, &self.shipped, &self.mnist)
        else {
            return Err("the worker is not initialised yet".into());
        };
        let inference = backend.device.clone();
        let training = inference.clone().autodiff();
        let config = GanConfig::new();

        let classifier = weights::load(
            ClassifierConfig::new().init(&inference),
            shipped.classifier.clone(),
            "classifier",
        )
        .map_err(|error| error.to_string())?;
        let networks = match start {
            StartFrom::Scratch => None,
            StartFrom::Shipped => Some((
                weights::load(
                    config.init_generator(&training),
                    shipped.generator.clone(),
                    "generator",
                )
                .map_err(|error| error.to_string())?,
                weights::load(
                    config.init_discriminator(&training),
                    shipped.discriminator.clone(),
                    "discriminator",
                )
                .map_err(|error| error.to_string())?,
            )),
        };

        self.session = Some(GanSession::new(
            &training,
            config,
            networks,
            classifier,
            mnist.train.len(),
            RUN_SEED,
        ));
        self.running = false;
        self.pending_steps = 0;
        self.first_step_ms = None;
        self.steps_per_second = 0.0;
        self.window_start = (Instant::now(), 0);
        post(&FromWorker::Running(false));
        post(&FromWorker::Prepared { start });
        self.send_grid().await;
        self.send_quality().await;
        Ok(())
    }

    async fn send_grid(&mut self) {
        if let Some(session) = &self.session {
            let pixels = session.grid().await;
            post(&FromWorker::Samples {
                step: session.steps,
                rows: GRID_ROWS,
                pixels,
            });
        }
        self.last_grid = Instant::now();
    }

    async fn send_quality(&self) {
        if let Some(session) = &self.session {
            let label_accuracy = session.label_accuracy(QUALITY_PER_CLASS).await;
            post(&FromWorker::Quality {
                step: session.steps,
                label_accuracy,
                samples: QUALITY_PER_CLASS * 10,
            });
        }
    }

    async fn handle(&mut self, message: ToWorker) -> Result<(), String> {
        match message {
            ToWorker::Init { preference, start } | ToWorker::SetBackend { preference, start } => {
                self.running = false;
                self.select_backend(preference).await;
                self.load_assets().await?;
                self.prepare(start).await?;
            }
            ToWorker::Reset { start } => {
                // After a failed start, a reset retries what is missing.
                if self.backend.is_none() {
                    self.select_backend(BackendPreference::Auto).await;
                }
                self.load_assets().await?;
                self.prepare(start).await?;
            }
            ToWorker::Train => {
                self.running = self.session.is_some();
                self.window_start = (Instant::now(), self.steps_done());
                post(&FromWorker::Running(self.running));
            }
            ToWorker::Pause => {
                self.running = false;
                self.pending_steps = 0;
                post(&FromWorker::Running(false));
                // Show the samples of the step that training stopped at.
                self.send_grid().await;
            }
            ToWorker::Step => self.pending_steps += 1,
            ToWorker::StopJob => self.stop_job(),
            ToWorker::Transfer(_)
            | ToWorker::Teach(_)
            | ToWorker::GanTransfer(_)
            | ToWorker::Invert(_) => {
                self.stop_job();
                let kind = match &message {
                    ToWorker::Transfer(_) => JobKind::Transfer,
                    ToWorker::Teach(_) => JobKind::Teach,
                    ToWorker::Invert(_) => JobKind::Invert,
                    _ => JobKind::GanTransfer,
                };
                match self.create_job(message).await {
                    Ok(job) => self.job = Some(job),
                    Err(error) => {
                        post(&FromWorker::JobFinished {
                            job: kind,
                            stopped: true,
                        });
                        return Err(error);
                    }
                }
            }
        }
        Ok(())
    }

    /// Builds the transfer-lab job that `message` requests.
    async fn create_job(&mut self, message: ToWorker) -> Result<Job, String> {
        match message {
            ToWorker::Transfer(request) => {
                let (device, mnist, source) = self.transfer_inputs().await?;
                let classifier = load_classifier(
                    &source.classifier,
                    TASK_CLASSES,
                    &device,
                    "source classifier",
                )?;
                let job = TransferJob::new(&request, &mnist, classifier, &device.autodiff())?;
                Ok(Job::Transfer(job))
            }
            ToWorker::Teach(request) => {
                let shipped = self
                    .shipped
                    .clone()
                    .ok_or("the worker is not initialised yet")?;
                // Teach-it trains on the CPU whatever the backend: a few dozen drawings train
                // in seconds there, and the weights go back to the page as bytes, which burn
                // reads synchronously, so they must not live on WebGPU.
                let cpu = Device::flex();
                let source = load_classifier(&shipped.classifier, NUM_CLASSES, &cpu, "classifier")?;
                let job = TeachJob::new(&request, &source, &cpu.autodiff())?;
                Ok(Job::Teach(job))
            }
            ToWorker::GanTransfer(request) => {
                let (device, mnist, source) = self.transfer_inputs().await?;
                let shipped = self
                    .shipped
                    .clone()
                    .ok_or("the worker is not initialised yet")?;
                let classifier =
                    load_classifier(&shipped.classifier, NUM_CLASSES, &device, "classifier")?;
                let config = GanConfig::new();
                let generator = weights::load(
                    config.init_generator(&device),
                    source.generator.clone(),
                    "source generator",
                )
                .map_err(|error| error.to_string())?;
                let discriminator = weights::load(
                    config.init_discriminator(&device),
                    source.discriminator.clone(),
                    "source discriminator",
                )
                .map_err(|error| error.to_string())?;
                let job = GanTransferJob::new(
                    &request,
                    &mnist,
                    (&generator, &discriminator),
                    classifier,
                    &device.autodiff(),
                )?;
                Ok(Job::GanTransfer(job))
            }
            ToWorker::Invert(request) => {
                let backend = self
                    .backend
                    .as_ref()
                    .ok_or("the worker is not initialised yet")?;
                let shipped = self
                    .shipped
                    .clone()
                    .ok_or("the worker is not initialised yet")?;
                let device = backend.device.clone();
                let generator = weights::load(
                    GanConfig::new().init_generator(&device),
                    shipped.generator.clone(),
                    "generator",
                )
                .map_err(|error| error.to_string())?;
                let job = InvertJob::new(&request, &generator, &device.autodiff())?;
                Ok(Job::Invert(job))
            }
            other => Err(format!("{other:?} is not a transfer-lab job")),
        }
    }

    /// Ends the transfer-lab job in progress, if any, and reports it to the page.
    fn stop_job(&mut self) {
        if let Some(job) = self.job.take() {
            post(&FromWorker::JobFinished {
                job: job.kind(),
                stopped: true,
            });
        }
    }

    /// Returns the inference device, MNIST and the source weights, fetching the weights on
    /// first use.
    async fn transfer_inputs(&mut self) -> Result<(Device, Rc<Mnist>, Rc<SourceWeights>), String> {
        let (Some(backend), Some(mnist)) = (&self.backend, &self.mnist) else {
            return Err("the worker is not initialised yet".into());
        };
        let (device, mnist) = (backend.device.clone(), mnist.clone());
        if self.source.is_none() {
            self.source = Some(Rc::new(SourceWeights {
                classifier: fetch_reporting(SOURCE_CLASSIFIER_PATH).await?,
                generator: fetch_reporting(SOURCE_GENERATOR_PATH).await?,
                discriminator: fetch_reporting(SOURCE_DISCRIMINATOR_PATH).await?,
            }));
        }
        let source = self
            .source
            .clone()
            .ok_or("the source weights are missing")?;
        Ok((device, mnist, source))
    }

    /// Advances the transfer-lab job by one step and ends it when it is done.
    async fn job_step(&mut self) {
        let Some(job) = &mut self.job else {
            return;
        };
        let mut emit = |message: FromWorker| post(&message);
        if job.advance(&mut emit).await {
            let kind = job.kind();
            self.job = None;
            post(&FromWorker::JobFinished {
                job: kind,
                stopped: false,
            });
        }
    }

    fn steps_done(&self) -> u64 {
        self.session.as_ref().map_or(0, |session| session.steps)
    }

    /// Runs one step and reports its progress.
    async fn train_step(&mut self) {
        let (Some(session), Some(mnist)) = (&mut self.session, &self.mnist) else {
            self.running = false;
            return;
        };
        let started = Instant::now();
        let losses = session.step(&mnist.train).await;
        let step = session.steps;
        if !losses.discriminator.is_finite() || !losses.generator.is_finite() {
            self.running = false;
            self.pending_steps = 0;
            post(&FromWorker::Running(false));
            post(&FromWorker::Error(format!(
                "training diverged: the losses are {} (D) and {} (G) at step {step}. Press Reset.",
                losses.discriminator, losses.generator
            )));
            return;
        }
        if step == 1 {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            log::info!("worker: first step took {ms:.0} ms");
            self.first_step_ms = Some(ms);
        }

        let (window_started, window_steps) = self.window_start;
        let elapsed = window_started.elapsed().as_secs_f64();
        if elapsed > 0.0 {
            self.steps_per_second = ((step - window_steps) as f64 / elapsed) as f32;
        }
        if elapsed > 5.0 {
            self.window_start = (Instant::now(), step);
        }
        post(&FromWorker::Progress(Progress {
            step,
            discriminator_loss: losses.discriminator,
            generator_loss: losses.generator,
            steps_per_second: self.steps_per_second,
            first_step_ms: self.first_step_ms,
            wasm_memory_bytes: wasm_memory_bytes(),
        }));

        let grid_due = self.last_grid.elapsed().as_secs_f64() * 1000.0 >= GRID_INTERVAL_MS;
        if grid_due || !self.running {
            self.send_grid().await;
        }
        if step % QUALITY_EVERY == 0 {
            self.send_quality().await;
        }
    }
}

/// Loads classifier weights with a `classes`-way output layer on `device`.
fn load_classifier(
    bytes: &[u8],
    classes: usize,
    device: &Device,
    name: &'static str,
) -> Result<Classifier, String> {
    let model = ClassifierConfig::new().with_classes(classes).init(device);
    weights::load(model, bytes.to_vec(), name).map_err(|error| error.to_string())
}

async fn run(mut receiver: UnboundedReceiver<ToWorker>) {
    let mut state = Worker::new();
    loop {
        let training = state.running || state.pending_steps > 0;
        let busy = training || state.job.is_some();
        let message = if busy {
            // Let queued messages in between steps; on the CPU the step's reads complete
            // immediately, so without this yield the loop would never see a Pause.
            gloo_timers::future::TimeoutFuture::new(0).await;
            receiver.try_recv().ok()
        } else {
            match receiver.next().await {
                Some(message) => Some(message),
                None => return,
            }
        };

        if let Some(message) = message {
            if let Err(error) = state.handle(message).await {
                log::error!("worker: {error}");
                post(&FromWorker::Error(error));
            }
            continue;
        }
        if state.job.is_some() {
            state.job_step().await;
        }
        if training {
            if state.pending_steps > 0 {
                state.pending_steps -= 1;
            }
            state.train_step().await;
        }
    }
}
