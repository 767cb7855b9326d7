//! Messages between the page and the training worker, sent as JSON strings through
//! `postMessage`. Both sides decode with [`decode`], so a malformed message becomes an error the
//! UI can show instead of a panic.

use serde::{Deserialize, Serialize};

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
