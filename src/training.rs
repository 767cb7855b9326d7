//! Training steps for the classifier and the conditional GAN, written by hand because burn-train's
//! `Learner` does not run on wasm. A step only queues tensor work and returns detached loss
//! tensors. Callers read them with `into_data_async`, which WebGPU in the browser requires, so
//! the same code drives the native CLI, the tests and the in-tab worker.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::ModuleOptimizer;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::softplus;
use serde::{Deserialize, Serialize};

use crate::data::{Digits, IMAGE_PIXELS, IMAGE_SIDE, SplitMix64, pixel_to_signed};
use crate::model::{Classifier, Discriminator, GanConfig, Generator};

/// Classifier optimisation settings.
#[derive(Config, Debug)]
pub struct ClassifierTrainingConfig {
    /// Adam learning rate.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Images per step.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Largest random shift, in pixels, applied to each training image on both axes; it makes
    /// the classifier robust to the imperfect centring of drawn digits.
    #[config(default = 2)]
    pub max_shift: usize,
    /// Training of the feature extractor (everything below the head).
    #[config(default = "BackboneTraining::Train { learning_rate_scale: 1.0 }")]
    pub backbone: BackboneTraining,
}

/// The treatment of the feature extractor below the head in a classifier step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum BackboneTraining {
    /// Trains it at the head's learning rate times `learning_rate_scale`.
    Train { learning_rate_scale: f64 },
    /// Runs it in inference mode without gradients, so its weights and batch-norm statistics
    /// stay bit-identical and only the head learns.
    Frozen,
}

/// GAN optimisation settings, with the DCGAN paper's Adam values as defaults.
#[derive(Config, Debug)]
pub struct GanTrainingConfig {
    /// Adam learning rate of the generator.
    #[config(default = 2e-4)]
    pub generator_learning_rate: f64,
    /// Adam learning rate of the discriminator.
    #[config(default = 2e-4)]
    pub discriminator_learning_rate: f64,
    /// Adam beta 1; 0.5 rather than 0.9 keeps adversarial training stable.
    #[config(default = 0.5)]
    pub beta_1: f32,
    /// Real images per step (the same number of generated images is scored).
    #[config(default = 64)]
    pub batch_size: usize,
    /// Keeps the discriminator's input layer fixed (FreezeD, Mo et al. 2020, "Freeze the
    /// Discriminator: a Simple Baseline for Fine-Tuning GANs"); the layers above it train.
    #[config(default = false)]
    pub freeze_discriminator_input: bool,
}

/// Builds a `[batch, 1, 28, 28]` tensor from digits, each shifted by a random offset in
/// `-max_shift..=max_shift` on both axes (pixels shifted in are background).
pub fn shifted_batch(
    digits: &Digits,
    indices: &[usize],
    max_shift: usize,
    rng: &mut SplitMix64,
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let background = pixel_to_signed(0);
    let mut pixels = vec![background; indices.len() * IMAGE_PIXELS];
    let mut labels = Vec::with_capacity(indices.len());
    let span = 2 * max_shift + 1;
    for (slot, &index) in indices.iter().enumerate() {
        let dx = rng.below(span) as isize - max_shift as isize;
        let dy = rng.below(span) as isize - max_shift as isize;
        let source = digits.image(index);
        let target = &mut pixels[slot * IMAGE_PIXELS..(slot + 1) * IMAGE_PIXELS];
        for y in 0..IMAGE_SIDE as isize {
            for x in 0..IMAGE_SIDE as isize {
                let (sx, sy) = (x - dx, y - dy);
                if (0..IMAGE_SIDE as isize).contains(&sx) && (0..IMAGE_SIDE as isize).contains(&sy)
                {
                    target[(y * IMAGE_SIDE as isize + x) as usize] =
                        pixel_to_signed(source[(sy * IMAGE_SIDE as isize + sx) as usize]);
                }
            }
        }
        labels.push(digits.labels[index] as i64);
    }
    let images = Tensor::<1>::from_floats(pixels.as_slice(), device).reshape([
        indices.len(),
        1,
        IMAGE_SIDE,
        IMAGE_SIDE,
    ]);
    (
        images,
        Tensor::<1, Int>::from_ints(labels.as_slice(), device),
    )
}

/// Returns a `[rows, dim]` tensor of standard normal samples drawn on the host, so a seed gives
/// the same latents on every backend.
pub fn latent_batch(rows: usize, dim: usize, rng: &mut SplitMix64, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = (0..rows * dim).map(|_| rng.normal()).collect();
    Tensor::<1>::from_floats(values.as_slice(), device).reshape([rows, dim])
}

/// A classifier with one optimiser for the head and one for the feature extractor, so the two
/// can train at different learning rates.
pub struct ClassifierTrainer {
    pub model: Classifier,
    pub config: ClassifierTrainingConfig,
    head_optimizer: ModuleOptimizer,
    backbone_optimizer: ModuleOptimizer,
}

impl ClassifierTrainer {
    /// Wraps a model that lives on an autodiff device.
    pub fn new(model: Classifier, config: ClassifierTrainingConfig) -> Self {
        Self {
            model,
            config,
            head_optimizer: AdamConfig::new().init(),
            backbone_optimizer: AdamConfig::new().init(),
        }
    }

    /// Runs one optimisation step; returns the batch's mean cross-entropy.
    pub fn step(&mut self, images: Tensor<4>, labels: Tensor<1, Int>) -> Tensor<1> {
        let logits = match self.config.backbone {
            BackboneTraining::Frozen => {
                let features = self.model.valid().features(images.inner());
                self.model.classify_features(Tensor::from_inner(features))
            }
            BackboneTraining::Train { .. } => self.model.forward(images),
        };
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits, labels);

        let mut gradients = loss.backward();
        let head_ids = self.model.head_param_ids();
        let head_grads = GradientsParams::from_params(&mut gradients, &self.model, &head_ids);
        let learning_rate = self.config.learning_rate;
        let model = self
            .head_optimizer
            .step(learning_rate, self.model.clone(), head_grads);
        self.model = match self.config.backbone {
            BackboneTraining::Frozen => model,
            BackboneTraining::Train {
                learning_rate_scale,
            } => {
                let backbone_grads = GradientsParams::from_grads(gradients, &model);
                self.backbone_optimizer.step(
                    learning_rate * learning_rate_scale,
                    model,
                    backbone_grads,
                )
            }
        };
        loss.detach()
    }
}

/// Losses of one GAN step.
pub struct GanLosses {
    /// Discriminator loss: `softplus(-D(real)) + softplus(D(fake))`, batch means.
    pub discriminator: Tensor<1>,
    /// Non-saturating generator loss: `softplus(-D(G(z)))`, batch mean.
    pub generator: Tensor<1>,
}

/// A conditional GAN with one optimiser per network.
pub struct GanTrainer {
    pub generator: Generator,
    pub discriminator: Discriminator,
    pub model_config: GanConfig,
    pub config: GanTrainingConfig,
    generator_optimizer: ModuleOptimizer,
    discriminator_optimizer: ModuleOptimizer,
}

impl GanTrainer {
    /// Wraps networks that live on an autodiff device.
    pub fn new(
        generator: Generator,
        discriminator: Discriminator,
        model_config: GanConfig,
        config: GanTrainingConfig,
    ) -> Self {
        let adam = AdamConfig::new().with_beta_1(config.beta_1);
        Self {
            generator,
            discriminator,
            model_config,
            generator_optimizer: adam.init(),
            discriminator_optimizer: adam.init(),
            config,
        }
    }

    /// Runs one discriminator step and one generator step on a batch of real images. The
    /// generated images use the real batch's labels and latents drawn from `rng`.
    pub fn step(
        &mut self,
        real: Tensor<4>,
        labels: Tensor<1, Int>,
        rng: &mut SplitMix64,
    ) -> GanLosses {
        let device = real.device();
        let [batch, ..] = real.dims();
        let latent_dim = self.model_config.latent_dim;

        let fake = self
            .generator
            .forward(
                latent_batch(batch, latent_dim, rng, &device),
                labels.clone(),
            )
            .detach();
        let real_logits = self.discriminator.forward(real, labels.clone());
        let fake_logits = self.discriminator.forward(fake, labels.clone());
        let discriminator_loss =
            softplus(real_logits.neg(), 1.0).mean() + softplus(fake_logits, 1.0).mean();
        let mut gradients = discriminator_loss.backward();
        if self.config.freeze_discriminator_input {
            // Taking the input layer's gradients out leaves the optimiser nothing to apply there.
            GradientsParams::from_module(&mut gradients, self.discriminator.input_layer());
        }
        let grads = GradientsParams::from_grads(gradients, &self.discriminator);
        self.discriminator = self.discriminator_optimizer.step(
            self.config.discriminator_learning_rate,
            self.discriminator.clone(),
            grads,
        );

        let fake = self.generator.forward(
            latent_batch(batch, latent_dim, rng, &device),
            labels.clone(),
        );
        let generator_loss = softplus(self.discriminator.forward(fake, labels).neg(), 1.0).mean();
        let grads = GradientsParams::from_grads(generator_loss.backward(), &self.generator);
        self.generator = self.generator_optimizer.step(
            self.config.generator_learning_rate,
            self.generator.clone(),
            grads,
        );

        GanLosses {
            discriminator: discriminator_loss.detach(),
            generator: generator_loss.detach(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ClassifierConfig;

    fn fixed_digits(count: usize) -> Digits {
        let mut rng = SplitMix64::new(3);
        let labels = (0..count).map(|i| (i % 10) as u8).collect();
        let pixels = (0..count * IMAGE_PIXELS)
            .map(|_| (rng.below(4) * 85) as u8)
            .collect();
        Digits::new(labels, pixels).unwrap()
    }

    fn read(loss: Tensor<1>) -> f32 {
        loss.into_data().try_into_vec_as::<f32>().unwrap()[0]
    }

    /// Returns a fixed batch of 16 noise images with labels 0-9, and the RNG for latents.
    fn fixed_batch(device: &Device) -> (Tensor<4>, Tensor<1, Int>, SplitMix64) {
        let indices: Vec<usize> = (0..16).collect();
        let mut rng = SplitMix64::new(1);
        let (images, labels) = shifted_batch(&fixed_digits(16), &indices, 0, &mut rng, device);
        (images, labels, rng)
    }

    /// Runs 11 GAN steps on the fixed batch; returns the first and last losses, D then G.
    fn gan_losses(config: GanTrainingConfig) -> ([f32; 2], [f32; 2]) {
        let device = Device::flex().autodiff();
        let (images, labels, mut rng) = fixed_batch(&device);
        let model_config = GanConfig::new();
        let mut trainer = GanTrainer::new(
            model_config.init_generator(&device),
            model_config.init_discriminator(&device),
            model_config,
            config,
        );
        let mut step = || {
            let losses = trainer.step(images.clone(), labels.clone(), &mut rng);
            [read(losses.discriminator), read(losses.generator)]
        };
        let first = step();
        let mut last = first;
        for _ in 0..10 {
            last = step();
        }
        (first, last)
    }

    #[test]
    fn classifier_steps_lower_loss_on_fixed_batch() {
        let device = Device::flex().autodiff();
        let (images, labels, _) = fixed_batch(&device);
        let model = ClassifierConfig::new().with_dropout(0.0).init(&device);
        let mut trainer = ClassifierTrainer::new(model, ClassifierTrainingConfig::new());
        let first = read(trainer.step(images.clone(), labels.clone()));
        let mut last = first;
        for _ in 0..10 {
            last = read(trainer.step(images.clone(), labels.clone()));
        }
        assert!(last < first * 0.5, "loss went from {first} to {last}");
    }

    #[test]
    fn gan_discriminator_learns_fixed_batch() {
        let frozen_generator = GanTrainingConfig::new().with_generator_learning_rate(0.0);
        let ([first, _], [last, _]) = gan_losses(frozen_generator);
        assert!(
            last < first * 0.5,
            "discriminator loss went from {first} to {last}"
        );
    }

    #[test]
    fn gan_generator_step_lowers_generator_loss() {
        let frozen_discriminator = GanTrainingConfig::new()
            .with_discriminator_learning_rate(0.0)
            .with_generator_learning_rate(1e-3);
        let ([_, first], [_, last]) = gan_losses(frozen_discriminator);
        assert!(last < first, "generator loss went from {first} to {last}");
    }

    #[test]
    fn shifted_batch_moves_pixels() {
        let device = Device::flex();
        let mut pixels = vec![0u8; IMAGE_PIXELS];
        pixels[14 * IMAGE_SIDE + 14] = 255;
        let digits = Digits::new(vec![1], pixels).unwrap();
        let mut rng = SplitMix64::new(9);
        let (images, _) = shifted_batch(&digits, &[0], 2, &mut rng, &device);
        let values = images.into_data().try_into_vec_as::<f32>().unwrap();
        let lit: Vec<usize> = (0..IMAGE_PIXELS).filter(|&i| values[i] > 0.0).collect();
        assert_eq!(lit.len(), 1);
        let (x, y) = (lit[0] % IMAGE_SIDE, lit[0] / IMAGE_SIDE);
        assert!(x.abs_diff(14) <= 2, "x moved to {x}");
        assert!(y.abs_diff(14) <= 2, "y moved to {y}");
    }
}
