//! vst-engine against PyTorch on the same work, interleaved in one invocation:
//! forward + backward (input and weight gradients) of the four convolution layers that dominate a Slow R-50
//! (64 frames = 8 clips × 8 frames, f32; shapes and FLOP counting as ../shared/bench/torch_layers.py), and one
//! whole training step (forward, cross-entropy, backward, SGD with momentum) of a small Slow ResNet.
//!
//! Run: `cargo bench -p vst-engine --bench layers -- [--threads 2] [--reps 7] [--rows stem,1x3x3,1x1x1,3x1x1,mini-stem,mini-1x3x3,step]`
//! PyTorch runs in a child process (`scripts/bench_torch_engine.py`, `python3` or $VST_PYTHON) that executes one
//! case per request, so each repetition times vst then PyTorch back to back and machine noise hits both alike.
//! Ratio = PyTorch time / vst time (above 1: vst is faster), from the medians and from the best (fastest)
//! repetitions; on a busy shared machine the best repetition is the closer estimate of uncontended speed.
//! `--no-torch` times vst alone (for profiling).

use std::time::Instant;

use rand::SeedableRng;

#[path = "common/torch_child.rs"]
mod torch_child;
use rand_chacha::ChaCha8Rng;
use torch_child::{TorchChild, arg};
use vst_engine::{
    BatchNormMode, BatchNormSpec, Conv3dSpec, Device, Graph, ParamStore, Pool3dSpec, Result,
    Tensor, Var,
};

struct Layer {
    key: &'static str,
    name: &'static str,
    /// N, T, H, W, Cin
    x: [usize; 5],
    /// Cout, kT, kH, kW, Cin
    w: [usize; 5],
    stride: [usize; 3],
    padding: [usize; 3],
}

const LAYERS: [Layer; 6] = [
    Layer {
        key: "stem",
        name: "stem 1x7x7 s1x2x2 3->64 @112",
        x: [8, 8, 112, 112, 3],
        w: [64, 1, 7, 7, 3],
        stride: [1, 2, 2],
        padding: [0, 3, 3],
    },
    Layer {
        key: "1x3x3",
        name: "1x3x3 64->64 @28",
        x: [8, 8, 28, 28, 64],
        w: [64, 1, 3, 3, 64],
        stride: [1, 1, 1],
        padding: [0, 1, 1],
    },
    Layer {
        key: "1x1x1",
        name: "1x1x1 256->256 @14",
        x: [8, 8, 14, 14, 256],
        w: [256, 1, 1, 1, 256],
        stride: [1, 1, 1],
        padding: [0, 0, 0],
    },
    Layer {
        key: "3x1x1",
        name: "3x1x1 1024->256 @7",
        x: [8, 8, 7, 7, 1024],
        w: [256, 3, 1, 1, 1024],
        stride: [1, 1, 1],
        padding: [1, 0, 0],
    },
    // The mini study's (Slow R-18 × ¼, 4×32² clips, 32 videos × 2 views = 64 clips) stem and a res2 conv.
    Layer {
        key: "mini-stem",
        name: "mini stem 1x7x7 s1x2x2 3->16 @32",
        x: [64, 4, 32, 32, 3],
        w: [16, 1, 7, 7, 3],
        stride: [1, 2, 2],
        padding: [0, 3, 3],
    },
    Layer {
        key: "mini-1x3x3",
        name: "mini 1x3x3 16->16 @8",
        x: [64, 4, 8, 8, 16],
        w: [16, 1, 3, 3, 16],
        stride: [1, 1, 1],
        padding: [0, 1, 1],
    },
];

/// (in, inner, out, temporal kernel, spatial stride) per stage — as in scripts/bench_torch_engine.py.
const STAGES: [(usize, usize, usize, usize, usize); 4] = [
    (32, 16, 64, 1, 1),
    (64, 32, 128, 1, 2),
    (128, 64, 256, 3, 2),
    (256, 128, 512, 3, 2),
];
const STEP_INPUT: [usize; 5] = [8, 8, 112, 112, 3];
const CLASSES: usize = 10;

fn conv_case(l: &Layer, rng: &mut ChaCha8Rng) -> Result<impl FnMut() -> Result<()> + use<>> {
    let dev = Device::cpu();
    let fan_in = (l.w[1] * l.w[2] * l.w[3] * l.w[4]) as f32;
    let x = Tensor::randn(&l.x, 1.0, rng, &dev)?;
    let w = Tensor::randn(&l.w, (2.0 / fan_in).sqrt(), rng, &dev)?;
    let spec = Conv3dSpec::new(l.stride, l.padding);
    let dy = Tensor::ones(&spec.geometry(&l.x, &l.w)?.y_shape(), &dev)?;
    Ok(move || {
        let mut g = Graph::new();
        let (xv, wv) = (g.leaf(x.clone()), g.leaf(w.clone()));
        let y = g.conv3d(&xv, &wv, &spec)?;
        let grads = g.backward_with_grad(&y, dy.clone())?;
        std::hint::black_box(grads.get(&xv));
        Ok(())
    })
}

/// The small Slow ResNet's parameters (same architecture as the PyTorch script).
fn small_resnet(rng: &mut ChaCha8Rng) -> Result<ParamStore> {
    let dev = Device::cpu();
    let mut p = ParamStore::new();
    let conv =
        |p: &mut ParamStore, name: &str, shape: [usize; 5], rng: &mut ChaCha8Rng| -> Result<()> {
            let fan_in = (shape[1] * shape[2] * shape[3] * shape[4]) as f32;
            p.insert_param(
                &format!("{name}.weight"),
                Tensor::randn(&shape, (2.0 / fan_in).sqrt(), rng, &dev)?,
            )
        };
    let bn = |p: &mut ParamStore, name: &str, c: usize| -> Result<()> {
        p.insert_param(&format!("{name}.weight"), Tensor::ones(&[c], &dev)?)?;
        p.insert_param(&format!("{name}.bias"), Tensor::zeros(&[c], &dev)?)?;
        p.insert_buffer(&format!("{name}.running_mean"), Tensor::zeros(&[c], &dev)?)?;
        p.insert_buffer(&format!("{name}.running_var"), Tensor::ones(&[c], &dev)?)
    };
    conv(&mut p, "stem", [32, 1, 7, 7, 3], rng)?;
    bn(&mut p, "stem_bn", 32)?;
    for (i, &(cin, inner, cout, kt, _)) in STAGES.iter().enumerate() {
        conv(&mut p, &format!("b{i}.a"), [inner, kt, 1, 1, cin], rng)?;
        bn(&mut p, &format!("b{i}.bn_a"), inner)?;
        conv(&mut p, &format!("b{i}.b"), [inner, 1, 3, 3, inner], rng)?;
        bn(&mut p, &format!("b{i}.bn_b"), inner)?;
        conv(&mut p, &format!("b{i}.c"), [cout, 1, 1, 1, inner], rng)?;
        bn(&mut p, &format!("b{i}.bn_c"), cout)?;
        conv(&mut p, &format!("b{i}.s"), [cout, 1, 1, 1, cin], rng)?;
        bn(&mut p, &format!("b{i}.bn_s"), cout)?;
    }
    p.insert_param(
        "head.weight",
        Tensor::randn(&[CLASSES, 512], 0.04, rng, &dev)?,
    )?;
    p.insert_param("head.bias", Tensor::zeros(&[CLASSES], &dev)?)?;
    Ok(p)
}

fn conv_bn(
    g: &mut Graph,
    p: &mut ParamStore,
    x: &Var,
    name: &str,
    spec: Conv3dSpec,
    relu: bool,
) -> Result<Var> {
    let w = g.param(p, &format!("{name}.weight"))?;
    let y = g.conv3d(x, &w, &spec)?;
    let bn = if name == "stem" {
        "stem_bn".to_string()
    } else {
        name.replacen('.', ".bn_", 1)
    };
    let (gamma, beta) = (
        g.param(p, &format!("{bn}.weight"))?,
        g.param(p, &format!("{bn}.bias"))?,
    );
    let (y, stats) = g.batch_norm(
        &y,
        Some(&gamma),
        Some(&beta),
        &BatchNormMode::train(),
        &BatchNormSpec { eps: 1e-5, relu },
    )?;
    if let Some(s) = stats {
        p.update_running_stats(
            &format!("{bn}.running_mean"),
            &format!("{bn}.running_var"),
            &s,
            0.1,
        )?;
    }
    Ok(y)
}

fn step_case(rng: &mut ChaCha8Rng) -> Result<impl FnMut() -> Result<()> + use<>> {
    let dev = Device::cpu();
    let mut params = small_resnet(rng)?;
    let mut velocity = ParamStore::new();
    for name in params.trainable_names() {
        velocity.insert_buffer(&name, Tensor::zeros(params.get(&name)?.shape(), &dev)?)?;
    }
    let clips = Tensor::randn(&STEP_INPUT, 1.0, rng, &dev)?;
    let labels: Vec<usize> = (0..STEP_INPUT[0]).map(|i| (i * 7) % CLASSES).collect();
    Ok(move || {
        let mut g = Graph::new();
        let x = Var::constant(clips.clone());
        let mut y = conv_bn(
            &mut g,
            &mut params,
            &x,
            "stem",
            Conv3dSpec::new([1, 2, 2], [0, 3, 3]),
            true,
        )?;
        y = g.max_pool3d(&y, &Pool3dSpec::new([1, 3, 3], [1, 2, 2], [0, 1, 1]))?;
        for (i, &(_, _, _, kt, s)) in STAGES.iter().enumerate() {
            let a = conv_bn(
                &mut g,
                &mut params,
                &y,
                &format!("b{i}.a"),
                Conv3dSpec::new([1, 1, 1], [kt / 2, 0, 0]),
                true,
            )?;
            let b = conv_bn(
                &mut g,
                &mut params,
                &a,
                &format!("b{i}.b"),
                Conv3dSpec::new([1, s, s], [0, 1, 1]),
                true,
            )?;
            let c = conv_bn(
                &mut g,
                &mut params,
                &b,
                &format!("b{i}.c"),
                Conv3dSpec::default(),
                false,
            )?;
            let sc = conv_bn(
                &mut g,
                &mut params,
                &y,
                &format!("b{i}.s"),
                Conv3dSpec::new([1, s, s], [0, 0, 0]),
                false,
            )?;
            let sum = g.add(&c, &sc)?;
            y = g.relu(&sum)?;
        }
        let pooled = g.global_avg_pool(&y)?;
        let (hw, hb) = (
            g.param(&params, "head.weight")?,
            g.param(&params, "head.bias")?,
        );
        let logits = g.linear(&pooled, &hw, Some(&hb))?;
        let loss = g.cross_entropy(&logits, &labels)?;
        let grads = g.backward(&loss)?;
        drop((x, y, pooled, logits, loss));
        for (name, grad) in grads.params() {
            let v = velocity.get_mut(name)?;
            v.axpby_(0.9, 1.0, grad)?;
            let v = v.clone();
            params.get_mut(name)?.axpby_(1.0, -0.01, &v)?;
        }
        Ok(())
    })
}

/// Forward GFLOPs of the small ResNet step input (convolutions only).
fn step_gflops() -> f64 {
    let mut total = 0.0;
    let mut shape = [
        STEP_INPUT[0],
        STEP_INPUT[1],
        STEP_INPUT[2],
        STEP_INPUT[3],
        STEP_INPUT[4],
    ];
    let mut add = |x: [usize; 5], w: [usize; 5], spec: Conv3dSpec| -> [usize; 5] {
        let g = spec.geometry(&x, &w).expect("valid geometry");
        total += g.forward_flops();
        g.y_shape()
    };
    shape = add(
        shape,
        [32, 1, 7, 7, 3],
        Conv3dSpec::new([1, 2, 2], [0, 3, 3]),
    );
    shape = [
        shape[0],
        shape[1],
        (shape[2] - 1) / 2 + 1,
        (shape[3] - 1) / 2 + 1,
        shape[4],
    ];
    for &(cin, inner, cout, kt, s) in &STAGES {
        let a = add(
            shape,
            [inner, kt, 1, 1, cin],
            Conv3dSpec::new([1, 1, 1], [kt / 2, 0, 0]),
        );
        let b = add(
            a,
            [inner, 1, 3, 3, inner],
            Conv3dSpec::new([1, s, s], [0, 1, 1]),
        );
        let _ = add(b, [cout, 1, 1, 1, inner], Conv3dSpec::default());
        shape = add(
            shape,
            [cout, 1, 1, 1, cin],
            Conv3dSpec::new([1, s, s], [0, 0, 0]),
        );
    }
    total / 1e9
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = arg(&args, "--threads", 2);
    let reps: usize = arg(&args, "--reps", 7);
    let rows: String = arg(
        &args,
        "--rows",
        "stem,1x3x3,1x1x1,3x1x1,mini-stem,mini-1x3x3,step".to_string(),
    );
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
    {
        eprintln!("cannot size the thread pool: {e}");
    }
    let no_torch = args.iter().any(|a| a == "--no-torch");
    // As the `vst` binary does: kernels fork from a pool worker (see `on_pool_worker`).
    if let Err(e) = vst_engine::cpu::on_pool_worker(|| run(threads, reps, &rows, no_torch)) {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}

type Case = (
    String,
    String,
    f64,
    Box<dyn FnMut() -> Result<()>>,
    Vec<String>,
);

fn run(threads: usize, reps: usize, rows: &str, no_torch: bool) -> std::result::Result<(), String> {
    let mut torch = if no_torch {
        None
    } else {
        Some(TorchChild::start(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../scripts/bench_torch_engine.py"
            ),
            &["--threads".to_string(), threads.to_string()],
            "PyTorch baseline",
        )?)
    };
    println!(
        "vst-engine: cpu backend, {threads} threads, {reps} interleaved repetitions (medians), after 2 warm-ups"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let wanted: Vec<&str> = rows.split(',').collect();
    let mut cases: Vec<Case> = Vec::new();
    for (i, l) in LAYERS.iter().enumerate() {
        if !wanted.contains(&l.key) {
            continue;
        }
        let spec = Conv3dSpec::new(l.stride, l.padding);
        let gflop = spec
            .geometry(&l.x, &l.w)
            .map_err(|e| e.to_string())?
            .forward_flops()
            / 1e9;
        let f = conv_case(l, &mut rng).map_err(|e| e.to_string())?;
        let mut torch_cases = vec![format!("conv:{i}")];
        if l.w[1] == 1 && !l.key.ends_with("stem") {
            torch_cases.push(format!("conv2d:{i}"));
        }
        cases.push((l.key.into(), l.name.into(), gflop, Box::new(f), torch_cases));
    }
    if wanted.contains(&"step") {
        let f = step_case(&mut rng).map_err(|e| e.to_string())?;
        cases.push((
            "step".into(),
            "small Slow ResNet training step".into(),
            step_gflops(),
            Box::new(f),
            vec!["step".into()],
        ));
    }
    println!(
        "{:<34} {:>6} {:>8} {:>9} {:>8} {:>9} {:>8} {:>10} {:>10}",
        "row",
        "GFLOP",
        "vst ms",
        "torch ms",
        "ratio",
        "vst GF/s",
        "best vst",
        "best torch",
        "best ratio"
    );
    for (_, name, gflop, f, torch_cases) in cases.iter_mut() {
        for _ in 0..2 {
            f().map_err(|e| e.to_string())?;
            for c in torch_cases.iter() {
                if let Some(t) = torch.as_mut() {
                    t.run(c)?;
                }
            }
        }
        let mut ours = Vec::new();
        let mut theirs: Vec<Vec<f64>> = vec![Vec::new(); torch_cases.len()];
        for _ in 0..reps {
            let t = Instant::now();
            f().map_err(|e| e.to_string())?;
            ours.push(t.elapsed().as_secs_f64() * 1e3);
            for (k, c) in torch_cases.iter().enumerate() {
                if let Some(t) = torch.as_mut() {
                    theirs[k].push(t.run(c)?);
                }
            }
        }
        let ours_best = ours.iter().cloned().fold(f64::INFINITY, f64::min);
        let ours = median(&mut ours);
        let work = 3.0 * *gflop; // forward + two backward products, as torch_layers.py counts
        if torch.is_none() {
            println!(
                "{:<34} {:>6.2} {:>8.1} {:>9} {:>8} {:>9.1} {:>8.1}",
                name,
                gflop,
                ours,
                "-",
                "-",
                work / ours * 1e3,
                ours_best
            );
            continue;
        }
        for (k, c) in torch_cases.iter().enumerate() {
            let t_best = theirs[k].iter().cloned().fold(f64::INFINITY, f64::min);
            let t = median(&mut theirs[k]);
            let label = if c.starts_with("conv2d") {
                format!("{name} (vs conv2d)")
            } else {
                name.clone()
            };
            println!(
                "{:<34} {:>6.2} {:>8.1} {:>9.1} {:>8.2} {:>9.1} {:>8.1} {:>10.1} {:>10.2}",
                label,
                gflop,
                ours,
                t,
                t / ours,
                work / ours * 1e3,
                ours_best,
                t_best,
                t_best / ours_best
            );
        }
    }
    Ok(())
}
