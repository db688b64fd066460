//! Decoded pictures. H.264 decoders hand out YUV 4:2:0; keeping frames in that form until the crop lets the
//! augmentation convert only the pixels it keeps, at the output resolution.

/// One decoded picture with tightly packed planes.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub pixels: Pixels,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Pixels {
    /// Y is `width × height`; U and V are `ceil(width/2) × ceil(height/2)` (chroma sited at the centre of each
    /// 2×2 luma block). Limited range BT.601, which is what H.264 means when the stream does not say otherwise.
    Yuv420 { y: Vec<u8>, u: Vec<u8>, v: Vec<u8> },
    /// Interleaved RGB, `width × height × 3`.
    Rgb8(Vec<u8>),
}

impl Frame {
    pub fn chroma_size(width: usize, height: usize) -> (usize, usize) {
        (width.div_ceil(2), height.div_ceil(2))
    }

    /// Copies planes given with strides into a packed frame.
    pub fn from_yuv_strided(
        width: usize,
        height: usize,
        planes: (&[u8], &[u8], &[u8]),
        strides: (usize, usize, usize),
    ) -> Frame {
        let (cw, ch) = Frame::chroma_size(width, height);
        let copy = |src: &[u8], stride: usize, w: usize, h: usize| {
            let mut out = Vec::with_capacity(w * h);
            for row in 0..h {
                out.extend_from_slice(&src[row * stride..row * stride + w]);
            }
            out
        };
        Frame {
            width,
            height,
            pixels: Pixels::Yuv420 {
                y: copy(planes.0, strides.0, width, height),
                u: copy(planes.1, strides.1, cw, ch),
                v: copy(planes.2, strides.2, cw, ch),
            },
        }
    }

    /// The picture as interleaved RGB8 (converting from YUV when needed).
    pub fn to_rgb8(&self) -> Vec<u8> {
        match &self.pixels {
            Pixels::Rgb8(rgb) => rgb.clone(),
            Pixels::Yuv420 { y, u, v } => {
                let (cw, _) = Frame::chroma_size(self.width, self.height);
                let mut out = vec![0u8; self.width * self.height * 3];
                for row in 0..self.height {
                    for col in 0..self.width {
                        let c = (row / 2) * cw + col / 2;
                        let rgb =
                            yuv_to_rgb(y[row * self.width + col] as f32, u[c] as f32, v[c] as f32);
                        let o = (row * self.width + col) * 3;
                        for k in 0..3 {
                            out[o + k] = (rgb[k] * 255.0).round().clamp(0.0, 255.0) as u8;
                        }
                    }
                }
                out
            }
        }
    }
}

/// BT.601 limited range Y'CbCr (0..255 code values) to R'G'B' in [0, 1] (not clamped).
#[inline(always)]
pub fn yuv_to_rgb(y: f32, u: f32, v: f32) -> [f32; 3] {
    let y = (y - 16.0) * (1.0 / 219.0);
    let u = (u - 128.0) * (1.0 / 224.0);
    let v = (v - 128.0) * (1.0 / 224.0);
    [
        y + 1.402 * v,
        y - 0.344_136 * u - 0.714_136 * v,
        y + 1.772 * u,
    ]
}

/// R'G'B' in [0, 1] to BT.601 limited range code values (unrounded).
#[inline(always)]
pub fn rgb_to_yuv(r: f32, g: f32, b: f32) -> [f32; 3] {
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    let u = (b - y) / 1.772;
    let v = (r - y) / 1.402;
    [16.0 + 219.0 * y, 128.0 + 224.0 * u, 128.0 + 224.0 * v]
}

/// Converts an interleaved RGB8 image to packed YUV 4:2:0 planes (chroma averaged over each 2×2 block).
pub fn rgb8_to_yuv420(rgb: &[u8], width: usize, height: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (cw, ch) = Frame::chroma_size(width, height);
    let mut y = vec![0u8; width * height];
    let mut u = vec![0u8; cw * ch];
    let mut v = vec![0u8; cw * ch];
    let mut acc_u = vec![0f32; cw * ch];
    let mut acc_v = vec![0f32; cw * ch];
    let mut count = vec![0f32; cw * ch];
    for row in 0..height {
        for col in 0..width {
            let o = (row * width + col) * 3;
            let [yy, uu, vv] = rgb_to_yuv(
                rgb[o] as f32 / 255.0,
                rgb[o + 1] as f32 / 255.0,
                rgb[o + 2] as f32 / 255.0,
            );
            y[row * width + col] = yy.round().clamp(0.0, 255.0) as u8;
            let c = (row / 2) * cw + col / 2;
            acc_u[c] += uu;
            acc_v[c] += vv;
            count[c] += 1.0;
        }
    }
    for c in 0..cw * ch {
        u[c] = (acc_u[c] / count[c]).round().clamp(0.0, 255.0) as u8;
        v[c] = (acc_v[c] / count[c]).round().clamp(0.0, 255.0) as u8;
    }
    (y, u, v)
}

/// Peak signal-to-noise ratio in dB of two equally long 8-bit buffers (infinite when identical).
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "psnr of buffers of different lengths");
    let mse: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.len().max(1) as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// PSNR over all three planes of two YUV frames of the same size.
pub fn psnr_yuv(a: &Frame, b: &Frame) -> Option<f64> {
    match (&a.pixels, &b.pixels) {
        (
            Pixels::Yuv420 {
                y: ya,
                u: ua,
                v: va,
            },
            Pixels::Yuv420 {
                y: yb,
                u: ub,
                v: vb,
            },
        ) if a.width == b.width && a.height == b.height => {
            let joined_a: Vec<u8> = ya.iter().chain(ua).chain(va).copied().collect();
            let joined_b: Vec<u8> = yb.iter().chain(ub).chain(vb).copied().collect();
            Some(psnr(&joined_a, &joined_b))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuv_rgb_round_trip_is_close() {
        for &(r, g, b) in &[
            (0.0, 0.0, 0.0),
            (1.0, 1.0, 1.0),
            (0.2, 0.7, 0.4),
            (1.0, 0.0, 0.5),
        ] {
            let [y, u, v] = rgb_to_yuv(r, g, b);
            let back = yuv_to_rgb(y, u, v);
            for (x, z) in back.iter().zip([r, g, b]) {
                assert!((x - z).abs() < 1e-4, "{back:?} vs {:?}", (r, g, b));
            }
        }
        // Limited range: black is 16, white is 235.
        assert_eq!(rgb_to_yuv(0.0, 0.0, 0.0)[0].round(), 16.0);
        assert_eq!(rgb_to_yuv(1.0, 1.0, 1.0)[0].round(), 235.0);
    }

    #[test]
    fn psnr_of_identical_is_infinite_and_of_offset_is_finite() {
        assert!(psnr(&[1, 2, 3], &[1, 2, 3]).is_infinite());
        let p = psnr(&[10, 10], &[11, 11]);
        assert!((p - 48.13).abs() < 0.01, "{p}");
    }
}
