//! Helpers shared by the integration tests: fixture loading, tolerance checks, finite differences.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use vst_engine::{Device, Graph, Tensor, Var, io};

/// The device the tests run on: the CPU, or the device named by `VST_TEST_DEVICE` (`cpu`, `cuda`, `cuda:N`), so
/// that the same fixture tests check the CUDA backend on a GPU machine (scripts/gpu-check.sh).
pub fn test_device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE
        .get_or_init(|| match std::env::var("VST_TEST_DEVICE") {
            Ok(name) => vst_cuda::open_device(&name)
                .unwrap_or_else(|e| panic!("VST_TEST_DEVICE={name}: {e}")),
            Err(_) => Device::cpu(),
        })
        .clone()
}

/// Relative error bound against the PyTorch fixtures (computed in float64 by PyTorch).
pub const FIXTURE_TOL: f32 = 1e-4;

pub struct Fixture {
    pub tensors: HashMap<String, Tensor>,
    pub cases: serde_json::Value,
}

impl Fixture {
    pub fn load(file: &str) -> Fixture {
        // VST_FIXTURE_DIR: where a test binary built on another machine finds the fixtures (scripts/gpu-check.sh).
        let dir = std::env::var_os("VST_FIXTURE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"));
        let path = dir.join(file);
        let (list, meta) = io::load_tensors(&path, &test_device()).expect("fixture file readable");
        let cases = serde_json::from_str(meta.get("cases").expect("fixture metadata has `cases`"))
            .expect("cases JSON");
        Fixture {
            tensors: list.into_iter().collect(),
            cases,
        }
    }

    pub fn get(&self, key: &str) -> Tensor {
        self.tensors
            .get(key)
            .unwrap_or_else(|| panic!("fixture tensor `{key}` missing"))
            .clone()
    }
}

/// max |got − want| / max |want| (a norm-wise relative error, robust to entries near zero).
pub fn rel_err(got: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(got.shape(), want.shape(), "shapes differ");
    let (g, w) = (got.to_vec().unwrap(), want.to_vec().unwrap());
    let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    let diff = g
        .iter()
        .zip(&w)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    diff / scale
}

pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
    assert_eq!(
        got.shape(),
        want.shape(),
        "{what}: shape {:?} vs expected {:?}",
        got.shape(),
        want.shape()
    );
    let e = rel_err(got, want);
    assert!(e <= tol, "{what}: relative error {e:.3e} > {tol:.1e}");
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
