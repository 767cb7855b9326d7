//! A GAN training run on one device: the trainer, its data stream, the fixed latents of the
//! sample grid and the classifier that scores generated digits. Every read is async, so the
//! same run works natively and on WebGPU in the browser.

use burn::prelude::*;

use crate::data::{ALL_DIGITS, BatchSampler, Digits, IMAGE_PIXELS, NUM_CLASSES, SplitMix64};
use crate::evaluate::{generated_label_accuracy, read_floats};
use crate::model::{Classifier, Discriminator, GanConfig, Generator};
use crate::training::{GanTrainer, GanTrainingConfig, latent_batch, shifted_batch};

/// Rows of the sample grid, one fixed latent vector each.
pub const GRID_ROWS: usize = 6;
/// Seed of the sample grid's latents, fixed so the grid shows the same "handwriting" per row
/// as training goes.
const GRID_SEED: u64 = 42;
/// Seed of the latents used to measure label accuracy.
const QUALITY_SEED: u64 = 7;

/// Losses of one step, read back from the device.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLosses {
    pub discriminator: f32,
    pub generator: f32,
}

/// A GAN training run.
pub struct GanSession {
    trainer: GanTrainer,
    classifier: Classifier,
    sampler: BatchSampler,
    rng: SplitMix64,
    grid_latent: Tensor<2>,
    grid_labels: Tensor<1, Int>,
    /// The autodiff device that training runs on.
    device: Device,
    /// The same device without autodiff, for sampling and evaluation.
    inference_device: Device,
    pub steps: u64,
}

/// Converts `[batch, 1, 28, 28]` images in [-1, 1] to greyscale bytes (255 = ink).
pub async fn images_to_bytes(images: Tensor<4>) -> Vec<u8> {
    read_floats(images)
        .await
        .into_iter()
        .map(|value| ((value + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8)
        .collect()
}

impl GanSession {
    /// Prepares a run on `device` (an autodiff device). `networks` continues from given
    /// networks (the shipped weights); `None` starts from scratch. The classifier scores
    /// generated digits and must live on `device` without autodiff.
    pub fn new(
        device: &Device,
        config: GanConfig,
        networks: Option<(Generator, Discriminator)>,
        classifier: Classifier,
        train_len: usize,
        seed: u64,
    ) -> Self {
        let (generator, discriminator) = networks.unwrap_or_else(|| {
            (
                config.init_generator(device),
                config.init_discriminator(device),
            )
        });
        let inference_device = device.clone().inner();
        let mut grid_rng = SplitMix64::new(GRID_SEED);
        let rows: Vec<Tensor<2>> = (0..GRID_ROWS)
            .map(|_| {
                latent_batch(1, config.latent_dim, &mut grid_rng, &inference_device)
                    .repeat_dim(0, NUM_CLASSES)
            })
            .collect();
        let labels: Vec<i64> = (0..GRID_ROWS * NUM_CLASSES)
            .map(|i| (i % NUM_CLASSES) as i64)
            .collect();
        Self {
            trainer: GanTrainer::new(generator, discriminator, config, GanTrainingConfig::new()),
            classifier: classifier.valid(),
            sampler: BatchSampler::new(train_len, seed),
            rng: SplitMix64::new(seed.wrapping_add(1)),
            grid_latent: Tensor::cat(rows, 0),
            grid_labels: Tensor::<1, Int>::from_ints(labels.as_slice(), &inference_device),
            device: device.clone(),
            inference_device,
            steps: 0,
        }
    }

    /// Runs one training step on a batch from `train` and reads both losses back in one
    /// transfer, so WebGPU waits for the device once per step.
    pub async fn step(&mut self, train: &Digits) -> StepLosses {
        let indices = self.sampler.next_batch(self.trainer.config.batch_size);
        let (images, labels) = shifted_batch(train, &indices, 0, &mut self.rng, &self.device);
        let losses = self.trainer.step(images, labels, &mut self.rng);
        self.steps += 1;

        let both = Tensor::cat(vec![losses.discriminator, losses.generator], 0);
        let values = read_floats(both).await;
        StepLosses {
            discriminator: values[0],
            generator: values[1],
        }
    }

    /// Generates the sample grid: `GRID_ROWS` rows of digits 0-9, as greyscale bytes.
    pub async fn grid(&self) -> Vec<u8> {
        let generator = self.trainer.generator.valid();
        let images = generator.forward(self.grid_latent.clone(), self.grid_labels.clone());
        let pixels = images_to_bytes(images).await;
        debug_assert_eq!(pixels.len(), GRID_ROWS * NUM_CLASSES * IMAGE_PIXELS);
        pixels
    }

    /// Measures the fraction of `per_class` generated digits per class that the classifier
    /// reads as their label.
    pub async fn label_accuracy(&self, per_class: usize) -> f32 {
        let generator = self.trainer.generator.valid();
        generated_label_accuracy(
            &generator,
            &self.trainer.model_config,
            &self.classifier,
            ALL_DIGITS,
            per_class,
            QUALITY_SEED,
            &self.inference_device,
        )
        .await
    }
}
