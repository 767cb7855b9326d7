//! Messages between the page and the training worker, sent as JSON strings through
//! `postMessage`. Both sides decode with [`decode`], so a malformed message becomes an error the
//! UI can show instead of a panic.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::transfer::{GanTransferSetting, LabelBudget, TransferMode};

/// The compute backend that the visitor requested.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackendPreference {
    /// WebGPU on a hardware adapter that passes the start-up self-test, else the CPU.
    #[default]
    Auto,
    /// WebGPU on any adapter the browser offers, software ones included; the CPU only when
    /// WebGPU is missing or fails the self-test.
    Gpu,
    /// burn's flex CPU backend.
    Cpu,
}

impl BackendPreference {
    /// Parses the `backend` query parameter (`auto`, `gpu`, `cpu`).
    pub fn from_query(value: &str) -> Option<Self> {
        match value {
            "auto" => Some(Self::Auto),
            "gpu" | "webgpu" => Some(Self::Gpu),
            "cpu" => Some(Self::Cpu),
            _ => None,
        }
    }
}

/// The backend the worker trains on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackendKind {
    WebGpu,
    Cpu,
}

/// The starting point of a GAN training run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartFrom {
    /// The generator and discriminator weights shipped with the app.
    #[default]
    Shipped,
    /// Freshly initialised networks.
    Scratch,
}

/// Page to worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Loads data and weights, picks the backend and prepares a run. Sent once, after `Ready`.
    Init {
        preference: BackendPreference,
        start: StartFrom,
    },
    /// Starts or resumes training.
    Train,
    /// Pauses after the step in progress.
    Pause,
    /// Runs exactly one step while paused.
    Step,
    /// Discards the run and prepares a new one.
    Reset { start: StartFrom },
    /// Switches the backend; the run restarts from `start` on the new backend.
    SetBackend {
        preference: BackendPreference,
        start: StartFrom,
    },
    /// Starts a classifier transfer experiment, replacing any transfer-lab job in progress.
    Transfer(TransferRequest),
    /// Fine-tunes a classifier on the visitor's drawn classes.
    Teach(TeachRequest),
    /// Fine-tunes the source GAN to a new target in the three settings side by side.
    GanTransfer(GanTransferRequest),
    /// Finds the drawing in the GAN's latent space (GAN inversion).
    Invert(InvertRequest),
    /// Stops the transfer-lab job in progress.
    StopJob,
}

/// A drawing to find in the latent space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvertRequest {
    /// 28x28 drawing, 0 = background, 255 = ink, row-major.
    pub pixels: Vec<u8>,
    /// The digit to find it as.
    pub label: u8,
    pub seed: u64,
    /// For inpainting: the weight of each pixel in the fit, 255 = fitted, 0 = masked (the
    /// generator redraws it). `None` fits every pixel.
    #[serde(default)]
    pub known: Option<Vec<u8>>,
}

/// Classifier transfer from digits 0-4 to digits 5-9: one run per budget and mode, budgets in
/// the outer loop, all on target samples chosen by `seed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferRequest {
    pub budgets: Vec<LabelBudget>,
    pub modes: Vec<TransferMode>,
    pub seed: u64,
}

/// A 28x28 drawing of one of the visitor's classes (0 = background, 255 = ink), row-major.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DrawnExample {
    /// Index into the request's class names.
    pub class: usize,
    pub pixels: Vec<u8>,
}

/// The visitor's own classes and their drawn examples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeachRequest {
    pub class_names: Vec<String>,
    pub examples: Vec<DrawnExample>,
    pub mode: TransferMode,
    pub seed: u64,
}

/// The target that the few-shot GAN learns to draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum GanTarget {
    /// `samples` MNIST training digits of a digit the source GAN never saw (5-9).
    Digit { digit: u8, samples: usize },
    /// The visitor's drawings of a new symbol, 28x28 bytes each.
    Drawn {
        name: String,
        examples: Vec<Vec<u8>>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GanTransferRequest {
    pub target: GanTarget,
    pub seed: u64,
}

/// The kinds of transfer-lab jobs; the worker runs one at a time next to GAN training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobKind {
    Transfer,
    Teach,
    GanTransfer,
    Invert,
}

/// Final accuracy of one transfer run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferResult {
    pub budget: LabelBudget,
    pub mode: TransferMode,
    pub seed: u64,
    /// Fraction of the held-out target test digits classified correctly.
    pub accuracy: f32,
    /// Labelled target digits trained on.
    pub train_digits: usize,
    /// Held-out target test digits measured on (MNIST test digits 5-9).
    pub test_digits: usize,
    pub steps: usize,
}

/// The best fit of a GAN inversion after `step` of `steps` steps; `done` after the last.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvertProgress {
    pub step: usize,
    pub steps: usize,
    /// Mean squared error over the drawing's pixels, in the [-1, 1] pixel scale.
    pub error: f32,
    pub latent: Vec<f32>,
    pub label: u8,
    /// The generated image of `latent`, 28x28 bytes (255 = ink).
    pub reconstruction: Vec<u8>,
    /// For inpainting: the drawing where it was fitted and the generated image under the
    /// mask, blended by the mask's weights, 28x28 bytes.
    #[serde(default)]
    pub filled: Option<Vec<u8>>,
    pub done: bool,
}

/// Classifier weights as burnpack bytes, sent as base64 text inside the JSON message.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightBytes(pub Vec<u8>);

impl Serialize for WeightBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64_encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for WeightBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64_decode(&text)
            .map(WeightBytes)
            .ok_or_else(|| serde::de::Error::custom("invalid base64 in weight bytes"))
    }
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes bytes as standard base64 with padding (RFC 4648).
fn base64_encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let word = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for position in 0..4 {
            if position <= chunk.len() {
                let index = (word >> (18 - 6 * position)) & 63;
                text.push(BASE64_ALPHABET[index as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    text
}

/// Decodes standard base64 with padding; returns `None` for invalid text.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if text.len() % 4 != 0 {
        return None;
    }
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3);
    for (chunk_index, chunk) in text.chunks(4).enumerate() {
        let is_last = chunk_index == text.len() / 4 - 1;
        let padding = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && !is_last) {
            return None;
        }
        let mut word = 0u32;
        for &character in &chunk[..4 - padding] {
            let value = BASE64_ALPHABET.iter().position(|&c| c == character)?;
            word = word << 6 | value as u32;
        }
        word <<= 6 * padding as u32;
        let decoded = [(word >> 16) as u8, (word >> 8) as u8, word as u8];
        bytes.extend_from_slice(&decoded[..3 - padding]);
    }
    Some(bytes)
}

/// Worker to page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// The worker's wasm module is running and accepts messages.
    Ready,
    /// Download progress of an asset, in bytes; `total` is unknown without Content-Length.
    Loading {
        asset: String,
        loaded: u64,
        total: Option<u64>,
    },
    /// The backend the run uses, the adapter's description, and why, when it is not the
    /// preferred one.
    Backend {
        kind: BackendKind,
        adapter: String,
        note: Option<String>,
    },
    /// A run is prepared and paused at step 0.
    Prepared { start: StartFrom },
    /// Progress after a step.
    Progress(Progress),
    /// Generated images for the sample grid: `rows` fixed latents by 10 digits, each a 28x28
    /// greyscale image (0 = background, 255 = ink), row-major, row by row.
    Samples {
        step: u64,
        rows: usize,
        pixels: Vec<u8>,
    },
    /// Fraction of generated digits that the classifier reads as their label.
    Quality {
        step: u64,
        label_accuracy: f32,
        samples: usize,
    },
    /// Training is now running or paused.
    Running(bool),
    /// Accuracy of a transfer run during training, measured on the first `test_digits` of the
    /// held-out target test set.
    TransferCurve {
        budget: LabelBudget,
        mode: TransferMode,
        step: usize,
        accuracy: f32,
        test_digits: usize,
    },
    /// A transfer run finished.
    TransferResult(TransferResult),
    /// Progress of the transfer-lab job: steps done and planned over all its runs, and what
    /// runs now.
    JobProgress {
        job: JobKind,
        steps_done: usize,
        steps_total: usize,
        activity: String,
    },
    /// The job ended, on its own or stopped by the visitor.
    JobFinished { job: JobKind, stopped: bool },
    /// A classifier for the visitor's classes, with its accuracy on the drawn examples it
    /// trained on (there is no held-out set for them).
    TeachModel {
        class_names: Vec<String>,
        mode: TransferMode,
        weights: WeightBytes,
        train_accuracy: f32,
        examples: usize,
    },
    /// Fixed-latent samples of one few-shot GAN run, 28x28 bytes each.
    GanTransferSamples {
        setting: GanTransferSetting,
        step: usize,
        pixels: Vec<u8>,
    },
    /// The best fit of an inversion so far.
    InvertProgress(InvertProgress),
    /// Fraction of a few-shot GAN run's samples that the MNIST classifier reads as the target
    /// digit.
    GanTransferQuality {
        setting: GanTransferSetting,
        step: usize,
        label_accuracy: f32,
        samples: usize,
    },
    /// A failure to show to the visitor.
    Error(String),
}

/// Progress after a training step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub step: u64,
    pub discriminator_loss: f32,
    pub generator_loss: f32,
    /// Steps per second over the last few seconds.
    pub steps_per_second: f32,
    /// Milliseconds the run's first step took (shader compilation included on WebGPU).
    pub first_step_ms: Option<f64>,
    /// Size of the worker's wasm memory in bytes.
    pub wasm_memory_bytes: u64,
}

/// Failure to decode a message.
#[derive(Debug, thiserror::Error)]
#[error("invalid message from the {sender}: {reason}")]
pub struct DecodeError {
    sender: &'static str,
    reason: String,
}

/// Encodes a message as JSON.
pub fn encode<T: Serialize>(message: &T) -> String {
    serde_json::to_string(message).expect("protocol messages contain only serialisable data")
}

/// Decodes a JSON message; `sender` names the other side in the error.
pub fn decode<T: for<'de> Deserialize<'de>>(
    text: &str,
    sender: &'static str,
) -> Result<T, DecodeError> {
    serde_json::from_str(text).map_err(|error| DecodeError {
        sender,
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let messages = vec![
            ToWorker::Init {
                preference: BackendPreference::Cpu,
                start: StartFrom::Scratch,
            },
            ToWorker::Train,
            ToWorker::Reset {
                start: StartFrom::Shipped,
            },
        ];
        for message in messages {
            assert_eq!(
                decode::<ToWorker>(&encode(&message), "page").unwrap(),
                message
            );
        }
        let sample = FromWorker::Samples {
            step: 3,
            rows: 1,
            pixels: vec![0, 255],
        };
        assert_eq!(
            decode::<FromWorker>(&encode(&sample), "worker").unwrap(),
            sample
        );
    }

    #[test]
    fn invalid_messages_are_errors() {
        for text in [
            "",
            "{",
            "\"Explode\"",
            "{\"Init\":{\"preference\":\"Quantum\"}}",
            "42",
        ] {
            let error = decode::<ToWorker>(text, "page").unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with("invalid message from the page"),
                "{error}"
            );
        }
    }

    #[test]
    fn base64_round_trips() {
        for length in 0..8 {
            let bytes: Vec<u8> = (0..length).map(|i| (i * 97 + 200) as u8).collect();
            let text = base64_encode(&bytes);
            assert_eq!(text.len() % 4, 0);
            assert_eq!(base64_decode(&text), Some(bytes));
        }
        assert_eq!(base64_encode(b"Man"), "TWFu");
        assert_eq!(base64_encode(b"Ma"), "TWE=");
    }

    #[test]
    fn base64_rejects_invalid_text() {
        for text in ["TWF", "TW=u", "T===", "TWE=TWFu", "TW?u"] {
            assert_eq!(base64_decode(text), None, "{text}");
        }
    }

    #[test]
    fn teach_model_round_trips() {
        let message = FromWorker::TeachModel {
            class_names: vec!["star".into(), "arrow".into()],
            mode: TransferMode::Frozen,
            weights: WeightBytes(vec![0, 1, 2, 250, 255]),
            train_accuracy: 1.0,
            examples: 10,
        };
        let decoded = decode::<FromWorker>(&encode(&message), "worker").unwrap();
        assert_eq!(decoded, message);
    }

    #[test]
    fn backend_query_values() {
        assert_eq!(
            BackendPreference::from_query("cpu"),
            Some(BackendPreference::Cpu)
        );
        assert_eq!(
            BackendPreference::from_query("webgpu"),
            Some(BackendPreference::Gpu)
        );
        assert_eq!(BackendPreference::from_query("tpu"), None);
    }
}
