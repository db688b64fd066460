//! The GPU augmentation without a GPU: the kernel source's shape, the NVRTC compile (where libnvrtc is present),
//! and the kernels' CPU mirror (`reference`) against vst-data's CPU path, op by op and whole clips.

use super::gpu::{KERNEL_NAMES, SOURCE, compile_options};
use super::plan::{ClipPlan, ColorPlan, LUMA_LANES, PackedFrames};
use super::reference;
use vst_data::augment::{
    ClipDraw, ColorPasses, GaussianBlur, LumaSum, apply_color, draw_clip, output_sigma,
    paper_augment, render_clip, resample,
};
use vst_data::rng::{DataRng, Stream, rng_for};
use vst_data::video::{Frame, Pixels};
use vst_spec::{AugmentSpec, Range};

fn augment(size: usize) -> AugmentSpec {
    paper_augment(size as u32, Range::new(256.0, 320.0))
}

/// A frame with smooth gradients plus noise, so that crops, hue and blur all see structure.
fn frame(rng: &mut DataRng, w: usize, h: usize, rgb: bool) -> Frame {
    let mut value = |x: usize, y: usize, k: usize| -> u8 {
        let base = (x * (3 + k) + y * (5 + 2 * k)) % 200;
        (base as u64 + rng.below(56)) as u8
    };
    let pixels = if rgb {
        let mut out = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                for k in 0..3 {
                    out.push(value(x, y, k));
                }
            }
        }
        Pixels::Rgb8(out)
    } else {
        let (cw, ch) = Frame::chroma_size(w, h);
        let plane = |value: &mut dyn FnMut(usize, usize, usize) -> u8, pw, ph, k| {
            let mut out = Vec::with_capacity(pw * ph);
            for y in 0..ph {
                for x in 0..pw {
                    out.push(value(x, y, k));
                }
            }
            out
        };
        Pixels::Yuv420 {
            y: plane(&mut value, w, h, 0),
            u: plane(&mut value, cw, ch, 1),
            v: plane(&mut value, cw, ch, 2),
        }
    };
    Frame {
        width: w,
        height: h,
        pixels,
    }
}

struct Case {
    frames: Vec<Frame>,
    draw: ClipDraw,
    size: usize,
    difference: bool,
    aug: AugmentSpec,
}

fn case(seed: u64) -> Case {
    let mut rng = rng_for(seed, Stream::Sample, 0, 0);
    let size = 8 + rng.below(40) as usize;
    let (w, h) = (16 + rng.below(80) as usize, 16 + rng.below(80) as usize);
    let rgb = rng.below(4) == 0;
    let difference = rng.below(4) == 0;
    let count = 2 + rng.below(3) as usize;
    let frames = (0..count).map(|_| frame(&mut rng, w, h, rgb)).collect();
    let aug = augment(size);
    let draw = draw_clip(&mut rng, w, h, &aug);
    Case {
        frames,
        draw,
        size,
        difference,
        aug,
    }
}

impl Case {
    fn refs(&self) -> Vec<&Frame> {
        self.frames.iter().collect()
    }

    fn plan(&self) -> ClipPlan {
        ClipPlan::new(
            &self.refs(),
            self.difference,
            &self.draw,
            self.size,
            &self.aug.normalize,
        )
        .expect("a valid clip")
    }

    fn resampled_on_cpu(&self) -> Vec<f32> {
        let plane = self.size * self.size * 3;
        let mut out = vec![0f32; self.frames.len() * plane];
        for (f, slot) in self.frames.iter().zip(out.chunks_exact_mut(plane)) {
            resample(f, &self.draw.crop, self.size, slot);
        }
        out
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn every_kernel_is_defined_once_and_the_source_is_balanced() {
    for name in KERNEL_NAMES {
        let decl = format!("extern \"C\" __global__ void {name}(");
        assert_eq!(SOURCE.matches(&decl).count(), 1, "{name}");
    }
    assert_eq!(
        SOURCE.matches("extern \"C\" __global__").count(),
        KERNEL_NAMES.len()
    );
    let count = |c| SOURCE.chars().filter(|&x| x == c).count();
    assert_eq!(count('{'), count('}'));
    assert_eq!(count('('), count(')'));
    assert_eq!(count('['), count(']'));
    assert_eq!(
        SOURCE
            .matches(&format!("#define LUMA_LANES {LUMA_LANES}\n"))
            .count(),
        1
    );
}

#[test]
fn kernels_are_compiled_without_fma_contraction() {
    let o = compile_options(9, 0);
    assert!(o.contains(&"--fmad=false".to_string()));
    assert!(o.contains(&"--ftz=false".to_string()));
    assert!(o.contains(&"--gpu-architecture=sm_90".to_string()));
}

/// NVRTC compiles the augmentation kernels (no GPU needed: put libnvrtc.so.13 on LD_LIBRARY_PATH, e.g. pip's
/// nvidia/cu13/lib, and run with `--ignored`; scripts/gpu-check.sh runs it).
#[test]
#[ignore = "needs libnvrtc.so.13 on the library path (no GPU needed)"]
fn nvrtc_compiles_the_augmentation_kernels() {
    assert!(
        unsafe { cudarc::nvrtc::sys::is_culib_present() },
        "libnvrtc.so.13 is not loadable: set LD_LIBRARY_PATH"
    );
    for (major, minor) in [(8, 0), (9, 0)] {
        let cubin = super::gpu::compile_cubin(major, minor).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&cubin[..4], b"\x7fELF");
        let text = String::from_utf8_lossy(&cubin);
        for name in KERNEL_NAMES {
            assert!(text.contains(name), "{name} missing from the CUBIN");
        }
    }
}

#[test]
fn resample_kernel_matches_the_cpu_resampler_bit_for_bit() {
    let (mut shipped, mut whole) = (0, 0);
    for seed in 0..60 {
        let c = case(seed);
        let plan = c.plan();
        // Only the region the crop samples is shipped.
        let (w, h) = (c.frames[0].width, c.frames[0].height);
        assert!(plan.input.width <= w && plan.input.height <= h);
        shipped += plan.input.width * plan.input.height;
        whole += w * h;
        let mut gpu = vec![0f32; plan.pixels() * 3];
        reference::resample(&plan, &mut gpu);
        assert_eq!(bits(&gpu), bits(&c.resampled_on_cpu()), "seed {seed}");
    }
    // Crops cover 20–77 % of the scaled frame: the shipped region is well under the whole frames.
    assert!(
        shipped * 10 < whole * 9,
        "{shipped} of {whole} pixels shipped"
    );
}

#[test]
fn colour_kernels_match_the_cpu_colour_passes() {
    let mut jittered_with_contrast = 0;
    for seed in 0..200 {
        let c = case(seed);
        let plan = c.plan();
        let mut cpu = c.resampled_on_cpu();
        let mut gpu = cpu.clone();
        // The CPU's passes with the GPU's mean are the kernels' output bit for bit ...
        let passes = ColorPasses::of(&c.draw.color);
        passes.before_contrast(&mut cpu);
        reference::color(&mut gpu, &plan.color.before_contrast, 0.0);
        assert_eq!(bits(&gpu), bits(&cpu), "seed {seed}: before contrast");
        let gpu_mean = reference::luma_mean(&gpu, plan.luma_chunk());
        let mut cpu_sum = LumaSum::default();
        cpu_sum.add(&cpu);
        // ... and the two means (different summation order) agree to f32 rounding.
        assert!(
            (gpu_mean - cpu_sum.mean()).abs() <= 2.0 * f32::EPSILON,
            "seed {seed}: {gpu_mean} vs {}",
            cpu_sum.mean()
        );
        let mut cpu_with_gpu_mean = cpu.clone();
        passes.from_contrast(&mut cpu_with_gpu_mean, gpu_mean);
        reference::color(&mut gpu, &plan.color.from_contrast, gpu_mean);
        assert_eq!(
            bits(&gpu),
            bits(&cpu_with_gpu_mean),
            "seed {seed}: from contrast"
        );
        jittered_with_contrast += usize::from(plan.color.needs_mean);
        // The whole CPU colour op (its own mean) stays within a few ulps.
        let mut whole = c.resampled_on_cpu();
        apply_color(&mut whole, &c.draw.color);
        let worst = whole
            .iter()
            .zip(&gpu)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-5, "seed {seed}: {worst}");
    }
    assert!(
        jittered_with_contrast > 100,
        "contrast drawn {jittered_with_contrast} times"
    );
}

#[test]
fn blur_kernel_matches_the_cpu_blur_bit_for_bit() {
    let mut blurred = 0;
    for seed in 0..80 {
        let c = case(seed);
        let plan = c.plan();
        let Some(taps) = &plan.blur else { continue };
        blurred += 1;
        let sigma = output_sigma(
            c.draw.color.blur_sigma.expect("blurred"),
            &c.draw.crop,
            c.size,
        );
        let mut cpu = c.resampled_on_cpu();
        let input = cpu.clone();
        let mut blur = GaussianBlur::new(c.size, sigma).expect("a blur");
        for frame in cpu.chunks_exact_mut(c.size * c.size * 3) {
            blur.frame(frame, |_| {});
        }
        let mut across = vec![0f32; input.len()];
        let mut gpu = vec![0f32; input.len()];
        reference::blur(&mut across, &input, c.size, taps, false);
        reference::blur(&mut gpu, &across, c.size, taps, true);
        assert_eq!(bits(&gpu), bits(&cpu), "seed {seed}");
    }
    assert!(blurred > 20, "blur drawn {blurred} times");
}

#[test]
fn hue_kernel_matches_the_cpu_hue_shift_bit_for_bit() {
    let mut rng = rng_for(5, Stream::Sample, 0, 0);
    for _ in 0..20_000 {
        let p = [0, 1, 2].map(|_| rng.below(1_000_001) as f32 / 1e6);
        let turns = (rng.below(1_000_001) as f32 / 1e6 - 0.5) * 1.0;
        let mut gpu = p;
        reference::shift_hue(&mut gpu, turns);
        let cpu = vst_data::augment::color::shift_hue(p, turns);
        assert_eq!(
            gpu.map(f32::to_bits),
            cpu.map(f32::to_bits),
            "{p:?} by {turns}"
        );
    }
}

/// Whole clips: the kernels' mirror gives vst-data's rendering up to the contrast mean's last bit, and the same
/// statistics over many draws (the GPU path is a drop-in for the CPU's, draw for draw).
#[test]
fn whole_clips_match_the_cpu_rendering() {
    let (mut exact, mut total) = (0, 0);
    let (mut sum_cpu, mut sum_gpu, mut sq_cpu, mut sq_gpu) = (0f64, 0f64, 0f64, 0f64);
    for seed in 100..260 {
        let c = case(seed);
        let plan = c.plan();
        let gpu = reference::render(&plan);
        let mut cpu = vec![0f32; plan.output_len()];
        render_clip(
            &c.refs(),
            c.difference,
            &c.draw,
            c.size,
            &c.aug.normalize,
            &mut cpu,
        );
        let worst = cpu
            .iter()
            .zip(&gpu)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-4, "seed {seed}: {worst} ({:?})", c.draw);
        exact += usize::from(bits(&cpu) == bits(&gpu));
        total += 1;
        for (a, b) in cpu.iter().zip(&gpu) {
            sum_cpu += *a as f64;
            sum_gpu += *b as f64;
            sq_cpu += (*a as f64).powi(2);
            sq_gpu += (*b as f64).powi(2);
        }
    }
    // Most clips are bit-identical (the mean's association rarely changes its rounding).
    assert!(exact * 10 >= total * 8, "{exact} of {total} bit-identical");
    assert!((sum_cpu - sum_gpu).abs() <= 1e-6 * sq_cpu.max(1.0));
    assert!((sq_cpu - sq_gpu).abs() <= 1e-6 * sq_cpu.max(1.0));
}

#[test]
fn colour_plans_split_at_contrast() {
    let mut rng = rng_for(9, Stream::Sample, 0, 0);
    for _ in 0..200 {
        let draw = draw_clip(&mut rng, 64, 48, &augment(16));
        let plan = ColorPlan::of(&draw.color);
        match draw.color.jitter {
            Some(j) => {
                let split = j.order.iter().position(|&o| o == 1).expect("contrast") as i32;
                assert_eq!(
                    (plan.before_contrast.from, plan.before_contrast.to),
                    (0, split)
                );
                assert_eq!((plan.from_contrast.from, plan.from_contrast.to), (split, 4));
                assert!(plan.needs_mean);
            }
            None => {
                assert_eq!(plan.before_contrast.to - plan.before_contrast.from, 0);
                assert_eq!(plan.from_contrast.to - plan.from_contrast.from, 0);
                assert!(!plan.needs_mean);
            }
        }
        assert_eq!(plan.before_contrast.grayscale, 0);
        assert_eq!(
            plan.from_contrast.grayscale,
            i32::from(draw.color.grayscale)
        );
    }
}

#[test]
fn clips_that_cannot_be_packed_are_clear_errors() {
    let mut rng = rng_for(1, Stream::Sample, 0, 0);
    let (a, b) = (
        frame(&mut rng, 20, 16, false),
        frame(&mut rng, 22, 16, false),
    );
    let e = PackedFrames::pack(&[&a, &b]).expect_err("sizes differ");
    assert!(e.to_string().contains("frame 1 is 22×16"), "{e}");
    let c = frame(&mut rng, 20, 16, true);
    let e = PackedFrames::pack(&[&a, &c]).expect_err("formats differ");
    assert!(e.to_string().contains("pixel format"), "{e}");
    assert!(PackedFrames::pack(&[]).is_err());
    let draw = draw_clip(&mut rng, 20, 16, &augment(8));
    let e = ClipPlan::new(&[&a], true, &draw, 8, &augment(8).normalize).expect_err("one frame");
    assert!(e.to_string().contains("at least 2 frames"), "{e}");
}
