//! A tiny 5×7 bitmap font for the labels of `vst data preview` (video, clip, start time): the characters those
//! labels use, drawn into an [`RgbImage`] at an integer scale. Other characters draw as blanks.

use crate::image::RgbImage;

/// Rows of a 5-wide glyph, top to bottom; bit 4 is the leftmost pixel.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'a' => [0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F],
        'c' => [0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E],
        'd' => [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F],
        'e' => [0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E],
        'h' => [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11],
        'i' => [0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E],
        'l' => [0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'o' => [0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E],
        'p' => [0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10],
        's' => [0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E],
        't' => [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06],
        'v' => [0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'w' => [0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A],
        '=' => [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        _ => [0; 7],
    }
}

/// Width in pixels of `text` at `scale` (a glyph and one column of spacing per character).
pub fn text_width(text: &str, scale: usize) -> usize {
    text.chars().count() * 6 * scale
}

/// Height in pixels of a line at `scale`.
pub fn text_height(scale: usize) -> usize {
    7 * scale
}

/// Draws `text` with its top-left corner at (x, y), clipped to the image.
pub fn draw_text(
    image: &mut RgbImage,
    x: usize,
    y: usize,
    text: &str,
    scale: usize,
    colour: [u8; 3],
) {
    for (i, c) in text.chars().enumerate() {
        let left = x + i * 6 * scale;
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (px, py) = (left + col * scale + dx, y + row * scale + dy);
                        if px < image.width && py < image.height {
                            let at = (py * image.width + px) * 3;
                            image.pixels[at..at + 3].copy_from_slice(&colour);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_at_scale_and_clipped() {
        let mut image = RgbImage::new(40, 20, [0, 0, 0]);
        draw_text(&mut image, 0, 0, "1.", 2, [255, 255, 255]);
        let lit = image.pixels.chunks(3).filter(|p| p[0] == 255).count();
        // `1` has 10 pixels and `.` 4, each 2×2 at scale 2.
        assert_eq!(lit, (10 + 4) * 4);
        assert_eq!(text_width("clip 1", 2), 72);
        // Off the canvas: nothing panics.
        draw_text(&mut image, 38, 18, "88", 3, [1, 2, 3]);
    }
}
