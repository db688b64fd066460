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
/// axis (`8 × size` values), `weight` the weight of hi per axis (`4 × size`). Chroma axes of an RGB clip repeat
/// the luma ones (unused).
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

/// One clip's augmentation, ready to upload.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipPlan {
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
        let input = PackedFrames::pack(frames)?;
        let tables = SamplingTables::new(&draw.crop, size, input.width, input.height);
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
