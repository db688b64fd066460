//! Helpers shared by vst-runtime's integration tests: PyTorch fixtures (written by
//! scripts/make_model_fixtures.py) and float32 tolerance checks.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use vst_engine::{Device, Tensor, io};

/// Norm-wise relative error bound against the PyTorch fixtures (computed in float64 by PyTorch).
pub const FIXTURE_TOL: f32 = 1e-4;

pub struct Fixture {
    pub tensors: HashMap<String, Tensor>,
    pub cases: serde_json::Value,
}

pub fn fixture_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(file)
}

impl Fixture {
    pub fn load(file: &str) -> Fixture {
        let (list, meta) =
            io::load_tensors(&fixture_path(file), &Device::cpu()).expect("fixture file readable");
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

/// max |got − want| / max |want| (norm-wise, robust to entries near zero).
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
