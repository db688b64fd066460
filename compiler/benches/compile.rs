//! How long checking and planning a recipe takes: `cargo bench -p vst-compiler --bench compile`.
//!
//! Each recipe is compiled end to end — read the files (and includes), parse, check, expand the sweep, build every
//! job, hash, lower to the plan — and its plan rendered as text, as `vst plan` does. The first run in a process
//! also builds the language's tables (the built-in defaults are parsed and checked once), so it is reported
//! separately: it is what a single `vst check` invocation pays.

use std::path::Path;
use std::time::{Duration, Instant};
use vst_compiler::{Options, compile};

fn once(recipe: &str) -> Duration {
    let start = Instant::now();
    let compilation = compile(Path::new(recipe), &Options::system()).expect("the recipe exists");
    assert!(!compilation.has_errors(), "{recipe} has errors");
    let plan = compilation.plan.as_ref().expect("a plan");
    let text = vst_compiler::render::plan::text(plan);
    std::hint::black_box(text);
    start.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    // The recipes name their includes relative to the workspace root.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    std::env::set_current_dir(workspace).expect("cd to the workspace");
    let cold = once("recipes/table2.vst");
    println!(
        "recipes/table2.vst, first compilation in the process (builds the language tables): {:.2} ms",
        ms(cold)
    );
    for recipe in [
        "recipes/table2.vst",
        "recipes/fig3.vst",
        "recipes/mini/table2.vst",
    ] {
        let runs = 200;
        let mut samples: Vec<Duration> = (0..runs).map(|_| once(recipe)).collect();
        samples.sort();
        let median = samples[runs / 2];
        let p90 = samples[runs * 9 / 10];
        println!(
            "{recipe}: check + plan median {:.2} ms, p90 {:.2} ms, min {:.2} ms ({runs} runs)",
            ms(median),
            ms(p90),
            ms(samples[0])
        );
    }
}
