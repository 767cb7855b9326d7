//! Browser tests (wasm-bindgen-test in headless Chromium): WebGPU must compute what the CPU
//! backend computes. On wasm a WGSL kernel that fails to compile raises no error, so these
//! tests compare numbers rather than trusting the absence of errors.
//!
//! Run with `.ci/test browser`. The first WebGPU steps compile many shaders; on a software
//! adapter (SwiftShader) that takes minutes, hence the long timeout that `.ci/test` sets.

#![cfg(target_arch = "wasm32")]

use burn::prelude::*;
use ganvas::data::{Digits, IMAGE_PIXELS, SplitMix64};
use ganvas::evaluate::read_floats;
use ganvas::model::{ClassifierConfig, GanConfig};
use ganvas::selftest::{compare_devices, relative_error};
use ganvas::training::{
    ClassifierTrainer, ClassifierTrainingConfig, GanTrainer, GanTrainingConfig, latent_batch,
    shifted_batch,
};
use ganvas::transfer::{TARGET_DIGITS, TASK_CLASSES, TransferMode, TransferRun, digit_group};
use ganvas::web::gpu::wgpu_device;
use ganvas::weights;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Largest accepted difference between WebGPU and the CPU after one training step, relative to
/// the largest magnitude of the CPU's values. Both use f32; different summation orders leave
/// differences near 1e-5, while a kernel that did not run leaves differences of order 1.
const STEP_TOLERANCE: f32 = 1e-2;

fn digits(count: usize) -> Digits {
    let mut rng = SplitMix64::new(5);
    let labels = (0..count).map(|i| (i % 10) as u8).collect();
    let pixels = (0..count * IMAGE_PIXELS)
        .map(|_| (rng.below(3) * 127) as u8)
        .collect();
    Digits::new(labels, pixels).expect("generated digits should be valid")
}

async fn webgpu() -> Device {
    wgpu_device()
        .await
        .expect("the browser should offer a WebGPU device")
}

#[wasm_bindgen_test]
async fn webgpu_self_test_matches_cpu() {
    let error = compare_devices(&Device::flex(), &webgpu().await).await;
    assert!(error.is_ok(), "self-test failed: {error:?}");
}

/// Runs one classifier step from the same weights and batch on `device`; returns the loss and
/// the logits of the batch after the step.
async fn classifier_step(device: &Device, weights_bytes: Vec<u8>) -> (Vec<f32>, Vec<f32>) {
    let training = device.clone().autodiff();
    let config = ClassifierConfig::new().with_dropout(0.0);
    let model = weights::load(config.init(&training), weights_bytes, "classifier")
        .expect("weights from the same config should load");
    let mut trainer = ClassifierTrainer::new(model, ClassifierTrainingConfig::new());
    let batch: Vec<usize> = (0..16).collect();
    let mut rng = SplitMix64::new(1);
    let (images, labels) = shifted_batch(&digits(16), &batch, 0, &mut rng, &training);
    let loss = read_floats(trainer.step(images.clone(), labels)).await;
    let logits = read_floats(trainer.model.valid().forward(images.inner())).await;
    (loss, logits)
}

#[wasm_bindgen_test]
async fn classifier_step_matches_cpu() {
    let cpu = Device::flex();
    let initial = ClassifierConfig::new().with_dropout(0.0).init(&cpu);
    let bytes = weights::to_bytes(initial).expect("CPU weights should serialise");

    let (cpu_loss, cpu_logits) = classifier_step(&cpu, bytes.clone()).await;
    let (gpu_loss, gpu_logits) = classifier_step(&webgpu().await, bytes).await;

    let loss_difference = relative_error(&cpu_loss, &gpu_loss);
    assert!(
        loss_difference < STEP_TOLERANCE,
        "loss: CPU {cpu_loss:?}, WebGPU {gpu_loss:?}"
    );
    let logits_difference = relative_error(&cpu_logits, &gpu_logits);
    assert!(
        logits_difference < STEP_TOLERANCE,
        "logits after the step differ by {logits_difference}"
    );
}

/// Runs one GAN step from the same weights, batch and latents on `device`. Returns both losses,
/// and the generator's output for fixed latents after the step.
async fn gan_step(
    device: &Device,
    generator: Vec<u8>,
    discriminator: Vec<u8>,
) -> (Vec<f32>, Vec<f32>) {
    let training = device.clone().autodiff();
    let config = GanConfig::new();
    let generator = weights::load(config.init_generator(&training), generator, "generator")
        .expect("generator weights from the same config should load");
    let discriminator = weights::load(
        config.init_discriminator(&training),
        discriminator,
        "discriminator",
    )
    .expect("discriminator weights from the same config should load");
    let mut trainer = GanTrainer::new(
        generator,
        discriminator,
        config.clone(),
        GanTrainingConfig::new(),
    );
    let batch: Vec<usize> = (0..16).collect();
    let mut rng = SplitMix64::new(2);
    let (images, labels) = shifted_batch(&digits(16), &batch, 0, &mut rng, &training);
    let losses = trainer.step(images, labels.clone(), &mut rng);
    let mut loss_values = read_floats(losses.discriminator).await;
    loss_values.extend(read_floats(losses.generator).await);

    let inference = device.clone();
    let latent = latent_batch(16, config.latent_dim, &mut SplitMix64::new(3), &inference);
    let samples = trainer.generator.valid().forward(latent, labels.inner());
    (loss_values, read_floats(samples).await)
}

#[wasm_bindgen_test]
async fn gan_step_matches_cpu() {
    let cpu = Device::flex();
    let config = GanConfig::new();
    let generator = weights::to_bytes(config.init_generator(&cpu)).expect("serialise generator");
    let discriminator =
        weights::to_bytes(config.init_discriminator(&cpu)).expect("serialise discriminator");

    let (cpu_losses, cpu_samples) = gan_step(&cpu, generator.clone(), discriminator.clone()).await;
    let (gpu_losses, gpu_samples) = gan_step(&webgpu().await, generator, discriminator).await;

    let loss_difference = relative_error(&cpu_losses, &gpu_losses);
    assert!(
        loss_difference < STEP_TOLERANCE,
        "D and G losses: CPU {cpu_losses:?}, WebGPU {gpu_losses:?}"
    );
    let sample_difference = relative_error(&cpu_samples, &gpu_samples);
    assert!(
        sample_difference < STEP_TOLERANCE,
        "samples after the step differ by {sample_difference}"
    );
}

/// Runs two transfer steps in `mode` on `device` from the given 5-class weights. Returns the
/// losses and the logits of the training digits after the steps.
async fn transfer_steps(
    device: &Device,
    mode: TransferMode,
    bytes: Vec<u8>,
) -> (Vec<f32>, Vec<f32>) {
    let training = device.clone().autodiff();
    let config = ClassifierConfig::new()
        .with_dropout(0.0)
        .with_classes(TASK_CLASSES);
    let train = digit_group(&digits(40), TARGET_DIGITS);
    let source = config.init(device);
    let mut run = TransferRun::new(mode, &source, train.clone(), TASK_CLASSES, 1, &training);
    // The new output layer draws its weights from the backend's generator, which differs
    // between backends, so both runs start from the same given weights instead.
    run.trainer.model = weights::load(config.init(&training), bytes, "transfer classifier")
        .expect("weights from the same config should load");
    let mut losses = read_floats(run.step()).await;
    losses.extend(read_floats(run.step()).await);
    let indices: Vec<usize> = (0..train.len()).collect();
    let (images, _) = ganvas::data::batch(&train, &indices, device);
    let logits = read_floats(run.model().forward(images)).await;
    (losses, logits)
}

#[wasm_bindgen_test]
async fn transfer_steps_match_cpu() {
    let cpu = Device::flex();
    let config = ClassifierConfig::new()
        .with_dropout(0.0)
        .with_classes(TASK_CLASSES);
    let bytes = weights::to_bytes(config.init(&cpu)).expect("CPU weights should serialise");
    let gpu = webgpu().await;
    for mode in [TransferMode::Frozen, TransferMode::FineTune] {
        let (cpu_losses, cpu_logits) = transfer_steps(&cpu, mode, bytes.clone()).await;
        let (gpu_losses, gpu_logits) = transfer_steps(&gpu, mode, bytes.clone()).await;
        let loss_difference = relative_error(&cpu_losses, &gpu_losses);
        assert!(
            loss_difference < STEP_TOLERANCE,
            "{mode:?} losses: CPU {cpu_losses:?}, WebGPU {gpu_losses:?}"
        );
        let logits_difference = relative_error(&cpu_logits, &gpu_logits);
        assert!(
            logits_difference < STEP_TOLERANCE,
            "{mode:?} logits after the steps differ by {logits_difference}"
        );
    }
}
