//! The straightforward form of the T/S/C rendering, kept for tests: whole-clip passes one op at a time, exactly
//! as `render_clip` computed them before it was fused into row and frame passes (the fused form must give the same
//! bits). Hue uses `rem_euclid` as before.

use super::color::{ColorDraw, JitterDraw};
use super::spatial::{CropBox, Taps};
use super::{ClipDraw, output_sigma};
use crate::video::frame::yuv_to_rgb;
use crate::video::{Frame, Pixels};
use vst_spec::Normalize;

fn luma(r: f32, g: f32, b: f32) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

/// Bilinear resampling pixel by pixel, no row cache: each output value from its four source samples, blended
/// horizontally then vertically, as the row-cached resampler does.
pub fn resample(frame: &Frame, crop: &CropBox, size: usize, out: &mut [f32]) {
    let (w, h) = (frame.width, frame.height);
    let lx = Taps::new(size, crop.x, crop.width, w, 1.0, crop.flip);
    let ly = Taps::new(size, crop.y, crop.height, h, 1.0, false);
    let sample = |plane: &[u8],
                  stride: usize,
                  ch: usize,
                  c: usize,
                  tx: &Taps,
                  ty: &Taps,
                  x: usize,
                  y: usize| {
        let at = |row: u32, col: u32| plane[row as usize * stride + col as usize * ch + c] as f32;
        let (a, b) = (at(ty.lo[y], tx.lo[x]), at(ty.lo[y], tx.hi[x]));
        let top = a + (b - a) * tx.w[x];
        let (a, b) = (at(ty.hi[y], tx.lo[x]), at(ty.hi[y], tx.hi[x]));
        let bottom = a + (b - a) * tx.w[x];
        top + (bottom - top) * ty.w[y]
    };
    for y in 0..size {
        for x in 0..size {
            let o = &mut out[(y * size + x) * 3..(y * size + x) * 3 + 3];
            match &frame.pixels {
                Pixels::Rgb8(rgb) => {
                    for (c, v) in o.iter_mut().enumerate() {
                        *v = sample(rgb, w * 3, 3, c, &lx, &ly, x, y) * (1.0 / 255.0);
                    }
                }
                Pixels::Yuv420 { y: yp, u, v } => {
                    let (cw, ch) = Frame::chroma_size(w, h);
                    let cx = Taps::new(size, crop.x, crop.width, cw, 2.0, crop.flip);
                    let cy = Taps::new(size, crop.y, crop.height, ch, 2.0, false);
                    let rgb = yuv_to_rgb(
                        sample(yp, w, 1, 0, &lx, &ly, x, y),
                        sample(u, cw, 1, 0, &cx, &cy, x, y),
                        sample(v, cw, 1, 0, &cx, &cy, x, y),
                    );
                    for c in 0..3 {
                        o[c] = rgb[c].clamp(0.0, 1.0);
                    }
                }
            }
        }
    }
}

pub fn shift_hue([r, g, b]: [f32; 3], turns: f32) -> [f32; 3] {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let delta = max - min;
    if delta <= 0.0 {
        return [r, g, b];
    }
    let mut h = if max == r {
        ((g - b) / delta).rem_euclid(6.0)
    } else if max == g {
        (b - r) / delta + 2.0
    } else {
        (r - g) / delta + 4.0
    } / 6.0;
    h = (h + turns).rem_euclid(1.0);
    let (s, v) = (delta / max, max);
    let h6 = h * 6.0;
    let sector = (h6.floor() as i32).rem_euclid(6);
    let f = h6 - h6.floor();
    let p = v * (1.0 - s);
    let q = v * (1.0 - s * f);
    let t = v * (1.0 - s * (1.0 - f));
    match sector {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

fn jitter(rgb: &mut [f32], j: &JitterDraw) {
    for &op in &j.order {
        match op {
            0 => rgb
                .iter_mut()
                .for_each(|x| *x = (*x * j.brightness).clamp(0.0, 1.0)),
            1 => {
                let n = (rgb.len() / 3).max(1) as f64;
                let mean = (rgb
                    .chunks_exact(3)
                    .map(|p| luma(p[0], p[1], p[2]) as f64)
                    .sum::<f64>()
                    / n) as f32;
                rgb.iter_mut()
                    .for_each(|x| *x = ((*x - mean) * j.contrast + mean).clamp(0.0, 1.0));
            }
            2 => {
                for p in rgb.chunks_exact_mut(3) {
                    let g = luma(p[0], p[1], p[2]);
                    for x in p.iter_mut() {
                        *x = (g + (*x - g) * j.saturation).clamp(0.0, 1.0);
                    }
                }
            }
            _ => {
                if j.hue != 0.0 {
                    for p in rgb.chunks_exact_mut(3) {
                        let shifted = shift_hue([p[0], p[1], p[2]], j.hue);
                        p.copy_from_slice(&shifted);
                    }
                }
            }
        }
    }
}

pub fn apply_color(rgb: &mut [f32], draw: &ColorDraw) {
    if let Some(j) = &draw.jitter {
        jitter(rgb, j);
    }
    if draw.grayscale {
        for p in rgb.chunks_exact_mut(3) {
            let g = luma(p[0], p[1], p[2]);
            p.fill(g);
        }
    }
}

pub fn blur_frames(clip: &mut [f32], size: usize, sigma: f32) {
    if sigma <= 0.0 || size < 2 {
        return;
    }
    let radius = ((3.0 * sigma).ceil() as usize).clamp(1, size - 1);
    let mut kernel: Vec<f32> = (0..=2 * radius)
        .map(|i| {
            let d = i as f32 - radius as f32;
            (-(d * d) / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let total: f32 = kernel.iter().sum();
    kernel.iter_mut().for_each(|k| *k /= total);
    let reflect = |i: isize| -> usize {
        let n = size as isize;
        let i = if i < 0 { -i } else { i };
        (if i >= n { 2 * (n - 1) - i } else { i }) as usize
    };
    let row_len = size * 3;
    let frame_len = size * row_len;
    let mut padded = vec![0f32; (size + 2 * radius) * 3];
    let mut source = vec![0f32; frame_len];
    for frame in clip.chunks_exact_mut(frame_len) {
        for row in frame.chunks_exact_mut(row_len) {
            for p in 0..size + 2 * radius {
                let x = reflect(p as isize - radius as isize);
                padded[p * 3..p * 3 + 3].copy_from_slice(&row[x * 3..x * 3 + 3]);
            }
            row.fill(0.0);
            for (k, &wk) in kernel.iter().enumerate() {
                for (o, &s) in row.iter_mut().zip(&padded[k * 3..k * 3 + row_len]) {
                    *o += wk * s;
                }
            }
        }
        source.copy_from_slice(frame);
        for y in 0..size {
            let out = &mut frame[y * row_len..(y + 1) * row_len];
            out.fill(0.0);
            for (k, &wk) in kernel.iter().enumerate() {
                let sy = reflect(y as isize + k as isize - radius as isize);
                for (o, &s) in out
                    .iter_mut()
                    .zip(&source[sy * row_len..(sy + 1) * row_len])
                {
                    *o += wk * s;
                }
            }
        }
    }
}

/// `render_clip` as whole-clip passes: resample every frame, colour, blur, then normalise or difference.
pub fn render_clip(
    frames: &[&Frame],
    difference: bool,
    draw: &ClipDraw,
    size: usize,
    normalize: &Normalize,
    out: &mut [f32],
) {
    let plane = size * size * 3;
    let t = frames.len() - difference as usize;
    let inv_std = normalize.std.map(|s| (1.0 / s) as f32);
    let mean = normalize.mean.map(|m| m as f32);
    let mut buffer = vec![0f32; frames.len() * plane];
    for (frame, slot) in frames.iter().zip(buffer.chunks_exact_mut(plane)) {
        resample(frame, &draw.crop, size, slot);
    }
    apply_color(&mut buffer, &draw.color);
    if let Some(sigma) = draw.color.blur_sigma {
        blur_frames(&mut buffer, size, output_sigma(sigma, &draw.crop, size));
    }
    if difference {
        for k in 0..t {
            for i in 0..plane {
                out[k * plane + i] =
                    (buffer[(k + 1) * plane + i] - buffer[k * plane + i]) * inv_std[i % 3];
            }
        }
    } else {
        for (o, (i, &x)) in out.iter_mut().zip(buffer.iter().enumerate()) {
            *o = (x - mean[i % 3]) * inv_std[i % 3];
        }
    }
}
