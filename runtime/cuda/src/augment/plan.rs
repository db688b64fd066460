//! Everything the GPU augmentation of one clip takes, computed on the host from vst-data's own functions (the
//! same draw, sampling positions and blur taps as the CPU path): the clip's uint8 frames packed plane after
//! plane, the sampling tables, the colour passes and the normalisation. Both the kernels' launcher (`gpu.rs`)
//! and their CPU mirror (`reference.rs`) run a plan, step by step in the same order.

use cudarc::driver::DeviceRepr;
use vst_data::augment::{
    ClipDraw, ColorDraw, ColorPasses, CropBox, GaussianBlur, Taps, output_sigma,
};
use vst_data::video::{Frame, Pixels};
use vst_spec::Normalize;

use crate::error::{CudaError, CudaResult};

/// Lanes of the clip-mean luma reduction (`LUMA_LANES` in source.cu).
pub const LUMA_LANES: usize = 1024;

/// The kernels' `ColorArgs`: jitter ops `order[from]` up to `order[to - 1]`, then grayscale when `grayscale` is 1.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ColorArgs {
    pub order: [i32; 4],
    pub from: i32,
    pub to: i32,
    pub grayscale: i32,
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub hue: f32,
}

// SAFETY: repr(C) plain 32-bit fields, laid out exactly as the CUDA struct `ColorArgs`.
unsafe impl DeviceRepr for ColorArgs {}

/// A clip's colour ops as two launches, split where contrast needs the mean (vst-data's [`ColorPasses`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorPlan {
    pub before_contrast: ColorArgs,
    pub from_contrast: ColorArgs,
    pub needs_mean: bool,
}

impl ColorPlan {
    pub fn of(color: &ColorDraw) -> ColorPlan {
        let passes = ColorPasses::of(color);
        let mut base = ColorArgs::default();
        let split = match &color.jitter {
            Some(j) => {
                base.order = j.order.map(i32::from);
                base.brightness = j.brightness;
                base.contrast = j.contrast;
                base.saturation = j.saturation;
                base.hue = j.hue;
                j.order.iter().position(|&op| op == 1).unwrap_or(4) as i32
            }
            None => 0,
        };
        let jittered = color.jitter.is_some();
        ColorPlan {
            before_contrast: ColorArgs {
                from: 0,
                to: split,
                ..base
            },
            from_contrast: ColorArgs {
                from: split,
                to: if jittered { 4 } else { 0 },
                grayscale: i32::from(color.grayscale),
                ..base
            },
            needs_mean: passes.needs_mean(),
        }
    }
}

/// A clip's decoded frames, packed frame after frame as the kernels read them.
#[derive(Debug, Clone, PartialEq)]
pub enum Planes {
    /// Y planes (`width × height` each), then U and V (`chroma_width × chroma_height` each).
    Yuv420 {
        y: Vec<u8>,
        u: Vec<u8>,
        v: Vec<u8>,
        chroma_width: usize,
        chroma_height: usize,
    },
    /// Interleaved RGB, `width × height × 3` per frame.
    Rgb8(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PackedFrames {
    pub frames: usize,
    pub width: usize,
    pub height: usize,
    pub planes: Planes,
}

impl PackedFrames {
    /// Packs a clip's frames; they must share dimensions and pixel format (one video's frames do).
    pub fn pack(frames: &[&Frame]) -> CudaResult<PackedFrames> {
        let first = frames
            .first()
            .ok_or_else(|| CudaError::BadClip("the clip has no frames".into()))?;
        let (width, height) = (first.width, first.height);
        if width == 0 || height == 0 {
            return Err(CudaError::BadClip(format!(
                "frames of {width}×{height} pixels"
            )));
        }
        let (cw, ch) = Frame::chroma_size(width, height);
        let mut planes = match first.pixels {
            Pixels::Yuv420 { .. } => Planes::Yuv420 {
                y: Vec::with_capacity(frames.len() * width * height),
                u: Vec::with_capacity(frames.len() * cw * ch),
                v: Vec::with_capacity(frames.len() * cw * ch),
                chroma_width: cw,
                chroma_height: ch,
            },
            Pixels::Rgb8(_) => Planes::Rgb8(Vec::with_capacity(frames.len() * width * height * 3)),
        };
        for (k, frame) in frames.iter().enumerate() {
            if (frame.width, frame.height) != (width, height) {
                return Err(CudaError::BadClip(format!(
                    "frame {k} is {}×{}, frame 0 is {width}×{height}",
                    frame.width, frame.height
                )));
            }
            match (&mut planes, &frame.pixels) {
                (
                    Planes::Yuv420 { y, u, v, .. },
                    Pixels::Yuv420 {
                        y: fy,
                        u: fu,
                        v: fv,
                    },
                ) if fy.len() == width * height && fu.len() == cw * ch && fv.len() == cw * ch => {
                    y.extend_from_slice(fy);
                    u.extend_from_slice(fu);
                    v.extend_from_slice(fv);
                }
                (Planes::Rgb8(out), Pixels::Rgb8(rgb)) if rgb.len() == width * height * 3 => {
                    out.extend_from_slice(rgb)
                }
                _ => {
                    return Err(CudaError::BadClip(format!(
                        "frame {k} differs from frame 0 in pixel format or plane size"
                    )));
                }
            }
        }
        Ok(PackedFrames {
            frames: frames.len(),
            width,
            height,
            planes,
        })
    }
}

/// Sampling positions of the crop along luma x, luma y, chroma x, chroma y: `index` holds lo then hi of each
/// axis (`8 × size` values), `weight` the weight of hi per axis (`4 × size`). An RGB clip's kernel reads only
/// the luma axes.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingTables {
    pub index: Vec<u32>,
    pub weight: Vec<f32>,
}

impl SamplingTables {
    pub fn new(crop: &CropBox, size: usize, width: usize, height: usize) -> SamplingTables {
        let (cw, ch) = Frame::chroma_size(width, height);
        let axes = [
            Taps::new(size, crop.x, crop.width, width, 1.0, crop.flip),
            Taps::new(size, crop.y, crop.height, height, 1.0, false),
            Taps::new(size, crop.x, crop.width, cw, 2.0, crop.flip),
            Taps::new(size, crop.y, crop.height, ch, 2.0, false),
        ];
        let mut tables = SamplingTables {
            index: Vec::with_capacity(8 * size),
            weight: Vec::with_capacity(4 * size),
        };
        for taps in &axes {
            tables.index.extend_from_slice(&taps.lo);
            tables.index.extend_from_slice(&taps.hi);
            tables.weight.extend_from_slice(&taps.w);
        }
        tables
    }
}

/// The rows and columns an axis's sampling positions touch: `(first, count)`.
fn span(lo: &[u32], hi: &[u32]) -> (usize, usize) {
    let first = lo.iter().chain(hi).copied().min().unwrap_or(0) as usize;
    let last = lo.iter().chain(hi).copied().max().unwrap_or(0) as usize;
    (first, last + 1 - first)
}

/// Copies rows `y0..y0 + h`, columns `x0..x0 + w` (in `channels`-value pixels) of each `width × height` plane in
/// `planes`.
#[allow(clippy::too_many_arguments)]
fn cut(
    planes: &[u8],
    frames: usize,
    width: usize,
    height: usize,
    channels: usize,
    (x0, w): (usize, usize),
    (y0, h): (usize, usize),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(frames * w * h * channels);
    for f in 0..frames {
        let plane = &planes[f * width * height * channels..];
        for y in y0..y0 + h {
            let row = &plane[(y * width + x0) * channels..];
            out.extend_from_slice(&row[..w * channels]);
        }
    }
    out
}

/// Reduces the packed frames to the region the crop samples (the CPU ships only that) and shifts the sampling
/// positions to match: the kernels read the same values as from whole frames.
fn keep_sampled_region(input: &mut PackedFrames, tables: &mut SamplingTables, size: usize) {
    let axis = |t: &SamplingTables, which: usize| {
        span(
            &t.index[2 * which * size..(2 * which + 1) * size],
            &t.index[(2 * which + 1) * size..(2 * which + 2) * size],
        )
    };
    let shift = |t: &mut SamplingTables, which: usize, by: usize| {
        for i in &mut t.index[2 * which * size..(2 * which + 2) * size] {
            *i -= by as u32;
        }
    };
    let (frames, width, height) = (input.frames, input.width, input.height);
    let (lx, ly) = (axis(tables, 0), axis(tables, 1));
    match &mut input.planes {
        Planes::Yuv420 {
            y,
            u,
            v,
            chroma_width,
            chroma_height,
        } => {
            let (cx, cy) = (axis(tables, 2), axis(tables, 3));
            *y = cut(y, frames, width, height, 1, lx, ly);
            *u = cut(u, frames, *chroma_width, *chroma_height, 1, cx, cy);
            *v = cut(v, frames, *chroma_width, *chroma_height, 1, cx, cy);
            (*chroma_width, *chroma_height) = (cx.1, cy.1);
            shift(tables, 2, cx.0);
            shift(tables, 3, cy.0);
        }
        Planes::Rgb8(rgb) => *rgb = cut(rgb, frames, width, height, 3, lx, ly),
    }
    shift(tables, 0, lx.0);
    shift(tables, 1, ly.0);
    (input.width, input.height) = (lx.1, ly.1);
}

/// One clip's augmentation, ready to upload.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipPlan {
    /// The frames, cut to the region the crop samples.
    pub input: PackedFrames,
    pub size: usize,
    /// Output frames: one fewer than the input with `difference`.
    pub output_frames: usize,
    pub difference: bool,
    pub tables: SamplingTables,
    pub color: ColorPlan,
    /// Normalised blur taps (2 · radius + 1) when the clip is blurred.
    pub blur: Option<Vec<f32>>,
    pub mean: [f32; 3],
    pub inv_std: [f32; 3],
}

impl ClipPlan {
    /// The plan of `render_clip(frames, difference, draw, size, normalize)`.
    pub fn new(
        frames: &[&Frame],
        difference: bool,
        draw: &ClipDraw,
        size: usize,
        normalize: &Normalize,
    ) -> CudaResult<ClipPlan> {
        if size == 0 {
            return Err(CudaError::BadClip("the output size is 0".into()));
        }
        if difference && frames.len() < 2 {
            return Err(CudaError::BadClip(
                "a temporal difference needs at least 2 frames".into(),
            ));
        }
        let mut input = PackedFrames::pack(frames)?;
        let mut tables = SamplingTables::new(&draw.crop, size, input.width, input.height);
        keep_sampled_region(&mut input, &mut tables, size);
        let blur = draw
            .color
            .blur_sigma
            .and_then(|sigma| GaussianBlur::new(size, output_sigma(sigma, &draw.crop, size)))
            .map(|b| b.kernel().to_vec());
        Ok(ClipPlan {
            output_frames: input.frames - usize::from(difference),
            input,
            size,
            difference,
            tables,
            color: ColorPlan::of(&draw.color),
            blur,
            mean: normalize.mean.map(|m| m as f32),
            inv_std: normalize.std.map(|s| (1.0 / s) as f32),
        })
    }

    /// Pixels of the working buffer (every input frame at `size²`).
    pub fn pixels(&self) -> usize {
        self.input.frames * self.size * self.size
    }

    /// Output values (`output_frames × size² × 3`).
    pub fn output_len(&self) -> usize {
        self.output_frames * self.size * self.size * 3
    }

    /// Pixels each lane of the mean reduction adds.
    pub fn luma_chunk(&self) -> usize {
        self.pixels().div_ceil(LUMA_LANES).max(1)
    }
}
