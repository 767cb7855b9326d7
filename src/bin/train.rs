//! Trains the shipped models natively on the CPU (burn's flex backend) with the same model and
//! training code the browser runs, prints progress and final metrics, and writes the weights.
//!
//! Usage:
//! - `cargo run --release --bin train -- classifier [steps]`: trains the classifier (default
//!   3000 steps of 64 images) and writes `assets/weights/classifier.bpk`.
//! - `cargo run --release --bin train -- gan [steps]`: trains the conditional GAN (default 6000
//!   steps) and writes the generator and discriminator weights. It reads the classifier weights
//!   to report the label accuracy of generated digits.
//! - `cargo run --release --bin train -- check`: evaluates the shipped weights.

use std::process::ExitCode;
use std::time::Instant;

use burn::prelude::*;
use ganvas::data::{BatchSampler, Mnist, SplitMix64, decode_asset};
use ganvas::evaluate::{classifier_accuracy, generated_label_accuracy};
use ganvas::model::{Classifier, ClassifierConfig, GanConfig, Generator};
use ganvas::training::{
    ClassifierTrainer, ClassifierTrainingConfig, GanTrainer, GanTrainingConfig, shifted_batch,
};
use ganvas::weights::{self, CLASSIFIER_PATH, DISCRIMINATOR_PATH, GENERATOR_PATH};

const ASSET_PATH: &str = "assets/mnist.bin.gz";
/// Generated digits per class when measuring label accuracy.
const SAMPLES_PER_CLASS: usize = 100;
/// Seed of the latents used to measure label accuracy; the browser uses others.
const EVALUATION_SEED: u64 = 2024;
const LOG_EVERY: usize = 250;

fn load_mnist() -> Result<Mnist, String> {
    let bytes =
        std::fs::read(ASSET_PATH).map_err(|error| format!("cannot read {ASSET_PATH}: {error}"))?;
    decode_asset(&bytes).map_err(|error| error.to_string())
}

fn read_file(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|error| format!("cannot read {path}: {error}"))
}

fn load_classifier(device: &Device) -> Result<Classifier, String> {
    let model = ClassifierConfig::new().init(device);
    weights::load(model, read_file(CLASSIFIER_PATH)?, "classifier")
        .map_err(|error| error.to_string())
}

fn load_generator(config: &GanConfig, device: &Device) -> Result<Generator, String> {
    let model = config.init_generator(device);
    weights::load(model, read_file(GENERATOR_PATH)?, "generator").map_err(|error| error.to_string())
}

fn save<M: Module>(module: M, path: &str) -> Result<(), String> {
    let bytes = weights::to_bytes(module).map_err(|error| error.to_string())?;
    std::fs::write(path, &bytes).map_err(|error| format!("cannot write {path}: {error}"))?;
    println!("wrote {path} ({} bytes)", bytes.len());
    Ok(())
}

fn scalar(loss: Tensor<1>) -> f32 {
    loss.into_data()
        .try_into_vec_as::<f32>()
        .expect("loss should be f32")[0]
}

fn train_classifier(mnist: &Mnist, steps: usize) -> Result<(), String> {
    let device = Device::flex().autodiff();
    let config = ClassifierTrainingConfig::new();
    let mut trainer = ClassifierTrainer::new(ClassifierConfig::new().init(&device), config);
    let mut sampler = BatchSampler::new(mnist.train.len(), 1);
    let mut rng = SplitMix64::new(2);
    let started = Instant::now();
    let mut recent_loss = 0.0;

    for step in 1..=steps {
        // A tenfold smaller learning rate for the last third settles the weights.
        if step == steps * 2 / 3 {
            trainer.config.learning_rate /= 10.0;
        }
        let indices = sampler.next_batch(trainer.config.batch_size);
        let (images, labels) = shifted_batch(
            &mnist.train,
            &indices,
            trainer.config.max_shift,
            &mut rng,
            &device,
        );
        recent_loss += scalar(trainer.step(images, labels));
        if step % LOG_EVERY == 0 {
            println!(
                "classifier step {step}/{steps}: loss {:.4}, {:.1} steps/s",
                recent_loss / LOG_EVERY as f32,
                step as f64 / started.elapsed().as_secs_f64()
            );
            recent_loss = 0.0;
        }
    }

    let model = trainer.model.valid();
    let accuracy = pollster::block_on(classifier_accuracy(
        &model,
        &mnist.test,
        500,
        &Device::flex(),
    ));
    println!(
        "classifier: MNIST test accuracy {:.2}% on {} digits",
        accuracy * 100.0,
        mnist.test.len()
    );
    save(model, CLASSIFIER_PATH)
}

fn train_gan(mnist: &Mnist, steps: usize) -> Result<(), String> {
    let classifier = load_classifier(&Device::flex())?;
    let device = Device::flex().autodiff();
    let model_config = GanConfig::new();
    let mut trainer = GanTrainer::new(
        model_config.init_generator(&device),
        model_config.init_discriminator(&device),
        model_config,
        GanTrainingConfig::new(),
    );
    let mut sampler = BatchSampler::new(mnist.train.len(), 3);
    let mut rng = SplitMix64::new(4);
    let started = Instant::now();
    let (mut recent_d, mut recent_g) = (0.0, 0.0);

    for step in 1..=steps {
        let indices = sampler.next_batch(trainer.config.batch_size);
        let (images, labels) = shifted_batch(&mnist.train, &indices, 0, &mut rng, &device);
        let losses = trainer.step(images, labels, &mut rng);
        recent_d += scalar(losses.discriminator);
        recent_g += scalar(losses.generator);
        if step % LOG_EVERY == 0 {
            let generator = trainer.generator.valid();
            let accuracy = pollster::block_on(generated_label_accuracy(
                &generator,
                &trainer.model_config,
                &classifier,
                20,
                EVALUATION_SEED,
                &Device::flex(),
            ));
            println!(
                "gan step {step}/{steps}: D loss {:.3}, G loss {:.3}, label accuracy {:.1}%, {:.2} steps/s",
                recent_d / LOG_EVERY as f32,
                recent_g / LOG_EVERY as f32,
                accuracy * 100.0,
                step as f64 / started.elapsed().as_secs_f64()
            );
            (recent_d, recent_g) = (0.0, 0.0);
        }
    }

    let generator = trainer.generator.valid();
    let accuracy = pollster::block_on(generated_label_accuracy(
        &generator,
        &trainer.model_config,
        &classifier,
        SAMPLES_PER_CLASS,
        EVALUATION_SEED,
        &Device::flex(),
    ));
    println!(
        "gan: {:.1}% of {} generated digits classified as their label",
        accuracy * 100.0,
        SAMPLES_PER_CLASS * 10
    );
    save(generator, GENERATOR_PATH)?;
    save(trainer.discriminator.valid(), DISCRIMINATOR_PATH)
}

fn check(mnist: &Mnist) -> Result<(), String> {
    let device = Device::flex();
    let classifier = load_classifier(&device)?;
    let accuracy = pollster::block_on(classifier_accuracy(&classifier, &mnist.test, 500, &device));
    println!(
        "shipped classifier: MNIST test accuracy {:.2}%",
        accuracy * 100.0
    );
    let config = GanConfig::new();
    let generator = load_generator(&config, &device)?;
    let accuracy = pollster::block_on(generated_label_accuracy(
        &generator,
        &config,
        &classifier,
        SAMPLES_PER_CLASS,
        EVALUATION_SEED,
        &device,
    ));
    println!(
        "shipped generator: {:.1}% of generated digits classified as their label",
        accuracy * 100.0
    );
    Ok(())
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps = |default: usize| -> Result<usize, String> {
        match args.get(1) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| format!("invalid step count {text:?}")),
        }
    };
    let mnist = load_mnist()?;
    match args.first().map(String::as_str) {
        Some("classifier") => train_classifier(&mnist, steps(3000)?),
        Some("gan") => train_gan(&mnist, steps(6000)?),
        Some("check") => check(&mnist),
        _ => Err("usage: train classifier [steps] | gan [steps] | check".into()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("train: {message}");
            ExitCode::FAILURE
        }
    }
}
