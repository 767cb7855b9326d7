//! GAN editing with the shipped generator and classifier, natively on the CPU: inversion must
//! find generated digits and held-out MNIST digits drawn on the canvas again, the found latents
//! must redraw as other digits, and inpainting must complete half-masked MNIST test digits.

#![cfg(not(target_arch = "wasm32"))]

use burn::prelude::*;
use ganvas::data::{IMAGE_PIXELS, SplitMix64, decode_asset, pixel_to_signed};
use ganvas::editing::{Fit, Inversion, InversionConfig, render};
use ganvas::evaluate::{edit_drawn_digit, predicted_classes, read_floats};
use ganvas::model::{Classifier, ClassifierConfig, GanConfig, Generator};
use ganvas::training::latent_batch;
use ganvas::weights::{self, CLASSIFIER_PATH, GENERATOR_PATH};

/// Largest accepted median reconstruction error (mean squared, pixels in [-1, 1]) when the
/// target is itself a generated digit. Seed 21 with inversion seed 11 gave 0.0022.
const MAX_MEDIAN_ERROR: f32 = 0.01;
/// Minimum share of reconstructions, swaps and inpaintings the classifier must read as asked.
const MIN_RATE: f32 = 0.9;
/// Minimum share of half-masked test digits whose inpainting keeps the digit; the first 20 MNIST
/// test digits gave 19.
const MIN_INPAINT_RATE: f32 = 0.8;
/// Largest accepted median reconstruction error of MNIST test digits drawn on the canvas. These
/// are harder to reproduce than generated digits: `train edit-figures 200` measured 0.0127.
const MAX_DRAWN_MEDIAN_ERROR: f32 = 0.03;
/// MNIST test digits (the first ones, never trained on) drawn on the canvas in the test.
const DRAWN_DIGITS: usize = 20;

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

fn models(device: &Device) -> (Generator, Classifier) {
    let generator = weights::load(
        GanConfig::new().init_generator(device),
        read(GENERATOR_PATH),
        "generator",
    )
    .expect("shipped generator loads");
    let classifier = weights::load(
        ClassifierConfig::new().init(device),
        read(CLASSIFIER_PATH),
        "classifier",
    )
    .expect("shipped classifier loads");
    (generator, classifier)
}

fn invert(generator: &Generator, target: &[f32], mask: Option<&[f32]>, label: u8) -> Fit {
    let device = Device::flex().autodiff();
    let config = InversionConfig::new();
    let steps = config.steps;
    let mut inversion = Inversion::new(generator, target, mask, label, config, 11, &device);
    for _ in 0..steps {
        inversion.step();
    }
    pollster::block_on(inversion.best())
}

fn classify(classifier: &Classifier, images: Tensor<4>) -> Vec<usize> {
    pollster::block_on(predicted_classes(classifier.forward(images)))
}

fn rate(hits: usize, total: usize) -> f32 {
    hits as f32 / total as f32
}

#[test]
fn inversion_finds_generated_digits_and_swaps_them() {
    let device = Device::flex();
    let (generator, classifier) = models(&device);
    let mut rng = SplitMix64::new(21);
    let originals = latent_batch(10, GanConfig::new().latent_dim, &mut rng, &device);
    let digits: Vec<u8> = (0..10).collect();
    let labels = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], &device);
    let targets = pollster::block_on(read_floats(generator.forward(originals, labels)));

    let mut errors = Vec::new();
    let mut recognised = 0;
    let mut swapped = 0;
    for &digit in &digits {
        let target = &targets[digit as usize * IMAGE_PIXELS..(digit as usize + 1) * IMAGE_PIXELS];
        let fit = invert(&generator, target, None, digit);
        errors.push(fit.error);
        if classify(
            &classifier,
            render(&generator, &fit.latent, &[digit], &device),
        )[0] == digit as usize
        {
            recognised += 1;
        }
        let swaps = classify(
            &classifier,
            render(&generator, &fit.latent, &digits, &device),
        );
        swapped += swaps
            .iter()
            .enumerate()
            .filter(|&(label, &class)| label == class)
            .count();
    }
    errors.sort_by(f32::total_cmp);
    let median = errors[errors.len() / 2];
    println!(
        "inversion of 10 generated digits: median error {median:.4}, {recognised}/10 read as the original, {swapped}/100 swaps read as the requested digit"
    );
    assert!(median <= MAX_MEDIAN_ERROR, "median error {median}");
    assert!(
        rate(recognised, 10) >= MIN_RATE,
        "{recognised}/10 recognised"
    );
    assert!(rate(swapped, 100) >= MIN_RATE, "{swapped}/100 swaps");
}

#[test]
fn inpainting_completes_half_digits() {
    let device = Device::flex();
    let (generator, classifier) = models(&device);
    let mnist = decode_asset(&read("assets/mnist.bin.gz")).expect("shipped MNIST asset decodes");
    // Only the left half of each digit is fitted; the generator draws the right half. The
    // inversion is conditioned on the true label, as when the visitor names the digit.
    let mask: Vec<f32> = (0..IMAGE_PIXELS)
        .map(|index| if index % 28 < 14 { 1.0 } else { 0.0 })
        .collect();
    let count = 20;
    let mut kept = 0;
    for index in 0..count {
        let digit = mnist.test.labels[index];
        let target: Vec<f32> = mnist
            .test
            .image(index)
            .iter()
            .map(|&pixel| pixel_to_signed(pixel))
            .collect();
        let fit = invert(&generator, &target, Some(&mask), digit);
        if classify(
            &classifier,
            render(&generator, &fit.latent, &[digit], &device),
        )[0] == digit as usize
        {
            kept += 1;
        }
    }
    println!(
        "inpainting the right half of {count} MNIST test digits: {kept} read as the original digit"
    );
    assert!(
        rate(kept, count) >= MIN_INPAINT_RATE,
        "{kept}/{count} kept their digit"
    );
}

#[test]
fn held_out_digits_drawn_on_the_canvas() {
    let device = Device::flex();
    let (generator, classifier) = models(&device);
    let (generator, classifier) = (generator.valid(), classifier.valid());
    let mnist = decode_asset(&read("assets/mnist.bin.gz")).expect("shipped MNIST asset decodes");

    let mut errors = Vec::new();
    let (mut reconstructions, mut swaps, mut inpaintings) = (0, 0, 0);
    for index in 0..DRAWN_DIGITS {
        let edit = pollster::block_on(edit_drawn_digit(
            &generator,
            &classifier,
            mnist.test.image(index),
            mnist.test.labels[index],
            1,
            &device,
        ));
        errors.push(edit.error);
        reconstructions += usize::from(edit.reconstruction_read);
        swaps += edit.swaps_read;
        inpaintings += usize::from(edit.inpainting_read);
    }

    errors.sort_by(f32::total_cmp);
    let median = errors[errors.len() / 2];
    println!(
        "{DRAWN_DIGITS} MNIST test digits drawn on the canvas: median error {median:.4}, {reconstructions} reconstructions, {swaps}/{} swaps and {inpaintings} bottom-half inpaintings read as asked",
        DRAWN_DIGITS * 10
    );
    assert!(median <= MAX_DRAWN_MEDIAN_ERROR, "median error {median}");
    assert!(
        rate(reconstructions, DRAWN_DIGITS) >= MIN_RATE,
        "{reconstructions}/{DRAWN_DIGITS} reconstructions read as the digit"
    );
    assert!(
        rate(swaps, DRAWN_DIGITS * 10) >= MIN_RATE,
        "{swaps}/{} swaps read as requested",
        DRAWN_DIGITS * 10
    );
    assert!(
        rate(inpaintings, DRAWN_DIGITS) >= MIN_INPAINT_RATE,
        "{inpaintings}/{DRAWN_DIGITS} inpaintings read as the digit"
    );
}
