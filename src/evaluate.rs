//! Quality numbers: classifier accuracy on labelled digits, and how often generated digits are
//! classified as the label they were generated for.

use burn::prelude::*;

use std::ops::Range;

use crate::data::{Digits, SplitMix64, batch};
use crate::model::{Classifier, GanConfig, Generator};
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
