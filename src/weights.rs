//! Saving and loading module weights as burnpack bytes, and the paths of the shipped weights.

use burn::module::Module;
use burn::tensor::Bytes;

/// Shipped classifier weights, relative to the repository root and to the served page.
pub const CLASSIFIER_PATH: &str = "assets/weights/classifier.bpk";
/// Shipped generator weights.
pub const GENERATOR_PATH: &str = "assets/weights/generator.bpk";
/// Shipped discriminator weights, so training can continue from the shipped GAN.
pub const DISCRIMINATOR_PATH: &str = "assets/weights/discriminator.bpk";
/// Classifier pretrained on the source digits 0-4 only, with a 5-class head.
pub const SOURCE_CLASSIFIER_PATH: &str = "assets/weights/source-classifier.bpk";
/// Generator pretrained on the source digits 0-4 only, the start of few-shot GAN transfer.
pub const SOURCE_GENERATOR_PATH: &str = "assets/weights/source-generator.bpk";
/// Discriminator pretrained with that generator.
pub const SOURCE_DISCRIMINATOR_PATH: &str = "assets/weights/source-discriminator.bpk";

/// Failure to save or load weights.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("could not serialise weights: {0}")]
    Save(String),
    #[error(
        "invalid {model_name} weights ({reason}): the file is corrupt or from another model version"
    )]
    Load {
        model_name: &'static str,
        reason: String,
    },
}

/// Serialises a module's parameters and buffers to burnpack bytes.
///
/// NOTE: this reads tensors synchronously, so on WebGPU in the browser the module must first be
/// moved to a CPU device.
pub fn to_bytes<M: Module>(module: M) -> Result<Vec<u8>, WeightsError> {
    let bytes = module
        .into_record()
        .into_bytes()
        .map_err(|error| WeightsError::Save(error.to_string()))?;
    Ok(bytes.to_vec())
}

/// Loads burnpack bytes into `module`, which must have the same structure. `model_name` names
/// the model in error messages.
pub fn load<M: Module>(
    module: M,
    bytes: Vec<u8>,
    model_name: &'static str,
) -> Result<M, WeightsError> {
    let failed = |reason: String| WeightsError::Load { model_name, reason };
    let record = burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|error| failed(error.to_string()))?;
    module
        .try_load_record(record)
        .map_err(|error| failed(error.to_string()))
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use super::*;
    use crate::model::{ClassifierConfig, GanConfig};

    fn logits(model: &crate::model::Classifier, device: &Device) -> Vec<f32> {
        let input = Tensor::<4>::ones([2, 1, 28, 28], device);
        model
            .forward(input)
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap()
    }

    #[test]
    fn classifier_round_trips() {
        let device = Device::flex();
        let config = ClassifierConfig::new();
        let model = config.init(&device);
        let expected = logits(&model, &device);
        let bytes = to_bytes(model).unwrap();
        let loaded = load(config.init(&device), bytes, "classifier").unwrap();
        assert_eq!(logits(&loaded, &device), expected);
    }

    #[test]
    fn load_rejects_garbage() {
        let device = Device::flex();
        let error = load(
            ClassifierConfig::new().init(&device),
            b"not weights".to_vec(),
            "classifier",
        )
        .unwrap_err();
        assert!(
            error.to_string().starts_with("invalid classifier weights"),
            "{error}"
        );
    }

    #[test]
    fn load_rejects_another_model() {
        let device = Device::flex();
        let generator = to_bytes(GanConfig::new().init_generator(&device)).unwrap();
        let error = load(
            ClassifierConfig::new().init(&device),
            generator,
            "classifier",
        );
        assert!(error.is_err());
    }
}
