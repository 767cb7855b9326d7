//! The transfer lab's jobs, which the worker and the tests advance one training step at a time.
//! They are a classifier experiment over label budgets and modes, fine-tuning on the visitor's
//! drawn classes, and few-shot GAN transfer in three settings side by side. Each job reports
//! through `emit` with the same [`FromWorker`] messages the page receives.

use std::collections::VecDeque;

use burn::prelude::*;

use crate::data::{Digits, IMAGE_PIXELS, Mnist, NUM_CLASSES, SplitMix64, pixel_to_signed};
use crate::editing::{Inversion, InversionConfig};
use crate::evaluate::{classifier_accuracy, generated_label_accuracy, read_floats};
use crate::model::{Classifier, Discriminator, GanConfig, Generator};
use crate::protocol::{
    FromWorker, GanTarget, GanTransferRequest, InvertProgress, InvertRequest, JobKind,
    TeachRequest, TransferRequest, TransferResult, WeightBytes,
};
use crate::session::images_to_bytes;
use crate::training::latent_batch;
use crate::transfer::{
    GAN_TRANSFER_STEPS, GanTransferRun, GanTransferSetting, LabelBudget, TARGET_DIGITS,
    TASK_CLASSES, TransferRun, budget_indices, digit_group, few_shot_digits, subset,
};
use crate::weights;

/// Held-out target test digits scored for the learning curves; the final result uses all.
pub const CURVE_TEST_DIGITS: usize = 500;
/// Learning-curve points per transfer run, the last one at the final step.
const CURVE_POINTS: usize = 5;
/// Steps between two progress messages.
const PROGRESS_EVERY: usize = 5;
/// Digits per evaluation batch.
const EVALUATION_BATCH: usize = 500;

/// Training steps of a teach-it run.
pub const TEACH_STEPS: usize = 150;
/// Minimum and maximum number of classes a visitor can teach.
pub const TEACH_CLASSES: std::ops::RangeInclusive<usize> = 2..=5;
/// Maximum number of drawn examples in one request.
pub const MAX_EXAMPLES: usize = 500;

/// Samples shown per few-shot GAN run.
pub const GAN_TRANSFER_GRID: usize = 8;
/// Steps of each GAN run between two sample refreshes.
const GAN_SAMPLES_EVERY: usize = 10;
/// Steps of each GAN run between two label-accuracy measurements, for digit targets.
pub const GAN_QUALITY_EVERY: usize = 100;
/// Generated digits scored per label-accuracy measurement in the browser.
pub const GAN_QUALITY_SAMPLES: usize = 100;
/// Maximum number of MNIST samples of a few-shot digit target.
pub const MAX_FEW_SHOT_SAMPLES: usize = 100;
/// Latent seed of the sample grids, the same for the three settings.
const GAN_GRID_SEED: u64 = 77;
/// Latent seed of the label-accuracy measurement.
const GAN_QUALITY_SEED: u64 = 2024;

/// Converts drawn examples (28x28 bytes) to digits labelled `class`.
fn drawn_digits(examples: &[(usize, &[u8])]) -> Result<Digits, String> {
    let mut labels = Vec::with_capacity(examples.len());
    let mut pixels = Vec::with_capacity(examples.len() * IMAGE_PIXELS);
    for (class, image) in examples {
        if image.len() != IMAGE_PIXELS {
            return Err(format!(
                "a drawn example has {} pixels, expected {IMAGE_PIXELS}",
                image.len()
            ));
        }
        labels.push(*class as u8);
        pixels.extend_from_slice(image);
    }
    Digits::new(labels, pixels).map_err(|error| error.to_string())
}

/// A classifier transfer experiment: a queue of (budget, mode) runs.
pub struct TransferJob {
    queue: VecDeque<(LabelBudget, TransferMode)>,
    current: Option<(LabelBudget, TransferRun, usize)>,
    source: Classifier,
    target_train: Digits,
    target_test: Digits,
    curve_test: Digits,
    seed: u64,
    device: Device,
    steps_done: usize,
    steps_total: usize,
}

use crate::transfer::TransferMode;

impl TransferJob {
    /// Prepares the runs. `source` is the classifier pretrained on digits 0-4 and `device` an
    /// autodiff device.
    pub fn new(
        request: &TransferRequest,
        mnist: &Mnist,
        source: Classifier,
        device: &Device,
    ) -> Result<Self, String> {
        if request.budgets.is_empty() || request.modes.is_empty() {
            return Err("pick at least one label budget and one mode".into());
        }
        let queue: VecDeque<(LabelBudget, TransferMode)> = request
            .budgets
            .iter()
            .flat_map(|&budget| request.modes.iter().map(move |&mode| (budget, mode)))
            .collect();
        let steps_total = queue.iter().map(|(budget, _)| budget.steps()).sum();
        let target_test = digit_group(&mnist.test, TARGET_DIGITS);
        let curve_count = CURVE_TEST_DIGITS.min(target_test.len());
        let curve_test = subset(&target_test, &(0..curve_count).collect::<Vec<_>>());
        Ok(Self {
            queue,
            current: None,
            source,
            target_train: digit_group(&mnist.train, TARGET_DIGITS),
            target_test,
            curve_test,
            seed: request.seed,
            device: device.clone(),
            steps_done: 0,
            steps_total,
        })
    }

    /// Runs one training step, and the evaluations that fall on it. Returns true when every
    /// run is done.
    pub async fn advance(&mut self, emit: &mut dyn FnMut(FromWorker)) -> bool {
        if self.current.is_none() {
            let Some((budget, mode)) = self.queue.pop_front() else {
                return true;
            };
            let indices =
                budget_indices(&self.target_train.labels, TASK_CLASSES, budget, self.seed);
            let train = subset(&self.target_train, &indices);
            let train_digits = train.len();
            let run = TransferRun::new(
                mode,
                &self.source,
                train,
                TASK_CLASSES,
                self.seed,
                &self.device,
            );
            self.current = Some((budget, run, train_digits));
        }
        let Some((budget, run, train_digits)) = &mut self.current else {
            return true;
        };
        let (budget, train_digits) = (*budget, *train_digits);
        let loss = run.step();
        // Reading the loss waits for the step, so progress reflects work done.
        read_floats(loss).await;
        self.steps_done += 1;

        let steps = budget.steps();
        let curve_every = (steps / CURVE_POINTS).max(1);
        if run.step % curve_every == 0 || run.step == steps {
            let accuracy = self.evaluate(&self.curve_test).await;
            emit(FromWorker::TransferCurve {
                budget,
                mode: self.current_mode(),
                step: self.current_step(),
                accuracy,
                test_digits: self.curve_test.len(),
            });
        }
        if self.steps_done % PROGRESS_EVERY == 0 || self.current_step() == steps {
            emit(self.progress());
        }
        if self.current_step() >= steps {
            let accuracy = self.evaluate(&self.target_test).await;
            emit(FromWorker::TransferResult(TransferResult {
                budget,
                mode: self.current_mode(),
                seed: self.seed,
                accuracy,
                train_digits,
                test_digits: self.target_test.len(),
                steps,
            }));
            self.current = None;
        }
        self.current.is_none() && self.queue.is_empty()
    }

    fn current_mode(&self) -> TransferMode {
        self.current
            .as_ref()
            .map_or(TransferMode::Scratch, |(_, run, _)| run.mode)
    }

    fn current_step(&self) -> usize {
        self.current.as_ref().map_or(0, |(_, run, _)| run.step)
    }

    async fn evaluate(&self, digits: &Digits) -> f32 {
        let Some((_, run, _)) = &self.current else {
            return 0.0;
        };
        let model = run.model();
        let device = self.device.clone().inner();
        classifier_accuracy(&model, digits, EVALUATION_BATCH, &device).await
    }

    fn progress(&self) -> FromWorker {
        let activity = match &self.current {
            Some((budget, run, _)) => format!(
                "{}, {}, step {} of {}",
                run.mode.name(),
                budget.describe(),
                run.step,
                budget.steps()
            ),
            None => String::new(),
        };
        FromWorker::JobProgress {
            job: JobKind::Transfer,
            steps_done: self.steps_done,
            steps_total: self.steps_total,
            activity,
        }
    }
}

/// Fine-tuning on the visitor's drawn classes.
pub struct TeachJob {
    run: TransferRun,
    class_names: Vec<String>,
    examples: Digits,
}

impl TeachJob {
    /// Checks the request and prepares the run on `device` (an autodiff device) from the
    /// MNIST classifier `source`.
    pub fn new(
        request: &TeachRequest,
        source: &Classifier,
        device: &Device,
    ) -> Result<Self, String> {
        let classes = request.class_names.len();
        if !TEACH_CLASSES.contains(&classes) {
            return Err(format!(
                "teach between {} and {} classes, not {classes}",
                TEACH_CLASSES.start(),
                TEACH_CLASSES.end()
            ));
        }
        if request.examples.len() > MAX_EXAMPLES {
            return Err(format!(
                "too many examples ({}); the limit is {MAX_EXAMPLES}",
                request.examples.len()
            ));
        }
        for (class, name) in request.class_names.iter().enumerate() {
            if !request
                .examples
                .iter()
                .any(|example| example.class == class)
            {
                return Err(format!(
                    "class \"{name}\" has no examples: draw at least one"
                ));
            }
        }
        if let Some(example) = request
            .examples
            .iter()
            .find(|example| example.class >= classes)
        {
            return Err(format!(
                "an example names class {}, which does not exist",
                example.class
            ));
        }
        let pairs: Vec<(usize, &[u8])> = request
            .examples
            .iter()
            .map(|example| (example.class, example.pixels.as_slice()))
            .collect();
        let examples = drawn_digits(&pairs)?;
        let run = TransferRun::new(
            request.mode,
            source,
            examples.clone(),
            classes,
            request.seed,
            device,
        );
        Ok(Self {
            run,
            class_names: request.class_names.clone(),
            examples,
        })
    }

    /// Runs one step; after the last, sends the model. Returns true when done.
    pub async fn advance(&mut self, emit: &mut dyn FnMut(FromWorker)) -> bool {
        read_floats(self.run.step()).await;
        if self.run.step % PROGRESS_EVERY == 0 || self.run.step == TEACH_STEPS {
            emit(FromWorker::JobProgress {
                job: JobKind::Teach,
                steps_done: self.run.step,
                steps_total: TEACH_STEPS,
                activity: format!(
                    "{}, step {} of {TEACH_STEPS}",
                    self.run.mode.name(),
                    self.run.step
                ),
            });
        }
        if self.run.step < TEACH_STEPS {
            return false;
        }
        let model = self.run.model();
        let device = self.examples_device();
        let train_accuracy =
            classifier_accuracy(&model, &self.examples, EVALUATION_BATCH, &device).await;
        match weights::to_bytes(model) {
            Ok(bytes) => emit(FromWorker::TeachModel {
                class_names: self.class_names.clone(),
                mode: self.run.mode,
                weights: WeightBytes(bytes),
                train_accuracy,
                examples: self.examples.len(),
            }),
            Err(error) => emit(FromWorker::Error(format!(
                "could not send the trained model: {error}"
            ))),
        }
        true
    }

    fn examples_device(&self) -> Device {
        self.run.device().clone().inner()
    }
}

/// Few-shot GAN transfer: three runs on the same samples, stepped in turn.
pub struct GanTransferJob {
    runs: Vec<GanTransferRun>,
    next: usize,
    label: u8,
    /// The digit for digit targets, which the classifier can score.
    digit: Option<u8>,
    classifier: Classifier,
    grid_latent: Tensor<2>,
    inference: Device,
}

impl GanTransferJob {
    /// Prepares the three runs. `classifier` is the MNIST classifier and the source networks
    /// were pretrained on digits 0-4; `device` is an autodiff device.
    pub fn new(
        request: &GanTransferRequest,
        mnist: &Mnist,
        source: (&Generator, &Discriminator),
        classifier: Classifier,
        device: &Device,
    ) -> Result<Self, String> {
        let (samples, digit) = match &request.target {
            GanTarget::Digit { digit, samples } => {
                if !TARGET_DIGITS.contains(digit) {
                    return Err(format!(
                        "digit {digit} was in pretraining; pick one of 5 to 9"
                    ));
                }
                if !(1..=MAX_FEW_SHOT_SAMPLES).contains(samples) {
                    return Err(format!(
                        "{samples} samples: pick 1 to {MAX_FEW_SHOT_SAMPLES}"
                    ));
                }
                let digits = few_shot_digits(&mnist.train, *digit, *samples, request.seed);
                (digits, Some(*digit))
            }
            GanTarget::Drawn { name, examples } => {
                if examples.is_empty() {
                    return Err(format!("\"{name}\" has no examples: draw at least one"));
                }
                if examples.len() > MAX_EXAMPLES {
                    return Err(format!("too many examples; the limit is {MAX_EXAMPLES}"));
                }
                // The label is one the source GAN never trained on.
                let label = TARGET_DIGITS.start as usize;
                let pairs: Vec<(usize, &[u8])> = examples
                    .iter()
                    .map(|example| (label, example.as_slice()))
                    .collect();
                (drawn_digits(&pairs)?, None)
            }
        };
        let label = samples.labels[0];
        let runs = GanTransferSetting::ALL
            .iter()
            .map(|&setting| {
                GanTransferRun::new(setting, source, samples.clone(), request.seed, device)
            })
            .collect();
        let inference = device.clone().inner();
        let mut rng = SplitMix64::new(GAN_GRID_SEED);
        let grid_latent = latent_batch(
            GAN_TRANSFER_GRID,
            GanConfig::new().latent_dim,
            &mut rng,
            &inference,
        );
        Ok(Self {
            runs,
            next: 0,
            label,
            digit,
            classifier,
            grid_latent,
            inference,
        })
    }

    /// Returns the label that the few-shot samples carry in the GAN.
    pub fn label(&self) -> u8 {
        self.label
    }

    /// Steps the next run once; reports samples and quality when due. Returns true when all
    /// three runs have taken [`GAN_TRANSFER_STEPS`] steps.
    pub async fn advance(&mut self, emit: &mut dyn FnMut(FromWorker)) -> bool {
        let index = self.next;
        self.next = (self.next + 1) % self.runs.len();
        let run = &mut self.runs[index];
        let losses = run.step();
        read_floats(losses.discriminator).await;
        let (setting, step) = (run.setting, run.step);
        let samples_due = step == 1 || step % GAN_SAMPLES_EVERY == 0 || step == GAN_TRANSFER_STEPS;
        let quality_due =
            self.digit.is_some() && (step % GAN_QUALITY_EVERY == 0 || step == GAN_TRANSFER_STEPS);
        // The inference copy of the generator is only made on the steps that report.
        let generator = (samples_due || quality_due).then(|| run.generator());

        if let (true, Some(generator)) = (samples_due, &generator) {
            let labels =
                Tensor::<1, Int>::full([GAN_TRANSFER_GRID], self.label as i64, &self.inference);
            let images = generator.forward(self.grid_latent.clone(), labels);
            emit(FromWorker::GanTransferSamples {
                setting,
                step,
                pixels: images_to_bytes(images).await,
            });
        }
        if let (Some(digit), Some(generator)) = (self.digit.filter(|_| quality_due), &generator) {
            let label_accuracy = generated_label_accuracy(
                generator,
                &GanConfig::new(),
                &self.classifier,
                digit..digit + 1,
                GAN_QUALITY_SAMPLES,
                GAN_QUALITY_SEED,
                &self.inference,
            )
            .await;
            emit(FromWorker::GanTransferQuality {
                setting,
                step,
                label_accuracy,
                samples: GAN_QUALITY_SAMPLES,
            });
        }

        let steps_done: usize = self.runs.iter().map(|run| run.step).sum();
        let steps_total = GAN_TRANSFER_STEPS * self.runs.len();
        if steps_done % PROGRESS_EVERY == 0 || steps_done == steps_total {
            emit(FromWorker::JobProgress {
                job: JobKind::GanTransfer,
                steps_done,
                steps_total,
                activity: format!("step {step} of {GAN_TRANSFER_STEPS} per setting"),
            });
        }
        steps_done >= steps_total
    }
}

/// Steps of an inversion between two progress messages.
const INVERT_PROGRESS_EVERY: usize = 10;

/// GAN inversion of one drawing, reporting the best fit as it converges.
pub struct InvertJob {
    inversion: Inversion,
    /// The drawing and the pixels' weights in the fit, kept to blend the inpainting.
    inpainting: Option<(Vec<u8>, Vec<u8>)>,
}

impl InvertJob {
    /// Checks the request and prepares the inversion with the MNIST `generator` on `device`
    /// (an autodiff device).
    pub fn new(
        request: &InvertRequest,
        generator: &Generator,
        device: &Device,
    ) -> Result<Self, String> {
        if request.pixels.len() != IMAGE_PIXELS {
            return Err(format!(
                "the drawing has {} pixels, expected {IMAGE_PIXELS}",
                request.pixels.len()
            ));
        }
        if request.label as usize >= NUM_CLASSES {
            return Err(format!("{} is not a digit", request.label));
        }
        if let Some(known) = &request.known
            && known.len() != IMAGE_PIXELS
        {
            return Err(format!(
                "the mask has {} pixels, expected {IMAGE_PIXELS}",
                known.len()
            ));
        }
        let target: Vec<f32> = request
            .pixels
            .iter()
            .map(|&pixel| pixel_to_signed(pixel))
            .collect();
        let weights: Option<Vec<f32>> = request
            .known
            .as_ref()
            .map(|known| known.iter().map(|&weight| weight as f32 / 255.0).collect());
        let inversion = Inversion::new(
            generator,
            &target,
            weights.as_deref(),
            request.label,
            InversionConfig::new(),
            request.seed,
            device,
        );
        let inpainting = request
            .known
            .clone()
            .map(|known| (request.pixels.clone(), known));
        Ok(Self {
            inversion,
            inpainting,
        })
    }

    /// Runs one step; reports the best fit every few steps and after the last. Returns true
    /// when done.
    pub async fn advance(&mut self, emit: &mut dyn FnMut(FromWorker)) -> bool {
        read_floats(self.inversion.step()).await;
        let (step, steps) = (self.inversion.step, self.inversion.steps());
        let done = self.inversion.is_done();
        if step == 1 || step % INVERT_PROGRESS_EVERY == 0 || done {
            let fit = self.inversion.best().await;
            let reconstruction = signed_to_bytes(&fit.image);
            let filled = self
                .inpainting
                .as_ref()
                .map(|(drawing, known)| blend(drawing, &reconstruction, known));
            emit(FromWorker::InvertProgress(InvertProgress {
                step,
                steps,
                error: fit.error,
                latent: fit.latent,
                label: fit.label,
                reconstruction,
                filled,
                done,
            }));
            emit(FromWorker::JobProgress {
                job: JobKind::Invert,
                steps_done: step,
                steps_total: steps,
                activity: format!("step {step} of {steps}"),
            });
        }
        done
    }
}

/// Blends two images byte by byte: `known` (255 = all `drawing`, 0 = all `generated`).
fn blend(drawing: &[u8], generated: &[u8], known: &[u8]) -> Vec<u8> {
    drawing
        .iter()
        .zip(generated)
        .zip(known)
        .map(|((&drawn, &generated), &known)| {
            let weight = known as f32 / 255.0;
            (drawn as f32 * weight + generated as f32 * (1.0 - weight)).round() as u8
        })
        .collect()
}

/// Converts pixels in [-1, 1] to bytes (255 = ink).
pub fn signed_to_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .map(|&value| ((value + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8)
        .collect()
}

/// The job in progress: a transfer-lab job or a GAN inversion.
pub enum Job {
    Transfer(TransferJob),
    Teach(TeachJob),
    GanTransfer(GanTransferJob),
    Invert(InvertJob),
}

impl Job {
    pub fn kind(&self) -> JobKind {
        match self {
            Self::Transfer(_) => JobKind::Transfer,
            Self::Teach(_) => JobKind::Teach,
            Self::GanTransfer(_) => JobKind::GanTransfer,
            Self::Invert(_) => JobKind::Invert,
        }
    }

    /// Advances the job by one training step; returns true when it is done.
    pub async fn advance(&mut self, emit: &mut dyn FnMut(FromWorker)) -> bool {
        match self {
            Self::Transfer(job) => job.advance(emit).await,
            Self::Teach(job) => job.advance(emit).await,
            Self::GanTransfer(job) => job.advance(emit).await,
            Self::Invert(job) => job.advance(emit).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_SIDE;
    use crate::model::ClassifierConfig;
    use crate::protocol::DrawnExample;
    use crate::transfer::TransferMode;

    /// Noise images: `per_digit` of each digit 0-9.
    fn noise_digits(per_digit: usize, seed: u64) -> Digits {
        let mut rng = SplitMix64::new(seed);
        let labels: Vec<u8> = (0..10 * per_digit).map(|i| (i % 10) as u8).collect();
        let pixels = (0..labels.len() * IMAGE_PIXELS)
            .map(|_| (rng.below(4) * 85) as u8)
            .collect();
        Digits::new(labels, pixels).unwrap()
    }

    fn noise_mnist() -> Mnist {
        Mnist {
            train: noise_digits(12, 1),
            test: noise_digits(3, 2),
        }
    }

    /// Advances `job` until it reports done; returns the messages and the number of calls.
    fn run_to_end(job: &mut Job, limit: usize) -> (Vec<FromWorker>, usize) {
        let mut messages = Vec::new();
        for call in 1..=limit {
            let done = pollster::block_on(job.advance(&mut |message| messages.push(message)));
            if done {
                return (messages, call);
            }
        }
        panic!("the job did not finish in {limit} steps");
    }

    #[test]
    fn invert_job_blends_the_inpainting() {
        let device = Device::flex();
        let generator = GanConfig::new().init_generator(&device);
        let pixels: Vec<u8> = (0..IMAGE_PIXELS).map(|i| (i % 256) as u8).collect();
        // The left half is fitted, the right half masked.
        let known: Vec<u8> = (0..IMAGE_PIXELS)
            .map(|i| if i % IMAGE_SIDE < 14 { 255 } else { 0 })
            .collect();
        let mut request = InvertRequest {
            pixels: pixels.clone(),
            label: 3,
            seed: 1,
            known: Some(vec![255; 10]),
        };
        let autodiff = device.clone().autodiff();
        let rejected = InvertJob::new(&request, &generator, &autodiff).err();
        assert_eq!(
            rejected.as_deref(),
            Some("the mask has 10 pixels, expected 784")
        );

        request.known = Some(known.clone());
        let job = InvertJob::new(&request, &generator, &autodiff).unwrap();
        let (messages, _) = run_to_end(&mut Job::Invert(job), 1_000);
        let last = messages
            .iter()
            .rev()
            .find_map(|message| match message {
                FromWorker::InvertProgress(progress) => Some(progress),
                _ => None,
            })
            .expect("the job sends the inversion's progress");
        assert!(last.done);
        let filled = last
            .filled
            .as_ref()
            .expect("an inpainting sends the filled drawing");
        for index in 0..IMAGE_PIXELS {
            let expected = if known[index] == 255 {
                pixels[index]
            } else {
                last.reconstruction[index]
            };
            assert_eq!(filled[index], expected, "pixel {index}");
        }
    }

    #[test]
    fn transfer_job_reports_each_run() {
        let device = Device::flex();
        let source = ClassifierConfig::new()
            .with_classes(TASK_CLASSES)
            .init(&device);
        let request = TransferRequest {
            budgets: vec![LabelBudget::PerClass(1)],
            modes: vec![TransferMode::Frozen, TransferMode::FineTune],
            seed: 4,
        };
        let job =
            TransferJob::new(&request, &noise_mnist(), source, &device.clone().autodiff()).unwrap();
        let (messages, calls) = run_to_end(&mut Job::Transfer(job), 1_000);
        assert_eq!(calls, 2 * LabelBudget::PerClass(1).steps());

        let results: Vec<&TransferResult> = messages
            .iter()
            .filter_map(|message| match message {
                FromWorker::TransferResult(result) => Some(result),
                _ => None,
            })
            .collect();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0].mode, TransferMode::Frozen);
        assert_eq!(results[1].mode, TransferMode::FineTune);
        // One digit of each of the five target classes; three test digits of each.
        assert_eq!(results[0].train_digits, 5);
        assert_eq!(results[0].test_digits, 15);
        let curve_points = messages
            .iter()
            .filter(|message| matches!(message, FromWorker::TransferCurve { .. }))
            .count();
        assert_eq!(curve_points, 2 * CURVE_POINTS);
        let last_progress = messages.iter().rev().find_map(|message| match message {
            FromWorker::JobProgress {
                steps_done,
                steps_total,
                ..
            } => Some((*steps_done, *steps_total)),
            _ => None,
        });
        assert_eq!(last_progress, Some((calls, calls)));
    }

    #[test]
    fn transfer_job_rejects_empty_requests() {
        let device = Device::flex();
        let source = ClassifierConfig::new()
            .with_classes(TASK_CLASSES)
            .init(&device);
        let request = TransferRequest {
            budgets: vec![],
            modes: vec![TransferMode::Frozen],
            seed: 1,
        };
        let result = TransferJob::new(&request, &noise_mnist(), source, &device.autodiff());
        assert!(result.is_err());
    }

    fn teach_request(examples_per_class: &[usize]) -> TeachRequest {
        let class_names = (0..examples_per_class.len())
            .map(|class| format!("shape {class}"))
            .collect();
        let examples = examples_per_class
            .iter()
            .enumerate()
            .flat_map(|(class, &count)| {
                (0..count).map(move |index| DrawnExample {
                    class,
                    pixels: vec![(index * 40 + class * 90) as u8; IMAGE_PIXELS],
                })
            })
            .collect();
        TeachRequest {
            class_names,
            examples,
            mode: TransferMode::Frozen,
            seed: 1,
        }
    }

    fn teach_error(request: &TeachRequest) -> String {
        let device = Device::flex();
        let source = ClassifierConfig::new().init(&device);
        match TeachJob::new(request, &source, &device.autodiff()) {
            Ok(_) => panic!("the request should be rejected"),
            Err(error) => error,
        }
    }

    #[test]
    fn teach_job_rejects_invalid_requests() {
        assert!(teach_error(&teach_request(&[2])).contains("between 2 and 5 classes"));
        assert!(teach_error(&teach_request(&[2, 2, 2, 2, 2, 2])).contains("not 6"));
        assert_eq!(
            teach_error(&teach_request(&[2, 0])),
            "class \"shape 1\" has no examples: draw at least one"
        );
        let mut short = teach_request(&[1, 1]);
        short.examples[0].pixels.truncate(10);
        assert!(teach_error(&short).contains("has 10 pixels"));
        let mut stray = teach_request(&[2, 1]);
        stray.examples[0].class = 7;
        assert!(teach_error(&stray).contains("class 7"));
    }

    #[test]
    fn teach_job_sends_a_loadable_model() {
        let device = Device::flex();
        let source = ClassifierConfig::new().init(&device);
        let job =
            TeachJob::new(&teach_request(&[3, 3]), &source, &device.clone().autodiff()).unwrap();
        let (messages, calls) = run_to_end(&mut Job::Teach(job), 1_000);
        assert_eq!(calls, TEACH_STEPS);
        let model = messages.iter().find_map(|message| match message {
            FromWorker::TeachModel {
                weights,
                class_names,
                examples,
                ..
            } => Some((weights.0.clone(), class_names.len(), *examples)),
            _ => None,
        });
        let (bytes, classes, examples) = model.expect("a TeachModel message");
        assert_eq!(classes, 2);
        assert_eq!(examples, 6);
        let empty = ClassifierConfig::new().with_classes(2).init(&device);
        assert!(weights::load(empty, bytes, "teach-it classifier").is_ok());
    }

    fn gan_job(target: GanTarget) -> Result<GanTransferJob, String> {
        let device = Device::flex();
        let config = GanConfig::new();
        let generator = config.init_generator(&device);
        let discriminator = config.init_discriminator(&device);
        let request = GanTransferRequest { target, seed: 2 };
        GanTransferJob::new(
            &request,
            &noise_mnist(),
            (&generator, &discriminator),
            ClassifierConfig::new().init(&device),
            &device.autodiff(),
        )
    }

    #[test]
    fn gan_job_rejects_source_digits() {
        let error = gan_job(GanTarget::Digit {
            digit: 3,
            samples: 10,
        });
        assert!(error.err().unwrap().contains("digit 3 was in pretraining"));
    }

    #[test]
    fn gan_job_rejects_zero_samples() {
        let error = gan_job(GanTarget::Digit {
            digit: 7,
            samples: 0,
        });
        assert!(error.err().unwrap().contains("0 samples"));
    }

    #[test]
    fn gan_job_steps_settings_in_turn() {
        let mut job = gan_job(GanTarget::Digit {
            digit: 7,
            samples: 5,
        })
        .unwrap();
        assert_eq!(job.label(), 7);
        let mut messages = Vec::new();
        for _ in 0..3 {
            let done = pollster::block_on(job.advance(&mut |message| messages.push(message)));
            assert!(!done);
        }
        let settings: Vec<GanTransferSetting> = messages
            .iter()
            .filter_map(|message| match message {
                FromWorker::GanTransferSamples {
                    setting, pixels, ..
                } => {
                    assert_eq!(pixels.len(), GAN_TRANSFER_GRID * IMAGE_PIXELS);
                    Some(*setting)
                }
                _ => None,
            })
            .collect();
        assert_eq!(settings, GanTransferSetting::ALL.to_vec());
    }

    #[test]
    fn gan_job_labels_drawings_with_an_unseen_label() {
        let job = gan_job(GanTarget::Drawn {
            name: "star".into(),
            examples: vec![vec![200; IMAGE_PIXELS]; 3],
        })
        .unwrap();
        assert_eq!(job.label(), TARGET_DIGITS.start);
        let empty = gan_job(GanTarget::Drawn {
            name: "star".into(),
            examples: vec![],
        });
        assert!(empty.err().unwrap().contains("\"star\" has no examples"));
    }
}
