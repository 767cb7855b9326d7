//! MNIST: parsing of the original IDX files, the compact asset the app ships, and batches.
//!
//! The asset (`assets/mnist.bin.gz`) is written by the `convert-mnist` binary and is a gzip
//! stream of:
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `GNVSMNST` |
//! | 4 | format version, little endian (`ASSET_VERSION`) |
//! | 4 + 4 | train count, test count, little endian |
//! | n | train labels, then train images (784 bytes each, row major) |
//! | n | test labels, then test images |
//! | 32 | SHA-256 of everything before it |

use std::io::{Read, Write};

use burn::prelude::*;
use sha2::{Digest, Sha256};

/// Side of an MNIST image in pixels.
pub const IMAGE_SIDE: usize = 28;
/// Pixels in one MNIST image.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Number of digit classes.
pub const NUM_CLASSES: usize = 10;
/// Every digit label.
pub const ALL_DIGITS: std::ops::Range<u8> = 0..10;
/// Images in the original MNIST training set.
pub const TRAIN_COUNT: usize = 60_000;
/// Images in the original MNIST test set.
pub const TEST_COUNT: usize = 10_000;

const ASSET_MAGIC: &[u8; 8] = b"GNVSMNST";
const ASSET_VERSION: u32 = 1;
const DIGEST_LEN: usize = 32;

/// The IDX magic numbers of unsigned-byte tensors of rank 1 (labels) and rank 3 (images).
const IDX_LABELS_MAGIC: u32 = 0x0000_0801;
const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;

/// Failure to read MNIST bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DataError {
    #[error("IDX file too short: {0}")]
    Truncated(&'static str),
    #[error("invalid IDX magic number {found:#010x}, expected {expected:#010x}")]
    BadIdxMagic { found: u32, expected: u32 },
    #[error("IDX images are {rows}x{cols}, expected 28x28")]
    BadImageSize { rows: u32, cols: u32 },
    #[error("{images} images but {labels} labels")]
    CountMismatch { images: usize, labels: usize },
    #[error("label {0} is not a digit")]
    BadLabel(u8),
    #[error("MNIST asset is not gzip data or is truncated: {0}")]
    Gzip(String),
    #[error("MNIST asset has an invalid header (expected magic GNVSMNST, version 1)")]
    BadAssetHeader,
    #[error("MNIST asset checksum mismatch: the file is corrupt, rebuild it with convert-mnist")]
    ChecksumMismatch,
}

/// A set of MNIST digits: labels and 28x28 greyscale images (0 = background, 255 = ink).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digits {
    pub labels: Vec<u8>,
    /// `labels.len() * IMAGE_PIXELS` bytes, one image after another, row major.
    pub pixels: Vec<u8>,
}

impl Digits {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Returns the pixels of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        &self.pixels[index * IMAGE_PIXELS..(index + 1) * IMAGE_PIXELS]
    }

    /// Builds a checked set from labels and pixels.
    pub fn new(labels: Vec<u8>, pixels: Vec<u8>) -> Result<Self, DataError> {
        if pixels.len() != labels.len() * IMAGE_PIXELS {
            return Err(DataError::CountMismatch {
                images: pixels.len() / IMAGE_PIXELS,
                labels: labels.len(),
            });
        }
        if let Some(&bad) = labels.iter().find(|&&label| label as usize >= NUM_CLASSES) {
            return Err(DataError::BadLabel(bad));
        }
        Ok(Self { labels, pixels })
    }
}

/// The MNIST training and test sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mnist {
    pub train: Digits,
    pub test: Digits,
}

fn read_u32_be(bytes: &[u8], offset: usize, field: &'static str) -> Result<u32, DataError> {
    let word = bytes
        .get(offset..offset + 4)
        .ok_or(DataError::Truncated(field))?;
    Ok(u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
}

fn check_magic(bytes: &[u8], expected: u32) -> Result<(), DataError> {
    let found = read_u32_be(bytes, 0, "magic number")?;
    if found != expected {
        return Err(DataError::BadIdxMagic { found, expected });
    }
    Ok(())
}

/// Parses an IDX1 label file.
pub fn parse_idx_labels(bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    check_magic(bytes, IDX_LABELS_MAGIC)?;
    let count = read_u32_be(bytes, 4, "label count")? as usize;
    let labels = bytes
        .get(8..8 + count)
        .ok_or(DataError::Truncated("labels"))?;
    Ok(labels.to_vec())
}

/// Parses an IDX3 image file of 28x28 images; returns the pixel bytes.
pub fn parse_idx_images(bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    check_magic(bytes, IDX_IMAGES_MAGIC)?;
    let count = read_u32_be(bytes, 4, "image count")? as usize;
    let rows = read_u32_be(bytes, 8, "row count")?;
    let cols = read_u32_be(bytes, 12, "column count")?;
    if rows as usize != IMAGE_SIDE || cols as usize != IMAGE_SIDE {
        return Err(DataError::BadImageSize { rows, cols });
    }
    let end = count
        .checked_mul(IMAGE_PIXELS)
        .and_then(|len| len.checked_add(16))
        .ok_or(DataError::Truncated("images"))?;
    let pixels = bytes.get(16..end).ok_or(DataError::Truncated("images"))?;
    Ok(pixels.to_vec())
}

/// Parses a pair of IDX files into a checked set of digits.
pub fn parse_idx_pair(images: &[u8], labels: &[u8]) -> Result<Digits, DataError> {
    Digits::new(parse_idx_labels(labels)?, parse_idx_images(images)?)
}

/// Encodes the asset that the app ships: gzip'd, with a SHA-256 trailer.
pub fn encode_asset(mnist: &Mnist) -> Vec<u8> {
    let mut raw = Vec::with_capacity(16 + (mnist.train.len() + mnist.test.len()) * 785 + 32);
    raw.extend_from_slice(ASSET_MAGIC);
    raw.extend_from_slice(&ASSET_VERSION.to_le_bytes());
    raw.extend_from_slice(&(mnist.train.len() as u32).to_le_bytes());
    raw.extend_from_slice(&(mnist.test.len() as u32).to_le_bytes());
    for set in [&mnist.train, &mnist.test] {
        raw.extend_from_slice(&set.labels);
        raw.extend_from_slice(&set.pixels);
    }
    let digest = Sha256::digest(&raw);
    raw.extend_from_slice(&digest);

    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(&raw)
        .expect("writing to a Vec should not fail");
    encoder
        .finish()
        .expect("finishing a gzip stream into a Vec should not fail")
}

/// Decodes and verifies the shipped asset.
pub fn decode_asset(gzipped: &[u8]) -> Result<Mnist, DataError> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gzipped)
        .read_to_end(&mut raw)
        .map_err(|error| DataError::Gzip(error.to_string()))?;

    if raw.len() < 20 + DIGEST_LEN || &raw[..8] != ASSET_MAGIC {
        return Err(DataError::BadAssetHeader);
    }
    let (body, digest) = raw.split_at(raw.len() - DIGEST_LEN);
    if Sha256::digest(body).as_slice() != digest {
        return Err(DataError::ChecksumMismatch);
    }
    let version = u32::from_le_bytes([body[8], body[9], body[10], body[11]]);
    if version != ASSET_VERSION {
        return Err(DataError::BadAssetHeader);
    }
    let train_count = u32::from_le_bytes([body[12], body[13], body[14], body[15]]) as usize;
    let test_count = u32::from_le_bytes([body[16], body[17], body[18], body[19]]) as usize;

    let mut cursor = 20;
    let mut read_set = |count: usize| -> Result<Digits, DataError> {
        let labels_end = cursor + count;
        let pixels_end = labels_end + count * IMAGE_PIXELS;
        let labels = body
            .get(cursor..labels_end)
            .ok_or(DataError::BadAssetHeader)?;
        let pixels = body
            .get(labels_end..pixels_end)
            .ok_or(DataError::BadAssetHeader)?;
        cursor = pixels_end;
        Digits::new(labels.to_vec(), pixels.to_vec())
    };
    let train = read_set(train_count)?;
    let test = read_set(test_count)?;
    Ok(Mnist { train, test })
}

/// Scales pixel bytes to floats in [-1, 1], the range the GAN's `tanh` output has.
pub fn pixel_to_signed(pixel: u8) -> f32 {
    pixel as f32 / 127.5 - 1.0
}

/// Builds a `[batch, 1, 28, 28]` image tensor in [-1, 1] and a `[batch]` label tensor from the
/// digits at `indices`.
pub fn batch(digits: &Digits, indices: &[usize], device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let mut pixels = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
    let mut labels = Vec::with_capacity(indices.len());
    for &index in indices {
        pixels.extend(
            digits
                .image(index)
                .iter()
                .map(|&pixel| pixel_to_signed(pixel)),
        );
        labels.push(digits.labels[index] as i64);
    }
    let images = Tensor::<1>::from_floats(pixels.as_slice(), device).reshape([
        indices.len(),
        1,
        IMAGE_SIDE,
        IMAGE_SIDE,
    ]);
    let labels = Tensor::<1, Int>::from_ints(labels.as_slice(), device);
    (images, labels)
}

/// A small deterministic random number generator (SplitMix64) for shuffling and sampling, so
/// that runs repeat for a seed on every target without an extra dependency.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a value in `0..bound`.
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    /// Returns a standard normal sample (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Endless shuffled mini-batches of indices: every index once per epoch.
#[derive(Clone, Debug)]
pub struct BatchSampler {
    order: Vec<usize>,
    position: usize,
    rng: SplitMix64,
}

impl BatchSampler {
    pub fn new(len: usize, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut order: Vec<usize> = (0..len).collect();
        rng.shuffle(&mut order);
        Self {
            order,
            position: 0,
            rng,
        }
    }

    /// Returns the next `size` indices, reshuffling at the end of each epoch.
    pub fn next_batch(&mut self, size: usize) -> Vec<usize> {
        let mut indices = Vec::with_capacity(size);
        while indices.len() < size {
            if self.position == self.order.len() {
                self.rng.shuffle(&mut self.order);
                self.position = 0;
            }
            indices.push(self.order[self.position]);
            self.position += 1;
        }
        indices
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
        let mut bytes = IDX_IMAGES_MAGIC.to_be_bytes().to_vec();
        for value in [count, rows, cols] {
            bytes.extend_from_slice(&value.to_be_bytes());
        }
        bytes.extend_from_slice(pixels);
        bytes
    }

    fn idx_labels(labels: &[u8]) -> Vec<u8> {
        let mut bytes = IDX_LABELS_MAGIC.to_be_bytes().to_vec();
        bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        bytes.extend_from_slice(labels);
        bytes
    }

    fn two_digits() -> Mnist {
        let mut pixels = vec![0u8; 2 * IMAGE_PIXELS];
        pixels[5] = 255;
        pixels[IMAGE_PIXELS + 400] = 128;
        let train = Digits::new(vec![3, 9], pixels.clone()).unwrap();
        let test = Digits::new(vec![1], pixels[..IMAGE_PIXELS].to_vec()).unwrap();
        Mnist { train, test }
    }

    #[test]
    fn idx_pair_parses() {
        let pixels: Vec<u8> = (0..2 * IMAGE_PIXELS).map(|i| (i % 256) as u8).collect();
        let digits = parse_idx_pair(&idx_images(2, 28, 28, &pixels), &idx_labels(&[7, 0])).unwrap();
        assert_eq!(digits.labels, vec![7, 0]);
        assert_eq!(digits.image(1)[0], (IMAGE_PIXELS % 256) as u8);
    }

    #[test]
    fn idx_rejects_wrong_magic() {
        let error = parse_idx_labels(&idx_images(1, 28, 28, &[0; IMAGE_PIXELS])).unwrap_err();
        assert!(matches!(error, DataError::BadIdxMagic { .. }));
    }

    #[test]
    fn idx_rejects_truncated_images() {
        let bytes = idx_images(2, 28, 28, &[0; IMAGE_PIXELS]);
        assert_eq!(
            parse_idx_images(&bytes),
            Err(DataError::Truncated("images"))
        );
        assert_eq!(
            parse_idx_images(&bytes[..6]),
            Err(DataError::Truncated("image count"))
        );
    }

    #[test]
    fn idx_rejects_other_image_sizes() {
        let bytes = idx_images(1, 32, 32, &[0; 1024]);
        assert_eq!(
            parse_idx_images(&bytes),
            Err(DataError::BadImageSize { rows: 32, cols: 32 })
        );
    }

    #[test]
    fn idx_rejects_huge_count_without_overflow() {
        let bytes = idx_images(u32::MAX, 28, 28, &[0; 10]);
        assert_eq!(
            parse_idx_images(&bytes),
            Err(DataError::Truncated("images"))
        );
    }

    #[test]
    fn digits_reject_count_mismatch_and_bad_labels() {
        let error = parse_idx_pair(
            &idx_images(1, 28, 28, &[0; IMAGE_PIXELS]),
            &idx_labels(&[1, 2]),
        );
        assert_eq!(
            error,
            Err(DataError::CountMismatch {
                images: 1,
                labels: 2
            })
        );
        assert_eq!(
            Digits::new(vec![10], vec![0; IMAGE_PIXELS]),
            Err(DataError::BadLabel(10))
        );
    }

    #[test]
    fn asset_round_trips() {
        let mnist = two_digits();
        assert_eq!(decode_asset(&encode_asset(&mnist)).unwrap(), mnist);
    }

    #[test]
    fn asset_rejects_corruption() {
        let mnist = two_digits();
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(encode_asset(&mnist).as_slice())
            .read_to_end(&mut raw)
            .unwrap();
        raw[30] ^= 1;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&raw).unwrap();
        let corrupted = encoder.finish().unwrap();
        assert_eq!(decode_asset(&corrupted), Err(DataError::ChecksumMismatch));
    }

    #[test]
    fn asset_rejects_non_gzip_and_truncation() {
        assert!(matches!(
            decode_asset(b"<!DOCTYPE html>"),
            Err(DataError::Gzip(_))
        ));
        let encoded = encode_asset(&two_digits());
        assert!(decode_asset(&encoded[..encoded.len() / 2]).is_err());
    }

    #[test]
    fn asset_rejects_wrong_magic() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&[0u8; 100]).unwrap();
        assert_eq!(
            decode_asset(&encoder.finish().unwrap()),
            Err(DataError::BadAssetHeader)
        );
    }

    #[test]
    fn sampler_covers_each_index_once_per_epoch() {
        let mut sampler = BatchSampler::new(10, 7);
        let mut seen = sampler.next_batch(5);
        seen.extend(sampler.next_batch(5));
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn batch_builds_shapes_and_range() {
        let device = Device::flex();
        let mnist = two_digits();
        let (images, labels) = batch(&mnist.train, &[1, 0], &device);
        assert_eq!(images.dims(), [2, 1, 28, 28]);
        assert_eq!(
            labels.into_data().try_into_vec_as::<i64>().unwrap(),
            vec![9, 3]
        );
        let values = images.into_data().try_into_vec_as::<f32>().unwrap();
        assert_eq!(values[5 + IMAGE_PIXELS], 1.0);
        assert_eq!(values[0], -1.0);
    }
}
