//! Saving and loading module weights as burnpack bytes, and the paths of the shipped weights.

use burn::module::Module;
use burn::tensor::Bytes;

/// Shipped classifier weights, relative to the repository root and to the served page.
pub const CLASSIFIER_PATH: &str = "assets/weights/classifier.bpk";
/// Shipped generator weights.
pub const GENERATOR_PATH: &str = "assets/weights/generator.bpk";
/// Shipped discriminator weights, so training can continue from the shipped GAN.
pub const DISCRIMINATOR_PATH: &str = "assets/weights/discriminator.bpk";

/// Failure to save or load weights.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("could not serialise weights: {0}")]
    Save(String),
    #[error("invalid {what} weights ({reason}); the file is corrupt or from another model version")]
    Load { what: &'static str, reason: String },
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

/// Loads burnpack bytes into `module`, which must have the same structure; `what` names the
/// model in error messages.
pub fn load<M: Module>(module: M, bytes: Vec<u8>, what: &'static str) -> Result<M, WeightsError> {
    let failed = |reason: String| WeightsError::Load { what, reason };
    let record = burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|error| failed(error.to_string()))?;
    module
        .try_load_record(record)
        .map_err(|error| failed(error.to_string()))
}
