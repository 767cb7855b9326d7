//! Image files in and out. A photo or scan of a handwritten digit (PNG, JPEG or WebP, dark on
//! light or light on dark) becomes an ink raster for the canvas's MNIST-style preprocessing.
//! Ink images become greyscale PNG files of dark ink on white.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

use crate::preprocess::Raster;

/// Largest accepted file, in bytes.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
/// Bytes in a mebibyte (MiB), the unit of the size messages.
pub const MEBIBYTE: f64 = 1024.0 * 1024.0;
/// Largest accepted width or height, in pixels.
pub const MAX_SIDE: u32 = 8_192;
/// Most memory the decoder may allocate, in bytes.
const MAX_DECODE_ALLOCATION: u64 = 256 * 1024 * 1024;
/// Maximum side of the raster handed to preprocessing; larger images are scaled down first.
const RASTER_SIDE: u32 = 512;
/// Share of the pixels along the border that decides the background's brightness.
const BORDER_FRACTION: f32 = 0.05;
/// Smallest difference between the paper (median) and the darkest ink, in 0..1, that counts as
/// a drawing. Below it an image is blank paper, and stretching would blow up noise or a
/// single grey pixel into a full-contrast shape.
const MIN_INK_CONTRAST: f32 = 0.15;

/// Failure to import an image file.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ImportError {
    #[error("the file is empty")]
    Empty,
    #[error(
        "the file is {:.1} MiB; the limit is {} MiB",
        *bytes as f64 / MEBIBYTE,
        MAX_FILE_BYTES as f64 / MEBIBYTE
    )]
    TooLarge { bytes: usize },
    #[error("the file is not a PNG, JPEG or WebP image")]
    UnknownFormat,
    #[error("the image could not be decoded: {0}")]
    Invalid(String),
    #[error("the image is {width}x{height} pixels; the limit is {MAX_SIDE} on each side")]
    TooBig { width: u32, height: u32 },
}

/// Decodes an image file into an ink raster (1 = ink). The border's brightness decides the
/// polarity, and transparent pixels count as background. The median ink, which is the paper in
/// a drawing that covers less than half the image, maps to 0, so a photo's grey paper vanishes.
pub fn import_drawing(bytes: &[u8]) -> Result<Raster, ImportError> {
    if bytes.is_empty() {
        return Err(ImportError::Empty);
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ImportError::TooLarge { bytes: bytes.len() });
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|error| ImportError::Invalid(error.to_string()))?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP) => {}
        _ => return Err(ImportError::UnknownFormat),
    }
    let (width, height) = reader
        .into_dimensions()
        .map_err(|error| ImportError::Invalid(error.to_string()))?;
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(ImportError::TooBig { width, height });
    }

    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|error| ImportError::Invalid(error.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOCATION);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|error| ImportError::Invalid(error.to_string()))?;
    let image = if image.width() > RASTER_SIDE || image.height() > RASTER_SIDE {
        image.thumbnail(RASTER_SIDE, RASTER_SIDE)
    } else {
        image
    };
    let rgba = image.to_rgba8();
    let (width, height) = (rgba.width() as usize, rgba.height() as usize);

    // Each pixel's brightness (0..1) and opacity; transparent pixels become background below.
    let pixels: Vec<(f32, f32)> = rgba
        .pixels()
        .map(|pixel| {
            let [red, green, blue, alpha] = pixel.0;
            let luma = (0.299 * red as f32 + 0.587 * green as f32 + 0.114 * blue as f32) / 255.0;
            (luma, alpha as f32 / 255.0)
        })
        .collect();
    let (brightness, opacity) = border_brightness(&pixels, width, height);
    let light_background = brightness >= 0.5;
    // On a transparent sheet whatever is opaque is the drawing, whether dark or light.
    let transparent_background = opacity < 0.5;
    let ink: Vec<f32> = pixels
        .iter()
        .map(|&(luma, alpha)| {
            let opaque_ink = if transparent_background {
                1.0
            } else if light_background {
                1.0 - luma
            } else {
                luma
            };
            opaque_ink * alpha
        })
        .collect();
    Ok(Raster {
        width,
        height,
        ink: stretch_from_median(ink),
    })
}

/// Mean brightness and mean opacity of the outer band of the image. Transparent pixels count as
/// white in the brightness, the usual page under a transparent drawing.
fn border_brightness(pixels: &[(f32, f32)], width: usize, height: usize) -> (f32, f32) {
    let band_x = ((width as f32 * BORDER_FRACTION).ceil() as usize).max(1);
    let band_y = ((height as f32 * BORDER_FRACTION).ceil() as usize).max(1);
    let (mut brightness, mut opacity, mut count) = (0.0, 0.0, 0usize);
    for y in 0..height {
        for x in 0..width {
            let on_border = x < band_x || y < band_y || x + band_x >= width || y + band_y >= height;
            if on_border {
                let (luma, alpha) = pixels[y * width + x];
                brightness += luma * alpha + (1.0 - alpha);
                opacity += alpha;
                count += 1;
            }
        }
    }
    if count == 0 {
        (1.0, 1.0)
    } else {
        (brightness / count as f32, opacity / count as f32)
    }
}

/// Maps the median ink to 0 and the maximum ink to 1, clamping below 0. An image whose ink
/// stays within `MIN_INK_CONTRAST` of the median becomes blank.
fn stretch_from_median(mut ink: Vec<f32>) -> Vec<f32> {
    let mut sorted = ink.clone();
    sorted.sort_by(f32::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    let top = sorted.last().copied().unwrap_or(1.0);
    if top - median < MIN_INK_CONTRAST {
        ink.fill(0.0);
        return ink;
    }
    let range = top - median;
    for value in &mut ink {
        *value = ((*value - median) / range).clamp(0.0, 1.0);
    }
    ink
}

/// Encodes ink images (`width * height` bytes, 255 = ink) as a greyscale PNG of dark ink on
/// white.
///
/// # Panics
/// Panics if `ink` does not have `width * height` bytes.
pub fn encode_png(ink: &[u8], width: u32, height: u32) -> Vec<u8> {
    assert_eq!(ink.len(), (width * height) as usize, "ink size mismatch");
    let grey: Vec<u8> = ink.iter().map(|&value| 255 - value).collect();
    let image =
        image::GrayImage::from_raw(width, height, grey).expect("the buffer matches the dimensions");
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .expect("encoding a greyscale PNG into memory does not fail");
    bytes
}

#[cfg(test)]
mod tests {
    use image::{DynamicImage, Rgba, RgbaImage};

    use super::*;
    use crate::preprocess::to_model_input;

    /// Builds a `width x height` image of `background` with a vertical bar of `ink` in the middle.
    fn bar_image(width: u32, height: u32, background: Rgba<u8>, ink: Rgba<u8>) -> RgbaImage {
        RgbaImage::from_fn(width, height, |x, y| {
            let in_bar =
                x.abs_diff(width / 2) <= width / 12 && y > height / 5 && y < height * 4 / 5;
            if in_bar { ink } else { background }
        })
    }

    fn encode(image: RgbaImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        let image = match format {
            ImageFormat::Jpeg => DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(image).to_rgb8()),
            _ => DynamicImage::ImageRgba8(image),
        };
        image
            .write_to(&mut Cursor::new(&mut bytes), format)
            .unwrap();
        bytes
    }

    /// Returns the ink of the bar's centre and of a background corner.
    fn bar_and_corner(raster: &Raster) -> (f32, f32) {
        (
            raster.at(raster.width / 2, raster.height / 2),
            raster.at(1, 1),
        )
    }

    #[test]
    fn dark_on_light_png_is_ink_on_background() {
        let bytes = encode(
            bar_image(60, 80, Rgba([250, 250, 250, 255]), Rgba([10, 10, 10, 255])),
            ImageFormat::Png,
        );
        let (bar, corner) = bar_and_corner(&import_drawing(&bytes).unwrap());
        assert!(bar > 0.9, "bar ink {bar}");
        assert!(corner < 0.05, "corner ink {corner}");
    }

    #[test]
    fn light_on_dark_jpeg_flips_polarity() {
        let bytes = encode(
            bar_image(64, 64, Rgba([5, 5, 5, 255]), Rgba([240, 240, 240, 255])),
            ImageFormat::Jpeg,
        );
        let (bar, corner) = bar_and_corner(&import_drawing(&bytes).unwrap());
        assert!(bar > 0.9, "bar ink {bar}");
        assert!(corner < 0.05, "corner ink {corner}");
    }

    #[test]
    fn transparent_background_counts_as_paper() {
        let bytes = encode(
            bar_image(33, 47, Rgba([0, 0, 0, 0]), Rgba([0, 0, 0, 255])),
            ImageFormat::Png,
        );
        let raster = import_drawing(&bytes).unwrap();
        let (bar, corner) = bar_and_corner(&raster);
        assert!(bar > 0.9, "bar ink {bar}");
        assert!(corner < 0.05, "corner ink {corner}");
        assert!(to_model_input(&raster).is_some());
    }

    #[test]
    fn light_ink_on_transparent_background_is_ink() {
        let bytes = encode(
            bar_image(40, 50, Rgba([0, 0, 0, 0]), Rgba([255, 255, 255, 255])),
            ImageFormat::Png,
        );
        let (bar, corner) = bar_and_corner(&import_drawing(&bytes).unwrap());
        assert!(bar > 0.9, "bar ink {bar}");
        assert!(corner < 0.05, "corner ink {corner}");
    }

    #[test]
    fn faint_speck_on_white_is_blank() {
        let mut image = RgbaImage::from_pixel(200, 200, Rgba([255, 255, 255, 255]));
        image.put_pixel(100, 100, Rgba([254, 254, 254, 255]));
        let raster = import_drawing(&encode(image, ImageFormat::Png)).unwrap();
        assert_eq!(to_model_input(&raster), None);
    }

    #[test]
    fn grey_photo_paper_is_removed() {
        let bytes = encode(
            bar_image(40, 40, Rgba([170, 165, 160, 255]), Rgba([40, 40, 50, 255])),
            ImageFormat::Png,
        );
        let (bar, corner) = bar_and_corner(&import_drawing(&bytes).unwrap());
        assert!(bar > 0.9, "bar ink {bar}");
        assert!(corner < 0.05, "corner ink {corner}");
    }

    #[test]
    fn large_images_are_scaled_down() {
        let bytes = encode(
            bar_image(1500, 900, Rgba([255, 255, 255, 255]), Rgba([0, 0, 0, 255])),
            ImageFormat::Png,
        );
        let raster = import_drawing(&bytes).unwrap();
        assert_eq!(raster.width, RASTER_SIDE as usize);
        assert!(raster.height < RASTER_SIDE as usize);
    }

    #[test]
    fn non_images_are_rejected() {
        assert_eq!(import_drawing(b""), Err(ImportError::Empty));
        assert_eq!(
            import_drawing(b"just some text, not an image"),
            Err(ImportError::UnknownFormat)
        );
        // A GIF signature: a real image format, but not one the app accepts.
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert_eq!(import_drawing(gif), Err(ImportError::UnknownFormat));
    }

    #[test]
    fn truncated_png_is_invalid() {
        let bytes = encode(
            bar_image(60, 60, Rgba([255, 255, 255, 255]), Rgba([0, 0, 0, 255])),
            ImageFormat::Png,
        );
        let result = import_drawing(&bytes[..bytes.len() / 2]);
        assert!(matches!(result, Err(ImportError::Invalid(_))), "{result:?}");
    }

    #[test]
    fn huge_files_are_rejected_before_decoding() {
        let bytes = vec![0u8; MAX_FILE_BYTES + 1];
        assert_eq!(
            import_drawing(&bytes),
            Err(ImportError::TooLarge {
                bytes: MAX_FILE_BYTES + 1
            })
        );
    }

    #[test]
    fn exported_png_decodes_to_the_same_ink() {
        let ink: Vec<u8> = (0..28 * 28).map(|index| (index % 256) as u8).collect();
        let png = encode_png(&ink, 28, 28);
        let decoded = image::load_from_memory(&png).unwrap().to_luma8();
        assert_eq!(decoded.dimensions(), (28, 28));
        let back: Vec<u8> = decoded.pixels().map(|pixel| 255 - pixel.0[0]).collect();
        assert_eq!(back, ink);
    }
}
