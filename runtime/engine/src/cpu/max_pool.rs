//! 3D max pooling on channels-last tensors. The backward pass finds each window's maximum again from x and y (the
//! first element equal to the maximum in kT, kH, kW order — the one PyTorch picks), so nothing but x, y and dy
//! needs keeping, as with cuDNN. Both passes run over whole channel vectors without branches, so they vectorise.

use rayon::prelude::*;

use crate::backend::Pool3dGeometry;

/// Valid input frame/row/column indices of a window starting at `start` (may be negative) of length `k`.
fn window(start: isize, k: usize, len: usize) -> std::ops::Range<usize> {
    let lo = start.max(0) as usize;
    let hi = ((start + k as isize).max(0) as usize).min(len);
    lo..hi.max(lo)
}

pub fn forward(x: &[f32], g: &Pool3dGeometry, y: &mut [f32]) {
    let [t, h, w] = g.input;
    let [to, ho, wo] = g.output();
    let c = g.channels;
    let frame_out = ho * wo * c;
    if frame_out == 0 {
        return;
    }
    y.par_chunks_mut(frame_out).enumerate().for_each(|(f, yf)| {
        let (n, ot) = (f / to, f % to);
        let ts = window(
            (ot * g.stride[0]) as isize - g.padding[0] as isize,
            g.kernel[0],
            t,
        );
        for oh in 0..ho {
            let hs = window(
                (oh * g.stride[1]) as isize - g.padding[1] as isize,
                g.kernel[1],
                h,
            );
            for ow in 0..wo {
                let ws = window(
                    (ow * g.stride[2]) as isize - g.padding[2] as isize,
                    g.kernel[2],
                    w,
                );
                let out = &mut yf[(oh * wo + ow) * c..][..c];
                out.fill(f32::NEG_INFINITY);
                for it in ts.clone() {
                    for ih in hs.clone() {
                        for iw in ws.clone() {
                            let src = &x[(((n * t + it) * h + ih) * w + iw) * c..][..c];
                            // NaN propagates, as in PyTorch (`|` rather than `||` avoids a branch).
                            out.iter_mut().zip(src).for_each(|(o, &v)| {
                                *o = if (v > *o) | v.is_nan() { v } else { *o }
                            });
                        }
                    }
                }
            }
        }
    });
}

pub fn backward(x: &[f32], y: &[f32], dy: &[f32], g: &Pool3dGeometry, dx: &mut [f32]) {
    let [t, h, w] = g.input;
    let [to, ho, wo] = g.output();
    let c = g.channels;
    let clip_in = t * h * w * c;
    if clip_in == 0 {
        return;
    }
    // Windows never cross clips, so each clip's gradient is independent.
    dx.par_chunks_mut(clip_in).enumerate().for_each(|(n, dxn)| {
        dxn.fill(0.0);
        let xn = &x[n * clip_in..(n + 1) * clip_in];
        // 1.0 while a channel's maximum has not been routed yet in the current window.
        let mut open = vec![0.0f32; c];
        for ot in 0..to {
            let ts = window(
                (ot * g.stride[0]) as isize - g.padding[0] as isize,
                g.kernel[0],
                t,
            );
            for oh in 0..ho {
                let hs = window(
                    (oh * g.stride[1]) as isize - g.padding[1] as isize,
                    g.kernel[1],
                    h,
                );
                for ow in 0..wo {
                    let ws = window(
                        (ow * g.stride[2]) as isize - g.padding[2] as isize,
                        g.kernel[2],
                        w,
                    );
                    let out = (((n * to + ot) * ho + oh) * wo + ow) * c;
                    let (y_row, g_row) = (&y[out..out + c], &dy[out..out + c]);
                    open.fill(1.0);
                    for it in ts.clone() {
                        for ih in hs.clone() {
                            for iw in ws.clone() {
                                let base = ((it * h + ih) * w + iw) * c;
                                let (xs, ds) = (&xn[base..base + c], &mut dxn[base..base + c]);
                                let lanes = ds
                                    .iter_mut()
                                    .zip(xs)
                                    .zip(y_row)
                                    .zip(g_row)
                                    .zip(open.iter_mut());
                                for ((((d, &xv), &yv), &gv), o) in lanes {
                                    let hit = if xv == yv { *o } else { 0.0 };
                                    *d += hit * gv;
                                    *o -= hit;
                                }
                            }
                        }
                    }
                }
            }
        }
    });
}
