//! The GPU augmentation's kernels mirrored on the CPU: one function per kernel of `source.cu`, computing each
//! element from its flat index with the same float operations in the same order, and [`render`], which runs a
//! [`ClipPlan`] through them in the order `gpu.rs` launches them. Where no GPU is present this is what the
//! kernels are tested through (against vst-data's CPU path); on a GPU machine `vst-cuda-check augment` compares
//! the kernels' output with it.

use super::plan::{ClipPlan, ColorArgs, LUMA_LANES, Planes};

fn clamp01(x: f32) -> f32 {
    let x = if x < 0.0 { 0.0 } else { x };
    if x > 1.0 { 1.0 } else { x }
}

fn luma(r: f32, g: f32, b: f32) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

fn lerp(p: f32, q: f32, w: f32) -> f32 {
    p + (q - p) * w
}

fn yuv_to_rgb(y: f32, u: f32, v: f32) -> [f32; 3] {
    let y = (y - 16.0) * (1.0 / 219.0);
    let u = (u - 128.0) * (1.0 / 224.0);
    let v = (v - 128.0) * (1.0 / 224.0);
    [
        y + 1.402 * v,
        y - 0.344136 * u - 0.714136 * v,
        y + 1.772 * u,
    ]
}

/// The kernels' `Axis`: lo, hi and the weight of hi per output index.
#[derive(Clone, Copy)]
struct Axis<'a> {
    lo: &'a [u32],
    hi: &'a [u32],
    w: &'a [f32],
}

/// `axis(index, weight, size, which)` of the kernels.
fn axis<'a>(index: &'a [u32], weight: &'a [f32], size: usize, which: usize) -> Axis<'a> {
    Axis {
        lo: &index[2 * which * size..(2 * which + 1) * size],
        hi: &index[(2 * which + 1) * size..(2 * which + 2) * size],
        w: &weight[which * size..(which + 1) * size],
    }
}

/// `sample_plane` of the kernels.
#[allow(clippy::too_many_arguments)]
fn sample_plane(
    plane: &[u8],
    stride: usize,
    channels: usize,
    c: usize,
    ax: Axis,
    ay: Axis,
    ox: usize,
    oy: usize,
) -> f32 {
    let ra = &plane[ay.lo[oy] as usize * stride..];
    let rb = &plane[ay.hi[oy] as usize * stride..];
    let (lo, hi) = (
        ax.lo[ox] as usize * channels + c,
        ax.hi[ox] as usize * channels + c,
    );
    let wx = ax.w[ox];
    let a = lerp(ra[lo] as f32, ra[hi] as f32, wx);
    let b = lerp(rb[lo] as f32, rb[hi] as f32, wx);
    lerp(a, b, ay.w[oy])
}

/// `vst_aug_resample_yuv` / `vst_aug_resample_rgb`: the plan's frames resampled into `out` (`pixels × 3`).
pub fn resample(plan: &ClipPlan, out: &mut [f32]) {
    let (size, w, h) = (plan.size, plan.input.width, plan.input.height);
    let (index, weight) = (&plan.tables.index, &plan.tables.weight);
    let ax = |which: usize| axis(index, weight, size, which);
    let (lx, ly, cx, cy) = (ax(0), ax(1), ax(2), ax(3));
    match &plan.input.planes {
        Planes::Yuv420 {
            y,
            u,
            v,
            chroma_width,
            chroma_height,
        } => {
            for i in 0..plan.pixels() {
                let f = i / (size * size);
                let rest = i - f * size * size;
                let (oy, ox) = (rest / size, rest % size);
                let yy = sample_plane(&y[f * w * h..], w, 1, 0, lx, ly, ox, oy);
                let cplane = f * chroma_width * chroma_height;
                let uu = sample_plane(&u[cplane..], *chroma_width, 1, 0, cx, cy, ox, oy);
                let vv = sample_plane(&v[cplane..], *chroma_width, 1, 0, cx, cy, ox, oy);
                let rgb = yuv_to_rgb(yy, uu, vv);
                for c in 0..3 {
                    out[i * 3 + c] = clamp01(rgb[c]);
                }
            }
        }
        Planes::Rgb8(rgb) => {
            for (i, o) in out.iter_mut().enumerate().take(plan.pixels() * 3) {
                let pixel = i / 3;
                let c = i % 3;
                let f = pixel / (size * size);
                let rest = pixel - f * size * size;
                let (oy, ox) = (rest / size, rest % size);
                let value = sample_plane(&rgb[f * w * h * 3..], w * 3, 3, c, lx, ly, ox, oy);
                *o = value * (1.0 / 255.0);
            }
        }
    }
}

/// `shift_hue` of the kernels.
pub fn shift_hue(p: &mut [f32], turns: f32) {
    let (r, g, b) = (p[0], p[1], p[2]);
    let mx = r.max(g).max(b);
    let mn = r.min(g).min(b);
    let delta = mx - mn;
    if delta <= 0.0 {
        return;
    }
    let sextant = if mx == r {
        let x = (g - b) / delta;
        if x < 0.0 { x + 6.0 } else { x }
    } else if mx == g {
        (b - r) / delta + 2.0
    } else {
        (r - g) / delta + 4.0
    };
    let mut h = sextant / 6.0 + turns;
    if (0.0..1.0).contains(&h) {
    } else if h > -1.0 && h < 0.0 {
        h += 1.0;
    } else if (1.0..2.0).contains(&h) {
        h -= 1.0;
    } else {
        h -= h.floor();
    }
    let (s, val) = (delta / mx, mx);
    let h6 = h * 6.0;
    let fl = h6.floor();
    let mut sector = (fl as i32) % 6;
    if sector < 0 {
        sector += 6;
    }
    let f = h6 - fl;
    let pp = val * (1.0 - s);
    let q = val * (1.0 - s * f);
    let t = val * (1.0 - s * (1.0 - f));
    let o = match sector {
        0 => [val, t, pp],
        1 => [q, val, pp],
        2 => [pp, val, t],
        3 => [pp, q, val],
        4 => [t, pp, val],
        _ => [val, pp, q],
    };
    p.copy_from_slice(&o);
}

/// `vst_aug_color`.
pub fn color(px: &mut [f32], a: &ColorArgs, mean: f32) {
    for p in px.chunks_exact_mut(3) {
        for k in a.from..a.to {
            match a.order[k as usize] {
                0 => p.iter_mut().for_each(|x| *x = clamp01(*x * a.brightness)),
                1 => p
                    .iter_mut()
                    .for_each(|x| *x = clamp01((*x - mean) * a.contrast + mean)),
                2 => {
                    let g = luma(p[0], p[1], p[2]);
                    p.iter_mut()
                        .for_each(|x| *x = clamp01(g + (*x - g) * a.saturation));
                }
                _ => {
                    if a.hue != 0.0 {
                        shift_hue(p, a.hue);
                    }
                }
            }
        }
        if a.grayscale != 0 {
            let g = luma(p[0], p[1], p[2]);
            p.fill(g);
        }
    }
}

/// `vst_aug_luma_partials` then `vst_aug_luma_mean`.
pub fn luma_mean(px: &[f32], chunk: usize) -> f32 {
    let pixels = px.len() / 3;
    let mut partials = [0f64; LUMA_LANES];
    for (t, partial) in partials.iter_mut().enumerate() {
        let mut sum = -0.0f64;
        for i in (t * chunk).min(pixels)..((t + 1) * chunk).min(pixels) {
            sum += luma(px[i * 3], px[i * 3 + 1], px[i * 3 + 2]) as f64;
        }
        *partial = sum;
    }
    let mut sum = -0.0f64;
    for p in partials {
        sum += p;
    }
    (sum / pixels.max(1) as f64) as f32
}

fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let i = if i < 0 { -i } else { i };
    (if i >= n { 2 * (n - 1) - i } else { i }) as usize
}

/// `vst_aug_blur`: one pass (along x, or along y when `vertical`) from `input` into `out`.
pub fn blur(out: &mut [f32], input: &[f32], size: usize, taps: &[f32], vertical: bool) {
    let radius = taps.len() / 2;
    for (i, o) in out.iter_mut().enumerate() {
        let pixel = i / 3;
        let c = i % 3;
        let f = pixel / (size * size);
        let rest = pixel - f * size * size;
        let (y, x) = (rest / size, rest % size);
        let frame = &input[f * size * size * 3..];
        let mut acc = 0.0f32;
        for (k, &w) in taps.iter().enumerate() {
            let shifted = |at: usize| reflect(at as isize + k as isize - radius as isize, size);
            let (sy, sx) = if vertical {
                (shifted(y), x)
            } else {
                (y, shifted(x))
            };
            acc += w * frame[(sy * size + sx) * 3 + c];
        }
        *o = acc;
    }
}

/// `vst_aug_normalize`.
pub fn normalize(out: &mut [f32], input: &[f32], mean: [f32; 3], inv_std: [f32; 3]) {
    for (i, (o, &x)) in out.iter_mut().zip(input).enumerate() {
        *o = (x - mean[i % 3]) * inv_std[i % 3];
    }
}

/// `vst_aug_difference`.
pub fn difference(out: &mut [f32], input: &[f32], plane: usize, inv_std: [f32; 3]) {
    for (i, o) in out.iter_mut().enumerate() {
        let (k, j) = (i / plane, i % plane);
        *o = (input[(k + 1) * plane + j] - input[k * plane + j]) * inv_std[j % 3];
    }
}

/// The plan run through the mirrored kernels, in launch order; returns `output_len` values.
pub fn render(plan: &ClipPlan) -> Vec<f32> {
    let mut work = vec![0f32; plan.pixels() * 3];
    resample(plan, &mut work);
    color(&mut work, &plan.color.before_contrast, 0.0);
    let mean = if plan.color.needs_mean {
        luma_mean(&work, plan.luma_chunk())
    } else {
        0.0
    };
    color(&mut work, &plan.color.from_contrast, mean);
    if let Some(taps) = &plan.blur {
        let mut across = vec![0f32; work.len()];
        blur(&mut across, &work, plan.size, taps, false);
        blur(&mut work, &across, plan.size, taps, true);
    }
    let mut out = vec![0f32; plan.output_len()];
    if plan.difference {
        difference(&mut out, &work, plan.size * plan.size * 3, plan.inv_std);
    } else {
        normalize(&mut out, &work, plan.mean, plan.inv_std);
    }
    out
}
