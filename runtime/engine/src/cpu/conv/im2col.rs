//! The general convolution path: for each output frame, gather the receptive fields into an im2col tile
//! (M = H'·W' rows × K = kT·kH·kW·Cin/groups columns, in the weight's kT, kH, kW, Cin order) and multiply it with
//! the weight. Any kernel, stride, padding and group count. Frames are independent, so threads take whole frames;
//! the filter gradient sums per-chunk partials in a fixed order (reproducible results).

use rayon::prelude::*;

use crate::backend::Conv3dGeometry;
use crate::cpu::gemm::{Accumulate, MatRef, gemm, gemm_strided};
use crate::cpu::parallel::fixed_ranges;

use super::narrow;

/// Derived sizes used by all three passes.
struct Dims {
    n: usize,
    t: usize,
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    kt: usize,
    kh: usize,
    kw: usize,
    st: usize,
    sh: usize,
    sw: usize,
    pt: usize,
    ph: usize,
    pw: usize,
    groups: usize,
    cig: usize,
    cog: usize,
    to: usize,
    ho: usize,
    wo: usize,
    /// Columns of a group's im2col tile.
    kg: usize,
    /// Columns belonging to one temporal tap.
    kf: usize,
    /// Rows of a tile (output positions of one frame).
    m: usize,
}

impl Dims {
    fn new(g: &Conv3dGeometry) -> Dims {
        let [to, ho, wo] = g.output();
        let cig = g.in_channels / g.groups;
        let kf = g.kernel[1] * g.kernel[2] * cig;
        Dims {
            n: g.batch,
            t: g.input[0],
            h: g.input[1],
            w: g.input[2],
            cin: g.in_channels,
            cout: g.out_channels,
            kt: g.kernel[0],
            kh: g.kernel[1],
            kw: g.kernel[2],
            st: g.stride[0],
            sh: g.stride[1],
            sw: g.stride[2],
            pt: g.padding[0],
            ph: g.padding[1],
            pw: g.padding[2],
            groups: g.groups,
            cig,
            cog: g.out_channels / g.groups,
            to,
            ho,
            wo,
            kg: g.kernel[0] * kf,
            kf,
            m: ho * wo,
        }
    }

    /// Input frame index (n, ti) read by output frame `to` at temporal tap `kt`, if inside the clip.
    fn input_frame(&self, n: usize, to: usize, kt: usize) -> Option<usize> {
        let ti = (to * self.st + kt) as isize - self.pt as isize;
        (ti >= 0 && (ti as usize) < self.t).then(|| n * self.t + ti as usize)
    }
}

/// Fills the im2col tile of output frame (n, to) for group `grp`.
fn fill_tile(x: &[f32], d: &Dims, n: usize, to: usize, grp: usize, col: &mut [f32]) {
    let frame_len = d.h * d.w * d.cin;
    for kt in 0..d.kt {
        let frame = d.input_frame(n, to, kt);
        for ho in 0..d.ho {
            for wo in 0..d.wo {
                let row = &mut col[(ho * d.wo + wo) * d.kg + kt * d.kf..][..d.kf];
                let Some(f) = frame else {
                    row.fill(0.0);
                    continue;
                };
                let xf = &x[f * frame_len..(f + 1) * frame_len];
                for kh in 0..d.kh {
                    let hi = (ho * d.sh + kh) as isize - d.ph as isize;
                    let dst = &mut row[kh * d.kw * d.cig..(kh + 1) * d.kw * d.cig];
                    if hi < 0 || hi as usize >= d.h {
                        dst.fill(0.0);
                        continue;
                    }
                    let wi0 = (wo * d.sw) as isize - d.pw as isize;
                    let base = hi as usize * d.w;
                    if d.groups == 1 && wi0 >= 0 && wi0 as usize + d.kw <= d.w {
                        // The kW taps are adjacent pixels: one contiguous run of kW·Cin values.
                        let s = (base + wi0 as usize) * d.cin;
                        dst.copy_from_slice(&xf[s..s + d.kw * d.cin]);
                        continue;
                    }
                    for kw in 0..d.kw {
                        let wi = wi0 + kw as isize;
                        let dd = &mut dst[kw * d.cig..(kw + 1) * d.cig];
                        if wi < 0 || wi as usize >= d.w {
                            dd.fill(0.0);
                        } else {
                            let s = (base + wi as usize) * d.cin + grp * d.cig;
                            dd.copy_from_slice(&xf[s..s + d.cig]);
                        }
                    }
                }
            }
        }
    }
}

/// The stem's im2col matrix read in place: one frame zero-padded into a small buffer, and the offsets of the
/// matrix's rows (output positions) and columns (kH, kW, Cin taps) in it. For one temporal tap without temporal
/// padding (frame `to` reads input frame `to·sT`). The kernels then multiply the same values (the padding's
/// zeros included) as with a written tile, without writing one (the tile fill cost as much as the product).
struct InPlace {
    /// Padded frame height and width.
    hp: usize,
    wp: usize,
    rows: Vec<usize>,
    cols: Vec<usize>,
}

impl InPlace {
    fn new(d: &Dims) -> Option<InPlace> {
        if d.kt != 1 || d.pt != 0 || d.groups != 1 {
            return None;
        }
        let (hp, wp) = (d.h + 2 * d.ph, d.w + 2 * d.pw);
        let mut rows = Vec::with_capacity(d.m);
        for ho in 0..d.ho {
            for wo in 0..d.wo {
                rows.push((ho * d.sh * wp + wo * d.sw) * d.cin);
            }
        }
        let mut cols = Vec::with_capacity(d.kg);
        for kh in 0..d.kh {
            for kw in 0..d.kw {
                for ci in 0..d.cin {
                    cols.push((kh * wp + kw) * d.cin + ci);
                }
            }
        }
        Some(InPlace { hp, wp, rows, cols })
    }

    /// A zeroed buffer for [`InPlace::fill`] (its border stays zero: fills write the interior only).
    fn buffer(&self, d: &Dims) -> Vec<f32> {
        vec![0.0; self.hp * self.wp * d.cin]
    }

    /// Copies the input frame read by output frame (n, to) into the interior of `buf`.
    fn fill(&self, x: &[f32], d: &Dims, n: usize, to: usize, buf: &mut [f32]) {
        let row = d.w * d.cin;
        let frame = &x[(n * d.t + to * d.st) * d.h * row..][..d.h * row];
        for (hi, src) in frame.chunks_exact(row).enumerate() {
            let start = ((hi + d.ph) * self.wp + d.pw) * d.cin;
            buf[start..start + row].copy_from_slice(src);
        }
    }
}

/// The weight of group `grp` as a K×cog matrix (w is Cout×K, rows of the group).
fn weight_kn<'a>(w: &'a [f32], d: &Dims, grp: usize) -> MatRef<'a> {
    MatRef::row_major(w, grp * d.cog * d.kg, d.cog, d.kg).t()
}

/// Whether the 16-output-channel kernel takes this convolution's products (the mini model's RGB stem: 3 → 16
/// channels, K = 7·7·3): the same bits as `gemm` (see `narrow`), at its 64-row kernel's rate instead of its
/// 16-row one.
fn narrow_fits(d: &Dims, rows: usize, depth: usize, gradient: bool) -> bool {
    let fits = if gradient {
        narrow::fits_gradient(rows, depth)
    } else {
        narrow::fits_product(rows, depth)
    };
    d.groups == 1 && d.cout == narrow::WIDTH && fits && narrow::available()
}

pub fn forward(x: &[f32], w: &[f32], g: &Conv3dGeometry, y: &mut [f32]) {
    forward_with(x, w, g, y, true)
}

/// [`forward`], with the 16-channel kernel allowed or not (tests compare the two).
pub(super) fn forward_with(
    x: &[f32],
    w: &[f32],
    g: &Conv3dGeometry,
    y: &mut [f32],
    allow_narrow: bool,
) {
    let d = Dims::new(g);
    let frame_out = d.m * d.cout;
    if frame_out == 0 {
        return;
    }
    if allow_narrow && narrow_fits(&d, d.m, d.kg, false) {
        // The weight as K × 16 (row k: the 16 output channels' values of column k), the kernel's layout.
        let mut wt = vec![0.0f32; d.kg * narrow::WIDTH];
        for (co, row) in w.chunks(d.kg).take(d.cout).enumerate() {
            for (k, &v) in row.iter().enumerate() {
                wt[k * narrow::WIDTH + co] = v;
            }
        }
        if let Some(ip) = InPlace::new(&d) {
            y.par_chunks_mut(frame_out).enumerate().for_each_init(
                || ip.buffer(&d),
                |buf, (f, yf)| {
                    ip.fill(x, &d, f / d.to, f % d.to, buf);
                    narrow::product_indirect(
                        yf,
                        buf,
                        &ip.rows,
                        &ip.cols,
                        &wt,
                        Accumulate::Overwrite,
                    );
                },
            );
            return;
        }
        y.par_chunks_mut(frame_out).enumerate().for_each_init(
            || vec![0.0f32; d.m * d.kg],
            |col, (f, yf)| {
                let (n, to) = (f / d.to, f % d.to);
                fill_tile(x, &d, n, to, 0, col);
                narrow::product(yf, col, 0, d.kg, d.m, d.kg, &wt, Accumulate::Overwrite);
            },
        );
        return;
    }
    y.par_chunks_mut(frame_out).enumerate().for_each_init(
        || vec![0.0f32; d.m * d.kg],
        |col, (f, yf)| {
            let (n, to) = (f / d.to, f % d.to);
            for grp in 0..d.groups {
                fill_tile(x, &d, n, to, grp, col);
                let a = MatRef::row_major(col, 0, d.m, d.kg);
                gemm(
                    &mut yf[grp * d.cog..],
                    d.cout,
                    a,
                    weight_kn(w, &d, grp),
                    Accumulate::Overwrite,
                    1,
                );
            }
        },
    );
}

pub fn backward_data(dy: &[f32], w: &[f32], g: &Conv3dGeometry, dx: &mut [f32]) {
    let d = Dims::new(g);
    let frame_in = d.h * d.w * d.cin;
    if frame_in == 0 {
        return;
    }
    dx.par_chunks_mut(frame_in).enumerate().for_each_init(
        || vec![0.0f32; d.m * d.kf],
        |dcol, (f, dxf)| {
            let (n, ti) = (f / d.t, f % d.t);
            dxf.fill(0.0);
            for kt in 0..d.kt {
                // Output frame `to` reads this input frame at tap kt when to·st + kt − pt = ti.
                let num = ti as isize + d.pt as isize - kt as isize;
                if num < 0 || !(num as usize).is_multiple_of(d.st) || num as usize / d.st >= d.to {
                    continue;
                }
                let to = num as usize / d.st;
                let dy_off = (n * d.to + to) * d.m * d.cout;
                for grp in 0..d.groups {
                    let a = MatRef {
                        data: dy,
                        offset: dy_off + grp * d.cog,
                        rows: d.m,
                        cols: d.cog,
                        rs: d.cout,
                        cs: 1,
                    };
                    let b = MatRef {
                        data: w,
                        offset: grp * d.cog * d.kg + kt * d.kf,
                        rows: d.cog,
                        cols: d.kf,
                        rs: d.kg,
                        cs: 1,
                    };
                    gemm(dcol, d.kf, a, b, Accumulate::Overwrite, 1);
                    scatter_tile(dcol, &d, grp, dxf);
                }
            }
        },
    );
}

/// Adds a kH·kW·cig-column tile of one temporal tap back onto the input frame (col2im).
fn scatter_tile(dcol: &[f32], d: &Dims, grp: usize, dxf: &mut [f32]) {
    for ho in 0..d.ho {
        for wo in 0..d.wo {
            let row = &dcol[(ho * d.wo + wo) * d.kf..][..d.kf];
            for kh in 0..d.kh {
                let hi = (ho * d.sh + kh) as isize - d.ph as isize;
                if hi < 0 || hi as usize >= d.h {
                    continue;
                }
                let wi0 = (wo * d.sw) as isize - d.pw as isize;
                if d.groups == 1 && wi0 >= 0 && wi0 as usize + d.kw <= d.w {
                    // The kW taps are adjacent pixels: one contiguous run of kW·Cin values.
                    let run = d.kw * d.cin;
                    let dst = &mut dxf[((hi as usize) * d.w + wi0 as usize) * d.cin..][..run];
                    let src = &row[kh * run..(kh + 1) * run];
                    dst.iter_mut().zip(src).for_each(|(a, &b)| *a += b);
                    continue;
                }
                for kw in 0..d.kw {
                    let wi = wi0 + kw as isize;
                    if wi < 0 || wi as usize >= d.w {
                        continue;
                    }
                    let dst = &mut dxf[((hi as usize) * d.w + wi as usize) * d.cin + grp * d.cig..]
                        [..d.cig];
                    let src = &row[(kh * d.kw + kw) * d.cig..][..d.cig];
                    dst.iter_mut().zip(src).for_each(|(a, &b)| *a += b);
                }
            }
        }
    }
}

pub fn backward_filter(x: &[f32], dy: &[f32], g: &Conv3dGeometry, dw: &mut [f32]) {
    backward_filter_with(x, dy, g, dw, true)
}

/// [`backward_filter`], with the 16-channel kernel allowed or not (tests compare the two).
pub(super) fn backward_filter_with(
    x: &[f32],
    dy: &[f32],
    g: &Conv3dGeometry,
    dw: &mut [f32],
    allow_narrow: bool,
) {
    let d = Dims::new(g);
    let frames = d.n * d.to;
    let narrow_gradient = allow_narrow && narrow_fits(&d, d.m, d.kg, true);
    let in_place = InPlace::new(&d).filter(|_| narrow_gradient);
    // Partials are kept transposed (K × Cout, i.e. dW column-major): `gemm` runs these long-K products faster
    // into a column-major destination when the weight is small.
    let partials: Vec<Vec<f32>> = fixed_ranges(frames, 1, 8)
        .into_par_iter()
        .map(|range| {
            let mut acc_t = vec![0.0f32; d.cout * d.kg];
            let mut col = vec![0.0f32; d.m * d.kg];
            let mut padded = in_place.as_ref().map(|ip| ip.buffer(&d));
            for f in range {
                let (n, to) = (f / d.to, f % d.to);
                let dy_off = f * d.m * d.cout;
                if let (Some(ip), Some(buf)) = (&in_place, padded.as_mut()) {
                    ip.fill(x, &d, n, to, buf);
                    narrow::gradient_indirect(&mut acc_t, buf, &ip.rows, &ip.cols, dy, dy_off);
                    continue;
                }
                if narrow_gradient {
                    fill_tile(x, &d, n, to, 0, &mut col);
                    // acc_t is K × 16 here: the kernel's layout, summed like `gemm` (see `narrow`).
                    narrow::gradient(&mut acc_t, &col, 0, d.kg, d.m, d.kg, dy, dy_off);
                    continue;
                }
                for grp in 0..d.groups {
                    fill_tile(x, &d, n, to, grp, &mut col);
                    let a = MatRef {
                        data: dy,
                        offset: dy_off + grp * d.cog,
                        rows: d.m,
                        cols: d.cog,
                        rs: d.cout,
                        cs: 1,
                    }
                    .t();
                    let b = MatRef::row_major(&col, 0, d.m, d.kg);
                    gemm_strided(
                        &mut acc_t[grp * d.cog..],
                        1,
                        d.cout,
                        a,
                        b,
                        Accumulate::Add,
                        1,
                    );
                }
            }
            acc_t
        })
        .collect();
    let mut sum_t = vec![0.0f32; d.cout * d.kg];
    super::sum_in_order(&partials, &mut sum_t);
    super::transpose_into(&sum_t, d.kg, d.cout, dw);
}
