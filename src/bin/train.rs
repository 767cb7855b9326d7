//! Trains the shipped models natively on the CPU (burn's flex backend) with the same model and
//! training code the browser runs, prints progress and final metrics, and writes the weights.
//!
//! Usage (`cargo run --release --bin train -- COMMAND`):
//! - `classifier [steps]`: trains the MNIST classifier (default 3000 steps of 64 images) and
//!   writes `assets/weights/classifier.bpk`.
//! - `gan [steps]`: trains the conditional GAN (default 6000 steps) and writes the generator
//!   and discriminator weights. It reads the classifier weights to report the label accuracy
//!   of generated digits.
//! - `source-classifier [steps]` and `source-gan [steps]`: the same on the source digits 0-4
//!   only, for the transfer lab; they write `assets/weights/source-*.bpk`.
//! - `transfer-sweep [seeds]`: fine-tunes the source classifier to the digits 5-9 at every
//!   label budget in every mode, for seeds 1 to `seeds` (default 3), and prints a table.
//! - `gan-transfer-sweep [seeds]`: fine-tunes the source GAN to each digit 5-9 from 10 and 50
//!   samples in every setting, for seeds 1 to `seeds` (default 1), and prints a table.
//! - `edit-figures [digits]`: draws the first `digits` MNIST test digits (default 100) on a
//!   canvas-sized raster and finds each in the shipped generator's latent space as the page
//!   does. It prints the reconstruction error, the rates at which the classifier reads the
//!   reconstructions, class swaps and inpaintings as requested, and the time per digit.
//! - `check`: evaluates the shipped weights.

use std::process::ExitCode;
use std::time::Instant;

use std::collections::HashMap;
use std::ops::Range;

use burn::prelude::*;
use ganvas::data::{
    ALL_DIGITS, BatchSampler, Digits, Mnist, NUM_CLASSES, SplitMix64, decode_asset,
};
use ganvas::evaluate::{classifier_accuracy, edit_drawn_digit, generated_label_accuracy};
use ganvas::model::{Classifier, ClassifierConfig, GanConfig, Generator};
use ganvas::training::{
    ClassifierTrainer, ClassifierTrainingConfig, GanTrainer, GanTrainingConfig, shifted_batch,
};
use ganvas::transfer::{
    GAN_TRANSFER_EVALUATION_SAMPLES, GAN_TRANSFER_STEPS, GanTransferRun, GanTransferSetting,
    LabelBudget, SOURCE_DIGITS, TARGET_DIGITS, TASK_CLASSES, TransferMode, TransferRun,
    budget_indices, digit_group, few_shot_digits, subset,
};
use ganvas::weights::{
    self, CLASSIFIER_PATH, DISCRIMINATOR_PATH, GENERATOR_PATH, SOURCE_CLASSIFIER_PATH,
    SOURCE_DISCRIMINATOR_PATH, SOURCE_GENERATOR_PATH,
};

const ASSET_PATH: &str = "assets/mnist.bin.gz";
/// Generated digits per class when measuring label accuracy.
const SAMPLES_PER_CLASS: usize = 100;
/// Seed of the latents used to measure label accuracy; the browser uses others.
const EVALUATION_SEED: u64 = 2024;
/// Seed of the inversions' starting points in `edit-figures` (the page uses 1 too).
const EDIT_SEED: u64 = 1;
const LOG_EVERY: usize = 250;

fn load_mnist() -> Result<Mnist, String> {
    let bytes =
        std::fs::read(ASSET_PATH).map_err(|error| format!("cannot read {ASSET_PATH}: {error}"))?;
    decode_asset(&bytes).map_err(|error| error.to_string())
}

fn read_file(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|error| format!("cannot read {path}: {error}"))
}

fn load_weights<M: Module>(model: M, path: &str, name: &'static str) -> Result<M, String> {
    weights::load(model, read_file(path)?, name).map_err(|error| error.to_string())
}

fn load_classifier(device: &Device) -> Result<Classifier, String> {
    load_weights(
        ClassifierConfig::new().init(device),
        CLASSIFIER_PATH,
        "classifier",
    )
}

fn load_source_classifier(device: &Device) -> Result<Classifier, String> {
    let model = ClassifierConfig::new()
        .with_classes(TASK_CLASSES)
        .init(device);
    load_weights(model, SOURCE_CLASSIFIER_PATH, "source classifier")
}

fn load_generator(config: &GanConfig, device: &Device) -> Result<Generator, String> {
    load_weights(config.init_generator(device), GENERATOR_PATH, "generator")
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

fn train_classifier(
    train: &Digits,
    test: &Digits,
    classes: usize,
    steps: usize,
    path: &str,
) -> Result<(), String> {
    let device = Device::flex().autodiff();
    let config = ClassifierTrainingConfig::new();
    let model = ClassifierConfig::new().with_classes(classes).init(&device);
    let mut trainer = ClassifierTrainer::new(model, config);
    let mut sampler = BatchSampler::new(train.len(), 1);
    let mut rng = SplitMix64::new(2);
    let started = Instant::now();
    let mut recent_loss = 0.0;

    for step in 1..=steps {
        // A tenfold smaller learning rate for the last third settles the weights.
        if step == steps * 2 / 3 {
            trainer.config.learning_rate /= 10.0;
        }
        let indices = sampler.next_batch(trainer.config.batch_size);
        let (images, labels) =
            shifted_batch(train, &indices, trainer.config.max_shift, &mut rng, &device);
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
    let accuracy = pollster::block_on(classifier_accuracy(&model, test, 500, &Device::flex()));
    println!(
        "classifier: test accuracy {:.2}% on {} digits",
        accuracy * 100.0,
        test.len()
    );
    save(model, path)
}

/// Paths that one GAN training run writes.
struct GanPaths {
    generator: &'static str,
    discriminator: &'static str,
}

fn train_gan(
    train: &Digits,
    digits: Range<u8>,
    steps: usize,
    paths: GanPaths,
) -> Result<(), String> {
    let classifier = load_classifier(&Device::flex())?;
    let device = Device::flex().autodiff();
    let model_config = GanConfig::new();
    let mut trainer = GanTrainer::new(
        model_config.init_generator(&device),
        model_config.init_discriminator(&device),
        model_config,
        GanTrainingConfig::new(),
    );
    let mut sampler = BatchSampler::new(train.len(), 3);
    let mut rng = SplitMix64::new(4);
    let started = Instant::now();
    let (mut recent_d, mut recent_g) = (0.0, 0.0);
    let label_accuracy = |generator: &Generator, per_class: usize| {
        pollster::block_on(generated_label_accuracy(
            generator,
            &GanConfig::new(),
            &classifier,
            digits.clone(),
            per_class,
            EVALUATION_SEED,
            &Device::flex(),
        ))
    };

    for step in 1..=steps {
        let indices = sampler.next_batch(trainer.config.batch_size);
        let (images, labels) = shifted_batch(train, &indices, 0, &mut rng, &device);
        let losses = trainer.step(images, labels, &mut rng);
        recent_d += scalar(losses.discriminator);
        recent_g += scalar(losses.generator);
        if step % LOG_EVERY == 0 {
            let accuracy = label_accuracy(&trainer.generator.valid(), 20);
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
    let accuracy = label_accuracy(&generator, SAMPLES_PER_CLASS);
    println!(
        "gan: {:.1}% of {} generated digits classified as their label",
        accuracy * 100.0,
        SAMPLES_PER_CLASS * digits.len()
    );
    save(generator, paths.generator)?;
    save(trainer.discriminator.valid(), paths.discriminator)
}

/// Mean and sample standard deviation.
fn mean_and_spread(values: &[f32]) -> (f32, f32) {
    let count = values.len() as f32;
    let mean = values.iter().sum::<f32>() / count;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let variance = values
        .iter()
        .map(|value| (value - mean).powi(2))
        .sum::<f32>()
        / (count - 1.0);
    (mean, variance.sqrt())
}

/// Formats percentages as "mean ± spread (a, b, c)".
fn summary(fractions: &[f32]) -> String {
    let percents: Vec<f32> = fractions.iter().map(|value| value * 100.0).collect();
    let (mean, spread) = mean_and_spread(&percents);
    let each: Vec<String> = percents.iter().map(|value| format!("{value:.1}")).collect();
    format!("{mean:.1} ± {spread:.1} ({})", each.join(", "))
}

fn transfer_sweep(mnist: &Mnist, seeds: u64) -> Result<(), String> {
    let source = load_source_classifier(&Device::flex())?;
    let target_train = digit_group(&mnist.train, TARGET_DIGITS);
    let target_test = digit_group(&mnist.test, TARGET_DIGITS);
    let device = Device::flex().autodiff();
    let started = Instant::now();
    println!(
        "transfer 0-4 -> 5-9: {} target training digits, {} held-out target test digits",
        target_train.len(),
        target_test.len()
    );
    let mut results: HashMap<(LabelBudget, TransferMode), Vec<f32>> = HashMap::new();

    for seed in 1..=seeds {
        for budget in LabelBudget::CHOICES {
            let indices = budget_indices(&target_train.labels, TASK_CLASSES, budget, seed);
            let train = subset(&target_train, &indices);
            for mode in TransferMode::ALL {
                let run_started = Instant::now();
                let mut run =
                    TransferRun::new(mode, &source, train.clone(), TASK_CLASSES, seed, &device);
                let mut last_loss = 0.0;
                for _ in 0..budget.steps() {
                    last_loss = scalar(run.step());
                }
                let accuracy = pollster::block_on(classifier_accuracy(
                    &run.model(),
                    &target_test,
                    500,
                    &Device::flex(),
                ));
                println!(
                    "seed {seed}, {} labels per class ({} digits), {}: {:.2}% after {} steps (last loss {last_loss:.3}, {:.1} s)",
                    budget.name(),
                    train.len(),
                    mode.name(),
                    accuracy * 100.0,
                    budget.steps(),
                    run_started.elapsed().as_secs_f64()
                );
                results.entry((budget, mode)).or_default().push(accuracy);
            }
        }
    }

    println!(
        "\ntarget test accuracy (%), mean ± standard deviation over seeds 1-{seeds} (per seed)"
    );
    println!("| labels per class | steps | from scratch | frozen features | full fine-tuning |");
    println!("|---|---|---|---|---|");
    for budget in LabelBudget::CHOICES {
        let cells: Vec<String> = TransferMode::ALL
            .iter()
            .map(|&mode| summary(&results[&(budget, mode)]))
            .collect();
        println!(
            "| {} | {} | {} |",
            budget.name(),
            budget.steps(),
            cells.join(" | ")
        );
    }
    println!("sweep time: {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn gan_transfer_sweep(mnist: &Mnist, seeds: u64) -> Result<(), String> {
    let device = Device::flex();
    let classifier = load_classifier(&device)?;
    let config = GanConfig::new();
    let generator = load_weights(
        config.init_generator(&device),
        SOURCE_GENERATOR_PATH,
        "source generator",
    )?;
    let discriminator = load_weights(
        config.init_discriminator(&device),
        SOURCE_DISCRIMINATOR_PATH,
        "source discriminator",
    )?;
    let autodiff = device.clone().autodiff();
    let label_accuracy = |generator: &Generator, digit: u8| {
        pollster::block_on(generated_label_accuracy(
            generator,
            &config,
            &classifier,
            digit..digit + 1,
            GAN_TRANSFER_EVALUATION_SAMPLES,
            EVALUATION_SEED,
            &device,
        ))
    };
    let started = Instant::now();
    let mut results: HashMap<(usize, GanTransferSetting), Vec<f32>> = HashMap::new();
    let mut untrained: Vec<f32> = Vec::new();

    for count in [10, 50] {
        for digit in TARGET_DIGITS {
            if count == 10 {
                untrained.push(label_accuracy(&generator, digit));
            }
            for seed in 1..=seeds {
                let samples = few_shot_digits(&mnist.train, digit, count, seed);
                for setting in GanTransferSetting::ALL {
                    let run_started = Instant::now();
                    let mut run = GanTransferRun::new(
                        setting,
                        (&generator, &discriminator),
                        samples.clone(),
                        seed,
                        &autodiff,
                    );
                    for _ in 0..GAN_TRANSFER_STEPS {
                        let losses = run.step();
                        scalar(losses.discriminator);
                    }
                    let accuracy = label_accuracy(&run.generator(), digit);
                    println!(
                        "digit {digit}, {count} samples, seed {seed}, {}: {:.1}% of {} generated read as {digit} ({:.1} s)",
                        setting.name(),
                        accuracy * 100.0,
                        GAN_TRANSFER_EVALUATION_SAMPLES,
                        run_started.elapsed().as_secs_f64()
                    );
                    results.entry((count, setting)).or_default().push(accuracy);
                }
            }
        }
    }

    println!(
        "\nlabel accuracy (%) of generated target digits under the shipped classifier, after {GAN_TRANSFER_STEPS} steps; mean ± standard deviation over digits 5-9 and seeds 1-{seeds}"
    );
    println!("before fine-tuning: {}", summary(&untrained));
    println!("| samples | FreezeD | full fine-tuning | from scratch |");
    println!("|---|---|---|---|");
    for count in [10, 50] {
        let cells: Vec<String> = GanTransferSetting::ALL
            .iter()
            .map(|&setting| summary(&results[&(count, setting)]))
            .collect();
        println!("| {count} | {} |", cells.join(" | "));
    }
    println!("sweep time: {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn edit_figures(mnist: &Mnist, digits: usize) -> Result<(), String> {
    let device = Device::flex();
    let classifier = load_classifier(&device)?.valid();
    let generator = load_weights(
        GanConfig::new().init_generator(&device),
        GENERATOR_PATH,
        "generator",
    )?
    .valid();

    let digits = digits.min(mnist.test.len());
    let started = Instant::now();
    let mut errors = Vec::with_capacity(digits);
    let (mut recognised, mut reconstructions, mut swaps, mut inpaintings) = (0, 0, 0, 0);
    for index in 0..digits {
        let label = mnist.test.labels[index];
        let edit = edit_drawn_digit(
            &generator,
            &classifier,
            mnist.test.image(index),
            label,
            EDIT_SEED,
            &device,
        );
        let edit = pollster::block_on(edit);
        errors.push(edit.error);
        recognised += usize::from(edit.recognised == label as usize);
        reconstructions += usize::from(edit.reconstruction_read);
        swaps += edit.swaps_read;
        inpaintings += usize::from(edit.inpainting_read);
        if (index + 1) % 10 == 0 {
            println!("edit-figures: {} of {digits} digits", index + 1);
        }
    }

    let seconds = started.elapsed().as_secs_f64();
    errors.sort_by(f32::total_cmp);
    let percent = |count: usize, total: usize| 100.0 * count as f64 / total.max(1) as f64;
    println!("edit-figures: the first {digits} MNIST test digits, drawn on a 280x280 canvas");
    println!(
        "  drawings recognised by the classifier: {recognised}/{digits} ({:.1}%)",
        percent(recognised, digits)
    );
    println!(
        "  reconstruction error (mean squared, pixels -1..1): median {:.4}, 90th percentile {:.4}",
        errors[errors.len() / 2],
        errors[errors.len() * 9 / 10]
    );
    println!(
        "  reconstructions read as the true digit: {reconstructions}/{digits} ({:.1}%)",
        percent(reconstructions, digits)
    );
    println!(
        "  class swaps read as the requested digit: {swaps}/{} ({:.1}%)",
        digits * NUM_CLASSES,
        percent(swaps, digits * NUM_CLASSES)
    );
    println!(
        "  bottom half masked, inpainting read as the true digit: {inpaintings}/{digits} ({:.1}%)",
        percent(inpaintings, digits)
    );
    println!(
        "  {seconds:.0} s in all, {:.2} s per digit (two 200-step inversions and the classifications)",
        seconds / digits.max(1) as f64
    );
    Ok(())
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
        ALL_DIGITS,
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
    let source_train = digit_group(&mnist.train, SOURCE_DIGITS);
    let all_gan = GanPaths {
        generator: GENERATOR_PATH,
        discriminator: DISCRIMINATOR_PATH,
    };
    let source_gan = GanPaths {
        generator: SOURCE_GENERATOR_PATH,
        discriminator: SOURCE_DISCRIMINATOR_PATH,
    };
    match args.first().map(String::as_str) {
        Some("classifier") => train_classifier(
            &mnist.train,
            &mnist.test,
            NUM_CLASSES,
            steps(3000)?,
            CLASSIFIER_PATH,
        ),
        Some("gan") => train_gan(&mnist.train, ALL_DIGITS, steps(6000)?, all_gan),
        Some("source-classifier") => train_classifier(
            &source_train,
            &digit_group(&mnist.test, SOURCE_DIGITS),
            TASK_CLASSES,
            steps(2000)?,
            SOURCE_CLASSIFIER_PATH,
        ),
        // The GAN keeps the labels 0-4, so labels 5-9 stay free for the few-shot targets.
        Some("source-gan") => train_gan(&source_train, SOURCE_DIGITS, steps(4000)?, source_gan),
        Some("transfer-sweep") => transfer_sweep(&mnist, steps(3)? as u64),
        Some("gan-transfer-sweep") => gan_transfer_sweep(&mnist, steps(1)? as u64),
        Some("edit-figures") => edit_figures(&mnist, steps(100)?),
        Some("check") => check(&mnist),
        _ => Err(
            "usage: train classifier|gan|source-classifier|source-gan [steps] | transfer-sweep|gan-transfer-sweep [seeds] | edit-figures [digits] | check"
                .into(),
        ),
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
