//! Transfer learning on MNIST. The source task is the digits 0-4 and the target task the digits
//! 5-9 with a label budget; a classifier learns the target in one of three ways, and the
//! conditional GAN is fine-tuned from a few samples of a digit it never saw. Everything here drives the shared trainers of
//! [`crate::training`] one step at a time, so the native CLI, the tests and the browser worker
//! run the same code.

use std::ops::Range;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{BatchSampler, Digits, IMAGE_PIXELS, SplitMix64};
use crate::model::{Classifier, ClassifierConfig, Discriminator, GanConfig, Generator};
use crate::training::{
    BackboneTraining, ClassifierTrainer, ClassifierTrainingConfig, GanLosses, GanTrainer,
    GanTrainingConfig, shifted_batch,
};

/// Digits of the source task, the one the shipped transfer models were pretrained on.
pub const SOURCE_DIGITS: Range<u8> = 0..5;
/// Digits of the target task.
pub const TARGET_DIGITS: Range<u8> = 5..10;
/// Classes in each task.
pub const TASK_CLASSES: usize = 5;

/// Labelled target training digits per class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LabelBudget {
    PerClass(usize),
    /// Every training digit of the class (about 5,900 for MNIST digits 5-9).
    All,
}

impl LabelBudget {
    /// The budgets the transfer lab offers and sweeps, smallest first.
    pub const CHOICES: [LabelBudget; 6] = [
        Self::PerClass(1),
        Self::PerClass(5),
        Self::PerClass(10),
        Self::PerClass(50),
        Self::PerClass(100),
        Self::All,
    ];

    /// Short name for menus and tables: the count, or "all".
    pub fn name(self) -> String {
        match self {
            Self::PerClass(count) => count.to_string(),
            Self::All => "all".to_string(),
        }
    }

    /// Describes the budget in a sentence: "1 label per class", "all labels".
    pub fn describe(self) -> String {
        match self {
            Self::PerClass(1) => "1 label per class".to_string(),
            Self::PerClass(count) => format!("{count} labels per class"),
            Self::All => "all labels".to_string(),
        }
    }

    /// Training steps for one run at this budget, the same for every mode so the modes are
    /// compared at equal compute.
    pub fn steps(self) -> usize {
        match self {
            Self::PerClass(count) if count <= 10 => 100,
            Self::PerClass(count) if count <= 100 => 200,
            _ => 600,
        }
    }
}

/// The start and the trained layers of a target classifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TransferMode {
    /// Random initialisation; every layer trains.
    Scratch,
    /// The source model's convolutional features, frozen; the head (dense layer and a new
    /// output layer) trains.
    Frozen,
    /// The source model's convolutional features at a lower learning rate, and the head.
    FineTune,
}

impl TransferMode {
    pub const ALL: [TransferMode; 3] = [Self::Scratch, Self::Frozen, Self::FineTune];

    pub fn name(self) -> &'static str {
        match self {
            Self::Scratch => "from scratch",
            Self::Frozen => "frozen features",
            Self::FineTune => "full fine-tuning",
        }
    }
}

/// Learning-rate factor of the feature extractor under [`TransferMode::FineTune`].
pub const FINE_TUNE_BACKBONE_SCALE: f64 = 0.1;

/// Returns the digits whose labels lie in `group`, relabelled to `0..group.len()`.
pub fn digit_group(digits: &Digits, group: Range<u8>) -> Digits {
    let indices: Vec<usize> = (0..digits.len())
        .filter(|&index| group.contains(&digits.labels[index]))
        .collect();
    let mut subset = subset(digits, &indices);
    for label in &mut subset.labels {
        *label -= group.start;
    }
    subset
}

/// Returns the digits at `indices`, in that order.
pub fn subset(digits: &Digits, indices: &[usize]) -> Digits {
    let mut pixels = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
    for &index in indices {
        pixels.extend_from_slice(digits.image(index));
    }
    let labels = indices.iter().map(|&index| digits.labels[index]).collect();
    Digits { labels, pixels }
}

/// Picks up to `budget` indices of each class in `0..classes`, at random but the same for a
/// seed, class by class. A class with fewer digits than the budget gives all it has.
pub fn budget_indices(labels: &[u8], classes: usize, budget: LabelBudget, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed);
    let mut chosen = Vec::new();
    for class in 0..classes {
        let mut members: Vec<usize> = (0..labels.len())
            .filter(|&index| labels[index] as usize == class)
            .collect();
        rng.shuffle(&mut members);
        let take = match budget {
            LabelBudget::PerClass(count) => count.min(members.len()),
            LabelBudget::All => members.len(),
        };
        chosen.extend_from_slice(&members[..take]);
    }
    chosen
}

/// One classifier trained on a few target digits in one [`TransferMode`].
pub struct TransferRun {
    pub mode: TransferMode,
    pub trainer: ClassifierTrainer,
    train: Digits,
    sampler: BatchSampler,
    rng: SplitMix64,
    device: Device,
    /// Steps taken so far.
    pub step: usize,
}

impl TransferRun {
    /// Prepares a run on `train` (labels `0..classes`). `source` is the pretrained classifier
    /// whose feature extractor the transfer modes start from; `device` must be an autodiff
    /// device. The seed fixes the new weights, the batch order and the augmentation.
    pub fn new(
        mode: TransferMode,
        source: &Classifier,
        train: Digits,
        classes: usize,
        seed: u64,
        device: &Device,
    ) -> Self {
        device.seed(seed);
        let model = match mode {
            TransferMode::Scratch => ClassifierConfig::new().with_classes(classes).init(device),
            TransferMode::Frozen | TransferMode::FineTune => {
                // `fork` (unlike `to_device`) gives the copy its own leaf parameters, which
                // the optimiser can update step after step.
                let backbone = source.clone().fork(device).train();
                backbone.with_new_output_layer(classes, device)
            }
        };
        let backbone = match mode {
            TransferMode::Scratch => BackboneTraining::Train {
                learning_rate_scale: 1.0,
            },
            TransferMode::Frozen => BackboneTraining::Frozen,
            TransferMode::FineTune => BackboneTraining::Train {
                learning_rate_scale: FINE_TUNE_BACKBONE_SCALE,
            },
        };
        let config = ClassifierTrainingConfig::new().with_backbone(backbone);
        Self {
            mode,
            trainer: ClassifierTrainer::new(model, config),
            sampler: BatchSampler::new(train.len(), seed),
            train,
            rng: SplitMix64::new(seed.wrapping_add(1)),
            device: device.clone(),
            step: 0,
        }
    }

    /// Runs one step on a batch of at most 64 training digits; returns the detached loss.
    pub fn step(&mut self) -> Tensor<1> {
        let size = self.trainer.config.batch_size.min(self.train.len());
        let indices = self.sampler.next_batch(size);
        let shift = self.trainer.config.max_shift;
        let (images, labels) =
            shifted_batch(&self.train, &indices, shift, &mut self.rng, &self.device);
        self.step += 1;
        self.trainer.step(images, labels)
    }

    /// Returns the model in inference mode, for evaluation.
    pub fn model(&self) -> Classifier {
        self.trainer.model.valid()
    }

    /// Returns the autodiff device the run trains on.
    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// The three ways of fitting the pretrained GAN to a few samples of a new target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GanTransferSetting {
    /// Pretrained weights; the discriminator's input layer stays fixed (FreezeD).
    FreezeD,
    /// Pretrained weights; both networks train fully.
    FineTune,
    /// Random weights trained on the few samples alone.
    Scratch,
}

impl GanTransferSetting {
    pub const ALL: [GanTransferSetting; 3] = [Self::FreezeD, Self::FineTune, Self::Scratch];

    pub fn name(self) -> &'static str {
        match self {
            Self::FreezeD => "FreezeD fine-tuning",
            Self::FineTune => "full fine-tuning",
            Self::Scratch => "from scratch",
        }
    }
}

/// Steps of one few-shot GAN run.
pub const GAN_TRANSFER_STEPS: usize = 300;
/// Generated digits scored by the classifier after a few-shot GAN run on a digit.
pub const GAN_TRANSFER_EVALUATION_SAMPLES: usize = 200;
/// Real samples per few-shot GAN step, drawn with replacement from the target samples.
pub const GAN_TRANSFER_BATCH: usize = 32;
/// Largest random shift of the few-shot samples, a cheap augmentation against memorising them.
pub const GAN_TRANSFER_SHIFT: usize = 2;

/// A conditional GAN fine-tuned on a few samples of one target, all given one label that the
/// source GAN never trained on.
pub struct GanTransferRun {
    pub setting: GanTransferSetting,
    pub trainer: GanTrainer,
    samples: Digits,
    rng: SplitMix64,
    device: Device,
    /// Steps taken so far.
    pub step: usize,
}

impl GanTransferRun {
    /// Prepares a run. `samples` carry the target label; `device` must be an autodiff device.
    pub fn new(
        setting: GanTransferSetting,
        source: (&Generator, &Discriminator),
        samples: Digits,
        seed: u64,
        device: &Device,
    ) -> Self {
        device.seed(seed);
        let model_config = GanConfig::new();
        let (generator, discriminator) = match setting {
            GanTransferSetting::Scratch => (
                model_config.init_generator(device),
                model_config.init_discriminator(device),
            ),
            GanTransferSetting::FreezeD | GanTransferSetting::FineTune => (
                source.0.clone().fork(device).train(),
                source.1.clone().fork(device).train(),
            ),
        };
        let config = GanTrainingConfig::new()
            .with_batch_size(GAN_TRANSFER_BATCH)
            .with_freeze_discriminator_input(setting == GanTransferSetting::FreezeD);
        Self {
            setting,
            trainer: GanTrainer::new(generator, discriminator, model_config, config),
            samples,
            rng: SplitMix64::new(seed.wrapping_add(1)),
            device: device.clone(),
            step: 0,
        }
    }

    /// Runs one discriminator and one generator step; returns the detached losses.
    pub fn step(&mut self) -> GanLosses {
        let indices: Vec<usize> = (0..GAN_TRANSFER_BATCH)
            .map(|_| self.rng.below(self.samples.len()))
            .collect();
        let (images, labels) = shifted_batch(
            &self.samples,
            &indices,
            GAN_TRANSFER_SHIFT,
            &mut self.rng,
            &self.device,
        );
        self.step += 1;
        self.trainer.step(images, labels, &mut self.rng)
    }

    /// The generator in inference mode.
    pub fn generator(&self) -> Generator {
        self.trainer.generator.valid()
    }
}

/// Returns `count` training digits of `digit` (chosen by `seed`), labelled `digit`.
pub fn few_shot_digits(train: &Digits, digit: u8, count: usize, seed: u64) -> Digits {
    let members: Vec<usize> = (0..train.len())
        .filter(|&index| train.labels[index] == digit)
        .collect();
    let class_labels = vec![0; members.len()];
    let picked = budget_indices(&class_labels, 1, LabelBudget::PerClass(count), seed);
    let indices: Vec<usize> = picked.into_iter().map(|slot| members[slot]).collect();
    subset(train, &indices)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use burn::module::{ModuleVisitor, Param, ParamId};

    use super::*;
    use crate::data::IMAGE_PIXELS;

    /// Twelve noise images of each digit 0-9, in label order.
    fn fixture_digits() -> Digits {
        let mut rng = SplitMix64::new(5);
        let labels: Vec<u8> = (0..120).map(|i| (i / 12) as u8).collect();
        let pixels = (0..labels.len() * IMAGE_PIXELS)
            .map(|_| (rng.below(4) * 85) as u8)
            .collect();
        Digits::new(labels, pixels).unwrap()
    }

    /// Every float tensor of a module, keyed by parameter id, and the ids of the trainable ones.
    #[derive(Default)]
    struct TensorCollector {
        tensors: HashMap<ParamId, Vec<f32>>,
        trainable: Vec<ParamId>,
    }

    impl ModuleVisitor for TensorCollector {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let tensor = param.val();
            if tensor.is_require_grad() {
                self.trainable.push(param.id);
            }
            let values = tensor.into_data().try_into_vec_as::<f32>().unwrap();
            self.tensors.insert(param.id, values);
        }
    }

    fn tensors<M: Module>(module: &M) -> HashMap<ParamId, Vec<f32>> {
        let mut collector = TensorCollector::default();
        module.visit(&mut collector);
        collector.tensors
    }

    fn trainable_ids<M: Module>(module: &M) -> Vec<ParamId> {
        let mut collector = TensorCollector::default();
        module.visit(&mut collector);
        collector.trainable
    }

    fn ids<M: Module>(module: &M) -> Vec<ParamId> {
        tensors(module).into_keys().collect()
    }

    #[test]
    fn digit_group_keeps_and_relabels_the_group() {
        let digits = fixture_digits();
        let target = digit_group(&digits, TARGET_DIGITS);
        assert_eq!(target.len(), 60);
        assert!(target.labels.iter().all(|&label| label < 5));
        // The first target digit is the first 5 of the fixture, now labelled 0.
        assert_eq!(target.labels[0], 0);
        assert_eq!(target.image(0), digits.image(60));
    }

    #[test]
    fn budget_picks_the_count_of_each_class() {
        let labels: Vec<u8> = (0..100).map(|i| (i % 5) as u8).collect();
        let chosen = budget_indices(&labels, 5, LabelBudget::PerClass(3), 7);
        assert_eq!(chosen.len(), 15);
        for class in 0..5u8 {
            let count = chosen.iter().filter(|&&i| labels[i] == class).count();
            assert_eq!(count, 3, "class {class}");
        }
        let mut unique = chosen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), chosen.len(), "an index was picked twice");
    }

    #[test]
    fn budget_is_deterministic_for_a_seed() {
        let labels: Vec<u8> = (0..100).map(|i| (i % 5) as u8).collect();
        let first = budget_indices(&labels, 5, LabelBudget::PerClass(4), 11);
        let again = budget_indices(&labels, 5, LabelBudget::PerClass(4), 11);
        let other = budget_indices(&labels, 5, LabelBudget::PerClass(4), 12);
        assert_eq!(first, again);
        assert_ne!(first, other);
    }

    #[test]
    fn budget_all_and_short_classes() {
        let labels: Vec<u8> = vec![0, 0, 0, 1, 2, 2];
        let all = budget_indices(&labels, 3, LabelBudget::All, 1);
        assert_eq!(all.len(), 6);
        let two = budget_indices(&labels, 3, LabelBudget::PerClass(2), 1);
        // Class 1 has a single digit, so it gives one.
        assert_eq!(two.len(), 5);
    }

    #[test]
    fn few_shot_digits_are_one_digit() {
        let digits = fixture_digits();
        let samples = few_shot_digits(&digits, 7, 5, 3);
        assert_eq!(samples.len(), 5);
        assert!(samples.labels.iter().all(|&label| label == 7));
    }

    /// Trains a 5-class run from a random "source" model for a few steps; returns the model
    /// before and after.
    fn train_run(mode: TransferMode) -> (Classifier, Classifier) {
        let device = Device::flex().autodiff();
        // Shipped source weights load on a plain device, so the fixture starts there too.
        let source = ClassifierConfig::new()
            .with_classes(TASK_CLASSES)
            .init(&Device::flex());
        let train = digit_group(&fixture_digits(), TARGET_DIGITS);
        let mut run = TransferRun::new(mode, &source, train, TASK_CLASSES, 1, &device);
        let before = run.trainer.model.clone();
        for _ in 0..3 {
            run.step();
        }
        (before, run.trainer.model.clone())
    }

    #[test]
    fn frozen_mode_changes_only_the_head() {
        let (before, after) = train_run(TransferMode::Frozen);
        let head_ids = before.head_param_ids();
        let (before_tensors, after_tensors) = (tensors(&before), tensors(&after));
        for (id, values) in &before_tensors {
            if head_ids.contains(id) {
                assert_ne!(
                    values, &after_tensors[id],
                    "head parameter {id} did not train"
                );
            } else {
                assert_eq!(values, &after_tensors[id], "frozen tensor {id} changed");
            }
        }
        // Batch-norm statistics are buffers: compare the features in inference mode bit by bit.
        let images = Tensor::<4>::ones([2, 1, 28, 28], &Device::flex());
        let features_before = before.valid().features(images.clone()).into_data();
        let features_after = after.valid().features(images).into_data();
        assert_eq!(features_before, features_after);
    }

    #[test]
    fn fine_tune_mode_trains_the_backbone() {
        let (before, after) = train_run(TransferMode::FineTune);
        let head_ids = before.head_param_ids();
        let after_tensors = tensors(&after);
        let changed_backbone = tensors(&before)
            .iter()
            .filter(|(id, _)| !head_ids.contains(id))
            .filter(|(id, values)| *values != &after_tensors[*id])
            .count();
        assert!(changed_backbone > 0, "no backbone tensor changed");
    }

    #[test]
    fn scratch_mode_trains_every_tensor() {
        let (before, after) = train_run(TransferMode::Scratch);
        let (before_tensors, after_tensors) = (tensors(&before), tensors(&after));
        let trainable = trainable_ids(&before);
        // Ten layers: weights and biases of 3 convolutions, the dense layer and the head, and
        // the scale and shift of 3 batch norms.
        assert_eq!(trainable.len(), 16);
        for id in trainable {
            assert_ne!(
                before_tensors[&id], after_tensors[&id],
                "tensor {id} did not train"
            );
        }
    }

    #[test]
    fn freeze_d_keeps_the_discriminator_input_layer() {
        let device = Device::flex().autodiff();
        let config = GanConfig::new();
        let generator = config.init_generator(&Device::flex());
        let discriminator = config.init_discriminator(&Device::flex());
        let samples = few_shot_digits(&fixture_digits(), 8, 6, 2);
        let mut run = GanTransferRun::new(
            GanTransferSetting::FreezeD,
            (&generator, &discriminator),
            samples,
            4,
            &device,
        );
        let before = run.trainer.discriminator.clone();
        let generator_before = tensors(&run.trainer.generator);
        for _ in 0..2 {
            run.step();
        }
        let frozen_ids = ids(before.input_layer());
        let after = tensors(&run.trainer.discriminator);
        let mut trained = 0;
        for (id, values) in tensors(&before) {
            if frozen_ids.contains(&id) {
                assert_eq!(
                    values, after[&id],
                    "frozen discriminator tensor {id} changed"
                );
            } else if values != after[&id] {
                trained += 1;
            }
        }
        assert!(trained > 0, "no upper discriminator layer trained");
        assert_ne!(generator_before, tensors(&run.trainer.generator));
    }
}
