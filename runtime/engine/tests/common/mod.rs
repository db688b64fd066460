//! Helpers shared by the integration tests: the test device, where fixtures are found, finite differences. The
//! fixture type and the tolerance checks are `vst_engine::test_support`'s, shared with vst-runtime's tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use vst_engine::test_support::Fixture;
use vst_engine::{Device, Graph, Tensor, Var};

/// The device the tests run on: the CPU, or the device named by `VST_TEST_DEVICE` (`cpu`, `cuda`, `cuda:N`), so
/// that the same fixture tests check the CUDA backend on a GPU machine (scripts/gpu-check.sh), opened with
/// deterministic algorithms.
pub fn test_device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE
        .get_or_init(|| match std::env::var("VST_TEST_DEVICE") {
            // Deterministic cuDNN algorithms: determinism.rs expects bit-identical repeats, which the default
            // (fastest) backward algorithms do not promise.
            Ok(name) => vst_cuda::open_device_with(
                &name,
                vst_cuda::CudaOptions {
                    deterministic: true,
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| panic!("VST_TEST_DEVICE={name}: {e}")),
            Err(_) => Device::cpu(),
        })
        .clone()
}

/// Loads a fixture file of tests/fixtures onto [`test_device`].
pub fn load_fixture(file: &str) -> Fixture {
    // VST_FIXTURE_DIR: where a test binary built on another machine finds the fixtures (scripts/gpu-check.sh).
    let dir = std::env::var_os("VST_FIXTURE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"));
    Fixture::load_from(&dir.join(file), &test_device())
}

/// A deterministic pseudo-random tensor (no RNG crate needed in tests).
pub fn pseudo_random(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let data: Vec<f32> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_vec(data, shape, &test_device()).unwrap()
}

/// Checks autodiff gradients of `f` against central finite differences of L = Σ f(inputs) ⊙ r for a fixed random
/// r. Returns the worst relative error over all inputs (norm-wise per input).
pub fn finite_difference_check(
    inputs: &[Tensor],
    f: impl Fn(&mut Graph, &[Var]) -> Var,
    eps: f32,
) -> f32 {
    let dev = test_device();
    // Projection vector r fixed by the output shape.
    let out_shape = {
        let mut g = Graph::no_grad();
        let vars: Vec<Var> = inputs.iter().map(|t| Var::constant(t.clone())).collect();
        f(&mut g, &vars).shape().to_vec()
    };
    let r = pseudo_random(&out_shape, 99);
    let loss = |xs: &[Tensor]| -> f64 {
        let mut g = Graph::no_grad();
        let vars: Vec<Var> = xs.iter().map(|t| Var::constant(t.clone())).collect();
        let y = f(&mut g, &vars);
        let (y, r) = (y.value().to_vec().unwrap(), r.to_vec().unwrap());
        y.iter()
            .zip(&r)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum()
    };
    let mut g = Graph::new();
    let vars: Vec<Var> = inputs.iter().map(|t| g.leaf(t.clone())).collect();
    let y = f(&mut g, &vars);
    let grads = g.backward_with_grad(&y, r.clone()).unwrap();
    let mut worst = 0.0f32;
    for (i, x) in inputs.iter().enumerate() {
        let analytic = grads
            .get(&vars[i])
            .expect("gradient for every input")
            .to_vec()
            .unwrap();
        let base = x.to_vec().unwrap();
        let mut numeric = vec![0.0f32; base.len()];
        for j in 0..base.len() {
            let mut plus = base.clone();
            plus[j] += eps;
            let mut minus = base.clone();
            minus[j] -= eps;
            let mut xs_p = inputs.to_vec();
            xs_p[i] = Tensor::from_vec(plus, x.shape(), &dev).unwrap();
            let mut xs_m = inputs.to_vec();
            xs_m[i] = Tensor::from_vec(minus, x.shape(), &dev).unwrap();
            numeric[j] = ((loss(&xs_p) - loss(&xs_m)) / (2.0 * eps as f64)) as f32;
        }
        let scale = numeric.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-3);
        let diff = numeric
            .iter()
            .zip(&analytic)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        worst = worst.max(diff / scale);
    }
    worst
}
