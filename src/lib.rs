//! Ganvas: a conditional GAN and a digit classifier on MNIST, trained and used in the browser
//! on WebGPU or the CPU. The library contains the data, models and training steps, free of UI
//! code and generic over burn devices. The `web` module contains the page and the training worker.

pub mod data;
pub mod editing;
pub mod evaluate;
pub mod image_io;
pub mod model;
pub mod preprocess;
pub mod protocol;
pub mod selftest;
pub mod session;
pub mod training;
pub mod transfer;
pub mod transfer_jobs;
pub mod weights;

#[cfg(target_arch = "wasm32")]
pub mod web;
