//! C: colour jitter (brightness, contrast, saturation, hue in a random order, as torchvision's ColorJitter),
//! grayscale and Gaussian blur. One draw per clip, applied identically to every frame of the clip: a clip's colour
//! parameters never vary over time (the contrast mean is the clip's, not each frame's, for the same reason).

use crate::rng::DataRng;
use vst_spec::ColorAug;

/// The jitter of one clip: factors and the order they are applied in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterDraw {
    /// Permutation of 0 = brightness, 1 = contrast, 2 = saturation, 3 = hue.
    pub order: [u8; 4],
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    /// Hue shift in turns (fractions of the colour wheel), in [-0.5, 0.5].
    pub hue: f32,
}

/// Everything C does to one clip.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ColorDraw {
    pub jitter: Option<JitterDraw>,
    pub grayscale: bool,
    /// Gaussian blur σ in pixels of the decoded frame (as the official code blurs before cropping); the renderer
    /// converts it to output pixels ([`super::output_sigma`]).
    pub blur_sigma: Option<f32>,
}

/// Draws the colour parameters of one clip.
pub fn draw_color(rng: &mut DataRng, color: &ColorAug) -> ColorDraw {
    let jitter = color.jitter.and_then(|j| {
        if !rng.chance(j.p) {
            return None;
        }
        let mut order = [0u8, 1, 2, 3];
        rng.shuffle(&mut order);
        let factor = |rng: &mut DataRng, s: f64| rng.uniform((1.0 - s).max(0.0), 1.0 + s) as f32;
        Some(JitterDraw {
            order,
            brightness: factor(rng, j.brightness),
            contrast: factor(rng, j.contrast),
            saturation: factor(rng, j.saturation),
            hue: rng.uniform(-j.hue.min(0.5), j.hue.min(0.5)) as f32,
        })
    });
    let grayscale = color.grayscale.is_some_and(|p| rng.chance(p));
    let blur_sigma = color.blur.and_then(|b| {
        rng.chance(b.p)
            .then(|| rng.uniform(b.sigma.lo, b.sigma.hi) as f32)
    });
    ColorDraw {
        jitter,
        grayscale,
        blur_sigma,
    }
}

#[inline(always)]
fn luma(r: f32, g: f32, b: f32) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

/// Applies jitter and grayscale to interleaved RGB in [0, 1] (`pixels × 3` values: every frame of a clip at once).
pub fn apply_color(rgb: &mut [f32], draw: &ColorDraw) {
    let passes = ColorPasses::of(draw);
    passes.before_contrast(rgb);
    let mut sum = LumaSum::default();
    if passes.needs_mean() {
        sum.add(rgb);
    }
    passes.from_contrast(rgb, sum.mean());
}

/// A clip's colour ops as two runs of pointwise passes, split where contrast needs the clip's mean luma: the ops
/// drawn before contrast (`before_contrast`), then contrast and everything after it, grayscale last
/// (`from_contrast`). Every op but contrast reads only its own pixel, so applying the runs a row at a time, while the
/// row is in cache, gives exactly the values of whole-clip passes, provided the mean is taken between the runs.
#[derive(Debug, Clone, Copy)]
pub struct ColorPasses<'a> {
    draw: &'a ColorDraw,
    /// Index of contrast in the jitter's order (4 when there is no jitter).
    split: usize,
}

impl<'a> ColorPasses<'a> {
    pub fn of(draw: &'a ColorDraw) -> ColorPasses<'a> {
        let split = draw
            .jitter
            .and_then(|j| j.order.iter().position(|&op| op == 1))
            .unwrap_or(4);
        ColorPasses { draw, split }
    }

    /// Whether `from_contrast` needs the clip's mean luma after `before_contrast`.
    pub fn needs_mean(&self) -> bool {
        self.split < 4
    }

    pub fn before_contrast(&self, rgb: &mut [f32]) {
        if let Some(j) = &self.draw.jitter {
            for &op in &j.order[..self.split.min(4)] {
                apply_op(op, j, rgb, 0.0);
            }
        }
    }

    /// `mean` is the clip's mean luma after `before_contrast` (ignored unless [`Self::needs_mean`]).
    pub fn from_contrast(&self, rgb: &mut [f32], mean: f32) {
        if let Some(j) = &self.draw.jitter {
            for &op in &j.order[self.split.min(4)..] {
                apply_op(op, j, rgb, mean);
            }
        }
        if self.draw.grayscale {
            for p in rgb.chunks_exact_mut(3) {
                let g = luma(p[0], p[1], p[2]);
                p[0] = g;
                p[1] = g;
                p[2] = g;
            }
        }
    }
}

/// The running mean luma of a clip, summed pixel by pixel in order (the same f64 sum whether a clip is added
/// whole or row by row).
#[derive(Debug, Clone, Copy)]
pub struct LumaSum {
    sum: f64,
    pixels: usize,
}

impl Default for LumaSum {
    fn default() -> LumaSum {
        // -0.0 is the additive identity `Iterator::sum` starts from.
        LumaSum {
            sum: -0.0,
            pixels: 0,
        }
    }
}

impl LumaSum {
    pub fn add(&mut self, rgb: &[f32]) {
        for p in rgb.chunks_exact(3) {
            self.sum += luma(p[0], p[1], p[2]) as f64;
        }
        self.pixels += rgb.len() / 3;
    }

    pub fn mean(&self) -> f32 {
        (self.sum / self.pixels.max(1) as f64) as f32
    }
}

/// One jitter op (0 brightness, 1 contrast around `mean`, 2 saturation, 3 hue) over interleaved RGB.
fn apply_op(op: u8, j: &JitterDraw, rgb: &mut [f32], mean: f32) {
    match op {
        0 => {
            for x in rgb.iter_mut() {
                *x = (*x * j.brightness).clamp(0.0, 1.0);
            }
        }
        1 => {
            for x in rgb.iter_mut() {
                *x = ((*x - mean) * j.contrast + mean).clamp(0.0, 1.0);
            }
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
                shift_hue_pixels(rgb, j.hue);
            }
        }
    }
}

/// Pixels per block of [`shift_hue_pixels`] (planar scratch on the stack).
const HUE_BLOCK: usize = 64;

/// [`shift_hue`] over interleaved RGB, giving the same bits: blocks of pixels are made planar and shifted by
/// branch-free code the compiler vectorises (every case computed, then selected). Shifts of a turn or more take
/// the scalar path (colour jitter's are at most half a turn).
pub fn shift_hue_pixels(rgb: &mut [f32], turns: f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above), the only requirement of the function.
        return unsafe { shift_hue_pixels_avx2(rgb, turns) };
    }
    shift_hue_pixels_portable(rgb, turns)
}

/// The same code compiled for AVX2 (8 lanes instead of SSE2's 4; no FMA, so the same roundings).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn shift_hue_pixels_avx2(rgb: &mut [f32], turns: f32) {
    shift_hue_pixels_portable(rgb, turns)
}

#[inline(always)]
fn shift_hue_pixels_portable(rgb: &mut [f32], turns: f32) {
    if turns.is_nan() || turns.abs() >= 1.0 {
        for p in rgb.chunks_exact_mut(3) {
            let shifted = shift_hue([p[0], p[1], p[2]], turns);
            p.copy_from_slice(&shifted);
        }
        return;
    }
    for block in rgb.chunks_mut(HUE_BLOCK * 3) {
        let n = block.len() / 3;
        let (mut r, mut g, mut b) = ([0f32; HUE_BLOCK], [0f32; HUE_BLOCK], [0f32; HUE_BLOCK]);
        for (i, p) in block.chunks_exact(3).enumerate() {
            r[i] = p[0];
            g[i] = p[1];
            b[i] = p[2];
        }
        for i in 0..HUE_BLOCK {
            let [nr, ng, nb] = shift_hue_branchless(r[i], g[i], b[i], turns);
            r[i] = nr;
            g[i] = ng;
            b[i] = nb;
        }
        for (i, p) in block.chunks_exact_mut(3).enumerate().take(n) {
            p[0] = r[i];
            p[1] = g[i];
            p[2] = b[i];
        }
    }
}

/// [`shift_hue`] for |turns| < 1 as selects. Same operations on the values that reach the output: the sextant
/// adds 0.0 where the plain form adds nothing (only a -0.0 can change, and adding `turns` next erases that), the
/// wrap needs no `rem_euclid` as h lies in (-1, 2), and floor is truncation as h6 ≥ 0.
#[inline(always)]
fn shift_hue_branchless(r: f32, g: f32, b: f32, turns: f32) -> [f32; 3] {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let delta = max - min;
    let grey = delta <= 0.0;
    let (is_r, is_g) = (max == r, max == g);
    let numerator = if is_r {
        g - b
    } else if is_g {
        b - r
    } else {
        r - g
    };
    let x = numerator / delta;
    let offset = if is_r {
        if x < 0.0 { 6.0 } else { 0.0 }
    } else if is_g {
        2.0
    } else {
        4.0
    };
    let h = (x + offset) / 6.0 + turns;
    let h = if h < 0.0 {
        h + 1.0
    } else if h >= 1.0 {
        h - 1.0
    } else {
        h
    };
    let s = delta / max;
    let v = max;
    let h6 = h * 6.0;
    let floor_i = h6 as i32; // h6 in [0, 6] for every pixel that is not grey
    let floor = floor_i as f32;
    let sector = if floor_i >= 6 { floor_i - 6 } else { floor_i };
    let f = h6 - floor;
    let p = v * (1.0 - s);
    let q = v * (1.0 - s * f);
    let t = v * (1.0 - s * (1.0 - f));
    let out_r = if sector == 0 || sector == 5 {
        v
    } else if sector == 1 {
        q
    } else if sector == 4 {
        t
    } else {
        p
    };
    let out_g = if sector == 1 || sector == 2 {
        v
    } else if sector == 0 {
        t
    } else if sector == 3 {
        q
    } else {
        p
    };
    let out_b = if sector == 3 || sector == 4 {
        v
    } else if sector == 2 {
        t
    } else if sector == 5 {
        q
    } else {
        p
    };
    if grey {
        [r, g, b]
    } else {
        [out_r, out_g, out_b]
    }
}

/// Rotates the hue of one RGB pixel by `turns` through HSV (as torchvision's adjust_hue). The
/// wrap-arounds are a compare and an add instead of `rem_euclid` (a libm `fmodf` call): for the ranges that occur
/// here (shifts within ±1 turn) both give the same bits (`fmod` is exact, and so is `x − 1` for x in [1, 2)).
#[inline]
pub fn shift_hue([r, g, b]: [f32; 3], turns: f32) -> [f32; 3] {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let delta = max - min;
    if delta <= 0.0 {
        return [r, g, b]; // grey has no hue
    }
    let sextant = if max == r {
        let x = (g - b) / delta; // in [-1, 1]
        if x < 0.0 { x + 6.0 } else { x }
    } else if max == g {
        (b - r) / delta + 2.0
    } else {
        (r - g) / delta + 4.0
    };
    let h = sextant / 6.0 + turns;
    let h = if (0.0..1.0).contains(&h) {
        h // -0.0 included (it is >= 0.0), which rem_euclid keeps as well
    } else if h > -1.0 && h < 0.0 {
        h + 1.0
    } else if (1.0..2.0).contains(&h) {
        h - 1.0
    } else {
        h.rem_euclid(1.0) // larger shifts (the synthetic scenes' drift may be any size)
    };
    let (s, v) = (delta / max, max);
    let h6 = h * 6.0;
    // h6 lies in [0, 6] (NaN aside), where truncation is floor without a libm call; a -0.0 becoming +0.0 here
    // changes no output (f only enters through s · f and 1 − f).
    let floor = if h6 >= 0.0 {
        (h6 as i32) as f32
    } else {
        h6.floor()
    };
    let sector = (floor as i32).rem_euclid(6);
    let f = h6 - floor;
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

/// A separable Gaussian blur of `size × size` RGB frames with reflected borders, its kernel and scratch rows made
/// once per clip. The kernel reaches 3σ (beyond that the weights are below 1 %). Both passes are sums of shifted
/// contiguous rows (vectorised); the horizontal pass writes into scratch, which the vertical pass reads back.
#[derive(Debug, Clone)]
pub struct GaussianBlur {
    kernel: Vec<f32>,
    radius: usize,
    size: usize,
    padded: Vec<f32>,
    rows: Vec<f32>,
}

impl GaussianBlur {
    /// `None` when there is nothing to blur (σ ≤ 0 or frames under 2 pixels).
    pub fn new(size: usize, sigma: f32) -> Option<GaussianBlur> {
        if sigma <= 0.0 || size < 2 {
            return None;
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
        Some(GaussianBlur {
            kernel,
            radius,
            size,
            padded: vec![0.0; (size + 2 * radius) * 3],
            rows: vec![0.0; size * size * 3],
        })
    }

    /// The kernel's taps (2 · radius + 1, normalised to sum 1).
    pub fn kernel(&self) -> &[f32] {
        &self.kernel
    }

    /// Blurs one frame in place, then hands each finished row to `finish` (still in cache).
    pub fn frame(&mut self, frame: &mut [f32], mut finish: impl FnMut(&mut [f32])) {
        let (size, radius) = (self.size, self.radius);
        let row_len = size * 3;
        // Rows: pad one row by reflection, then rows[j] = Σ_k w_k · padded[j + 3k].
        for (row, out) in frame
            .chunks_exact(row_len)
            .zip(self.rows.chunks_exact_mut(row_len))
        {
            for p in 0..size + 2 * radius {
                let x = reflect(p as isize - radius as isize, size);
                self.padded[p * 3..p * 3 + 3].copy_from_slice(&row[x * 3..x * 3 + 3]);
            }
            out.fill(0.0);
            for (k, &wk) in self.kernel.iter().enumerate() {
                for (o, &s) in out.iter_mut().zip(&self.padded[k * 3..k * 3 + row_len]) {
                    *o += wk * s;
                }
            }
        }
        // Columns: out row y = Σ_k w_k · rows[reflect(y + k − r)].
        for y in 0..size {
            let out = &mut frame[y * row_len..(y + 1) * row_len];
            out.fill(0.0);
            for (k, &wk) in self.kernel.iter().enumerate() {
                let sy = reflect(y as isize + k as isize - radius as isize, size);
                for (o, &s) in out
                    .iter_mut()
                    .zip(&self.rows[sy * row_len..(sy + 1) * row_len])
                {
                    *o += wk * s;
                }
            }
            finish(out);
        }
    }
}

/// Index `i` of an axis of `n` reflected without repeating the edge (…, 2, 1, 0, 1, 2, …), as PyTorch's "reflect"
/// padding.
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let i = if i < 0 { -i } else { i };
    (if i >= n { 2 * (n - 1) - i } else { i }) as usize
}

/// Gaussian blur of each `size × size` RGB frame in `clip` ([`GaussianBlur`]).
pub fn blur_frames(clip: &mut [f32], size: usize, sigma: f32) {
    if let Some(mut blur) = GaussianBlur::new(size, sigma) {
        for frame in clip.chunks_exact_mut(size * size * 3) {
            blur.frame(frame, |_| {});
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng_for};
    use proptest::prelude::*;
    use vst_spec::Range;

    pub fn paper_color() -> ColorAug {
        crate::augment::paper_augment(8, Range::new(8.0, 8.0)).color
    }

    /// Every draw of 2000 clips stays within the paper's ranges, and each op is drawn about as often as its
    /// probability says — so the range checks ran (a jitter that never fires would not pass unnoticed).
    #[test]
    fn draws_stay_within_the_configured_ranges() {
        let (mut jittered, mut blurred, mut gray) = (0usize, 0usize, 0usize);
        for seed in 0u64..2000 {
            let mut rng = rng_for(seed, Stream::Sample, 0, 0);
            let d = draw_color(&mut rng, &paper_color());
            if let Some(j) = d.jitter {
                jittered += 1;
                for f in [j.brightness, j.contrast, j.saturation] {
                    assert!((0.4..=1.6).contains(&f), "seed {seed}: {f}");
                }
                assert!(j.hue.abs() <= 0.15, "seed {seed}: {}", j.hue);
                let mut order = j.order;
                order.sort_unstable();
                assert_eq!(order, [0, 1, 2, 3]);
            }
            if let Some(s) = d.blur_sigma {
                blurred += 1;
                assert!((0.1..=2.0).contains(&s), "seed {seed}: {s}");
            }
            gray += usize::from(d.grayscale);
        }
        // p = 0.8, 0.5 and 0.2 over 2000 draws, within 5 standard deviations.
        assert!(
            (1510..=1690).contains(&jittered),
            "jitter drawn {jittered} times"
        );
        assert!(
            (888..=1112).contains(&blurred),
            "blur drawn {blurred} times"
        );
        assert!((310..=490).contains(&gray), "grayscale drawn {gray} times");
    }

    proptest! {
        #[test]
        fn colour_ops_keep_values_in_unit_range(seed in 0u64..500, pixels in proptest::collection::vec(0.0f32..=1.0, 3..300)) {
            let mut rgb = pixels.clone();
            rgb.truncate(rgb.len() / 3 * 3);
            let mut rng = rng_for(seed, Stream::Sample, 0, 0);
            let draw = draw_color(&mut rng, &paper_color());
            apply_color(&mut rgb, &draw);
            prop_assert!(rgb.iter().all(|x| (0.0..=1.0).contains(x)), "{:?}", draw);
        }

        #[test]
        fn hue_rotation_round_trips(r in 0.0f32..1.0, g in 0.0f32..1.0, b in 0.0f32..1.0, t in -0.5f32..0.5) {
            let back = shift_hue(shift_hue([r, g, b], t), -t);
            for (x, y) in back.iter().zip([r, g, b]) {
                prop_assert!((x - y).abs() < 1e-4, "{:?} vs {:?}", back, [r, g, b]);
            }
        }
    }

    #[test]
    fn hue_shift_by_a_third_turns_red_to_green() {
        let g = shift_hue([1.0, 0.0, 0.0], 1.0 / 3.0);
        assert!(
            (g[0]).abs() < 1e-5 && (g[1] - 1.0).abs() < 1e-5 && g[2].abs() < 1e-5,
            "{g:?}"
        );
    }

    #[test]
    fn grayscale_equalises_channels_and_blur_preserves_constant_frames() {
        let mut rgb = vec![0.9, 0.1, 0.3, 0.2, 0.8, 0.5];
        apply_color(
            &mut rgb,
            &ColorDraw {
                grayscale: true,
                ..Default::default()
            },
        );
        assert_eq!(rgb[0], rgb[1]);
        assert_eq!(rgb[4], rgb[5]);
        let mut flat = vec![0.25f32; 2 * 8 * 8 * 3];
        blur_frames(&mut flat, 8, 1.5);
        assert!(flat.iter().all(|x| (x - 0.25).abs() < 1e-6));
        // A single bright pixel spreads out but keeps its total.
        let mut dot = vec![0f32; 9 * 9 * 3];
        dot[(4 * 9 + 4) * 3] = 1.0;
        blur_frames(&mut dot, 9, 1.0);
        let sum: f32 = dot.iter().step_by(3).sum();
        assert!(
            (sum - 1.0).abs() < 1e-4 && dot[(4 * 9 + 4) * 3] < 0.2,
            "{sum}"
        );
    }
}
