//! Editing with the conditional GAN. GAN inversion finds a latent vector whose generated image
//! matches a drawing, optionally only where a mask allows (inpainting). The found latent then
//! renders the drawing's style as another digit, or as nearby variations.

use burn::module::Param;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use crate::data::{IMAGE_PIXELS, NUM_CLASSES, SplitMix64};
use crate::evaluate::read_floats;
use crate::model::{GanConfig, Generator};
use crate::training::latent_batch;

/// Inversion settings.
#[derive(Config, Debug)]
pub struct InversionConfig {
    /// Adam steps.
    #[config(default = 200)]
    pub steps: usize,
    /// Random starting points optimised together; the best fit wins.
    #[config(default = 8)]
    pub restarts: usize,
    /// Adam learning rate on the latent vector.
    #[config(default = 0.05)]
    pub learning_rate: f64,
    /// Weight of the mean squared latent in the loss, which keeps z near the prior N(0, I)
    /// so that edits of the found latent stay on digits.
    #[config(default = 1e-3)]
    pub prior_weight: f64,
}

/// The latent vectors being optimised, as a module so that burn's optimisers can update them.
#[derive(Module, Debug)]
struct Latents {
    z: Param<Tensor<2>>,
}

/// A GAN inversion in progress: Adam on `restarts` latent vectors, generator frozen.
pub struct Inversion {
    generator: Generator,
    latents: Latents,
    optimizer: ModuleOptimizer,
    config: InversionConfig,
    /// `[restarts, 784]` copies of the target in [-1, 1].
    target: Tensor<2>,
    /// `[restarts, 784]` weights of each pixel in the error: 1 fitted, 0 ignored.
    mask: Tensor<2>,
    labels: Tensor<1, Int>,
    label: u8,
    /// Steps taken so far.
    pub step: usize,
}

/// The best fit of an inversion.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    pub latent: Vec<f32>,
    pub label: u8,
    /// Mean squared error over the fitted pixels, in the [-1, 1] pixel scale.
    pub error: f32,
    /// The generated image of `latent`, 784 values in [-1, 1].
    pub image: Vec<f32>,
}

impl Inversion {
    /// Prepares the inversion of `target` (784 pixels in [-1, 1]) as digit `label`. `mask`
    /// (784 weights) limits the fit to the pixels with weight 1; `None` fits every pixel.
    /// `device` must be an autodiff device; the generator may live anywhere.
    ///
    /// # Panics
    /// Panics if `target` or `mask` do not have 784 values or `label` is not a digit.
    pub fn new(
        generator: &Generator,
        target: &[f32],
        mask: Option<&[f32]>,
        label: u8,
        config: InversionConfig,
        seed: u64,
        device: &Device,
    ) -> Self {
        assert_eq!(target.len(), IMAGE_PIXELS, "the target must be 28x28");
        assert!(
            (label as usize) < NUM_CLASSES,
            "label {label} is not a digit"
        );
        let restarts = config.restarts.max(1);
        // A validation copy: no parameter gradients, batch norm on its running statistics.
        let generator = generator.valid().fork(device);
        let mut rng = SplitMix64::new(seed);
        let start = latent_batch(restarts, GanConfig::new().latent_dim, &mut rng, device);
        let latents = Latents {
            z: Param::from_tensor(start),
        };
        let ones = vec![1.0; IMAGE_PIXELS];
        let mask = mask.unwrap_or(&ones);
        assert_eq!(mask.len(), IMAGE_PIXELS, "the mask must be 28x28");
        let rows = |values: &[f32]| {
            Tensor::<1>::from_floats(values, device)
                .reshape([1, IMAGE_PIXELS])
                .repeat_dim(0, restarts)
        };
        Self {
            generator,
            latents,
            optimizer: AdamConfig::new().init(),
            target: rows(target),
            mask: rows(mask),
            labels: Tensor::<1, Int>::full([restarts], label as i64, device),
            label,
            config,
            step: 0,
        }
    }

    /// Runs one Adam step; returns each restart's masked mean squared error (detached).
    pub fn step(&mut self) -> Tensor<1> {
        let restarts = self.target.dims()[0];
        let z = self.latents.z.val();
        let images = self
            .generator
            .forward(z.clone(), self.labels.clone())
            .reshape([restarts, IMAGE_PIXELS]);
        let errors = self.masked_errors(images);
        let prior = z.powi_scalar(2).mean();
        let loss = errors.clone().sum() + prior * self.config.prior_weight;
        let grads = GradientsParams::from_grads(loss.backward(), &self.latents);
        self.latents = self
            .optimizer
            .step(self.config.learning_rate, self.latents.clone(), grads);
        self.step += 1;
        errors.detach()
    }

    /// Mean squared error of each row over the fitted pixels.
    fn masked_errors(&self, images: Tensor<2>) -> Tensor<1> {
        let weight = self.mask.clone().sum_dim(1).clamp_min(1.0);
        let squared = (images - self.target.clone()).powi_scalar(2) * self.mask.clone();
        (squared.sum_dim(1) / weight).flatten(0, 1)
    }

    /// Number of steps the inversion runs.
    pub fn steps(&self) -> usize {
        self.config.steps
    }

    /// Returns true once the configured number of steps has run.
    pub fn is_done(&self) -> bool {
        self.step >= self.config.steps
    }

    /// Returns the restart that fits best now.
    pub async fn best(&self) -> Fit {
        let restarts = self.target.dims()[0];
        let z = self.latents.z.val().detach();
        let images = self
            .generator
            .forward(z.clone(), self.labels.clone())
            .reshape([restarts, IMAGE_PIXELS]);
        let errors = read_floats(self.masked_errors(images.clone())).await;
        let (index, error) = errors
            .iter()
            .copied()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, f32::INFINITY));
        let dim = z.dims()[1];
        let latents = read_floats(z).await;
        let pixels = read_floats(images).await;
        Fit {
            latent: latents[index * dim..(index + 1) * dim].to_vec(),
            label: self.label,
            error,
            image: pixels[index * IMAGE_PIXELS..(index + 1) * IMAGE_PIXELS].to_vec(),
        }
    }
}

/// Renders one latent vector as each of `labels`, `[labels.len(), 1, 28, 28]` in [-1, 1].
/// The generator should be in inference mode.
pub fn render(generator: &Generator, latent: &[f32], labels: &[u8], device: &Device) -> Tensor<4> {
    let count = labels.len();
    let dim = latent.len();
    let z = Tensor::<1>::from_floats(latent, device)
        .reshape([1, dim])
        .repeat_dim(0, count);
    let labels: Vec<i64> = labels.iter().map(|&label| label as i64).collect();
    generator.forward(z, Tensor::<1, Int>::from_ints(labels.as_slice(), device))
}

/// Renders several latent vectors of the same length as one digit `label`,
/// `[latents.len(), 1, 28, 28]` in [-1, 1]. The generator should be in inference mode.
pub fn render_latents(
    generator: &Generator,
    latents: &[Vec<f32>],
    label: u8,
    device: &Device,
) -> Tensor<4> {
    let count = latents.len();
    let dim = latents.first().map_or(0, Vec::len);
    let values: Vec<f32> = latents.concat();
    let z = Tensor::<1>::from_floats(values.as_slice(), device).reshape([count, dim]);
    let labels = Tensor::<1, Int>::full([count], label as i64, device);
    generator.forward(z, labels)
}

/// Returns `count` latent vectors near `latent`: each adds Gaussian noise of standard
/// deviation `spread`, drawn from `seed`.
pub fn variations(latent: &[f32], count: usize, spread: f32, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = SplitMix64::new(seed);
    (0..count)
        .map(|_| {
            latent
                .iter()
                .map(|&value| value + spread * rng.normal())
                .collect()
        })
        .collect()
}

/// A point the generator draws from: a latent vector and a digit.
#[derive(Clone, Debug, PartialEq)]
pub struct Anchor {
    pub latent: Vec<f32>,
    pub label: u8,
}

/// Renders the points `positions` (0 = `from`, 1 = `to`) of the straight path between two
/// anchors, `[positions.len(), 1, 28, 28]` in [-1, 1]. The latent vector and the label both move
/// linearly, the label as a blend of the two digits' embeddings. The generator should be in
/// inference mode.
///
/// # Panics
/// Panics if the anchors' latent vectors differ in length or a label is not a digit.
pub fn render_path(
    generator: &Generator,
    from: &Anchor,
    to: &Anchor,
    positions: &[f32],
    device: &Device,
) -> Tensor<4> {
    assert_eq!(from.latent.len(), to.latent.len(), "latent sizes differ");
    let dim = from.latent.len();
    let mut latents = Vec::with_capacity(positions.len() * dim);
    let mut label_weights = vec![0.0f32; positions.len() * NUM_CLASSES];
    for (row, &t) in positions.iter().enumerate() {
        latents.extend(interpolate(&from.latent, &to.latent, t));
        label_weights[row * NUM_CLASSES + from.label as usize] += 1.0 - t;
        label_weights[row * NUM_CLASSES + to.label as usize] += t;
    }
    let count = positions.len();
    let latents = Tensor::<1>::from_floats(latents.as_slice(), device).reshape([count, dim]);
    let label_weights =
        Tensor::<1>::from_floats(label_weights.as_slice(), device).reshape([count, NUM_CLASSES]);
    generator.forward_mixed(latents, label_weights)
}

/// Returns the point `t` (0 to 1) of the straight line between two latent vectors.
pub fn interpolate(from: &[f32], to: &[f32], t: f32) -> Vec<f32> {
    from.iter()
        .zip(to)
        .map(|(&a, &b)| a + (b - a) * t)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_ends_at_both_latents() {
        let from = [0.0, 1.0, -2.0];
        let to = [1.0, 1.0, 2.0];
        assert_eq!(interpolate(&from, &to, 0.0), from.to_vec());
        assert_eq!(interpolate(&from, &to, 1.0), to.to_vec());
        assert_eq!(interpolate(&from, &to, 0.5), vec![0.5, 1.0, 0.0]);
    }

    #[test]
    fn variations_spread_as_asked() {
        let latent = vec![0.0; 64];
        let near = variations(&latent, 4, 0.1, 1);
        assert_eq!(near.len(), 4);
        let far = variations(&latent, 4, 1.0, 1);
        let norm = |vectors: &[Vec<f32>]| -> f32 {
            vectors
                .iter()
                .flatten()
                .map(|value| value * value)
                .sum::<f32>()
        };
        assert!(norm(&far) > 50.0 * norm(&near));
        assert_eq!(variations(&latent, 4, 1.0, 1), far, "a seed repeats");
    }

    #[test]
    fn inversion_lowers_the_error() {
        let device = Device::flex();
        let config = GanConfig::new();
        let generator = config.init_generator(&device);
        let target = vec![-1.0; IMAGE_PIXELS];
        let mut inversion = Inversion::new(
            &generator,
            &target,
            None,
            4,
            InversionConfig::new().with_restarts(2),
            3,
            &device.clone().autodiff(),
        );
        let before = pollster::block_on(inversion.best()).error;
        for _ in 0..20 {
            inversion.step();
        }
        let after = pollster::block_on(inversion.best());
        assert!(
            after.error < before,
            "error went from {before} to {}",
            after.error
        );
        assert_eq!(after.latent.len(), config.latent_dim);
        assert_eq!(after.label, 4);
    }

    #[test]
    fn masked_pixels_do_not_count() {
        let device = Device::flex();
        let generator = GanConfig::new().init_generator(&device);
        let mut target = vec![-1.0; IMAGE_PIXELS];
        let mut mask = vec![1.0; IMAGE_PIXELS];
        // The right half is masked out, so any target there leaves the error unchanged.
        for (index, value) in target.iter_mut().enumerate() {
            if index % 28 >= 14 {
                *value = 1.0;
                mask[index] = 0.0;
            }
        }
        let fit = |target: &[f32]| {
            let inversion = Inversion::new(
                &generator,
                target,
                Some(&mask),
                1,
                InversionConfig::new(),
                5,
                &device.clone().autodiff(),
            );
            pollster::block_on(inversion.best()).error
        };
        assert_eq!(fit(&target), fit(&vec![-1.0; IMAGE_PIXELS]));
    }

    #[test]
    fn latents_render_as_single_renders() {
        let device = Device::flex();
        let generator = GanConfig::new().init_generator(&device).valid();
        let latents = variations(&vec![0.0; GanConfig::new().latent_dim], 3, 1.0, 4);
        let batch = pollster::block_on(read_floats(render_latents(
            &generator, &latents, 6, &device,
        )));
        for (row, latent) in latents.iter().enumerate() {
            let single = pollster::block_on(read_floats(render(&generator, latent, &[6], &device)));
            let rendered = &batch[row * IMAGE_PIXELS..(row + 1) * IMAGE_PIXELS];
            let gap = rendered
                .iter()
                .zip(&single)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(gap < 1e-5, "row {row} differs by {gap}");
        }
    }

    #[test]
    fn path_ends_render_the_anchors() {
        let device = Device::flex();
        let config = GanConfig::new();
        let generator = config.init_generator(&device).valid();
        let mut rng = SplitMix64::new(2);
        let mut anchor = |label| Anchor {
            latent: (0..config.latent_dim).map(|_| rng.normal()).collect(),
            label,
        };
        let (from, to) = (anchor(2), anchor(7));
        let path = pollster::block_on(read_floats(render_path(
            &generator,
            &from,
            &to,
            &[0.0, 0.5, 1.0],
            &device,
        )));
        let start =
            pollster::block_on(read_floats(render(&generator, &from.latent, &[2], &device)));
        let end = pollster::block_on(read_floats(render(&generator, &to.latent, &[7], &device)));
        let largest_gap = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max)
        };
        assert!(largest_gap(&path[..IMAGE_PIXELS], &start) < 1e-5);
        assert!(largest_gap(&path[2 * IMAGE_PIXELS..], &end) < 1e-5);
        assert!(largest_gap(&path[IMAGE_PIXELS..2 * IMAGE_PIXELS], &start) > 1e-3);
    }
}
