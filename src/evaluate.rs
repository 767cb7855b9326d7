//! Quality numbers: classifier accuracy on labelled digits, and how often generated digits are
//! classified as the label they were generated for.

use burn::prelude::*;

use std::ops::Range;

use crate::data::{Digits, IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES, SplitMix64, batch};
use crate::editing::{Fit, Inversion, InversionConfig, render};
use crate::model::{Classifier, GanConfig, Generator};
use crate::preprocess::{Raster, ink_to_signed, to_inpaint_input, to_model_input};
use crate::training::latent_batch;

/// Reads a float tensor back to the host without blocking, as WebGPU in the browser requires.
///
/// # Panics
/// Panics if the device fails to return the data, which burn reports only for a lost device.
pub async fn read_floats<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    let data = tensor
        .into_data_async()
        .await
        .expect("a device tensor should be readable");
    data.try_into_vec_as::<f32>()
        .expect("a float tensor should convert to f32")
}

/// Reads the predicted class of each row of `logits` without blocking, as WebGPU in the
/// browser requires.
pub async fn predicted_classes(logits: Tensor<2>) -> Vec<usize> {
    let classes = logits.argmax(1).flatten::<1>(0, 1);
    let data = classes
        .into_data_async()
        .await
        .expect("argmax output should be readable");
    data.try_into_vec_as::<i64>()
        .expect("converted argmax output should be i64")
        .into_iter()
        .map(|class| class as usize)
        .collect()
}

/// Returns the fraction of `digits` that `classifier` labels correctly, in batches of
/// `batch_size`. The classifier should be in inference mode (`Module::valid`).
pub async fn classifier_accuracy(
    classifier: &Classifier,
    digits: &Digits,
    batch_size: usize,
    device: &Device,
) -> f32 {
    let mut correct = 0;
    for start in (0..digits.len()).step_by(batch_size) {
        let indices: Vec<usize> = (start..(start + batch_size).min(digits.len())).collect();
        let (images, _) = batch(digits, &indices, device);
        let predicted = predicted_classes(classifier.forward(images)).await;
        correct += indices
            .iter()
            .zip(predicted)
            .filter(|&(&index, class)| digits.labels[index] as usize == class)
            .count();
    }
    correct as f32 / digits.len().max(1) as f32
}

/// Generates `per_class` digits of each label in `digits` from latents seeded by `seed` and
/// returns the fraction that `classifier` (a 10-class MNIST model) reads as their label. Both
/// models should be in inference mode.
pub async fn generated_label_accuracy(
    generator: &Generator,
    config: &GanConfig,
    classifier: &Classifier,
    digits: Range<u8>,
    per_class: usize,
    seed: u64,
    device: &Device,
) -> f32 {
    let mut rng = SplitMix64::new(seed);
    let classes: Vec<i64> = digits.map(i64::from).collect();
    let count = per_class * classes.len();
    let labels: Vec<i64> = (0..count).map(|i| classes[i % classes.len()]).collect();
    let latent = latent_batch(count, config.latent_dim, &mut rng, device);
    let label_tensor = Tensor::<1, Int>::from_ints(labels.as_slice(), device);
    let images = generator.forward(latent, label_tensor);
    let predicted = predicted_classes(classifier.forward(images)).await;
    let correct = labels
        .iter()
        .zip(predicted)
        .filter(|&(&label, class)| label as usize == class);
    correct.count() as f32 / count.max(1) as f32
}

/// Side of the canvas, in pixels, that `edit_drawn_digit` paints digits on: the page's canvas
/// at devicePixelRatio 1.
pub const DRAWN_CANVAS_SIDE: usize = 280;

/// GAN editing of one digit drawn on the canvas, as `edit_drawn_digit` measured it.
#[derive(Clone, Debug, PartialEq)]
pub struct DrawnDigitEdit {
    /// The classifier's reading of the drawing, which the inversion used as its label.
    pub recognised: usize,
    /// Reconstruction error of the inversion (mean squared, pixels in [-1, 1]).
    pub error: f32,
    /// Whether the classifier reads the reconstruction as the digit's true label.
    pub reconstruction_read: bool,
    /// How many of the ten digits drawn in the found style the classifier reads as requested.
    pub swaps_read: usize,
    /// Whether the classifier reads the inpainting of the digit as its true label. The digit's
    /// bottom half is masked on the canvas and the inversion is given the true label.
    pub inpainting_read: bool,
}

/// Runs an inversion with the page's settings to the end and returns the best fit.
async fn invert_fully(
    generator: &Generator,
    target: &[f32],
    known: Option<&[f32]>,
    label: u8,
    seed: u64,
    device: &Device,
) -> Fit {
    let config = InversionConfig::new();
    let steps = config.steps;
    let mut inversion = Inversion::new(
        generator,
        target,
        known,
        label,
        config,
        seed,
        &device.clone().autodiff(),
    );
    for _ in 0..steps {
        inversion.step();
    }
    inversion.best().await
}

/// Paints a 28x28 digit (255 = ink) on the canvas the way the page places images, reads it back
/// through the page's preprocessing and edits it as the page does: the label is the
/// classifier's reading, the inversion runs with the page's settings, the found latent is drawn
/// as all ten digits, and a second inversion fills the digit's bottom half from a canvas mask.
/// Both models should be in inference mode on `device`.
pub async fn edit_drawn_digit(
    generator: &Generator,
    classifier: &Classifier,
    image: &[u8],
    label: u8,
    seed: u64,
    device: &Device,
) -> DrawnDigitEdit {
    let classify = |pixels: Vec<f32>| async move {
        let count = pixels.len() / IMAGE_PIXELS;
        let images = Tensor::<1>::from_floats(pixels.as_slice(), device)
            .reshape([count, 1, IMAGE_SIDE, IMAGE_SIDE]);
        predicted_classes(classifier.forward(images)).await
    };
    let drawing = Raster::from_digit(image, DRAWN_CANVAS_SIDE);
    let frame = to_model_input(&drawing).unwrap_or_else(|| vec![0.0; IMAGE_PIXELS]);
    let target: Vec<f32> = frame.iter().map(|&ink| ink_to_signed(ink)).collect();
    let recognised = classify(target.clone()).await[0];

    let fit = invert_fully(generator, &target, None, recognised as u8, seed, device).await;
    let reconstruction_read = classify(fit.image.clone()).await[0] == label as usize;
    let digits: Vec<u8> = (0..NUM_CLASSES as u8).collect();
    let swaps = read_floats(render(generator, &fit.latent, &digits, device)).await;
    let swaps_read = classify(swaps)
        .await
        .iter()
        .enumerate()
        .filter(|&(digit, &class)| digit == class)
        .count();

    let mut mask = Raster::new(DRAWN_CANVAS_SIDE, DRAWN_CANVAS_SIDE);
    mask.ink[DRAWN_CANVAS_SIDE * DRAWN_CANVAS_SIDE / 2..].fill(1.0);
    let inpainting_read = match to_inpaint_input(&drawing, &mask) {
        Some(input) => {
            let target: Vec<f32> = input.ink.iter().map(|&ink| ink_to_signed(ink)).collect();
            let fit =
                invert_fully(generator, &target, Some(&input.known), label, seed, device).await;
            let image = read_floats(render(generator, &fit.latent, &[label], device)).await;
            classify(image).await[0] == label as usize
        }
        None => false,
    };
    DrawnDigitEdit {
        recognised,
        error: fit.error,
        reconstruction_read,
        swaps_read,
        inpainting_read,
    }
}
