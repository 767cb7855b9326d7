//! A numerical self-test of a compute device against a reference device (the CPU). On wasm a
//! WebGPU kernel that fails to compile raises no error in Rust: its output buffer is simply
//! left unwritten. Comparing a small matmul and convolution with the CPU catches that.

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use crate::data::SplitMix64;
use crate::evaluate::read_floats;

/// Largest accepted difference, relative to the reference's largest magnitude. f32 kernels
/// that sum in another order differ by about 1e-6 here; a failed kernel differs by order 1.
pub const TOLERANCE: f32 = 1e-3;

fn random_tensor<const D: usize>(
    shape: [usize; D],
    rng: &mut SplitMix64,
    device: &Device,
) -> Tensor<D> {
    let count = shape.iter().product::<usize>();
    let values: Vec<f32> = (0..count).map(|_| rng.normal()).collect();
    Tensor::<1>::from_floats(values.as_slice(), device).reshape(shape)
}

/// Computes matmuls of the shapes the models use (a general one, a vector times a matrix as in
/// single-image inference, a matrix times a vector as in the discriminator's score) and a
/// strided convolution on `device`. Matmul kernels are chosen by shape, so each shape can
/// reach a different kernel.
async fn probe(device: &Device) -> (Vec<f32>, Vec<f32>) {
    let mut rng = SplitMix64::new(11);
    let mut product = Vec::new();
    for [m, k, n] in [[64, 96, 48], [1, 3136, 128], [64, 3136, 1]] {
        let lhs = random_tensor([m, k], &mut rng, device);
        let rhs = random_tensor([k, n], &mut rng, device);
        product.extend(read_floats(lhs.matmul(rhs)).await);
    }
    let images = random_tensor([4, 8, 14, 14], &mut rng, device);
    let weight = random_tensor([16, 8, 4, 4], &mut rng, device);
    let bias = random_tensor([16], &mut rng, device);
    let options = ConvOptions::new([2, 2], [1, 1], [1, 1], 1);
    let convolved = read_floats(conv2d(images, weight, Some(bias), options)).await;
    (product, convolved)
}

/// Returns the largest absolute difference relative to the reference's largest magnitude;
/// infinite when the lengths differ or the candidate has a non-finite value.
pub fn relative_error(reference: &[f32], candidate: &[f32]) -> f32 {
    if reference.len() != candidate.len() {
        return f32::INFINITY;
    }
    let scale = reference
        .iter()
        .fold(1e-6f32, |max, value| max.max(value.abs()));
    let worst = reference
        .iter()
        .zip(candidate)
        .map(|(a, b)| {
            if b.is_finite() {
                (a - b).abs()
            } else {
                f32::INFINITY
            }
        })
        .fold(0.0f32, f32::max);
    worst / scale
}

/// Runs the probe on both devices; returns the worst relative error, or a message naming the
/// operation that disagrees by more than [`TOLERANCE`].
pub async fn compare_devices(reference: &Device, candidate: &Device) -> Result<f32, String> {
    let (expected_product, expected_conv) = probe(reference).await;
    let (product, convolved) = probe(candidate).await;
    let matmul_error = relative_error(&expected_product, &product);
    let conv_error = relative_error(&expected_conv, &convolved);
    if matmul_error > TOLERANCE {
        return Err(format!(
            "matmul differs from the CPU by {matmul_error:.2e} (relative)"
        ));
    }
    if conv_error > TOLERANCE {
        return Err(format!(
            "convolution differs from the CPU by {conv_error:.2e} (relative)"
        ));
    }
    Ok(matmul_error.max(conv_error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_error_flags_zeros_and_nan() {
        let reference = [2.0, -4.0, 1.0];
        assert_eq!(relative_error(&reference, &reference), 0.0);
        assert_eq!(relative_error(&reference, &[0.0, 0.0, 0.0]), 1.0);
        assert_eq!(
            relative_error(&reference, &[2.0, f32::NAN, 1.0]),
            f32::INFINITY
        );
        assert_eq!(relative_error(&reference, &[2.0]), f32::INFINITY);
    }
}
