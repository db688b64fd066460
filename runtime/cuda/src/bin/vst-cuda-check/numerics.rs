//! Every `Backend` method of the CUDA backend against the CPU backend, on the same pseudo-random inputs.
//! Tolerance: max |gpu − cpu| / max |cpu| ≤ 1e-4 in f32 (summation order differs, nothing else may); convolutions
//! and matrix products get 5e-3 under TF32 and 3e-2 under bf16, whose operands carry 10 and 7 mantissa bits.

use vst_cuda::{CudaBackend, CudaOptions, Precision};
use vst_engine::cpu::CpuBackend;
use vst_engine::{
    Backend, BinaryOp, Conv3dGeometry, MatmulGeometry, Pool3dGeometry, ReduceOp, Storage, UnaryOp,
};
use vst_spec::BackboneSpec;
use vst_spec::arch::SlowResNet;

struct Checker {
    cpu: CpuBackend,
    gpu: CudaBackend,
    exact_tol: f32,
    mma_tol: f32,
    failures: Vec<String>,
    cases: usize,
    seed: u64,
}

fn pseudo_random(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn rel_err(got: &[f32], want: &[f32]) -> f32 {
    if got.len() != want.len() {
        return f32::INFINITY;
    }
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    let mut diff = 0.0f32;
    for (g, w) in got.iter().zip(want) {
        let d = if g.is_nan() && w.is_nan() || g == w {
            0.0
        } else {
            (g - w).abs()
        };
        diff = diff.max(if d.is_nan() { f32::INFINITY } else { d });
    }
    diff / scale
}

type R<T> = Result<T, String>;

impl Checker {
    /// A random input on both devices.
    fn input(&mut self, n: usize) -> R<(Storage, Storage)> {
        self.seed += 1;
        let v = pseudo_random(n, self.seed);
        self.pair(&v)
    }

    fn pair(&self, v: &[f32]) -> R<(Storage, Storage)> {
        Ok((
            self.cpu.upload(v).map_err(|e| e.to_string())?,
            self.gpu.upload(v).map_err(|e| e.to_string())?,
        ))
    }

    fn positive(&mut self, n: usize) -> R<(Storage, Storage)> {
        self.seed += 1;
        let v: Vec<f32> = pseudo_random(n, self.seed)
            .iter()
            .map(|x| x.abs() + 0.1)
            .collect();
        self.pair(&v)
    }

    fn compare(&mut self, what: &str, cpu: &Storage, gpu: &Storage, tol: f32) -> R<()> {
        self.cases += 1;
        let downloaded = self
            .cpu
            .download(cpu)
            .map_err(|e| e.to_string())
            .and_then(|want| {
                Ok((
                    want,
                    self.gpu
                        .download(gpu)
                        .map_err(|e| format!("download: {e}"))?,
                ))
            });
        let (want, got) = match downloaded {
            Ok(v) => v,
            Err(e) => {
                self.error(what, e);
                return Ok(());
            }
        };
        let e = rel_err(&got, &want);
        let ok = e <= tol;
        println!(
            "{} {what:<60} rel err {e:.2e} (tol {tol:.0e})",
            if ok { "ok  " } else { "FAIL" }
        );
        if !ok {
            self.failures.push(format!("{what}: {e:.3e}"));
        }
        Ok(())
    }

    /// Records a case that could not be compared (an error on either side) and goes on with the next one.
    fn error(&mut self, what: &str, e: String) {
        println!("FAIL {what:<60} error: {e}");
        self.failures.push(format!("{what}: {e}"));
    }

    /// Runs one operation on both backends and compares. The GPU side is synchronised at once, so that an
    /// asynchronous kernel failure is reported under this operation's name, not the next download's; a failing
    /// case is recorded and the check goes on.
    fn both<F>(&mut self, what: &str, tol: f32, f: F) -> R<()>
    where
        F: Fn(&dyn Backend, bool) -> vst_engine::Result<Storage>,
    {
        let c = match f(&self.cpu, false) {
            Ok(c) => c,
            Err(e) => {
                self.cases += 1;
                self.error(what, format!("on the CPU: {e}"));
                return Ok(());
            }
        };
        let g = f(&self.gpu, true)
            .map_err(|e| e.to_string())
            .and_then(|g| self.gpu.synchronize().map(|_| g).map_err(|e| e.to_string()));
        match g {
            Ok(g) => self.compare(what, &c, &g, tol),
            Err(e) => {
                self.cases += 1;
                self.error(what, format!("on the GPU: {e}"));
                Ok(())
            }
        }
    }
}

/// Picks the operand of the right device.
fn pick(p: &(Storage, Storage), gpu: bool) -> &Storage {
    if gpu { &p.1 } else { &p.0 }
}

pub fn run(ordinal: usize, options: CudaOptions) -> R<()> {
    let gpu = CudaBackend::with_options(ordinal, options).map_err(|e| e.to_string())?;
    let info = gpu.info().clone();
    println!(
        "GPU {} (sm_{}{}), driver CUDA {}.{}, cuDNN {}, precision {}",
        info.name,
        info.compute_capability.0,
        info.compute_capability.1,
        info.driver_cuda_version / 1000,
        (info.driver_cuda_version % 1000) / 10,
        info.cudnn_version,
        options.precision.name()
    );
    let mma_tol = match options.precision {
        Precision::F32 => 1e-4,
        Precision::Tf32 => 5e-3,
        Precision::Bf16 => 3e-2,
    };
    let mut c = Checker {
        cpu: CpuBackend::new(),
        gpu,
        exact_tol: 1e-4,
        mma_tol,
        failures: vec![],
        cases: 0,
        seed: 0,
    };
    // A section that cannot go on (its inputs do not upload) is recorded; the next section still runs.
    type Section = fn(&mut Checker) -> R<()>;
    let sections: [(&str, Section); 6] = [
        ("memory and elementwise", memory_and_elementwise),
        ("reductions and softmax", reductions_and_softmax),
        ("layout", layout),
        ("matmul", matmul),
        ("convolutions", convolutions),
        ("pooling and batch norm", pooling_and_batch_norm),
    ];
    for (name, section) in sections {
        if let Err(e) = section(&mut c) {
            c.error(&format!("section {name} (stopped)"), e);
        }
    }
    let stats = c.gpu.memory_stats();
    println!(
        "{} passed, {} failed ({} conv algorithms cached, {} conv passes channels-first, {} raw allocations, {} reuses)",
        c.cases - c.failures.len(),
        c.failures.len(),
        c.gpu.cached_conv_algorithms(),
        c.gpu.channels_first_conv_passes(),
        stats.raw_allocs,
        stats.reuses
    );
    if c.failures.is_empty() {
        Ok(())
    } else {
        Err(format!("GPU/CPU mismatches: {}", c.failures.join("; ")))
    }
}

fn memory_and_elementwise(c: &mut Checker) -> R<()> {
    let t = c.exact_tol;
    c.both("fill", 0.0, |b, _| b.fill(1000, 2.5))?;
    // Small (compute stream) and large (pinned staging + copy stream) uploads, twice so that the transfer pool's
    // fenced reuse is exercised.
    for n in [10usize, 3_000_000, 3_000_000] {
        let x = c.input(n)?;
        c.compare(&format!("upload/download {n}"), &x.0, &x.1, 0.0)?;
        c.both(&format!("copy {n}"), 0.0, |b, g| b.copy(pick(&x, g)))?;
    }
    let x = c.input(100_003)?;
    let xp = c.positive(100_003)?;
    for op in [
        UnaryOp::Relu,
        UnaryOp::Exp,
        UnaryOp::Neg,
        UnaryOp::Square,
        UnaryOp::Step,
        UnaryOp::Scale(-1.5),
        UnaryOp::AddScalar(0.25),
        UnaryOp::ClampMin(0.1),
    ] {
        c.both(&format!("unary {op:?}"), t, |b, g| b.unary(op, pick(&x, g)))?;
    }
    for op in [
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Recip,
        UnaryOp::Powf(1.7),
    ] {
        c.both(&format!("unary {op:?}"), t, |b, g| {
            b.unary(op, pick(&xp, g))
        })?;
    }
    let shapes: [(&[usize], &[usize], &[usize]); 5] = [
        (&[4, 5, 6], &[4, 5, 6], &[4, 5, 6]),
        (&[4, 5, 6], &[6], &[4, 5, 6]),
        (&[4, 1, 6], &[5, 1], &[4, 5, 6]),
        (&[2, 3, 4, 5, 8], &[8], &[2, 3, 4, 5, 8]),
        (&[1], &[7, 9], &[7, 9]),
    ];
    for (sa, sb, so) in shapes {
        let a = c.input(sa.iter().product())?;
        let bb = c.positive(sb.iter().product())?;
        for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div] {
            c.both(&format!("binary {op:?} {sa:?}·{sb:?}"), t, |b, g| {
                b.binary(op, pick(&a, g), sa, pick(&bb, g), sb, so)
            })?;
        }
    }
    let y = c.input(5000)?;
    let x = c.input(5000)?;
    c.both("axpby", t, |b, g| {
        let mut y = b.copy(pick(&y, g))?;
        b.axpby(&mut y, 0.9, -0.1, pick(&x, g))?;
        Ok(y)
    })?;
    c.both("relu_backward", t, |b, g| {
        b.relu_backward(pick(&y, g), pick(&x, g))
    })?;
    Ok(())
}

fn reductions_and_softmax(c: &mut Checker) -> R<()> {
    let t = c.exact_tol;
    let shape = [7usize, 300, 33];
    let x = c.input(shape.iter().product())?;
    for axes in [
        vec![0],
        vec![1],
        vec![2],
        vec![0, 2],
        vec![0, 1],
        vec![0, 1, 2],
        vec![],
    ] {
        for op in [ReduceOp::Sum, ReduceOp::Max] {
            c.both(
                &format!("reduce {op:?} {shape:?} over {axes:?}"),
                t,
                |b, g| b.reduce(op, pick(&x, g), &shape, &axes),
            )?;
        }
    }
    // A long full sum (split into chunks and finished by a second pass) and per-channel sums of an activation.
    let big = [3_000_000usize];
    let x = c.input(big[0])?;
    c.both("reduce Sum over 3M values", t, |b, g| {
        b.reduce(ReduceOp::Sum, pick(&x, g), &big, &[0])
    })?;
    let act = [2usize, 4, 28, 28, 64];
    let x = c.input(act.iter().product())?;
    c.both("reduce Sum per channel of 2×4×28×28×64", t, |b, g| {
        b.reduce(ReduceOp::Sum, pick(&x, g), &act, &[0, 1, 2, 3])
    })?;
    let v = c.input(64)?;
    c.both("broadcast 64 → 2×4×28×28×64", t, |b, g| {
        b.broadcast(pick(&v, g), &[64], &act)
    })?;
    for (rows, cols) in [(16usize, 1000usize), (3, 70_000), (512, 512)] {
        let x = c.input(rows * cols)?;
        let dy = c.input(rows * cols)?;
        for log in [false, true] {
            c.both(&format!("softmax {rows}×{cols} log={log}"), t, |b, g| {
                b.softmax(pick(&x, g), rows, cols, log)
            })?;
            c.both(
                &format!("softmax_backward {rows}×{cols} log={log}"),
                t,
                |b, g| {
                    let y = b.softmax(pick(&x, g), rows, cols, log)?;
                    b.softmax_backward(&y, pick(&dy, g), rows, cols, log)
                },
            )?;
        }
    }
    let (rows, cols) = (37usize, 11usize);
    let targets: Vec<usize> = (0..rows).map(|r| (r * 7) % cols).collect();
    let x = c.input(rows * cols)?;
    let dy = c.input(rows)?;
    c.both("pick", 0.0, |b, g| {
        b.pick(pick(&x, g), rows, cols, &targets)
    })?;
    c.both("pick_backward", 0.0, |b, g| {
        b.pick_backward(pick(&dy, g), rows, cols, &targets)
    })?;
    Ok(())
}

fn layout(c: &mut Checker) -> R<()> {
    let shape = [3usize, 4, 5, 6];
    let x = c.input(shape.iter().product())?;
    for perm in [[0usize, 1, 2, 3], [3, 2, 1, 0], [0, 2, 1, 3], [1, 0, 3, 2]] {
        c.both(&format!("permute {perm:?}"), 0.0, |b, g| {
            b.permute(pick(&x, g), &shape, &perm)
        })?;
    }
    let y = c.input(3 * 2 * 5 * 6)?;
    let ys = [3usize, 2, 5, 6];
    c.both("concat axis 1", 0.0, |b, g| {
        b.concat(&[(pick(&x, g), &shape[..]), (pick(&y, g), &ys[..])], 1)
    })?;
    for axis in 0..4 {
        c.both(&format!("slice axis {axis}"), 0.0, |b, g| {
            b.slice(pick(&x, g), &shape, axis, 1, 2)
        })?;
        let mut padded = shape;
        padded[axis] += 3;
        c.both(&format!("pad_axis axis {axis}"), 0.0, |b, g| {
            b.pad_axis(pick(&x, g), &shape, axis, 2, padded[axis])
        })?;
    }
    let idx = [2usize, 0, 2, 1, 3];
    c.both("index_select axis 1", 0.0, |b, g| {
        b.index_select(pick(&x, g), &shape, 1, &idx)
    })?;
    let sel = c.input(3 * idx.len() * 5 * 6)?;
    let sel_shape = [3usize, idx.len(), 5, 6];
    c.both(
        "index_add axis 1 (repeated indices)",
        c.exact_tol,
        |b, g| b.index_add(pick(&sel, g), &sel_shape, 1, &idx, 4),
    )?;
    Ok(())
}

fn matmul(c: &mut Checker) -> R<()> {
    let t = c.mma_tol;
    for (batch, m, k, n, a_batched, b_batched) in [
        (1usize, 64usize, 300usize, 70usize, true, true),
        (4, 33, 17, 65, true, true),
        (4, 33, 17, 65, true, false),
        (4, 33, 17, 65, false, true),
        (1, 512, 2048, 256, true, true),
    ] {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let geo = MatmulGeometry {
                batch,
                m,
                k,
                n,
                trans_a: ta,
                trans_b: tb,
                a_batched,
                b_batched,
            };
            let a = c.input(if a_batched { batch } else { 1 } * m * k)?;
            let bm = c.input(if b_batched { batch } else { 1 } * k * n)?;
            c.both(&format!("matmul {geo:?}"), t, |b, g| {
                b.matmul(pick(&a, g), pick(&bm, g), &geo)
            })?;
        }
    }
    Ok(())
}

fn convolutions(c: &mut Checker) -> R<()> {
    let t = c.mma_tol;
    // Every convolution geometry of Slow R-50 (kernels, strides, paddings, channel counts) on small clips.
    let spec = BackboneSpec {
        depth: 50,
        frames: 4,
        stride: 8,
        width: 1.0,
    };
    let net = SlowResNet::with_input(&spec, 64, 64).map_err(|e| e.to_string())?;
    let mut seen = std::collections::HashSet::new();
    let mut geometries = vec![];
    for layer in net.conv_layers() {
        let g = Conv3dGeometry {
            batch: 2,
            input: layer.input.map(|v| v as usize),
            in_channels: layer.in_channels as usize,
            out_channels: layer.out_channels as usize,
            kernel: layer.kernel.map(|v| v as usize),
            stride: layer.stride.map(|v| v as usize),
            padding: layer.padding.map(|v| v as usize),
            groups: 1,
        };
        if seen.insert(g) {
            geometries.push((layer.name.clone(), g));
        }
    }
    // A grouped convolution too (the engine supports groups).
    geometries.push((
        "grouped 3×3×3".into(),
        Conv3dGeometry {
            batch: 2,
            input: [4, 9, 9],
            in_channels: 8,
            out_channels: 12,
            kernel: [3, 3, 3],
            stride: [1, 2, 2],
            padding: [1, 1, 1],
            groups: 4,
        },
    ));
    for (name, g) in geometries {
        let x = c.input(g.x_shape().iter().product())?;
        let w = c.input(g.w_shape().iter().product())?;
        let dy = c.input(g.y_shape().iter().product())?;
        let label = format!(
            "{name} k{:?} s{:?} {}→{}",
            g.kernel, g.stride, g.in_channels, g.out_channels
        );
        c.both(&format!("conv fwd {label}"), t, |b, gpu| {
            b.conv3d_forward(pick(&x, gpu), pick(&w, gpu), &g)
        })?;
        c.both(&format!("conv bwd-data {label}"), t, |b, gpu| {
            b.conv3d_backward_data(pick(&dy, gpu), pick(&w, gpu), &g)
        })?;
        c.both(&format!("conv bwd-filter {label}"), t, |b, gpu| {
            b.conv3d_backward_filter(pick(&x, gpu), pick(&dy, gpu), &g)
        })?;
    }
    Ok(())
}

fn pooling_and_batch_norm(c: &mut Checker) -> R<()> {
    let t = c.exact_tol;
    for g in [
        Pool3dGeometry {
            batch: 2,
            input: [4, 32, 32],
            channels: 64,
            kernel: [1, 3, 3],
            stride: [1, 2, 2],
            padding: [0, 1, 1],
        },
        Pool3dGeometry {
            batch: 1,
            input: [5, 7, 9],
            channels: 3,
            kernel: [2, 3, 2],
            stride: [2, 1, 2],
            padding: [1, 1, 0],
        },
    ] {
        let x = c.input(g.batch * g.input.iter().product::<usize>() * g.channels)?;
        let dy = c.input(g.y_shape().iter().product())?;
        c.both(
            &format!("max_pool fwd k{:?} s{:?}", g.kernel, g.stride),
            t,
            |b, gpu| b.max_pool3d_forward(pick(&x, gpu), &g),
        )?;
        c.both(
            &format!("max_pool bwd k{:?} s{:?}", g.kernel, g.stride),
            t,
            |b, gpu| {
                let y = b.max_pool3d_forward(pick(&x, gpu), &g)?;
                b.max_pool3d_backward(pick(&x, gpu), &y, pick(&dy, gpu), &g)
            },
        )?;
    }
    for (rows, ch) in [(2 * 4 * 56 * 56usize, 64usize), (100, 2048), (8, 3)] {
        let x = c.input(rows * ch)?;
        let dy = c.input(rows * ch)?;
        let mean = c.input(ch)?;
        let (a, bb, d) = (c.input(ch)?, c.input(ch)?, c.input(ch)?);
        c.both(
            &format!("channel_centered_sumsq {rows}×{ch}"),
            t,
            |b, g| b.channel_centered_sumsq(pick(&x, g), pick(&mean, g), ch),
        )?;
        for relu in [false, true] {
            c.both(
                &format!("channel_affine {rows}×{ch} relu={relu}"),
                t,
                |b, g| b.channel_affine(pick(&x, g), pick(&a, g), pick(&bb, g), ch, relu),
            )?;
            for part in [0, 1] {
                c.both(
                    &format!("batch_norm_backward_reduce[{part}] {rows}×{ch} relu={relu}"),
                    t,
                    |b, g| {
                        let y = relu.then(|| {
                            b.channel_affine(pick(&x, g), pick(&a, g), pick(&bb, g), ch, true)
                        });
                        let y = y.transpose()?;
                        let (s0, s1) = b.batch_norm_backward_reduce(
                            pick(&dy, g),
                            pick(&x, g),
                            pick(&mean, g),
                            y.as_ref(),
                            ch,
                        )?;
                        Ok(if part == 0 { s0 } else { s1 })
                    },
                )?;
            }
            c.both(
                &format!("batch_norm_backward_data {rows}×{ch} relu={relu}"),
                t,
                |b, g| {
                    let y = relu.then(|| {
                        b.channel_affine(pick(&x, g), pick(&a, g), pick(&bb, g), ch, true)
                    });
                    let y = y.transpose()?;
                    b.batch_norm_backward_data(
                        pick(&dy, g),
                        pick(&x, g),
                        pick(&mean, g),
                        y.as_ref(),
                        pick(&a, g),
                        pick(&bb, g),
                        pick(&d, g),
                        ch,
                    )
                },
            )?;
        }
    }
    Ok(())
}
