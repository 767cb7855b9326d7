//! MNIST-style preprocessing of a drawing: crop to the ink's bounding box, scale it to fit a
//! 20x20 box keeping the aspect ratio, and centre it by centre of mass in a 28x28 frame. This is
//! how LeCun, Cortes and Burges normalised the original NIST digits for MNIST, so drawn digits
//! look like the ones the models were trained on.

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};

/// Side of the box that the digit's bounding box is scaled to fit (MNIST's 20x20 box).
pub const DIGIT_BOX: usize = 20;

/// Ink below this level (0..1) counts as background when finding the bounding box, so faint
/// anti-aliasing fringes do not widen the box.
pub const INK_THRESHOLD: f32 = 0.05;

/// A greyscale raster: `width * height` ink values in 0..1, row major (1 = full ink).
#[derive(Clone, Debug, PartialEq)]
pub struct Raster {
    pub width: usize,
    pub height: usize,
    pub ink: Vec<f32>,
}

impl Raster {
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            ink: vec![0.0; width * height],
        }
    }

    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.ink[y * self.width + x]
    }

    /// Builds a raster from RGBA bytes, taking ink as alpha times darkness, so dark strokes on a
    /// transparent or white canvas both count as ink.
    pub fn from_rgba(width: usize, height: usize, rgba: &[u8]) -> Self {
        let ink = rgba
            .chunks_exact(4)
            .map(|pixel| {
                let luma =
                    (0.299 * pixel[0] as f32 + 0.587 * pixel[1] as f32 + 0.114 * pixel[2] as f32)
                        / 255.0;
                (1.0 - luma) * pixel[3] as f32 / 255.0
            })
            .collect();
        Self { width, height, ink }
    }

    /// Scales a 28x28 image (255 = ink) up to a `side x side` raster with bilinear
    /// interpolation, which is how the page paints a placed image onto the canvas.
    pub fn from_digit(pixels: &[u8], side: usize) -> Self {
        assert_eq!(pixels.len(), IMAGE_PIXELS, "a digit image is 28x28");
        let ink = |x: isize, y: isize| -> f32 {
            let last = IMAGE_SIDE as isize - 1;
            let (x, y) = (x.clamp(0, last) as usize, y.clamp(0, last) as usize);
            pixels[y * IMAGE_SIDE + x] as f32 / 255.0
        };
        let scale = IMAGE_SIDE as f32 / side as f32;
        let mut raster = Self::new(side, side);
        for y in 0..side {
            let source_y = (y as f32 + 0.5) * scale - 0.5;
            let (y0, fy) = (source_y.floor() as isize, source_y - source_y.floor());
            for x in 0..side {
                let source_x = (x as f32 + 0.5) * scale - 0.5;
                let (x0, fx) = (source_x.floor() as isize, source_x - source_x.floor());
                let top = ink(x0, y0) * (1.0 - fx) + ink(x0 + 1, y0) * fx;
                let bottom = ink(x0, y0 + 1) * (1.0 - fx) + ink(x0 + 1, y0 + 1) * fx;
                raster.ink[y * side + x] = top * (1.0 - fy) + bottom * fy;
            }
        }
        raster
    }

    fn ink_bounding_box(&self) -> Option<(usize, usize, usize, usize)> {
        let (mut left, mut top, mut right, mut bottom) = (usize::MAX, usize::MAX, 0, 0);
        for y in 0..self.height {
            for x in 0..self.width {
                if self.at(x, y) > INK_THRESHOLD {
                    left = left.min(x);
                    right = right.max(x);
                    top = top.min(y);
                    bottom = bottom.max(y);
                }
            }
        }
        (left != usize::MAX).then_some((left, top, right + 1, bottom + 1))
    }
}

/// Averages the source area `[x0, x1) x [y0, y1)` (in source pixels, fractional edges weighted
/// by coverage).
fn area_average(source: &Raster, x0: f32, x1: f32, y0: f32, y1: f32) -> f32 {
    let mut sum = 0.0;
    let mut weight = 0.0;
    let mut y = y0.floor() as usize;
    while (y as f32) < y1 && y < source.height {
        let cover_y = (y1.min(y as f32 + 1.0) - y0.max(y as f32)).max(0.0);
        let mut x = x0.floor() as usize;
        while (x as f32) < x1 && x < source.width {
            let cover_x = (x1.min(x as f32 + 1.0) - x0.max(x as f32)).max(0.0);
            sum += source.at(x, y) * cover_x * cover_y;
            weight += cover_x * cover_y;
            x += 1;
        }
        y += 1;
    }
    if weight > 0.0 { sum / weight } else { 0.0 }
}

/// The position of a drawing's digit in the 28x28 frame: the ink's bounding box, its size after
/// scaling into the 20x20 box, and the shift that puts the centre of mass at the frame's centre.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Placement {
    left: f32,
    top: f32,
    /// Source pixels per scaled pixel, across and down.
    step_x: f32,
    step_y: f32,
    width: usize,
    height: usize,
    offset_x: isize,
    offset_y: isize,
}

impl Placement {
    /// Measures the placement of the ink in `drawing`, or `None` when there is no ink.
    fn of(drawing: &Raster) -> Option<Self> {
        let (left, top, right, bottom) = drawing.ink_bounding_box()?;
        let box_width = (right - left) as f32;
        let box_height = (bottom - top) as f32;

        // Scale the longer side to DIGIT_BOX and keep the aspect ratio; a side never drops
        // below one pixel, so a thin "1" stays visible.
        let scale = DIGIT_BOX as f32 / box_width.max(box_height);
        let width = ((box_width * scale).round() as usize).clamp(1, DIGIT_BOX);
        let height = ((box_height * scale).round() as usize).clamp(1, DIGIT_BOX);
        let mut placement = Self {
            left: left as f32,
            top: top as f32,
            step_x: box_width / width as f32,
            step_y: box_height / height as f32,
            width,
            height,
            offset_x: 0,
            offset_y: 0,
        };

        let digit = placement.scale(drawing);
        let (mut mass, mut mass_x, mut mass_y) = (0.0f32, 0.0f32, 0.0f32);
        for y in 0..height {
            for x in 0..width {
                let value = digit[y * width + x];
                mass += value;
                mass_x += value * (x as f32 + 0.5);
                mass_y += value * (y as f32 + 0.5);
            }
        }
        if mass <= 0.0 {
            return None;
        }
        // Translate so the centre of mass lands on the frame's centre.
        let centre = IMAGE_SIDE as f32 / 2.0;
        placement.offset_x = (centre - mass_x / mass).round() as isize;
        placement.offset_y = (centre - mass_y / mass).round() as isize;
        Some(placement)
    }

    /// Crops `raster` to the bounding box and scales it to `width x height`.
    fn scale(&self, raster: &Raster) -> Vec<f32> {
        let mut digit = vec![0.0f32; self.width * self.height];
        for y in 0..self.height {
            for x in 0..self.width {
                let x0 = self.left + x as f32 * self.step_x;
                let y0 = self.top + y as f32 * self.step_y;
                digit[y * self.width + x] =
                    area_average(raster, x0, x0 + self.step_x, y0, y0 + self.step_y);
            }
        }
        digit
    }

    /// Places `raster` (of the same size as the measured drawing) in a 28x28 frame. Pixels
    /// pushed outside the frame are dropped, as in MNIST.
    fn apply(&self, raster: &Raster) -> Vec<f32> {
        let digit = self.scale(raster);
        let mut frame = vec![0.0f32; IMAGE_PIXELS];
        for y in 0..self.height {
            for x in 0..self.width {
                let target_x = x as isize + self.offset_x;
                let target_y = y as isize + self.offset_y;
                let inside = (0..IMAGE_SIDE as isize).contains(&target_x)
                    && (0..IMAGE_SIDE as isize).contains(&target_y);
                if inside {
                    frame[target_y as usize * IMAGE_SIDE + target_x as usize] =
                        digit[y * self.width + x].clamp(0.0, 1.0);
                }
            }
        }
        frame
    }
}

/// Preprocesses a drawing into the 28x28 image the models see (ink 0..1, row major), or `None`
/// when there is no ink.
pub fn to_model_input(drawing: &Raster) -> Option<Vec<f32>> {
    Placement::of(drawing).map(|placement| placement.apply(drawing))
}

/// A drawing with a masked region, preprocessed for inpainting.
#[derive(Clone, Debug, PartialEq)]
pub struct InpaintInput {
    /// The drawing, 28x28 ink in 0..1, row major.
    pub ink: Vec<f32>,
    /// Weight of each of the 784 pixels in the fit: 1 outside the mask, 0 under it, fractions
    /// along its edge.
    pub known: Vec<f32>,
    /// True when over a quarter of the mask lies outside the ink's bounding box. That part is
    /// cropped away with the rest of the canvas, so it cannot ask for ink there.
    pub mask_outside_box: bool,
}

/// Preprocesses a drawing whose `mask` (a raster of the same size, 1 = masked) marks the region
/// the generator should redraw. The digit is placed by all of its ink, masked or not, so the
/// frame is the one `to_model_input` makes and a mask reaching past the digit moves nothing.
/// Returns `None` when no ink lies outside the mask, since there is nothing left to fit.
///
/// # Panics
/// Panics if the mask's size differs from the drawing's.
pub fn to_inpaint_input(drawing: &Raster, mask: &Raster) -> Option<InpaintInput> {
    assert_eq!(
        (drawing.width, drawing.height),
        (mask.width, mask.height),
        "the mask must have the drawing's size"
    );
    let visible_ink = drawing
        .ink
        .iter()
        .zip(&mask.ink)
        .any(|(&ink, &masked)| ink * (1.0 - masked) > INK_THRESHOLD);
    if !visible_ink {
        return None;
    }
    let placement = Placement::of(drawing)?;
    let right = placement.left + placement.step_x * placement.width as f32;
    let bottom = placement.top + placement.step_y * placement.height as f32;
    let (mut total, mut outside) = (0.0f32, 0.0f32);
    for (index, &masked) in mask.ink.iter().enumerate() {
        let x = (index % mask.width) as f32 + 0.5;
        let y = (index / mask.width) as f32 + 0.5;
        total += masked;
        let inside = (placement.left..right).contains(&x) && (placement.top..bottom).contains(&y);
        if !inside {
            outside += masked;
        }
    }
    let known = placement
        .apply(mask)
        .into_iter()
        .map(|masked| 1.0 - masked)
        .collect();
    Some(InpaintInput {
        ink: placement.apply(drawing),
        known,
        mask_outside_box: outside > 0.25 * total,
    })
}

/// Maps ink in 0..1 to the models' input range [-1, 1], matching `data::pixel_to_signed`.
pub fn ink_to_signed(ink: f32) -> f32 {
    ink * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(raster: &mut Raster, x0: usize, y0: usize, x1: usize, y1: usize) {
        for y in y0..y1 {
            for x in x0..x1 {
                raster.ink[y * raster.width + x] = 1.0;
            }
        }
    }

    fn inked_box(frame: &[f32]) -> (usize, usize, usize, usize) {
        let raster = Raster {
            width: IMAGE_SIDE,
            height: IMAGE_SIDE,
            ink: frame.to_vec(),
        };
        raster.ink_bounding_box().expect("frame should contain ink")
    }

    fn centre_of_mass(frame: &[f32]) -> (f32, f32) {
        let (mut mass, mut sum_x, mut sum_y) = (0.0, 0.0, 0.0);
        for (index, &value) in frame.iter().enumerate() {
            mass += value;
            sum_x += value * ((index % IMAGE_SIDE) as f32 + 0.5);
            sum_y += value * ((index / IMAGE_SIDE) as f32 + 0.5);
        }
        (sum_x / mass, sum_y / mass)
    }

    #[test]
    fn empty_drawing_gives_none() {
        assert_eq!(to_model_input(&Raster::new(280, 280)), None);
    }

    #[test]
    fn faint_noise_counts_as_empty() {
        let mut raster = Raster::new(100, 100);
        raster
            .ink
            .iter_mut()
            .for_each(|value| *value = INK_THRESHOLD / 2.0);
        assert_eq!(to_model_input(&raster), None);
    }

    #[test]
    fn off_centre_square_is_centred() {
        let mut raster = Raster::new(280, 280);
        fill(&mut raster, 10, 200, 60, 250);
        let frame = to_model_input(&raster).unwrap();
        let (x, y) = centre_of_mass(&frame);
        assert!((x - 14.0).abs() <= 0.5, "centre x {x}");
        assert!((y - 14.0).abs() <= 0.5, "centre y {y}");
        assert_eq!(inked_box(&frame), (4, 4, 24, 24));
    }

    #[test]
    fn tall_stroke_keeps_aspect_ratio() {
        let mut raster = Raster::new(280, 280);
        fill(&mut raster, 130, 20, 150, 260);
        let frame = to_model_input(&raster).unwrap();
        let (left, top, right, bottom) = inked_box(&frame);
        assert_eq!(bottom - top, DIGIT_BOX);
        assert_eq!(right - left, 2, "240x20 scaled to height 20 is 2 wide");
    }

    #[test]
    fn tiny_drawing_is_scaled_up() {
        let mut raster = Raster::new(280, 280);
        fill(&mut raster, 140, 140, 143, 146);
        let frame = to_model_input(&raster).unwrap();
        let (left, top, right, bottom) = inked_box(&frame);
        assert_eq!(bottom - top, DIGIT_BOX);
        assert_eq!(right - left, 10);
    }

    #[test]
    fn huge_drawing_is_scaled_down() {
        let mut raster = Raster::new(1200, 900);
        fill(&mut raster, 0, 0, 1200, 30);
        fill(&mut raster, 0, 870, 1200, 900);
        fill(&mut raster, 0, 0, 30, 900);
        let frame = to_model_input(&raster).unwrap();
        let (left, top, right, bottom) = inked_box(&frame);
        assert_eq!(right - left, DIGIT_BOX);
        assert_eq!(bottom - top, 15);
        assert!(frame.iter().all(|value| (0.0..=1.0).contains(value)));
    }

    #[test]
    fn thick_strokes_stay_in_frame() {
        let mut raster = Raster::new(280, 280);
        fill(&mut raster, 20, 20, 260, 260);
        let frame = to_model_input(&raster).unwrap();
        assert_eq!(inked_box(&frame), (4, 4, 24, 24));
        let total: f32 = frame.iter().sum();
        assert!(
            (total - 400.0).abs() < 1e-3,
            "a full 20x20 block has mass 400, got {total}"
        );
    }

    #[test]
    fn thin_line_is_antialiased_not_lost() {
        let mut raster = Raster::new(400, 400);
        fill(&mut raster, 0, 0, 400, 1);
        fill(&mut raster, 0, 399, 400, 400);
        let frame = to_model_input(&raster).unwrap();
        let total: f32 = frame.iter().sum();
        assert!(
            total > 0.0,
            "two one-pixel lines should leave ink after downscaling"
        );
    }

    #[test]
    fn rgba_dark_on_white_and_on_transparent() {
        let white = [255u8, 255, 255, 255];
        let black = [0u8, 0, 0, 255];
        let clear = [0u8, 0, 0, 0];
        let raster = Raster::from_rgba(3, 1, &[white, black, clear].concat());
        assert_eq!(raster.ink, vec![0.0, 1.0, 0.0]);
    }

    #[test]
    fn inpaint_input_without_mask_matches_model_input() {
        let mut raster = Raster::new(280, 280);
        fill(&mut raster, 100, 40, 130, 240);
        let input = to_inpaint_input(&raster, &Raster::new(280, 280)).unwrap();
        assert_eq!(Some(input.ink), to_model_input(&raster));
        assert!(input.known.iter().all(|&weight| weight == 1.0));
    }

    #[test]
    fn inpaint_mask_marks_unknown_pixels() {
        // A block is drawn and its bottom half masked, with the mask reaching past the block:
        // the frame is unchanged and exactly the block's bottom rows are unknown.
        let mut drawing = Raster::new(280, 280);
        fill(&mut drawing, 40, 40, 240, 240);
        let mut mask = Raster::new(280, 280);
        fill(&mut mask, 0, 140, 280, 280);
        let input = to_inpaint_input(&drawing, &mask).unwrap();
        assert_eq!(Some(input.ink), to_model_input(&drawing));
        let unknown: Vec<usize> = (0..IMAGE_PIXELS)
            .filter(|&index| input.known[index] < 1.0)
            .collect();
        assert_eq!(
            unknown.len(),
            200,
            "the bottom 20x10 of the block is masked"
        );
        assert!(unknown.iter().all(|&index| index / IMAGE_SIDE >= 14));
        assert!(
            input.mask_outside_box,
            "half the mask lies beside the block"
        );
    }

    #[test]
    fn mask_over_the_ink_is_inside_the_box() {
        let mut drawing = Raster::new(280, 280);
        fill(&mut drawing, 40, 40, 240, 240);
        let mut mask = Raster::new(280, 280);
        fill(&mut mask, 40, 140, 240, 240);
        let input = to_inpaint_input(&drawing, &mask).unwrap();
        assert!(!input.mask_outside_box);
    }

    #[test]
    fn digit_upscale_keeps_the_ink() {
        let mut pixels = vec![0u8; IMAGE_PIXELS];
        pixels[14 * IMAGE_SIDE + 10..14 * IMAGE_SIDE + 18].fill(255);
        let raster = Raster::from_digit(&pixels, 280);
        assert_eq!((raster.width, raster.height), (280, 280));
        assert!(raster.at(140, 144) > 0.9, "the row's centre is inked");
        assert_eq!(raster.at(140, 20), 0.0);
        let total: f32 = raster.ink.iter().sum();
        assert!((total / 100.0 - 8.0).abs() < 0.5, "ink mass {total}");
    }

    #[test]
    fn inpaint_needs_ink_outside_the_mask() {
        let mut drawing = Raster::new(100, 100);
        fill(&mut drawing, 10, 10, 50, 50);
        let mut mask = Raster::new(100, 100);
        fill(&mut mask, 0, 0, 60, 60);
        assert_eq!(to_inpaint_input(&drawing, &mask), None);
    }
}
