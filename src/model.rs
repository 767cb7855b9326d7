//! The models: a CNN digit classifier and a conditional DCGAN (generator and projection
//! discriminator). They are plain burn modules, free of UI code, and run on any burn device.

use burn::module::ParamId;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer,
    Linear, LinearConfig, PaddingConfig2d,
};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu, tanh};

use crate::data::{IMAGE_SIDE, NUM_CLASSES};

/// Side of the feature maps after two 2x downsamplings of a 28x28 image.
const QUARTER_SIDE: usize = IMAGE_SIDE / 4;

/// Standard deviation of the discriminator's label projection at initialisation.
const PROJECTION_INIT_STD: f64 = 0.01;

/// Slope of the discriminator's leaky ReLUs, the DCGAN paper's value (Radford et al., 2016).
const LEAKY_SLOPE: f64 = 0.2;

/// Classifier hyperparameters.
#[derive(Config, Debug)]
pub struct ClassifierConfig {
    /// Channels of the first convolution block (28x28).
    #[config(default = 32)]
    pub channels_1: usize,
    /// Channels of the second and third convolution blocks (14x14 and 7x7).
    #[config(default = 64)]
    pub channels_2: usize,
    /// Width of the head's hidden dense layer.
    #[config(default = 128)]
    pub hidden: usize,
    /// Dropout before the output layer, during training only.
    #[config(default = 0.3)]
    pub dropout: f64,
    /// Number of classes: 10 for MNIST, fewer for a transfer target.
    #[config(default = 10)]
    pub classes: usize,
}

/// A CNN for 28x28 digits: three 3x3 convolution blocks with batch norm (the feature extractor)
/// and a head of a dense layer and an output layer, split so the features can be reused.
#[derive(Module, Debug)]
pub struct Classifier {
    conv_1: Conv2d,
    norm_1: BatchNorm,
    conv_2: Conv2d,
    norm_2: BatchNorm,
    conv_3: Conv2d,
    norm_3: BatchNorm,
    pool: MaxPool2d,
    dense: Linear,
    dropout: Dropout,
    head: Linear,
}

impl ClassifierConfig {
    pub fn init(&self, device: &Device) -> Classifier {
        let conv = |channels: [usize; 2]| {
            Conv2dConfig::new(channels, [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        Classifier {
            conv_1: conv([1, self.channels_1]),
            norm_1: BatchNormConfig::new(self.channels_1).init(device),
            conv_2: conv([self.channels_1, self.channels_2]),
            norm_2: BatchNormConfig::new(self.channels_2).init(device),
            conv_3: conv([self.channels_2, self.channels_2]),
            norm_3: BatchNormConfig::new(self.channels_2).init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            dense: LinearConfig::new(self.channels_2 * QUARTER_SIDE * QUARTER_SIDE, self.hidden)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(self.hidden, self.classes).init(device),
        }
    }
}

impl Classifier {
    /// Computes the convolutional features of each image, the part that transfer learning
    /// reuses.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`, values in [-1, 1]
    /// - output: `[batch, channels_2 * 49]`
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = relu(self.norm_1.forward(self.conv_1.forward(images)));
        let x = self.pool.forward(x); // [batch, c1, 14, 14]
        let x = relu(self.norm_2.forward(self.conv_2.forward(x)));
        let x = self.pool.forward(x); // [batch, c2, 7, 7]
        let x = relu(self.norm_3.forward(self.conv_3.forward(x)));
        x.flatten(1, 3)
    }

    /// Computes class logits from convolutional features with the head: the dense layer,
    /// dropout and the output layer.
    ///
    /// # Shapes
    /// - features: `[batch, channels_2 * 49]`
    /// - output: `[batch, classes]`
    pub fn classify_features(&self, features: Tensor<2>) -> Tensor<2> {
        let hidden = relu(self.dense.forward(features));
        self.head.forward(self.dropout.forward(hidden))
    }

    /// Computes class logits.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`, values in [-1, 1]
    /// - output: `[batch, classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.classify_features(self.features(images))
    }

    /// Ids of the head's parameters (dense and output layers), the only ones that
    /// frozen-feature training updates.
    pub fn head_param_ids(&self) -> Vec<ParamId> {
        let mut ids = Vec::new();
        for layer in [&self.dense, &self.head] {
            ids.push(layer.weight.id);
            ids.extend(layer.bias.as_ref().map(|bias| bias.id));
        }
        ids
    }

    /// Replaces the output layer by a freshly initialised one with `classes` outputs, keeping
    /// the rest.
    pub fn with_new_output_layer(mut self, classes: usize, device: &Device) -> Self {
        let [hidden, _] = self.head.weight.dims();
        self.head = LinearConfig::new(hidden, classes).init(device);
        self
    }

    /// Number of classes the output layer scores.
    pub fn classes(&self) -> usize {
        self.head.weight.dims()[1]
    }
}

/// Conditional DCGAN hyperparameters, for both networks.
#[derive(Config, Debug)]
pub struct GanConfig {
    /// Dimension of the latent vector z.
    #[config(default = 64)]
    pub latent_dim: usize,
    /// Dimension of the generator's learned label embedding, concatenated to z.
    #[config(default = 16)]
    pub label_dim: usize,
    /// Generator channels at 7x7; halved at 14x14.
    #[config(default = 128)]
    pub generator_channels: usize,
    /// Discriminator channels at 14x14; doubled at 7x7.
    #[config(default = 32)]
    pub discriminator_channels: usize,
}

/// Maps a latent vector and a digit label to a 28x28 image in [-1, 1]:
/// dense to 7x7, then two stride-2 transposed convolutions.
#[derive(Module, Debug)]
pub struct Generator {
    label_embedding: Embedding,
    dense: Linear,
    norm_0: BatchNorm,
    up_1: ConvTranspose2d,
    norm_1: BatchNorm,
    up_2: ConvTranspose2d,
    channels: usize,
}

/// Scores how real an image looks for a given label, with a projection discriminator
/// (Miyato and Koyama, 2018): `score = w·h + embed(label)·h` over the image features `h`.
#[derive(Module, Debug)]
pub struct Discriminator {
    down_1: Conv2d,
    down_2: Conv2d,
    norm_2: BatchNorm,
    score: Linear,
    label_projection: Embedding,
}

/// Creates a 4x4, stride-2 convolution that halves the side (28 to 14 to 7).
fn downsample(channels: [usize; 2], device: &Device) -> Conv2d {
    Conv2dConfig::new(channels, [4, 4])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

/// Creates a 4x4, stride-2 transposed convolution that doubles the side (7 to 14 to 28).
fn upsample(channels: [usize; 2], device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new(channels, [4, 4])
        .with_stride([2, 2])
        .with_padding([1, 1])
        .init(device)
}

impl GanConfig {
    pub fn init_generator(&self, device: &Device) -> Generator {
        let channels = self.generator_channels;
        Generator {
            label_embedding: EmbeddingConfig::new(NUM_CLASSES, self.label_dim).init(device),
            dense: LinearConfig::new(
                self.latent_dim + self.label_dim,
                channels * QUARTER_SIDE * QUARTER_SIDE,
            )
            .init(device),
            norm_0: BatchNormConfig::new(channels).init(device),
            up_1: upsample([channels, channels / 2], device),
            norm_1: BatchNormConfig::new(channels / 2).init(device),
            up_2: upsample([channels / 2, 1], device),
            channels,
        }
    }

    pub fn init_discriminator(&self, device: &Device) -> Discriminator {
        let channels = self.discriminator_channels;
        let features = 2 * channels * QUARTER_SIDE * QUARTER_SIDE;
        Discriminator {
            down_1: downsample([1, channels], device),
            down_2: downsample([channels, 2 * channels], device),
            norm_2: BatchNormConfig::new(2 * channels).init(device),
            score: LinearConfig::new(features, 1).init(device),
            // The projection sums over thousands of features, so unit-variance rows (the
            // default) would start with logits in the hundreds and saturate the losses.
            label_projection: EmbeddingConfig::new(NUM_CLASSES, features)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: PROJECTION_INIT_STD,
                })
                .init(device),
        }
    }
}

/// Looks up one embedding row per label.
///
/// # Shapes
/// - labels: `[batch]`
/// - output: `[batch, dim]`
fn embed(embedding: &Embedding, labels: Tensor<1, Int>) -> Tensor<2> {
    let [batch] = labels.dims();
    let rows = embedding.forward(labels.reshape([batch, 1])); // [batch, 1, dim]
    rows.flatten(1, 2)
}

impl Generator {
    /// Generates images.
    ///
    /// # Shapes
    /// - latent: `[batch, latent_dim]`
    /// - labels: `[batch]`, digits 0-9
    /// - output: `[batch, 1, 28, 28]`, values in [-1, 1]
    pub fn forward(&self, latent: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<4> {
        let embedded = embed(&self.label_embedding, labels);
        self.forward_embedded(latent, embedded)
    }

    /// Generates images from a mixture of labels: each row of `label_weights` weighs the ten
    /// label embeddings, so a one-hot row is the same as that digit's label and a blend of two
    /// rows lies between two digits.
    ///
    /// # Shapes
    /// - latent: `[batch, latent_dim]`
    /// - label_weights: `[batch, 10]`
    /// - output: `[batch, 1, 28, 28]`, values in [-1, 1]
    pub fn forward_mixed(&self, latent: Tensor<2>, label_weights: Tensor<2>) -> Tensor<4> {
        let embedded = label_weights.matmul(self.label_embedding.weight.val());
        self.forward_embedded(latent, embedded)
    }

    fn forward_embedded(&self, latent: Tensor<2>, embedded: Tensor<2>) -> Tensor<4> {
        let [batch, _] = latent.dims();
        let input = Tensor::cat(vec![latent, embedded], 1);
        let x =
            self.dense
                .forward(input)
                .reshape([batch, self.channels, QUARTER_SIDE, QUARTER_SIDE]);
        let x = relu(self.norm_0.forward(x));
        let x = relu(self.norm_1.forward(self.up_1.forward(x))); // [batch, channels / 2, 14, 14]
        tanh(self.up_2.forward(x)) // [batch, 1, 28, 28]
    }
}

impl Discriminator {
    /// Returns the first convolution, the layer that FreezeD fine-tuning keeps fixed.
    pub fn input_layer(&self) -> &Conv2d {
        &self.down_1
    }

    /// Scores images as real (positive logits) or generated (negative logits).
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`, values in [-1, 1]
    /// - labels: `[batch]`, digits 0-9
    /// - output: `[batch]`, logits
    pub fn forward(&self, images: Tensor<4>, labels: Tensor<1, Int>) -> Tensor<1> {
        let x = leaky_relu(self.down_1.forward(images), LEAKY_SLOPE); // [batch, c, 14, 14]
        let x = leaky_relu(self.norm_2.forward(self.down_2.forward(x)), LEAKY_SLOPE);
        let features = x.flatten(1, 3); // [batch, 2c * 49]
        let unconditional = self.score.forward(features.clone()).flatten(0, 1); // [batch]
        let projection = (embed(&self.label_projection, labels) * features).sum_dim(1);
        unconditional + projection.flatten(0, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifier_shapes() {
        let device = Device::flex();
        let model = ClassifierConfig::new().init(&device);
        let images = Tensor::<4>::zeros([3, 1, 28, 28], &device);
        assert_eq!(model.features(images.clone()).dims(), [3, 64 * 7 * 7]);
        assert_eq!(model.forward(images).dims(), [3, 10]);
    }

    #[test]
    fn generator_and_discriminator_shapes() {
        let device = Device::flex();
        let config = GanConfig::new();
        let generator = config.init_generator(&device);
        let discriminator = config.init_discriminator(&device);
        let latent = Tensor::<2>::zeros([5, config.latent_dim], &device);
        let labels = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 9], &device);
        let images = generator.forward(latent, labels.clone());
        assert_eq!(images.dims(), [5, 1, 28, 28]);
        assert_eq!(discriminator.forward(images, labels).dims(), [5]);
    }

    #[test]
    fn generator_output_is_in_tanh_range() {
        let device = Device::flex();
        let config = GanConfig::new();
        let generator = config.init_generator(&device);
        let latent = Tensor::<2>::random(
            [4, config.latent_dim],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let images = generator.forward(latent, Tensor::<1, Int>::from_ints([1, 2, 3, 4], &device));
        let values = images.into_data().try_into_vec_as::<f32>().unwrap();
        assert!(values.iter().all(|value| (-1.0..=1.0).contains(value)));
    }

    #[test]
    fn one_hot_label_weights_match_labels() {
        let device = Device::flex();
        let config = GanConfig::new();
        let generator = config.init_generator(&device).valid();
        let latent = Tensor::<2>::random(
            [2, config.latent_dim],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let by_label =
            generator.forward(latent.clone(), Tensor::<1, Int>::from_ints([3, 8], &device));
        let mut weights = vec![0.0f32; 20];
        weights[3] = 1.0;
        weights[10 + 8] = 1.0;
        let weights = Tensor::<1>::from_floats(weights.as_slice(), &device).reshape([2, 10]);
        let by_weights = generator.forward_mixed(latent, weights);
        let difference = (by_label - by_weights).abs().max().into_scalar::<f32>();
        assert!(difference < 1e-5, "largest difference {difference}");
    }
}
