//! T/S/C augmentation of one clip: a [`ClipDraw`] holds every random choice (crop, flip, colour, blur), drawn
//! once per clip; [`render_clip`] applies it identically to all of the clip's frames and writes the normalised
//! result, channels last.

pub mod color;
#[cfg(test)]
mod reference;
pub mod renderer;
pub mod spatial;

pub use color::{
    ColorDraw, ColorPasses, GaussianBlur, JitterDraw, LumaSum, apply_color, blur_frames, draw_color,
};
pub use spatial::{CropBox, Resampler, Taps, draw_crop, resample, test_crop};

use crate::rng::DataRng;
use crate::video::Frame;
use vst_spec::{
    AugmentSpec, Blur, ColorAug, ColorJitter, Normalize, Range, ResizedCrop, SpatialAug,
    TemporalAug,
};

/// The paper's pre-training augmentation (reference.md): random start, the short side jittered in `short_side`,
/// a random resized crop (area 0.2–0.766, aspect 3/4–4/3) to `size`², flip, colour jitter 0.6/0.6/0.6/0.15 with
/// p 0.8, grayscale p 0.2, blur σ 0.1–2 with p 0.5, Kinetics normalisation. For tools, tests and benchmarks;
/// recipes spell their augmentation out.
pub fn paper_augment(size: u32, short_side: Range) -> AugmentSpec {
    AugmentSpec {
        temporal: TemporalAug {
            random_start: true,
            frame_rate_jitter: None,
            temporal_difference: None,
        },
        spatial: SpatialAug {
            size,
            short_side: Some(short_side),
            resized_crop: Some(ResizedCrop {
                area: Range::new(0.2, 0.766),
                aspect: Range::new(0.75, 1.333),
            }),
            flip: Some(0.5),
            center: false,
        },
        color: ColorAug {
            jitter: Some(ColorJitter {
                brightness: 0.6,
                contrast: 0.6,
                saturation: 0.6,
                hue: 0.15,
                p: 0.8,
            }),
            grayscale: Some(0.2),
            blur: Some(Blur {
                sigma: Range::new(0.1, 2.0),
                p: 0.5,
            }),
        },
        normalize: Normalize {
            mean: [0.45; 3],
            std: [0.225; 3],
        },
    }
}

/// Every random choice of S and C for one clip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipDraw {
    pub crop: CropBox,
    pub color: ColorDraw,
}

/// Draws the spatial and colour parameters of one clip of a `width × height` video.
pub fn draw_clip(
    rng: &mut DataRng,
    width: usize,
    height: usize,
    augment: &AugmentSpec,
) -> ClipDraw {
    let crop = draw_crop(rng, width, height, &augment.spatial);
    let color = draw_color(rng, &augment.color);
    ClipDraw { crop, color }
}

/// The blur σ in output pixels for a σ drawn in source pixels. The official code blurs the decoded frames at their
/// stored resolution, before the scale jitter and the crop; blurring the `size`² output with σ scaled by the crop's
/// magnification is the same filter up to resampling and border effects, at a fraction of the cost.
pub fn output_sigma(source_sigma: f32, crop: &CropBox, size: usize) -> f32 {
    let side = (crop.width * crop.height).sqrt().max(1e-6);
    source_sigma * (size as f64 / side) as f32
}

/// Renders one clip: crops `frames` (T of them, or T + 1 with `difference`), applies colour and blur, then either
/// normalises (`(x − mean) / std`) or — for temporal difference — writes the T differences of consecutive frames
/// divided by std (their mean is about zero already). `out` holds `T × size × size × 3` values.
///
/// The result is that of whole-clip passes in order — resample every frame, colour ([`apply_color`]), blur
/// ([`blur_frames`]), normalise — bit for bit (tests check it), but computed a row or a frame at a time while the
/// data is in cache: colour ops up to contrast run on each row as the resampler writes it; contrast needs the
/// clip's mean luma, so the rest waits for the last frame and then runs per frame together with blur and
/// normalisation. Without contrast everything happens in the first pass.
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
    debug_assert_eq!(out.len(), t * plane);
    let inv_std = normalize.std.map(|s| (1.0 / s) as f32);
    let mean = normalize.mean.map(|m| m as f32);
    if difference {
        let mut source = vec![0f32; frames.len() * plane];
        prepare_clip(frames, draw, size, &mut source, |_| {});
        for k in 0..t {
            let (a, b) = (
                &source[k * plane..(k + 1) * plane],
                &source[(k + 1) * plane..(k + 2) * plane],
            );
            for (i, o) in out[k * plane..(k + 1) * plane].iter_mut().enumerate() {
                *o = (b[i] - a[i]) * inv_std[i % 3];
            }
        }
    } else {
        prepare_clip(frames, draw, size, out, |row| {
            for p in row.chunks_exact_mut(3) {
                for c in 0..3 {
                    p[c] = (p[c] - mean[c]) * inv_std[c];
                }
            }
        });
    }
}

/// Resample, colour and blur every frame of a clip into `buffer` (one `size² × 3` plane per frame), handing
/// each finished row to `finish`.
fn prepare_clip(
    frames: &[&Frame],
    draw: &ClipDraw,
    size: usize,
    buffer: &mut [f32],
    mut finish: impl FnMut(&mut [f32]),
) {
    let plane = size * size * 3;
    let passes = ColorPasses::of(&draw.color);
    let mut blur = draw
        .color
        .blur_sigma
        .and_then(|sigma| GaussianBlur::new(size, output_sigma(sigma, &draw.crop, size)));
    let blurs = blur.is_some();
    let mut resampler = Resampler::new(&draw.crop, size);
    // The frame's rest after its rows were resampled and coloured up to contrast: colour from contrast on (when
    // not done already), blur, finish.
    let mut complete = |slot: &mut [f32], mean: Option<f32>| match (&mut blur, mean) {
        (Some(blur), mean) => {
            if let Some(mean) = mean {
                passes.from_contrast(slot, mean);
            }
            blur.frame(slot, &mut finish);
        }
        (None, Some(mean)) => {
            for row in slot.chunks_exact_mut(size * 3) {
                passes.from_contrast(row, mean);
                finish(row);
            }
        }
        (None, None) => slot.chunks_exact_mut(size * 3).for_each(&mut finish),
    };
    if passes.needs_mean() {
        let mut luma = LumaSum::default();
        for (frame, slot) in frames.iter().zip(buffer.chunks_exact_mut(plane)) {
            resampler.frame(frame, slot, |row| {
                passes.before_contrast(row);
                luma.add(row);
            });
        }
        let mean = luma.mean();
        for slot in buffer.chunks_exact_mut(plane) {
            complete(slot, Some(mean));
        }
    } else if blurs {
        for (frame, slot) in frames.iter().zip(buffer.chunks_exact_mut(plane)) {
            resampler.frame(frame, slot, |row| {
                passes.before_contrast(row);
                passes.from_contrast(row, 0.0);
            });
            complete(slot, None);
        }
    } else {
        for (frame, slot) in frames.iter().zip(buffer.chunks_exact_mut(plane)) {
            resampler.frame(frame, slot, |row| {
                passes.before_contrast(row);
                passes.from_contrast(row, 0.0);
                finish(row);
            });
        }
    }
}

/// Renders a test-time view: crop and normalise, nothing random.
pub fn render_view(
    frames: &[&Frame],
    crop: &CropBox,
    size: usize,
    normalize: &Normalize,
    out: &mut [f32],
) {
    let draw = ClipDraw {
        crop: *crop,
        color: ColorDraw::default(),
    };
    render_clip(frames, false, &draw, size, normalize, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng_for};
    use crate::video::Pixels;
    use proptest::prelude::*;
    use vst_spec::Range;

    fn paper_augment(size: u32) -> AugmentSpec {
        super::paper_augment(size, Range::new(256.0, 320.0))
    }

    fn random_frame(rng: &mut DataRng, w: usize, h: usize) -> Frame {
        let (cw, ch) = Frame::chroma_size(w, h);
        let mut plane = |n: usize| (0..n).map(|_| rng.below(256) as u8).collect::<Vec<u8>>();
        Frame {
            width: w,
            height: h,
            pixels: Pixels::Yuv420 {
                y: plane(w * h),
                u: plane(cw * ch),
                v: plane(cw * ch),
            },
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn clips_have_the_right_shape_and_range(seed in 0u64..1000, t in 1usize..4, size in 1usize..20,
                                                w in 2usize..48, h in 2usize..48, difference in any::<bool>()) {
            let aug = paper_augment(size as u32);
            let mut rng = rng_for(seed, Stream::Sample, 0, 0);
            let frames: Vec<Frame> = (0..t + difference as usize).map(|_| random_frame(&mut rng, w, h)).collect();
            let refs: Vec<&Frame> = frames.iter().collect();
            let draw = draw_clip(&mut rng, w, h, &aug);
            let mut out = vec![f32::NAN; t * size * size * 3];
            render_clip(&refs, difference, &draw, size, &aug.normalize, &mut out);
            // Normalised [0, 1] values lie in [-2, 2.45]; differences in ±1/0.225.
            let (lo, hi) = if difference { (-1.0 / 0.225, 1.0 / 0.225) } else { (-0.45 / 0.225, 0.55 / 0.225) };
            prop_assert!(out.iter().all(|x| x.is_finite() && *x >= lo - 1e-4 && *x <= hi + 1e-4));
        }

        #[test]
        fn one_draw_treats_every_frame_of_a_clip_alike(seed in 0u64..1000) {
            // A clip of four copies of one frame stays four identical frames under any draw: crop, flip, colour
            // and blur parameters are the clip's, not the frame's.
            let aug = paper_augment(12);
            let mut rng = rng_for(seed, Stream::Sample, 0, 0);
            let frame = random_frame(&mut rng, 40, 30);
            let refs = vec![&frame; 4];
            let draw = draw_clip(&mut rng, 40, 30, &aug);
            let mut out = vec![0f32; 4 * 12 * 12 * 3];
            render_clip(&refs, false, &draw, 12, &aug.normalize, &mut out);
            let plane = 12 * 12 * 3;
            for k in 1..4 {
                prop_assert_eq!(&out[..plane], &out[k * plane..(k + 1) * plane]);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        /// The fused renderer gives the bits of the whole-clip passes (reference.rs) for every kind of draw:
        /// with and without jitter, contrast at any position of the order, blur, grayscale, difference.
        #[test]
        fn fused_rendering_matches_whole_clip_passes(seed in 0u64..100_000, t in 1usize..4, size in 1usize..40,
                                                     w in 2usize..64, h in 2usize..64, difference in any::<bool>(),
                                                     rgb in any::<bool>()) {
            let aug = paper_augment(size as u32);
            let mut rng = rng_for(seed, Stream::Sample, 0, 0);
            let frames: Vec<Frame> = (0..t + difference as usize)
                .map(|_| {
                    let f = random_frame(&mut rng, w, h);
                    if rgb { Frame { width: w, height: h, pixels: Pixels::Rgb8(f.to_rgb8()) } } else { f }
                })
                .collect();
            let refs: Vec<&Frame> = frames.iter().collect();
            let draw = draw_clip(&mut rng, w, h, &aug);
            let n = t * size * size * 3;
            let (mut fused, mut plain) = (vec![f32::NAN; n], vec![f32::NAN; n]);
            render_clip(&refs, difference, &draw, size, &aug.normalize, &mut fused);
            super::reference::render_clip(&refs, difference, &draw, size, &aug.normalize, &mut plain);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert!(bits(&fused) == bits(&plain), "draw {:?}", draw);
        }

        #[test]
        fn hue_shift_matches_the_rem_euclid_form(r in 0.0f32..=1.0, g in 0.0f32..=1.0, b in 0.0f32..=1.0,
                                                  turns in -3.0f32..3.0) {
            let fast = color::shift_hue([r, g, b], turns);
            let plain = super::reference::shift_hue([r, g, b], turns);
            prop_assert_eq!(fast.map(f32::to_bits), plain.map(f32::to_bits));
        }
    }

    proptest! {
        /// The vectorised hue shift over pixels gives the plain form's bits, ties (r = g, g = b, greys) included.
        #[test]
        fn hue_shift_of_pixels_matches_the_rem_euclid_form(
            levels in proptest::collection::vec(0u8..=8, 3..600), turns in -1.5f32..1.5) {
            // Few distinct levels make ties and greys common; some values exact 0 and 1.
            let mut rgb: Vec<f32> = levels.iter().map(|&l| l as f32 / 8.0).collect();
            rgb.truncate(rgb.len() / 3 * 3);
            let plain: Vec<u32> = rgb
                .chunks_exact(3)
                .flat_map(|p| super::reference::shift_hue([p[0], p[1], p[2]], turns).map(f32::to_bits))
                .collect();
            color::shift_hue_pixels(&mut rgb, turns);
            prop_assert_eq!(rgb.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), plain);
        }
    }

    #[test]
    fn hue_shift_matches_the_rem_euclid_form_at_the_wrap_points() {
        for rgb in [
            [1.0, 0.0, 0.0],
            [1.0, 0.0, 1e-7],
            [0.2, 0.9, 0.4],
            [0.3, 0.1, 0.8],
            [1.0, 1e-7, 0.0],
        ] {
            for turns in [-1.0, -0.5, -1e-8, 0.0, -0.0, 1e-8, 0.5, 1.0, 2.0, -2.0] {
                assert_eq!(
                    color::shift_hue(rgb, turns).map(f32::to_bits),
                    super::reference::shift_hue(rgb, turns).map(f32::to_bits),
                    "{rgb:?} by {turns}"
                );
            }
        }
    }

    #[test]
    fn difference_of_a_static_clip_is_zero() {
        let aug = paper_augment(8);
        let mut rng = rng_for(1, Stream::Sample, 0, 0);
        let frame = random_frame(&mut rng, 16, 16);
        let refs = vec![&frame; 3];
        let draw = draw_clip(&mut rng, 16, 16, &aug);
        let mut out = vec![1f32; 2 * 8 * 8 * 3];
        render_clip(&refs, true, &draw, 8, &aug.normalize, &mut out);
        assert!(out.iter().all(|&x| x == 0.0));
    }
}
