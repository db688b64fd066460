//! RGB8 images for previews: a canvas to paste tiles into, and an atomic PNG writer.

use crate::error::{DataError, Result};
use crate::fsutil::write_atomic;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl RgbImage {
    pub fn new(width: usize, height: usize, fill: [u8; 3]) -> RgbImage {
        let mut pixels = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            pixels.extend_from_slice(&fill);
        }
        RgbImage {
            width,
            height,
            pixels,
        }
    }

    /// Copies a `w × h` RGB8 tile with its top-left corner at (x, y), clipped to the canvas.
    pub fn paste(&mut self, x: usize, y: usize, w: usize, h: usize, tile: &[u8]) {
        for row in 0..h {
            let ty = y + row;
            if ty >= self.height {
                break;
            }
            let cols = w.min(self.width.saturating_sub(x));
            let dst = (ty * self.width + x) * 3;
            self.pixels[dst..dst + cols * 3]
                .copy_from_slice(&tile[row * w * 3..row * w * 3 + cols * 3]);
        }
    }

    /// PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let err = |e: png::EncodingError| DataError::Encode(format!("PNG: {e}"));
            let mut writer = encoder.write_header().map_err(err)?;
            writer.write_image_data(&self.pixels).map_err(err)?;
        }
        Ok(out)
    }

    pub fn write_png(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_png()?)
    }
}
