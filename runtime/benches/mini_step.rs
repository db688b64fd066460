//! vst against PyTorch on the mini study's training step (recipes/mini/base.vst: Slow R-18 at 1/4 width, batch 32
//! videos × ρ = 2 clips, heads 128 → 64, SGD), for every objective, interleaved in one invocation.
//!
//! Run: `cargo bench -p vst-runtime --bench mini_step -- [--threads 2] [--reps 11] [--objectives simclr,moco,byol,swav]
//! [--configs 4x32,8x48] [--depth 18] [--width 0.25] [--batch 32] [--clips 2] [--head-hidden 128] [--head-out 64]
//! [--no-torch] [--losses] [--settle-ms 0] [--steps 1]`. A config is `FRAMESxSIZE`, optionally `@WIDTH` (`8x64@0.5`).
//! PyTorch runs in a child process (`scripts/bench_mini_step_torch.py`, `python3` or $VST_PYTHON) that runs one
//! step per request; each repetition steps every objective in vst then in PyTorch, back to back, so that machine
//! noise hits both alike. Ratio = PyTorch time / vst time (above 1: vst is faster), from the medians and from the
//! best repetitions. The load average is printed before and after: on a shared machine, quote quiet runs only.
//! `--no-torch` times vst alone (for profiling). `--losses` prints every step's loss to the last bit (the steps
//! train the model on, so equal losses across two builds mean equal results). `--settle-ms N` pauses N ms before
//! each timed step of either side, so that neither starts while the other's idle threads still spin (PyTorch's
//! OpenMP threads spin after a parallel region; vst's rayon threads briefly too): both sides timed alone.
//! `--steps N` runs N consecutive steps of each side per repetition and times their mean: training runs steps back
//! to back, while a single step right after the other framework's starts cold (caches, idle worker threads), which
//! costs the faster side relatively more. `--steps 1` (the default) is the protocol of BENCHMARKS.md's earlier
//! tables.

use std::time::Instant;

use vst_engine::Device;
use vst_runtime::bench::{Objective, Preset, StepBench, StepRunner};

#[path = "../engine/benches/common/torch_child.rs"]
mod torch_child;
use torch_child::{TorchChild, arg};

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

fn best(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

struct Settings {
    threads: usize,
    reps: usize,
    objectives: Vec<Objective>,
    depth: u32,
    batch: u32,
    clips: u32,
    head_hidden: u32,
    head_out: u32,
    no_torch: bool,
    losses: bool,
    settle_ms: u64,
    steps: usize,
}

/// `FRAMESxSIZE[@WIDTH]`.
fn parse_config(s: &str, default_width: f64) -> Result<(u32, u32, f64), String> {
    let (shape, width) = match s.split_once('@') {
        Some((shape, w)) => (shape, w.parse().map_err(|_| format!("bad width in `{s}`"))?),
        None => (s, default_width),
    };
    let (f, size) = shape
        .split_once('x')
        .ok_or_else(|| format!("config `{s}` is not FRAMESxSIZE[@WIDTH]"))?;
    let f = f.parse().map_err(|_| format!("bad frames in `{s}`"))?;
    let size = size.parse().map_err(|_| format!("bad size in `{s}`"))?;
    Ok((f, size, width))
}

fn settle(ms: u64) {
    if ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

fn run_config(set: &Settings, frames: u32, size: u32, width: f64) -> Result<(), String> {
    let device = Device::cpu();
    let bench = |objective| StepBench {
        objective,
        preset: Preset::Mini,
        depth: set.depth,
        width,
        frames,
        size,
        batch: set.batch,
        clips: set.clips,
        head_hidden: Some(set.head_hidden),
        head_out: Some(set.head_out),
        warmup: 0,
        steps: 0,
    };
    println!(
        "\nSlow R-{} width {width} {frames}x{size}², batch {} videos x {} clips, heads {} -> {}",
        set.depth, set.batch, set.clips, set.head_hidden, set.head_out
    );
    let mut runners = Vec::new();
    for &o in &set.objectives {
        runners.push(StepRunner::new(&bench(o), &device).map_err(|e| format!("{e:#}"))?);
    }
    let names: Vec<&str> = set.objectives.iter().map(|o| o.name()).collect();
    let mut torch = if set.no_torch {
        None
    } else {
        let args: Vec<String> = [
            ("--threads", set.threads.to_string()),
            ("--depth", set.depth.to_string()),
            ("--width", width.to_string()),
            ("--frames", frames.to_string()),
            ("--size", size.to_string()),
            ("--batch", set.batch.to_string()),
            ("--clips", set.clips.to_string()),
            ("--head-hidden", set.head_hidden.to_string()),
            ("--head-out", set.head_out.to_string()),
            ("--objectives", names.join(",")),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect();
        Some(TorchChild::start(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../scripts/bench_mini_step_torch.py"
            ),
            &args,
            "PyTorch twin",
        )?)
    };
    let load_before = load_average();
    let mut vst_ms = vec![Vec::new(); runners.len()];
    let mut torch_ms = vec![Vec::new(); runners.len()];
    // Two untimed warm-up rounds (buffer pools, PyTorch's allocator and kernel choices), then the timed ones.
    for rep in 0..set.reps + 2 {
        for (i, runner) in runners.iter_mut().enumerate() {
            let mut ms = 0.0;
            for _ in 0..set.steps {
                settle(set.settle_ms);
                let t0 = Instant::now();
                let loss = runner.step().map_err(|e| format!("{e:#}"))?;
                ms += t0.elapsed().as_secs_f64() * 1e3 / set.steps as f64;
                if set.losses {
                    println!(
                        "loss {} step {rep}: {loss:e} ({:#018x})",
                        names[i],
                        loss.to_bits()
                    );
                }
            }
            let torch_time = match &mut torch {
                Some(t) => {
                    let mut total = 0.0;
                    for _ in 0..set.steps {
                        settle(set.settle_ms);
                        total += t.run(names[i])?;
                    }
                    Some(total / set.steps as f64)
                }
                None => None,
            };
            if rep >= 2 {
                vst_ms[i].push(ms);
                if let Some(t) = torch_time {
                    torch_ms[i].push(t);
                }
            }
        }
    }
    println!(
        "load average before {load_before}, after {}",
        load_average()
    );
    println!(
        "{:<8} {:>10} {:>10} {:>8} {:>10} {:>10} {:>8}",
        "", "vst med", "torch med", "ratio", "vst best", "torch best", "ratio"
    );
    for (i, name) in names.iter().enumerate() {
        let (vm, vb) = (median(&vst_ms[i]), best(&vst_ms[i]));
        if torch.is_some() {
            let (tm, tb) = (median(&torch_ms[i]), best(&torch_ms[i]));
            println!(
                "{name:<8} {vm:>8.1}ms {tm:>8.1}ms {:>8.2} {vb:>8.1}ms {tb:>8.1}ms {:>8.2}",
                tm / vm,
                tb / vb
            );
        } else {
            println!("{name:<8} {vm:>8.1}ms {:>10} {:>8} {vb:>8.1}ms", "", "");
        }
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = arg(&args, "--threads", 2);
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
    {
        eprintln!("cannot size the thread pool: {e}");
    }
    let objectives: String = arg(&args, "--objectives", "simclr,moco,byol,swav".to_string());
    let objectives: Option<Vec<Objective>> = objectives.split(',').map(Objective::parse).collect();
    let Some(objectives) = objectives else {
        eprintln!("--objectives takes a comma-separated list of simclr, moco, byol, swav");
        std::process::exit(2);
    };
    let set = Settings {
        threads,
        reps: arg(&args, "--reps", 11),
        objectives,
        depth: arg(&args, "--depth", 18),
        batch: arg(&args, "--batch", 32),
        clips: arg(&args, "--clips", 2),
        head_hidden: arg(&args, "--head-hidden", 128),
        head_out: arg(&args, "--head-out", 64),
        no_torch: args.iter().any(|a| a == "--no-torch"),
        losses: args.iter().any(|a| a == "--losses"),
        settle_ms: arg(&args, "--settle-ms", 0),
        steps: arg(&args, "--steps", 1usize).max(1),
    };
    let width: f64 = arg(&args, "--width", 0.25);
    let configs: String = arg(&args, "--configs", "4x32,4x64".to_string());
    println!(
        "mini training step: vst (cpu backend) vs PyTorch, {} threads, {} interleaved repetitions of {} step(s) per side after 2 warm-ups",
        set.threads, set.reps, set.steps
    );
    for c in configs.split(',') {
        // As the `vst` binary does: kernels fork from a pool worker (see `on_pool_worker`).
        let result = parse_config(c, width).and_then(|(frames, size, w)| {
            vst_engine::cpu::on_pool_worker(|| run_config(&set, frames, size, w))
        });
        if let Err(e) = result {
            eprintln!("mini_step: {e}");
            std::process::exit(1);
        }
    }
}
